"""Watch a big tree: start time, RSS, idle CPU, save→event latency, inotify watches (issue 3).

    python bench/watch_tree.py [--dirs 10000] [--files-per-dir 10] [--node-modules 20000]

Builds a copy of samples/api with a tree of DIRS directories x FILES files (non-Go, like assets)
next to the Go code, runs `hotgo run` on it (with and without a top-level node_modules of
NODE_MODULES directories), and times the Watcher class directly for the save→event latency.
Progress goes to stderr, the table to stdout. Linux (inotify watch counts come from /proc).
"""

from __future__ import annotations

import argparse
import io
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import REPO, log, wait_for
from harness import kill_tree, make_tree

from hotgo.log import Log
from hotgo.settings.schema import DEFAULT_EXCLUDE, DEFAULT_INCLUDE
from hotgo.watch.change_set import ChangeSet
from hotgo.watch.filters import PathFilter
from hotgo.watch.observers import inotify_watch_count
from hotgo.watch.watcher import Watcher

WATCHING = re.compile(r"watching (\d+) files in (\d+) directories \((\d+) inotify watches\) in ([\d.]+)s")


def project(tmp: Path, dirs: int, files_per_dir: int) -> Path:
    target = tmp / "samples" / "api"
    shutil.copytree(REPO / "samples" / "api", target, ignore=shutil.ignore_patterns(".hotgo"))
    began = time.monotonic()
    make_tree(target / "assets", dirs, files_per_dir)
    log(f"tree of {dirs} dirs x {files_per_dir} files in {time.monotonic() - began:.1f}s")
    return target


def run_hotgo(root: Path, idle_seconds: float) -> Dict[str, float]:
    """Start hotgo, read its watching line, RSS, idle CPU and inotify watches; stop it."""
    env = {**os.environ, "NO_COLOR": "1", "PYTHONUNBUFFERED": "1"}
    began = time.monotonic()
    proc = subprocess.Popen([sys.executable, "-m", "hotgo", "run", "./cmd/api", "--listen", "127.0.0.1:0"],
                            cwd=root, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: List[str] = []
    reader = threading.Thread(target=lambda: lines.extend(iter(proc.stdout.readline, "")) if proc.stdout else None,
                              daemon=True)
    reader.start()
    try:
        match = wait_for(lambda: next((m for m in map(WATCHING.search, list(lines)) if m), None), 60, "watching")
        assert isinstance(match, re.Match)
        ready = time.monotonic() - began  # includes Python start and `go list`
        wait_for(lambda: any("serving" in line for line in list(lines)), 120, "generation 1 serving")
        hotgo = psutil.Process(proc.pid)
        time.sleep(1.0)  # let the first build's aftermath settle before measuring idle
        cpu_before = hotgo.cpu_times()
        t0 = time.monotonic()
        time.sleep(idle_seconds)
        cpu_after = hotgo.cpu_times()
        busy = (cpu_after.user - cpu_before.user) + (cpu_after.system - cpu_before.system)
        return {
            "start_to_watching": ready,
            "watch_setup": float(match.group(4)),
            "files": float(match.group(1)),
            "dirs": float(match.group(2)),
            "watches": float(inotify_watch_count(proc.pid) or -1),
            "rss_mb": hotgo.memory_info().rss / 2**20,
            "idle_cpu_pct": 100 * busy / (time.monotonic() - t0),
            "threads": float(hotgo.num_threads()),
        }
    finally:
        kill_tree(proc.pid)
        proc.wait(10)


def save_latency(root: Path, saves: int) -> Tuple[float, float]:
    """Median and max time from a write of a .go file to the Watcher's first event for it (settle excluded)."""
    seen = threading.Event()
    first_event: List[float] = []
    watcher = Watcher([PathFilter(root, DEFAULT_INCLUDE, DEFAULT_EXCLUDE)], 0.0, 2.0, False,
                      lambda change: None, Log(io.StringIO()))
    target = root / "cmd" / "api" / "main.go"
    real_record = watcher.record

    def record(event: object) -> None:
        if str(getattr(event, "src_path", "")) == str(target) and not seen.is_set():
            first_event.append(time.monotonic())
            seen.set()
        real_record(event)  # type: ignore[arg-type]

    watcher.record = record  # type: ignore[method-assign]
    watcher.start()
    latencies: List[float] = []
    try:
        text = target.read_text()
        for i in range(saves):
            seen.clear()
            first_event.clear()
            began = time.monotonic()
            target.write_text(text + f"\n// save {i}\n")
            if not seen.wait(5):
                raise TimeoutError(f"save {i} not seen within 5s")
            latencies.append(first_event[0] - began)
            time.sleep(0.05)
    finally:
        watcher.stop()
    return statistics.median(latencies), max(latencies)


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dirs", type=int, default=10_000)
    parser.add_argument("--files-per-dir", type=int, default=10)
    parser.add_argument("--node-modules", type=int, default=20_000)
    parser.add_argument("--idle", type=float, default=10.0, help="seconds of idle CPU measurement")
    parser.add_argument("--saves", type=int, default=20)
    args = parser.parse_args(argv)
    _ = ChangeSet  # the type the Watcher hands out; the latency probe stops before settling
    with tempfile.TemporaryDirectory(prefix="hotgo-bench-") as tmp:
        root = project(Path(tmp), args.dirs, args.files_per_dir)
        log("hotgo without node_modules")
        plain = run_hotgo(root, args.idle)
        make_tree(root / "node_modules", args.node_modules, 0)
        log(f"hotgo with node_modules/ of {args.node_modules} dirs")
        with_nm = run_hotgo(root, args.idle)
        log(f"save→event latency over {args.saves} saves")
        median, worst = save_latency(root, args.saves)
    files = int(plain["files"])
    print(f"tree: {args.dirs} dirs x {args.files_per_dir} files next to samples/api "
          f"({files} relevant files, {int(plain['dirs'])} dirs walked)")
    print(f"{'metric':52} {'value':>12} {'target':>10}")
    rows = [
        ("hotgo start → watching ready (s, incl. go list)", f"{plain['start_to_watching']:.2f}", "< 2"),
        ("  of which scan + watch setup (s)", f"{plain['watch_setup']:.2f}", ""),
        ("RSS of hotgo (MB)", f"{plain['rss_mb']:.1f}", ""),
        ("threads of hotgo", f"{int(plain['threads'])}", ""),
        (f"idle CPU over {args.idle:g}s (%)", f"{plain['idle_cpu_pct']:.2f}", "< 1"),
        (f"save→event latency, median of {args.saves} (ms)", f"{median * 1000:.1f}", "< 100"),
        (f"save→event latency, max of {args.saves} (ms)", f"{worst * 1000:.1f}", ""),
        ("inotify watches", f"{int(plain['watches'])}", ""),
        (f"inotify watches with node_modules/ ({args.node_modules} dirs)", f"{int(with_nm['watches'])}",
         "same"),
        ("start → watching with node_modules (s)", f"{with_nm['start_to_watching']:.2f}", "< 2"),
        ("idle CPU with node_modules (%)", f"{with_nm['idle_cpu_pct']:.2f}", "< 1"),
    ]
    for name, value, target in rows:
        print(f"{name:52} {value:>12} {target:>10}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
