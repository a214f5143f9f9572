"""The settings table of docs/reference.md, derived from the declarations in hotgo.settings.schema.

A test keeps that table equal to `reference_table()`. It lives apart from
hotgo.settings.schema because it renders defaults the way `hotgo init` writes them.
"""

from __future__ import annotations

from hotgo.init.toml_text import toml_literal
from hotgo.settings.schema import SETTINGS


def reference_table() -> str:
    rows = ["| key | flag | default | what it does |", "|---|---|---|---|"]
    for setting in SETTINGS:
        flag = f"`{setting.flag}`" if setting.flag else ""
        default = toml_literal(setting, setting.default).replace("|", "\\|")
        rows.append(f"| `[{setting.section}] {setting.key}` | {flag} | `{default}` | {setting.help} |")
    return "\n".join(rows)
