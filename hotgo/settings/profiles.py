"""Build profiles: the `go build` flags a profile adds, merged with the user's own flags.

dev    links without the symbol table and DWARF (`-ldflags=-s -w`: the link is the
       longest step of a rebuild) and skips VCS stamping (`-buildvcs=false`: `git
       status` and friends on every build). Behaviour is unchanged: Go keeps its own
       function/line table (pclntab), so panics and runtime.Callers still show full
       stack traces; only debuggers and `go version -m`'s vcs lines lose out.
debug  keeps DWARF and turns off optimisation and inlining (`-gcflags=all=-N -l`),
       so a debugger attached to a generation sees every variable and line.
plain  exactly `go build` with the user's flags.

Merging never drops a user's flag: a user's `-ldflags`/`-gcflags` (on the command
line or in GOFLAGS) gets the profile's arguments in front of its own, so the user's
come last and win where they disagree; a user's `-buildvcs` replaces the profile's.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

from hotgo.errors import shown

PROFILES = ("dev", "debug", "plain")

# Flags whose value is a per-package argument list (`-ldflags='[pattern=]args'`).
_LIST_FLAGS = ("ldflags", "gcflags", "asmflags")
# `go build` flags that take a value as the next word when written without `=`.
_VALUE_FLAGS = {
    "ldflags", "gcflags", "asmflags", "gccgoflags", "tags", "mod", "modfile", "overlay", "pgo",
    "pkgdir", "toolexec", "compiler", "installsuffix", "buildmode", "p", "o", "C", "covermode",
    "coverpkg",
}


@dataclass(frozen=True)
class Profile:
    name: str
    list_args: Tuple[Tuple[str, str, str], ...]  # (flag, pattern, args): "-flag=pattern=args"
    switches: Tuple[Tuple[str, str], ...]  # (flag, value): "-flag=value", unless the user sets the flag
    summary: str  # what it changes, for the log


_PROFILES: Dict[str, Profile] = {
    "dev": Profile("dev", (("ldflags", "", "-s -w"),), (("buildvcs", "false"),),
                   "no DWARF/symbol table, no VCS stamping; panics still print full stack traces"),
    "debug": Profile("debug", (("gcflags", "all", "-N -l"),), (),
                     "DWARF kept, optimisations and inlining off, for a debugger"),
    "plain": Profile("plain", (), (), "`go build` with your flags only"),
}


def profile(name: str) -> Profile:
    return _PROFILES[name]


def parse_profile(value: str) -> str:
    if value not in PROFILES:
        raise ValueError(f"{shown(value)} is not a build profile; use one of {', '.join(PROFILES)}")
    return value


@dataclass
class _Flag:
    name: str  # without dashes
    value: Optional[str]  # None: a bare switch such as -race


def _split_flags(words: Sequence[str]) -> List[Tuple[Optional[_Flag], List[str]]]:
    """The user's words grouped per flag; a word that is not a flag is kept as it is."""
    groups: List[Tuple[Optional[_Flag], List[str]]] = []
    index = 0
    while index < len(words):
        word = words[index]
        if not word.startswith("-") or word in ("-", "--"):
            groups.append((None, [word]))
            index += 1
            continue
        name, eq, value = word.lstrip("-").partition("=")
        if eq:
            groups.append((_Flag(name, value), [word]))
            index += 1
        elif name in _VALUE_FLAGS and index + 1 < len(words):
            groups.append((_Flag(name, words[index + 1]), [word, words[index + 1]]))
            index += 2
        else:
            groups.append((_Flag(name, None), [word]))
            index += 1
    return groups


def _pattern_and_args(value: str) -> Tuple[str, str]:
    """'all=-N -l' -> ('all', '-N -l'); '-s -w' -> ('', '-s -w') (go build's own rule)."""
    if value and not value.startswith("-"):
        head, eq, rest = value.partition("=")
        if eq and " " not in head:
            return head, rest
    return "", value


def _goflags(goflags: str) -> List[_Flag]:
    """The flags set in GOFLAGS: go build applies them before (under) the command line's."""
    try:
        words = shlex.split(goflags)
    except ValueError:
        words = goflags.split()
    return [flag for flag, _ in _split_flags(words) if flag is not None]


def merge(profile_name: str, user_flags: Sequence[str], goflags: str = "") -> List[str]:
    """The `go build` flags for a profile and the user's flags, the user's never dropped."""
    chosen = profile(profile_name)
    groups = _split_flags(user_flags)
    user_names = {flag.name for flag, _ in groups if flag is not None}
    environment = _goflags(goflags)
    merged: List[str] = []
    for name, value in chosen.switches:
        if name not in user_names and all(flag.name != name for flag in environment):
            merged.append(f"-{name}={value}")
    for name, pattern, args in chosen.list_args:
        standalone = f"-{name}={pattern + '=' if pattern else ''}{args}"
        if name in user_names:
            if pattern:  # the user's flag may cover fewer packages than the profile's
                merged.append(standalone)
            continue
        inherited = [flag.value for flag in environment if flag.name == name and flag.value is not None]
        if not inherited:
            merged.append(standalone)
            continue
        # Any -ldflags on the command line wins over GOFLAGS' for the same package:
        # carry the user's GOFLAGS arguments into ours.
        own_pattern, own_args = _pattern_and_args(inherited[-1])
        if pattern and own_pattern != pattern:
            merged.append(standalone)
        merged.append(f"-{name}={own_pattern + '=' if own_pattern else ''}{args} {own_args}".rstrip())
    list_args = {name: args for name, _, args in chosen.list_args}
    for flag, words in groups:
        if flag is not None and flag.name in list_args and flag.value is not None:
            # The last matching -flag wins in go build: put the profile's args inside the user's.
            own_pattern, own_args = _pattern_and_args(flag.value)
            prefix = f"{own_pattern}=" if own_pattern else ""
            merged.append(f"-{flag.name}={prefix}{list_args[flag.name]} {own_args}".rstrip())
        else:
            merged.extend(words)
    return merged


def attach_hint(profile_name: str, pid: int) -> Optional[str]:
    """debug: how to attach to the generation that just became ready."""
    if profile_name != "debug":
        return None
    return (f"debug: attach with `dlv attach {pid}` (a debugger left on an older generation does not hold up "
            "the handoff: that generation is stopped, then killed after drain_timeout, ending the session)")


def profile_line(profile_name: str) -> str:
    """For hotgo's first line: the profile, what it changes, how to pick another."""
    others = "|".join(name for name in PROFILES if name != profile_name)
    return (f"build profile {profile_name} ({profile(profile_name).summary}; "
            f"--profile {others} or [build] profile to change)")
