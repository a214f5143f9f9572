"""A signal wakes the loop, whichever of hotgo's threads the OS gave it to.

Python runs a signal's handler on the main thread, the loop's, once that thread runs Python again.
The OS may give a process's signal to any thread that does not block it; when it is not the
loop's, the loop, asleep until its next event (a first build can take minutes), would run the
handler only when something else woke it. The interpreter's own handler writes a byte to the
wakeup socket (`signal.set_wakeup_fd`) on whichever thread it runs; a thread of ours reads it and
posts an empty turn (`Inbox.nudge`): the loop wakes and its handler runs at once.
"""

from __future__ import annotations

import signal
import socket
import threading
from typing import Callable, Optional


class SignalWakeup:
    def __init__(self, nudge: Callable[[], None]) -> None:
        self._nudge = nudge
        self._writer: Optional[socket.socket] = None
        self._previous = -1
        self._thread: Optional[threading.Thread] = None

    def start(self) -> bool:
        """From the main thread (the only one that may set the wakeup fd); False elsewhere."""
        if threading.current_thread() is not threading.main_thread():
            return False
        reader, writer = socket.socketpair()  # a socket: what Windows takes as a wakeup fd
        writer.setblocking(False)  # the interpreter's handler never waits on it
        self._previous = signal.set_wakeup_fd(writer.fileno(), warn_on_full_buffer=False)
        self._writer = writer
        self._thread = threading.Thread(target=self._read, args=(reader,), name="hotgo-signal-wakeup", daemon=True)
        self._thread.start()
        return True

    def _read(self, reader: socket.socket) -> None:
        with reader:
            while True:
                try:
                    got = reader.recv(64)  # a byte per signal; several at once are one wake
                except OSError:
                    return
                if not got:  # stop() closed the other end
                    return
                self._nudge()

    def stop(self) -> None:
        if self._writer is None:
            return
        signal.set_wakeup_fd(self._previous)
        self._writer.close()
        self._writer = None
        if self._thread is not None:
            self._thread.join(timeout=1)
