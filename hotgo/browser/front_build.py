"""The front door's binary: front/ in the repository (module github.com/hotgo-dev/hotgo/front),
carried by a wheel as hotgo/_front/, built once with the user's go into .hotgo/front/, named by a
hash of the sources and `go version` (rebuilt only when either changes)."""

from __future__ import annotations

import hashlib
import os
import subprocess
from pathlib import Path
from typing import Dict, Optional, Sequence

from hotgo import platform
from hotgo.errors import UsageError

_PACKAGE_DIR = Path(__file__).resolve().parent.parent
PLACES = (_PACKAGE_DIR / "_front", _PACKAGE_DIR.parent / "front")
MODULE_PATH = "github.com/hotgo-dev/hotgo/front"


def front_sources(places: Sequence[Path] = PLACES) -> Path:
    for directory in places:
        mod = directory / "go.mod"
        if mod.is_file() and MODULE_PATH in mod.read_text():
            return directory
    raise UsageError(f"--front: this hotgo carries no front door sources (looked in "
                     f"{', '.join(str(p) for p in places)})")


def _go_env() -> Dict[str, str]:
    # The user's GOFLAGS (-mod=vendor …) and go.work are for their module, not this one.
    return {**os.environ, "GOFLAGS": "", "GOWORK": "off", "CGO_ENABLED": "0"}


def build_front(go: str, state_dir: Path, sources: Optional[Path] = None) -> Path:
    """The front door's binary in state_dir/front/, built if missing or stale."""
    source = sources or front_sources()
    env = _go_env()
    version = subprocess.run([go, "version"], capture_output=True, text=True, env=env, check=False).stdout
    hasher = hashlib.sha256(version.encode())
    for path in sorted(source.iterdir(), key=lambda p: p.name):
        if path.name == "go.mod" or (path.suffix == ".go" and not path.name.endswith("_test.go")):
            hasher.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    out_dir = state_dir / "front"
    binary = out_dir / f"front-{hasher.hexdigest()[:12]}{platform.EXE_SUFFIX}"
    if binary.is_file():
        return binary
    out_dir.mkdir(parents=True, exist_ok=True)
    partial = out_dir / f"partial-{os.getpid()}{platform.EXE_SUFFIX}"
    done = subprocess.run([go, "build", "-trimpath", "-o", str(partial), "."], cwd=str(source), env=env,
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise UsageError(f"--front: go build of the front door failed:\n{done.stdout}{done.stderr}")
    os.replace(partial, binary)
    for old in out_dir.iterdir():  # older builds: not needed any more
        if old != binary:
            try:
                old.unlink()
            except OSError:
                pass
    return binary
