"""Several services of one repository in one hotgo (tests/fixtures/monorepo: api and web over HTTP, a
worker without a port, a shared package, a second module joined by go.work). Real builds, real
processes, keep-alive GET and POST load on both HTTP services the whole time."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Dict, Iterator, List, Tuple

import pytest
from harness import REPO, Hotgo, LoadClient, build_load_client, free_port, kill_processes_under, set_version, wait_for

SERVICES = ("api", "web", "worker")


@pytest.fixture
def monorepo(tmp_path: Path, go_toolchain: str) -> Iterator[Tuple[Path, Dict[str, int]]]:
    root = tmp_path / "shop"
    shutil.copytree(REPO / "tests" / "fixtures" / "monorepo", root)
    ports = {"api": free_port(), "web": free_port()}
    (root / "hotgo.toml").write_text(
        f'[services.api]\npackage = "./cmd/api"\nlisten = ["127.0.0.1:{ports["api"]}"]\n\n'
        f'[services.web]\npackage = "./cmd/web"\nlisten = ["127.0.0.1:{ports["web"]}"]\n\n'
        '[services.worker]\npackage = "./cmd/worker"\n')
    yield root, ports
    kill_processes_under(tmp_path)


def control(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "hotgo", *args], cwd=root, capture_output=True, text=True,
                          timeout=60)


def pids(root: Path) -> Dict[str, int]:
    answer = control(root, "status", "--json")
    assert answer.returncode == 0, answer.stderr
    return {name: status["pid"] for name, status in json.loads(answer.stdout)["services"].items()}


def served(hotgo: Hotgo, name: str) -> int:
    return hotgo.count_events("done", service=name)


def builds(hotgo: Hotgo) -> Dict[str, int]:
    return {name: hotgo.count_events("build", service=name) for name in SERVICES}


def seen(client: LoadClient, version: str, hotgo: Hotgo) -> None:
    """The client was answered by `version`; else the failure shows what hotgo did meanwhile."""
    try:
        client.wait_seen(version, timeout=120)
    except AssertionError as err:
        raise AssertionError(f"{err}\n{hotgo.transcript()}") from None


def append(path: Path, text: str) -> None:
    path.write_text(path.read_text() + text)


def test_a_change_rebuilds_exactly_the_services_that_import_it_and_no_request_fails(
        monorepo: Tuple[Path, Dict[str, int]], go_toolchain: str, tmp_path: Path) -> None:
    root, ports = monorepo
    load_client = build_load_client(go_toolchain, tmp_path)
    with Hotgo(["run"], cwd=root) as hotgo:
        for name in SERVICES:
            hotgo.wait_event("done", service=name, timeout=180)
        clients = {name: LoadClient(load_client, ports[name], clients=4) for name in ("api", "web")}
        try:
            for client in clients.values():
                seen(client, "v1", hotgo)
            before = pids(root)

            # The api's own package: the api alone.
            set_version(root, "v2", main="cmd/api/main.go")
            seen(clients["api"], "v2", hotgo)
            hotgo.wait_event("done", service="api", occurrences=2)
            after = pids(root)
            assert after["web"] == before["web"] and after["worker"] == before["worker"], hotgo.transcript()
            assert builds(hotgo) == {"api": 2, "web": 1, "worker": 1}, hotgo.transcript()

            # The shared package: api and web, never the worker.
            append(root / "internal" / "shared" / "serve.go", "\n// shared edit\n")
            hotgo.wait_event("done", service="api", occurrences=3)
            hotgo.wait_event("done", service="web", occurrences=2)
            assert builds(hotgo) == {"api": 3, "web": 2, "worker": 1}, hotgo.transcript()
            assert pids(root)["worker"] == before["worker"]

            # The second module of the workspace: its importers, web and worker.
            greet = next((root / "libs" / "greet").glob("*.go"))
            append(greet, "\n// greet edit\n")
            hotgo.wait_event("done", service="web", occurrences=3)
            hotgo.wait_event("done", service="worker", occurrences=2)
            assert builds(hotgo)["api"] == 3, hotgo.transcript()

            # A test file and a package nobody imports: nothing is built, and hotgo says why. (The
            # test file is saved first: by the time the second save is routed, the first was too.)
            built = builds(hotgo)
            append(root / "internal" / "shared" / "serve_test.go", "\n// test edit\n")
            append(next((root / "internal" / "unused").glob("*.go")), "\n// unused edit\n")
            routed = hotgo.wait_event("change_routed", files=lambda f: "internal/unused/unused.go" in f)
            assert routed["services"] == [] and routed["unrouted"], routed
            assert builds(hotgo) == built, hotgo.transcript()

            # A broken build of one service: the others keep serving; then it is fixed.
            web_main = root / "cmd" / "web" / "main.go"
            good = web_main.read_text()
            web_main.write_text(good + "\nfunc broken() { undefined() }\n")
            failed = hotgo.wait_event("build_failed", service="web")
            assert failed["generation"] == 4, failed
            set_version(root, "v3", main="cmd/api/main.go")
            seen(clients["api"], "v3", hotgo)  # the api still hands off while web's build is broken
            web_main.write_text(good.replace('const version = "v1"', 'const version = "v2"'))
            seen(clients["web"], "v2", hotgo)

            # By name, on the command line.
            assert control(root, "reload", "worker").returncode == 0
            hotgo.wait_event("done", service="worker", occurrences=3)
            assert control(root, "reload", "nosuch").returncode == 1
            summaries = {name: client.finish() for name, client in clients.items()}
        finally:
            for client in clients.values():
                client.close()
        print(f"\nload: {summaries}")
        for summary in summaries.values():
            assert summary["failures"] == 0 and summary["retried"] == 0, (
                f"{ {n: (s['failures'], s['retried'], s.get('errors')) for n, s in summaries.items()} }\n"
                f"{hotgo.transcript()}")
            assert isinstance(summary["posts"], int) and summary["posts"] > 0, summaries
        assert builds(hotgo) == {"api": 4, "web": 5, "worker": 3}, hotgo.transcript()
        # No build ran for the test file, the unused package or a change that touched no service.
        assert hotgo.count_events("build_failed") == 1, hotgo.transcript()


def test_status_and_events_name_each_service(monorepo: Tuple[Path, Dict[str, int]]) -> None:
    root, ports = monorepo
    with Hotgo(["run"], cwd=root) as hotgo:
        for name in SERVICES:
            hotgo.wait_event("done", service=name, timeout=180)
        answer = control(root, "status", "--json")
        status = json.loads(answer.stdout)
        assert sorted(status["services"]) == sorted(SERVICES)
        assert status["services"]["api"]["listen"] == [f"127.0.0.1:{ports['api']}"]
        assert status["services"]["worker"]["socket"] == "none"
        one = json.loads(control(root, "status", "web", "--json").stdout)
        assert one["service"] == "web" and one["state"] == "ready"
        text = control(root, "status").stdout
        assert all(f"── {name}" in text for name in SERVICES), text
        # Every event about one service carries its name; the service's own lines too.
        about_one = [r for r in hotgo.records() if r.get("generation")]
        assert about_one and all(r.get("service") in SERVICES for r in about_one), hotgo.transcript()
        assert control(root, "stop", "worker").returncode == 0
        hotgo.wait_event("stopped", service="worker")
        wait_for(lambda: "worker" in [r.get("service") for r in hotgo.events("stopped")], 30, "the worker stopped")
        assert hotgo.proc.poll() is None  # the others still serve
        assert control(root, "stop").returncode == 0
        assert hotgo.proc.wait(60) == 0


def test_one_command_line_runs_several_packages(monorepo: Tuple[Path, Dict[str, int]]) -> None:
    root, _ = monorepo
    (root / "hotgo.toml").unlink()
    with Hotgo(["run", "./cmd/worker", "./cmd/api", "--socket", "none"], cwd=root,
               env={"PORT": str(free_port())}) as hotgo:  # the api binds it itself
        hotgo.wait_event("done", service="worker", timeout=180)
        hotgo.wait_event("done", service="api", timeout=180)
        starts: List[str] = sorted(r["service"] for r in hotgo.events("start_hotgo"))
        assert starts == ["api", "worker"], hotgo.transcript()
