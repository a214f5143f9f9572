"""Config-only changes: check the files, push them to the serving generation, report the answer.

The anchors: Prometheus and nginx (check, then reload; a bad file never
reaches the service), systemd Type=notify-reload (SIGHUP, then RELOADING=1 …
READY=1, with STATUS=/ERRNO= on failure), configmap-reload (settle, coalesce).
This class owns the push state; the supervisor hands it events and a few callbacks.

Every push ends in one of three outcomes, never a guessed success:
confirmed (READY=1 after RELOADING=1 without an error, a 2xx, the fresh process
of `restart` ready), failed (ERRNO=, an error STATUS= inside the RELOADING=1 …
READY=1 window, RELOADING=1 without READY=1, no answer from a service that
answered an earlier push in time, a non-2xx, the process died) or unconfirmed (sent;
the service gives no answer it could). A service that never spoke sd_notify cannot answer,
so its pushes are unconfirmed at once rather than after ack_timeout.

Only the push's own generation answers it, and only after the push was sent: what a
service says before (its start-up READY=1, Caddy's own RELOADING=1 … READY=1) tells that it
speaks sd_notify, never that it answers pushes. An answer that comes within ack_timeout
after an unconfirmed report amends it (a second `config_push` event, `amends: true`).
"""

from __future__ import annotations

import functools
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Set, Tuple

from hotgo import platform
from hotgo.handoff.generation import Generation
from hotgo.handoff.notify import Message
from hotgo.log import Log
from hotgo.push.http_push import http_push
from hotgo.push.outcome import PushOutcome, PushRecord
from hotgo.push.reload_answer import ReloadAnswer
from hotgo.push.validate import Verdict, check_file
from hotgo.settings.push_method import PushKind, PushMethod
from hotgo.settings.push_method import parse_push as parse_push  # the supervisor imports it from here

INCOMPLETE_RETRIES = 5  # an empty file is re-checked this many times, a settle apart


@dataclass
class _InFlight:
    generation: Generation
    files: List[str]
    started: float
    answer: ReloadAnswer  # push = signal: what the generation said since the signal
    fresh: Optional[int] = None  # push = restart: the generation whose readiness confirms it


@dataclass
class _LateWait:
    """A signal push reported unconfirmed, while an answer may still amend it."""

    flight: _InFlight
    record: PushRecord  # what `hotgo status` shows of it, replaced only while it is still the last
    until: float  # ack_timeout after the report, or after a late RELOADING=1


class ConfigPusher:
    def __init__(
        self,
        method: PushMethod,
        validate: Optional[List[str]],
        ack_timeout: float,
        min_interval: float,
        settle: float,
        port: Optional[int],
        cwd: Path,
        root: Path,
        log: Log,
        after: Callable[[float, Callable[[], None]], object],
        post: Callable[[ConfigChecked | PushAnswered], None],
        serving: Callable[[], Optional[Generation]],
        busy: Callable[[], bool],
        restart: Callable[[], Optional[int]],
        validate_log: Optional[Path] = None,
        pushed: Optional[Callable[[int], None]] = None,
        clock: Callable[[], float] = time.monotonic,
        send_signal: Callable[[Generation, str], bool] = lambda g, name: (
            g.proc is not None and platform.signal_process(g.proc, name)),
    ) -> None:
        self.method = method
        self.validate = validate
        self.ack_timeout = ack_timeout
        self.min_interval = min_interval
        self.settle = settle
        self.port = port
        self.cwd = cwd
        self.root = root
        self.log = log
        self._after = after
        self._post = post
        self._serving = serving
        self._busy = busy
        self._restart = restart
        self.validate_log = validate_log  # a rejecting validator's whole output
        self._clock = clock  # injected, with send_signal, by the scripted tests
        self._send_signal = send_signal
        self.last = PushRecord()
        # Told the generation number of each push the service did not refuse (live-reloaded pages).
        self.pushed = pushed
        self._to_check: Set[Path] = set()
        self._checking = False
        self._retries: Dict[Path, int] = {}
        self._queued: List[Path] = []  # checked, waiting for the push slot (latest wins)
        self._in_flight: Optional[_InFlight] = None
        self._last_push_at = -1e9
        self._wait_timer = False
        self._spoke: Set[int] = set()  # generations that sent anything on NOTIFY_SOCKET (start-up included)
        self._answered: Set[int] = set()  # generations that answered a push within ack_timeout
        self._unanswered = False  # the last push waited ack_timeout for nothing: later ones are not waited for
        self._late: Optional[_LateWait] = None
        self._told_unconfirmed = False

    def _name(self, path: Path) -> str:
        try:
            return path.relative_to(self.root).as_posix()
        except ValueError:
            return str(path)

    # -- checking --------------------------------------------------------------------
    def changed(self, paths: Sequence[Path]) -> None:
        self._to_check.update(paths)
        self._start_check()

    def _start_check(self) -> None:
        if self._checking or not self._to_check:
            return
        paths = sorted(self._to_check)
        self._to_check.clear()
        self._checking = True
        serving = self._serving()
        binary = serving.binary if serving is not None else None

        def work() -> None:
            verdicts = [(path, check_file(path, self.validate, binary, self.cwd)) for path in paths]
            self._post(ConfigChecked(tuple(verdicts)))

        threading.Thread(target=work, name="hotgo-config-check", daemon=True).start()

    def on_checked(self, verdicts: Sequence[Tuple[Path, Verdict]]) -> None:
        self._checking = False
        good: List[Path] = []
        for path, verdict in verdicts:
            if verdict.incomplete and self._retries.get(path, 0) < INCOMPLETE_RETRIES:
                # A writer may still be busy (zero bytes so far): look again shortly.
                self._retries[path] = self._retries.get(path, 0) + 1
                self._after(self.settle, functools.partial(self.changed, [path]))
                continue
            self._retries.pop(path, None)
            if not verdict.ok:
                self._rejected(path, verdict)
                continue
            if verdict.message:
                self.log.warn(f"config {verdict.message}")
            good.append(path)
        if good:
            self._queued = sorted(set(self._queued) | set(good))
            self.try_push()
        self._start_check()

    def _rejected(self, path: Path, verdict: Verdict) -> None:
        serving = self._serving()
        who = f"generation {serving.number} keeps its current config" if serving else "nothing serving"
        message = verdict.message
        kept = self.validate_log
        if verdict.hidden_lines and kept is not None and _write(kept, verdict.output):
            message += f" ({verdict.hidden_lines} more lines in {self._name(kept)})"
        self.log.error(f"config {message} — not pushed; {who}", event="config_push", result=PushOutcome.FAILED,
                       files=[self._name(path)], output=verdict.output or None)
        self.last = PushRecord(time.time(), [self._name(path)], PushOutcome.FAILED, message,
                               serving.number if serving else 0)

    # -- pushing ---------------------------------------------------------------------
    def try_push(self) -> None:
        """Push what is queued, unless a push or a handoff is under way, or it is too soon."""
        if not self._queued or self._in_flight is not None or self._busy():
            return
        wait = self._last_push_at + self.min_interval - self._clock()
        if wait > 0:
            if not self._wait_timer:
                self._wait_timer = True
                self._after(wait, self._wait_over)
            return
        files, self._queued = self._queued, []
        self._deliver([self._name(p) for p in files])

    def _wait_over(self) -> None:
        self._wait_timer = False
        self.try_push()

    def _deliver(self, files: List[str]) -> None:
        serving = self._serving()
        shown = ", ".join(files)
        if self.method.kind is PushKind.NONE:
            self.log.info(f"config changed ({shown}); push = none: not pushed", event="config_changed", files=files)
            return
        if serving is None:
            self.log.info(f"config changed ({shown}); nothing is serving, the next generation reads it",
                          event="config_changed", files=files)
            return
        self._last_push_at = self._clock()
        self._late = None  # an answer from now on is this push's: an older one can no longer be told apart
        flight = _InFlight(serving, files, self._clock(), ReloadAnswer())
        self._in_flight = flight
        if self.method.kind is PushKind.RESTART:
            self.log.info(f"config changed ({shown}): handing off to a fresh process of the same build",
                          event="config_changed", generation=serving.number, files=files)
            flight.fresh = self._restart()
            if flight.fresh is None:
                self._finish(flight, PushOutcome.FAILED, "could not start a fresh process")
        elif self.method.kind is PushKind.SIGNAL:
            self._signal(flight, shown)
        else:
            url = self.method.url.replace("{port}", str(self.port or 80))
            self.log.info(f"config changed ({shown}): {self.method.method} {url}", event="config_changed",
                          generation=serving.number, files=files)
            threading.Thread(target=self._http, args=(flight, url), name="hotgo-push", daemon=True).start()

    def _signal(self, flight: _InFlight, shown: str) -> None:
        serving = flight.generation
        sent = self._send_signal(serving, self.method.signal)
        if not sent:
            self._finish(flight, PushOutcome.FAILED, f"could not send {self.method.signal} to pid {serving.pid}")
            return
        self.log.info(f"config changed ({shown}): sent {self.method.signal} to generation "
                      f"{serving.number} (pid {serving.pid})", event="config_changed", generation=serving.number,
                      pid=serving.pid, files=flight.files)
        if serving.number not in self._spoke:
            # No READY=1, no STATUS=, nothing: it cannot answer a reload either; waiting is pointless.
            self._finish(flight, PushOutcome.UNCONFIRMED, f"sent {self.method.signal}; the service never "
                         "spoke sd_notify, so it cannot acknowledge")
        elif self._unanswered and serving.number not in self._answered:
            self._finish(flight, PushOutcome.UNCONFIRMED, f"sent {self.method.signal}; the service did not "
                         "answer earlier pushes with RELOADING=1")
        else:
            self._after(self.ack_timeout, lambda: self._ack_timeout(flight))

    def _http(self, flight: _InFlight, url: str) -> None:
        ok, message = http_push(self.method.method, url)
        self._post(PushAnswered(flight.generation.number, ok, message))

    def on_http_answer(self, answer: PushAnswered) -> None:
        flight = self._in_flight
        if flight is not None and flight.generation.number == answer.generation:
            self._finish(flight, PushOutcome.CONFIRMED if answer.ok else PushOutcome.FAILED, answer.message)

    def on_notify(self, number: int, message: Message) -> None:
        self._spoke.add(number)
        if self.method.kind is not PushKind.SIGNAL:
            return
        flight, late = self._in_flight, self._late
        if flight is not None and flight.generation.number == number:
            verdict = flight.answer.hear(message)
            if flight.answer.reloading:
                self._answered.add(number)
                self._unanswered = False
            if verdict is not None:
                self._finish(flight, *verdict)
        elif late is not None and late.flight.generation.number == number:
            self._late_notify(late, message)

    def _ack_timeout(self, flight: _InFlight) -> None:
        if self._in_flight is not flight:
            return
        waited = f"{self.ack_timeout:g}s"
        number = flight.generation.number
        if flight.answer.reloading:
            self._finish(flight, PushOutcome.FAILED, f"RELOADING=1 but no READY=1 within {waited}")
        elif number in self._answered:
            self._finish(flight, PushOutcome.FAILED, f"no answer within {waited} (no RELOADING=1; generation "
                         f"{number} answered earlier pushes)")
        else:
            self._unanswered = True
            self._finish(flight, PushOutcome.UNCONFIRMED, f"no RELOADING=1 within {waited}: the service speaks "
                         "sd_notify but does not answer reloads")

    # -- a late answer ---------------------------------------------------------------
    def _wait_late(self, flight: _InFlight) -> None:
        """After an unconfirmed report: listen on for ack_timeout, an answer then still amends it."""
        late = _LateWait(flight, self.last, self._clock() + self.ack_timeout)
        self._late = late
        self._after(self.ack_timeout, lambda: self._late_over(late))

    def _late_notify(self, late: _LateWait, message: Message) -> None:
        began = late.flight.answer.reloading
        verdict = late.flight.answer.hear(message)
        if late.flight.answer.reloading and not began:
            # It answers, only slowly: the next push waits for its answer again, and the answer gets its
            # ack_timeout from here. Not "answered": silence from it is no failure.
            self._unanswered = False
            late.until = self._clock() + self.ack_timeout
            self._after(self.ack_timeout, lambda: self._late_over(late))
        if verdict is not None:
            self._amend(late, *verdict)

    def _late_over(self, late: _LateWait) -> None:
        if self._late is not late or self._clock() < late.until:
            return  # amended, replaced by a newer push, or given more time by a late RELOADING=1
        self._late = None  # the window is over: an answer from now on is not this push's
        if late.flight.answer.reloading:  # begun late and never finished; otherwise the report stands
            self._amend(late, PushOutcome.FAILED, f"RELOADING=1 but no READY=1 within {self.ack_timeout:g}s")

    def _amend(self, late: _LateWait, result: PushOutcome, message: str) -> None:
        self._late = None
        flight = late.flight
        took = self._clock() - flight.started
        message = (f"{message} (answered {took:.1f}s after the push, once it was reported unconfirmed; "
                   f"ack_timeout is {self.ack_timeout:g}s)")
        if self.last is late.record:  # `hotgo status` shows it until a newer push or refusal replaces it
            self._record(flight.generation, flight.files, result, message)
        say = self.log.ok if result is PushOutcome.CONFIRMED else self.log.error
        say(f"config push to generation {flight.generation.number} ({', '.join(flight.files)}) {result} after all: "
            f"{message}", event="config_push", generation=flight.generation.number, result=result,
            files=flight.files, seconds=round(took, 3), amends=True)

    def generation_ready(self, number: int) -> None:
        flight = self._in_flight
        if flight is not None and flight.fresh == number:
            self._finish(flight, PushOutcome.CONFIRMED, f"fresh process (generation {number}) ready")

    def _finish(self, flight: _InFlight, result: PushOutcome, message: str) -> None:
        self._in_flight = None
        self._record(flight.generation, flight.files, result, message)
        if result is not PushOutcome.FAILED and self.pushed is not None:
            self.pushed(flight.generation.number)
        took = self._clock() - flight.started
        what = f"config push to generation {flight.generation.number} ({', '.join(flight.files)}) {result}"
        line = f"{what}: {message}"
        say = self.log.info
        if result is PushOutcome.CONFIRMED:
            say, line = self.log.ok, f"{line} in {took * 1000:.0f}ms"
        elif result is PushOutcome.FAILED:
            say = self.log.error
        elif not self._told_unconfirmed:
            self._told_unconfirmed = True
            say = self.log.warn
            line += (" — hotgo cannot tell whether the service took it (its own log says). For an answer: "
                     "notify-reload (RELOADING=1 … READY=1) or an http: push; a `validate` command stops bad "
                     "values before the push")
        say(line, event="config_push", generation=flight.generation.number, result=result, files=flight.files,
            seconds=round(took, 3))
        if result is PushOutcome.UNCONFIRMED:
            self._wait_late(flight)
        self.try_push()

    def _record(self, generation: Generation, files: List[str], result: PushOutcome, message: str) -> None:
        self.last = PushRecord(time.time(), files, result, message, generation.number)

    def generation_gone(self, number: int) -> None:
        flight = self._in_flight
        self._spoke.discard(number)
        self._answered.discard(number)
        if self._late is not None and self._late.flight.generation.number == number:
            self._late = None  # nothing more can come; its unconfirmed report stands
        if flight is not None and flight.fresh is not None:
            if flight.fresh == number:
                self._finish(flight, PushOutcome.FAILED,
                             f"the fresh process (generation {number}) exited before it was ready")
            # the old one exiting is the handoff itself (socket mode none stops it first)
        elif flight is not None and flight.generation.number == number:
            self._finish(flight, PushOutcome.FAILED, "the generation exited during the push")


def _write(path: Path, text: str) -> bool:
    try:
        path.write_text(text, encoding="utf-8")
    except OSError:
        return False
    return True


@dataclass(frozen=True)
class ConfigChecked:
    verdicts: Tuple[Tuple[Path, Verdict], ...]


@dataclass(frozen=True)
class PushAnswered:
    generation: int
    ok: bool
    message: str
