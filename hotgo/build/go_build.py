"""`go build` of one generation, on its own thread, cancellable when a newer change arrives."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence

from hotgo import platform
from hotgo.build.progress import BuildProgress
from hotgo.log import BRIGHT, DIM, RED, Log
from hotgo.settings.profiles import merge

READ_AFTER_EXIT = 2.0  # once go has exited, how long its output may take to end
_DIAGNOSTIC = re.compile(r"^(?P<where>[^\s:][^:]*\.go:\d+(?::\d+)?): (?P<what>.*)$")


@dataclass
class BuildResult:
    generation: int
    binary: Path
    ok: bool
    seconds: float
    output: List[str] = field(default_factory=list)
    cancelled: bool = False

    @property
    def errors(self) -> List[str]:
        return [line for line in self.output if _DIAGNOSTIC.match(line)]


@dataclass(frozen=True)
class BuildFiles:
    """The files of one package's builds in .hotgo/bin/: NAME, which every build writes and which is
    kept from one build (and one hotgo run) to the next, so that `go build` skips the link when it is
    already what the sources make (hotgo restarted on an unchanged tree, `hotgo reload`); and a name
    per generation (NAME-N), a link to it, so a running binary is never overwritten."""

    bin_dir: Path
    name: str

    def binary(self, number: int) -> Path:
        return self.bin_dir / f"{self.name}-{number}{platform.EXE_SUFFIX}"

    def output(self) -> Optional[Path]:
        """None where a running binary's file cannot be replaced (Windows): each build writes NAME-N."""
        if not platform.CAPABILITIES.replace_running_binary:
            return None
        return self.bin_dir / f"{self.name}{platform.EXE_SUFFIX}"


def go_flags(profile: str, user_flags: Sequence[str], env: Dict[str, str]) -> List[str]:
    """The flags of every build: the profile's merged into the user's (GOFLAGS included)."""
    return merge(profile, user_flags, env.get("GOFLAGS", os.environ.get("GOFLAGS", "")))


class BuildSlots:
    """How many builds of several services run at once: go already uses every core for one build,
    so more at a time only makes each slower; the ones that wait share the build cache after."""

    def __init__(self, slots: int) -> None:
        self._free = threading.BoundedSemaphore(max(1, slots))

    def take(self, cancelled: threading.Event) -> bool:
        """Wait for a slot; False (no slot taken) if the build is cancelled meanwhile."""
        while not self._free.acquire(timeout=0.05):
            if cancelled.is_set():
                return False
        return True

    def give_back(self) -> None:
        self._free.release()


class Build:
    """One run of `go build -o .hotgo/bin/<name>-<generation> PKG`."""

    def __init__(
        self,
        go: str,
        root: Path,
        package: str,
        binary: Path,
        generation: int,
        flags: Sequence[str],
        env: Dict[str, str],
        log: Log,
        on_done: Callable[[BuildResult], None],
        output: Optional[Path] = None,
        slots: Optional[BuildSlots] = None,
    ) -> None:
        """`output`: where go writes, if not `binary` (which then becomes a link to it); `slots`:
        shared with the builds of other services, when several run in one hotgo."""
        self.slots = slots
        self.output = output or binary
        # -v: go names each package it compiles, which is what progress on a long build counts.
        self.argv = [go, "build", "-v", *flags, "-o", str(self.output), package]
        self.root = root
        self.binary = binary
        self.generation = generation
        self.env = {**os.environ, **env}
        self.log = log
        self.on_done = on_done
        self._cancelled = threading.Event()
        self._proc_lock = threading.Lock()
        self._proc: Optional[object] = None
        self.started = 0.0
        self.progress = BuildProgress(log, generation, [go, "list", "-deps", *_tag_flags(flags), package],
                                      str(root), self.env)

    def start(self) -> None:
        self.started = time.monotonic()
        threading.Thread(target=self._run, name=f"hotgo-build-{self.generation}", daemon=True).start()
        self.progress.start()

    def cancel(self) -> None:
        self._cancelled.set()
        with self._proc_lock:
            proc = self._proc
        if proc is not None:
            platform.kill_tree(proc)  # type: ignore[arg-type]

    def _run(self) -> None:
        """Whatever happens, ends with `on_done`: the loop waits for that result before hotgo exits."""
        output: List[str] = []
        ok = False
        slot = False
        try:
            self.binary.parent.mkdir(parents=True, exist_ok=True)
            if self.slots is not None:
                slot = self.slots.take(self._cancelled)
                if not slot:
                    raise _Cancelled
            with self._proc_lock:
                if self._cancelled.is_set():
                    raise _Cancelled
                proc = platform.spawn_tool(self.argv, self.env, str(self.root))
                self._proc = proc
            reader = threading.Thread(target=self._read, args=(proc, output), name=f"hotgo-build-out-{self.generation}",
                                      daemon=True)
            reader.start()
            code = proc.wait()
            # The pipe ends when everything that holds it has exited; something go left running
            # (in a session of its own, out of reach of the kill) is not waited for.
            reader.join(timeout=READ_AFTER_EXIT)
            platform.release(proc)
            if code == 0 and self.output != self.binary and not self._cancelled.is_set():
                place(self.output, self.binary)
            ok = code == 0 and self.binary.exists()
        except _Cancelled:
            pass
        except (OSError, ValueError) as err:  # not runnable; a NUL byte in an argument or the environment
            output.append(f"hotgo: could not run go build: {err}")
        except Exception as err:  # a bug: said as the build's failure rather than a build that never ends
            output.append(f"hotgo: go build failed inside hotgo: {err!r}")
        finally:
            if slot and self.slots is not None:
                self.slots.give_back()
            self.progress.finish()
            self.log.status("")
            seconds = time.monotonic() - self.started
            cancelled = self._cancelled.is_set()
            self.on_done(BuildResult(self.generation, self.binary, ok and not cancelled, seconds,
                                     list(output), cancelled))

    def _read(self, proc: subprocess.Popen[bytes], output: List[str]) -> None:
        assert proc.stdout is not None
        with proc.stdout:
            for raw in proc.stdout:
                line = raw.decode(errors="replace").rstrip()
                if not self.progress.saw(line):
                    output.append(line)


def place(output: Path, binary: Path) -> None:
    """Give the build `output` the generation's own name: a hard link (no copy of megabytes), a copy
    where the file system has none. go replaces `output` with a new file at the next link, so what a
    generation runs never changes under it."""
    try:
        binary.unlink()  # left by an earlier hotgo run whose numbering started over
    except FileNotFoundError:
        pass
    try:
        os.link(output, binary)
    except OSError:
        shutil.copy2(output, binary)


class _Cancelled(Exception):
    pass


def _tag_flags(flags: Sequence[str]) -> List[str]:
    """The flags of a build that change which packages `go list` sees (build tags)."""
    found: List[str] = []
    for index, flag in enumerate(flags):
        if flag.startswith("-tags="):
            found.append(flag)
        elif flag == "-tags" and index + 1 < len(flags):
            found += [flag, flags[index + 1]]
    return found


def show_failure(log: Log, result: BuildResult, root: Path,
                 still: str = "still serving the previous version") -> None:
    """The compiler's lines, file:line highlighted, then a one-line summary ending with `still`
    (what serves meanwhile: the supervisor knows whether anything does)."""
    for line in result.output:
        match = _DIAGNOSTIC.match(line)
        if match:
            log.raw("  " + log.paint(match["where"], BRIGHT) + ": " + log.paint(match["what"], RED))
        elif line.startswith("# "):
            log.raw("  " + log.paint(line, DIM))
        elif line:
            log.raw("  " + line)
    errors = result.errors
    if errors:
        first = _DIAGNOSTIC.match(errors[0])
        where = first["where"] if first else "?"
        count = f"{len(errors)} error{'s' if len(errors) != 1 else ''}"
        log.error(f"build failed in {result.seconds:.2f}s: {count}, first at {where} — {still}",
                  event="build_failed", generation=result.generation)
    else:
        log.error(f"build failed in {result.seconds:.2f}s — {still}",
                  event="build_failed", generation=result.generation)


def prune_builds(directory: Path, name: str, keep: int, protect: Sequence[Path]) -> None:
    """Keep the newest `keep` builds (and any still running); Windows may refuse a running .exe."""
    pattern = re.compile(rf"^{re.escape(name)}-(\d+){re.escape(platform.EXE_SUFFIX)}$")
    builds = []
    for entry in directory.glob(f"{name}-*"):
        match = pattern.match(entry.name)
        if match:
            builds.append((int(match.group(1)), entry))
    builds.sort(reverse=True)
    for _, path in builds[keep:]:
        if path in protect:
            continue
        try:
            path.unlink()
        except OSError:
            pass
