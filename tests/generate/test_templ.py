"""The real `templ` (github.com/a-h/templ), installed by the test with `go install` from the module proxy
(skipped, saying why, when it cannot be fetched), run through run_step on a tiny .templ file.

templ TEMPL_VERSION does not write an output whose bytes would not change ("updates=0"): a second run on
the same input reports neither a change nor a same-bytes rewrite. The test accepts both behaviours for
the rewrite (a later templ may differ) and says which one it saw.
"""

from __future__ import annotations

import io
import os
import subprocess
from pathlib import Path

import pytest
from gen_fixtures import Results, age, write
from harness import wait_for

from hotgo import platform
from hotgo.generate.content import ContentIndex
from hotgo.generate.runner import StepResult, run_step
from hotgo.generate.steps import GenerateStep
from hotgo.log import Log

# templ v0.3.x needs Go 1.23 or later (its go.mod); this machine's Go is 1.26.
TEMPL_VERSION = "v0.3.1118"
INSTALL_TIMEOUT = 300.0

PAGE = """package web

templ Hello(name string) {
	<p>Hello, { name }</p>
}
"""


@pytest.fixture(scope="session")
def templ_bin(go_toolchain: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """GOBIN=<tmp> go install templ@TEMPL_VERSION; the directory it is in (as GOBIN, not on PATH)."""
    gobin = tmp_path_factory.mktemp("gobin")
    env = {**os.environ, "GOBIN": str(gobin), "GOFLAGS": "-p=2"}
    try:
        done = subprocess.run([go_toolchain, "install", f"github.com/a-h/templ/cmd/templ@{TEMPL_VERSION}"],
                              env=env, capture_output=True, text=True, timeout=INSTALL_TIMEOUT, check=False)
    except subprocess.TimeoutExpired:
        pytest.skip(f"`go install templ@{TEMPL_VERSION}` took more than {INSTALL_TIMEOUT:g}s (module proxy "
                    "unreachable or slow)")
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["?"])[-1]
        pytest.skip(f"templ@{TEMPL_VERSION} could not be fetched from the module proxy: {last}")
    assert (gobin / f"templ{platform.EXE_SUFFIX}").is_file()
    return gobin


def run(step: GenerateStep, root: Path, env: dict[str, str], index: ContentIndex) -> StepResult:
    results = Results()
    running = run_step(step, root, env, results, Log(io.StringIO()), index=index)
    wait_for(lambda: running.wait(0.05), 120, "templ generate to end")
    return results.last()


def test_templ_generate_reports_its_output_once(templ_bin: Path, tmp_path: Path) -> None:
    root = tmp_path / "project"
    write(root / "go.mod", "module example.com/site\n\ngo 1.23\n")
    write(root / "web" / "hello.templ", PAGE)
    output = root / "web" / "hello_templ.go"
    # templ is found in GOBIN, which is not on PATH: as after a `go install` on a machine that never set PATH.
    env = {"GOBIN": str(templ_bin)}
    step = GenerateStep(1, ("**/*.templ",), ("templ", "generate"))
    index = ContentIndex.for_root(root)

    first = run(step, root, env, index)
    assert first.ok, first.output_lines
    assert first.changed == (output,)
    assert "func Hello(name string) templ.Component" in output.read_text()

    age(output)
    second = run(step, root, env, index)
    assert second.ok and second.changed == (), second.output_lines
    rewrites = "rewrites it with the same bytes" if second.rewritten_identical == (output,) else "leaves it alone"
    assert second.rewritten_identical in ((), (output,))
    print(f"\ntempl {TEMPL_VERSION}, run again on the same input, {rewrites}")

    write(root / "web" / "hello.templ", PAGE + "\ntempl Bye() {\n\t<p>bye</p>\n}\n")
    assert run(step, root, env, index).changed == (output,)

    write(root / "web" / "hello.templ", PAGE + "\ntempl Broken( {\n")
    failed = run(step, root, env, index)
    assert not failed.ok and failed.code not in (0, None)
    assert any("hello.templ" in line and "error" in line for line in failed.errors), failed.output_lines
    assert failed.changed == ()
