"""Checking a service's config before a push, and proposing how (issue 11)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from harness import copy_sample

from hotgo.init.check_flag import find_check_flag
from hotgo.push.validate import check_file
from hotgo.push.validator_errors import brief, looks_like_error
from hotgo.settings import toml_file


@pytest.mark.parametrize(("text", "where"), [
    ("a: 1\n  b: 2\n", ":2:4: mapping values are not allowed"),
    ("items: [1, 2\n", ":2:1: "),  # the C and the Python loader word this differently
    ("a: 1\na: {x\n", ":3:1: "),
    ("\tkey: value\n", ":1:1: found character "),
])
def test_invalid_yaml_is_reported_with_file_line_column(tmp_path: Path, text: str, where: str) -> None:
    path = tmp_path / "app.yaml"
    path.write_text(text)
    verdict = check_file(path, None, None, tmp_path)
    assert not verdict.ok and verdict.message.startswith(f"{path}{where}"), verdict.message
    assert ("a tab: YAML indents with spaces" in verdict.message) == text.startswith("\t"), verdict.message


def test_multi_document_yaml_is_valid(tmp_path: Path) -> None:
    path = tmp_path / "deploy.yml"
    path.write_text("kind: A\n---\nkind: B\n")
    assert check_file(path, None, None, tmp_path).ok


def test_brief_prefers_error_lines_stderr_first_and_counts_the_rest() -> None:
    info = "".join(f'time=t level=INFO msg="no errors in module" n={i}\n' for i in range(200))
    error = 'time=2026-12-02T14:26:52.537Z level=ERROR msg="bad listener" err="port out of range"\n'
    summary = brief(info + error, "2026/12/02 14:26:52 config: invalid\n")
    assert summary.lines == ('level=ERROR msg="bad listener" err="port out of range"', "config: invalid")
    assert summary.hidden == 200


@pytest.mark.parametrize(("line", "error"), [
    ("reload failed: open config.yaml: permission denied", True),
    ('cannot apply config/app.yaml: unknown module kind "bogus"', True),
    ("config reloaded, 0 errors", False),
    ("reloading configuration", False),
    ('level=INFO msg="no error handler configured"', False),
])
def test_which_status_lines_read_as_errors(line: str, error: bool) -> None:
    assert looks_like_error(line) is error


def test_brief_without_error_words_shows_the_last_lines() -> None:
    summary = brief("", "".join(f"line {i}\n" for i in range(10)))
    assert summary.lines == ("line 7", "line 8", "line 9") and summary.hidden == 7


@pytest.mark.parametrize(("source", "command"), [
    ('flag.String("check-config", "", "validate and exit")', "{binary} -check-config {file}"),
    ('app.Flag("config.file", "path").Default("x.yml").String()\n'
     'app.Flag("config.check", "check and exit").Bool()', "{binary} --config.check --config.file {file}"),
    ('fs.BoolVar(&check, "validate", false, "")\nfs.StringVar(&path, "config", "", "")',
     "{binary} --validate --config {file}"),
    ('var cmd = &cobra.Command{Use: "validate [flags]"}\ncmd.Flags().StringP("config", "c", "", "file")',
     "{binary} validate --config {file}"),
    ('var cmd = &cobra.Command{Use: "check-config <file>"}', "{binary} check-config {file}"),
])
def test_check_flag_is_found_in_the_service_source(tmp_path: Path, source: str, command: str) -> None:
    (tmp_path / "main.go").write_text(f"package main\n\nfunc main() {{\n{source}\n}}\n")
    found = find_check_flag(tmp_path, tmp_path)
    assert found is not None and found.command == command, found


@pytest.mark.parametrize("source", [
    'flag.String("addr", ":80", "")',
    'var cmd = &cobra.Command{Use: "validate"}',  # how it takes the file is nowhere: no guess
    'fs.Bool("validate", false, "")',  # a boolean check flag, and no flag names the file
    'ok := fl.Bool("validate")',  # reads a flag, declares none
])
def test_no_check_syntax_no_proposal(tmp_path: Path, source: str) -> None:
    (tmp_path / "main.go").write_text(f"package main\n\nfunc main() {{ {source} }}\n")
    assert find_check_flag(tmp_path, tmp_path) is None


def test_init_proposes_the_services_check_flag_commented_out(tmp_path: Path) -> None:
    project = copy_sample(tmp_path, "api")
    result = subprocess.run([sys.executable, "-m", "hotgo", "init"], cwd=project, capture_output=True, text=True,
                            timeout=60, env={**os.environ, "NO_COLOR": "1"})
    assert result.returncode == 0, result.stderr
    assert 'validate: {binary} -check-config {file} ("check-config" flag in cmd/api/main.go' in result.stdout
    written = (project / "hotgo.toml").read_text()
    assert 'validate = "auto"\n# validate = "{binary} -check-config {file}"\n' in written
    values, _ = toml_file.load(project / "hotgo.toml")
    assert "config_validate" in values and values["config_validate"] == []  # still auto until uncommented
