"""Save → new version served: hotgo next to a plain `go build` of the same edit.

For each of N edits of the `const version = "..."` line of samples/api:

* plain: the same edit in a separate copy, timed `go build -o <tmp>/x ./cmd/api` (warm build cache),
  once on a quiet machine and once while a thread polls GET / every 2 ms exactly as during the hotgo
  measurement (that poller costs the build ~30 ms of CPU on 2 cores: the fair comparison);
* hotgo: the time from the file write to the first GET / on the shared port (fresh connection,
  polled every 2 ms) that returns the new version.

Prints one table: median and p95 of both, their difference (hotgo's overhead over the build
itself), and the settle / build / start→ready / drain split parsed from hotgo's summary lines.

    python bench/reload_latency.py [--edits 20]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Dict, List

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (
    ForeignCpu,
    Hotgo,
    copy_sample,
    free_port,
    go_build,
    go_version,
    log,
    median,
    ms,
    percentile,
    served_version,
    set_version,
    table,
    wait_for_sample,
    wait_version,
)

TARGET_MS = 100


def build_while_polling(project: Path, out: Path, port: int) -> float:
    """`go build` timed while GET / is polled every 2 ms (fresh connections), as in the hotgo measurement."""
    stop = threading.Event()

    def poll() -> None:
        while not stop.is_set():
            served_version(port)
            stop.wait(0.002)

    poller = threading.Thread(target=poll, daemon=True)
    poller.start()
    try:
        return go_build(project, out)
    finally:
        stop.set()
        poller.join(timeout=5)


def main() -> int:
    parser = argparse.ArgumentParser(
        description="Measure save → new version served with hotgo, next to a plain `go build` of the same edit.")
    parser.add_argument("--edits", type=int, default=20, metavar="N", help="edits measured (default 20)")
    parser.add_argument("--timeout", type=float, default=60.0, metavar="SECONDS",
                        help="give up on one edit after this long (default 60)")
    parser.add_argument("--settle", metavar="DUR", default=None,
                        help="pass --settle DUR to hotgo (default: hotgo's own default, 50ms)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary copies (for debugging)")
    args = parser.parse_args()
    if args.edits < 1:
        parser.error("--edits must be at least 1")

    wait_for_sample()
    load_before = os.getloadavg()[0]
    foreign = 0.0
    tmp = Path(tempfile.mkdtemp(prefix="hotgo-bench-latency-"))
    hotgo = None
    try:
        watched = copy_sample(tmp / "hotgo")
        plain = copy_sample(tmp / "plain")
        out = tmp / "x"
        nonce = f"{os.getpid()}-{int(time.time())}"

        log("warming the build cache (one build, not counted)")
        set_version(plain, f"warm-{nonce}")
        go_build(plain, out)

        port = free_port()
        log(f"starting hotgo on 127.0.0.1:{port}")
        hotgo = Hotgo(watched, port, *(["--settle", args.settle] if args.settle else []))
        hotgo.wait_summary(1, timeout=300)

        cpu = ForeignCpu()
        served: List[float] = []
        builds: List[float] = []
        polled: List[float] = []
        split: Dict[str, List[float]] = {}
        paired_overhead: List[float] = []
        for i in range(1, args.edits + 1):
            set_version(plain, f"p{nonce}-{i}")
            builds.append(go_build(plain, out))
            set_version(plain, f"q{nonce}-{i}")
            polled.append(build_while_polling(plain, out, port))

            version = f"h{nonce}-{i}"
            before = hotgo.latest_generation()
            set_version(watched, version)
            saved = time.monotonic()
            seen = wait_version(port, version, timeout=args.timeout, step=0.002)
            served.append(seen - saved)
            hotgo.wait_summary(before + 1, timeout=args.timeout)
            summary = hotgo.summaries()[hotgo.latest_generation()]  # a superseded build would skip a number
            for key in ("change→serving", "settle", "build", "start→ready", "drain"):
                if key in summary:
                    split.setdefault(key, []).append(summary[key])
            if "build" in summary:
                paired_overhead.append(served[-1] - summary["build"])
            foreign = cpu.share()
            log(f"edit {i}/{args.edits}: hotgo {ms(served[-1])} (its build {ms(summary.get('build', float('nan')))})"
                f", plain go build {ms(builds[-1])}, same while polling {ms(polled[-1])}")
    finally:
        if hotgo is not None:
            hotgo.close()
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)

    n = len(served)
    rows = [
        ["save → new version served (hotgo, poll 2 ms)", ms(median(served)), ms(percentile(served, 95))],
        ["plain `go build -o x ./cmd/api`, quiet", ms(median(builds)), ms(percentile(builds, 95))],
        ["plain `go build`, same 2 ms poller running", ms(median(polled)), ms(percentile(polled, 95))],
        ["hotgo overhead vs quiet build (difference)",
         ms(median(served) - median(builds)), ms(percentile(served, 95) - percentile(builds, 95))],
        ["hotgo overhead vs polled build (difference)",
         ms(median(served) - median(polled)), ms(percentile(served, 95) - percentile(polled, 95))],
        ["save → served minus hotgo's own build (paired)",
         ms(median(paired_overhead)), ms(percentile(paired_overhead, 95))],
    ]
    labels = {
        "change→serving": "hotgo log: change→serving",
        "settle": "hotgo log: settle",
        "build": "hotgo log: build",
        "start→ready": "hotgo log: start→ready (READY=1)",
        "drain": "hotgo log: drain of old generation",
    }
    for key, label in labels.items():
        values = split.get(key, [])
        rows.append([label, ms(median(values)), ms(percentile(values, 95))])

    overhead = (median(served) - median(polled)) * 1000
    quiet_overhead = (median(served) - median(builds)) * 1000
    settle = args.settle or "default (50ms)"
    print(f"reload latency, samples/api, {n} edits, hotgo --settle {settle}, {go_version()}, {os.cpu_count()} CPUs, "
          f"load average at start {load_before:.2f}, other processes' CPU during the run {foreign * 100:.0f} %")
    print()
    print(table([f"measure ({n} edits)", "median", "p95"], rows))
    print()
    verdict = "met" if overhead <= TARGET_MS else "NOT met"
    print(f"target: hotgo overhead <= {TARGET_MS} ms median: {verdict} ({overhead:.0f} ms vs the build under the "
          f"same poller, {quiet_overhead:.0f} ms vs the quiet build)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
