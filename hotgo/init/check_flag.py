"""`hotgo init`: find a config-check flag in the service's own source, to propose as `validate`.

Services often ship one: `-check-config FILE` (flag.String), `--config.check`
with `--config.file` (kingpin style booleans), a `validate` subcommand with its
own `--config` flag (cobra, Caddy). Only a syntax read whole from the source is
proposed: a flag declaration (name, default, usage: not `fl.Bool("validate")`,
which reads one), a boolean check flag only with the file flag declared next to
it, a subcommand only with the flag or argument that takes the file. Only the
main package and the module's packages it imports are read (see go_sources),
and `hotgo init` writes the command commented out.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional

from hotgo.init.go_sources import read_sources, shown

_CHECK_NAME = re.compile(
    r"^(check[-_.]?config|config[-_.]?check|validate[-_.]?config|config[-_.]?validate|verify[-_.]?config|"
    r"test[-_.]?config|config[-_.]?test|configtest|validate)$"
)
_CONFIG_NAME = re.compile(r"^(config|config[-_.]?file|config[-_.]?path|conf|c)$")
# flag.String("check-config", "", …), fs.BoolVar(&x, "config.check", false, …), Flag("config.check", "…").Bool():
# a declaration goes on past the name (a lookup such as fl.Bool("validate") does not)
_DECLARATION = re.compile(
    r"\b(?P<pkg>\w+)\.(?P<kind>String|Bool|StringVar|BoolVar|StringP|BoolP|StringVarP|BoolVarP|Flag)\(\s*"
    r"(?:&[\w.\[\]]+\s*,\s*)?\"(?P<name>[\w.-]+)\"\s*,(?P<rest>[^\n]*)"
)
# cobra `Use: "validate [flags]"`, Caddy and urfave/cli `Name: "validate"`, kingpin `Command("check-config", …)`
_SUBCOMMAND = re.compile(r"(?:\bUse:\s*|\bName:\s*|\.Command\(\s*)\"(?P<name>check-config|validate-config|"
                         r"configtest|validate|check)(?=[\s\"])(?P<usage>[^\"]*)\"")
_NEXT_COMMAND = re.compile(r"\bUse:\s*\"|\bName:\s*\"|\.Command\(\s*\"|RegisterCommand\(|&cobra\.Command\{")
# a flag of a subcommand: cmd.Flags().StringP("config", "c", "", …), Flag("config", …).String()
_FILE_FLAG = re.compile(r"\.(?:String|StringP|StringVar|StringVarP|Flag)\(\s*(?:&[\w.\[\]]+\s*,\s*)?"
                        r"\"(?P<name>config|config[-_.]?file|conf|file)\"")
_FILE_ARGUMENT = re.compile(r"<?(?:file|path|config|FILE|PATH|CONFIG)[^\s]*>?")
_USAGE = re.compile(r"\bUsage:\s*\"(?P<usage>[^\"]*)\"")


@dataclass(frozen=True)
class CheckFlag:
    command: str  # the `validate` value to propose
    why: str  # where it was found


def _dash(name: str, std_flag: bool) -> str:
    return "-" if std_flag or len(name) == 1 else "--"


def _subcommand(text: str, where: str) -> Optional[CheckFlag]:
    """A check subcommand and how it takes the file: its own config flag, or a file argument in its usage."""
    for match in _SUBCOMMAND.finditer(text):
        end = _NEXT_COMMAND.search(text, match.end())
        block = text[match.end():end.start() if end else len(text)]
        name = match.group("name")
        flag = _FILE_FLAG.search(block)
        found = f'"{name}" subcommand in {where}'
        if flag:
            return CheckFlag(f"{{binary}} {name} {_dash(flag.group('name'), False)}{flag.group('name')} {{file}}",
                             found)
        usage = _USAGE.search(block)
        words = (match.group("usage") + " " + (usage.group("usage") if usage else "")).split()
        if any(_FILE_ARGUMENT.fullmatch(word) for word in words if not word.startswith(("-", "["))):
            return CheckFlag(f"{{binary}} {name} {{file}}", found)
    return None


def find_check_flag(root: Path, package_dir: Path) -> Optional[CheckFlag]:
    pending: Optional[CheckFlag] = None  # a subcommand: a check flag of the service itself wins over it
    for path, text in read_sources(root, package_dir):
        where = shown(path, root)
        config_flags: List[str] = []
        boolean: Optional[CheckFlag] = None
        for match in _DECLARATION.finditer(text):
            name, kind = match.group("name"), match.group("kind")
            std = match.group("pkg") == "flag"
            takes_value = kind.startswith("String") or (kind == "Flag" and ".String()" in match.group("rest"))
            if _CONFIG_NAME.match(name) and takes_value:
                config_flags.append(_dash(name, std) + name)
            elif _CHECK_NAME.match(name):
                flag = _dash(name, std) + name
                if takes_value:
                    return CheckFlag(f"{{binary}} {flag} {{file}}", f'"{name}" flag in {where}')
                boolean = boolean or CheckFlag(f"{{binary}} {flag} CONFIG_FLAG {{file}}", f'"{name}" flag in {where}')
        if boolean is not None and config_flags:  # a boolean check flag reads the file another flag names
            return CheckFlag(boolean.command.replace("CONFIG_FLAG", config_flags[0]), boolean.why)
        pending = pending or _subcommand(text, where)
    return pending
