"""A day of staging deploys: hotgo's memory, descriptors and threads across 1,000 reloads under load.

hotgo runs samples/api in artifact mode (`hotgo run --binary bin/api`); each reload renames a prebuilt
binary over `bin/api` (two builds alternate: no `go build` per reload), and the next one comes once
this one has settled (its `done` event, every older process exited and reaped). Every `--fault-every`th
reload is a fault instead, the kinds in turn: a binary that exits at start, one that never gets ready
(killed at the ready timeout: 15 s, the default), one that lost its x bit (refused). Load:
`wrk -t2 -c16` (Python keep-alive clients without wrk), restarted for each block of `--every` reloads
so that each row has its own counts. The driver is `tests/soak_driver.py` (tests/e2e/test_soak.py
runs it too).

After each reload hotgo's RSS, open descriptors (/proc/PID/fd) and threads are read. Descriptors and
threads must be back at the values they had before the first reload (one generation serving, as after
every reload), waited for up to `--settle-timeout` once the reload has settled. Target: 0 failed
requests; RSS grows by at most 2 MB after the first 50 reloads; descriptors and threads back at the
same values after every reload.

    python bench/soak.py [--reloads 1000] [--fault-every 25] [--every 100] [--load auto|wrk|python]
                         [--ready-timeout 15s] [--settle-timeout 3] [--samples FILE.csv]
                         [--hotgo-path DIR]   # run another checkout's hotgo (PYTHONPATH=DIR)
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import List, Optional, Sequence

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import LoadStats, PythonLoad, WrkLoad, go_version, log, median, table, wrk_available
from soak_driver import OUTCOME, Sample, Soak, build_binaries, fault_of

RSS_GROWTH_TARGET = 2 * 2**20
RSS_FROM = 50  # reloads of warm-up before the RSS bound starts


def mb(value: float) -> str:
    return f"{value / 2**20:.1f}"


def row(reloads: int, load: Optional[LoadStats], block: Sequence[Sample], total: List[int]) -> List[object]:
    last = block[-1]
    missed = sum(1 for s in block if s.back is False)
    requests = load.requests if load is not None else 0
    failed = load.failed if load is not None else 0
    total[0] += requests
    total[1] += failed
    return [reloads, f"{total[0]:,}", total[1], mb(last.rss), last.fds, last.threads,
            f"{min(s.fds for s in block)}-{max(s.fds for s in block)}",
            f"{min(s.threads for s in block)}-{max(s.threads for s in block)}", missed,
            f"{median([s.seconds for s in block]) * 1000:.0f} ms"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reloads", type=int, default=1000)
    parser.add_argument("--fault-every", type=int, default=25)
    parser.add_argument("--every", type=int, default=100, help="a row every N reloads (and one at 50)")
    parser.add_argument("--ready-timeout", default="15s", help="hotgo's --ready-timeout (the hang fault waits it out)")
    parser.add_argument("--load", choices=("auto", "wrk", "python"), default="auto")
    parser.add_argument("--hotgo-path", type=Path, help="PYTHONPATH for hotgo: another checkout's hotgo")
    parser.add_argument("--settle-timeout", type=float, default=3.0,
                        help="how long a reload may take to bring descriptors and threads back (s)")
    parser.add_argument("--samples", type=Path, help="write every reload's reading to this CSV file")
    parser.add_argument("--max-minutes", type=float, default=150, help="stop early after this long, saying so")
    args = parser.parse_args()

    tool = "wrk" if args.load == "wrk" or (args.load == "auto" and wrk_available()) else "python"
    if args.load == "wrk" and not wrk_available():
        raise SystemExit("wrk is not on PATH (apt-get install wrk), or use --load python")
    if args.load == "auto" and tool == "python":
        log("wrk is not on PATH: 16 Python keep-alive clients instead")
    env = {"PYTHONPATH": str(args.hotgo_path.resolve())} if args.hotgo_path else None
    which = f"hotgo from {args.hotgo_path}" if args.hotgo_path else "hotgo (this checkout)"
    root = Path(tempfile.mkdtemp(prefix="hotgo-soak-"))
    started = time.monotonic()
    deadline = started + args.max_minutes * 60
    rows: List[List[object]] = []
    total = [0, 0]
    try:
        log("building two versions of samples/api ...")
        builds = build_binaries(root / "builds")
        log(f"{which}: {args.reloads} reloads, a fault every {args.fault_every}, load {tool} -c16")
        with Soak(root, builds, ready_timeout=args.ready_timeout, env=env,
                  settle_timeout=args.settle_timeout) as soak:
            first = soak.process.memory_info().rss
            reference = soak.take_reference()
            log(f"before the first reload: fds, threads = {reference}")
            marks = sorted({m for m in range(args.every, args.reloads + 1, args.every)}
                           | ({RSS_FROM} if args.reloads >= RSS_FROM else set()) | {args.reloads})
            begin = 0
            for mark in marks:
                block: List[Sample] = []
                load = (WrkLoad(soak.port, max_seconds=3600, threads=2, connections=16) if tool == "wrk"
                        else PythonLoad(soak.port, max_seconds=3600, clients=16))
                with load:
                    for number in range(begin + 1, mark + 1):
                        block.append(soak.reload(fault_of(number, args.fault_every)))
                        if time.monotonic() > deadline:
                            break
                    stats = load.stop()
                rows.append(row(soak.reloads, stats, block, total))
                log(f"reload {soak.reloads}: {rows[-1]}")
                begin = soak.reloads
                if time.monotonic() > deadline:
                    log(f"stopped after {args.max_minutes:g} minutes, at reload {soak.reloads}")
                    break
            samples = soak.samples
    finally:
        shutil.rmtree(root, ignore_errors=True)

    if args.samples:
        with args.samples.open("w", newline="", encoding="utf-8") as out:
            writer = csv.writer(out)
            writer.writerow([f.name for f in dataclasses.fields(Sample)])
            writer.writerows(dataclasses.astuple(s) for s in samples)
    at = {s.reload: s for s in samples}
    base = at.get(RSS_FROM, samples[0])
    last = samples[-1]
    missed = sum(1 for s in samples if s.back is False)
    unexpected = [s for s in samples if s.outcome != OUTCOME[s.kind]]
    faults = sum(1 for s in samples if s.kind != "good")
    print(f"{which}: {len(samples)} reloads ({faults} faults: exits at start, never ready, not executable), "
          f"load {tool} -t2 -c16; {go_version()}, {os.cpu_count()} CPUs, one run of "
          f"{(time.monotonic() - started) / 60:.0f} min\n")
    if unexpected:
        print("deploys that did not end as expected: " + ", ".join(
            f"reload {s.reload} ({s.kind}): {s.outcome}" for s in unexpected[:10]) + "\n")
    print(table(["reloads", "requests so far", "failed so far", "RSS MB", "fds", "threads", "fds (min-max)",
                 "threads (min-max)", "not back", "reload (median)"], rows))
    print(f"\nRSS: {mb(first)} MB at the start, {mb(base.rss)} MB after reload {base.reload}, {mb(last.rss)} MB "
          f"after reload {last.reload}: {(last.rss - base.rss) / 2**20:+.1f} MB after the first {base.reload} "
          f"(target <= +{mb(RSS_GROWTH_TARGET)} MB), peak {mb(max(s.rss for s in samples))} MB")
    print(f"descriptors and threads before the first reload: {reference[0]} fds, {reference[1]} threads; "
          f"not back after {missed} of {len(samples)} reloads (target 0), longest wait for them "
          f"{max(s.waited for s in samples) * 1000:.0f} ms; failed requests {total[1]} of {total[0]:,} (target 0)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
