"""One output stream for hotgo's own lines and its services' lines.

Text (default): prefixed lines, coloured only on a terminal without NO_COLOR.
JSON (`--log-format json`): one object per line with time, level, event,
generation, pid and message; the service's lines are `output` events.
`--log-file`: appended to, reopened on SIGUSR1 (logrotate), rotated by size.

Nothing that logs ever waits for the output: lines are queued and one writer
thread writes them in batches (one write and flush per batch, which is also what
keeps relaying a chatty service cheap). When hotgo's own output is not being read
(a pipe nobody drains, a stopped terminal), hotgo's own lines keep queuing, but a
service's lines beyond MAX_QUEUED_BYTES are dropped and counted, and the count is
said once the output moves again: a service must never stall because its log
cannot be written.
"""

from __future__ import annotations

import copy
import json
import os
import sys
import threading
import time
from collections import deque
from pathlib import Path
from typing import Any, Deque, Dict, Optional, TextIO

import colorama

_RESET = colorama.Style.RESET_ALL
DIM = colorama.Style.DIM
BRIGHT = colorama.Style.BRIGHT
RED = colorama.Fore.RED
_GEN_COLOURS = (colorama.Fore.GREEN, colorama.Fore.MAGENTA, colorama.Fore.BLUE, colorama.Fore.YELLOW)
_SERVICE_COLOURS = (colorama.Fore.CYAN, colorama.Fore.MAGENTA, colorama.Fore.GREEN, colorama.Fore.YELLOW,
                    colorama.Fore.BLUE, colorama.Fore.LIGHTRED_EX, colorama.Fore.LIGHTCYAN_EX,
                    colorama.Fore.LIGHTMAGENTA_EX)
_LEVEL_COLOURS = {
    "info": colorama.Fore.CYAN,
    "ok": colorama.Fore.GREEN,
    "warn": colorama.Fore.YELLOW,
    "error": colorama.Fore.RED,
}
LOG_FORMATS = ("text", "json")
ROTATE_BYTES = 10 * 1024 * 1024
MAX_QUEUED_BYTES = 4 * 1024 * 1024  # service output held while hotgo's output is blocked


def colour_wanted(stream: TextIO, no_color_flag: bool) -> bool:
    if no_color_flag or "NO_COLOR" in os.environ:
        return False
    return hasattr(stream, "isatty") and stream.isatty()


class _Output:
    """Where the lines go, shared by a Log and its named views (hotgo/loop/fleet.py: one per service):
    the stream, the queue and the one writer thread."""

    def __init__(self, stream: Optional[TextIO], path: Optional[Path], rotate_bytes: int) -> None:
        self.path = path
        self.rotate_bytes = rotate_bytes
        self.stream = self._open() if path is not None else (stream or sys.stdout)
        self.lock = threading.Lock()  # the stream: writes, reopen, rotation, the status line
        self.status = ""  # live status line currently shown (terminal only)
        self.queue: Deque[str] = deque()  # formatted text waiting for the writer
        self.queued_service_bytes = 0
        self.dropped: Dict[str, int] = {}  # service tag -> lines dropped since the last notice
        self.writing = False
        self.wake = threading.Condition()
        self.writer: Optional[threading.Thread] = None

    def _open(self) -> TextIO:
        assert self.path is not None
        self.path.parent.mkdir(parents=True, exist_ok=True)
        return self.path.open("a", encoding="utf-8")

    def reopen(self) -> None:
        if self.path is None:
            return
        with self.lock:
            old, self.stream = self.stream, self._open()
            old.close()

    def rotate_if_big(self) -> None:
        if self.path is None:
            return
        try:
            if self.stream.tell() < self.rotate_bytes:
                return
            self.stream.close()
            os.replace(self.path, self.path.with_name(self.path.name + ".1"))
        except (OSError, ValueError):
            pass
        self.stream = self._open()


class Log:
    def __init__(
        self,
        stream: Optional[TextIO] = None,
        colour: bool = False,
        json_format: bool = False,
        path: Optional[Path] = None,
        rotate_bytes: int = ROTATE_BYTES,
    ) -> None:
        self._out = _Output(stream, path, rotate_bytes)
        self.json = json_format
        self.colour = colour and not json_format and path is None
        stream_now = self._out.stream
        self.interactive = (not json_format and path is None and hasattr(stream_now, "isatty")
                            and stream_now.isatty())
        self.name = ""  # a named view's service (several services in one hotgo)
        self._name_colour = ""
        if self.colour:
            colorama.just_fix_windows_console()

    def named(self, name: str, index: int) -> Log:
        """The same output, for one service of several: its lines are prefixed with its name in a
        colour of its own, and every JSON event carries `service`."""
        view = copy.copy(self)
        view.name = name
        view._name_colour = _SERVICE_COLOURS[index % len(_SERVICE_COLOURS)]
        return view

    @property
    def stream(self) -> TextIO:
        return self._out.stream

    @property
    def path(self) -> Optional[Path]:
        return self._out.path

    def reopen(self) -> None:
        """After logrotate moved the file (SIGUSR1): write to a fresh one at the same path."""
        self._out.reopen()

    def paint(self, text: str, *styles: str) -> str:
        if not self.colour or not styles:
            return text
        return "".join(styles) + text + _RESET

    def _write(self, line: str) -> None:
        self._enqueue(line + "\n")

    def _enqueue(self, text: str, service: str = "", lines: int = 0) -> None:
        """Queue text for the writer; a service's text (`service` set) is dropped when too much waits."""
        out = self._out
        with out.wake:
            if service:
                if out.queued_service_bytes + len(text) > MAX_QUEUED_BYTES:
                    out.dropped[service] = out.dropped.get(service, 0) + lines
                    return
                out.queued_service_bytes += len(text)
            out.queue.append(text)
            if out.writer is None:
                out.writer = threading.Thread(target=self._write_loop, name="hotgo-log", daemon=True)
                out.writer.start()
            out.wake.notify()

    def _write_loop(self) -> None:
        out = self._out
        while True:
            with out.wake:
                while not out.queue:
                    out.writing = False
                    out.wake.notify_all()  # flush() waits for this
                    out.wake.wait()
                out.writing = True
                batch = "".join(out.queue)
                out.queue.clear()
                out.queued_service_bytes = 0
                dropped, out.dropped = out.dropped, {}
            notices = "".join(self._drop_notice(service, count) + "\n" for service, count in dropped.items())
            with out.lock:
                clear = "\r\033[K" if out.status else ""
                try:
                    out.stream.write(clear + notices + batch + out.status)
                    out.stream.flush()
                    out.rotate_if_big()
                except (OSError, ValueError):
                    pass  # a closed terminal or a full disk must not kill the supervisor

    def _drop_notice(self, service: str, count: int) -> str:
        message = (f"dropped {count} line{'s' if count != 1 else ''} of {service}'s output: hotgo's own "
                   "output was not being read, and the service must not wait for it")
        if self.json:
            return self._format_record("warn", "output_dropped", message, service=service, lines=count)
        return f"{self.paint('hotgo', BRIGHT, _LEVEL_COLOURS['warn'])} │ {self.paint(message, _LEVEL_COLOURS['warn'])}"

    def flush(self, timeout: float = 2.0) -> bool:
        """Wait until everything queued has been written; False if the output stayed blocked."""
        deadline = time.monotonic() + timeout
        out = self._out
        with out.wake:
            while out.queue or out.writing:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                out.wake.wait(left)
        return True

    def _format_record(self, level: str, event: str, message: str, **fields: Any) -> str:
        now = time.time()
        record = {"time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{int(now % 1 * 1000):03d}Z",
                  "level": level, "event": event or "log"}
        record.update({k: v for k, v in fields.items() if v not in (None, "")})
        record["message"] = message
        return json.dumps(record, ensure_ascii=False)

    def _record(self, level: str, event: str, message: str, **fields: Any) -> None:
        self._write(self._format_record(level, event, message, **fields))

    def say(self, level: str, message: str, event: str = "", generation: int = 0, **fields: Any) -> None:
        if self.json:
            named = {"service": self.name} if self.name else {}
            self._record(level, event, message, generation=generation or None, **named, **fields)
            return
        tag = self.paint("hotgo", BRIGHT, _LEVEL_COLOURS.get(level, ""))
        if self.name:
            tag += " " + self.paint(self.name, BRIGHT, self._name_colour)
        if level in ("warn", "error"):
            message = self.paint(message, _LEVEL_COLOURS[level])
        self._write(f"{tag} │ {message}")

    def info(self, message: str, event: str = "", generation: int = 0, **fields: Any) -> None:
        self.say("info", message, event, generation, **fields)

    def ok(self, message: str, event: str = "", generation: int = 0, **fields: Any) -> None:
        self.say("ok", message, event, generation, **fields)

    def warn(self, message: str, event: str = "", generation: int = 0, **fields: Any) -> None:
        self.say("warn", message, event, generation, **fields)

    def error(self, message: str, event: str = "", generation: int = 0, **fields: Any) -> None:
        self.say("error", message, event, generation, **fields)

    def raw(self, line: str, event: str = "build_output") -> None:
        """A line that carries its own formatting (compiler output)."""
        if self.json:
            self._record("info", event, line)
        else:
            self._write(line)

    def service(self, name: str, generation: int, lines: str, pid: int = 0) -> None:
        """Whole lines a service wrote (one read's worth, each ending in a newline): queued as one
        piece, dropped if hotgo's output is stuck. A named view tells its service by name and colour."""
        count = lines.count("\n")
        name = self.name or name
        colour = self._name_colour or _GEN_COLOURS[generation % len(_GEN_COLOURS)]
        if self.json:
            text = "".join(self._format_record("info", "output", line, generation=generation, pid=pid or None,
                                               service=name) + "\n" for line in lines[:-1].split("\n"))
        else:
            prefix = self.paint(f"{name} {generation}", colour) + " │ "
            text = prefix + lines[:-1].replace("\n", "\n" + prefix) + "\n"
        self._enqueue(text, service=f"{name} {generation}", lines=count)

    def status(self, text: str) -> None:
        """Show or replace a live status line (terminals only; '' clears it)."""
        if not self.interactive:
            return
        out = self._out
        with out.lock:
            shown = self.paint(text, DIM) if text else ""
            try:
                out.stream.write("\r\033[K" + shown)
                out.stream.flush()
            except (OSError, ValueError):
                pass
            out.status = shown
