"""What a validator said, briefly: its error lines, not its whole log.

Validators (`promtool check config`, `nginx -t`, a service's `-check-config`)
often log their progress at INFO level before the one line that matters.
The brief keeps up to MAX_LINES lines that look like errors, stderr first;
when none does, the last lines of stderr (or stdout), where a failing program
usually says why. The caller keeps the whole output elsewhere.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import List, Tuple

MAX_LINES = 3
MAX_LINE_CHARS = 300

_ERROR_WORDS = re.compile(
    r"\b(error|errors|err|fatal|panic|fail|failed|failure|invalid|cannot|can't|unable|unknown|unexpected|"
    r"expected|denied|refused|missing|not allowed|not found|bad|emerg|crit)\b|^E\d{4}\s",
    re.IGNORECASE,
)
# Progress lines and all-clear lines, whatever words they carry ("INFO no errors found", "0 errors").
_QUIET_LEVEL = re.compile(
    r"\b(INFO|DEBUG|TRACE|NOTICE)\b|\blevel=\"?(info|debug|trace)\b|\"level\":\s*\"(info|debug|trace)\"|^[IDT]\d{4}\s"
    r"|\b(no|0|zero) (errors?|failures?)\b",
    re.IGNORECASE,
)

# A leading timestamp says nothing in a one-line rejection (slog `time=…`, log's `2006/01/02 15:04:05`).
_TIMESTAMP = re.compile(r"^(time=\S+\s+|\d{4}[/-]\d{2}[/-]\d{2}[ T]\d{2}:\d{2}:\d{2}(\.\d+)?Z?\s+)")


@dataclass(frozen=True)
class Brief:
    lines: Tuple[str, ...]
    hidden: int  # non-empty output lines not shown


def _lines(text: str) -> List[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


def looks_like_error(line: str) -> bool:
    return bool(_ERROR_WORDS.search(line)) and not _QUIET_LEVEL.search(line)


def brief(stderr: str, stdout: str) -> Brief:
    every = _lines(stderr) + _lines(stdout)
    chosen = [line for line in every if looks_like_error(line)][:MAX_LINES]
    if not chosen:
        chosen = (_lines(stderr) or _lines(stdout))[-MAX_LINES:]
    chosen = [_TIMESTAMP.sub("", line) for line in chosen]
    shown = tuple(line if len(line) <= MAX_LINE_CHARS else line[:MAX_LINE_CHARS] + "…" for line in chosen)
    return Brief(shown, len(every) - len(shown))
