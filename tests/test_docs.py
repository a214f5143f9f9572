"""docs/architecture.md and the README say what the code has: its modules, its events, no outside references."""

from __future__ import annotations

import ast
import re
import typing
from pathlib import Path
from typing import List, Set

from test_imports import LAYERS

from hotgo.loop import events

REPO = Path(__file__).resolve().parent.parent
ARCHITECTURE = REPO / "docs" / "architecture.md"


def section(title: str) -> str:
    text = ARCHITECTURE.read_text(encoding="utf-8")
    start = text.index(f"## {title}")
    end = text.find("\n## ", start + 1)
    return text[start:end if end != -1 else len(text)]


def first_column(table_text: str) -> Set[str]:
    return set(re.findall(r"^\| `(\w+)` \|", table_text, re.MULTILINE))


def logged_events() -> Set[str]:
    """Every `event` name hotgo's code writes: event="..." arguments, the defaults of `event`
    parameters, the events the log module formats itself, and "log" for lines without one."""
    found = {"log"}
    for path in (REPO / "hotgo").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call):
                found.update(kw.value.value for kw in node.keywords
                             if kw.arg == "event" and isinstance(kw.value, ast.Constant)
                             and isinstance(kw.value.value, str))
                if (isinstance(node.func, ast.Attribute) and node.func.attr == "_format_record"
                        and len(node.args) > 1 and isinstance(node.args[1], ast.Constant)
                        and isinstance(node.args[1].value, str)):
                    found.add(node.args[1].value)
            elif isinstance(node, ast.FunctionDef):
                params = node.args.args[len(node.args.args) - len(node.args.defaults):]
                found.update(default.value for param, default in zip(params, node.args.defaults)
                             if param.arg == "event" and isinstance(default, ast.Constant)
                             and isinstance(default.value, str) and default.value)
    return found


def test_the_json_log_events_table_lists_every_event_and_no_other() -> None:
    documented = first_column(section("What the log says"))
    written = logged_events()
    assert not written - documented, f"add to docs/architecture.md, 'What the log says': {sorted(written - documented)}"
    assert not documented - written, f"no longer written by hotgo: {sorted(documented - written)}"


def test_every_loop_event_type_is_in_the_events_table() -> None:
    documented = first_column(section("Threads, events, and the one deciding loop"))
    declared = {kind.__name__ for kind in typing.get_args(events.Event)}
    assert declared == documented


def picture_layers() -> List[Set[str]]:
    """The modules drawn on each layer of the picture, top to bottom (a layer's name starts its first row)."""
    block = section("Modules and the direction of imports").split("```")[1]
    layers: List[Set[str]] = []
    for line in block.splitlines():
        if not line.strip():
            continue
        label = line[:15].strip()
        if label.split(" ")[0] in ("entry", "loop", "parts", "settings", "foundations"):
            layers.append(set())
        layers[-1].update(re.findall(r"[a-z_]+", line[15:]))
    return layers


def test_the_picture_of_the_layers_is_the_checked_one() -> None:
    modules = {p.stem for p in (REPO / "hotgo").glob("*.py")}
    drawn = [layer & modules for layer in picture_layers()]
    checked = [layer & modules - {"__init__"} for layer in LAYERS]
    assert drawn == checked, "docs/architecture.md's picture and tests/test_imports.py's LAYERS differ"
    missing = modules - set().union(*drawn) - {"__init__"}
    assert not missing, f"not in the picture of docs/architecture.md: {sorted(missing)}"


def test_every_file_the_documents_name_exists() -> None:
    for document in (ARCHITECTURE, REPO / "README.md"):
        text = document.read_text(encoding="utf-8")
        for named in set(re.findall(r"\b((?:hotgo|tests|bench|docs)/[\w/.-]+\.(?:py|md|png))\b", text)):
            assert (REPO / named).exists(), f"{document.name} names {named}, which does not exist"
        if document == ARCHITECTURE:
            modules = {p.stem for p in (REPO / "hotgo").glob("*.py")}
            for named in set(re.findall(r"`(\w+)\.py`", text)):
                exists = named in modules or any((REPO / "tests").rglob(f"{named}.py"))
                assert exists, f"docs/architecture.md names {named}.py, in neither hotgo/ nor tests/"


def test_no_reference_to_a_document_outside_the_repository() -> None:
    outside = re.compile("DESIGN" + r"(\s*§|:|\.md)")
    places = [*(REPO / "hotgo").rglob("*.py"), *(REPO / "tests").rglob("*.py"), *(REPO / "bench").glob("*.py"),
              *(REPO / "docs").glob("*.md"), REPO / "README.md"]
    found = [f"{p.relative_to(REPO)}:{n}" for p in places
             for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1) if outside.search(line)]
    assert not found, f"references to a document outside the repository: {found}"
