"""Which services a change rebuilds, from their real `go list -deps` on a copy of tests/fixtures/monorepo.

The fixture (its README has the table): a go.work joining example.com/shop and libs/greet; api imports
internal/shared and internal/apionly, web imports internal/shared and example.com/greet and embeds
static/*, worker imports example.com/greet; internal/unused is imported by nobody.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Dict, Sequence, Set

import pytest
from harness import REPO

from hotgo.build.embed_match import embedded, path_match
from hotgo.build.go_header import parse_header
from hotgo.build.import_graph import ImportGraph, Routing, ServiceSpec, load_graph, load_services, watch_directories
from hotgo.build.service_deps import GoListFailed, load_deps

SERVICES = ("api", "web", "worker")
ALL = frozenset(SERVICES)


def copy_monorepo(base: Path) -> Path:
    target = base / "monorepo"
    shutil.copytree(REPO / "tests" / "fixtures" / "monorepo", target)
    return target.resolve()


def specs(root: Path, api_flags: Sequence[str] = ()) -> Dict[str, ServiceSpec]:
    return {name: ServiceSpec(root, f"./cmd/{name}", {}, list(api_flags) if name == "api" else [])
            for name in SERVICES}


def routed(routing: Routing) -> Set[str]:
    return set(routing.by_service)


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory, go_toolchain: str) -> Path:
    """One copy for the tests that change nothing."""
    return copy_monorepo(tmp_path_factory.mktemp("graph"))


@pytest.fixture(scope="module")
def shop_graph(shop: Path) -> ImportGraph:
    return load_graph("go", specs(shop))


@pytest.fixture
def project(tmp_path: Path, go_toolchain: str) -> Path:
    """A copy of its own, for a test that edits it."""
    return copy_monorepo(tmp_path)


@pytest.mark.parametrize(("changed", "services", "refresh"), [
    ("cmd/api/main.go", {"api"}, set()),
    ("internal/shared/serve.go", {"api", "web"}, set()),
    ("internal/apionly/apionly.go", {"api"}, set()),
    ("libs/greet/greet.go", {"web", "worker"}, set()),
    ("cmd/web/static/index.html", {"web"}, set()),
    ("go.mod", ALL, ALL),  # worker's own package is in example.com/shop
    ("go.sum", ALL, set()),  # there is none yet: creating one counts too
    ("libs/greet/go.mod", {"web", "worker"}, {"web", "worker"}),
    ("go.work", ALL, ALL),
    ("go.work.sum", ALL, set()),
])
def test_a_change_rebuilds_the_services_whose_graph_holds_it(
        shop: Path, shop_graph: ImportGraph, changed: str, services: Set[str], refresh: Set[str]) -> None:
    routing = shop_graph.route([shop / changed])
    assert routing.by_service == {name: (shop / changed,) for name in services}
    assert routing.unrouted == ()
    assert routing.refresh == refresh


@pytest.mark.parametrize(("changed", "reason"), [
    ("internal/unused/unused.go", "no service imports package ./internal/unused"),
    ("internal/shared/serve_test.go", "test file"),
    ("README.md", "not a source of any service"),
    ("cmd/api/notes.txt", "not a source of any service"),
    ("internal/apionly/extra.go", "build constraints leave it out of package ./internal/apionly"),
])
def test_a_file_no_build_reads_rebuilds_nothing_and_says_why(
        shop: Path, shop_graph: ImportGraph, changed: str, reason: str) -> None:
    routing = shop_graph.route([shop / changed])
    assert routing.by_service == {}
    assert routing.unrouted == ((shop / changed, reason),)
    assert routing.refresh == frozenset()


def test_one_route_sorts_many_paths(shop: Path, shop_graph: ImportGraph) -> None:
    routing = shop_graph.route([shop / "internal/shared/serve.go", shop / "README.md", shop / "libs/greet/greet.go"])
    assert routing.by_service == {
        "api": (shop / "internal/shared/serve.go",),
        "web": (shop / "internal/shared/serve.go", shop / "libs/greet/greet.go"),
        "worker": (shop / "libs/greet/greet.go",)}
    assert routing.unrouted == ((shop / "README.md", "not a source of any service"),)


def test_the_deps_hold_absolute_files_modules_and_the_workspace(shop: Path, shop_graph: ImportGraph) -> None:
    web = shop_graph.services["web"]
    assert web.directories == {shop / "cmd/web", shop / "internal/shared", shop / "libs/greet"}
    assert shop / "cmd/web/static/index.html" in web.sources
    assert shop / "libs/greet/greet.go" in web.sources
    assert web.module_files == {shop / "go.mod", shop / "go.sum",
                                shop / "libs/greet/go.mod", shop / "libs/greet/go.sum"}
    assert web.workspace_files == {shop / "go.work", shop / "go.work.sum"}
    assert [m.path for m in web.modules] == ["example.com/shop", "example.com/greet"]
    assert all(p.is_absolute() for p in web.sources)
    assert watch_directories(specs(shop)) == [shop]


def test_a_new_file_in_a_package_of_the_graph_rebuilds_and_refreshes(project: Path) -> None:
    graph = load_graph("go", specs(project))
    new = project / "internal/shared/more.go"
    new.write_text("package shared\n\nconst More = 1\n", encoding="utf-8")
    routing = graph.route([new])
    assert routed(routing) == {"api", "web"}
    assert routing.refresh == {"api", "web"}


def test_a_deleted_file_routes_as_it_did(project: Path) -> None:
    graph = load_graph("go", specs(project))
    gone = [project / "internal/apionly/apionly.go", project / "internal/shared/serve_test.go",
            project / "README.md", project / "cmd/web/static/index.html"]
    for path in gone:
        path.unlink()
    routing = graph.route(gone)
    assert routing.by_service == {"api": (gone[0],), "web": (gone[3],)}
    assert [reason for _, reason in routing.unrouted] == ["test file", "not a source of any service"]
    assert routing.refresh == {"api"}


def test_a_removed_package_directory_rebuilds_its_services(project: Path) -> None:
    graph = load_graph("go", specs(project))
    shutil.rmtree(project / "libs/greet")
    routing = graph.route([project / "libs/greet"])
    assert routed(routing) == {"web", "worker"}
    assert routing.refresh == {"web", "worker"}


def test_an_edit_that_keeps_the_imports_needs_no_new_go_list(project: Path) -> None:
    graph = load_graph("go", specs(project))
    main = project / "cmd/api/main.go"
    main.write_text(main.read_text(encoding="utf-8").replace('"v1"', '"v2"'), encoding="utf-8")
    routing = graph.route([main])
    assert routed(routing) == {"api"}
    assert routing.refresh == frozenset()


def test_an_added_import_refreshes_and_the_new_graph_routes_by_it(project: Path) -> None:
    graph = load_graph("go", specs(project))
    assert routed(graph.route([project / "internal/apionly/apionly.go"])) == {"api"}
    main = project / "cmd/web/main.go"
    text = main.read_text(encoding="utf-8")
    text = text.replace('"example.com/greet"\n', '"example.com/greet"\n\t"example.com/shop/internal/apionly"\n')
    main.write_text(text.replace("greet.Hello(\"web\"))", "greet.Hello(\"web\"), apionly.Features())"),
                    encoding="utf-8")
    routing = graph.route([main])
    assert routed(routing) == {"web"} and routing.refresh == {"web"}
    graph = graph.replaced(load_services("go", {name: specs(project)[name] for name in routing.refresh}))
    assert routed(graph.route([project / "internal/apionly/apionly.go"])) == {"api", "web"}


def test_a_new_file_in_an_embedded_directory_is_a_source(project: Path) -> None:
    graph = load_graph("go", specs(project))
    static = project / "cmd/web/static"
    (static / "style.css").write_text("p {}\n", encoding="utf-8")
    (static / "_draft.css").write_text("p {}\n", encoding="utf-8")  # static/* names it: embedded
    (static / "img").mkdir()
    (static / "img" / "_skip.png").write_bytes(b"")  # below a matched directory: left out
    (static / "img" / "logo.png").write_bytes(b"")
    routing = graph.route([static / "style.css", static / "_draft.css",
                           static / "img/_skip.png", static / "img/logo.png"])
    assert routing.by_service == {"web": (static / "style.css", static / "_draft.css", static / "img/logo.png")}
    assert routing.unrouted == ((static / "img/_skip.png", "not a source of any service"),)
    assert routing.refresh == frozenset()


def test_a_new_go_embed_line_refreshes(project: Path) -> None:
    graph = load_graph("go", specs(project))
    main = project / "cmd/web/main.go"
    main.write_text(main.read_text(encoding="utf-8").replace("//go:embed static/*", "//go:embed static/* main.go"),
                    encoding="utf-8")
    assert graph.route([main]).refresh == {"web"}


def test_the_builds_tags_decide_which_files_are_sources(project: Path) -> None:
    extra = project / "internal/apionly/extra.go"
    tagged = load_deps("go", project, "./cmd/api", {}, ["-tags", "extra", "-race"])
    plain = load_deps("go", project, "./cmd/api", {}, [])
    assert extra in tagged.sources and extra not in plain.sources
    assert extra in plain.packages[[p.directory for p in plain.packages].index(extra.parent)].ignored_go_files
    assert routed(load_graph("go", specs(project, ["-tags=extra"])).route([extra])) == {"api"}
    # Without the tag, an edit of its constraint may bring it in: rebuilt, and listed again.
    graph = load_graph("go", specs(project))
    extra.write_text(extra.read_text(encoding="utf-8").replace("//go:build extra\n\n", ""), encoding="utf-8")
    routing = graph.route([extra])
    assert routed(routing) == {"api"} and routing.refresh == {"api"}


def test_a_package_a_service_waits_for_rebuilds_it_when_it_appears(project: Path) -> None:
    main = project / "cmd/worker/main.go"
    main.write_text(main.read_text(encoding="utf-8").replace(
        '"example.com/greet"\n', '"example.com/greet"\n\t_ "example.com/shop/internal/jobs"\n'), encoding="utf-8")
    graph = load_graph("go", specs(project))
    assert graph.services["worker"].missing_imports == {"example.com/shop/internal/jobs"}
    (project / "internal/jobs").mkdir()
    (project / "internal/jobs/jobs.go").write_text("package jobs\n", encoding="utf-8")
    (project / "internal/other").mkdir()
    (project / "internal/other/other.go").write_text("package other\n", encoding="utf-8")
    routing = graph.route([project / "internal/jobs/jobs.go", project / "internal/other/other.go"])
    assert routing.by_service == {"worker": (project / "internal/jobs/jobs.go",)}
    assert routing.refresh == {"worker"}
    assert routing.unrouted == ((project / "internal/other/other.go", "no service imports package ./internal/other"),)


def test_a_broken_go_mod_fails_the_listing_with_go_s_words(project: Path) -> None:
    (project / "go.mod").write_text("module\n", encoding="utf-8")
    with pytest.raises(GoListFailed, match=r"go list -deps ./cmd/api.*go\.mod"):
        load_deps("go", project, "./cmd/api", {}, [])


def test_a_syntax_error_is_no_failure(project: Path) -> None:
    (project / "internal/shared/broken.go").write_text("package shared\n\nfunc {\n", encoding="utf-8")
    deps = load_deps("go", project, "./cmd/api", {}, [])
    assert project / "internal/shared/broken.go" in deps.sources


@pytest.mark.parametrize(("text", "constraints", "package", "imports"), [
    ("package a\n", (), "a", set()),
    ('//go:build linux\n\n// Package a.\npackage a // c\n\nimport "fmt"\nimport (\n\tf "os"; _ "embed"\n\t. "io"\n)\n'
     'func f() {}\nimport "late"\n', ("//go:build linux",), "a", {"fmt", "os", "embed", "io"}),
    ('package c\n\n/*\n#include <stdio.h>\nimport "no"\n*/\nimport "C"\n\nvar x = "import"\n', (), "c", {"C"}),
    ("// only a comment\n", (), "", set()),
    ("package r\nimport `raw/path`\n", (), "r", {"raw/path"}),
])
def test_a_go_header_holds_constraints_package_and_imports(
        text: str, constraints: Sequence[str], package: str, imports: Set[str]) -> None:
    header = parse_header(text)
    assert (header.constraints, header.package, header.imports) == (tuple(constraints), package, frozenset(imports))


@pytest.mark.parametrize(("pattern", "name", "matched"), [  # each checked against Go's path.Match
    ("*", "abc", True), ("*", "a/b", False), ("a?c", "a/c", False), ("[a-c]x", "bx", True),
    ("[^a-c]x", "/x", True), ("[]a]", "a", False), ("[-]", "-", False), ("[z-a]", "a", False),
    ("[^z-a]", "a", True), ("\\*", "*", True), ("\\", "x", False), ("[\\]]", "]", True),
    ("static/*", "static/.h", True), ("a[", "a", False), ("*.txt", ".txt", True),
])
def test_patterns_match_as_go_s_path_match(pattern: str, name: str, matched: bool) -> None:
    assert path_match(pattern, name) is matched


@pytest.mark.parametrize(("patterns", "relative", "expected"), [
    (["static"], "static/a/b.css", True), (["static"], "static/.git/x", False),
    (["all:static"], "static/_x/y", True), (["static/*.css"], "static/a.css", True),
    (["static/*.css"], "static/a.js", False), (["tmpl/*"], "static/a.css", False),
])
def test_embed_patterns_take_files_and_directories(patterns: Sequence[str], relative: str, expected: bool) -> None:
    assert embedded(patterns, relative) is expected



def test_a_module_replaced_by_a_directory_outside_is_local_and_watched(project: Path) -> None:
    """Without the go.work: go.mod requires example.com/greet and replaces it with ../greet."""
    (project / "go.work").unlink()
    greet = project.parent / "greet"
    shutil.move(str(project / "libs/greet"), str(greet))
    with (project / "go.mod").open("a", encoding="utf-8") as go_mod:
        go_mod.write("\nrequire example.com/greet v0.0.0\n\nreplace example.com/greet => ../greet\n")
    graph = load_graph("go", specs(project))
    assert graph.services["web"].workspace_files == frozenset()
    routing = graph.route([greet / "greet.go", greet / "go.mod", project / "internal/shared/serve.go"])
    assert routing.by_service == {"api": (project / "internal/shared/serve.go",),
                                  "web": (greet / "greet.go", greet / "go.mod", project / "internal/shared/serve.go"),
                                  "worker": (greet / "greet.go", greet / "go.mod")}
    assert routing.refresh == {"web", "worker"}
    assert watch_directories(specs(project)) == [greet, project]
