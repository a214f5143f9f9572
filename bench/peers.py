"""Save → new version served: hotgo's build profiles next to a plain `go build` and other reloaders.

For each of N edits of the `const version = "..."` line of samples/api, in turn (so that the
machine's load drifts alike for every row), each row gets the same edit in its own copy:

* plain `go build -o x ./cmd/api` (default flags), and the same with the `dev` profile's flags:
  the build alone, no serving (the floor a reloader that builds with these flags can reach),
  timed while the same poller as below runs against a service, so every row pays its CPU alike;
* hotgo `--profile dev` and `--profile plain`: from the file write to the first GET / (fresh
  connection, polled every 5 ms) that returns the new version;
* nodemon and air with their own defaults (only the watch extension, the build command, the
  service's address and, for nodemon, the stop signal SIGTERM are given), when installed;
  otherwise the row says why it is missing.

Every copy is a git repository with one commit, as a real project is: `go build`'s default VCS
stamping runs git there. Refused connections: the time per reload during which the poller's
connections were refused or reset (a reloader that stops the old process before the new one
listens). Prints one table.

    python bench/peers.py [--edits 20]
"""

from __future__ import annotations

import argparse
import http.client
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, List, Optional, Tuple

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from common import (
    PACKAGE,
    Hotgo,
    copy_sample,
    field_of,
    free_port,
    go_version,
    log,
    median,
    percentile,
    set_version,
    table,
    wait_for,
    wait_for_sample,
)
from harness import Every

from hotgo.settings.profiles import merge

POLL = 0.005


@dataclass
class Row:
    name: str
    edit: Optional[Callable[[str], Tuple[float, float]]] = None  # version -> (seconds, refused seconds)
    missing: str = ""  # why the row has no figures
    times: List[float] = field(default_factory=list)
    refused: List[float] = field(default_factory=list)
    served: bool = True  # False: the build alone


def git_repository(project: Path) -> None:
    """One commit, like the project a developer edits (go build stamps VCS info from it)."""
    root = project.parent.parent
    env = {**os.environ, "GIT_AUTHOR_NAME": "bench", "GIT_AUTHOR_EMAIL": "bench@localhost",
           "GIT_COMMITTER_NAME": "bench", "GIT_COMMITTER_EMAIL": "bench@localhost"}
    for args in (["init", "-q"], ["add", "-A"], ["commit", "-qm", "sample"]):
        subprocess.run(["git", *args], cwd=root, env=env, check=True, capture_output=True, timeout=60)


def timed_build(project: Path, flags: List[str], output: Path) -> float:
    started = time.monotonic()
    done = subprocess.run(["go", "build", *flags, "-o", str(output), PACKAGE], cwd=project,
                          capture_output=True, text=True, timeout=300, check=False)
    took = time.monotonic() - started
    if done.returncode != 0:
        raise RuntimeError(f"go build {' '.join(flags)} failed:\n{done.stderr}")
    return took


def probe(port: int) -> Tuple[str, Optional[str]]:
    """('ok', version), ('refused', None) when nothing listens (or the connection is reset), ('other', None)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
    try:
        conn.request("GET", "/", headers={"Connection": "close"})
        response = conn.getresponse()
        body = response.read().decode(errors="replace")
        return ("ok", field_of(body, "version")) if response.status == 200 else ("other", None)
    except (ConnectionRefusedError, ConnectionResetError):
        return "refused", None
    except (OSError, http.client.HTTPException):
        return "other", None
    finally:
        conn.close()


def save_and_wait(project: Path, port: int, version: str, timeout: float) -> Tuple[float, float]:
    """Write the edit, poll every 2 ms until `version` answers: (save → served, seconds refused)."""
    set_version(project, version)
    saved = time.monotonic()
    refused = 0.0
    last = saved
    while True:
        state, seen = probe(port)
        now = time.monotonic()
        if state == "refused":
            refused += now - last
        if seen == version:
            return now - saved, refused
        if now - saved > timeout:
            raise TimeoutError(f"{version} not served on :{port} within {timeout:g}s")
        last = now
        time.sleep(POLL)


def wait_serving(port: int, timeout: float) -> None:
    wait_for(lambda: probe(port)[0] == "ok", timeout, f"a service on :{port}")


class Reloader:
    """nodemon or air on a copy of the sample; stopped with its whole process group."""

    def __init__(self, argv: List[str], project: Path, port: int, name: str) -> None:
        self.name = name
        env = {k: v for k, v in os.environ.items() if not k.startswith(("LISTEN_", "NOTIFY_SOCKET", "HOTGO_"))}
        self.proc = subprocess.Popen(argv, cwd=project, env=env, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        wait_serving(port, 300)

    def close(self) -> None:
        for sig, wait in ((signal.SIGINT, 10), (signal.SIGKILL, 10)):
            try:
                os.killpg(self.proc.pid, sig)
            except ProcessLookupError:
                break
            try:
                self.proc.wait(wait)
                break
            except subprocess.TimeoutExpired:
                continue
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)  # what it started in its group (the service)
        except ProcessLookupError:
            pass


def paired_ratio(times: List[float], base: List[float]) -> float:
    """Median of time[i] / base[i]: the edits were made in turn, so each pair saw the same machine."""
    return median([a / b for a, b in zip(times, base)])


def split_of(hotgo: Hotgo) -> Dict[str, List[float]]:
    """Each step of hotgo's `generation N serving · ...` lines, over the edits (not the first build)."""
    split: Dict[str, List[float]] = {}
    for generation, summary in hotgo.summaries().items():
        if generation > 1:
            for step, seconds in summary.items():
                split.setdefault(step, []).append(seconds)
    return split


def find_air() -> Optional[str]:
    found = shutil.which("air")
    if found:
        return found
    gopath = subprocess.run(["go", "env", "GOPATH"], capture_output=True, text=True, check=False).stdout.strip()
    candidate = Path(gopath.split(os.pathsep)[0] or Path.home() / "go") / "bin" / "air"
    return str(candidate) if candidate.is_file() else None


def main() -> int:
    parser = argparse.ArgumentParser(description="hotgo's build profiles next to go build, nodemon and air.")
    parser.add_argument("--edits", type=int, default=20, metavar="N", help="edits measured (default 20)")
    parser.add_argument("--timeout", type=float, default=60.0, metavar="SECONDS", help="per edit (default 60)")
    args = parser.parse_args()
    if args.edits < 1:
        parser.error("--edits must be at least 1")

    wait_for_sample()
    tmp = Path(tempfile.mkdtemp(prefix="hotgo-bench-profiles-"))
    started = time.monotonic()
    closers: List[Callable[[], None]] = []
    hotgos: Dict[str, Hotgo] = {}
    rows: List[Row] = []
    nonce = f"{os.getpid()}-{int(time.time())}"
    try:
        def copy(name: str) -> Path:
            project = copy_sample(tmp / name)
            git_repository(project)
            return project

        polled_port: List[int] = []  # a service the build rows' poller hits (hotgo dev's)

        def build_row(name: str, flags: List[str]) -> Row:
            project = copy(name.split()[0])
            out = tmp / f"{name.split()[0]}.bin"

            def edit(version: str) -> Tuple[float, float]:
                set_version(project, version)
                with Every(POLL, lambda: probe(polled_port[0])):
                    return timed_build(project, flags, out), 0.0

            timed_build(project, flags, out)  # warm the cache for these flags (not counted)
            return Row(name, edit, served=False)

        rows.append(build_row("plain `go build` (default flags)", []))
        rows.append(build_row(f"dev-flags `go build {' '.join(merge('dev', []))}`", merge("dev", [])))

        for profile in ("dev", "plain"):
            project = copy(f"hotgo-{profile}")
            port = free_port()
            log(f"starting hotgo --profile {profile} on 127.0.0.1:{port}")
            hotgo = Hotgo(project, port, "--profile", profile)
            closers.append(hotgo.close)
            hotgo.wait_summary(1, timeout=300)
            hotgos[profile] = hotgo
            polled_port.append(port)
            rows.append(Row(f"hotgo `--profile {profile}`",
                            lambda v, p=project, q=port: save_and_wait(p, q, v, args.timeout)))

        nodemon = shutil.which("nodemon")
        if nodemon is None:
            rows.append(Row("nodemon (defaults)", missing="not installed (npm install -g nodemon)"))
        else:
            project = copy("nodemon")
            port = free_port()
            log(f"starting nodemon on 127.0.0.1:{port}")
            command = f"go build -o ./tmp/api {PACKAGE} && exec ./tmp/api -addr 127.0.0.1:{port}"
            # --signal: nodemon stops with SIGUSR2 by default (node's convention), which this service
            # does not take as a stop; SIGTERM is what it drains on.
            reloader = Reloader([nodemon, "--ext", "go", "--signal", "SIGTERM", "--exec", command], project, port,
                                "nodemon")
            closers.append(reloader.close)
            rows.append(Row("nodemon (defaults)", lambda v, p=project, q=port: save_and_wait(p, q, v, args.timeout)))

        air = find_air()
        if air is None:
            rows.append(Row("air (defaults)", missing="not installed (go install github.com/air-verse/air@v1.67.4)"))
        else:
            project = copy("air")
            port = free_port()
            log(f"starting air on 127.0.0.1:{port}")
            reloader = Reloader([air, "--build.cmd", f"go build -o ./tmp/api {PACKAGE}", "--build.bin", "./tmp/api",
                                 "--build.args_bin", f"-addr,127.0.0.1:{port}"], project, port, "air")
            closers.append(reloader.close)
            rows.append(Row("air (defaults)", lambda v, p=project, q=port: save_and_wait(p, q, v, args.timeout)))

        measured = [row for row in rows if row.edit is not None]
        for i in range(1, args.edits + 1):
            shift = i % len(measured)  # each row takes each place in the order as often
            for row in measured[shift:] + measured[:shift]:
                assert row.edit is not None
                took, refused = row.edit(f"e{nonce}-{i}")
                row.times.append(took)
                row.refused.append(refused)
                time.sleep(0.3)  # let the old generation drain before the next row's edit
            log(f"edit {i}/{args.edits}: " + ", ".join(f"{r.name.split()[0]} {r.times[-1] * 1000:.0f} ms"
                                                     for r in rows if r.times))
        splits = {profile: split_of(hotgo) for profile, hotgo in hotgos.items()}
    finally:
        for close in closers:
            close()
        shutil.rmtree(tmp, ignore_errors=True)

    base = rows[0].times
    lines = []
    for row in rows:
        if row.missing:
            lines.append([row.name, "-", "-", "-", "-", f"skipped: {row.missing}"])
            continue
        what = "the build alone" if not row.served else "save → new version served"
        refused = "-" if not row.served else f"{sum(row.refused) / len(row.refused):.2f}"
        lines.append([row.name, f"{median(row.times) * 1000:.0f} ms", f"{percentile(row.times, 95) * 1000:.0f} ms",
                      f"{paired_ratio(row.times, base):.2f}", refused, what])
    print(f"save → new version served, samples/api, {args.edits} edits per row, interleaved; {go_version()}, "
          f"{os.cpu_count()} CPUs, GOFLAGS={os.environ.get('GOFLAGS', '')!r}, one run of "
          f"{time.monotonic() - started:.0f} s")
    print()
    print(table(["row", "median", "p95", "ratio to plain build (median of per-edit ratios)", "s refused per reload",
                 "what"], lines))
    print()
    steps = ["change→serving", "settle", "hash", "→build", "build", "→start", "start→ready", "drain"]
    print(table(["hotgo's own reload summary (median of the edits)", *steps],
                [[f"`--profile {profile}`", *(f"{median(split.get(step, [])) * 1000:.1f} ms" for step in steps)]
                 for profile, split in splits.items()]))
    dev = next(r for r in rows if r.name.startswith("hotgo `--profile dev"))
    plain = next(r for r in rows if r.name.startswith("hotgo `--profile plain"))
    print()
    overhead = median([hotgo - build for hotgo, build in zip(plain.times, base)])
    print(f"hotgo dev / plain go build, median of per-edit ratios: {paired_ratio(dev.times, base):.2f} "
          f"(target <= 0.80); hotgo plain - plain go build, median of per-edit differences: "
          f"{overhead * 1000:.0f} ms (target <= 30 ms)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
