"""dotenv files: `KEY=value`, `export KEY=value`, quotes, comments. Values are never logged."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Dict

from hotgo.errors import UsageError

_LINE = re.compile(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_.]*)\s*=\s*(.*?)\s*$")
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\", "$": "$"}


def _unescape(text: str) -> str:
    return re.sub(r"\\(.)", lambda m: _ESCAPES.get(m.group(1), "\\" + m.group(1)), text)


def parse(text: str, source: str) -> Dict[str, str]:
    env: Dict[str, str] = {}
    lines = text.splitlines()
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
    return env


def load(path: Path, named_in: str) -> Dict[str, str]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UsageError(f"{named_in}: env_file {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as err:
        raise UsageError(f"{named_in}: env_file {path} cannot be read: {err}") from None
    return parse(text, str(path))
