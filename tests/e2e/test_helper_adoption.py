"""Issue 20: the Go helper, offline, in any module. A brand-new module adopts it the way the README
says (`hotgo helper`, three changed lines, `hotgo run`), with no network, and loses no request across
10 reloads under keep-alive load (GET and POST, nothing retried); an outdated copy is named at start."""

from __future__ import annotations

import difflib
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Dict, Iterator, List

import pytest
from harness import (
    Hotgo,
    LoadClient,
    build_load_client,
    free_port,
    kill_processes_under,
    load_client_service,
    set_version,
)

RELOADS = 10
CLIENTS = 8


def offline_env() -> Dict[str, str]:
    """No network for Go: no module proxy, no toolchain download, go.mod updated as needed."""
    flags = f"{os.environ.get('GOFLAGS', '')} -mod=mod".strip()
    return {"GOFLAGS": flags, "GOPROXY": "off", "GOTOOLCHAIN": "local", "GOWORK": "off"}


def run(args: List[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL,
                          env={**os.environ, **offline_env(), "NO_COLOR": "1"})


def adopt(main: Path, import_path: str) -> None:
    """The README's three changed lines: the import, and the call to hotgo.ListenAndServe."""
    before = main.read_text()
    after = before.replace('import (\n', f'import (\n\t"{import_path}"\n', 1)
    after = after.replace("http.ListenAndServe(", "hotgo.ListenAndServe(", 1)
    changed = [line for line in difflib.unified_diff(before.splitlines(), after.splitlines(), lineterm="", n=0)
               if line[:1] in "+-" and not line.startswith(("+++", "---"))]
    assert len(changed) == 3, changed
    main.write_text(after)


@pytest.fixture
def fresh_module(tmp_path: Path, go_toolchain: str) -> Iterator[Path]:
    """A brand-new module with a plain net/http service (GET, and POST that counts), nothing else."""
    root = tmp_path / "fresh"
    root.mkdir()
    made = run([go_toolchain, "mod", "init", "example.com/fresh"], root)
    assert made.returncode == 0, made.stderr
    yield root
    kill_processes_under(tmp_path)


@pytest.fixture
def load_client(tmp_path: Path, go_toolchain: str) -> Path:
    return build_load_client(go_toolchain, tmp_path)


def test_a_new_module_adopts_the_helper_offline_and_loses_nothing_across_ten_reloads(
        fresh_module: Path, load_client: Path, go_toolchain: str) -> None:
    port = free_port()
    main = fresh_module / "main.go"
    main.write_text(load_client_service(f"127.0.0.1:{port}"))

    written = run([sys.executable, "-m", "hotgo", "helper"], fresh_module)
    assert written.returncode == 0, written.stderr
    import_line = re.search(r'import hotgo "([^"]+)"', written.stdout)
    assert import_line and import_line.group(1) == "example.com/fresh/internal/hotgo", written.stdout
    adopt(main, import_line.group(1))
    unformatted = run(["gofmt", "-l", "."], fresh_module)
    assert unformatted.returncode == 0 and unformatted.stdout == "", unformatted.stdout + unformatted.stderr
    assert (fresh_module / "go.mod").read_text().count("require") == 0  # nothing to download, nothing required

    with Hotgo(["run", ".", "--listen", f"127.0.0.1:{port}"], cwd=fresh_module, env=offline_env()) as hotgo:
        hotgo.wait_serving(timeout=180)
        assert hotgo.count_events("helper_outdated") == 0, hotgo.transcript()
        client = LoadClient(load_client, port, CLIENTS)
        try:
            client.wait_seen("v1")
            for i in range(2, RELOADS + 2):
                set_version(fresh_module, f"v{i}", main="main.go")
                hotgo.wait_serving(i, timeout=120)
                client.wait_seen(f"v{i}")
            summary = client.finish()
        finally:
            client.close()
        print(f"\nload across {RELOADS} reloads: {summary}")
        assert summary["failures"] == 0 and summary["retried"] == 0, summary
        assert isinstance(summary["posts"], int) and summary["posts"] > 0, summary
        assert isinstance(summary["gets"], int) and summary["gets"] > 0, summary
        assert client.versions() == [f"v{i}" for i in range(1, RELOADS + 2)], client.versions()
        assert hotgo.count_events("done") == RELOADS + 1, hotgo.transcript()
        # The helper spoke sd_notify: every reload waited for its READY=1 (generation 1 may be
        # seen accepting first, before hotgo knows the service speaks it).
        notified = {r["generation"] for r in hotgo.events("ready", how="READY=1")}
        assert notified >= set(range(2, RELOADS + 2)), hotgo.transcript()


def test_run_names_an_outdated_copy_and_how_to_update_it(api_project: Path) -> None:
    copy = api_project / "internal" / "hotgo"
    for path in copy.glob("*.go"):  # as if an older hotgo had written it: another helper hash in the header
        path.write_text(re.sub(r"\(helper [0-9a-f]+\)", "(helper 000000000000)", path.read_text(), count=1))
    port = free_port()
    with Hotgo(["run", "./cmd/api", "--listen", f"127.0.0.1:{port}"], cwd=api_project) as hotgo:
        outdated = hotgo.wait_event("helper_outdated")
        assert (outdated["dir"], outdated["command"], outdated["level"]) == ("internal/hotgo", "hotgo helper", "warn")
        hotgo.wait_serving()  # a warning, not a refusal
        assert hotgo.count_events("helper_outdated") == 1, hotgo.transcript()
