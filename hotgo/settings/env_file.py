"""dotenv files: `KEY=value`, `export KEY=value`, quotes, comments. Values are never logged."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Dict

from hotgo.errors import UsageError, shown_name
from hotgo.settings import limits, utf8

_NAME = re.compile(r"\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_.]*)\s*=")
_LINE_BREAK = re.compile(r"\r\n|\r|\n")  # what ends a line of a dotenv file (not U+2028, not \x1c…\x1e)
_COMMENT = re.compile(r"\s#")
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\", "$": "$"}


def _unescape(text: str) -> str:
    return re.sub(r"\\(.)", lambda m: _ESCAPES.get(m.group(1), "\\" + m.group(1)), text)


def _closing(line: str, quote: str) -> int:
    """Where the closing `quote` is in `line`, or -1: the first one not after a backslash and followed by
    nothing but spaces and a comment. One pass, whatever the line holds (no regex that backtracks)."""
    rest_is_blank_or_comment = [False] * (len(line) + 1)
    rest_is_blank_or_comment[len(line)] = True
    for index in range(len(line) - 1, -1, -1):
        char = line[index]
        rest_is_blank_or_comment[index] = char == "#" or (char.isspace() and rest_is_blank_or_comment[index + 1])
    at = line.find(quote)
    while at >= 0:
        if (at == 0 or line[at - 1] != "\\") and rest_is_blank_or_comment[at + 1]:
            return at
        at = line.find(quote, at + 1)
    return -1


def parse(text: str, source: str) -> Dict[str, str]:
    env: Dict[str, str] = {}
    lines = _LINE_BREAK.split(text.removeprefix("\ufeff"))  # a BOM an editor wrote is no part of the first name
    index = 0
    while index < len(lines):
        number, line = index + 1, lines[index]
        index += 1
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        match = _NAME.match(line)
        if not match:
            raise UsageError(f"{source}:{number}: expected KEY=value (names: letters, digits, _), "
                             "e.g. DATABASE_URL=postgres://localhost/db")
        name, value = match.group(1), line[match.end():].strip()
        quote = value[:1]
        if quote in ("'", '"'):
            # A quoted value may span lines until its closing quote.
            parts, end = [value[1:]], _closing(value[1:], quote)
            while end < 0 and index < len(lines):
                parts.append(lines[index])
                end = _closing(lines[index], quote)
                index += 1
            if end < 0:
                raise UsageError(f"{source}:{number}: {name}: the value's {quote} is never closed")
            parts[-1] = parts[-1][:end]
            body = "\n".join(parts)
            env[name] = _unescape(body) if quote == '"' else body
        else:
            comment = _COMMENT.search(value)
            env[name] = value[: comment.start()].rstrip() if comment else value
        try:
            limits.env_entry(name, env[name])
        except ValueError as err:  # a NUL byte, a value longer than an environment entry
            raise UsageError(f"{source}:{number}: {name}: {err}") from None
    return env


def load(path: Path, named_in: str) -> Dict[str, str]:
    name = shown_name(str(path))  # a line break in the name does not break the message's line
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise UsageError(f"{named_in}: env_file {name} does not exist") from None
    except IsADirectoryError:
        raise UsageError(f"{named_in}: env_file {name} is a directory; name a file of KEY=value lines") from None
    except OSError as err:
        raise UsageError(f"{named_in}: env_file {name} cannot be read: {err.strerror or err}") from None
    return parse(utf8.decode(data, name), name)
