"""dotenv files: `KEY=value`, `export KEY=value`, quotes, comments. Values are never logged."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Dict

from hotgo.errors import UsageError, shown_name
from hotgo.settings import limits, utf8

_LINE = re.compile(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_.]*)\s*=\s*(.*?)\s*$")
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\", "$": "$"}


def _unescape(text: str) -> str:
    return re.sub(r"\\(.)", lambda m: _ESCAPES.get(m.group(1), "\\" + m.group(1)), text)


def parse(text: str, source: str) -> Dict[str, str]:
    env: Dict[str, str] = {}
    lines = text.removeprefix("\ufeff").splitlines()  # a BOM an editor wrote is no part of the first name
    index = 0
    while index < len(lines):
        number, line = index + 1, lines[index]
        index += 1
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        match = _LINE.match(line)
        if not match:
            raise UsageError(f"{source}:{number}: expected KEY=value (names: letters, digits, _), "
                             "e.g. DATABASE_URL=postgres://localhost/db")
        name, value = match.groups()
        quote = value[:1]
        if quote in ("'", '"'):
            body = value[1:]
            # A quoted value may span lines until its closing quote.
            while not re.search(rf"(?<!\\){quote}\s*(?:#.*)?$", body) and index < len(lines):
                body += "\n" + lines[index]
                index += 1
            end = re.search(rf"(?<!\\){quote}\s*(?:#.*)?$", body)
            if not end:
                raise UsageError(f"{source}:{number}: {name}: the value's {quote} is never closed")
            body = body[: end.start()]
            env[name] = _unescape(body) if quote == '"' else body
        else:
            env[name] = re.sub(r"\s+#.*$", "", value)
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
