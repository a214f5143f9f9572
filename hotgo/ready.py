"""When does a new generation count as ready? (DESIGN §2)

`READY=1` on NOTIFY_SOCKET is exact. An HTTP probe through the shared port may
be answered by the old generation, so it only counts when the answer carries
the new generation's `X-Hotgo-Generation` header (the Go helper adds it) — or,
without that header, as a documented heuristic. `auto` waits for READY=1 from
services that have shown they speak sd_notify, and otherwise assumes a process
still alive after a short delay is ready (a heuristic, said so in the log).
"""

from __future__ import annotations

import http.client
import threading
import time
import urllib.parse
from dataclasses import dataclass
from typing import Callable

from hotgo.settings import parse_duration

AUTO_DELAY = 0.5  # heuristic wait for services that never sent READY=1
GENERATION_HEADER = "X-Hotgo-Generation"


@dataclass(frozen=True)
class ReadyPlan:
    kind: str  # auto | notify | http | delay
    path: str = ""
    delay: float = 0.0


def plan(spec: str) -> ReadyPlan:
    if spec.startswith("http:"):
        return ReadyPlan("http", path=spec[5:])
    if spec.startswith("delay:"):
        return ReadyPlan("delay", delay=parse_duration(spec[6:]))
    return ReadyPlan(spec)


class HttpProbe:
    """Polls a URL until it answers 2xx for this generation; gives up when told to stop."""

    def __init__(self, url: str, generation: int, on_ready: Callable[[str], None]) -> None:
        self.url = url
        self.generation = generation
        self.on_ready = on_ready
        self._stop = threading.Event()
        threading.Thread(target=self._run, name=f"hotgo-probe-{generation}", daemon=True).start()

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        parts = urllib.parse.urlsplit(self.url)
        host = parts.hostname or "127.0.0.1"
        while not self._stop.is_set():
            verdict = self._probe_once(host, parts.port or 80, parts.path or "/")
            if verdict:
                self.on_ready(verdict)
                return
            self._stop.wait(0.05)

    def _probe_once(self, host: str, port: int, path: str) -> str:
        conn = http.client.HTTPConnection(host, port, timeout=2)
        try:
            conn.request("GET", path, headers={"Connection": "close", "User-Agent": "hotgo-probe"})
            response = conn.getresponse()
            response.read()
        except (OSError, http.client.HTTPException):
            return ""
        finally:
            conn.close()
        if not 200 <= response.status < 300:
            return ""
        served_by = response.getheader(GENERATION_HEADER)
        if served_by is None:
            return f"GET {path} answered {response.status} (no {GENERATION_HEADER} header: heuristic)"
        if served_by.strip() == str(self.generation):
            return f"GET {path} answered {response.status} from this generation"
        return ""


def wait_until(condition: Callable[[], bool], timeout: float, step: float = 0.02) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(step)
    return condition()
