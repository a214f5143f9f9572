"""Find the Go module and the main package that hotgo builds."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, List, Optional

from hotgo.errors import UsageError


@dataclass(frozen=True)
class GoPackage:
    root: Path  # module root (directory of go.mod)
    package: str  # as passed to `go build` from the module root
    name: str  # binary base name
    directory: Path


def find_go() -> str:
    go = shutil.which("go")
    if go is None:
        raise UsageError(
            "`go` was not found on PATH: install Go (https://go.dev/dl/) "
            "or add its bin directory to PATH"
        )
    return go


def find_module_root(start: Path) -> Path:
    for directory in (start, *start.parents):
        if (directory / "go.mod").is_file():
            return directory
    raise UsageError(
        f"no go.mod found in {start} or any parent directory: run hotgo inside a Go module "
        "(create one with `go mod init NAME`)"
    )


def resolve_package(go: str, cwd: Path, package: str, env: Optional[dict[str, str]] = None) -> GoPackage:
    """Ask `go list` where PKG is, so a typo is reported before anything starts."""
    if package.startswith("."):
        directory = (cwd / package).resolve()
        if not directory.is_dir():
            raise UsageError(f"package {package}: directory {directory} does not exist")
        root = find_module_root(directory)
        relative = directory.relative_to(root).as_posix()
        build_path = "." if relative == "." else "./" + relative
    else:
        root = find_module_root(cwd)
        build_path = package
    try:
        result = subprocess.run(
            [go, "list", "-f", "{{.Name}}\t{{.Dir}}", build_path],
            cwd=root, capture_output=True, text=True, timeout=120,
            env={**os.environ, **(env or {})},
        )
    except subprocess.TimeoutExpired:
        raise UsageError(f"`go list {build_path}` did not answer within 120s") from None
    if result.returncode != 0:
        message = " ".join(result.stderr.split()) or "go list failed"
        raise UsageError(f"package {package}: {message}")
    name, _, directory_text = result.stdout.strip().partition("\t")
    if name != "main":
        raise UsageError(
            f"package {package} is `package {name}`, not a command: "
            "point hotgo at a `package main` directory such as ./cmd/api"
        )
    directory = Path(directory_text)
    binary_name = directory.name if directory != root else _module_basename(root)
    return GoPackage(root=root, package=build_path, name=binary_name, directory=directory)


def _module_basename(root: Path) -> str:
    for line in (root / "go.mod").read_text(encoding="utf-8", errors="replace").splitlines():
        words = line.split()
        if len(words) >= 2 and words[0] == "module":
            return words[1].strip('"').rstrip("/").rsplit("/", 1)[-1]
    return root.name


_EMBED = re.compile(r"^//go:embed\s+(.+)$", re.MULTILINE)


def embed_patterns(root: Path, go_files: Iterable[Path]) -> List[str]:
    """Watch globs for the files `//go:embed` directives pull into the binary.

    Embed patterns are relative to the .go file's directory; a directory embeds
    everything below it, so both `pattern` and `pattern/**` are returned.
    """
    found: List[str] = []
    for path in go_files:
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        if "//go:embed" not in text:
            continue
        base = path.parent.relative_to(root).as_posix()
        for match in _EMBED.finditer(text):
            for word in shlex.split(match.group(1).replace("`", '"')):
                word = word.removeprefix("all:")
                pattern = word if base == "." else f"{base}/{word}"
                found += [pattern, f"{pattern}/**"]
    return sorted(set(found))
