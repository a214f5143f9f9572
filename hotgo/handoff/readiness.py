"""When does a new generation count as ready? (docs/architecture.md, "Readiness")

`READY=1` on NOTIFY_SOCKET is exact. An HTTP probe through the shared port may
be answered by the old generation, so it only counts when the answer carries
the new generation's `X-Hotgo-Generation` header (the Go helper adds it) — or,
without that header, as a documented heuristic. `auto` waits for READY=1 from
services that have shown they speak sd_notify. Until then, on Linux, hotgo
watches the new process from outside (hotgo.platform.linux_proc): in mode
`inherit` it is ready once the shared listener is in its epoll set or a thread
blocks in accept() on it; in `reuseport`/`none` once it listens on the port.
The same watch notices a service that listens on a port of its own instead of
taking the shared socket. Where nothing can be observed (other systems, a
service with no port), a process still alive after a short delay counts as
ready: a heuristic, said so in the log.

Windows has no NOTIFY_SOCKET in hotgo, so there `auto` with a listen address is
an HTTP probe of `/` on the first one: any answer (any status: `/` need not be a
route) that carries the new generation's header counts. Windows does not say
which of two SO_REUSEADDR listeners gets a connection; if the probe keeps
reaching the old generation (or an answer cannot be told apart), the new
process counts as ready once it has been seen listening on the port for
LISTEN_GRACE (hotgo.platform.listeners) — a heuristic, said so; if even that
cannot be seen, once it has been alive for AUTO_DELAY.
"""

from __future__ import annotations

import http.client
import threading
import time
import urllib.parse
from dataclasses import dataclass
from typing import Callable, Dict, FrozenSet, List, Optional, Tuple

from hotgo import platform
from hotgo.choices import Kind
from hotgo.deadlines import Timer
from hotgo.platform import linux_proc, listeners
from hotgo.platform.listeners import listens_on
from hotgo.settings.schema import format_duration, parse_duration

AUTO_DELAY = 0.5  # heuristic wait for services that never sent READY=1
LISTEN_GRACE = 0.3  # a listening new process the probe cannot reach: this long before it counts
PROBE_INTERVAL = 0.05
OBSERVE_INTERVAL = 0.005  # /proc reads cost ~0.1 ms: a new process is seen accepting within ~5 ms
OWN_PORT_GRACE = 1.0  # listening elsewhere this long without taking the shared socket: it never will
# Listening on a port of its own and not (yet) accepting on the shared socket this long: ready. A
# service that opens a metrics port first takes the shared socket within this; the own-port
# warning waits for OWN_PORT_GRACE all the same.
OWN_READY_WAIT = 0.1
GENERATION_HEADER = "X-Hotgo-Generation"


class ReadyKind(Kind):
    AUTO = "auto"  # READY=1 from services that speak sd_notify; else observed, else a heuristic
    NOTIFY = "notify"  # READY=1 only
    HTTP = "http"  # a probe whose answer names the new generation
    DELAY = "delay"  # alive after a delay


@dataclass(frozen=True)
class ReadyPlan:
    kind: ReadyKind
    path: str = ""
    delay: float = 0.0
    auto: bool = False  # `auto` turned into an HTTP probe (no NOTIFY_SOCKET on this OS)


def plan(spec: str, listening: bool = False) -> ReadyPlan:
    """The readiness plan for a `--ready` value; `listening`: hotgo has a listen address to probe."""
    if spec == "auto" and listening and not platform.CAPABILITIES.notify_socket:
        return ReadyPlan(ReadyKind.HTTP, path="/", auto=True)
    if spec.startswith("http:"):
        return ReadyPlan(ReadyKind.HTTP, path=spec[5:])
    if spec.startswith("delay:"):
        return ReadyPlan(ReadyKind.DELAY, delay=parse_duration(spec[6:]))
    return ReadyPlan(ReadyKind(spec))


class HttpProbe:
    """Polls a URL until this generation answers; gives up when told to stop.

    Strict (`http:/path`): a 2xx carrying this generation's header, or a 2xx without
    the header (heuristic). `auto`: any status carrying this generation's header.
    With `pid`, a process seen listening on the port for LISTEN_GRACE counts too while
    the probe only reaches other generations (auto: or answers it cannot tell apart).
    """

    def __init__(self, url: str, generation: int, on_ready: Callable[[str], None], *,
                 auto: bool = False, pid: int = 0) -> None:
        self.url = url
        self.generation = generation
        self.on_ready = on_ready
        self.auto = auto
        self.pid = pid
        self.started = time.monotonic()
        self._stop = threading.Event()
        threading.Thread(target=self._run, name=f"hotgo-probe-{generation}", daemon=True).start()

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        parts = urllib.parse.urlsplit(self.url)
        host, port, path = parts.hostname or "127.0.0.1", parts.port or 80, parts.path or "/"
        listening_since: Optional[float] = None
        while not self._stop.is_set():
            verdict, unclear = self._probe_once(host, port, path)
            if not verdict and unclear:
                verdict, listening_since = self._fallback(unclear, port, listening_since)
            if verdict:
                if not self._stop.is_set():
                    self.on_ready(verdict)
                return
            self._stop.wait(PROBE_INTERVAL)

    def _fallback(self, unclear: str, port: int, since: Optional[float]) -> Tuple[str, Optional[float]]:
        """Something answered that does not show this generation is serving: look at its sockets."""
        now = time.monotonic()
        listening = listens_on(self.pid, port) if self.pid else None
        if listening:
            since = now if since is None else since
            if now - since >= LISTEN_GRACE:
                return (f"{unclear}; generation {self.generation} listens on port {port} (heuristic)", since)
            return "", since
        if listening is None and self.auto and now - self.started >= AUTO_DELAY:
            return f"{unclear}; still running after {AUTO_DELAY * 1000:.0f}ms (heuristic)", None
        return "", None

    def _probe_once(self, host: str, port: int, path: str) -> Tuple[str, str]:
        """(why it is ready, "") or ("", what answered instead) or ("", "") when nothing did."""
        conn = http.client.HTTPConnection(host, port, timeout=2)
        try:
            try:
                conn.connect()
            except OSError:
                return "", ""  # nothing listens yet
            try:
                conn.request("GET", path, headers={"Connection": "close", "User-Agent": "hotgo-probe"})
                response = conn.getresponse()
                response.read()
            except (OSError, http.client.HTTPException):
                return "", "the port accepts connections but gave no HTTP answer" if self.auto else ""
        finally:
            conn.close()
        status = response.status
        ok = 200 <= status < 300
        served_by = response.getheader(GENERATION_HEADER)
        if served_by is None:
            if not self.auto:
                return (f"GET {path} answered {status} (no {GENERATION_HEADER} header: heuristic)" if ok else ""), ""
            return "", f"GET {path} answered {status} without {GENERATION_HEADER}"
        if served_by.strip() != str(self.generation):
            return "", f"GET {path} reached generation {served_by.strip()}"
        if ok or self.auto:
            return f"GET {path} answered {status} from this generation", ""
        return "", ""


@dataclass(frozen=True)
class Observed:
    """What the socket watch saw a starting generation do."""

    how: str  # for the log: how readiness was decided
    own: Tuple[str, ...] = ()  # addresses it listens on itself instead of taking the shared socket


@dataclass(frozen=True)
class Sockets:
    """What hotgo shares with a generation: the listeners' inodes (mode inherit) and the ports."""

    inodes: FrozenSet[int]
    ports: Tuple[int, ...]


def port_of(address: str) -> int:
    return int(address.rsplit(":", 1)[1])


def own_listeners(pid: int, sockets: Sockets) -> Tuple[str, ...]:
    """Addresses process `pid` listens on with sockets of its own (not the shared ones)."""
    found = listeners.listening(pid) or []
    return tuple(sorted({s.address for s in found if s.inode not in sockets.inodes}))


class SocketWatch:
    """Watches a starting process from outside (Linux /proc) until it accepts connections.

    With shared listeners (mode inherit): ready once it accepts on one of them; if it
    listens on a port of its own instead (the same port with SO_REUSEPORT at once, another
    one when it has not taken the shared socket within `own_wait`), that is reported
    instead. Without (reuseport/none): ready once it listens on one of the ports, or on
    any port when hotgo has none.
    """

    def __init__(self, pid: int, sockets: Sockets, on_seen: Callable[[Observed], None],
                 own_wait: float = OWN_READY_WAIT) -> None:
        self.pid = pid
        self.sockets = sockets
        self.on_seen = on_seen
        self.own_wait = own_wait  # 0 once the service is known to listen on a port of its own
        self._stop = threading.Event()
        threading.Thread(target=self._run, name=f"hotgo-observe-{pid}", daemon=True).start()

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        polls = 0
        own_since: Optional[float] = None
        while not self._stop.wait(OBSERVE_INTERVAL if polls else 0):
            seen: Optional[Observed] = None
            if self.sockets.inodes:
                how = linux_proc.accepting(self.pid, self.sockets.inodes)
                if how is None:
                    return  # gone: its exit is reported elsewhere
                if how:
                    seen = Observed(how)
                elif polls % 4 == 0:  # its own listeners: a slower read, every ~20 ms
                    seen, own_since = self._own_listeners(own_since)
            else:
                seen = self._listening()
            polls += 1
            if seen is not None:
                if not self._stop.is_set():
                    self.on_seen(seen)
                return

    def _own_listeners(self, since: Optional[float]) -> Tuple[Optional[Observed], Optional[float]]:
        own = own_listeners(self.pid, self.sockets)
        if not own:
            return None, None
        now = time.monotonic()
        since = now if since is None else since
        if any(port_of(a) in self.sockets.ports for a in own) or now - since >= self.own_wait:
            return Observed(f"listening on its own port {', '.join(own)}", own=own), since
        return None, since

    def _listening(self) -> Optional[Observed]:
        sockets = listeners.listening(self.pid) or []
        wanted = [s for s in sockets if not self.sockets.ports or s.port in self.sockets.ports]
        if not wanted:
            return None
        return Observed(f"listening on {', '.join(sorted({s.address for s in wanted}))}")


After = Callable[[float, Callable[[], None]], Timer]


class ReadinessWatch:
    """Per starting generation: its ready timeout plus the probe or timer that `--ready` asks for.

    Callbacks run on the supervisor's loop: the timers' directly, the HTTP probe's through
    `probe_answered`, which must post an event (the probe has a thread of its own).
    """

    def __init__(self, ready_plan: ReadyPlan, timeout: float, probe_url: Optional[str], after: After,
                 sockets: Optional[Sockets] = None) -> None:
        self.plan = ready_plan
        self.timeout = timeout
        self.probe_url = probe_url  # the plan's path on the first listen address; None without one
        self.after = after
        # What the socket watch looks for; None where nothing can be observed (not Linux).
        self.sockets = sockets if platform.CAPABILITIES.proc_net else None
        self.speaks_notify = False  # a generation has sent READY=1: wait for it, no more guesses
        self.expect_own_port = False  # the service listens on a port of its own: no wait for the shared one
        self._timers: Dict[int, List[Timer]] = {}
        self._probes: Dict[int, HttpProbe] = {}
        self._watches: Dict[int, SocketWatch] = {}

    def arm(self, number: int, pid: int, *, ready: Callable[[str, bool], None],
            probe_answered: Callable[[str], None], observed: Callable[[Observed], None],
            timed_out: Callable[[], None]) -> None:
        """Start watching generation `number`; `ready(how, heuristic)` may come before any READY=1.

        `probe_answered` and `observed` are called from threads of their own: they must post an event.
        """
        timers = [self.after(self.timeout, timed_out)]
        kind = self.plan.kind
        if self.sockets is not None and kind in (ReadyKind.AUTO, ReadyKind.NOTIFY):
            # Also under `notify`: a service listening on a port of its own is worth a word.
            own_wait = 0.0 if self.expect_own_port else OWN_READY_WAIT
            self._watches[number] = SocketWatch(pid, self.sockets, observed, own_wait)
        if kind is ReadyKind.HTTP and self.probe_url:
            self._probes[number] = HttpProbe(self.probe_url, number, probe_answered, auto=self.plan.auto, pid=pid)
        elif kind is ReadyKind.DELAY:
            timers.append(self.after(self.plan.delay, lambda: ready("still running after the ready delay", False)))
        elif kind is ReadyKind.AUTO and not self.speaks_notify and not self.observes_readiness:
            guess = (f"no READY=1 yet, still running after {format_duration(AUTO_DELAY)} "
                     f"(heuristic: {self._why_guess()})")
            timers.append(self.after(AUTO_DELAY, lambda: ready(guess, True)))
        self._timers[number] = timers

    @property
    def observes_readiness(self) -> bool:
        """The socket watch can tell when a generation accepts: no guessing needed."""
        return self.sockets is not None and bool(self.sockets.inodes or self.sockets.ports)

    def _why_guess(self) -> str:
        if not platform.CAPABILITIES.proc_net:
            return "this system does not show whether a process accepts connections"
        return "no port to watch"

    def use_sockets(self, sockets: Sockets) -> None:
        """hotgo let go of its shared socket: from the next generation on, watch the port."""
        if self.sockets is not None:
            self.sockets = sockets

    def heard_ready(self) -> None:
        self.speaks_notify = True

    def disarm(self, number: int) -> None:
        """The generation is ready, abandoned or gone: nothing of its watch may fire any more."""
        for timer in self._timers.pop(number, []):
            timer.cancel()
        probe = self._probes.pop(number, None)
        if probe is not None:
            probe.stop()
        watch = self._watches.pop(number, None)
        if watch is not None:
            watch.stop()

    def timeout_hint(self) -> str:
        """What to tell a user whose service never became ready."""
        if self.plan.kind is ReadyKind.AUTO and self.observes_readiness:
            return (" — it never sent READY=1 and was not seen accepting connections on the shared socket "
                    "(fd 3, LISTEN_FDS) or listening on the port; if it serves another way, "
                    "set --ready delay:500ms or http:/healthz")
        if self.plan.kind in (ReadyKind.NOTIFY, ReadyKind.AUTO):
            return (" — it never sent READY=1 on NOTIFY_SOCKET; use the hotgo Go helper, "
                    "or set --ready delay:500ms / http:/healthz")
        return ""
