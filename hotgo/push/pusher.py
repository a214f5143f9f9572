"""Config-only changes: check the files, push them to the serving generation, report the answer.

The anchors: Prometheus and nginx (check, then reload; a bad file never
reaches the service), systemd Type=notify-reload (SIGHUP, then RELOADING=1 …
READY=1, with STATUS=/ERRNO= on failure), configmap-reload (settle, coalesce).
This class owns the push state; the supervisor hands it events and a few callbacks.

Every push ends in one of three outcomes, never a guessed success:
confirmed (READY=1 after RELOADING=1 without an error, a 2xx, the fresh process
of `restart` ready), failed (ERRNO=, an error STATUS= inside the RELOADING=1 …
READY=1 window, RELOADING=1 without READY=1, no answer from a service that
answered before, a non-2xx, the process died) or unconfirmed (sent; the service
gives no answer it could). A service that never spoke sd_notify cannot answer,
so its pushes are unconfirmed at once rather than after ack_timeout.
"""

from __future__ import annotations

import functools
import http.client
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Set, Tuple

from hotgo import platform
from hotgo.choices import Kind
from hotgo.handoff.generation import Generation
from hotgo.handoff.notify import Message
from hotgo.log import Log
from hotgo.push.validate import Verdict, check_file
from hotgo.push.validator_errors import looks_like_error
from hotgo.settings.push_method import PushKind, PushMethod
from hotgo.settings.push_method import parse_push as parse_push  # the supervisor imports it from here

INCOMPLETE_RETRIES = 5  # an empty file is re-checked this many times, a settle apart


class PushOutcome(Kind):
    """How a push ended; never a guessed success."""

    CONFIRMED = "confirmed"  # the service said it took the config
    FAILED = "failed"  # refused by the check or the service, or no answer from one that answers
    UNCONFIRMED = "unconfirmed"  # sent; the service gives no answer it could
    NONE = "none"  # nothing pushed yet


@dataclass
class PushRecord:
    """The last push, as `hotgo status` shows it."""

    when: float = 0.0
    files: List[str] = field(default_factory=list)
    result: PushOutcome = PushOutcome.NONE
    message: str = ""
    generation: int = 0


@dataclass
class _InFlight:
    generation: Generation
    files: List[str]
    started: float
    reloading: bool = False
    status: str = ""  # STATUS= inside the RELOADING=1 … READY=1 window
    errno: str = ""
    fresh: Optional[int] = None  # push = restart: the generation whose readiness confirms it


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
        self._acks_seen: Optional[bool] = None  # learned: does the service answer reloads?
        self._spoke: Set[int] = set()  # generations that sent anything on NOTIFY_SOCKET
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
        flight = _InFlight(serving, files, self._clock())
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
        elif self._acks_seen is False:
            self._finish(flight, PushOutcome.UNCONFIRMED, f"sent {self.method.signal}; the service did not "
                         "answer earlier pushes with RELOADING=1")
        else:
            self._after(self.ack_timeout, lambda: self._ack_timeout(flight))

    def _http(self, flight: _InFlight, url: str) -> None:
        parts = urllib.parse.urlsplit(url)
        path = parts.path or "/"
        if parts.query:
            path += "?" + parts.query
        delay = 0.1
        message = ""
        for _attempt in range(5):
            conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port or 80, timeout=10)
            try:
                conn.request(self.method.method, path, headers={"User-Agent": "hotgo-push", "Connection": "close"})
                response = conn.getresponse()
                body = " ".join(response.read(2000).decode(errors="replace").split())
            except (OSError, http.client.HTTPException) as err:
                message = f"{url}: {err}"
                time.sleep(delay)  # on the push thread only; the service may be between generations
                delay *= 2
                continue
            finally:
                conn.close()
            ok = 200 <= response.status < 300
            self._post(PushAnswered(flight.generation.number, ok, f"HTTP {response.status}: {body}".strip(": ")))
            return
        self._post(PushAnswered(flight.generation.number, False, message))

    def on_http_answer(self, answer: PushAnswered) -> None:
        flight = self._in_flight
        if flight is not None and flight.generation.number == answer.generation:
            self._finish(flight, PushOutcome.CONFIRMED if answer.ok else PushOutcome.FAILED, answer.message)

    def on_notify(self, number: int, message: Message) -> None:
        self._spoke.add(number)
        if message.get("RELOADING") == "1":
            self._acks_seen = True  # even late: the next push waits for the answer
        flight = self._in_flight
        if flight is None or flight.generation.number != number or self.method.kind is not PushKind.SIGNAL:
            return
        if message.get("RELOADING") == "1":
            flight.reloading, flight.status, flight.errno = True, "", ""
        if not flight.reloading:
            return  # a STATUS= before the reload began says nothing about it
        if "STATUS" in message:
            flight.status = message["STATUS"]
        if "ERRNO" in message:
            flight.errno = message["ERRNO"]
        if message.get("READY") == "1":
            if flight.errno and flight.errno != "0":
                self._finish(flight, PushOutcome.FAILED, flight.status or f"ERRNO={flight.errno}")
            elif flight.status and looks_like_error(flight.status):
                self._finish(flight, PushOutcome.FAILED, flight.status)
            else:
                self._finish(flight, PushOutcome.CONFIRMED, flight.status or "RELOADING=1 … READY=1")

    def _ack_timeout(self, flight: _InFlight) -> None:
        if self._in_flight is not flight:
            return
        waited = f"{self.ack_timeout:g}s"
        if flight.reloading:
            self._finish(flight, PushOutcome.FAILED, f"RELOADING=1 but no READY=1 within {waited}")
        elif self._acks_seen:
            self._finish(flight, PushOutcome.FAILED, f"no answer within {waited} (no RELOADING=1; the service "
                         "answered earlier pushes)")
        else:
            self._acks_seen = False
            self._finish(flight, PushOutcome.UNCONFIRMED, f"no RELOADING=1 within {waited}: the service speaks "
                         "sd_notify but does not answer reloads")

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
        self.try_push()

    def _record(self, generation: Generation, files: List[str], result: PushOutcome, message: str) -> None:
        self.last = PushRecord(time.time(), files, result, message, generation.number)

    def generation_gone(self, number: int) -> None:
        flight = self._in_flight
        self._spoke.discard(number)
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
