"""`hotgo init`: the signal on which the service reloads its config, read from its source.

A signal counts as a reload signal only where the code that handles it says so:
a `case syscall.SIGUSR1:` whose body mentions reloading, a `case <-hup:` on a
channel `signal.Notify` fills with that signal alone, or a line that names both
(`reloadSignals = []os.Signal{syscall.SIGHUP}`). A signal handled with "not
implemented" or "ignore" (Caddy's SIGHUP) is not one, however it is notified.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterator, List, Optional, Set, Tuple

from hotgo.init.go_sources import read_sources, shown

# Signals that stop a process or say nothing about config: never proposed for a push.
_NOT_RELOAD = {"SIGTERM", "SIGINT", "SIGQUIT", "SIGKILL", "SIGPIPE", "SIGCHLD", "SIGWINCH", "SIGURG", "SIGSTOP",
               "SIGTSTP", "SIGCONT", "SIGTTIN", "SIGTTOU", "SIGALRM", "SIGPROF"}
_SIGNAL = re.compile(r"\b(?:syscall|unix|windows)\.(SIG[A-Z0-9]+)\b")
_NOTIFY = re.compile(r"\bsignal\.Notify(?:Context)?\(\s*([\w.]+)\s*,([^)]*)\)")
_CASE = re.compile(r"^(?P<indent>[ \t]*)case\s+(?P<what>[^\n]*?):[ \t]*(?://[^\n]*)?$", re.MULTILINE)
_RANGE = re.compile(r"^(?P<indent>[ \t]*)for\s+(?:\w+\s*:?=\s*)?range\s+(?P<what>[\w.]+)\s*\{", re.MULTILINE)
_RECEIVE = re.compile(r"<-\s*([\w.]+)")
_RELOAD_WORD = re.compile(r"reload|re-?read|re-?load|reconfigur", re.IGNORECASE)
_DECLINED = re.compile(r"not implemented|not supported|ignor", re.IGNORECASE)


@dataclass(frozen=True)
class SignalFinding:
    reload: Optional[Tuple[str, str]]  # (signal, where) the source reloads on
    handled: Dict[str, str]  # other non-stop signals it handles without saying what for: signal → where


def _line(text: str, offset: int) -> int:
    return text.count("\n", 0, offset) + 1


def _block(text: str, start: int, indent: str) -> str:
    """The lines after `start` indented deeper than `indent`: a case clause's or a loop's body."""
    body: List[str] = []
    for line in text[start:].split("\n")[1:]:
        if line.strip() and not (line.startswith(indent) and len(line) > len(indent) and line[len(indent)] in " \t"):
            break
        body.append(line)
    return "\n".join(body)


def _handlers(text: str, channels: Dict[str, Set[str]]) -> Iterator[Tuple[Set[str], str, int]]:
    """(signals, body, offset) of each case clause or range loop that handles signals."""
    for match in _CASE.finditer(text):
        what = match.group("what")
        signals = set(_SIGNAL.findall(what))
        received = _RECEIVE.search(what)
        if received and received.group(1) in channels:
            signals |= channels[received.group(1)]
        if signals:
            yield signals, _block(text, match.start(), match.group("indent")), match.start()
    for match in _RANGE.finditer(text):
        if match.group("what") in channels:
            yield channels[match.group("what")], _block(text, match.start(), match.group("indent")), match.start()


def find_reload_signal(root: Path, package_dir: Path) -> SignalFinding:
    reload: Optional[Tuple[str, str]] = None
    declined: Set[str] = set()
    handled: Dict[str, str] = {}
    for path, text in read_sources(root, package_dir):
        if "os/signal" not in text and "Signal" not in text:
            continue
        where = shown(path, root)
        channels: Dict[str, Set[str]] = {}
        for match in _NOTIFY.finditer(text):
            signals = set(_SIGNAL.findall(match.group(2)))
            channels.setdefault(match.group(1), set()).update(signals)
            for signal in signals - _NOT_RELOAD:
                handled.setdefault(signal, f"{where}:{_line(text, match.start())}")
        for signals, body, offset in _handlers(text, channels):
            candidates = signals - _NOT_RELOAD
            if not candidates or len(signals) > len(candidates):
                continue  # a clause shared with SIGTERM stops the service: it says nothing of reloading
            if _RELOAD_WORD.search(body):
                for signal in sorted(candidates):
                    reload = reload or (signal, f"{where}:{_line(text, offset)}")
            elif _DECLINED.search(body):
                declined |= candidates
        for number, line in enumerate(text.split("\n"), 1):
            candidates = set(_SIGNAL.findall(line)) - _NOT_RELOAD
            if candidates and _RELOAD_WORD.search(line) and not _DECLINED.search(line):
                for signal in sorted(candidates):
                    if signal not in declined:
                        reload = reload or (signal, f"{where}:{number}")
        if reload is not None:
            break
    if reload is not None and reload[0] in declined:
        reload = None
    others = {signal: at for signal, at in handled.items()
              if signal not in declined and (reload is None or signal != reload[0])}
    return SignalFinding(reload, others)
