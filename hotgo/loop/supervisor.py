"""The generation handoff state machine (docs/architecture.md, "The handoff").

Threads (watcher, builds, process waiters, notify readers, signal handlers)
only post events; this loop, on the main thread, decides everything. Spawning
from the main thread also matters on Linux: PR_SET_PDEATHSIG fires when the
*thread* that forked the child ends, and the main thread lives as long as hotgo.
"""

from __future__ import annotations

import os
import queue
import re
import socket
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Set, Tuple

from hotgo import platform
from hotgo.browser.livereload import LiveReload
from hotgo.build.go_build import Build, BuildResult, prune_builds, show_failure
from hotgo.build.go_module import GoPackage
from hotgo.choices import SocketMode
from hotgo.control.status_text import iso
from hotgo.deadlines import Timer, Timers
from hotgo.handoff.advice import address_in_use_hint, cut_hint, listen_hint, own_port_hint
from hotgo.handoff.drain import DrainReport, DrainWatch
from hotgo.handoff.generation import Generation, State, describe_exit
from hotgo.handoff.notify import Message
from hotgo.handoff.notify import send as send_notify
from hotgo.handoff.readiness import OWN_PORT_GRACE, Observed, ReadinessWatch, Sockets, own_listeners, plan, port_of
from hotgo.log import Log
from hotgo.loop.build_history import BuildHistory
from hotgo.loop.crash_policy import CrashPolicy
from hotgo.loop.events import (
    ArtifactChanged,
    BuildDone,
    ControlRequest,
    Deferred,
    DrainReported,
    Event,
    Exited,
    FilesChanged,
    Notified,
    ProbeReady,
    ReopenLog,
    SocketSeen,
    StopRequested,
)
from hotgo.loop.reload_report import ReloadTimings, summary
from hotgo.platform import linux_proc
from hotgo.push.pusher import ConfigChecked, ConfigPusher, PushAnswered, parse_push
from hotgo.settings.addresses import ListenAddress
from hotgo.settings.profiles import attach_hint, merge
from hotgo.settings.schema import Settings, format_duration
from hotgo.watch.artifact import stage
from hotgo.watch.filters import PathFilter
from hotgo.watch.watcher import ChangeSet

_PROTOCOL_VARS = ("LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES", "NOTIFY_SOCKET")


class Supervisor:
    def __init__(
        self,
        settings: Settings,
        package: GoPackage,
        go: str,
        log: Log,
        addresses: Sequence[ListenAddress],
        listeners: Sequence[socket.socket],
        workdir: Path,
        state_dir: Path,
        notify_dir: Path,
        config_filter: Optional[PathFilter] = None,
        artifact: Optional[Path] = None,
        supervisor_socket: str = "",
        *,
        # The collaborators that reach outside the process; the scripted tests pass fakes.
        clock: Callable[[], float] = time.monotonic,
        new_build: Callable[..., Build] = Build,
        new_generation: Callable[[int, Path, str], Generation] = Generation,
    ) -> None:
        self.settings = settings
        self.package = package
        self.go = go
        self.log = log
        self.addresses = list(addresses)
        self.listeners = list(listeners)
        self.workdir = workdir
        self.bin_dir = state_dir / "bin"
        self.notify_dir = notify_dir
        self.mode = settings.socket_mode
        self.events: queue.SimpleQueue[Event] = queue.SimpleQueue()  # safe from signal handlers
        self.clock = clock
        self.new_build = new_build
        self.new_generation = new_generation
        self.timers = Timers(clock)
        ready_plan = plan(settings.run_ready, listening=bool(self.addresses))
        self.ports = tuple(a.port for a in self.addresses)
        shared = self.listeners if self.mode is SocketMode.INHERIT else []
        inodes = frozenset(linux_proc.inode_of(s) for s in shared)
        self.readiness = ReadinessWatch(
            ready_plan, settings.run_ready_timeout,
            self.addresses[0].url(ready_plan.path) if self.addresses else None, self.after,
            Sockets(inodes, self.ports),
        )
        self.generations: Dict[int, Generation] = {}
        self.serving: Optional[Generation] = None
        self.candidate: Optional[Generation] = None
        self.build: Optional[Build] = None
        self.build_flags = merge(settings.build_profile, settings.build_flags,
                                 settings.build_env.get("GOFLAGS", os.environ.get("GOFLAGS", "")))
        self.next_number = 1
        self.reloads: Dict[int, ReloadTimings] = {}
        self.pending_launch: Optional[Tuple[int, Path]] = None  # mode none: waits for the old to exit
        self.held: Optional[BuildResult] = None  # built while the same save may still be changing
        self.quiet_at: Callable[[], Optional[float]] = lambda: 0.0  # the watcher's (None: a change is coming)
        self.crashes = CrashPolicy()
        self.restart_timer: Optional[Timer] = None
        self.stopping = False
        self.hinted_listen = False
        # The service binds a port of its own instead of taking the shared socket: hand off
        # stop-then-start (as mode none), since two generations cannot both bind that port.
        self.own_port = False
        self.warned_own_port = False
        self.drains: Dict[int, DrainWatch] = {}  # old generation -> its drain watch
        self.drained: Dict[int, Tuple[Generation, float]] = {}  # exited, drain report not in yet
        self.warned_cut = False
        self.last_build: Dict[str, str] = {"result": "none"}
        self.config_filter = config_filter
        self.artifact = artifact  # artifact mode: deploy this prebuilt binary, never build
        self.supervisor_socket = supervisor_socket  # NOTIFY_SOCKET of whoever supervises hotgo (systemd)
        self.history = BuildHistory()
        self.note = ""  # a state worth showing in `hotgo status` (crash loop, gave up)
        self.note_binaries: Set[Path] = set()  # the builds the note is about: it stays while one of them serves
        self.browser: Optional[LiveReload] = None  # --browser: pages told about builds and handoffs
        self.pusher = ConfigPusher(
            parse_push(settings.config_push), settings.config_validate or None, settings.config_ack_timeout,
            settings.config_min_interval, settings.watch_settle,
            self.addresses[0].port if self.addresses else None, workdir, package.root, log,
            self.after, self.post,
            serving=lambda: self.serving, busy=lambda: self.candidate is not None,
            restart=self._restart_same_build, validate_log=state_dir / "validate.log", clock=clock,
        )

    # -- plumbing ----------------------------------------------------------------
    def post(self, event: Event) -> None:
        self.events.put(event)

    def after(self, delay: float, action: Callable[[], None]) -> Timer:
        return self.timers.after(delay, action)

    def alive(self) -> List[Generation]:
        return [g for g in self.generations.values() if g.state is not State.STOPPED]

    def run(self) -> int:
        if self.artifact is not None:
            self.deploy_artifact(self.artifact)
        else:
            self.start_build(None)
        while not (self.stopping and not self.alive() and self.build is None):
            try:
                event = self.events.get(timeout=self.timers.next_wait())
            except queue.Empty:
                event = None
            self.turn(event)
        return 0

    def turn(self, event: Optional[Event]) -> None:
        """One turn of the loop: the event first, then every timer due by now."""
        if event is not None:
            self.dispatch(event)
        self.timers.run_due()

    def dispatch(self, event: Event) -> None:
        if isinstance(event, FilesChanged):
            self.on_change(event.change)
        elif isinstance(event, BuildDone):
            self.on_build_done(event.result)
        elif isinstance(event, Notified):
            self.on_notify(event.generation, event.message)
        elif isinstance(event, ProbeReady):
            generation = self.generations.get(event.generation)
            if generation is not None:
                self.mark_ready(generation, event.how)
        elif isinstance(event, SocketSeen):
            self.on_socket_seen(event.generation, event.observed)
        elif isinstance(event, DrainReported):
            self.on_drain_report(event.generation, event.report)
        elif isinstance(event, Exited):
            self.on_exit(event.generation, event.code)
        elif isinstance(event, StopRequested):
            self.on_stop(event.reason)
        elif isinstance(event, ConfigChecked):
            self.pusher.on_checked(event.verdicts)
        elif isinstance(event, PushAnswered):
            self.pusher.on_http_answer(event)
        elif isinstance(event, ArtifactChanged):
            if not self.stopping:
                self.deploy_artifact(event.path)
        elif isinstance(event, ControlRequest):
            event.slot.answer(self.on_control(event.command))
        elif isinstance(event, ReopenLog):
            self.log.reopen()
        elif isinstance(event, Deferred):
            event.action()

    # -- changes and builds --------------------------------------------------------
    def on_change(self, change: ChangeSet) -> None:
        if self.stopping:
            return
        config_only = self.config_filter is not None and all(
            self.config_filter.relevant(p) for p in change.paths)
        if config_only:
            # Only the service's config changed: check and push it, no rebuild (a change that
            # touches sources too is a rebuild: the new generation reads the new config anyway).
            self.pusher.changed(change.paths)
            return
        names = [self._display(p) for p in change.paths]
        shown = ", ".join(names[:3]) + (f" (+{len(names) - 3} more)" if len(names) > 3 else "")
        self.log.info(f"changed: {shown}", event="change", files=names)
        self.start_build(change)

    def _display(self, path: Path) -> str:
        try:
            return path.relative_to(self.package.root).as_posix()
        except ValueError:
            return str(path)

    def start_build(self, change: Optional[ChangeSet]) -> None:
        if self.artifact is not None:
            self.deploy_artifact(self.artifact)
            return
        if self.build is not None:
            self.log.info(f"newer change: cancelling the build of generation {self.build.generation}")
            self.build.cancel()
            self.reloads.pop(self.build.generation, None)
        if self.held is not None:  # built from content that has changed again since: never shown
            self.log.info(f"newer change: dropping the build of generation {self.held.generation}")
            self.reloads.pop(self.held.generation, None)
            self.held = None
        number = self.next_number
        self.next_number += 1
        binary = self.bin_dir / f"{self.package.name}-{number}{platform.EXE_SUFFIX}"
        self.reloads[number] = ReloadTimings(change=change)
        self.build = self.new_build(
            self.go, self.package.root, self.package.package, binary, number,
            self.build_flags, self.settings.build_env, self.log,
            lambda result: self.post(BuildDone(result)),
        )
        self.log.info(f"building generation {number} ({self.package.package})…", event="build", generation=number)
        self.build.start()
        self.reloads[number].build_started = self.build.started

    def on_build_done(self, result: BuildResult) -> None:
        if self.build is None or result.generation != self.build.generation:
            return  # a stale, cancelled build
        self.build = None
        if result.cancelled or self.stopping:
            return
        timings = self.reloads.setdefault(result.generation, ReloadTimings())
        timings.build_seconds = result.seconds
        timings.build_ended = time.monotonic()
        self.held = result
        self._release_when_saved(result)

    def _release_when_saved(self, result: BuildResult) -> None:
        """Show or serve a build only once no event of the same save can still be coming, so the
        build of a half-written file, or of one gofmt-on-save rewrites, is never shown or served.
        The check runs once the watcher is idle; the release is queued behind whatever change it
        posted meanwhile, which clears `held` (start_build) and so drops this build."""
        if self.held is not result:
            return
        now = time.monotonic()
        quiet_at = self.quiet_at()
        ended = self.reloads.get(result.generation, ReloadTimings()).build_ended
        if (quiet_at is None or quiet_at > now) and now - ended < self.settings.watch_max_wait:
            wait = self.settings.watch_settle / 4 if quiet_at is None else quiet_at - now
            self.after(max(wait, 0.001), lambda: self._release_when_saved(result))
            return
        self.post(Deferred(lambda: self._release(result)))

    def _release(self, result: BuildResult) -> None:
        if self.held is not result or self.stopping:
            return
        self.held = None
        if not result.ok:
            self.reloads.pop(result.generation, None)
            self.last_build = {"result": "failed", "error": (result.errors or result.output or ["?"])[0]}
            show_failure(self.log, result, self.package.root, self._still_serving())
            if self.browser is not None:
                self.browser.build_failed(result.generation, result.errors or result.output)
            return
        self.last_build = {"result": "ok"}
        if self.browser is not None:
            self.browser.build_ok()
        self.log.info(f"built generation {result.generation} in {result.seconds:.2f}s", event="built",
                      generation=result.generation, seconds=round(result.seconds, 3))
        if self.restart_timer is not None:
            self.restart_timer.cancel()
            self.restart_timer = None
        self.crashes.reset()
        self.launch(result.generation, result.binary)

    def deploy_artifact(self, source: Path) -> None:
        """Artifact mode: stage the prebuilt binary as a new generation and hand off to it."""
        number = self.next_number
        self.next_number += 1
        target = self.bin_dir / f"{self.package.name}-{number}{platform.EXE_SUFFIX}"
        problem = stage(source, target)
        if problem:
            self.last_build = {"result": "failed", "error": problem}
            self.log.error(f"cannot deploy {problem}; {self._still_serving()}", event="deploy_failed",
                           generation=number)
            return
        self.last_build = {"result": "ok"}
        self.log.info(f"deploying {source} as generation {number}", event="build", generation=number)
        self.launch(number, target)

    # -- starting and readiness ----------------------------------------------------
    def launch(self, number: int, binary: Path) -> None:
        if self.candidate is not None:
            stale = self.candidate
            self.log.info(f"generation {stale.number} superseded by {number} before it was ready: stopping it",
                          event="superseded", generation=stale.number, by=number)
            self._abandon(stale)
        old = self.serving
        if (self.mode is SocketMode.NONE or self.own_port) and old is not None and old.state is not State.STOPPED:
            why = ("it binds its port itself" if self.own_port else "socket mode none")
            self.log.warn(
                f"{why}: stopping generation {old.number} before starting {number} — "
                "connections are refused meanwhile (let the service take the shared socket to avoid this)"
            )
            self.pending_launch = (number, binary)
            self._drain(old, replaced_by=number)
            self.serving = None
            return
        self._start(number, binary)

    def _start(self, number: int, binary: Path) -> None:
        generation = self.new_generation(number, binary, self.package.name)
        self.generations[number] = generation
        try:
            generation.start(
                self.settings.run_args, self.service_env(number), self.workdir,
                [s.fileno() for s in self.listeners] if self.mode is SocketMode.INHERIT else [],
                self.notify_dir, self.log,
                lambda n, m: self.post(Notified(n, m)),
                lambda n, code: self.post(Exited(n, code)),
            )
        except OSError as err:
            generation.state = State.STOPPED
            self.log.error(f"could not start generation {number} ({binary}): {err}")
            return
        self.candidate = generation
        self.log.info(f"started generation {number} (pid {generation.pid}), waiting until it is ready",
                      event="start", generation=number, pid=generation.pid, binary=str(binary))
        self.readiness.arm(
            number, generation.pid,
            ready=lambda how, heuristic: self.mark_ready(generation, how, guess=heuristic),
            probe_answered=lambda how: self.post(ProbeReady(number, how)),
            observed=lambda seen: self.post(SocketSeen(number, seen)),
            timed_out=lambda: self._ready_timeout(generation),
        )

    def service_env(self, number: int) -> Dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in _PROTOCOL_VARS}
        env.update(self.settings.run_env)
        env["HOTGO_GENERATION"] = str(number)
        env["HOTGO_SOCKET"] = self.mode.value
        if self.addresses:
            env["PORT"] = str(self.addresses[0].port)
            env["HOTGO_LISTEN"] = ",".join(str(a) for a in self.addresses)
        if self.mode is SocketMode.INHERIT:
            env["LISTEN_FDS"] = str(len(self.listeners))
            env["LISTEN_FDNAMES"] = ":".join(a.name for a in self.addresses)
        return env

    def on_notify(self, number: int, message: Message) -> None:
        generation = self.generations.get(number)
        if generation is None:
            return
        if "STATUS" in message:
            generation.status = message["STATUS"]
            self.log.info(f"generation {number} status: {generation.status}")
        self.pusher.on_notify(number, message)
        if message.get("STOPPING") == "1" and number in self.drains:
            self.drains[number].announced()
        if message.get("READY") == "1":
            self.readiness.heard_ready()
            self.mark_ready(generation, "READY=1")

    def on_socket_seen(self, number: int, seen: Observed) -> None:
        generation = self.generations.get(number)
        if generation is None or generation.state is not State.STARTING:
            return
        if seen.own:
            self._own_port(generation, seen.own)
            self.mark_ready(generation, f"listening on its own port {', '.join(seen.own)}", guess=True)
            return
        self.mark_ready(generation, seen.how, guess=True)

    def _own_port(self, generation: Generation, own: Tuple[str, ...]) -> None:
        """The generation listens itself instead of (or besides) taking the shared socket: say so, once."""
        same_port = any(port_of(a) in self.ports for a in own)
        if not same_port:
            generation.own_listen = own  # the summary must not say it serves on the shared port
            self.own_port = True  # two generations cannot bind that port at once: stop-then-start
        if self.warned_own_port:
            return
        self.warned_own_port = True
        self.note = f"the service listens on {', '.join(own)} itself, not (only) on hotgo's shared socket"
        queued = [linux_proc.accept_queue(s) for s in self.listeners]
        waiting = sum(q for q in queued if q) if any(q is not None for q in queued) else None
        self.log.error(own_port_hint(generation.number, own, [str(a) for a in self.addresses], waiting, same_port),
                       event="own_port", generation=generation.number, listen=list(own), queued=waiting)

    def _check_own_port(self, generation: Generation) -> None:
        """After a ready that did not come from the socket watch (READY=1 first): does it listen itself?"""
        sockets = self.readiness.sockets  # None where /proc cannot tell
        if generation.state is State.STOPPED or self.mode is not SocketMode.INHERIT or sockets is None:
            return
        own = own_listeners(generation.pid, sockets)
        beside_ours = any(port_of(a) in self.ports for a in own)
        if own and (beside_ours or not linux_proc.accepting(generation.pid, sockets.inodes)):
            self._own_port(generation, own)

    def mark_ready(self, generation: Generation, how: str, guess: bool = False) -> None:
        """`guess`: a sign from outside (heuristic or observed), not the service's own READY=1."""
        if generation is not self.candidate or generation.state is not State.STARTING:
            return
        if guess and self.readiness.speaks_notify:
            return  # learned meanwhile that this service says READY=1: wait for it
        generation.state = State.READY
        generation.ready_at = self.clock()
        self.readiness.disarm(generation.number)
        self.candidate = None
        old = self.serving
        self.serving = generation
        self.history.mark_good(generation.binary)
        if generation.binary not in self.note_binaries and not (self.own_port or self.warned_own_port):
            self.note, self.note_binaries = "", set()
        took = generation.ready_at - generation.started
        self.log.ok(f"generation {generation.number} ready (pid {generation.pid}, {how}) in {format_duration(took)}",
                    event="ready", generation=generation.number, pid=generation.pid, how=how,
                    seconds=round(took, 4))
        hint = attach_hint(self.settings.build_profile, generation.pid) if self.artifact is None else None
        if hint:
            self.log.info(hint, event="debug", generation=generation.number, pid=generation.pid)
        draining = old if old is not None and old.state is not State.STOPPED else None
        if self.browser is not None:  # before the summary line: a page may ask right after it
            self.browser.ready(generation.number, draining.pid if draining is not None else None)
        if draining is not None:
            self._drain(draining, replaced_by=generation.number)
        else:
            self._summary(generation, None)
        self.tell_supervisor(f"READY=1\nSTATUS=serving generation {generation.number} (pid {generation.pid})"
                             f"\nMAINPID={os.getpid()}")
        self.pusher.generation_ready(generation.number)
        self.pusher.try_push()
        if self.mode is SocketMode.NONE and not self.hinted_listen:
            self.hinted_listen = True
            self.after(1.0, lambda: self._hint_listen(generation))
        if how == "READY=1" and not self.warned_own_port:
            # The socket watch stops at a ready: look once now and once a moment later (last:
            # each look reads the kernel's TCP table, milliseconds, off the handoff's path).
            self._check_own_port(generation)
            self.after(OWN_PORT_GRACE, lambda: self._check_own_port(generation))

    def _ready_timeout(self, generation: Generation) -> None:
        if generation is not self.candidate or generation.state is not State.STARTING:
            return
        self.log.error(
            f"generation {generation.number} not ready after {format_duration(self.settings.run_ready_timeout)}: "
            f"killed{self.readiness.timeout_hint()}; {self._still_serving()}",
            event="not_ready", generation=generation.number,
        )
        self._abandon(generation)

    def _abandon(self, generation: Generation) -> None:
        self.readiness.disarm(generation.number)
        if self.candidate is generation:
            self.candidate = None
        generation.kill()
        self.pusher.try_push()

    def _still_serving(self) -> str:
        if self.serving is not None and self.serving.state is not State.STOPPED:
            return f"generation {self.serving.number} keeps serving"
        return "nothing is serving; waiting for the next change"

    # -- draining and exits --------------------------------------------------------
    def _drain(self, old: Generation, replaced_by: Optional[int]) -> None:
        old.replaced_by = replaced_by
        if replaced_by is not None and self.ports and old.pid:
            # Counted before the signal: what it holds now is what its stop may cut.
            number = old.number
            self.drains[number] = DrainWatch(old.pid, self.ports,
                                             lambda report: self.post(DrainReported(number, report)))
        stop = platform.stop_description(self.settings.run_stop_signal)
        self.log.info(f"draining generation {old.number} (pid {old.pid}): {stop}",
                      event="drain", generation=old.number, pid=old.pid)
        if not old.request_stop(self.settings.run_stop_signal):
            why = platform.stop_failure() or "no reason given"
            self.log.warn(f"generation {old.number}: {stop} not delivered ({why}); it is killed after the "
                          f"drain timeout ({format_duration(self.settings.run_drain_timeout)})")
        self.after(self.settings.run_drain_timeout, lambda: self._drain_timeout(old))

    def _drain_timeout(self, old: Generation) -> None:
        if old.state is State.STOPPED:
            return
        self.log.warn(
            f"generation {old.number} still running {format_duration(self.settings.run_drain_timeout)} "
            f"after {platform.stop_description(self.settings.run_stop_signal)}: killing its process group",
            event="drain_timeout", generation=old.number,
        )
        old.kill()

    def on_exit(self, number: int, code: int) -> None:
        generation = self.generations.get(number)
        if generation is None:
            return
        was = generation.state
        generation.finished(code)
        self.readiness.disarm(number)
        self.pusher.generation_gone(number)
        if generation is self.candidate:
            self.candidate = None
            self._failed_start(generation, code)
        elif generation is self.serving and was is not State.DRAINING:
            self.serving = None
            self._crashed(generation, code)
        elif generation.replaced_by is not None:
            drained = self.clock() - generation.stop_sent
            watch = self.drains.pop(number, None)
            if watch is None:
                self._drained(generation, drained, None)
            else:
                self.drained[number] = (generation, drained)
                watch.exited()  # its report follows as an event
        elif self.stopping:
            self.log.info(f"generation {number} stopped ({describe_exit(code)})")
        del self.generations[number]  # a daemon that reloads for months keeps only the living
        self._prune()
        if self.pending_launch is not None and not self.alive():
            number_next, binary = self.pending_launch
            self.pending_launch = None
            if not self.stopping:
                self._start(number_next, binary)

    def _failed_start(self, generation: Generation, code: int) -> None:
        number = generation.number
        in_use = next((line for line in generation.recent if "address already in use" in line), "")
        old = self.serving if self.serving is not None and self.serving.state is not State.STOPPED else None
        self.log.error(f"generation {number} exited before it was ready ({describe_exit(code)}); "
                       f"{self._still_serving()}", event="failed_start", generation=number, code=code)
        if in_use and not self.stopping:
            holder = old.number if old is not None and not self._names_shared_port(in_use) else None
            self.log.error(address_in_use_hint(number, in_use.strip(), [str(a) for a in self.addresses], holder),
                           event="address_in_use", generation=number)
            if holder is not None and not self.own_port:
                # It binds the port the old generation holds: only stop-then-start can bring the edit in.
                self.own_port = True
                self.note = "the service binds its port itself: reloads stop the old process first"
                retry = self.next_number
                self.next_number += 1
                self.launch(retry, generation.binary)
                return
        self.pusher.try_push()

    def _names_shared_port(self, line: str) -> bool:
        """Does an `address already in use` line name one of the ports hotgo itself holds?"""
        return self.mode is SocketMode.INHERIT and any(re.search(rf":{port}\b", line) for port in self.ports)

    def _drained(self, old: Generation, seconds: float, report: Optional[DrainReport]) -> None:
        new = self.generations.get(old.replaced_by or 0)
        if new is not None and new.state is State.READY:
            self._summary(new, (old, seconds), report)
        else:
            how = f"; {report.describe(self.settings.run_stop_signal)}" if report is not None else ""
            self.log.info(f"generation {old.number} stopped ({describe_exit(old.exit_code or 0)}) after "
                          f"{format_duration(seconds)}{how}", event="stopped", generation=old.number,
                          **(report.fields() if report is not None else {}))
        if report is not None and report.cut and not self.warned_cut:
            self.warned_cut = True
            self.log.warn(cut_hint(old.number, report), event="cut_connections", generation=old.number)

    def on_drain_report(self, number: int, report: DrainReport) -> None:
        drained = self.drained.pop(number, None)
        if drained is not None:
            self._drained(drained[0], drained[1], report)

    def _summary(self, new: Generation, drained: Optional[Tuple[Generation, float]],
                 report: Optional[DrainReport] = None) -> None:
        line = summary(new, self.reloads.pop(new.number, ReloadTimings()), drained, report,
                       self.settings.run_stop_signal, [str(a) for a in self.addresses])
        self.log.ok(line, event="done", generation=new.number, pid=new.pid,
                    **(report.fields() if report is not None else {}))

    def _crashed(self, generation: Generation, code: int) -> None:
        if self.stopping:
            return
        lived = self.clock() - generation.started
        verdict = self.crashes.crashed(lived)
        what = (f"generation {generation.number} exited on its own ({describe_exit(code)}) "
                f"after {format_duration(lived)}")
        previous = self.history.before(generation.binary)
        if verdict.give_up and previous is not None:
            self.note = (f"gave up on {generation.binary.name} after {verdict.streak} crashes in a row; "
                         f"rolled back to {previous.name}")
            self.note_binaries = {generation.binary, previous}
            self.log.error(f"{what}; {self.note}", event="gave_up", generation=generation.number)
            self.crashes.reset()
            self.restart_timer = self.after(0, lambda: self._restart(previous))
            return
        if verdict.loop:
            self.note = f"crash loop: {generation.binary.name} exited {verdict.streak} times in a row"
            self.note_binaries = {generation.binary}
            self.log.error(
                f"crash loop: {what}, {verdict.streak} times in a row; restarting in "
                f"{format_duration(verdict.delay)} (save a fix to rebuild now)",
                event="crash_loop", generation=generation.number, code=code, streak=verdict.streak,
                restart_in=verdict.delay,
            )
        else:
            self.log.warn(f"{what}; restarting in {format_duration(verdict.delay)}", event="crashed",
                          generation=generation.number, code=code, streak=verdict.streak, restart_in=verdict.delay)
        binary = generation.binary
        self.restart_timer = self.after(verdict.delay, lambda: self._restart(binary))

    def _restart(self, binary: Path) -> None:
        self.restart_timer = None
        if self.stopping or self.serving is not None or self.candidate is not None:
            return
        number = self.next_number
        self.next_number += 1
        self._start(number, binary)

    def _restart_same_build(self) -> Optional[int]:
        """Config push method `restart`: a zero-downtime handoff to a fresh process of the same build."""
        if self.serving is None or self.stopping:
            return None
        number = self.next_number
        self.next_number += 1
        self.launch(number, self.serving.binary)
        started = self.candidate is not None or self.pending_launch is not None
        return number if started else None

    def _prune(self) -> None:
        protect = [g.binary for g in self.alive()] + self.history.good[-self.settings.build_keep:]
        if self.serving is not None:
            protect.append(self.serving.binary)
        prune_builds(self.bin_dir, self.package.name, self.settings.build_keep, protect)

    def _hint_listen(self, generation: Generation) -> None:
        if generation.state is State.STOPPED:
            return
        hint = listen_hint(generation.number, generation.pid)
        if hint:
            self.log.warn(hint)

    # -- control (hotgo status / reload / rollback / stop) ----------------------------
    def on_control(self, command: str) -> Dict[str, Any]:
        if command == "status":
            return {"ok": True, "status": self.status()}
        if command == "reload":
            if self.stopping:
                return {"ok": False, "error": "hotgo is stopping"}
            self.start_build(None)
            return {"ok": True, "message": "rebuilding and handing off" if self.artifact is None
                    else f"redeploying {self.artifact}"}
        if command == "rollback":
            return self.rollback()
        if command == "stop":
            self.post(StopRequested("hotgo stop"))
            return {"ok": True, "message": "draining and stopping", "pid": os.getpid()}
        return {"ok": False, "error": f"unknown command {command!r}"}

    def rollback(self) -> Dict[str, Any]:
        current = self.serving.binary if self.serving is not None else None
        target = self.history.before(current)
        if target is None or self.stopping:
            served = [p.name for p in self.history.good]
            shown = ", ".join(served[-3:]) or "none"  # the newest few: a daemon may have served thousands
            if len(served) > 3:
                shown = f"{shown} (and {len(served) - 3} older)"
            return {"ok": False, "error": "no earlier good build is kept "
                    f"(build.keep = {self.settings.build_keep}; latest builds that served: {shown})"}
        number = self.next_number
        self.next_number += 1
        self.log.info(f"rollback: handing off to {target.name} as generation {number}", event="rollback",
                      generation=number)
        self.launch(number, target)
        return {"ok": True, "message": f"rolling back to {target.name} (generation {number})"}

    def status(self) -> Dict[str, Any]:
        current = self.serving or self.candidate
        push = self.pusher.last
        return {
            "generation": current.number if current else 0,
            "pid": current.pid if current else 0,
            "binary": str(current.binary) if current else "",
            "started_at": iso(current.started_wall) if current else "",
            "state": current.state.value if current else "stopped",
            "last_build": self.last_build,
            "last_config_push": {"result": push.result, "when": iso(push.when), "files": push.files,
                                 "message": push.message, "generation": push.generation},
            "socket": self.mode.value,
            "listen": [str(a) for a in self.addresses],
            "hotgo_pid": os.getpid(),
            "note": self.note,
            "rollback_to": str(self.history.before(current.binary) or "") if current else "",
            "generations": [{"generation": g.number, "pid": g.pid, "state": g.state.value, "binary": str(g.binary)}
                            for g in self.alive()],
        }

    def tell_supervisor(self, message: str) -> None:
        if self.supervisor_socket:
            send_notify(self.supervisor_socket, message)

    # -- stopping --------------------------------------------------------------------
    def on_stop(self, reason: str) -> None:
        if self.stopping:
            self.log.warn("second stop request: killing everything now", event="kill_all")
            for generation in self.alive():
                generation.kill()
            return
        self.stopping = True
        self.tell_supervisor("STOPPING=1")
        self.pending_launch = None
        if self.build is not None:
            self.build.cancel()
        if self.restart_timer is not None:
            self.restart_timer.cancel()
        if self.candidate is not None:
            self._abandon(self.candidate)
        live = self.alive()
        if live:
            names = ", ".join(str(g.number) for g in live)
            self.log.info(f"{reason}: draining generation{'s' if len(live) > 1 else ''} {names} and exiting")
        else:
            self.log.info(f"{reason}: no generation is running; exiting")
        for generation in live:
            if generation.state is not State.DRAINING:
                self._drain(generation, replaced_by=None)

