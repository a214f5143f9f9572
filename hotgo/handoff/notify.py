"""The sd_notify side of hotgo: one datagram socket per generation.

A socket per generation tells hotgo exactly who spoke, on every OS that has
unix datagram sockets, without SCM_CREDENTIALS.
"""

from __future__ import annotations

import os
import socket
import threading
from pathlib import Path
from typing import Callable, Dict, Optional

from hotgo import platform

Message = Dict[str, str]


def parse_message(data: bytes) -> Message:
    fields: Message = {}
    for line in data.decode("utf-8", errors="replace").splitlines():
        key, sep, value = line.partition("=")
        if sep:
            fields[key.strip()] = value
    return fields


class NotifyChannel:
    """NOTIFY_SOCKET for one generation; calls on_message from its own thread."""

    def __init__(self, directory: Path, generation: int, on_message: Callable[[Message], None]) -> None:
        self.path = directory / f"g{generation}.sock"
        self._on_message = on_message
        self._closed = threading.Event()
        self._sock: Optional[socket.socket] = None
        self._reader: Optional[threading.Thread] = None
        if platform.CAPABILITIES.notify_socket:
            try:
                self.path.unlink()
            except FileNotFoundError:
                pass
            sock = platform.unix_socket(socket.SOCK_DGRAM)
            sock.bind(str(self.path))
            sock.settimeout(0.5)
            self._sock = sock
            self._reader = threading.Thread(target=self._read, name=f"hotgo-notify-{generation}", daemon=True)
            self._reader.start()

    @property
    def address(self) -> Optional[str]:
        return str(self.path) if self._sock is not None else None

    def _read(self) -> None:
        sock = self._sock
        assert sock is not None
        while not self._closed.is_set():
            try:
                data = sock.recv(65536)
            except socket.timeout:
                continue
            except OSError:
                return
            if data:
                self._on_message(parse_message(data))

    def close(self) -> None:
        """The process has exited: deliver what it sent and nobody read yet (a STOPPING=1 just before
        its exit decides how its drain is judged), then close."""
        self._closed.set()
        if self._sock is not None:
            self._sock.setblocking(False)
            while True:
                try:
                    data = self._sock.recv(65536)
                except OSError:  # nothing left (or the reader thread closed it)
                    break
                if data:
                    self._on_message(parse_message(data))
            try:  # an empty datagram wakes the reader, which sees the channel closed and ends now
                self._sock.sendto(b"", str(self.path))
            except OSError:
                pass  # its buffer is full: it wakes anyway, within its timeout
            if self._reader is not None and self._reader is not threading.current_thread():
                self._reader.join(timeout=1.0)
            self._sock.close()
        try:
            os.unlink(self.path)
        except OSError:
            pass


def send(address: str, message: str) -> bool:
    """Send one sd_notify message (used for hotgo's own supervisor, e.g. systemd)."""
    if not platform.CAPABILITIES.notify_socket or not address:
        return False
    target = "\0" + address[1:] if address.startswith("@") else address
    try:
        with platform.unix_socket(socket.SOCK_DGRAM) as sock:
            sock.sendto(message.encode(), target)
    except OSError:
        return False
    return True
