"""`[[generate]]` entries as hotgo.toml gives them: checked, with file:line and the fix; which changes trigger
which step; finding a step's program, also where `go install` puts it."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import List

import pytest

from hotgo.generate.matching import triggering, triggers
from hotgo.generate.steps import DEFAULT_TIMEOUT, GenerateStep, entry_lines, parse_generate
from hotgo.generate.tools import ProgramMissing, child_env, find_program, go_bin_dirs, search_path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

CONFIG = """\
[build]
package = "."

[[generate]]
watch = ["**/*.templ"]
run = "templ generate"

[[generate]]
name = "queries"
watch = ["db/query.sql", "db/schema.sql"]
run = ["sqlc", "generate", "-f", "db/sqlc.yaml"]
dir = "./db/"
timeout = "30s"

[watch]
include = ["**/*.go"]
"""


def parse(text: str) -> List[GenerateStep]:
    return parse_generate(tomllib.loads(text)["generate"], "hotgo.toml", text)


def error(text: str) -> str:
    with pytest.raises(ValueError) as caught:
        parse(text)
    return str(caught.value)


def test_entries_become_steps() -> None:
    templ, sqlc = parse(CONFIG)
    assert templ == GenerateStep(1, ("**/*.templ",), ("templ", "generate"), "", "templ", DEFAULT_TIMEOUT)
    assert templ.where == "hotgo.toml:4" and templ.label == "generate templ"
    assert sqlc.run == ("sqlc", "generate", "-f", "db/sqlc.yaml")
    assert (sqlc.index, sqlc.name, sqlc.dir, sqlc.timeout, sqlc.where) == (2, "queries", "db", 30.0, "hotgo.toml:8")


def test_the_name_defaults_to_the_program_s_file_name() -> None:
    assert GenerateStep(1, ("*.x",), ("./bin/gen", "-v")).name == "gen"
    assert GenerateStep(1, ("*.x",), ("C:\\tools\\gen.exe",)).name == "gen"


def test_entry_lines_stop_at_the_next_table() -> None:
    lines = entry_lines(CONFIG)
    assert lines[(1, "")] == 4 and lines[(1, "run")] == 6
    assert lines[(2, "name")] == 9 and lines[(2, "timeout")] == 13
    assert (2, "include") not in lines


@pytest.mark.parametrize(("entry", "said"), [
    ('watch = ["*.templ"]\nrun = "templ generate"\nwacth = 1',
     "hotgo.toml:6: [[generate]] #1 wacth: unknown key; did you mean `watch`?"),
    ('watch = ["*.templ"]\nrun = "templ generate"\ncommand = "x"',
     "hotgo.toml:6: [[generate]] #1 command: unknown key; the keys of [[generate]] are watch, run, dir, name"),
    ('run = "templ generate"', "hotgo.toml:3: [[generate]] #1: `watch` is missing"),
    ('watch = ["*.templ"]', "hotgo.toml:3: [[generate]] #1: `run` is missing"),
    ('watch = []\nrun = "templ generate"', "hotgo.toml:4: [[generate]] #1 watch: empty: list the files"),
    ('watch = [1]\nrun = "x"', "hotgo.toml:4: [[generate]] #1 watch: expected a list of globs, got list [1]"),
    ('watch = ["web/"]\nrun = "x"', "watch: 'web/' names a directory; name the files in it, e.g. \"web/**/*.proto\""),
    ('watch = ["../api/*.proto"]\nrun = "x"', "stay below it; remove the '..'"),
    ('watch = ["[z-a].sql"]\nrun = "x"', "watch: glob '[z-a].sql': invalid character class"),
    ('watch = ["*.sql"]\nrun = ""', "hotgo.toml:5: [[generate]] #1 run: empty: write the command"),
    ('watch = ["*.sql"]\nrun = "sqlc \'generate"', "run: cannot split"),
    ('watch = ["*.sql"]\nrun = 3', "run: expected a command, as a string or a list of words, got int 3"),
    ('watch = ["*.sql"]\nrun = "sqlc\\u0000"', "run: 'sqlc\\x00' holds a NUL byte"),
    ('watch = ["*.sql"]\nrun = "sqlc"\ndir = "/srv/db"', "dir: '/srv/db' is absolute"),
    ('watch = ["*.sql"]\nrun = "sqlc"\ndir = "db/../.."', "dir: 'db/../..' leaves the module root"),
    ('watch = ["*.sql"]\nrun = "sqlc"\ntimeout = "0s"', "timeout: '0s' must be more than 0"),
    ('watch = ["*.sql"]\nrun = "sqlc"\ntimeout = "soon"', "timeout: 'soon' is not a duration"),
    ('watch = ["*.sql"]\nrun = "sqlc"\nname = " "', "name: expected a name for the messages"),
])
def test_a_bad_entry_is_named_with_its_line_and_the_fix(entry: str, said: str) -> None:
    assert said in error(f"# hotgo\n\n[[generate]]\n{entry}\n")


def test_the_second_entry_is_named_by_its_number() -> None:
    text = '[[generate]]\nwatch = ["a"]\nrun = "a"\n\n[[generate]]\nwatch = ["b"]\nrun = "b"\nwach = 1\n'
    assert error(text).startswith("hotgo.toml:8: [[generate]] #2 wach: unknown key; did you mean `watch`?")


@pytest.mark.parametrize(("value", "said"), [
    ({"watch": ["a"], "run": "a"}, "hotgo.toml: [generate] must be written [[generate]] (two brackets)"),
    ("templ", "hotgo.toml: `generate` must be [[generate]] entries, got str 'templ'"),
    (["templ"], "hotgo.toml: [[generate]] #1: expected a table"),
])
def test_a_single_table_or_a_value_says_how_to_write_steps(value: object, said: str) -> None:
    with pytest.raises(ValueError) as caught:
        parse_generate(value, "hotgo.toml")
    assert str(caught.value).startswith(said)


def test_without_the_text_messages_name_the_file() -> None:
    with pytest.raises(ValueError, match=r"^cfg\.toml: \[\[generate\]\] #1 run: empty"):
        parse_generate([{"watch": ["*.sql"], "run": []}], "cfg.toml")


# -- which changes trigger which step ------------------------------------------------


def test_changes_trigger_the_steps_whose_globs_match(tmp_path: Path) -> None:
    templ, sqlc = parse(CONFIG)
    changed = [tmp_path / "web" / "page.templ", tmp_path / "db" / "query.sql", tmp_path / "main.go",
               tmp_path / "query.sql", tmp_path / "web" / ".page.templ.swp", tmp_path / "web" / "page.templ~"]
    assert triggers([templ, sqlc], changed, tmp_path) == [
        (templ, (tmp_path / "web" / "page.templ",)), (sqlc, (tmp_path / "db" / "query.sql",))]
    assert triggers([templ, sqlc], [tmp_path / "main.go", tmp_path / "web" / "page_templ.go"], tmp_path) == []
    assert triggers([templ], [tmp_path.parent / "elsewhere" / "x.templ"], tmp_path) == []
    assert triggering([templ, sqlc], tmp_path / "a" / "b" / "c.templ", tmp_path)


def test_a_name_glob_matches_at_any_depth_and_a_path_glob_from_the_root(tmp_path: Path) -> None:
    step = GenerateStep(1, ("*.proto", "api/v1/*.yaml"), ("buf", "generate"))
    assert [hits for _, hits in triggers([step], [tmp_path / "x" / "y" / "a.proto"], tmp_path)] == [
        (tmp_path / "x" / "y" / "a.proto",)]
    assert triggers([step], [tmp_path / "api" / "v1" / "openapi.yaml"], tmp_path)
    assert not triggers([step], [tmp_path / "other" / "api" / "v1" / "openapi.yaml"], tmp_path)


# -- finding the program -------------------------------------------------------------


def write_program(directory: Path, name: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    program = directory / name
    program.write_text("#!/bin/sh\nexit 0\n")
    program.chmod(0o755)
    return program


@pytest.mark.skipif(sys.platform == "win32", reason="a shell script stands for the program")
def test_a_program_is_found_where_go_install_puts_it(tmp_path: Path) -> None:
    gobin = tmp_path / "gobin"
    program = write_program(gobin, "mygen")
    env = {"PATH": os.environ["PATH"], "GOBIN": str(gobin), "HOME": str(tmp_path)}
    assert str(gobin) in go_bin_dirs(env) or not go_bin_dirs(env)  # () only without a `go` to ask
    if go_bin_dirs(env):
        assert find_program("mygen", tmp_path, env) == str(program)
        assert child_env(env)["PATH"].split(os.pathsep)[-1] == str(gobin)
    assert search_path({"PATH": "", "GOBIN": str(gobin)}) == ""  # no `go` on an empty PATH to ask


@pytest.mark.skipif(sys.platform == "win32", reason="a shell script stands for the program")
def test_a_missing_program_is_said_with_its_install_command(tmp_path: Path) -> None:
    env = {"PATH": str(tmp_path / "empty")}
    with pytest.raises(ProgramMissing, match=r"^`templ` not found on PATH: install it with "
                                             r"`go install github.com/a-h/templ/cmd/templ@latest`$"):
        find_program("templ", tmp_path, env)
    with pytest.raises(ProgramMissing, match=r"^`gen-stuff` not found on PATH: install it, or give its path"):
        find_program("gen-stuff", tmp_path, env)
    with pytest.raises(ProgramMissing, match=r"^`./bin/gen` does not exist \(relative to .*\); build it first"):
        find_program("./bin/gen", tmp_path, env)
    write_program(tmp_path / "bin", "gen").chmod(0o644)
    with pytest.raises(ProgramMissing, match=r"`./bin/gen` is not executable; make it so with `chmod \+x ./bin/gen`"):
        find_program("./bin/gen", tmp_path, env)
    (tmp_path / "bin" / "gen").chmod(0o755)
    assert find_program("./bin/gen", tmp_path, env) == str(tmp_path / "bin" / "gen")
