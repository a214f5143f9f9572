"""Requests through the --front door across reloads: how many fail.

Two services, each run by hotgo with `--front`, under wrk GET (`-t1 -c4`) and the tests' Go load
client (tests/fixtures/loadclient: keep-alive GET and POST, nothing retried, every error counted)
at once, both on the front door, and `hey` POSTs too where it is installed (`GOFLAGS= go install
github.com/rakyll/hey@latest`), while the version line is edited `--reloads` times:

* plain, mode none: an ordinary `http.ListenAndServe` (no hotgo helper), stopped before the next
  one starts: the gap is held by the front door;
* tests/fixtures/wild, which takes the shared socket (mode inherit) and drains with `Shutdown(ctx)`.

    python bench/front_reloads.py [--reloads 10]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import List, Optional, Tuple

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from common import WrkLoad, free_port, go_version, log, table, wait_for_sample, wrk_available
from harness import REPO, Hotgo, LoadClient, build_load_client, load_client_service
from harness import set_version as set_version_in


def find_hey() -> Optional[str]:
    found = shutil.which("hey")
    home = Path(os.environ.get("GOPATH", str(Path.home() / "go"))) / "bin" / "hey"
    return found or (str(home) if home.is_file() else None)


class HeyLoad:
    """hey POSTing a fixed body on 2 keep-alive connections until stopped (SIGINT: it prints its report)."""

    def __init__(self, hey: str, port: int) -> None:
        self.proc = subprocess.Popen([hey, "-z", "600s", "-c", "2", "-m", "POST", "-T", "text/plain",
                                      "-d", "x" * 100, f"http://127.0.0.1:{port}/"],
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)

    def stop(self) -> Tuple[int, int, str]:
        """Requests, failed (not 200, or an error), the first error lines."""
        self.proc.send_signal(signal.SIGINT)
        report, _ = self.proc.communicate(timeout=60)
        answered = {int(code): int(n) for code, n in re.findall(r"\[(\d{3})\]\s+(\d+) responses", report)}
        errors = re.findall(r"^\s+\[(\d+)\]\s+(.*)$", report.split("Error distribution:", 1)[1], re.M) \
            if "Error distribution:" in report else []
        failed = sum(n for code, n in answered.items() if code != 200) + sum(int(n) for n, _ in errors)
        return sum(answered.values()) + sum(int(n) for n, _ in errors), failed, "; ".join(e for _, e in errors[:2])


def run(name: str, project: Path, port: int, main: str, args: List[str], reloads: int,
        loadclient: Path, hey: Optional[str]) -> List[str]:
    front = free_port()
    hotgo = Hotgo(["run", ".", "--listen", f"127.0.0.1:{port}", "--front", f"127.0.0.1:{front}", *args], project)
    try:
        hotgo.wait_serving(1, timeout=600)
        client = LoadClient(loadclient, front, clients=4)
        posts = HeyLoad(hey, front) if hey else None
        hey_figures = (0, 0, "")
        try:
            with WrkLoad(front, 600, threads=1, connections=4) as wrk:
                for number in range(2, reloads + 2):
                    set_version_in(project, f"v{number}", main)
                    hotgo.wait_serving(number, timeout=120)
                    client.wait_seen(f"v{number}")
                    log(f"{name}: reload {number - 1} done")
                stats = wrk.stop()
            summary = client.finish()
            if posts is not None:
                hey_figures = posts.stop()
        finally:
            client.close()
            if posts is not None and posts.proc.poll() is None:
                posts.proc.kill()
    finally:
        hotgo.close()
    errors = summary.get("errors") or []
    log(f"{name}: wrk {stats.requests} requests, failed {stats.failed} ({stats.detail()}); loadclient {summary}; "
        f"hey {hey_figures}")
    first = [str(e) for e in errors[:2]] + ([hey_figures[2]] if hey_figures[2] else [])
    return [name, str(reloads), f"{stats.requests:,}", str(stats.failed), f"{summary['requests']:,}",
            str(summary["failures"]), f"{hey_figures[0]:,}" if hey else "-", str(hey_figures[1]) if hey else "-",
            "; ".join(first)]


def main() -> int:
    parser = argparse.ArgumentParser(description="Failed requests through the --front door across reloads.")
    parser.add_argument("--reloads", type=int, default=10)
    args = parser.parse_args()
    if not wrk_available():
        print("wrk is not installed (apt-get install wrk): nothing measured")
        return 1
    wait_for_sample()
    tmp = Path(tempfile.mkdtemp(prefix="hotgo-bench-front-"))
    rows = []
    try:
        loadclient = build_load_client("go", tmp)
        hey = find_hey()
        # The answers the load client reads (version=… bytes=…), from a plain ListenAndServe on its port:
        plain, port = tmp / "plain", free_port()
        plain.mkdir()
        (plain / "go.mod").write_text("module example.com/plain\n\ngo 1.22\n")
        (plain / "main.go").write_text(load_client_service(f"127.0.0.1:{port}"))
        rows.append(run("plain ListenAndServe, mode none", plain, port, "main.go", ["--socket", "none"],
                        args.reloads, loadclient, hey))
        # tests/fixtures/wild takes the shared socket and drains with Shutdown(ctx) on SIGTERM.
        wild = tmp / "wild"
        shutil.copytree(REPO / "tests" / "fixtures" / "wild", wild)
        rows.append(run("Shutdown(ctx) on the shared socket, mode inherit", wild, free_port(), "main.go",
                        ["--socket", "inherit", "--", "-stop", "shutdown"], args.reloads, loadclient, hey))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"through the --front door, {args.reloads} reloads each, wrk -t1 -c4 GET, loadclient -c 4 GET+POST and "
          f"hey -c 2 POST at once; {go_version()}")
    print()
    print(table(["service", "reloads", "wrk requests", "wrk failed", "loadclient requests", "loadclient failed",
                 "hey POSTs", "hey failed", "first errors"], rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
