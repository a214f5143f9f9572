"""`hotgo init`: hotgo.toml's text: each key with its help, its value (proposed, else the default), what
`hotgo init` found for it and a guess left commented under it."""

from __future__ import annotations

import json
from typing import Dict, List, Optional, Sequence

from hotgo.settings.addresses import ListenAddress
from hotgo.settings.schema import SETTINGS, Setting, Value, format_duration
from hotgo.settings.toml_file import SECTIONS

_SECTION_HELP = {
    "build": "How hotgo builds the service (go build -o .hotgo/bin/<name>-<generation> PKG).",
    "run": "How each generation runs and how one hands over to the next.",
    "watch": "Which file changes rebuild (the module root is always watched).",
    "browser": "Pages open in a browser: reloaded when a new generation serves, build errors shown in them.",
}


def toml_literal(setting: Setting, value: Value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return json.dumps(format_duration(value))
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {json.dumps(v)}" for k, v in value.items()) + " }" if value else "{}"
    if isinstance(value, ListenAddress):
        return json.dumps(_listen_text(value))
    items = [_listen_text(v) if isinstance(v, ListenAddress) else v for v in value]
    return "[" + ", ".join(json.dumps(item) for item in items) + "]"


def _listen_text(address: ListenAddress) -> str:
    text = str(address)
    return text if address.name == str(address.port) else f"{address.name}={text}"


HEADER = [
    "# hotgo.toml — settings for `hotgo run`. Every key is shown with its default;",
    "# command-line flags override this file. Durations: \"250ms\", \"2s\". Globs: ** spans directories.",
]


def setting_lines(setting: Setting, proposals: Dict[str, Value], notes: Dict[str, str],
                  commented: Dict[str, Value], with_help: bool = True) -> List[str]:
    """A key with its value (proposed, else the default), its help, and what `hotgo init` found for it."""
    out = []
    if with_help:
        flag = f" (flag {setting.flag})" if setting.flag else ""
        out.append(f"# {setting.help}{flag}")
    if setting.dest in notes:
        out.append(f"# hotgo init: {notes[setting.dest]}")
    out.append(f"{setting.key} = {toml_literal(setting, proposals.get(setting.dest, setting.default))}")
    if setting.dest in commented:
        out.append(f"# {setting.key} = {toml_literal(setting, commented[setting.dest])}")
    return out


def section_lines(section: str, proposals: Dict[str, Value], notes: Dict[str, str], commented: Dict[str, Value],
                  left_out: Sequence[str] = ()) -> List[str]:
    """`[section]` with every key but those `left_out`, and a blank line after it."""
    out = [f"[{section}]", f"# {_SECTION_HELP.get(section, '')}"]
    for setting in SETTINGS:
        if setting.section == section and setting.key not in left_out:
            out += setting_lines(setting, proposals, notes, commented)
    return [*out, ""]


def render(proposals: Dict[str, Value], notes: Dict[str, str], commented: Optional[Dict[str, Value]] = None) -> str:
    """`commented`: a guess shown under its key as a commented-out line to enable."""
    out = [*HEADER, ""]
    for section in SECTIONS:
        out += section_lines(section, proposals, notes, commented or {})
    return "\n".join(out)
