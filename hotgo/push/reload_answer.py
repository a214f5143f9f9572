"""A service's sd_notify answer to one signal push (systemd's notify-reload protocol).

The answer begins with RELOADING=1; STATUS=/ERRNO= after it say how the reload went, and
READY=1 ends it. What the service said before RELOADING=1 (its start-up READY=1, a
STATUS= about something else) says nothing about the push. Which messages reach an answer
at all (the push's own generation, after the push was sent) is the pusher's to decide.
"""

from __future__ import annotations

from typing import Optional, Tuple

from hotgo.handoff.notify import Message
from hotgo.push.outcome import PushOutcome
from hotgo.push.validator_errors import looks_like_error

Verdict = Tuple[PushOutcome, str]  # the outcome and the message shown with it


class ReloadAnswer:
    """What one generation said since hotgo began to listen for its answer to a push."""

    def __init__(self) -> None:
        self.reloading = False
        self.status = ""

    def hear(self, message: Message) -> Optional[Verdict]:
        """The push's outcome once `message` completes the answer; None while it does not."""
        if message.get("RELOADING") == "1":
            self.reloading, self.status = True, ""  # a reload begun again: only its own words count
        if not self.reloading:
            return None
        self.status = message.get("STATUS", self.status)
        errno = message.get("ERRNO", "")
        # An error is the end of the answer: some services (Caddy) send no READY=1 after one.
        if errno and errno != "0":
            return PushOutcome.FAILED, self.status or f"ERRNO={errno}"
        if "STATUS" in message and looks_like_error(self.status):
            return PushOutcome.FAILED, self.status
        if message.get("READY") == "1":
            return PushOutcome.CONFIRMED, self.status or "RELOADING=1 … READY=1"
        return None
