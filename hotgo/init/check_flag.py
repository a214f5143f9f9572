"""`hotgo init`: find a config-check flag in the service's own source, to propose as `validate`.

Services often ship one: `-check-config FILE` (flag.String), `--config.check`
with `--config.file` (kingpin style booleans), a `validate` subcommand (cobra).
Only the main package's directory is read, then the rest of the module (tests,
vendor/ and testdata/ skipped), and only the string literals of flag
declarations: a guess, so `hotgo init` writes it commented out.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, List, Optional

MAX_FILES = 2000

_CHECK_NAME = re.compile(
    r"^(check[-_.]?config|config[-_.]?check|validate[-_.]?config|config[-_.]?validate|verify[-_.]?config|"
    r"test[-_.]?config|config[-_.]?test|configtest|validate)$"
)
_CONFIG_NAME = re.compile(r"^(config|config[-_.]?file|config[-_.]?path|conf|c)$")
# flag.String("check-config", …), fs.BoolVar(&x, "config.check", …), kingpin Flag("config.check", …).Bool()
_DECLARATION = re.compile(
    r"\b(?P<pkg>\w+)\.(?P<kind>String|Bool|StringVar|BoolVar|StringP|BoolP|StringVarP|BoolVarP|Flag)\(\s*"
    r"(?:&[\w.\[\]]+\s*,\s*)?\"(?P<name>[\w.-]+)\"(?P<rest>[^\n]*)"
)
_SUBCOMMAND = re.compile(r"\bUse:\s*\"(validate|check)\b")


@dataclass(frozen=True)
class CheckFlag:
    command: str  # the `validate` value to propose
    why: str  # where it was found


def _dash(name: str, std_flag: bool) -> str:
    return "-" if std_flag or len(name) == 1 else "--"


def _sources(root: Path, package_dir: Path) -> Iterator[Path]:
    seen = 0
    first = sorted(package_dir.glob("*.go"))
    rest = (p for p in sorted(root.rglob("*.go")) if p.parent != package_dir)
    for path in [*first, *rest]:
        parts = path.relative_to(root).parts if path.is_relative_to(root) else ()
        if path.name.endswith("_test.go") or "vendor" in parts or "testdata" in parts or ".hotgo" in parts:
            continue
        seen += 1
        if seen > MAX_FILES:
            return
        yield path


def find_check_flag(root: Path, package_dir: Path) -> Optional[CheckFlag]:
    config_flags: List[str] = []
    found: Optional[CheckFlag] = None
    for path in _sources(root, package_dir):
        text = path.read_text(encoding="utf-8", errors="replace")
        for match in _DECLARATION.finditer(text):
            name, kind = match.group("name"), match.group("kind")
            std = match.group("pkg") == "flag"
            takes_value = kind.startswith("String") or (kind == "Flag" and ".String()" in match.group("rest"))
            if _CONFIG_NAME.match(name) and takes_value:
                config_flags.append(_dash(name, std) + name)
            elif found is None and _CHECK_NAME.match(name):
                flag = _dash(name, std) + name
                where = f'"{name}" flag in {path.relative_to(root).as_posix()}'
                if takes_value:
                    found = CheckFlag(f"{{binary}} {flag} {{file}}", where)
                else:
                    found = CheckFlag(f"{{binary}} {flag} CONFIG_FLAG {{file}}", where)
        if found is None:
            sub = _SUBCOMMAND.search(text)
            if sub:
                found = CheckFlag(f"{{binary}} {sub.group(1)} CONFIG_FLAG {{file}}",
                                  f'"{sub.group(1)}" subcommand in {path.relative_to(root).as_posix()}')
        if found is not None and "CONFIG_FLAG" not in found.command:
            return found
    if found is None:
        return None
    # A boolean check flag or a subcommand also needs the flag that names the file.
    return CheckFlag(found.command.replace("CONFIG_FLAG", config_flags[0] if config_flags else "--config"),
                     found.why)
