"""The orphan reaper reaps what hotgo did not start and never steals the exit status of what it did."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest
from harness import REPO

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="child subreapers are Linux")

# Runs in its own process: becoming a subreaper would change the test runner itself.
SCRIPT = textwrap.dedent("""\
    import os, subprocess, sys, time
    sys.path.insert(0, {root!r})
    from hotgo import platform
    from hotgo.platform import reaper

    reaper.POLL_SECONDS = 0.001  # as eager as it gets: every race is tried
    watch = reaper.OrphanReaper()
    assert watch.start(), "no subreaper"
    env = dict(os.environ)
    codes = []
    for _ in range(150):
        # a generation whose child outlives it (an orphan for hotgo), exiting 3 at once
        proc = platform.spawn(["/bin/sh", "-c", "sleep 0.05 & exit 3"], env, ".")
        codes.append(proc.wait())
        proc.stdout.close()
        platform.release(proc)
        tool = platform.spawn_tool(["/bin/sh", "-c", "exit 4"], env, ".")  # like go build
        codes.append(tool.wait())
        tool.stdout.close()
        codes.append(subprocess.run(["/bin/sh", "-c", "exit 5"]).returncode)  # like go list
    deadline = time.monotonic() + 10
    while reaper.orphans() and time.monotonic() < deadline:
        time.sleep(0.05)
    print(sorted(set(codes)), codes.count(3), codes.count(4), codes.count(5), len(reaper.orphans()), watch.reaped)
""")


def test_own_children_keep_their_exit_status_while_orphans_are_reaped() -> None:
    result = subprocess.run([sys.executable, "-c", SCRIPT.format(root=str(REPO))], capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr
    reaped = result.stdout.split()[-1]
    assert result.stdout.startswith("[3, 4, 5] 150 150 150 0 "), result.stdout  # nothing stolen, nothing left
    assert int(reaped) >= 150, result.stdout  # each sleep (and each watcher shell) was hotgo's to reap
