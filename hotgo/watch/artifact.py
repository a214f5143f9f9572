"""Artifact mode: deploy a prebuilt binary when it changes (no build).

The binary path is polled with stat() — following symlinks — rather than
watched: a `current` symlink repointed to a new release directory, a file
renamed in by rsync, or one written in place all change what stat() sees,
and one stat every 250 ms costs nothing. A change counts once the file has
stayed the same for the settle time (a sync still writing it is not deployed).
"""

from __future__ import annotations

import os
import shutil
import stat
import threading
from pathlib import Path
from typing import Callable, Optional, Tuple

from hotgo import platform

POLL = 0.25
_MAGIC = (b"\x7fELF", b"MZ", b"#!", b"\xcf\xfa\xed\xfe", b"\xce\xfa\xed\xfe", b"\xca\xfe\xba\xbe",
          b"\xfe\xed\xfa\xcf", b"\xfe\xed\xfa\xce")

Signature = Optional[Tuple[str, int, int, int, int]]


def signature(path: Path) -> Signature:
    """What identifies the binary's current content: target, inode, size, mtime, mode."""
    try:
        info = path.stat()
        real = os.path.realpath(path)
    except OSError:
        return None
    return (real, info.st_ino, info.st_size, info.st_mtime_ns, info.st_mode)


class ArtifactWatcher:
    def __init__(self, path: Path, settle: float, on_change: Callable[[Path], None]) -> None:
        self.path = path
        self.settle = max(settle, POLL)
        self.on_change = on_change
        self._stop = threading.Event()
        self._seen: Signature = signature(path)

    def start(self) -> None:
        threading.Thread(target=self._run, name="hotgo-artifact", daemon=True).start()

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        while not self._stop.wait(POLL):
            current = signature(self.path)
            if current == self._seen or current is None:
                continue
            # Changed: wait until it stops changing (a copy or sync may still be writing).
            stable: Signature = current
            while not self._stop.wait(self.settle):
                again = signature(self.path)
                if again == stable:
                    break
                stable = again
            if stable is None or self._stop.is_set():
                continue
            self._seen = stable
            self.on_change(Path(stable[0]))


def check_binary(path: Path) -> Optional[str]:
    """Why this file cannot be deployed, or None."""
    try:
        info = path.stat()
    except OSError as err:
        return f"{path}: {err.strerror}"
    if not stat.S_ISREG(info.st_mode):
        return f"{path}: not a regular file"
    if info.st_size == 0:
        return f"{path}: empty file"
    if platform.CAPABILITIES.exec_bit and not os.access(path, os.X_OK):
        return f"{path}: not executable (chmod +x it, or copy it with its mode)"
    try:
        with path.open("rb") as handle:
            head = handle.read(4)
    except OSError as err:
        return f"{path}: cannot read: {err.strerror}"
    if not any(head.startswith(magic) for magic in _MAGIC):
        return f"{path}: not an executable (no ELF, Mach-O, PE or #! header)"
    return None


def stage(source: Path, target: Path) -> Optional[str]:
    """Copy a checked binary to its own generation file, so rollbacks and in-place rewrites are safe."""
    problem = check_binary(source)
    if problem:
        return problem
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        temporary = target.with_name(target.name + ".tmp")
        shutil.copyfile(source, temporary)
        os.chmod(temporary, 0o755)
        os.replace(temporary, target)
    except OSError as err:
        return f"cannot copy {source} to {target}: {err.strerror}"
    return None
