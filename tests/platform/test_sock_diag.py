"""The TCP table through netlink (sock_diag) tells what /proc/net/tcp tells, and what it does not."""

from __future__ import annotations

import socket
import sys
import time
from typing import Callable, Iterator, List, Set, Tuple

import pytest

from hotgo.platform import linux_proc, sock_diag

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="sock_diag and /proc/net are Linux")

Row = Tuple[Tuple[str, int], Tuple[str, int], int, int]


def rows(found: List[linux_proc.TcpSocket]) -> Set[Row]:
    return {(s.local, s.remote, s.state, s.inode) for s in found}


def wait_until(condition: Callable[[], bool], what: str, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    yield sock
    sock.close()


def test_netlink_and_proc_net_tcp_agree_on_every_state(listener: socket.socket) -> None:
    port = listener.getsockname()[1]
    opened: List[socket.socket] = []
    try:
        # established, with 5 bytes the server has not read
        unread = socket.create_connection(("127.0.0.1", port))
        opened.append(unread)
        unread.sendall(b"hello")
        server_unread, _ = listener.accept()
        opened.append(server_unread)
        # closed by the client first: the server side sits in CLOSE_WAIT
        by_client = socket.create_connection(("127.0.0.1", port))
        server_by_client, _ = listener.accept()
        opened.append(server_by_client)
        by_client_port = by_client.getsockname()[1]
        by_client.close()
        # closed by the server first: the server side sits in FIN_WAIT2
        by_server = socket.create_connection(("127.0.0.1", port))
        opened.append(by_server)
        server_by_server, _ = listener.accept()
        server_by_server.shutdown(socket.SHUT_WR)
        opened.append(server_by_server)

        def state_of(peer_port: int) -> int:
            wanted = ("127.0.0.1", peer_port)
            found = [s.state for s in linux_proc.tcp_sockets([port]) if s.remote == wanted]
            return found[0] if found else -1

        wait_until(lambda: state_of(by_client_port) == linux_proc.CLOSE_WAIT, "CLOSE_WAIT")
        wait_until(lambda: state_of(by_server.getsockname()[1]) == linux_proc.FIN_WAIT2, "FIN_WAIT2")
        through_netlink = linux_proc.tcp_sockets([port])
        through_proc = linux_proc._proc_net_tcp(frozenset([port]))
        assert rows(through_netlink) == rows(through_proc)
        states = {s.state for s in through_netlink}
        assert {linux_proc.LISTEN, linux_proc.ESTABLISHED, linux_proc.CLOSE_WAIT, linux_proc.FIN_WAIT2} <= states
        waiting = [s for s in through_netlink if s.remote == ("127.0.0.1", unread.getsockname()[1])]
        assert [s.unread for s in waiting] == [5]  # what only netlink tells: bytes no one has read
    finally:
        for sock in opened:
            sock.close()


def test_a_state_filter_leaves_the_rest_to_the_kernel(listener: socket.socket) -> None:
    port = listener.getsockname()[1]
    client = socket.create_connection(("127.0.0.1", port))
    server, _ = listener.accept()
    try:
        only_listening = linux_proc.tcp_sockets([port], states=(linux_proc.LISTEN,))
        assert [(s.local, s.state) for s in only_listening] == [(("127.0.0.1", port), linux_proc.LISTEN)]
        assert linux_proc.inode_of(listener) in {s.inode for s in only_listening}
    finally:
        client.close()
        server.close()


def test_without_netlink_the_text_table_answers(listener: socket.socket, monkeypatch: pytest.MonkeyPatch) -> None:
    port = listener.getsockname()[1]
    expected = rows(linux_proc.tcp_sockets([port]))
    monkeypatch.setattr(sock_diag, "_AF_NETLINK", None)  # a sandbox without NETLINK_SOCK_DIAG
    assert sock_diag.tcp_rows([port]) is None
    assert rows(linux_proc.tcp_sockets([port])) == expected
