"""The generation handoff: one loop, on the main thread, decides everything (docs/architecture.md).

Threads (watcher, builds, process waiters, notify readers, signal handlers) only post events.
Spawning from the main thread also matters on Linux: PR_SET_PDEATHSIG fires when the *thread*
that forked the child ends, and the main thread lives as long as hotgo.

Its state: the generations (`Lineup`: serving, candidate, waiting for stop-then-start), the builds
(`Builds`: one running, one held by the save gate) and `stopping`. The rest lives beside it, a
job a module: `Builds`, `OwnPortWatch`, `CrashRestarts`, `Drains`, `FrontHandoff` (when an old
generation is stopped), `ReloadReports`, `control_view`.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Callable, Optional

from hotgo import platform
from hotgo.browser.front_door import FrontAnswered, FrontDoor
from hotgo.browser.livereload import LiveReload
from hotgo.build.go_build import Build, go_flags
from hotgo.build.head_start import HeadStart
from hotgo.choices import SocketMode
from hotgo.handoff.environment import service_env
from hotgo.handoff.generation import Generation, State, describe_exit
from hotgo.handoff.notify import Message
from hotgo.handoff.notify import send as send_notify
from hotgo.handoff.readiness import Observed, ReadinessWatch, Sockets, plan
from hotgo.log import Log
from hotgo.loop import events as ev
from hotgo.loop.build_history import BuildHistory
from hotgo.loop.builds import Builds
from hotgo.loop.control_view import ControlView
from hotgo.loop.crash_restarts import CrashRestarts
from hotgo.loop.drains import Drains
from hotgo.loop.front_handoff import FrontHandoff
from hotgo.loop.inbox import Inbox
from hotgo.loop.lineup import Lineup
from hotgo.loop.own_port import OwnPortWatch
from hotgo.loop.reload_report import ReloadReports
from hotgo.loop.save_gate import QuietAt, SaveGate
from hotgo.loop.service import Service
from hotgo.loop.serving_binary import ServingBinary
from hotgo.loop.status_note import StatusNote
from hotgo.platform import linux_proc
from hotgo.push.pusher import ConfigChecked, ConfigPusher, PushAnswered
from hotgo.settings.profiles import attach_hint
from hotgo.settings.push_method import parse_push
from hotgo.settings.schema import format_duration
from hotgo.watch.change_set import ChangeSet


class Supervisor:
    def __init__(
        self,
        service: Service,
        log: Log,
        *,
        inbox: Optional[Inbox] = None,  # where the other threads post (made first: they need it)
        quiet_at: QuietAt = lambda: 0.0,  # the watcher's: when a save may count as over
        browser: Optional[LiveReload] = None,  # --browser: pages told about builds and handoffs
        front: Optional[FrontDoor] = None,  # --front: told before a generation stops and when one is ready
        supervisor_socket: str = "",  # NOTIFY_SOCKET of whoever supervises hotgo (systemd)
        # The collaborators that reach outside the process; the scripted tests pass fakes.
        clock: Callable[[], float] = time.monotonic,
        new_build: Callable[..., Build] = Build,
        head_start: Optional[HeadStart] = None,  # generation 1's build, started before the loop existed
        new_generation: Callable[[int, Path, str], Generation] = Generation,
    ) -> None:
        settings = service.settings
        self.service = service
        self.settings = settings
        self.log = log
        self.inbox = inbox if inbox is not None else Inbox(clock)
        self.post, self.after = self.inbox.post, self.inbox.after
        self.clock = clock
        self.new_generation = new_generation
        self.browser = browser
        self.front = FrontHandoff(front, service, log, clock, self.after)  # also without: stops old ones
        self.supervisor_socket = supervisor_socket
        self.lineup = Lineup()
        self.stopping = False
        self.history = BuildHistory(settings.build_keep)
        self.note = StatusNote()
        ready_plan = plan(settings.run_ready, listening=bool(service.addresses))
        sockets = Sockets(frozenset(linux_proc.inode_of(s) for s in service.inherited), service.ports)
        probe_url = service.addresses[0].url(ready_plan.path) if service.addresses else None
        self.readiness = ReadinessWatch(ready_plan, settings.run_ready_timeout, probe_url, self.after, sockets)
        self.own_port = OwnPortWatch(service, self.readiness, self.note, log, self.after)
        self.restarts = CrashRestarts(self.history, self.note, log, clock, self.after, self._restart)
        self.binaries = ServingBinary(log, self.after, self.lineup.live_serving, service.artifact)
        self.reports = ReloadReports(log, settings.run_stop_signal, service.shown_addresses)
        self.drains = Drains(service, self.lineup, self.reports, log, clock, self.after, self.post)
        flags = go_flags(settings.build_profile, settings.build_flags, settings.build_env)
        gate = SaveGate(quiet_at, settings.watch_settle, settings.watch_max_wait, clock, self.after, self.post)
        self.builds = Builds(service, flags, log, gate, self.reports, browser, new_number=self.lineup.new_number,
                             still_serving=self.lineup.still_serving, built=self._built, post=self.post,
                             clock=clock, new_build=new_build, head_start=head_start)
        self.pusher = ConfigPusher(
            parse_push(settings.config_push), settings.config_validate or None, settings.config_ack_timeout,
            settings.config_min_interval, settings.watch_settle, service.ports[0] if service.ports else None,
            service.workdir, service.package.root, log, self.after, self.post,
            serving=lambda: self.lineup.serving, busy=lambda: self.lineup.candidate is not None,
            restart=self._restart_same_build, validate_log=service.state_dir / "validate.log",
            pushed=browser.config_pushed if browser is not None else None, clock=clock)
        self.control = ControlView(service, self.lineup, self.builds, self.pusher, self.note, self.history, log,
                                   stopping=lambda: self.stopping, hand_off=self.launch,
                                   stop=lambda: self.post(ev.StopRequested("hotgo stop")))

    def run(self) -> int:  # on its own (the scripted tests); hotgo/loop/fleet.py runs it for hotgo
        self.begin()
        self.inbox.run(self.dispatch, self.done)
        return 0

    def begin(self) -> None:
        self.builds.start(None)

    def done(self) -> bool:
        return self.stopping and not self.lineup.alive() and self.builds.running is None

    def dispatch(self, event: ev.Event) -> None:
        if isinstance(event, ev.FilesChanged):
            self.on_change(event.change)
        elif isinstance(event, ev.BuildDone):
            self.builds.done(event.result)
        elif isinstance(event, ev.Notified):
            self.on_notify(event.generation, event.message)
        elif isinstance(event, ev.ProbeReady):
            generation = self.lineup.get(event.generation)
            if generation is not None:
                self.mark_ready(generation, event.how)
        elif isinstance(event, ev.SocketSeen):
            self.on_socket_seen(event.generation, event.observed)
        elif isinstance(event, ev.DrainReported):
            self.drains.reported(event.generation, event.report)
        elif isinstance(event, ev.Exited):
            self.on_exit(event.generation, event.code)
        elif isinstance(event, ev.StopRequested):
            self.on_stop(event.reason)
        elif isinstance(event, ConfigChecked):
            self.pusher.on_checked(event.verdicts)
        elif isinstance(event, PushAnswered):
            self.pusher.on_http_answer(event)
        elif isinstance(event, ev.ArtifactChanged):
            if not self.stopping:
                self.builds.deploy(event.path)
        elif isinstance(event, ev.ControlRequest):
            event.slot.answer(self.control.answer(event.command))
        elif isinstance(event, ev.ReopenLog):
            self.log.reopen()
        elif isinstance(event, ev.Deferred):
            event.action()
        elif isinstance(event, FrontAnswered):
            self.front.answered(event)

    # -- changes ----------------------------------------------------------------
    def on_change(self, change: ChangeSet) -> None:
        if self.stopping:
            return
        config_filter = self.service.config_filter
        if config_filter is not None and all(config_filter.relevant(p) for p in change.paths):
            # Only the service's config changed: check and push it, no rebuild (a change that
            # touches sources too is a rebuild: the new generation reads the new config anyway).
            self.pusher.changed(change.paths)
            return
        names = change.names(self.service.package.root)
        shown = ", ".join(names[:3]) + (f" (+{len(names) - 3} more)" if len(names) > 3 else "")
        self.log.info(f"changed: {shown}", event="change", files=names)
        self.builds.start(change)

    def _built(self, number: int, binary: Path, fresh: bool) -> None:
        if fresh:
            self.restarts.new_build()
        self.launch(number, binary)

    # -- starting and readiness ----------------------------------------------------
    def launch(self, number: int, binary: Path) -> None:
        lineup = self.lineup
        if lineup.candidate is not None:
            stale = lineup.candidate
            self.log.info(f"generation {stale.number} superseded by {number} before it was ready: stopping it",
                          event="superseded", generation=stale.number, by=number)
            self._abandon(stale)
        old = lineup.live_serving()
        stop_first = self.service.mode is SocketMode.NONE or self.own_port.stop_then_start
        if stop_first and old is not None:
            self.own_port.say_stop_first(old.number, number, held=self.front.door_open)
            lineup.waiting, lineup.serving = (number, binary), None
            self.front.stop_then_start(old, lambda g: self.drains.stop(g, replaced_by=number))
            return
        if stop_first and lineup.waiting is not None and lineup.alive():
            self.reports.drop(lineup.waiting[0])  # still stopping the old one: this build starts instead
            lineup.waiting = (number, binary)
            return
        self._start(number, binary)

    def _start(self, number: int, binary: Path) -> None:
        service = self.service
        generation = self.new_generation(number, binary, service.package.name)
        self.lineup.add(generation)
        env = service_env(number, service.mode, service.addresses, len(service.inherited), self.settings.run_env)
        try:
            generation.start(
                self.settings.run_args, env, service.workdir, [s.fileno() for s in service.inherited],
                service.notify_dir, self.log,
                lambda n, m: self.post(ev.Notified(n, m)),
                lambda n, code: self.post(ev.Exited(n, code)),
            )
        except OSError as err:
            generation.state = State.STOPPED
            self.lineup.forget(number)
            self.reports.drop(number)
            self.log.error(f"could not start generation {number} ({binary}): {err}")
            return
        self.lineup.candidate = generation
        self.log.info(f"started generation {number} (pid {generation.pid}), waiting until it is ready",
                      event="start", generation=number, pid=generation.pid, binary=str(binary))
        self.readiness.arm(
            number, generation.pid,
            ready=lambda how, heuristic: self.mark_ready(generation, how, guess=heuristic),
            probe_answered=lambda how: self.post(ev.ProbeReady(number, how)),
            observed=lambda seen: self.post(ev.SocketSeen(number, seen)),
            timed_out=lambda: self._ready_timeout(generation),
        )

    def on_notify(self, number: int, message: Message) -> None:
        if message.get("STOPPING") == "1":  # also after its exit: read late, it still tells how it drained
            self.drains.announced(number)
        generation = self.lineup.get(number)
        if generation is None:
            return
        if "STATUS" in message:
            generation.status = message["STATUS"]
            self.log.info(f"generation {number} status: {generation.status}")
        self.pusher.on_notify(number, message)
        if message.get("READY") == "1":
            self.readiness.heard_ready()
            self.mark_ready(generation, "READY=1")

    def on_socket_seen(self, number: int, seen: Observed) -> None:
        generation = self.lineup.get(number)
        if generation is None or generation.state is not State.STARTING:
            return
        if seen.own:
            self.own_port.seen(generation, seen.own)
        self.mark_ready(generation, seen.how, guess=True)

    def mark_ready(self, generation: Generation, how: str, guess: bool = False) -> None:
        """`guess`: a sign from outside (heuristic or observed), not the service's own READY=1."""
        lineup = self.lineup
        if generation is not lineup.candidate or generation.state is not State.STARTING:
            return
        if guess and self.readiness.speaks_notify:
            return  # learned meanwhile that this service says READY=1: wait for it
        generation.state = State.READY
        generation.ready_at = self.clock()
        self.readiness.disarm(generation.number)
        lineup.candidate = None
        old = lineup.live_serving()
        lineup.serving = generation
        took = generation.ready_at - generation.started
        self.log.ok(f"generation {generation.number} ready (pid {generation.pid}, {how}) in {format_duration(took)}",
                    event="ready", generation=generation.number, pid=generation.pid, how=how,
                    seconds=round(took, 4))
        # The old one stops first: until its stop signal it takes new connections too (the front door holds them).
        self.front.handed_over(old, generation, lambda g: self.drains.stop(g, replaced_by=generation.number))
        self.history.mark_good(generation.binary)
        self.binaries.serving_now(generation)
        self.note.serving(generation.binary)
        hint = attach_hint(self.settings.build_profile, generation.pid) if self.service.artifact is None else None
        if hint:
            self.log.info(hint, event="debug", generation=generation.number, pid=generation.pid)
        if self.browser is not None:  # before the summary line: a page may ask right after it
            self.browser.ready(generation.number, old.pid if old is not None else None)
        if old is None:
            self.reports.done(generation)
        self.tell_supervisor(f"READY=1\nSTATUS=serving generation {generation.number} (pid {generation.pid})"
                             f"\nMAINPID={os.getpid()}")
        self.pusher.generation_ready(generation.number)
        self.pusher.try_push()
        if self.service.mode is SocketMode.NONE:
            self.own_port.hint_listen_once(generation)
        if how == "READY=1":
            self.own_port.after_ready_signal(generation)

    def _ready_timeout(self, generation: Generation) -> None:
        if generation is not self.lineup.candidate or generation.state is not State.STARTING:
            return
        self.log.error(
            f"generation {generation.number} not ready after {format_duration(self.settings.run_ready_timeout)}: "
            f"killed{self.readiness.timeout_hint()}; {self.lineup.still_serving()}",
            event="not_ready", generation=generation.number,
        )
        self._abandon(generation)

    def _abandon(self, generation: Generation) -> None:
        self.readiness.disarm(generation.number)
        if self.lineup.candidate is generation:
            self.lineup.candidate = None
        generation.kill()
        self.pusher.try_push()

    # -- exits ---------------------------------------------------------------------
    def on_exit(self, number: int, code: int) -> None:
        lineup = self.lineup
        generation = lineup.get(number)
        if generation is None:
            return
        was = generation.state
        generation.finished(code)
        self.readiness.disarm(number)
        self.drains.gone(number)
        self.pusher.generation_gone(number)
        if generation is lineup.candidate:
            lineup.candidate = None
            self._failed_start(generation, code)
        elif generation is lineup.serving and was is not State.DRAINING:
            lineup.serving = None
            if not self.stopping:
                self.restarts.crashed(generation, code)
        elif generation.replaced_by is not None:
            self.drains.exited(generation)
        elif self.stopping:
            self.log.info(f"generation {number} stopped ({describe_exit(code)})", event="stopped",
                          generation=number, code=code)
        lineup.forget(number)  # a daemon that reloads for months keeps only the living
        self.reports.drop(number)  # a start that failed, was not ready or was superseded: no summary comes
        self.history.prune(self.service.files, [g.binary for g in lineup.alive()])
        platform.trim_malloc()  # what this generation's reload allocated is free: RSS back to what is live
        if lineup.waiting is not None and not self.lineup.alive():
            number_next, binary = lineup.waiting
            lineup.waiting = None
            if not self.stopping:
                self._start(number_next, binary)

    def _failed_start(self, generation: Generation, code: int) -> None:
        number = generation.number
        in_use = None if self.stopping else self.own_port.failed_in_use(generation, code, self.lineup.live_serving())
        if in_use:  # it binds the port itself: the same build again, stop-then-start (or beside the old one)
            self.launch(self.lineup.new_number(), generation.binary)
            return
        if in_use is not None:  # said why already
            self.log.error(f"generation {number}: {self.lineup.still_serving()}")
        else:
            self.log.error(f"generation {number} exited before it was ready ({describe_exit(code)}); "
                           f"{self.lineup.still_serving()}", event="failed_start", generation=number, code=code)
        self.pusher.try_push()

    def _restart(self, binary: Path) -> None:
        """A crash restart (or a roll back after giving up): unless something else started meanwhile.
        A binary whose file is gone for good is not started: a new build (or deploy) replaces it."""
        if self.stopping or self.lineup.serving is not None or self.lineup.candidate is not None:
            return
        if not self.binaries.startable(binary):
            if self.builds.running is None:  # else the build under way replaces it
                self.builds.start(None)
            return
        self._start(self.lineup.new_number(), binary)

    def _restart_same_build(self) -> Optional[int]:
        """Config push method `restart`: a zero-downtime handoff to a fresh process of the same build."""
        serving = self.lineup.serving
        if serving is None or self.stopping:
            return None
        if not self.binaries.startable(serving.binary, otherwise="the config push fails"):
            return None
        number = self.lineup.new_number()
        self.launch(number, serving.binary)
        started = self.lineup.candidate is not None or self.lineup.waiting is not None
        return number if started else None

    # -- stopping; what hotgo's own supervisor (systemd) is told -----------------------
    def tell_supervisor(self, message: str) -> None:
        if self.supervisor_socket:
            send_notify(self.supervisor_socket, message)

    def on_stop(self, reason: str) -> None:
        if self.stopping:
            self.log.warn("second stop request: killing everything now", event="kill_all")
            for generation in self.lineup.alive():
                generation.kill()
            return
        self.stopping = True
        self.binaries.stop()
        self.tell_supervisor("STOPPING=1")
        self.lineup.waiting = None
        self.builds.stop()
        self.restarts.cancel()
        if self.lineup.candidate is not None:
            self._abandon(self.lineup.candidate)
        live = self.lineup.alive()
        numbers = [g.number for g in live]
        what = (f"draining generation{'s' if len(live) > 1 else ''} {', '.join(map(str, numbers))} and exiting"
                if live else "no generation is running; exiting")
        self.log.info(f"{reason}: {what}", event="stopping", reason=reason, generations=numbers)
        for generation in live:
            if generation.state is not State.DRAINING:
                self.drains.stop(generation, replaced_by=None)
