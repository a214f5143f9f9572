"""`[config] push`: how a config change is told to the service, parsed from its text form.

Parsing lives here, apart from the pusher (hotgo.push.pusher), so that the settings
declarations can check a value without importing the runtime that uses it.
"""

from __future__ import annotations

import ipaddress
import re
import urllib.parse
from dataclasses import dataclass

from hotgo.choices import Kind
from hotgo.errors import shown
from hotgo.settings.addresses import host_name_problem
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


_EXAMPLE = "'http:POST http://127.0.0.1:{port}/-/reload'"
_REQUEST_LINE = re.compile(r"[!-~]*", re.ASCII)  # what an HTTP request line carries as it is
_DIGITS = re.compile(r"[0-9]+", re.ASCII)


def parse_push(text: str) -> PushMethod:
    value = text.strip()
    said = shown(text)
    if value in (PushKind.RESTART.value, PushKind.NONE.value):
        return PushMethod(PushKind(value))
    if value.startswith("signal:"):
        return PushMethod(PushKind.SIGNAL, signal=parse_signal(value[7:]))
    if value.startswith("http:"):
        method, _, url = value[5:].strip().partition(" ")
        if not url:
            method, url = "POST", method
        if method.upper() not in HTTP_METHODS:
            raise ValueError(f"push {said}: HTTP method must be one of {', '.join(HTTP_METHODS)}")
        _check_url(url.strip(), said)
        return PushMethod(PushKind.HTTP, method=method.upper(), url=url.strip())
    raise ValueError(f"push {said} is not one of 'signal:SIGHUP', 'http:POST URL', 'restart', 'none'")


def _check_url(url: str, said: str) -> None:
    """Everything the push thread's request needs, checked now: it cannot fail there on the URL itself."""
    try:
        parts = urllib.parse.urlsplit(url.replace("{port}", "1"))
    except ValueError as err:  # "Invalid IPv6 URL"
        raise ValueError(f"push {said}: not a URL ({err}); expected e.g. {_EXAMPLE}") from None
    if parts.scheme != "http" or not parts.hostname:
        raise ValueError(f"push {said}: expected e.g. {_EXAMPLE}")
    try:
        port = parts.port  # out of 0..65535, or not a number: raises
    except ValueError:
        port = 0
    if not _DIGITS.fullmatch(_written_port(parts.netloc) or "0"):
        port = 0  # digits other than 0-9, which some Pythons read
    if port == 0:
        raise ValueError(f"push {said}: the port must be a number 1..65535, or {{port}} (the first listen port)")
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    if not _REQUEST_LINE.fullmatch(target):
        raise ValueError(f"push {said}: the path goes into an HTTP request line: printable ASCII without "
                         "spaces; percent-encode the rest (a space is %20)")
    problem = "" if _is_ip(parts.hostname) else host_name_problem(parts.hostname)
    if problem:
        raise ValueError(f"push {said}: {problem}")


def _written_port(netloc: str) -> str:
    """The port as a URL writes it ("" when none): after the user info and an IPv6 host's brackets."""
    host_port = netloc.rpartition("@")[2].rpartition("]")[2]
    return host_port.rpartition(":")[2] if ":" in host_port else ""


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True
