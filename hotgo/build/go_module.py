"""Find the Go module and the main package that hotgo builds."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, List, Mapping, Optional, Tuple

from hotgo import platform, stop_signals
from hotgo.build.constraints import constraint_hint
from hotgo.errors import UsageError


@dataclass(frozen=True)
class GoPackage:
    root: Path  # module root (directory of go.mod)
    package: str  # as passed to `go build` from the module root
    name: str  # binary base name


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


def resolve_package(go: str, cwd: Path, package: str, env: Optional[dict[str, str]] = None,
                    build_flags: Iterable[str] = ()) -> GoPackage:
    """Ask `go list` where PKG is, so a typo is reported before anything starts. A pattern (`./...`,
    `./cmd/...`) must name one main package, which is then the one built. The build's `-tags` (and
    module flags) go to go list too: a package that needs a tag is found with it."""
    if package.startswith(".") and _is_pattern(package):
        root, build_path = _relative_pattern(cwd, package)
    elif package.startswith("."):
        directory = _package_directory(cwd, package)
        root = find_module_root(directory)
        build_path = _build_path(directory, root)
    else:
        root = find_module_root(cwd)
        build_path = package
    code, found, messages = _go_list(go, build_path, root, env, list_flags(build_flags))
    if code is None:
        raise UsageError(f"`go list {build_path}` did not answer within {GO_LIST_TIMEOUT:g}s")
    if code != 0 or not found:
        message = " ".join(" ".join(messages).split()) or "go list failed"
        hint = constraint_hint(message)
        raise UsageError(f"package {package}: {message}" + (f"; {hint}" if hint else ""))
    listed = found
    commands = [Path(directory) for name, directory in listed if name == "main"]
    if len(commands) > 1:
        raise UsageError(f"package {package} names {len(commands)} main packages ({_shown_dirs(commands, root)}): "
                         f"hotgo builds and runs one; name it, e.g. hotgo run {_build_path(commands[0], root)}")
    if not commands:
        if len(listed) > 1:
            raise UsageError(f"package {package} names {len(listed)} packages and none is `package main`: "
                             "point hotgo at a `package main` directory such as ./cmd/api")
        raise UsageError(
            f"package {package} is `package {listed[0][0] if listed else '?'}`, not a command: "
            "point hotgo at a `package main` directory such as ./cmd/api"
        )
    directory = commands[0]
    if _is_pattern(build_path):  # a pattern naming one command (maybe among libraries): that one is built
        build_path = _build_path(directory, root)
    return _package(root, build_path, directory)


def locate_package(cwd: Path, package: str) -> Optional[GoPackage]:
    """What `resolve_package` will find for a directory (`./cmd/api`), from the file system alone:
    enough to start the first build while `go list` checks it. None for a pattern or an import path."""
    if not package.startswith(".") or _is_pattern(package):
        return None
    directory = _package_directory(cwd, package)
    root = find_module_root(directory)
    return _package(root, _build_path(directory, root), directory)


def _package_directory(cwd: Path, package: str) -> Path:
    directory = _existing_directory(cwd, package)
    if directory.is_file():
        parent = os.path.relpath(directory.parent, cwd)
        raise UsageError(f"package {package} is a file: hotgo builds a package and watches its directory; "
                         f"give the directory instead, e.g. hotgo run {'./' + parent if parent != '.' else '.'}")
    if not directory.is_dir():
        raise UsageError(f"package {package}: directory {directory} does not exist")
    return directory


def _package(root: Path, build_path: str, directory: Path) -> GoPackage:
    binary_name = directory.name if directory != root else _module_basename(root)
    return GoPackage(root=root, package=build_path, name=binary_name)


GO_LIST_TIMEOUT = 120.0
_LIST_FLAGS = ("-tags", "-mod", "-modfile")


def list_flags(build_flags: Iterable[str]) -> List[str]:
    """The build flags that change which package `go list` finds: -tags, -mod, -modfile (either form)."""
    words = list(build_flags)
    kept: List[str] = []
    for index, word in enumerate(words):
        name = "-" + word.lstrip("-").split("=", 1)[0]
        if name in _LIST_FLAGS:
            kept.append(word)
            if "=" not in word and index + 1 < len(words):
                kept.append(words[index + 1])
    return kept
_RESULT = "hotgo-package\t"  # marks go list's answer among its messages (one pipe carries both)


def _go_list(go: str, build_path: str, root: Path, env: Optional[dict[str, str]], flags: List[str]
             ) -> Tuple[Optional[int], List[Tuple[str, str]], List[str]]:
    """`go list` of the package: its exit code (None: timed out), (name, dir) of each package it
    names (a pattern may name several), its other lines."""
    argv = [go, "list", *flags, "-f", _RESULT + "{{.Name}}\t{{.Dir}}", build_path]
    code, output = run_go(argv, root, env, f"go list {build_path}")
    found: List[Tuple[str, str]] = []
    messages: List[str] = []
    for line in output.splitlines():
        if line.startswith(_RESULT):
            name, _, directory = line[len(_RESULT):].partition("\t")
            found.append((name, directory))
        elif line.strip():
            messages.append(line)
    return code, found, messages


def run_go(argv: List[str], cwd: Path, env: Optional[Mapping[str, str]], what: str,
           timeout: float = GO_LIST_TIMEOUT) -> Tuple[Optional[int], str]:
    """Run a short go command (`go list`): its exit code (None: timed out) and its output, stdout and
    stderr on one pipe. `what` names it in the UsageError raised when it cannot start.

    Started through the platform seam in a group of its own (a `go` wrapper script may start
    children); a stop request may cut the wait short (stop_signals: hotgo is starting), and then,
    as on a timeout, the whole tree is killed and reaped before the request goes on unwinding."""
    try:
        proc = platform.spawn_tool(argv, {**os.environ, **(env or {})}, str(cwd))
    except (OSError, ValueError) as err:  # not runnable; a NUL byte in the environment
        raise UsageError(f"could not run `{what}`: {err}") from None
    try:
        with stop_signals.interruptible():
            output, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        _end(proc)
        return None, ""
    except BaseException:  # stop_signals.Stopped, or anything else: no go left behind
        _end(proc)
        raise
    finally:
        platform.release(proc)
    return proc.returncode, output.decode(errors="replace")


def _end(proc: subprocess.Popen[bytes]) -> None:
    """Kill the tree and reap it; its pipe is closed unread (a leftover could hold it open)."""
    platform.kill_tree(proc)
    proc.wait()
    if proc.stdout is not None:
        proc.stdout.close()


def _existing_directory(cwd: Path, package: str) -> Path:
    try:
        directory = (cwd / package).resolve()
        directory.is_file()  # stat it now: an OSError here is a path the OS refuses
    except OSError as err:  # with the current directory, longer than the OS takes
        raise UsageError(f"package {package}: {err.strerror or err}; give a shorter path") from None
    return directory


def _is_pattern(package: str) -> bool:
    """`./...`, `./cmd/...`, `example.com/api/...`: a path element holding `...` (go help packages)."""
    return any("..." in element for element in package.replace("\\", "/").split("/"))


def _relative_pattern(cwd: Path, package: str) -> Tuple[Path, str]:
    """A relative pattern as `go list` takes it from the module root: (root, './cmd/...')."""
    elements = package.replace("\\", "/").split("/")
    first = next(index for index, element in enumerate(elements) if "..." in element)
    base = _existing_directory(cwd, "/".join(elements[:first] or ["."]))
    if not base.is_dir():
        raise UsageError(f"package {package}: directory {base} does not exist")
    root = find_module_root(base)
    relative = base.relative_to(root).as_posix()
    head = "." if relative == "." else "./" + relative
    return root, "/".join([head, *elements[first:]])


def _build_path(directory: Path, root: Path) -> str:
    """A package directory `go list` gave, as `go build` takes it from the module root."""
    relative = Path(os.path.relpath(directory, root)).as_posix()
    return "." if relative == "." else "./" + relative


def _shown_dirs(directories: List[Path], root: Path, most: int = 8) -> str:
    names = [_build_path(directory, root) for directory in directories]
    more = f" and {len(names) - most} more" if len(names) > most else ""
    return ", ".join(names[:most]) + more


def module_path(root: Path) -> str:
    """The module path of root/go.mod (its `module` line), or "" when it has none."""
    for body in _directives((root / "go.mod").read_text(encoding="utf-8", errors="replace"), "module"):
        return _unquote(body.split()[0])
    return ""


def _module_basename(root: Path) -> str:
    path = module_path(root)
    return path.rstrip("/").rsplit("/", 1)[-1] if path else root.name


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


def _directives(text: str, keyword: str) -> List[str]:
    """Bodies of `keyword ...` lines and of the lines of `keyword ( ... )` blocks, comments removed."""
    found: List[str] = []
    in_block = False
    for raw in text.splitlines():
        line = raw.split("//", 1)[0].strip()
        if in_block:
            if line.startswith(")"):
                in_block = False
            elif line:
                found.append(line)
            continue
        words = line.split(None, 1)
        if not words or words[0] != keyword:
            continue
        rest = words[1].strip() if len(words) > 1 else ""
        if rest.startswith("("):
            inner = rest[1:].strip()
            if inner.endswith(")"):  # `replace ( a => b )` on one line
                if inner[:-1].strip():
                    found.append(inner[:-1].strip())
            else:
                in_block = True
                if inner:
                    found.append(inner)
        elif rest:
            found.append(rest)
    return found


def _unquote(word: str) -> str:
    return word[1:-1] if len(word) >= 2 and word[0] == word[-1] and word[0] in "\"`" else word


def _local_path(word: str) -> bool:
    word = word.replace("\\", "/")
    return word.startswith(("./", "../")) or word in (".", "..") or os.path.isabs(word)


def find_go_work(root: Path, env: Optional[Mapping[str, str]] = None) -> Optional[Path]:
    """The go.work that applies to a go command run in root: GOWORK (env over hotgo's environment),
    else the first go.work in root or a parent; None when off or there is none."""
    setting = {**os.environ, **(env or {})}.get("GOWORK", "")
    if setting == "off":
        return None
    if setting:
        return Path(setting) if Path(setting).is_file() else None
    for directory in (root, *root.parents):
        if (directory / "go.work").is_file():
            return directory / "go.work"
    return None


def local_module_dirs(root: Path) -> List[Path]:
    """Directories of local modules the build of `root` uses, outside `root`.

    `replace MOD [VERSION] => ./dir|../dir|/abs/dir` in go.mod (and go.work), and
    `use` entries of the go.work that applies (GOWORK, else the first go.work in
    root or a parent). Existing directories only; those inside root (already
    watched) or containing it are left out, as is a directory inside another one
    of the list.
    """
    sources: List[Tuple[Path, str]] = []
    go_work = find_go_work(root)
    for path in [root / "go.mod", *([go_work] if go_work else [])]:
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        for body in _directives(text, "replace"):
            _, arrow, target = body.partition("=>")
            words = [_unquote(w) for w in target.split()]
            if arrow and len(words) == 1 and _local_path(words[0]):
                sources.append((path.parent, words[0]))
        if path.name == "go.work":
            for body in _directives(text, "use"):
                for word in (_unquote(w) for w in body.split()):
                    sources.append((path.parent, word))
    root = root.resolve()
    found: List[Path] = []
    for base, word in sources:
        directory = (base / word).resolve()
        if not directory.is_dir() or directory == root or root in directory.parents:
            continue
        if directory in root.parents or directory in found:
            continue
        found.append(directory)
    return sorted(d for d in found if not any(other in d.parents for other in found))
