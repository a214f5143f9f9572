"""Linux's TCP socket table through netlink (sock_diag), the way `ss` reads it.

/proc/net/tcp is text the kernel formats for every socket of the namespace,
TIME_WAIT ones included: with a few thousand of those (any client that opens
a connection per request leaves them) one read costs milliseconds, and hotgo
reads the table on the handoff path. sock_diag hands over fixed-size binary
records and lets the kernel skip the states hotgo did not ask for (listeners
only: it walks just the listening hash). None when netlink is not available
(a sandbox without it, not Linux): callers fall back to /proc/net/tcp.
"""

from __future__ import annotations

import errno
import socket
import struct
from typing import Iterable, Iterator, List, Optional, Tuple

# <linux/netlink.h>, <linux/sock_diag.h>, <linux/inet_diag.h>
_NETLINK_SOCK_DIAG = 4
_SOCK_DIAG_BY_FAMILY = 20
_NLM_F_REQUEST, _NLM_F_DUMP = 0x1, 0x300
_NLMSG_ERROR, _NLMSG_DONE = 2, 3
_HEADER = struct.Struct("=IHHII")  # nlmsghdr: length, type, flags, sequence, port id
# inet_diag_req_v2: family, protocol, extensions, pad, states; then inet_diag_sockid (zeroes: no filter)
_REQUEST = struct.Struct("=BBBxI48x")
# inet_diag_msg: family, state, timer, retransmits; sockid (ports big-endian, addresses as raw 16
# bytes, interface, cookie); expires, receive queue, send queue, uid, inode
_RECORD = struct.Struct("=BBBB2H16s16sI8xIIIII")
_AF_NETLINK: Optional[int] = getattr(socket, "AF_NETLINK", None)  # only where Python was built for Linux
ALL_STATES = 0xFFF  # one bit per TCP state 0..11

TcpRow = Tuple[Tuple[str, int], Tuple[str, int], int, int, int]  # local, remote, state, inode, unread bytes


def state_mask(states: Iterable[int]) -> int:
    mask = 0
    for state in states:
        mask |= 1 << state
    return mask


def tcp_rows(ports: Optional[Iterable[int]] = None, states: int = ALL_STATES) -> Optional[List[TcpRow]]:
    """TCP sockets in `states` (a mask of 1 << state) on these local ports (all if None); None if unknown."""
    if _AF_NETLINK is None:
        return None
    wanted = None if ports is None else frozenset(ports)
    rows: List[TcpRow] = []
    try:
        with socket.socket(_AF_NETLINK, socket.SOCK_DGRAM, _NETLINK_SOCK_DIAG) as channel:
            for family in (socket.AF_INET, socket.AF_INET6):
                for row in _dump(channel, family, states):
                    if wanted is None or row[0][1] in wanted:
                        rows.append(row)
    except (OSError, struct.error, ValueError):
        return None
    return rows


def _dump(channel: socket.socket, family: int, states: int) -> Iterator[TcpRow]:
    body = _REQUEST.pack(family, socket.IPPROTO_TCP, 0, states)
    channel.send(_HEADER.pack(_HEADER.size + len(body), _SOCK_DIAG_BY_FAMILY, _NLM_F_REQUEST | _NLM_F_DUMP,
                              family, 0) + body)
    while True:
        data = channel.recv(1 << 16)
        offset = 0
        while offset + _HEADER.size <= len(data):
            length, kind, _flags, _sequence, _port = _HEADER.unpack_from(data, offset)
            if kind == _NLMSG_DONE:
                return
            if kind == _NLMSG_ERROR:
                code = -struct.unpack_from("=i", data, offset + _HEADER.size)[0]
                raise OSError(code, errno.errorcode.get(code, "netlink error"))
            if length < _HEADER.size:
                raise ValueError("short netlink message")
            yield _row(data, offset + _HEADER.size)
            offset += (length + 3) & ~3  # NLMSG_ALIGN
        if not data:
            raise ValueError("netlink closed the dump")


def _row(data: bytes, at: int) -> TcpRow:
    (family, state, _timer, _retransmits, local_port, remote_port, local, remote, _interface,
     _expires, unread, _unsent, _uid, inode) = _RECORD.unpack_from(data, at)
    # The ports are big-endian on the wire; `=` above read them in host order.
    local_port, remote_port = socket.ntohs(local_port), socket.ntohs(remote_port)
    return (_address(family, local), local_port), (_address(family, remote), remote_port), state, inode, unread


def _address(family: int, raw: bytes) -> str:
    if family == socket.AF_INET:
        return socket.inet_ntop(socket.AF_INET, raw[:4])
    text = socket.inet_ntop(socket.AF_INET6, raw)
    return text[7:] if text.startswith("::ffff:") and "." in text else text
