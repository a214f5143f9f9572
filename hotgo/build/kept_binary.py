"""The binary a restart would start, held open: a file deleted from .hotgo/bin can be put back.

A running process does not need its binary's file (the kernel keeps the inode), but hotgo does:
a crash restart, a `restart` config push and a rollback start a binary again by its path. hotgo
keeps one handle open on the binary of the generation that serves; through it the same bytes can
be written back to the same path, whatever removed the name (`rm -rf .hotgo`, a clean-up script).
One file descriptor at a time: the handle moves to each new serving binary.
"""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
from pathlib import Path
from typing import IO, Optional


class KeptBinary:
    def __init__(self) -> None:
        self.path: Optional[Path] = None
        self._handle: Optional[IO[bytes]] = None

    def keep(self, path: Path) -> None:
        """Hold `path` open from now on (and let go of the one held before). A binary that cannot
        be opened is held by name only: `restore` then says it cannot."""
        if path == self.path and self._handle is not None:
            return
        self.close()
        self.path = path
        try:
            self._handle = open(path, "rb")  # noqa: SIM115 (held open on purpose, closed by close())
        except OSError:
            self._handle = None

    def missing(self) -> bool:
        """The kept binary's name no longer leads to a file."""
        return self.path is not None and not self.path.is_file()

    def restore(self) -> str:
        """Write the held bytes back to the kept path (executable, as go build made it); "" when done,
        else why not."""
        if self.path is None or self._handle is None:
            return "hotgo holds no copy of it"
        path = self.path
        temp = ""
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            mode = stat.S_IMODE(os.fstat(self._handle.fileno()).st_mode) or 0o755
            fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
            with os.fdopen(fd, "wb") as out:
                self._handle.seek(0)
                shutil.copyfileobj(self._handle, out, 1 << 20)
            os.chmod(temp, mode)
            os.replace(temp, path)
        except OSError as err:
            if temp:
                try:
                    os.unlink(temp)
                except OSError:
                    pass
            return (err.strerror or str(err)).lower()
        return ""

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None
        self.path = None
