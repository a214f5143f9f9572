"""What the `--browser` proxy and the `--front` door cost a keep-alive client, against the service direct.

hotgo runs samples/api with `--browser` and `--front`; wrk (`-t1 --latency`, keep-alive connections, bounded in
time, 127.0.0.1 only) measures, in turn, the service's port, the front door's, the same front door binary run
again with `-relays` (a goroutine per connection, no event loop: what it was before the loop), and the `--browser`
proxy's, with 1 and with 16 connections: median latency and requests per second. Prints one table and
the two targets the front door is held to (issue 21), for each: at most ~1 ms added at the median, and at
least half the direct throughput at 16 connections.

Every row is measured in each of `--rounds` rounds (direct and the proxies one after the other),
and the table gives medians: the machine's other work changes from minute to minute.

    python bench/proxy_cost.py [--seconds 5] [--rounds 3]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Dict, List, Optional, Tuple

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (
    Hotgo,
    WrkLoad,
    copy_sample,
    free_port,
    go_version,
    log,
    median,
    table,
    wait_for_sample,
    wrk_available,
)


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


def relays_only_front(project: Path, service_port: int) -> Tuple[subprocess.Popen[str], int]:
    """The front door hotgo built, started again in front of the service with `-relays`; its port."""
    binary = next((project / ".hotgo" / "front").glob("front-*"))
    proc = subprocess.Popen([str(binary), "-listen", "127.0.0.1:0", "-upstream", f"127.0.0.1:{service_port}",
                             "-relays"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    line = proc.stdout.readline()  # "listening 127.0.0.1:PORT"; stdin stays open: closing it ends the proxy
    found = re.search(r":(\d+)\s*$", line)
    if not found:
        proc.kill()
        raise RuntimeError(f"the front door did not say where it listens: {line!r}")
    return proc, int(found.group(1))


def main() -> int:
    parser = argparse.ArgumentParser(
        description="The --browser proxy's and the --front door's cost per request, against direct.")
    parser.add_argument("--seconds", type=float, default=5.0, help="wrk's duration per row (default 5)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds over every row (default 3)")
    args = parser.parse_args()
    if not wrk_available():
        print("wrk is not installed (apt-get install wrk): nothing measured")
        return 1
    wait_for_sample()
    tmp = Path(tempfile.mkdtemp(prefix="hotgo-bench-proxy-"))
    hotgo = None
    rows: List[List[str]] = []
    figures: Dict[Tuple[str, int], List[Tuple[float, float]]] = {}  # (to, connections) -> per round
    targets = ("direct", "through --front", "through --front -relays", "through --browser")
    relays: Optional[subprocess.Popen[str]] = None
    try:
        project = copy_sample(tmp)
        port, browser, front = free_port(), free_port(), free_port()
        log(f"starting hotgo on 127.0.0.1:{port} with --browser 127.0.0.1:{browser} --front 127.0.0.1:{front}")
        hotgo = Hotgo(project, port, "--browser", f"127.0.0.1:{browser}", "--front", f"127.0.0.1:{front}")
        hotgo.wait_summary(1, timeout=300)
        relays, relays_port = relays_only_front(project, port)
        # Rounds, each measuring every target in turn: what else runs on the machine changes from one
        # minute to the next, so direct and front are compared within a round, then over rounds.
        for round_number in range(1, args.rounds + 1):
            for connections in (1, 16):
                for name, target in zip(targets, (port, front, relays_port, browser)):
                    latency, rps = measure(target, connections, args.seconds)
                    figures.setdefault((name, connections), []).append((latency, rps))
                    log(f"round {round_number}: {name}, {connections} connection(s): median {latency:.3f} ms, "
                        f"{rps:,.0f} requests/s")
    finally:
        if relays is not None:
            relays.kill()
            relays.wait()
        if hotgo is not None:
            hotgo.close()
        shutil.rmtree(tmp, ignore_errors=True)
    for connections in (1, 16):
        for name in targets:
            runs = figures[(name, connections)]
            rows.append([name, str(connections), f"{median([r[0] for r in runs]):.3f} ms",
                         f"{median([r[1] for r in runs]):,.0f}",
                         ", ".join(f"{r[1]:,.0f}" for r in runs)])
    print(f"the --front door (event loop, and -relays) and the --browser proxy against direct, samples/api GET /, "
          f"wrk -t1 --latency, {args.seconds:g} s per row, {args.rounds} rounds (medians); {go_version()}, "
          f"{os.cpu_count()} CPUs")
    print()
    print(table(["to", "keep-alive connections", "median latency", "requests/s", "requests/s by round"], rows))
    print()
    for name in targets[1:]:
        added = median([f[0] - d[0] for f, d in zip(figures[(name, 1)], figures[("direct", 1)])])
        share = median([f[1] / d[1] for f, d in zip(figures[(name, 16)], figures[("direct", 16)])])
        latency_verdict = "met" if added <= 1 else "NOT met"
        throughput_verdict = "met" if share >= 0.5 else "NOT met"
        print(f"{name}: added at the median on one connection: {added:.3f} ms (target <= ~1 ms: "
              f"{latency_verdict}); throughput at 16 connections: {share:.0%} of direct (target >= 50 %: "
              f"{throughput_verdict}) (medians over the rounds of the differences and shares within each)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
