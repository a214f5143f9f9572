"""Imports inside hotgo run one way: no cycle, and no module imports one of a higher layer.

The layers, top to bottom, are drawn in docs/architecture.md ("Modules and the direction of
imports"). Every import counts, also one inside a function: a deferred import hides a cycle
from Python, not from the next reader.
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Dict, List, Set

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "hotgo"

# Top to bottom; a module may import its own layer and the layers below it. A name listed here
# that has no file yet is allowed (modules of branches still in flight are placed ahead).
LAYERS: List[Set[str]] = [
    # entry points: commands, wiring of threads, sockets and the loop
    {"__main__", "cli", "browser"},
    # the one deciding loop and what it reacts to
    {"supervisor", "events"},
    # parts, each with one job; they reach the loop only through callbacks and events
    {
        "build", "progress", "generation", "notify", "ready", "drain", "crashes", "history",
        "timings", "hints", "artifact", "push", "validate", "validator_output", "envfile", "settings_watch",
        "watch", "snapshot", "observers", "livereload", "proxy", "pagescript", "listening", "control",
        "sockets", "gomod", "check_flag", "init", "settings_table", "status_report", "preflight", "reaper",
    },
    # what the user set: declarations, hotgo.toml, and the parsers they need
    {"config", "settings", "push_spec", "signals", "addresses", "profiles"},
    # foundations that know nothing of the rest
    {"__init__", "errors", "log", "platform", "procnet", "timers", "filters", "kinds", "children"},
]


def hotgo_imports(path: Path) -> Set[str]:
    """The hotgo modules `path` imports, anywhere in it."""
    found: Set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "hotgo":  # `from hotgo import platform`, not `from hotgo import __version__`
                found.update(alias.name for alias in node.names if (PACKAGE / f"{alias.name}.py").exists())
            elif node.module.startswith("hotgo."):
                found.add(node.module.split(".")[1])
        elif isinstance(node, ast.Import):
            found.update(alias.name.split(".")[1] for alias in node.names if alias.name.startswith("hotgo."))
    found.discard(path.stem)
    return found


def import_graph() -> Dict[str, Set[str]]:
    return {path.stem: hotgo_imports(path) for path in sorted(PACKAGE.glob("*.py"))}


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


def layer_of(module: str) -> int:
    for index, layer in enumerate(LAYERS):
        if module in layer:
            return index
    pytest.fail(f"hotgo/{module}.py is in no layer: add it to LAYERS in tests/test_imports.py (the highest "
                "layer whose modules it imports, or lower) and to the picture in docs/architecture.md")


def test_no_import_cycle() -> None:
    cycle = find_cycle(import_graph())
    assert not cycle, "import cycle: " + " -> ".join(cycle)


def test_no_module_imports_a_higher_layer() -> None:
    upward = [f"{module} imports {imported}"
              for module, imports in import_graph().items()
              for imported in sorted(imports)
              if layer_of(imported) < layer_of(module)]
    assert not upward, "imports against the layers: " + "; ".join(upward)


def test_the_checks_catch_what_they_promise(tmp_path: Path) -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) == []
    source = ("import hotgo.log\nfrom hotgo import __version__, platform, timers\n\n"
              "def later():\n    from hotgo.cli import main\n")
    scratch = tmp_path / "scratch.py"
    scratch.write_text(source, encoding="utf-8")
    assert hotgo_imports(scratch) == {"log", "platform", "timers", "cli"}
