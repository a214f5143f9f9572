"""The README, CONTRIBUTING.md and docs/ say what the code has: its files, its events, links that resolve,
no outside references."""

from __future__ import annotations

import ast
import re
import typing
from pathlib import Path
from typing import List, Set

import pytest
from test_imports import LAYERS

from hotgo.loop import events

REPO = Path(__file__).resolve().parent.parent
ARCHITECTURE = REPO / "docs" / "architecture.md"
# The documents a reader is sent to; each is checked for the files it names and the links it holds.
DOCUMENTS = [REPO / "README.md", REPO / "CONTRIBUTING.md", REPO / "docs" / "reference.md",
             REPO / "docs" / "benchmarks.md", ARCHITECTURE]


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
    """The units drawn on each layer of the picture, top to bottom (one row a layer, its name first)."""
    block = section("Packages and the direction of imports").split("```")[1]
    return [set(re.findall(r"[a-z_]+", line[15:])) for line in block.splitlines() if line[:15].strip()]


def units() -> Set[str]:
    """hotgo's packages and top-level modules."""
    hotgo = REPO / "hotgo"
    return ({p.stem for p in hotgo.glob("*.py")} | {p.parent.name for p in hotgo.glob("*/__init__.py")}) - {"__init__"}


def test_the_picture_of_the_layers_is_the_checked_one() -> None:
    existing = units()
    drawn = [layer & existing for layer in picture_layers()]
    checked = [layer & existing for layer in LAYERS]
    assert drawn == checked, "docs/architecture.md's picture and tests/test_imports.py's LAYERS differ"
    missing = existing - set().union(*drawn)
    assert not missing, f"not in the picture of docs/architecture.md: {sorted(missing)}"


def test_the_layout_table_names_every_package() -> None:
    named = set(re.findall(r"`hotgo/(\w+)/`", section("The layout")))
    packages = {p.parent.name for p in (REPO / "hotgo").glob("*/__init__.py")}
    assert named == packages, f"docs/architecture.md's layout table: {sorted(named ^ packages)}"


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda p: str(p.relative_to(REPO)))
def test_every_file_the_documents_name_exists(document: Path) -> None:
    text = document.read_text(encoding="utf-8")
    path = r"\b((?:hotgo|tests|bench|docs|samples)/[\w/.-]+(?:\.(?:py|md|png|go|mod|json|sh|c|service)|/Dockerfile))\b"
    for named in set(re.findall(path, text)):
        assert (REPO / named).exists(), f"{document.name} names {named}, which does not exist"
    if document == ARCHITECTURE:
        for named in set(re.findall(r"`([\w/]+\.py)`", text)):
            exists = any((REPO / base / named).exists() for base in ("hotgo", "tests", ".")) or any(
                (REPO / "tests").rglob(named))
            assert exists, f"docs/architecture.md names {named}, in neither hotgo/ nor tests/"


def heading_anchors(markdown: str) -> Set[str]:
    """The #anchors GitHub makes of a document's headings: lower case, punctuation dropped, spaces to dashes."""
    anchors: Set[str] = set()
    in_code = False
    for line in markdown.splitlines():
        if line.startswith("```"):
            in_code = not in_code
        elif not in_code and line.startswith("#"):
            title = line.lstrip("#").strip().lower()
            anchors.add(re.sub(r"[^\w\- ]", "", title).replace(" ", "-"))
    return anchors


def relative_links(markdown: str) -> List[str]:
    """The targets of [text](target) and ![alt](target) outside code blocks, web addresses left out."""
    links: List[str] = []
    in_code = False
    for line in markdown.splitlines():
        if line.startswith("```"):
            in_code = not in_code
        elif not in_code:
            links += [t for t in re.findall(r"\]\(([^)\s]+)\)", line) if not re.match(r"[a-z]+:", t)]
    return links


@pytest.mark.parametrize("document", [d for d in DOCUMENTS if d != ARCHITECTURE],
                         ids=lambda p: str(p.relative_to(REPO)))
def test_every_link_in_the_documents_resolves(document: Path) -> None:
    text = document.read_text(encoding="utf-8")
    for link in relative_links(text):
        path, _, anchor = link.partition("#")
        target = (document.parent / path).resolve() if path else document
        assert target.exists(), f"{document.name} links to {link}: no such file"
        if anchor:
            assert target.suffix == ".md", f"{document.name} links to {link}: an anchor in a file that is not markdown"
            found = heading_anchors(target.read_text(encoding="utf-8"))
            assert anchor in found, f"{document.name} links to {link}: no such heading in {target.name}"


def test_no_reference_to_a_document_outside_the_repository() -> None:
    outside = re.compile("DESIGN" + r"(\s*§|:|\.md)")
    places = [*(REPO / "hotgo").rglob("*.py"), *(REPO / "tests").rglob("*.py"), *(REPO / "bench").glob("*.py"),
              *(REPO / "docs").glob("*.md"), REPO / "README.md", REPO / "CONTRIBUTING.md"]
    found = [f"{p.relative_to(REPO)}:{n}" for p in places
             for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1) if outside.search(line)]
    assert not found, f"references to a document outside the repository: {found}"
