"""Stopping old generations: the stop signal, the drain timeout, and what each did with its connections."""

from __future__ import annotations

import dataclasses
from typing import Callable, Dict, Optional, Set, Tuple

from hotgo import platform
from hotgo.deadlines import Timer
from hotgo.handoff.advice import cut_hint, held_open_hint
from hotgo.handoff.drain import DrainReport, DrainWatch
from hotgo.handoff.generation import Generation, State, describe_exit
from hotgo.log import Log
from hotgo.loop.events import DrainReported, Event
from hotgo.loop.lineup import Lineup
from hotgo.loop.reload_report import ReloadReports
from hotgo.loop.service import Service
from hotgo.settings.schema import format_duration


class Drains:
    def __init__(self, service: Service, lineup: Lineup, reports: ReloadReports, log: Log,
                 clock: Callable[[], float], after: Callable[[float, Callable[[], None]], Timer],
                 post: Callable[[Event], None]) -> None:
        self._service = service
        self._lineup = lineup
        self._reports = reports
        self._log = log
        self._clock = clock
        self._after = after
        self._post = post
        self._watches: Dict[int, DrainWatch] = {}  # old generation -> its drain watch
        self._announced: Set[int] = set()  # old generations that sent STOPPING=1
        self._exited: Dict[int, Tuple[Generation, float]] = {}  # exited, its drain report not in yet
        self._timeouts: Dict[int, Timer] = {}  # draining generation -> its drain timeout
        self._warned_cut = False

    def stop(self, old: Generation, replaced_by: Optional[int]) -> None:
        """Send `old` the stop signal; kill its group after the drain timeout."""
        settings = self._service.settings
        old.replaced_by = replaced_by
        if replaced_by is not None and self._service.ports and old.pid:
            # Counted before the signal: what it holds now is what its stop may cut.
            number = old.number
            self._watches[number] = DrainWatch(old.pid, self._service.ports,
                                               lambda report: self._post(DrainReported(number, report)))
        stop = platform.stop_description(settings.run_stop_signal)
        self._log.info(f"draining generation {old.number} (pid {old.pid}): {stop}",
                       event="drain", generation=old.number, pid=old.pid)
        if not old.request_stop(settings.run_stop_signal):
            why = platform.stop_failure() or "no reason given"
            self._log.warn(f"generation {old.number}: {stop} not delivered ({why}); it is killed after the "
                           f"drain timeout ({format_duration(settings.run_drain_timeout)})")
        self._timeouts[old.number] = self._after(settings.run_drain_timeout, lambda: self._timed_out(old))

    def _timed_out(self, old: Generation) -> None:
        self._timeouts.pop(old.number, None)
        if old.state is State.STOPPED:
            return
        settings = self._service.settings
        watch = self._watches.get(old.number)
        held = watch.still_open() if watch is not None and watch.known else 0
        why = f" ({held_open_hint(held, watch.http2)})" if watch is not None and held else ""
        self._log.warn(
            f"generation {old.number} still running {format_duration(settings.run_drain_timeout)} "
            f"after {platform.stop_description(settings.run_stop_signal)}{why}: killing its process group",
            event="drain_timeout", generation=old.number, connections_still_open=held,
        )
        old.kill()

    def announced(self, number: int) -> None:
        """STOPPING=1 from a draining generation: it says it closes connections in order. Kept here
        too: the message may be read (Generation.finished delivers what is left) after its watch
        built the report, and the report's advice is worded by it."""
        self._announced.add(number)
        watch = self._watches.get(number)
        if watch is not None:
            watch.announced()

    def gone(self, number: int) -> None:
        """A generation exited: its drain timeout, if it was draining, is over (and lets go of it)."""
        timeout = self._timeouts.pop(number, None)
        if timeout is not None:
            timeout.cancel()
        if number not in self._watches:  # no report to word: nothing to keep for it
            self._announced.discard(number)

    def exited(self, old: Generation) -> None:
        """A replaced generation exited: report now, or once its drain watch has settled."""
        seconds = self._clock() - old.stop_sent
        watch = self._watches.pop(old.number, None)
        if watch is None:
            self._finished(old, seconds, None)
        else:
            self._exited[old.number] = (old, seconds)
            watch.exited()  # its report follows as an event

    def reported(self, number: int, report: DrainReport) -> None:
        exited = self._exited.pop(number, None)
        if number in self._announced:
            self._announced.discard(number)
            report = dataclasses.replace(report, announced=True)
        if exited is not None:
            self._finished(exited[0], exited[1], report)

    def _finished(self, old: Generation, seconds: float, report: Optional[DrainReport]) -> None:
        new = self._lineup.get(old.replaced_by or 0)
        if new is not None and new.state is State.READY:
            self._reports.done(new, (old, seconds), report)
        else:
            how = f"; {report.describe(self._service.settings.run_stop_signal)}" if report is not None else ""
            self._log.info(f"generation {old.number} stopped ({describe_exit(old.exit_code or 0)}) after "
                           f"{format_duration(seconds)}{how}", event="stopped", generation=old.number,
                           **(report.fields() if report is not None else {}))
        if report is not None and report.cut and not self._warned_cut:
            self._warned_cut = True
            self._log.warn(cut_hint(old.number, report), event="cut_connections", generation=old.number)
