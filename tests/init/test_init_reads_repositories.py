"""`hotgo init` on repositories laid out like real ones (issue 21): tool config files next to the
service's own, reload signals the source handles or declines, check commands found whole or not at all.

Each project is written into tmp by the test; `hotgo init` needs no Go toolchain.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Dict

import pytest

from hotgo.build.constraints import constraint_hint
from hotgo.build.go_module import list_flags
from hotgo.settings import toml_file

# What a Go service's repository carries besides its own config: every one configures a tool.
TOOL_FILES: Dict[str, str] = {
    ".golangci.yml": "linters:\n  enable: [govet]\n",
    ".goreleaser.yml": "builds:\n  - main: ./cmd/svc\n",
    ".pre-commit-config.yaml": "repos: []\n",
    ".github/workflows/x.yml": "on: push\n",
    ".github/dependabot.yml": "version: 2\n",
    "docker-compose.yml": "services:\n  svc:\n    build: .\n",
    "Dockerfile": "FROM scratch\n",
    ".editorconfig": "root = true\n",
    "renovate.json": "{}\n",
    "buf.yaml": "version: v1\n",
}

MAIN = '''package main

import (
	"flag"
	"net/http"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	path := flag.String("config", "svc.yaml", "config file")
	flag.Parse()
	_ = path
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, HANDLED)
	go func() {
		for sig := range sigs {
			switch sig {
			case syscall.SIGTERM:
				os.Exit(0)
CASES
			}
		}
	}()
	http.ListenAndServe("127.0.0.1:8080", nil)
}
'''
RELOADS_ON_USR1 = ("syscall.SIGUSR1, syscall.SIGHUP",
                   "\t\t\tcase syscall.SIGUSR1:\n\t\t\t\treloadConfig()\n"
                   "\t\t\tcase syscall.SIGHUP:\n\t\t\t\tlog.Print(\"not implemented\")\n")


def project(tmp_path: Path, handled: str = RELOADS_ON_USR1[0], cases: str = RELOADS_ON_USR1[1],
            extra: str = "") -> Path:
    root = tmp_path / "svc"
    (root / "cmd" / "svc").mkdir(parents=True)
    (root / "go.mod").write_text("module example.com/svc\n\ngo 1.22\n")
    (root / "cmd" / "svc" / "main.go").write_text(
        MAIN.replace("HANDLED", handled).replace("CASES", cases) + extra)
    (root / "svc.yaml").write_text("greeting: hi\n")
    for name, text in TOOL_FILES.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


def init(root: Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([sys.executable, "-m", "hotgo", "init", "--force"], cwd=cwd or root, text=True,
                            capture_output=True, timeout=60, env={**os.environ, "NO_COLOR": "1"})
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stdout + result.stderr
    return result


def written(root: Path) -> Dict[str, object]:
    values, _ = toml_file.load(root / "hotgo.toml")
    return dict(values)


def test_tool_config_files_are_never_the_services_and_the_named_file_is(tmp_path: Path) -> None:
    root = project(tmp_path)
    result = init(root)
    values = written(root)
    assert values["config_files"] == ["svc.yaml"], values
    assert values["build_package"] == "./cmd/svc"
    text = (root / "hotgo.toml").read_text()
    for name in TOOL_FILES:
        assert name not in values["config_files"]
    assert 'default of the "config" flag in cmd/svc/main.go' in text
    assert ".golangci.yml" in result.stdout and "configure tools" in result.stdout


def test_the_signal_the_source_reloads_on_is_proposed_not_a_declined_sighup(tmp_path: Path) -> None:
    root = project(tmp_path)
    init(root)
    assert written(root)["config_push"] == "signal:SIGUSR1"
    assert "the source reloads on SIGUSR1 (cmd/svc/main.go:" in (root / "hotgo.toml").read_text()


def test_sighup_only_when_the_source_reloads_on_it(tmp_path: Path) -> None:
    root = project(tmp_path, "syscall.SIGHUP", "\t\t\tcase syscall.SIGHUP:\n\t\t\t\tcfg.Reload()\n")
    init(root)
    assert written(root)["config_push"] == "signal:SIGHUP"


def test_a_channel_of_its_own_for_sighup_counts(tmp_path: Path) -> None:
    extra = ('\nfunc watch() {\n\thup := make(chan os.Signal, 1)\n\tsignal.Notify(hup, syscall.SIGHUP)\n'
             '\tfor {\n\t\tselect {\n\t\tcase <-hup:\n\t\t\tif err := reloadConfig(); err != nil {\n'
             '\t\t\t\treturn\n\t\t\t}\n\t\t}\n\t}\n}\n')
    root = project(tmp_path, "syscall.SIGINT", "", extra)
    init(root)
    assert written(root)["config_push"] == "signal:SIGHUP"


def test_no_reload_handler_means_restart_not_a_signal_that_would_stop_it(tmp_path: Path) -> None:
    root = project(tmp_path, "syscall.SIGINT", "")
    init(root)
    values = written(root)
    assert values["config_push"] == "restart"
    assert "no reload signal handled in the source" in (root / "hotgo.toml").read_text()


def test_a_handled_signal_not_known_to_reload_is_left_commented_with_the_reason(tmp_path: Path) -> None:
    root = project(tmp_path, "syscall.SIGUSR2", "\t\t\tcase syscall.SIGUSR2:\n\t\t\t\tdumpStats()\n")
    init(root)
    text = (root / "hotgo.toml").read_text()
    assert written(root)["config_push"] == "restart"
    assert 'push = "restart"\n# push = "signal:SIGUSR2"\n' in text
    assert "SIGUSR2 is handled at cmd/svc/main.go:" in text


def test_no_validate_command_unless_its_syntax_is_found(tmp_path: Path) -> None:
    # `fl.Bool("validate")` reads a flag of some subcommand: not a syntax to run
    extra = '\nfunc other(fl Flags) bool { return fl.Bool("validate") }\n'
    root = project(tmp_path, extra=extra)
    init(root)
    text = (root / "hotgo.toml").read_text()
    assert written(root).get("config_validate", []) == []
    assert "# validate =" not in text
    assert "no check flag or subcommand found in the source" in text


def test_a_check_subcommand_with_its_own_config_flag_is_proposed_commented(tmp_path: Path) -> None:
    extra = ('\nfunc init() {\n\tRegisterCommand(Command{\n\t\tName:  "validate",\n'
             '\t\tUsage: "--config <path>",\n\t\tCobraFunc: func(cmd *cobra.Command) {\n'
             '\t\t\tcmd.Flags().StringP("config", "c", "", "Input configuration file")\n\t\t},\n\t})\n'
             '\tRegisterCommand(Command{\n\t\tName: "adapt",\n'
             '\t\tCobraFunc: func(cmd *cobra.Command) {\n'
             '\t\t\tcmd.Flags().BoolP("validate", "", false, "Validate the output")\n\t\t},\n\t})\n}\n')
    root = project(tmp_path, extra=extra)
    init(root)
    assert 'validate = "auto"\n# validate = "{binary} validate --config {file}"\n' in (root / "hotgo.toml").read_text()


def test_only_tool_files_and_no_named_config_propose_no_files(tmp_path: Path) -> None:
    root = project(tmp_path)
    (root / "cmd" / "svc" / "main.go").write_text(
        'package main\n\nimport "net/http"\n\nfunc main() { http.ListenAndServe(":8080", nil) }\n')
    (root / "svc.yaml").unlink()
    init(root)
    assert written(root).get("config_files", []) == []
    assert "# files =" not in (root / "hotgo.toml").read_text()


def test_an_unnamed_config_looking_file_is_a_commented_guess(tmp_path: Path) -> None:
    root = project(tmp_path)
    (root / "cmd" / "svc" / "main.go").write_text(
        'package main\n\nimport "net/http"\n\nfunc main() { http.ListenAndServe(":8080", nil) }\n')
    init(root)
    text = (root / "hotgo.toml").read_text()
    assert written(root).get("config_files", []) == []
    assert 'files = []\n# files = ["svc.yaml"]\n' in text


def test_init_in_an_example_directory_says_it_is_not_a_package_to_build(tmp_path: Path) -> None:
    root = project(tmp_path)
    example = root / "examples" / "hello"
    example.mkdir(parents=True)
    (example / "hello.go").write_text("//go:build ignore\n\npackage main\n\nfunc main() {}\n")
    result = init(root, cwd=example)
    assert written(root)["build_package"] == "./cmd/svc"
    assert "not proposed: examples/hello: every file there is `//go:build ignore`" in result.stdout


@pytest.mark.parametrize(("build_line", "words"), [
    ("//go:build ignore", ["`//go:build ignore`", "an example or a tool", "`go run FILE`"]),
    ("//go:build ignore && linux", ["`//go:build ignore`", "`go run FILE`"]),
    ("//go:build integration", ["build tag integration", "--build-flags=-tags=integration"]),
    ("//go:build linux && (e2e || integration)", ["build tags e2e, integration", "--build-flags=-tags=e2e,"]),
    ("//go:build windows", ["only for other systems"]),
])
def test_build_constraint_refusals_name_the_fix(tmp_path: Path, build_line: str, words: list[str]) -> None:
    (tmp_path / "main.go").write_text(f"{build_line}\n\npackage main\n\nfunc main() {{}}\n")
    hint = constraint_hint(f"package example.com/x: build constraints exclude all Go files in {tmp_path}")
    assert hint is not None
    for word in words:
        assert word in hint, hint


def test_go_list_gets_the_builds_tags_and_module_flags_only() -> None:
    assert list_flags(["-race", "-tags", "dev", "-ldflags=-s", "-tags=a,b", "-mod=vendor", "-modfile", "x.mod"]) == [
        "-tags", "dev", "-tags=a,b", "-mod=vendor", "-modfile", "x.mod"]
