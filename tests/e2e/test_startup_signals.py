"""SIGINT or SIGTERM at any moment of hotgo's start ends it cleanly (issue 23): exit 0, no traceback,
no process left behind, not even a zombie.

Each run starts `hotgo run` under a small launcher that is a child subreaper (Linux): whatever hotgo
leaves behind (a `go list` still running, the `sleep` of a `go` wrapper script, a zombie) is
re-parented to the launcher, which lists its children once hotgo has exited, reports them, then
kills and reaps them. `go` is such a wrapper here (it sleeps a little, then runs go), so that `go
list` and the first build take long enough to be hit.

The launcher starts hotgo with SIGINT and SIGTERM blocked, and hotgo unblocks them once its handlers
are in place (hotgo/stop_signals.py): the first milliseconds of a Python process, before it has run
a line of hotgo, are the interpreter's own, and a signal there would get Python's default (a
"Fatal Python error" for a SIGINT while `site` is imported). Held, a signal sent at any moment is
hotgo's to handle.
"""

from __future__ import annotations

import os
import platform
import random
import shutil
import signal
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Dict, List, Tuple

import pytest
from harness import Hotgo, wait_for

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the launcher is a Linux subreaper")

RANDOM_RUNS = 24  # a signal at a random moment of the first second
BUILD_RUNS = 8  # a signal at a random moment of the first build (the machine may be slower than a second)
FIRST_SECOND = 1.0
EXIT_WITHIN = 15.0

LAUNCHER = r'''
import ctypes, json, os, signal, subprocess, sys
if ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0) != 0:  # PR_SET_CHILD_SUBREAPER
    sys.exit("the launcher cannot become a subreaper")
held = {signal.SIGINT, signal.SIGTERM}
hotgo = subprocess.Popen(sys.argv[1:], stdin=subprocess.DEVNULL,
                         preexec_fn=lambda: signal.pthread_sigmask(signal.SIG_BLOCK, held))
print(json.dumps({"event": "launched", "hotgo_pid": hotgo.pid}), flush=True)
code = hotgo.wait()

def children():
    found = []
    for task in os.listdir("/proc/self/task"):
        with open(f"/proc/self/task/{task}/children") as handle:
            found += [int(word) for word in handle.read().split()]
    return found

left = []
for pid in children():
    try:
        with open(f"/proc/{pid}/stat") as handle:
            stat = handle.read()
        name, state = stat[stat.index("(") + 1 : stat.rindex(")")], stat[stat.rindex(")") + 2]
    except OSError:
        name, state = "?", "?"
    left.append([pid, name, state])
    try:
        os.kill(pid, signal.SIGKILL)
    except OSError:
        pass
    os.waitpid(pid, 0)
print(json.dumps({"event": "launcher_done", "code": code, "left": left}), flush=True)
'''


@pytest.fixture
def slow_go(tmp_path: Path, go_toolchain: str) -> Dict[str, str]:
    """The environment for a `go` that is a wrapper script: sleep 0.2 s, then the real go (a child of
    the shell while it sleeps, as in the finding)."""
    wrapper = tmp_path / "slowgo"
    wrapper.mkdir()
    script = wrapper / "go"
    script.write_text(f'#!/bin/sh\nsleep 0.2\nexec "{go_toolchain}" "$@"\n')
    script.chmod(0o755)
    return {"PATH": f"{wrapper}{os.pathsep}{os.environ['PATH']}"}


def one_run(project: Path, env: Dict[str, str], sig: signal.Signals, delay: float, after_build: bool
            ) -> Tuple[str, str]:
    """Start, signal after `delay` (from hotgo's exec, or from its `build` event), check; the phase hit."""
    # Without the build kept by the last run, go links anew: a build as long as a first one, to be hit.
    shutil.rmtree(project / ".hotgo" / "bin", ignore_errors=True)
    with Hotgo(["run", "./cmd/api", "--listen", "127.0.0.1:0"], cwd=project, env=env,
               prefix=[sys.executable, "-c", LAUNCHER]) as hotgo:
        pid = hotgo.wait_event("launched", timeout=30)["hotgo_pid"]
        if after_build:
            hotgo.wait_event("build", timeout=60)
        time.sleep(delay)
        phase = next((r["event"] for r in reversed(hotgo.records()) if r["event"] in PHASES), "importing or go list")
        os.kill(pid, sig)
        done = hotgo.wait_event("launcher_done", timeout=EXIT_WITHIN)
        context = f"{sig.name} {delay:.3f}s after {'the build event' if after_build else 'exec'} ({phase}):\n" \
                  f"{hotgo.output}"
        assert done["code"] == 0, context
        assert done["left"] == [], context
        assert "Traceback" not in hotgo.output and "internal error" not in hotgo.output, context
        wait_for(lambda: hotgo.proc.poll() is not None, 10, "the launcher to exit")
        return phase, context


PHASES = ("start_hotgo", "watching", "build", "built", "start", "ready", "done")


def test_a_stop_signal_at_any_moment_of_the_start_ends_hotgo_cleanly(api_project: Path,
                                                                     slow_go: Dict[str, str]) -> None:
    seed = int(os.environ.get("HOTGO_SIGNAL_SEED", random.randrange(1 << 30)))
    chance = random.Random(seed)
    phases: Counter[str] = Counter()
    started = time.monotonic()
    runs: List[Tuple[bool, float]] = [(False, chance.uniform(0, FIRST_SECOND)) for _ in range(RANDOM_RUNS)]
    runs += [(True, chance.uniform(0, 0.3)) for _ in range(BUILD_RUNS)]
    for after_build, delay in runs:
        sig = chance.choice([signal.SIGINT, signal.SIGTERM])
        try:
            phase, _ = one_run(api_project, slow_go, sig, delay, after_build)
        except AssertionError as err:
            raise AssertionError(f"(HOTGO_SIGNAL_SEED={seed}) {err}") from None
        phases[phase] += 1
    print(f"\n{len(runs)} runs in {time.monotonic() - started:.0f}s (HOTGO_SIGNAL_SEED={seed}); "
          f"signalled during: {dict(phases)}")
    assert phases["build"] >= 1, phases  # the first build was hit at least once


TGKILL = {"x86_64": 234, "aarch64": 131}.get(platform.machine())  # the syscall's number: no stdlib wrapper


@pytest.mark.skipif(TGKILL is None, reason="tgkill's number on this machine is not known here")
def test_a_stop_signal_the_os_gives_to_another_thread_stops_hotgo_at_once(api_project: Path, tmp_path: Path,
                                                                            go_toolchain: str) -> None:
    """The OS gives a process's signal to any of its threads that does not block it. Python runs the
    handler on the main thread, the loop's, which sleeps until its next event: during a long first
    build (here `go build` sleeps a minute) that is the build's end. Whichever thread is given the
    signal, hotgo stops at once. (While serving, a timer wakes the loop every second anyway.)"""
    import ctypes

    wrapper = tmp_path / "slowbuild"
    wrapper.mkdir()
    (wrapper / "go").write_text(f'#!/bin/sh\n[ "$1" = build ] && sleep 60\nexec "{go_toolchain}" "$@"\n')
    (wrapper / "go").chmod(0o755)
    env = {"PATH": f"{wrapper}{os.pathsep}{os.environ['PATH']}"}
    with Hotgo(["run", "./cmd/api", "--listen", "127.0.0.1:0"], cwd=api_project, env=env) as hotgo:
        hotgo.wait_event("build", timeout=60)
        pid = hotgo.proc.pid
        others = sorted(int(t) for t in os.listdir(f"/proc/{pid}/task") if int(t) != pid)
        assert others, "hotgo runs threads besides the main one"
        libc = ctypes.CDLL(None, use_errno=True)
        assert libc.syscall(TGKILL, pid, others[0], int(signal.SIGTERM)) == 0, ctypes.get_errno()
        assert hotgo.wait_exit(10, f"SIGTERM to its thread {others[0]}") == 0, hotgo.transcript()
        assert hotgo.events("stopping"), hotgo.transcript()
