"""`[config] push`: how a config change is told to the service, parsed from its text form.

Parsing lives here, apart from the pusher (hotgo.push.pusher), so that the settings
declarations can check a value without importing the runtime that uses it.
"""

from __future__ import annotations

import urllib.parse
from dataclasses import dataclass

from hotgo.choices import Kind
from hotgo.settings.signal_names import parse_signal

HTTP_METHODS = ("POST", "PUT", "GET")


class PushKind(Kind):
    SIGNAL = "signal"  # a signal such as SIGHUP; the answer comes by notify-reload
    HTTP = "http"  # a request to the service; a 2xx is the answer
    RESTART = "restart"  # a zero-downtime handoff to a fresh process of the same build
    NONE = "none"  # not told at all


@dataclass(frozen=True)
class PushMethod:
    kind: PushKind
    signal: str = ""
    method: str = "POST"
    url: str = ""

    def __str__(self) -> str:
        if self.kind is PushKind.SIGNAL:
            return f"signal:{self.signal}"
        if self.kind is PushKind.HTTP:
            return f"http:{self.method} {self.url}"
        return str(self.kind)


def parse_push(text: str) -> PushMethod:
    value = text.strip()
    if value in (PushKind.RESTART.value, PushKind.NONE.value):
        return PushMethod(PushKind(value))
    if value.startswith("signal:"):
        return PushMethod(PushKind.SIGNAL, signal=parse_signal(value[7:]))
    if value.startswith("http:"):
        method, _, url = value[5:].strip().partition(" ")
        if not url:
            method, url = "POST", method
        if method.upper() not in HTTP_METHODS:
            raise ValueError(f"push {text!r}: HTTP method must be one of {', '.join(HTTP_METHODS)}")
        parts = urllib.parse.urlsplit(url.replace("{port}", "1"))
        if parts.scheme != "http" or not parts.hostname:
            raise ValueError(f"push {text!r}: expected e.g. 'http:POST http://127.0.0.1:{{port}}/-/reload'")
        return PushMethod(PushKind.HTTP, method=method.upper(), url=url)
    raise ValueError(f"push {text!r} is not one of 'signal:SIGHUP', 'http:POST URL', 'restart', 'none'")
