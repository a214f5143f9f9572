"""Several services in one hotgo against one hotgo per service, side by side in one run.

The fixture is tests/fixtures/monorepo: api and web (HTTP), a worker without a port, a shared
package, a second module joined by go.work. Two set-ups, each in its own copy of it:

* one hotgo running the three services from `[services.NAME]` tables;
* three hotgos, one per service, as users run them today (one terminal each). Each watches the whole
  tree, so every edit rebuilds its service. hotgo allows one run per tree (.hotgo/ is locked), so
  each of the three has a copy of the tree, and every edit is written to the three copies at once:
  what three reloaders on one tree see.

Measured, for each of N edits (the order of the two set-ups alternates):
* a one-service edit (cmd/api's `const version`): save → the api answers the new version (GET /
  on a fresh connection every 5 ms), and how many builds the edit started;
* a shared-package edit (internal/shared, imported by api and web): save → both have a new
  generation serving (hotgo's `done` events), next to the slowest of the two builds alone
  (`go build` of each after the same kind of edit, one at a time, the same flags as hotgo's);
* after the edits: inotify watches (hotgo's `watching` event) and hotgo's own RSS (not its services'),
  summed over the three hotgos.

    python bench/services.py [--edits 5] [--wrk-rounds 3]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Dict, List, Sequence, Tuple

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench/common.py
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))  # tests/harness.py
import harness
from common import REPO, WrkLoad, log, median, ms, table, wrk_available

from hotgo.build.go_build import go_flags

SERVICES = ("api", "web", "worker")
DEV_FLAGS = go_flags("dev", [], {})  # what hotgo's default profile builds with


def copy_fixture(base: Path, name: str) -> Path:
    root = base / name
    shutil.copytree(REPO / "tests" / "fixtures" / "monorepo", root)
    return root


def toml(ports: Dict[str, int], names: Sequence[str]) -> str:
    text = ""
    for name in names:
        text += f'[services.{name}]\npackage = "./cmd/{name}"\n'
        if name in ports:
            text += f'listen = ["127.0.0.1:{ports[name]}"]\n'
    return text


class Setup:
    """hotgo processes over copies of the fixture; `write` edits every copy at once."""

    def __init__(self, label: str, roots: List[Path], hotgos: List[harness.Hotgo], ports: Dict[str, int],
                 by_service: Dict[str, Tuple[harness.Hotgo, Dict[str, str]]]) -> None:
        self.label = label
        self.roots = roots
        self.hotgos = hotgos
        self.ports = ports
        self.by_service = by_service  # the hotgo that runs a service, and the fields of its events

    def write(self, relative: str, edit: str) -> float:
        texts = [(root / relative, (root / relative).read_text()) for root in self.roots]
        began = time.monotonic()
        for path, text in texts:
            path.write_text(edit_text(text, edit))
        return began

    def builds(self) -> int:
        return sum(hotgo.count_events("build") for hotgo in self.hotgos)

    def served(self, service: str) -> int:
        hotgo, fields = self.by_service[service]
        return hotgo.count_events("done", **fields)

    def wait_served(self, service: str, occurrences: int) -> float:
        """When the service's `occurrences`-th generation served, on the monotonic clock."""
        hotgo, fields = self.by_service[service]
        record = hotgo.wait_event("done", 120, occurrences, **fields)
        return harness.event_time(record) - time.time() + time.monotonic()

    def wait_idle(self) -> None:
        """Every build this set-up started has ended and every generation it started serves or is
        gone, and the drains are over: the next measurement starts on a quiet machine."""
        def idle() -> bool:
            return all(hotgo.count_events("build") == sum(hotgo.count_events(e) for e in
                                                          ("built", "build_failed", "build_cancelled"))
                       and hotgo.count_events("built") == hotgo.count_events("done") for hotgo in self.hotgos)
        harness.wait_for(idle, 120, f"{self.label} idle")
        time.sleep(1.0)  # the old generations' drains (300 ms in the fixture) and exits

    def rss(self) -> int:
        return sum(psutil.Process(hotgo.proc.pid).memory_info().rss for hotgo in self.hotgos)

    def watches(self) -> int:
        return sum(int(hotgo.events("watching")[-1].get("inotify_watches", 0)) for hotgo in self.hotgos)


def edit_text(text: str, edit: str) -> str:
    if edit.startswith("version:"):
        return harness.VERSION_LINE.sub(f'const version = "{edit[8:]}"', text)
    return text + f"\n// {edit}\n"


def start_one(base: Path, stack: ExitStack) -> Setup:
    root = copy_fixture(base, "one")
    ports = {"api": harness.free_port(), "web": harness.free_port()}
    (root / "hotgo.toml").write_text(toml(ports, SERVICES))
    hotgo = stack.enter_context(harness.Hotgo(["run"], cwd=root))
    for name in SERVICES:
        hotgo.wait_event("done", timeout=300, service=name)
    return Setup("one hotgo, 3 services", [root], [hotgo], ports,
                 {name: (hotgo, {"service": name}) for name in SERVICES})


def start_many(base: Path, stack: ExitStack) -> Setup:
    ports = {"api": harness.free_port(), "web": harness.free_port()}
    roots, hotgos = [], []
    for name in SERVICES:
        root = copy_fixture(base, f"many-{name}")
        listen = ["--listen", f"127.0.0.1:{ports[name]}"] if name in ports else []
        hotgos.append(stack.enter_context(harness.Hotgo(["run", f"./cmd/{name}", *listen], cwd=root)))
        roots.append(root)
    for hotgo in hotgos:
        hotgo.wait_event("done", timeout=300)
    return Setup("3 hotgos, 1 service each", roots, hotgos, ports,
                 {name: (hotgo, {}) for name, hotgo in zip(SERVICES, hotgos)})


def one_service_edit(setup: Setup, number: int) -> Tuple[float, int]:
    """Save → the api answers the new version; and how many builds that save started."""
    builds_before = setup.builds()
    began = setup.write("cmd/api/main.go", f"version:e{number}")
    harness.wait_for(lambda: harness.field_of(harness.get(setup.ports["api"], timeout=1), "version") == f"e{number}",
                     120, f"api serving e{number}", step=0.005)
    served = time.monotonic() - began
    time.sleep(0.5)  # every build this save started has begun: count them
    setup.wait_idle()
    return served, setup.builds() - builds_before


def shared_edit(setup: Setup, number: int) -> float:
    """Save → both importers of internal/shared serve a new generation."""
    before = {name: setup.served(name) for name in ("api", "web")}
    began = setup.write("internal/shared/serve.go", f"shared edit {number}")
    return max(setup.wait_served(name, before[name] + 1) for name in ("api", "web")) - began


def slowest_alone(root: Path, base: Path, number: int) -> float:
    """The slower of api's and web's build alone after a shared edit, one at a time, hotgo's flags."""
    path = root / "internal" / "shared" / "serve.go"
    path.write_text(path.read_text() + f"\n// build edit {number}\n")
    times = []
    for name in ("api", "web"):
        began = time.monotonic()
        subprocess.run(["go", "build", *DEV_FLAGS, "-o", str(base / f"bin-{name}"), f"./cmd/{name}"], cwd=root,
                       check=True, capture_output=True, timeout=300)
        times.append(time.monotonic() - began)
    return max(times)


def under_wrk(setup: Setup, rounds: int) -> List[List[str]]:
    """wrk (keep-alive GETs, no retries) on api and web while every kind of edit lands: the api's own
    package, the shared package, the workspace's other module, a broken web build and its fix."""
    loads = {name: WrkLoad(setup.ports[name], max_seconds=600, threads=1, connections=8) for name in ("api", "web")}
    for load in loads.values():
        load.__enter__()
    try:
        root = setup.roots[0]
        web = root / "cmd" / "web" / "main.go"
        for number in range(rounds):
            good = web.read_text()
            edits = [(root / "cmd/api/main.go", f"version:w{number}"), (root / "internal/shared/serve.go", "wrk"),
                     (root / "libs/greet/greet.go", "wrk")]
            for path, edit in edits:
                path.write_text(edit_text(path.read_text(), edit))
                time.sleep(0.2)
                setup.wait_idle()
            web.write_text(good + "\nfunc broken() { undefined() }\n")  # fails to build: web keeps serving
            time.sleep(0.2)
            setup.wait_idle()
            web.write_text(edit_text(good, f"version:w{number}"))
            time.sleep(0.2)
            setup.wait_idle()
        stats = {name: load.stop() for name, load in loads.items()}
    finally:
        for load in loads.values():
            load.__exit__()
    return [[setup.label, name, str(s.requests), str(s.failed), s.detail()] for name, s in stats.items()]


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--edits", type=int, default=5)
    parser.add_argument("--wrk-rounds", type=int, default=3, help="rounds of every kind of edit under wrk (0: none)")
    args = parser.parse_args(argv)
    base = Path(tempfile.mkdtemp(prefix="hotgo-bench-services-"))
    results: Dict[str, Dict[str, List[float]]] = {}
    with ExitStack() as stack:
        stack.callback(shutil.rmtree, base, ignore_errors=True)
        setups = [start_one(base, stack), start_many(base, stack)]
        builds_root = copy_fixture(base, "builds")
        slowest: List[float] = []
        log("both set-ups serving; editing")
        for number in range(args.edits):
            for setup in setups if number % 2 == 0 else list(reversed(setups)):
                row = results.setdefault(setup.label, {"served": [], "builds": [], "shared": []})
                served, builds = one_service_edit(setup, number)
                row["served"].append(served)
                row["builds"].append(builds)
                row["shared"].append(shared_edit(setup, number))
                setup.wait_idle()
            slowest.append(slowest_alone(builds_root, base, number))  # meanwhile both set-ups are idle
        memory = {setup.label: (setup.watches(), setup.rss()) for setup in setups}
        wrk_rows = under_wrk(setups[0], args.wrk_rounds) if wrk_available() and args.wrk_rounds else []
    rows = []
    for label, row in results.items():
        watches, rss = memory[label]
        rows.append([label, ms(median(row["served"])), f"{median(row['builds']):.0f}", ms(median(row["shared"])),
                     ms(median(slowest)), str(watches), f"{rss / 1e6:.1f} MB"])
    print(f"\n{args.edits} edits of each kind, medians; 'alone' = the slower of `go build ./cmd/api` and "
          "`./cmd/web` after the same shared edit")
    print(table(["set-up", "api edit: save→served", "builds per api edit", "shared edit: save→both served",
                 "slowest build alone", "inotify watches", "hotgo RSS"], rows))
    if wrk_rows:
        print(f"\nunder `wrk -t1 -c8` on api and on web, {args.wrk_rounds} rounds of: an api edit, a shared edit, an "
              "edit of the other module, a broken web build, its fix")
        print(table(["set-up", "service", "requests", "failed", "wrk's errors"], wrk_rows))
    elif args.wrk_rounds:
        print("\nno wrk on PATH: the pass under wrk is skipped")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
