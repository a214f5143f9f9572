"""Imports inside hotgo run one way: no cycle, and no module imports a unit of a higher layer.

A unit is a package of hotgo (`loop`, `handoff`, …) or a module at its top (`cli`, `log`). The
layers, top to bottom, are drawn in docs/architecture.md ("Packages and the direction of
imports"). Every import counts, also one inside a function: a deferred import hides a cycle
from Python, not from the next reader.
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Dict, List, Set

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "hotgo"

# Top to bottom; a unit may import its own layer and the layers below it. A name listed here
# that has no file yet is allowed (units of branches still in flight are placed ahead).
LAYERS: List[Set[str]] = [
    # entry points: parse the command line, wire the parts, dispatch
    {"__main__", "cli", "app", "serve", "run_plan"},
    # the one deciding loop and what it reacts to
    {"loop"},
    # stages that serve the loop: config pushes, the browser proxy, the control socket, `hotgo init`, `hotgo helper`
    {"push", "browser", "control", "init", "helper"},
    # one generation's life at the shared port, building one, and the code generators a build waits for
    {"handoff", "build", "generate"},
    # what the user set: declarations, hotgo.toml, and the parsers they need
    {"settings"},
    # seeing file changes (it needs nothing of the settings: they are handed to it)
    {"watch"},
    # foundations that know nothing of the rest; platform/ is the only place that asks which OS
    {"__init__", "errors", "log", "choices", "deadlines", "stop_signals", "platform"},
]


def module_names() -> Dict[str, Path]:
    """Every module of hotgo by dotted name below the package (`loop.supervisor`, `cli`, `platform`)."""
    names: Dict[str, Path] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(PACKAGE).with_suffix("").parts)
        if parts[-1] == "__init__" and len(parts) > 1:
            parts = parts[:-1]
        names[".".join(parts)] = path
    return names


def hotgo_imports(path: Path, known: Set[str]) -> Set[str]:
    """The hotgo modules `path` imports, anywhere in it (`from hotgo.loop import events` is `loop.events`)."""
    found: Set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module != "hotgo" and not node.module.startswith("hotgo."):
                continue
            base = node.module[len("hotgo."):] if node.module != "hotgo" else ""
            for alias in node.names:
                name = f"{base}.{alias.name}".strip(".")
                found.add(name if name in known else base)  # a module, or a name of module `base`
        elif isinstance(node, ast.Import):
            found.update(alias.name[len("hotgo."):] for alias in node.names if alias.name.startswith("hotgo."))
    found.discard("")  # `from hotgo import __version__`
    return found


def import_graph() -> Dict[str, Set[str]]:
    modules = module_names()
    return {name: hotgo_imports(path, set(modules)) - {name} for name, path in modules.items()}


def unit_of(module: str) -> str:
    return module.split(".")[0]


def unit_graph(graph: Dict[str, Set[str]]) -> Dict[str, Set[str]]:
    units: Dict[str, Set[str]] = {}
    for module, imports in graph.items():
        units.setdefault(unit_of(module), set()).update(unit_of(i) for i in imports)
    return {unit: imports - {unit} for unit, imports in units.items()}


def find_cycle(graph: Dict[str, Set[str]]) -> List[str]:
    """One import cycle as a path (first module repeated at the end), or [] when there is none."""
    done: Set[str] = set()
    path: List[str] = []

    def visit(module: str) -> List[str]:
        if module in path:
            return [*path[path.index(module):], module]
        if module in done or module not in graph:
            return []
        path.append(module)
        for imported in sorted(graph[module]):
            cycle = visit(imported)
            if cycle:
                return cycle
        path.pop()
        done.add(module)
        return []

    for module in sorted(graph):
        cycle = visit(module)
        if cycle:
            return cycle
    return []


def layer_of(unit: str) -> int:
    for index, layer in enumerate(LAYERS):
        if unit in layer:
            return index
    pytest.fail(f"hotgo/{unit} is in no layer: add it to LAYERS in tests/test_imports.py (the highest "
                "layer whose units it imports, or lower) and to the picture in docs/architecture.md")


def test_no_import_cycle_between_modules() -> None:
    cycle = find_cycle(import_graph())
    assert not cycle, "import cycle: " + " -> ".join(cycle)


def test_no_import_cycle_between_packages() -> None:
    cycle = find_cycle(unit_graph(import_graph()))
    assert not cycle, "packages import each other: " + " -> ".join(cycle)


def test_no_module_imports_a_higher_layer() -> None:
    upward = [f"{module} imports {imported}"
              for module, imports in import_graph().items()
              for imported in sorted(imports)
              if layer_of(unit_of(imported)) < layer_of(unit_of(module))]
    assert not upward, "imports against the layers: " + "; ".join(upward)


def test_package_inits_hold_no_code_but_the_platform_seam() -> None:
    """`import hotgo.loop.events` runs hotgo/loop/__init__.py: an init that imports would tie packages."""
    heavy = [str(path.relative_to(PACKAGE)) for name, path in module_names().items()
             if path.name == "__init__.py" and name not in ("__init__", "platform")
             and any(not isinstance(node, ast.Expr) for node in ast.parse(path.read_text(encoding="utf-8")).body)]
    assert not heavy, f"package __init__ files with code (keep them to a docstring): {heavy}"


def test_the_checks_catch_what_they_promise(tmp_path: Path) -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) == []
    assert unit_graph({"loop.x": {"handoff.y", "loop.z"}, "handoff.y": {"log"}}) == {
        "loop": {"handoff"}, "handoff": {"log"}}
    source = ("import hotgo.log\nfrom hotgo import __version__, platform\nfrom hotgo.loop import events\n\n"
              "def later():\n    from hotgo.cli import main\n    from hotgo.handoff.drain import DrainWatch\n")
    scratch = tmp_path / "scratch.py"
    scratch.write_text(source, encoding="utf-8")
    known = {"log", "platform", "loop.events", "cli", "handoff.drain"}
    assert hotgo_imports(scratch, known) == {"log", "platform", "loop.events", "cli", "handoff.drain"}
