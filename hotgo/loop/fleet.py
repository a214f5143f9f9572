"""Several services in one hotgo: one loop, one inbox, a supervisor per service.

Each supervisor keeps its own generations, sockets, builds, drains, crash policy and pushes; it
posts through its `Lane`, which tags the event with its name, so the fleet hands every event back
to the supervisor it came from. What concerns every service arrives untagged and is the fleet's:
file changes (routed by what each service imports: loop/change_router.py), generator steps, stop
requests and `hotgo status|reload|rollback|stop [NAME]`. With one service the fleet only passes
things through, and nothing in its output changes.
"""

from __future__ import annotations

import os
from typing import Any, Dict, List, Optional

from hotgo.log import Log
from hotgo.loop import events as ev
from hotgo.loop.change_router import ChangeRouter
from hotgo.loop.generate_steps import GenerateSteps, StepDone
from hotgo.loop.graph_updates import GraphRead, GraphUpdates
from hotgo.loop.inbox import Inbox
from hotgo.loop.supervisor import Supervisor
from hotgo.watch.change_set import ChangeSet


class Lane(Inbox):
    """One supervisor's view of the shared inbox: the same queue and timers, its posts tagged."""

    def __init__(self, inbox: Inbox, name: str) -> None:
        self.events = inbox.events
        self.timers = inbox.timers
        self.name = name

    def post(self, event: ev.Event) -> None:
        self.events.put(ev.ForService(self.name, event))


class Fleet:
    def __init__(self, supervisors: Dict[str, Supervisor], inbox: Inbox, log: Log, router: ChangeRouter) -> None:
        """`supervisors` by service name ("" for the one service of a single-service run)."""
        self.supervisors = supervisors
        self.inbox = inbox
        self.log = log
        self.router = router
        self.generate: Optional[GenerateSteps] = None  # [[generate]] steps, when there are any
        self.graph: Optional[GraphUpdates] = None  # several services: what each imports, read anew

    def build(self, change: ChangeSet) -> None:
        """Hand a change to the services it concerns: they push config or rebuild."""
        for name, routed in self.router.route(change).items():
            self.supervisors[name].on_change(routed)

    @property
    def several(self) -> bool:
        return len(self.supervisors) > 1

    def run(self) -> int:
        if self.generate is not None:
            self.generate.at_start(self._begin)
        else:
            self._begin()
        self.inbox.run(self.dispatch, self.done)
        return 0

    def _begin(self) -> None:
        for supervisor in self.supervisors.values():
            supervisor.begin()

    def done(self) -> bool:
        if self.generate is not None and self.generate.then is not None:
            return False  # the steps at start have not ended: the first builds are still to come
        return all(supervisor.done() for supervisor in self.supervisors.values())

    def dispatch(self, event: ev.Event) -> None:
        if isinstance(event, ev.ForService):
            supervisor = self.supervisors.get(event.name)
            if supervisor is not None:
                supervisor.dispatch(event.event)
        elif isinstance(event, ev.FilesChanged):
            if self.generate is not None:
                self.generate.changed(event.change)  # it builds, once its steps ran
            else:
                self.build(event.change)
        elif isinstance(event, StepDone):
            if self.generate is not None:
                self.generate.done(event)
        elif isinstance(event, ev.StopRequested):
            if self.generate is not None:
                self.generate.stop()
            for supervisor in self.supervisors.values():
                supervisor.on_stop(event.reason)
        elif isinstance(event, ev.ControlRequest):
            event.slot.answer(self.answer(event.command, event.service))
        elif isinstance(event, ev.ReopenLog):
            self.log.reopen()
        elif isinstance(event, ev.Deferred):
            event.action()
        elif isinstance(event, GraphRead):
            if self.graph is not None:
                self.graph.done(event)
        else:  # a single-service run posts to its supervisor directly (the scripted tests' way too)
            for supervisor in self.supervisors.values():
                supervisor.dispatch(event)

    # -- hotgo status|reload|rollback|stop [NAME] --------------------------------------
    def answer(self, command: str, name: str) -> Dict[str, Any]:
        if not self.several and not name:
            return next(iter(self.supervisors.values())).control.answer(command)
        if name:
            supervisor = self.supervisors.get(name)
            if supervisor is None:
                known = ", ".join(sorted(self.supervisors)) or "none"
                return {"ok": False, "error": f"no service named {name!r}; services: {known}"}
            if supervisor.stopping and command in ("reload", "rollback") and self.several:
                return {"ok": False, "error": f"{name} is stopped (`hotgo stop {name}` or a stop request); "
                                             "restart hotgo to run it again"}
            reply = supervisor.control.answer(command)
            if command == "status" and reply.get("ok"):
                reply["status"]["service"] = name
            if command == "stop" and reply.get("ok"):  # hotgo itself keeps running the others
                reply.pop("pid", None)
                reply.update(message=f"draining and stopping {name}", service=name)
            return reply
        return self._answer_all(command)

    def _answer_all(self, command: str) -> Dict[str, Any]:
        replies = {name: s.control.answer(command) for name, s in self.supervisors.items()}
        if command == "status":
            return {"ok": True, "status": {"services": {name: reply["status"] for name, reply in replies.items()},
                                           "hotgo_pid": os.getpid()}}
        failed = {name: reply for name, reply in replies.items() if not reply.get("ok")}
        lines: List[str] = [f"{name}: {reply.get('message') or reply.get('error', '')}"
                            for name, reply in replies.items()]
        answer: Dict[str, Any] = {"ok": not failed or len(failed) < len(replies), "message": "; ".join(lines),
                                  "services": replies}
        if failed and len(failed) == len(replies):
            answer["error"] = "; ".join(lines)
        pids = [reply["pid"] for reply in replies.values() if "pid" in reply]
        if pids:
            answer["pid"] = pids[0]  # hotgo's own: `hotgo stop` waits for it to exit
        return answer
