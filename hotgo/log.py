"""One output stream for hotgo's own lines and its services' lines.

Text (default): prefixed lines, coloured only on a terminal without NO_COLOR.
JSON (`--log-format json`): one object per line with time, level, event,
generation, pid and message; the service's lines are `output` events.
`--log-file`: appended to, reopened on SIGUSR1 (logrotate), rotated by size.
Every write goes through one lock, so lines from several threads never interleave.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from pathlib import Path
from typing import Any, Optional, TextIO

import colorama

_RESET = colorama.Style.RESET_ALL
DIM = colorama.Style.DIM
BRIGHT = colorama.Style.BRIGHT
RED = colorama.Fore.RED
_GEN_COLOURS = (colorama.Fore.GREEN, colorama.Fore.MAGENTA, colorama.Fore.BLUE, colorama.Fore.YELLOW)
_LEVEL_COLOURS = {
    "info": colorama.Fore.CYAN,
    "ok": colorama.Fore.GREEN,
    "warn": colorama.Fore.YELLOW,
    "error": colorama.Fore.RED,
}
LOG_FORMATS = ("text", "json")
ROTATE_BYTES = 10 * 1024 * 1024


def colour_wanted(stream: TextIO, no_color_flag: bool) -> bool:
    if no_color_flag or "NO_COLOR" in os.environ:
        return False
    return hasattr(stream, "isatty") and stream.isatty()


class Log:
    def __init__(
        self,
        stream: Optional[TextIO] = None,
        colour: bool = False,
        json_format: bool = False,
        path: Optional[Path] = None,
        rotate_bytes: int = ROTATE_BYTES,
    ) -> None:
        self.path = path
        self.rotate_bytes = rotate_bytes
        self.stream = self._open() if path is not None else (stream or sys.stdout)
        self.json = json_format
        self.colour = colour and not json_format and path is None
        self.interactive = (not json_format and path is None and hasattr(self.stream, "isatty")
                            and self.stream.isatty())
        self._lock = threading.Lock()
        self._status = ""  # live status line currently shown (terminal only)
        if self.colour:
            colorama.just_fix_windows_console()

    def _open(self) -> TextIO:
        assert self.path is not None
        self.path.parent.mkdir(parents=True, exist_ok=True)
        return self.path.open("a", encoding="utf-8")

    def reopen(self) -> None:
        """After logrotate moved the file (SIGUSR1): write to a fresh one at the same path."""
        if self.path is None:
            return
        with self._lock:
            old, self.stream = self.stream, self._open()
            old.close()

    def _rotate_if_big(self) -> None:
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

    def paint(self, text: str, *styles: str) -> str:
        if not self.colour or not styles:
            return text
        return "".join(styles) + text + _RESET

    def _write(self, line: str) -> None:
        with self._lock:
            clear = "\r\033[K" if self._status else ""
            try:
                self.stream.write(clear + line + "\n" + self._status)
                self.stream.flush()
                self._rotate_if_big()
            except (OSError, ValueError):
                pass  # a closed terminal or a full disk must not kill the supervisor

    def _record(self, level: str, event: str, message: str, **fields: Any) -> None:
        record = {"time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()) + f".{int(time.time() % 1 * 1000):03d}Z",
                  "level": level, "event": event or "log"}
        record.update({k: v for k, v in fields.items() if v not in (None, "")})
        record["message"] = message
        self._write(json.dumps(record, ensure_ascii=False))

    def say(self, level: str, message: str, event: str = "", generation: int = 0, **fields: Any) -> None:
        if self.json:
            self._record(level, event, message, generation=generation or None, **fields)
            return
        tag = self.paint("hotgo", BRIGHT, _LEVEL_COLOURS.get(level, ""))
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

    def service(self, name: str, generation: int, line: str, pid: int = 0) -> None:
        if self.json:
            self._record("info", "output", line, generation=generation, pid=pid or None, service=name)
            return
        colour = _GEN_COLOURS[generation % len(_GEN_COLOURS)]
        tag = self.paint(f"{name} {generation}", colour)
        self._write(f"{tag} │ {line}")

    def status(self, text: str) -> None:
        """Show or replace a live status line (terminals only; '' clears it)."""
        if not self.interactive:
            return
        with self._lock:
            shown = self.paint(text, DIM) if text else ""
            try:
                self.stream.write("\r\033[K" + shown)
                self.stream.flush()
            except (OSError, ValueError):
                pass
            self._status = shown
