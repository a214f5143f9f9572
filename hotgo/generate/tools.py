"""Finding a step's program: on PATH, or where `go install` puts tools (GOBIN, else GOPATH/bin), which is
often not on PATH. A missing program is said with the command that installs it, when hotgo knows it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import threading
from pathlib import Path
from typing import Dict, Mapping, Optional, Tuple

from hotgo import platform
from hotgo.errors import shown_name

# The generators users name most, and how each is installed.
INSTALL = {
    "templ": "go install github.com/a-h/templ/cmd/templ@latest",
    "sqlc": "go install github.com/sqlc-dev/sqlc/cmd/sqlc@latest",
    "buf": "go install github.com/bufbuild/buf/cmd/buf@latest",
    "protoc-gen-go": "go install google.golang.org/protobuf/cmd/protoc-gen-go@latest",
    "protoc-gen-go-grpc": "go install google.golang.org/grpc/cmd/protoc-gen-go-grpc@latest",
    "stringer": "go install golang.org/x/tools/cmd/stringer@latest",
    "mockgen": "go install go.uber.org/mock/mockgen@latest",
    "oapi-codegen": "go install github.com/oapi-codegen/oapi-codegen/v2/cmd/oapi-codegen@latest",
    "gqlgen": "go install github.com/99designs/gqlgen@latest",
    "ent": "go install entgo.io/ent/cmd/ent@latest",
    "wire": "go install github.com/google/wire/cmd/wire@latest",
    "easyjson": "go install github.com/mailru/easyjson/easyjson@latest",
}
GO_ENV_TIMEOUT = 10.0


class ProgramMissing(ValueError):
    """The step's program is not there; the message says how to get it."""


_go_bins: Dict[Tuple[Optional[str], Optional[str], Optional[str]], Tuple[str, ...]] = {}
_go_bins_lock = threading.Lock()


def go_bin_dirs(env: Mapping[str, str]) -> Tuple[str, ...]:
    """Where `go install` puts programs: $GOBIN, else the first GOPATH entry's bin (`go env` answers, so that
    a `go env -w` setting counts too). Asked once per environment; () without a `go` to ask."""
    key = (env.get("PATH"), env.get("GOBIN"), env.get("GOPATH"))
    with _go_bins_lock:
        if key not in _go_bins:
            _go_bins[key] = _ask_go(dict(env))
        return _go_bins[key]


def _ask_go(env: Dict[str, str]) -> Tuple[str, ...]:
    go = shutil.which("go", path=env.get("PATH"))
    if go is None:
        return ()
    try:
        # Through the platform seam: a child it registers is never taken by hotgo's orphan reaper.
        proc = platform.spawn_tool([go, "env", "-json", "GOBIN", "GOPATH"], env, os.getcwd())
    except (OSError, ValueError):
        return ()
    try:
        answer, _ = proc.communicate(timeout=GO_ENV_TIMEOUT)
    except subprocess.TimeoutExpired:
        platform.kill_tree(proc)
        proc.communicate()
        return ()
    finally:
        platform.release(proc)
    text = answer.decode(errors="replace")  # JSON: a warning on stderr shares the pipe
    try:
        values = json.loads(text[text.index("{"):text.rindex("}") + 1])
    except ValueError:
        return ()
    if proc.returncode != 0 or not isinstance(values, dict):
        return ()
    gobin, gopath = str(values.get("GOBIN") or ""), str(values.get("GOPATH") or "")
    if gobin:
        return (gobin,)
    first = gopath.split(os.pathsep)[0] if gopath else ""
    return (str(Path(first) / "bin"),) if first else ()


def search_path(env: Mapping[str, str]) -> str:
    """PATH with the `go install` directory after it: where a step's program, and what it runs, are found."""
    entries = [entry for entry in env.get("PATH", os.defpath).split(os.pathsep) if entry]
    entries += [directory for directory in go_bin_dirs(env) if directory not in entries]
    return os.pathsep.join(entries)


def find_program(program: str, cwd: Path, env: Mapping[str, str]) -> str:
    """The file to run for `program`: a path (relative to the step's directory), or a name looked up on
    `search_path(env)`. Raises ProgramMissing with the fix."""
    said = shown_name(program, 120)
    if any(sep in program for sep in (os.sep, os.altsep or os.sep, "/")):
        target = cwd / program
        if not target.is_file():
            raise ProgramMissing(f"`{said}` does not exist (relative to {cwd}); build it first or fix `run`")
        if not os.access(target, os.X_OK):
            raise ProgramMissing(f"`{said}` is not executable; make it so with `chmod +x {said}`")
        return str(target)
    path = search_path(env)
    found = shutil.which(program, path=path)
    if found is not None:
        return found
    places = "PATH" + "".join(f" or {directory}" for directory in go_bin_dirs(env))
    install = INSTALL.get(program)
    fix = (f"install it with `{install}`" if install
           else "install it, or give its path in `run` (e.g. \"./bin/gen\")")
    raise ProgramMissing(f"`{said}` not found on {places}: {fix}")


def child_env(env: Mapping[str, str]) -> Dict[str, str]:
    """The step's environment: PATH extended the same way, since generators start plugins by name
    (`buf generate` runs protoc-gen-go, `go generate` runs stringer)."""
    merged = dict(env)
    merged["PATH"] = search_path(env)
    return merged

