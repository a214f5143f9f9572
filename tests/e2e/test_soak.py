"""Flat over a day, in short (issue 23): deploy after deploy under load, hotgo keeps nothing per reload.

The long run, 1,000 reloads under wrk, is `bench/soak.py` (docs/benchmarks.md); both drive
`tests/soak_driver.py`: artifact mode, prebuilt binaries renamed in, a fault now and then.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from harness import Load, kill_processes_under
from soak_driver import OUTCOME, Soak, build_binaries, fault_of

from hotgo import platform

RELOADS = 40  # ~0.7 s each: the artifact poll and settle (0.5 s), the handoff, the drain report's tail
FAULT_EVERY = 13  # one of each kind: exits at start, never ready (5 s), not executable
WARM = 15  # reloads before RSS is compared
RSS_BOUND = 2 * 2**20


@pytest.mark.skipif(not platform.CAPABILITIES.fd_inheritance, reason="POSIX: shell-script faults, descriptors")
def test_descriptors_and_threads_come_back_after_every_reload_and_rss_stays_flat(
        tmp_path: Path, go_toolchain: str) -> None:
    builds = build_binaries(tmp_path / "builds")
    try:
        with Soak(tmp_path, builds, ready_timeout="5s", settle_timeout=2.0) as soak:
            fds, threads = soak.take_reference()
            with Load(soak.port, clients=4, max_seconds=180) as load:
                samples = [soak.reload(fault_of(number, FAULT_EVERY)) for number in range(1, RELOADS + 1)]
                outcome = load.stop()
    finally:
        kill_processes_under(tmp_path)
    assert [(s.reload, s.outcome) for s in samples if s.outcome != OUTCOME[s.kind]] == []
    assert {s.kind for s in samples} == {"good", "crash", "hang", "noexec"}
    assert outcome.failures == [] and set(outcome.statuses) == {200}, (outcome.failures[:3], outcome.statuses)
    not_back = [(s.reload, s.kind, s.fds, s.threads) for s in samples if not s.back]
    assert not_back == [], f"before the first reload {fds} fds and {threads} threads; after these reloads not"
    warm = samples[WARM - 1].rss
    grown = [(s.reload, round((s.rss - warm) / 2**20, 1)) for s in samples[WARM:] if s.rss - warm > RSS_BOUND]
    assert grown == [], f"RSS grew by more than 2 MB after reload {WARM} ({warm / 2**20:.1f} MB): {grown}"
