"""Save → new version served, side by side: the bare build, hotgo, and the reloaders a user would pick instead.

One run, the same fixture (samples/api) and the same edits (its `const version = "..."` line) for every
row. For each of N edits, in turn, each row gets the edit in its own copy (every copy a git repository
with one commit, as a real project is: `go build`'s default VCS stamping runs git there); the order
rotates so that each row takes each place equally often and the machine's drift falls alike on all:

* plain `go build` (default flags) and the same-flag build (hotgo's `dev` profile flags): the build
  alone, no serving, timed while the same prober runs against a service, so it pays that CPU too;
* hotgo `--profile dev` and `--profile plain`, nodemon, air, reflex: from the file write to the first
  GET / (fresh connection, every 5 ms) that returns the new version, and the seconds per reload
  during which connections were refused or reset. Each peer gets only what a user must give it: the
  watched extension, the build command, the service's address (and, for nodemon, SIGTERM as the stop
  signal: its default SIGUSR2 is no stop for a Go service).

The peers are installed when missing into a cache directory (`--tools`, default
~/.cache/hotgo-bench): air and reflex with `go install` (GOBIN), nodemon with `npm install --prefix`,
each bounded in time; a peer that cannot be installed is a row saying why.

Two passes: without load, then the same rows under load (`--no-load` skips it): for each served row's
edit, `wrk -t1 -c16` runs on 127.0.0.1 from just before the write until the new version is served and
the old one had its drain; the build rows' builds run with the same wrk on hotgo dev's service. It
prints failed requests (wrk's connect/read/write/timeout socket errors and non-2xx answers). Without
wrk on PATH the second pass is skipped, saying so.

Then hotgo's own reload summary steps next to the wall-clock save → served and the bare same-flag build
("not the build": save → served minus hotgo's own build, paired per edit), and the acceptance line
(hotgo dev vs the same-flag build, target within ~12 %).

Cold start (`--no-cold` skips it): on a warm build cache and an unchanged tree, the time from launching
`hotgo run` to the first answer of GET /, next to `go run` and the same-flag `go build` alone (to a new
output file: it links). Two hotgo rows: without `.hotgo/` (go links anew, as on a first run) and with
`.hotgo/` as the last run left it (a restart: go finds its output up to date and does not link). Go's
build cache stays warm. Target: hotgo within ~100 ms of the same-flag build.

Large service (`--large`, off by default: the first run downloads ~100 MB into Go's module cache and
compiles Caddy once): a temporary module whose main is the standard Caddy build, built after each edit
of a file of its main package with default flags and with the dev profile's flags, interleaved.

    python bench/peers.py [--edits 10] [--no-load] [--no-cold] [--cold-runs 5] [--large] [--tools DIR]
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Callable, Dict, List, Optional, Tuple

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from common import (
    PACKAGE,
    Hotgo,
    LoadStats,
    copy_sample,
    free_port,
    go_version,
    log,
    median,
    percentile,
    set_version,
    table,
    wait_for_sample,
    wrk_available,
)
from harness import Every
from peer_tools import (
    POLL,
    EditLoad,
    Reloader,
    Tool,
    default_tools_dir,
    git_repository,
    peers,
    probe,
    run_bounded,
    save_and_wait,
    timed_build,
    wait_serving,
    wrk_version,
)

from hotgo.settings.profiles import merge

STEPS = ["change→serving", "settle", "hash", "→build", "build", "→start", "start→ready", "drain"]
DEV_FLAGS = merge("dev", [])  # hotgo's default profile: what `hotgo run` builds with
AFTER_EDIT = 0.3  # s: the old generation drains before the next row's edit (and under wrk, is counted)
TARGET_RATIO = 1.12  # hotgo dev's save → served within ~12 % of the same-flag build
TARGET_COLD = 0.100  # s: hotgo run serves within the same-flag build + ~100 ms
CADDY_MAIN = """package main

import (
\tcaddycmd "github.com/caddyserver/caddy/v2/cmd"

\t_ "github.com/caddyserver/caddy/v2/modules/standard"
)

func main() {
\tcaddycmd.Main()
}
"""


@dataclass
class Edit:
    seconds: float  # save → served, or the build alone
    refused: float = 0.0  # s during which the prober's connections were refused or reset
    load: Optional[LoadStats] = None  # wrk's counts over this edit
    summary: Dict[str, float] = field(default_factory=dict)  # hotgo's reload summary of this edit


@dataclass
class Row:
    name: str
    edit: Optional[Callable[[str, bool], Edit]] = None  # (version, under load) -> Edit
    missing: str = ""  # why the row has no figures
    served: bool = True  # False: the build alone
    profile: str = ""  # hotgo's rows: its --profile
    edits: Dict[bool, List[Edit]] = field(default_factory=lambda: {False: [], True: []})  # by "under load"


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms"


def paired(a: List[Edit], b: List[Edit], how: Callable[[float, float], float]) -> float:
    """Median of how(a[i], b[i]): the rows were edited in turn, so each pair saw the same machine."""
    return median([how(x.seconds, y.seconds) for x, y in zip(a, b)])


def served_row(name: str, project: Path, port: int, timeout: float, hotgo: Optional[Hotgo] = None,
               profile: str = "") -> Row:
    def edit(version: str, loaded: bool) -> Edit:
        before = hotgo.latest_generation() if hotgo is not None else 0
        with contextlib.ExitStack() as stack:
            wrk = stack.enter_context(EditLoad(port, timeout + 30)) if loaded else None
            took, refused = save_and_wait(project, port, version, timeout)
            time.sleep(AFTER_EDIT)
            summary = {}
            if hotgo is not None:  # its summary is logged after the old generation's drain
                hotgo.wait_summary(before + 1, timeout)
                summary = hotgo.summaries()[hotgo.latest_generation()]
            stats = wrk.stop() if wrk is not None else None
        return Edit(took, refused, stats, summary)

    return Row(name, edit, profile=profile)


def build_row(name: str, project: Path, flags: List[str], output: Path, busy_port: Callable[[], int],
              timeout: float) -> Row:
    """The build alone, while the prober (and under load, wrk) runs against another row's service."""
    def edit(version: str, loaded: bool) -> Edit:
        set_version(project, version)
        with contextlib.ExitStack() as stack:
            stack.enter_context(Every(POLL, lambda: probe(busy_port())))
            if loaded:
                stack.enter_context(EditLoad(busy_port(), timeout + 30))
            took = timed_build(project, flags, output)
        time.sleep(AFTER_EDIT)
        return Edit(took)

    timed_build(project, flags, output)  # warms the cache for these flags (not counted)
    return Row(name, edit, served=False)


def peer_row(tool: Tool, project: Path, port: int, timeout: float, closers: List[Callable[[], None]]) -> Row:
    name = f"{tool.name} {tool.version}".strip()
    if tool.path is None:
        return Row(tool.name, missing=tool.why)
    build = f"go build -o ./tmp/api {PACKAGE}"
    serve = f"./tmp/api -addr 127.0.0.1:{port}"
    argv = {
        # --signal: nodemon stops with SIGUSR2 by default (node's convention); this service drains on SIGTERM.
        "nodemon": [tool.path, "--ext", "go", "--signal", "SIGTERM", "--exec", f"{build} && exec {serve}"],
        "air": [tool.path, "--build.cmd", build, "--build.bin", "./tmp/api", "--build.args_bin",
                f"-addr,127.0.0.1:{port}"],
        "reflex": [tool.path, "-r", r"\.go$", "-s", "--", "sh", "-c", f"{build} && exec {serve}"],
    }[tool.name]
    log(f"starting {name} on 127.0.0.1:{port}")
    try:
        reloader = Reloader(argv, project, port)
    except (RuntimeError, TimeoutError) as err:
        return Row(tool.name, missing=f"did not serve: {str(err).splitlines()[0]}")
    closers.append(reloader.close)
    return served_row(name, project, port, timeout)


def measure(rows: List[Row], edits: int, loaded: bool, nonce: str) -> None:
    measured = [row for row in rows if row.edit is not None]
    for i in range(1, edits + 1):
        shift = i % len(measured)  # each row takes each place in the order as often
        for row in measured[shift:] + measured[:shift]:
            assert row.edit is not None
            row.edits[loaded].append(row.edit(f"{'w' if loaded else 'e'}{nonce}-{i}", loaded))
        log(f"{'under wrk: ' if loaded else ''}edit {i}/{edits}: "
            + ", ".join(f"{'hotgo-' + r.profile if r.profile else r.name.split()[0]} {ms(r.edits[loaded][-1].seconds)}"
                        for r in measured))


def report(rows: List[Row], loaded: bool) -> None:
    base = rows[0].edits[loaded]
    lines = []
    for row in rows:
        done = row.edits[loaded]
        if row.missing or not done:
            lines.append([row.name, "-", "-", "-", "-", *(["-"] if loaded else []), f"skipped: {row.missing}"])
            continue
        times = [e.seconds for e in done]
        refused = f"{sum(e.refused for e in done) / len(done):.2f}" if row.served else "-"
        failed = []
        if loaded:
            counts = [e.load for e in done if e.load is not None]
            total = sum(c.failed for c in counts)
            failed = [f"{total} ({total / len(counts):.0f} per reload), {sum(c.requests for c in counts)} answered"
                      if row.served and counts else "-"]
        lines.append([row.name, ms(median(times)), ms(percentile(times, 95)),
                      f"{paired(done, base, lambda a, b: a / b):.2f}", refused, *failed,
                      "save → new version served" if row.served else "the build alone"])
    headers = ["row", "median", "p95", "ratio to plain build (median of per-edit ratios)", "s refused per reload"]
    if loaded:
        headers.append("failed requests (wrk: socket errors + non-2xx)")
    print(table([*headers, "what"], lines))


def report_steps(rows: List[Row], loaded: bool) -> None:
    by_profile = {row.profile: row for row in rows if row.profile}
    plain_build, dev_build = rows[0], rows[1]
    lines = []
    for profile, bare in (("dev", dev_build), ("plain", plain_build)):
        row = by_profile.get(profile)
        if row is None or not row.edits[loaded]:
            continue
        done = row.edits[loaded]
        steps = [f"{median([e.summary[s] for e in done if s in e.summary]) * 1000:.1f} ms" for s in STEPS]
        not_build = median([e.seconds - e.summary["build"] for e in done if "build" in e.summary])
        lines.append([f"hotgo `--profile {profile}`", *steps, ms(median([e.seconds for e in done])),
                      ms(median([e.seconds for e in bare.edits[loaded]])), ms(not_build)])
    print(table(["hotgo's own reload summary (medians)", *STEPS, "save → served (wall clock)",
                 "same-flag build alone", "not the build (save → served − its build, paired)"], lines))
    dev = by_profile.get("dev")
    if dev is not None and dev.edits[loaded]:
        served = median([e.seconds for e in dev.edits[loaded]])
        same = median([e.seconds for e in dev_build.edits[loaded]])
        ratio = served / same
        print(f"\nacceptance: hotgo --profile dev save → served {ms(served)} vs same-flag build {ms(same)}: ratio "
              f"{ratio:.2f}, difference {ms(served - same)} (target within ~12 %: "
              f"{'met' if ratio <= TARGET_RATIO else 'NOT met'}); hotgo dev / plain go build, median of per-edit "
              f"ratios: {paired(dev.edits[loaded], plain_build.edits[loaded], lambda a, b: a / b):.2f}")


def cold_start(tmp: Path, runs: int, timeout: float) -> None:
    """`hotgo run` from launch to first answer, next to `go run` and the same-flag build, warm cache."""
    project = copy_sample(tmp / "cold")
    git_repository(project.parent.parent)
    output = tmp / "cold.bin"

    # hotgo's own split per run, by whether .hotgo/ was kept: (launch → its build starts, that build)
    splits: Dict[bool, List[Tuple[float, float]]] = {False: [], True: []}

    def hotgo_run(keep: bool = False) -> float:
        """`keep`: .hotgo/ as the last run left it (a restart); else removed, so go links anew."""
        if not keep:
            shutil.rmtree(project / ".hotgo", ignore_errors=True)
        port = free_port()
        started = time.monotonic()
        hotgo = Hotgo(project, port)
        try:
            took = wait_serving(port, timeout, hotgo.proc) - started
            own = hotgo.wait_summary(1, timeout).get("build", math.nan)
            # The build starts before hotgo logs it (its head start): the line says how long before.
            line = next((x for x in hotgo.output_lines() if "building generation 1 " in x), "")
            early = re.search(r"since (\d+)ms", line)
            logged = hotgo.time_of(r"building generation 1\b") or math.nan
            splits[keep].append((logged - (int(early.group(1)) / 1000 if early else 0.0) - started, own))
            return took
        finally:
            hotgo.close()

    def go_run() -> float:
        port = free_port()
        started = time.monotonic()
        reloader = Reloader(["go", "run", PACKAGE, "-addr", f"127.0.0.1:{port}"], project, port, timeout)
        reloader.close()
        return reloader.serving_at - started

    def build() -> float:
        output.unlink(missing_ok=True)  # an up-to-date output would not be linked again
        return timed_build(project, DEV_FLAGS, output)

    kinds: Dict[str, Callable[[], float]] = {"hotgo run (default profile: dev), no .hotgo/": hotgo_run,
                                             "hotgo run again, .hotgo/ kept (a restart)": lambda: hotgo_run(True),
                                             f"go run {PACKAGE}": go_run,
                                             f"same-flag `go build {' '.join(DEV_FLAGS)}` alone": build}
    log("cold start: warming the build cache (one of each, not counted)")
    for run in kinds.values():
        run()
    times: Dict[str, List[float]] = {name: [] for name in kinds}
    names = list(kinds)
    for i in range(runs):
        for name in names[i % len(names):] + names[:i % len(names)]:
            times[name].append(kinds[name]())
        log(f"cold start {i + 1}/{runs}: " + ", ".join(f"{n.split()[0]} {ms(t[-1])}" for n, t in times.items()))
    print(table([f"cold start, warm build cache, unchanged tree ({runs} runs, interleaved)", "median", "runs"],
                [[name, ms(median(t)), " ".join(f"{x * 1000:.0f}" for x in t)] for name, t in times.items()]))
    # hotgo's own split, of the runs without .hotgo/ (the warm-up's and the restarts' left out)
    before = [b for b, _ in splits[False][1:]]
    builds = [b for _, b in splits[False][1:]]
    print(f"\nhotgo run's own split, no .hotgo/ (medians): launch → its build starts {ms(median(before))} "
          f"(Python, the settings, the package; the rest of hotgo is set up while it builds), its build "
          f"{ms(median(builds))}, the rest to the first answer "
          f"{ms(median([t - a - b for t, a, b in zip(times[names[0]], before, builds)]))}")
    hotgo, restart, gorun, bare = (times[n] for n in names)
    difference = median([a - b for a, b in zip(hotgo, bare)])
    print(f"\nhotgo run − same-flag build, median of paired differences: {ms(difference)} (target <= ~100 ms: "
          f"{'met' if difference <= TARGET_COLD else 'NOT met'}); hotgo run − go run: "
          f"{ms(median([a - b for a, b in zip(hotgo, gorun)]))}; a restart − same-flag build: "
          f"{ms(median([a - b for a, b in zip(restart, bare)]))}, − go run: "
          f"{ms(median([a - b for a, b in zip(restart, gorun)]))}")


def large_service(tmp: Path, runs: int) -> None:
    """A Caddy-size module: default flags vs the dev profile's, after each edit of its main package."""
    module = tmp / "caddy"
    module.mkdir()
    (module / "main.go").write_text(CADDY_MAIN)
    (module / "edit.go").write_text('package main\n\nvar benchEdit = "0"\n')
    log("large service: go mod tidy (Caddy from the Go module proxy, kept in Go's module cache)")
    for argv, limit in ((["go", "mod", "init", "hotgo-bench/caddy"], 60), (["go", "mod", "tidy"], 900)):
        ok, why = run_bounded(argv, cwd=module, timeout=limit)
        if not ok:
            print(f"large service: skipped: `{' '.join(argv)}` failed ({why})")
            return
    git_repository(module)
    flag_sets = {"plain `go build` (default flags)": [], f"same-flag `go build {' '.join(DEV_FLAGS)}`": DEV_FLAGS}
    log("large service: first builds (compiles Caddy once per flag set; not counted)")
    try:
        for n, flags in enumerate(flag_sets.values()):
            timed_build(module, flags, tmp / f"caddy{n}", ".", timeout=1800)
        times: Dict[str, List[float]] = {name: [] for name in flag_sets}
        names = list(flag_sets)
        for i in range(runs):
            for name in names[i % 2:] + names[:i % 2]:
                (module / "edit.go").write_text(f'package main\n\nvar benchEdit = "{i}-{names.index(name)}"\n')
                times[name].append(timed_build(module, flag_sets[name], tmp / f"caddy{names.index(name)}", ".",
                                               timeout=900))
            log(f"large service {i + 1}/{runs}: " + ", ".join(f"{ms(t[-1])}" for t in times.values()))
    except RuntimeError as err:
        print(f"large service: skipped: {str(err).splitlines()[0]}")
        return
    sizes = [(tmp / f"caddy{n}").stat().st_size / 1e6 for n in range(2)]
    print(table([f"large service: Caddy with its standard modules, {runs} edits each, interleaved", "median",
                 "binary"], [[name, ms(median(t)), f"{size:.0f} MB"] for (name, t), size in zip(times.items(), sizes)]))
    plain, dev = (times[n] for n in names)
    ratio = median([d / p for d, p in zip(dev, plain)])
    print(f"\ndev profile / default flags, median of per-edit ratios: {ratio:.2f} (the dev profile's gain: "
          f"{(1 - ratio) * 100:.0f} %)")


def main() -> int:
    parser = argparse.ArgumentParser(description="save → served: the bare build, hotgo, nodemon, air and reflex.")
    parser.add_argument("--edits", type=int, default=10, metavar="N", help="edits per row and pass (default 10)")
    parser.add_argument("--timeout", type=float, default=60.0, metavar="SECONDS", help="per edit (default 60)")
    parser.add_argument("--tools", type=Path, default=default_tools_dir(), metavar="DIR",
                        help=f"where the peers are installed when missing (default {default_tools_dir()})")
    parser.add_argument("--no-load", dest="load", action="store_false", help="skip the pass under wrk load")
    parser.add_argument("--cold", action=argparse.BooleanOptionalAction, default=True,
                        help="the cold start section (default on)")
    parser.add_argument("--cold-runs", type=int, default=5, metavar="N", help="cold starts per row (default 5)")
    parser.add_argument("--large", action="store_true",
                        help="the large service section (downloads Caddy's modules, ~100 MB, once)")
    parser.add_argument("--large-runs", type=int, default=5, metavar="N", help="builds per flag set (default 5)")
    args = parser.parse_args()
    if min(args.edits, args.cold_runs, args.large_runs) < 1:
        parser.error("--edits, --cold-runs and --large-runs must be at least 1")

    def interrupted(signum: int, frame: Optional[FrameType]) -> None:
        raise KeyboardInterrupt  # so that every `finally` stops what it started

    signal.signal(signal.SIGTERM, interrupted)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # even when started where SIGINT is ignored (`&`)
    wait_for_sample()
    log(f"peers: installed into {args.tools} when missing")
    tools = peers(args.tools)
    load = args.load and wrk_available()
    goflags = subprocess.run(["go", "env", "GOFLAGS"], capture_output=True, text=True, check=False).stdout.strip()
    print(f"{go_version()}, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} at start, "
          f"go env GOFLAGS={goflags!r}" + (" (every row builds with it: the plain rows are not Go's defaults; "
                                           "`go env -u GOFLAGS` or GOFLAGS=... to change it)" if goflags else ""))
    print("tools: " + ", ".join(f"{t.name} {t.version}" if t.path else f"{t.name}: {t.why}" for t in tools.values())
          + (f", wrk {wrk_version()}" if wrk_available() else ", wrk: not on PATH (the pass under load is skipped)"))

    tmp = Path(tempfile.mkdtemp(prefix="hotgo-bench-peers-"))
    started = time.monotonic()
    closers: List[Callable[[], None]] = []
    nonce = f"{os.getpid()}-{int(time.time())}"
    try:
        def copy(name: str) -> Path:
            project = copy_sample(tmp / name)
            git_repository(project.parent.parent)
            return project

        hotgo_port: List[int] = []  # hotgo dev's service: the build rows' prober (and wrk) hit it
        rows = [build_row("plain `go build` (default flags)", copy("plain"), [], tmp / "plain.bin",
                          lambda: hotgo_port[0], args.timeout),
                build_row(f"same-flag `go build {' '.join(DEV_FLAGS)}`", copy("same"), DEV_FLAGS, tmp / "same.bin",
                          lambda: hotgo_port[0], args.timeout)]
        for profile in ("dev", "plain"):
            project, port = copy(f"hotgo-{profile}"), free_port()
            log(f"starting hotgo --profile {profile} on 127.0.0.1:{port}")
            hotgo = Hotgo(project, port, "--profile", profile)
            closers.append(hotgo.close)
            hotgo.wait_summary(1, timeout=300)
            hotgo_port.append(port)
            rows.append(served_row(f"hotgo `--profile {profile}`", project, port, args.timeout, hotgo, profile))
        for name in ("nodemon", "air", "reflex"):
            rows.append(peer_row(tools[name], copy(name), free_port(), args.timeout, closers))

        for loaded in (False, True) if load else (False,):
            measure(rows, args.edits, loaded, nonce)
        for close in reversed(closers):
            close()
        closers.clear()
        print(f"\nsave → new version served, samples/api, {args.edits} edits per row and pass, interleaved; one run "
              f"of {time.monotonic() - started:.0f} s, load average {os.getloadavg()[0]:.2f} at its end")
        for loaded in (False, True):
            if loaded and not load:
                print("\nunder wrk load: skipped (" + ("--no-load)" if not args.load else "no wrk on PATH)"))
                continue
            print(f"\n{'under wrk -t1 -c16 load (127.0.0.1, one wrk per edit)' if loaded else 'no load'}:\n")
            report(rows, loaded)
            print()
            report_steps(rows, loaded)
        if args.cold:
            print()
            cold_start(tmp, args.cold_runs, args.timeout)
        if args.large:
            print()
            large_service(tmp, args.large_runs)
    finally:
        for close in reversed(closers):
            close()
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
