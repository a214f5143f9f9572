"""What the `--browser` proxy and the `--front` door cost a keep-alive client, against the service direct.

hotgo runs samples/api with `--browser` and `--front`; wrk (`-t1 --latency`, keep-alive connections, bounded in
time, 127.0.0.1 only) measures, in turn, the service's port, the proxy's and the front door's, with 1 and with 16
connections: median latency and requests per second. Prints one table and the two targets the
front door is held to (issue 21), for each: at most ~1 ms added at the median, and at least half the
direct throughput at 16 connections.

    python bench/proxy_cost.py [--seconds 5]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import sys
import tempfile
from pathlib import Path
from typing import List, Tuple

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import Hotgo, WrkLoad, copy_sample, free_port, go_version, log, table, wait_for_sample, wrk_available


def latency_ms(raw: str, percentile: str = "50%") -> float:
    """wrk --latency's `50%  712.00us` line, in milliseconds."""
    found = re.search(rf"^\s*{re.escape(percentile)}\s+([\d.]+)(us|ms|s)\s*$", raw, re.M)
    if not found:
        raise RuntimeError(f"no {percentile} latency in wrk's output:\n{raw}")
    return float(found.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[found.group(2)]


def measure(port: int, connections: int, seconds: float) -> Tuple[float, float]:
    stats = WrkLoad(port, seconds, threads=1, connections=connections)
    with stats:
        done = stats.wait()
    return latency_ms(done.raw), done.rps


def main() -> int:
    parser = argparse.ArgumentParser(
        description="The --browser proxy's and the --front door's cost per request, against direct.")
    parser.add_argument("--seconds", type=float, default=5.0, help="wrk's duration per row (default 5)")
    args = parser.parse_args()
    if not wrk_available():
        print("wrk is not installed (apt-get install wrk): nothing measured")
        return 1
    wait_for_sample()
    tmp = Path(tempfile.mkdtemp(prefix="hotgo-bench-proxy-"))
    hotgo = None
    rows: List[List[str]] = []
    figures = {}
    try:
        project = copy_sample(tmp)
        port, browser, front = free_port(), free_port(), free_port()
        log(f"starting hotgo on 127.0.0.1:{port} with --browser 127.0.0.1:{browser} --front 127.0.0.1:{front}")
        hotgo = Hotgo(project, port, "--browser", f"127.0.0.1:{browser}", "--front", f"127.0.0.1:{front}")
        hotgo.wait_summary(1, timeout=300)
        for connections in (1, 16):
            for name, target in (("direct", port), ("through --browser", browser), ("through --front", front)):
                latency, rps = measure(target, connections, args.seconds)
                figures[(name, connections)] = (latency, rps)
                log(f"{name}, {connections} connection(s): median {latency:.3f} ms, {rps:,.0f} requests/s")
                rows.append([name, str(connections), f"{latency:.3f} ms", f"{rps:,.0f}"])
    finally:
        if hotgo is not None:
            hotgo.close()
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"the --browser proxy and the --front door against direct, samples/api GET /, wrk -t1 --latency, "
          f"{args.seconds:g} s per row; "
          f"{go_version()}, {os.cpu_count()} CPUs")
    print()
    print(table(["to", "keep-alive connections", "median latency", "requests/s"], rows))
    print()
    for name in ("through --browser", "through --front"):
        added = figures[(name, 1)][0] - figures[("direct", 1)][0]
        share = figures[(name, 16)][1] / figures[("direct", 16)][1]
        latency_verdict = "met" if added <= 1 else "NOT met"
        throughput_verdict = "met" if share >= 0.5 else "NOT met"
        print(f"{name}: added at the median on one connection: {added:.3f} ms (target <= ~1 ms: "
              f"{latency_verdict}); throughput at 16 connections: {share:.0%} of direct (target >= 50 %: "
              f"{throughput_verdict})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
