"""A step's result as the log shows it: a failure like a failed build (its error lines, file:line bright)."""

from __future__ import annotations

import re

from hotgo.generate.runner import StepResult
from hotgo.log import BRIGHT, RED, Log

_WHERE = re.compile(r"^(?P<before>.*?)(?P<where>[^\s:]+\.[A-Za-z0-9_]+:\d+(?::\d+)?): (?P<what>.*)$")


def show_result(log: Log, result: StepResult, still: str = "every service keeps serving") -> None:
    """One line for a run that worked; the output, then a summary ending with `still`, for one that failed."""
    label = result.step.label
    if result.ok:
        count = len(result.changed)
        wrote = f"{count} file{'s' if count != 1 else ''} changed" if count else "nothing changed"
        log.info(f"{label}: {wrote} in {result.seconds:.2f}s", event="generate_done",
                 step=result.step.name, changed=count, rewritten=len(result.rewritten_identical))
        return
    if result.cancelled:
        return  # stopped on purpose: nothing to report
    for line in result.output_lines:
        match = _WHERE.match(line)
        if match:
            log.raw("  " + match["before"] + log.paint(match["where"], BRIGHT) + ": " + log.paint(match["what"], RED),
                    event="generate_output")
        elif line:
            log.raw("  " + line, event="generate_output")
    how = f"exit {result.code}" if result.code is not None else "killed" if result.timed_out else "did not run"
    first = next(iter(result.errors), "")
    log.error(f"{label} failed ({how}) in {result.seconds:.2f}s{': ' + first.strip() if first else ''} — {still}",
              event="generate_failed", step=result.step.name, code=result.code)
