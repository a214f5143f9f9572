"""A step's result in the log: one line when it worked, its error lines and a summary when it failed."""

from __future__ import annotations

import io
from pathlib import Path

from harness import parse_records

from hotgo.generate.report import show_result
from hotgo.generate.runner import StepResult
from hotgo.generate.steps import GenerateStep
from hotgo.log import Log

STEP = GenerateStep(1, ("**/*.consts",), ("gen",))


def shown(log_format: str, shown_result: StepResult, still: str = "every service keeps serving") -> str:
    """What show_result writes, once the log's writer thread has written it."""
    text = io.StringIO()
    log = Log(text, json_format=log_format == "json")
    show_result(log, shown_result, still)
    assert log.flush()
    return text.getvalue()


def result(ok: bool, *lines: str, code: int = 1, changed: int = 0) -> StepResult:
    return StepResult(STEP, ok, 0 if ok else code, 0.25, tuple(lines),
                      tuple(Path(f"/m/f{n}_gen.go") for n in range(changed)), (Path("/m/same_gen.go"),))


def test_a_run_that_worked_is_one_line() -> None:
    assert shown("text", result(True, "gen: 2 file(s) generated", changed=2)) == (
        "hotgo │ generate gen: 2 files changed in 0.25s\n")
    (record,) = parse_records(shown("json", result(True)))
    assert (record["event"], record["step"], record["changed"], record["rewritten"]) == ("generate_done", "gen", 0, 1)
    assert record["message"] == "generate gen: nothing changed in 0.25s"


def test_a_failure_shows_its_lines_then_the_first_error_and_what_still_serves() -> None:
    failed = result(False, "reading inputs", "web/a.consts:3: expected `Name = value`")
    assert shown("text", failed, still="still serving generation 4").splitlines() == [
        "  reading inputs",
        "  web/a.consts:3: expected `Name = value`",
        "hotgo │ generate gen failed (exit 1) in 0.25s: web/a.consts:3: expected `Name = value` — still serving "
        "generation 4",
    ]
    records = parse_records(shown("json", result(False, "web/a.consts:3: expected `Name = value`", code=2)))
    events = [(record["event"], record.get("code")) for record in records]
    assert events == [("generate_output", None), ("generate_failed", 2)]


def test_a_cancelled_run_says_nothing() -> None:
    assert shown("text", StepResult(STEP, False, None, 0.1, ("x",), (), (), cancelled=True)) == ""
