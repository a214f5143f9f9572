"""Fakes for driving the supervisor's loop with scripted event histories, without Go or processes.

The supervisor takes its clock, its build starter and its process starter as parameters;
here they record what the loop asked for (`actions`) instead of doing it. A test posts
the events a real run would post (a build finished, READY=1 arrived, a process exited),
moves the fake clock, and asserts the actions and the `--log-format json` events.
`Pushing` does the same for the config pusher alone.
"""

from __future__ import annotations

import io
import json
import queue
import time
import weakref
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

from hotgo.build.go_build import Build, BuildResult
from hotgo.build.go_module import GoPackage
from hotgo.deadlines import Timers
from hotgo.handoff.generation import Generation, State
from hotgo.handoff.notify import Message
from hotgo.handoff.shared_port import SharedPort
from hotgo.log import Log
from hotgo.loop.events import BuildDone, Event, Exited, FilesChanged, Notified, StopRequested
from hotgo.loop.service import Service
from hotgo.loop.supervisor import Supervisor
from hotgo.push.pusher import ConfigPusher
from hotgo.push.validate import Verdict
from hotgo.settings.push_method import parse_push
from hotgo.settings.schema import Settings
from hotgo.watch.change_set import ChangeSet

Action = Tuple[Any, ...]


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class JsonLog(Log):
    """The real JSON log, read back as records."""

    def __init__(self) -> None:
        self.out = io.StringIO()
        super().__init__(self.out, json_format=True)

    def records(self) -> List[Dict[str, Any]]:
        assert self.flush(5), "the log writer did not catch up"
        return [json.loads(line) for line in self.out.getvalue().splitlines()]


class FakeBuild(Build):
    """A Build (the supervisor's `new_build` makes them) that never runs go: start and cancel
    are recorded; the test posts the result."""

    def __init__(self, actions: List[Action], go: str, root: Path, package: str, binary: Path, generation: int,
                 flags: Sequence[str], env: Dict[str, str], log: Log, on_done: Callable[[BuildResult], None],
                 output: Optional[Path] = None) -> None:
        super().__init__(go, root, package, binary, generation, flags, env, log, on_done, output)
        self.actions = actions

    def start(self) -> None:
        self.actions.append(("build", self.generation))

    def cancel(self) -> None:
        self.actions.append(("cancel build", self.generation))


class FakeGeneration(Generation):
    """A Generation (the supervisor's `new_generation` makes them) whose process is imaginary:
    start, stop and kill are recorded; mypy holds the overrides to Generation's signatures."""

    def __init__(self, script: Script, number: int, binary: Path, name: str) -> None:
        super().__init__(number, binary, name)
        self.script = script
        self.env: Dict[str, str] = {}
        self.running = False

    @property
    def pid(self) -> int:
        return 40000 + self.number if self.running else 0

    def start(self, args: Sequence[str], env: Dict[str, str], cwd: Path, inherited: Sequence[int],
              notify_dir: Path, log: Log, on_message: Callable[[int, Message], None],
              on_exit: Callable[[int, int], None]) -> None:
        if self.script.spawn_fails:
            raise OSError("exec format error")
        self.env = dict(env)
        self.running = True
        self.started = self.script.clock()
        self.started_wall = time.time()
        self.script.actions.append(("start", self.number, self.binary.name))

    def request_stop(self, signal_name: str) -> bool:
        """Delivered, as Generation.request_stop says of a signal sent (False: not delivered)."""
        if self.state is not State.STOPPED:
            self.state = State.DRAINING
            self.stop_sent = self.script.clock()
        self.script.actions.append(("stop", self.number, signal_name))
        return True

    def kill(self) -> None:
        self.script.actions.append(("kill", self.number))


class Script:
    """One supervisor with fakes; post events, move the clock, read what it did."""

    def __init__(self, tmp_path: Path, **settings: Any) -> None:
        # Readiness comes from READY=1 only (a ready delay longer than any test), unless a test says otherwise.
        defaults: Dict[str, Any] = {"run_ready": "delay:1h", "run_socket": "reuseport"}
        self.settings = Settings(**{**defaults, **settings})
        self.root = tmp_path
        self.clock = FakeClock()
        self.actions: List[Action] = []
        self.spawn_fails = False
        self.made: List[weakref.ReferenceType[FakeGeneration]] = []  # every generation, weakly: which are kept
        self.log = JsonLog()
        package = GoPackage(root=tmp_path, package=".", name="svc")
        # Listen addresses are only looked at (no socket is bound): hotgo's own sockets are not faked.
        shared = SharedPort(self.settings.socket_mode, self.settings.run_socket != "auto", self.settings.run_listen,
                            ())
        service = Service(self.settings, package, "go", shared, tmp_path, tmp_path / ".hotgo", tmp_path / "notify")
        self.supervisor = Supervisor(
            service, self.log, clock=self.clock, new_build=self._build,
            new_generation=self._generation,
        )

    def _generation(self, number: int, binary: Path, name: str) -> FakeGeneration:
        generation = FakeGeneration(self, number, binary, name)
        self.made.append(weakref.ref(generation))
        return generation

    def _build(self, go: str, root: Path, package: str, binary: Path, generation: int, flags: Sequence[str],
               env: Dict[str, str], log: Log, on_done: Callable[[BuildResult], None],
               output: Optional[Path] = None) -> FakeBuild:
        build = FakeBuild(self.actions, go, root, package, binary, generation, flags, env, log, on_done, output)
        build.binary.parent.mkdir(parents=True, exist_ok=True)
        build.binary.write_bytes(b"binary")  # rollback only returns to builds still on disk
        return build

    # -- driving -------------------------------------------------------------------
    def pump(self) -> None:
        """Turns of the supervisor's loop (Supervisor.turn) until no event is queued and no timer is due."""
        supervisor, inbox = self.supervisor, self.supervisor.inbox
        while True:
            try:
                event: Optional[Event] = inbox.events.get_nowait()
            except queue.Empty:
                event = None
            inbox.turn(supervisor.dispatch, event)
            if event is None and inbox.events.empty():
                return

    def post(self, *events: Event) -> None:
        """Events that arrive together: all queued before the loop sees the first."""
        for event in events:
            self.supervisor.post(event)
        self.pump()

    def advance(self, seconds: float) -> None:
        self.clock.now += seconds
        self.pump()

    def first_build(self) -> None:
        self.supervisor.builds.start(None)
        self.pump()

    def built(self, number: int, ok: bool = True, output: Optional[List[str]] = None) -> None:
        binary = self.supervisor.service.bin_dir / f"svc-{number}"
        self.post(BuildDone(BuildResult(number, binary, ok, 0.4, output or [])))

    def ready(self, number: int) -> Event:
        return Notified(number, {"READY": "1"})

    def exited(self, number: int, code: int = 0) -> Event:
        return Exited(number, code)

    def changed(self, name: str = "main.go") -> None:
        now = self.clock()
        self.post(FilesChanged(ChangeSet((self.root / name,), now - 0.06, now)))

    def stop(self) -> None:
        self.post(StopRequested("SIGINT"))

    def serve_first(self) -> None:
        """Generation 1 built, started and ready."""
        self.first_build()
        self.built(1)
        self.post(self.ready(1))

    def hand_off(self, number: int) -> None:
        """A change, its build, the new generation ready, the old one gone."""
        old = self.supervisor.lineup.serving
        self.changed()
        self.built(number)
        self.post(self.ready(number))
        if old is not None:
            self.post(self.exited(old.number, 0))

    # -- reading ---------------------------------------------------------------------
    def events(self, name: str) -> List[Dict[str, Any]]:
        return [record for record in self.log.records() if record["event"] == name]

    def since(self, mark: int) -> List[Action]:
        return self.actions[mark:]

    @property
    def serving(self) -> int:
        serving = self.supervisor.lineup.serving
        return serving.number if serving is not None else 0

    @property
    def candidate(self) -> int:
        candidate = self.supervisor.lineup.candidate
        return candidate.number if candidate is not None else 0


class Pushing:
    """A ConfigPusher with a fake clock, a fake signal sender and one serving generation."""

    def __init__(self, tmp_path: Path, push: str = "signal:SIGHUP", busy: bool = False) -> None:
        self.clock = FakeClock()
        self.timers = Timers(self.clock)
        self.log = JsonLog()
        self.signals: List[Tuple[int, str]] = []
        self.pushed: List[int] = []
        self.busy = busy
        self.root = tmp_path
        self.serving: Optional[Generation] = Generation(1, tmp_path / "svc-1", "svc")
        self.serving.state = State.READY
        self.pusher = ConfigPusher(
            parse_push(push), None, 5.0, 0.5, 0.05, None, tmp_path, tmp_path, self.log,
            self.timers.after, lambda event: None,
            serving=lambda: self.serving, busy=lambda: self.busy, restart=lambda: None,
            clock=self.clock, send_signal=self._signal,
        )
        self.pusher.pushed = self.pushed.append

    def _signal(self, generation: Generation, name: str) -> bool:
        self.signals.append((generation.number, name))
        return True

    def checked(self, *names: str, ok: bool = True, message: str = "") -> None:
        self.pusher.on_checked([(self.root / name, Verdict(ok, message)) for name in names])

    def notify(self, **message: str) -> None:
        """What generation 1 sends on its NOTIFY_SOCKET."""
        self.pusher.on_notify(1, dict(message))

    def notify_from(self, number: int, **message: str) -> None:
        self.pusher.on_notify(number, dict(message))

    def advance(self, seconds: float) -> None:
        self.clock.now += seconds
        self.timers.run_due()

    def results(self) -> List[Dict[str, Any]]:
        return [r for r in self.log.records() if r["event"] == "config_push"]
