"""A generation's NOTIFY_SOCKET: what it sent just before it exited still reaches the loop."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path
from typing import List

import pytest
from harness import wait_for

from hotgo import platform
from hotgo.handoff.notify import Message, NotifyChannel


@pytest.mark.skipif(not platform.CAPABILITIES.notify_socket, reason="hotgo gives no NOTIFY_SOCKET on this OS")
def test_messages_sent_just_before_the_exit_are_delivered_once_when_the_channel_closes(tmp_path: Path) -> None:
    got: List[Message] = []
    lock = threading.Lock()

    def on_message(message: Message) -> None:
        with lock:
            got.append(message)

    channel = NotifyChannel(tmp_path, 7, on_message)
    assert channel.address is not None
    sender = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)  # type: ignore[attr-defined,unused-ignore]
    try:
        for n in range(200):
            sender.sendto(f"STATUS={n}".encode(), channel.address)
        sender.sendto(b"STOPPING=1", channel.address)
    finally:
        sender.close()
    channel.close()  # as the loop does once the process has been reaped
    wait_for(lambda: len(got) >= 201, 5, "every message, none lost at close")
    with lock:  # the reader thread and the close may each deliver some: every one, once
        assert sorted(int(m["STATUS"]) for m in got if "STATUS" in m) == list(range(200))
        assert sum(1 for m in got if m.get("STOPPING") == "1") == 1 and len(got) == 201


@pytest.mark.skipif(not platform.CAPABILITIES.notify_socket, reason="hotgo gives no NOTIFY_SOCKET on this OS")
def test_closing_the_channel_ends_its_reader_thread_at_once(tmp_path: Path) -> None:
    """After each reload hotgo's threads are the same as before it: the reader of a generation that
    has exited does not linger until its receive times out."""
    channel = NotifyChannel(tmp_path, 8, lambda message: None)
    reader = next(t for t in threading.enumerate() if t.name == "hotgo-notify-8")
    wait_for(lambda: reader.is_alive(), 5, "the reader to start")
    started = time.monotonic()
    channel.close()
    assert not reader.is_alive(), "the reader must have ended when close() returns"
    assert time.monotonic() - started < 0.4  # woken, not timed out (its receive waits 0.5 s)
    assert not (tmp_path / "g8.sock").exists()
