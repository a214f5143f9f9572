"""One prefixed output stream for hotgo's own lines and its services' lines.

Colour only when writing to a terminal and NO_COLOR is unset. Every write goes
through one lock, so lines from several threads never interleave.
"""

from __future__ import annotations

import os
import sys
import threading
from typing import Optional, TextIO

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


def colour_wanted(stream: TextIO, no_color_flag: bool) -> bool:
    if no_color_flag or "NO_COLOR" in os.environ:
        return False
    return hasattr(stream, "isatty") and stream.isatty()


class Log:
    def __init__(self, stream: Optional[TextIO] = None, colour: bool = False) -> None:
        self.stream = stream or sys.stdout
        self.colour = colour
        self.interactive = hasattr(self.stream, "isatty") and self.stream.isatty()
        self._lock = threading.Lock()
        self._status = ""  # live status line currently shown (terminal only)
        if colour:
            colorama.just_fix_windows_console()

    def paint(self, text: str, *styles: str) -> str:
        if not self.colour or not styles:
            return text
        return "".join(styles) + text + _RESET

    def _write(self, line: str) -> None:
        with self._lock:
            clear = "\r\033[K" if self._status else ""
            redraw = self._status
            try:
                self.stream.write(clear + line + "\n" + redraw)
                self.stream.flush()
            except (OSError, ValueError):
                pass  # a closed terminal must not kill the supervisor

    def say(self, level: str, message: str) -> None:
        tag = self.paint("hotgo", BRIGHT, _LEVEL_COLOURS.get(level, ""))
        if level in ("warn", "error"):
            message = self.paint(message, _LEVEL_COLOURS[level])
        self._write(f"{tag} │ {message}")

    def info(self, message: str) -> None:
        self.say("info", message)

    def ok(self, message: str) -> None:
        self.say("ok", message)

    def warn(self, message: str) -> None:
        self.say("warn", message)

    def error(self, message: str) -> None:
        self.say("error", message)

    def raw(self, line: str) -> None:
        """A line that carries its own formatting (compiler output)."""
        self._write(line)

    def service(self, name: str, generation: int, line: str) -> None:
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
