"""What Linux shows of a process's sockets from outside, through /proc.

hotgo uses it to see what a service does with the shared listener without the
service's help: has it registered the socket in its epoll set, or is a thread
blocked in accept() on it (then it accepts); which ports does it listen on
itself; which connections does it hold. Every function returns None (or an
empty result) where /proc cannot tell, so callers fall back and say so.
"""

from __future__ import annotations

import os
import re
import socket
import struct
import sys
from dataclasses import dataclass
from typing import Dict, FrozenSet, Iterable, List, Optional, Set, Tuple

from hotgo.platform import sock_diag

AVAILABLE = sys.platform.startswith("linux") and os.path.isdir("/proc/self/fdinfo")

# accept/accept4 syscall numbers, by machine (the numbers differ per architecture). Not
# platform.machine(): on Windows it asks WMI at import, slow there and absent under Wine.
if sys.platform.startswith("linux"):
    _MACHINE = os.uname().machine
else:
    _MACHINE = ""
_ACCEPT_SYSCALLS = {"x86_64": {43, 288}, "aarch64": {202, 242}}.get(_MACHINE, set())

# TCP states, as /proc/net/tcp and sock_diag number them (include/net/tcp_states.h)
ESTABLISHED, SYN_SENT, SYN_RECV, FIN_WAIT1, FIN_WAIT2, TIME_WAIT, CLOSE, CLOSE_WAIT, LAST_ACK, LISTEN, CLOSING = (
    range(1, 12))
SERVER_CLOSED_FIRST = frozenset({FIN_WAIT1, FIN_WAIT2, TIME_WAIT, CLOSING})  # we sent FIN first
CLIENT_CLOSED_FIRST = frozenset({CLOSE_WAIT, LAST_ACK})
# What a process can hold on a connection (TIME_WAIT sockets belong to no process any more).
_CONNECTED = (ESTABLISHED, FIN_WAIT1, FIN_WAIT2, CLOSE_WAIT, LAST_ACK, CLOSING)


def inode_of(sock: socket.socket) -> int:
    """The socket's inode: what /proc/PID/fd shows as `socket:[N]` in every process holding it."""
    return os.fstat(sock.fileno()).st_ino


@dataclass(frozen=True)
class FdTable:
    sockets: Dict[int, int]  # fd -> socket inode
    epolls: List[int]  # fds of epoll instances


def fd_table(pid: int) -> Optional[FdTable]:
    """The sockets and epoll instances process `pid` holds; None if /proc does not tell."""
    table = FdTable({}, [])
    base = f"/proc/{pid}/fd"
    try:
        names = os.listdir(base)
    except OSError:
        return None
    for name in names:
        try:
            target = os.readlink(f"{base}/{name}")
        except OSError:
            continue  # closed meanwhile
        if target.startswith("socket:["):
            table.sockets[int(name)] = int(target[8:-1])
        elif target == "anon_inode:[eventpoll]":
            table.epolls.append(int(name))
    return table


def accepting(pid: int, inodes: FrozenSet[int]) -> Optional[str]:
    """How process `pid` is seen accepting on one of `inodes`, '' if it is not, None if /proc cannot tell.

    Event-loop servers (Go's netpoller, tokio, libuv, nginx) register the listener in an
    epoll set once they are ready to accept; thread-per-connection servers block in accept().
    """
    table = fd_table(pid)
    if table is None:
        return None
    for epoll_fd in table.epolls:
        if _epoll_watches(pid, epoll_fd) & inodes:
            return "accepting on the shared socket (in its epoll set)"
    held = {fd for fd, inode in table.sockets.items() if inode in inodes}
    if held and _blocked_in_accept(pid) & held:
        return "accepting on the shared socket (blocked in accept)"
    return ""


def _epoll_watches(pid: int, epoll_fd: int) -> Set[int]:
    """Inodes of the files an epoll fd watches (`tfd: … ino:<hex>` lines of its fdinfo)."""
    try:
        with open(f"/proc/{pid}/fdinfo/{epoll_fd}", encoding="ascii", errors="replace") as handle:
            text = handle.read()
    except OSError:
        return set()
    inodes = set()
    for line in text.splitlines():
        if line.startswith("tfd:"):
            for part in line.split():
                if part.startswith("ino:"):
                    inodes.add(int(part[4:], 16))
    return inodes


def _blocked_in_accept(pid: int) -> Set[int]:
    """fds that threads of `pid` are blocked in accept()/accept4() on."""
    if not _ACCEPT_SYSCALLS:
        return set()
    fds = set()
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return set()
    for task in tasks:
        try:
            with open(f"/proc/{pid}/task/{task}/syscall", encoding="ascii") as handle:
                fields = handle.read().split()
        except OSError:
            continue
        if len(fields) > 1 and fields[0].isdigit() and int(fields[0]) in _ACCEPT_SYSCALLS:
            fds.add(int(fields[1], 16))
    return fds


@dataclass(frozen=True)
class TcpSocket:
    local: Tuple[str, int]
    remote: Tuple[str, int]
    state: int
    inode: int
    unread: Optional[int] = None  # bytes in the receive queue (sock_diag only)


def _address(text: str) -> Tuple[str, int]:
    host, port = text.split(":")
    raw = bytes.fromhex(host)
    if len(raw) == 4:
        ip = socket.inet_ntop(socket.AF_INET, raw[::-1])
    else:  # four little-endian 32-bit words
        words = struct.unpack("<4I", raw)
        ip = socket.inet_ntop(socket.AF_INET6, struct.pack(">4I", *words))
        if ip.startswith("::ffff:") and "." in ip:
            ip = ip[7:]
    return ip, int(port, 16)


# One row of /proc/net/tcp{,6}: local address:port, remote address:port, state, … inode.
_ROW = r"^ *\d+: ([0-9A-F]+):(%s) ([0-9A-F]+):([0-9A-F]{4}) ([0-9A-F]{2}) +(?:\S+ +){5}(\d+)"


def tcp_sockets(ports: Optional[Iterable[int]] = None, states: Optional[Iterable[int]] = None) -> List[TcpSocket]:
    """Every TCP socket of this network namespace (optionally: with one of these local ports, in these states).

    Through sock_diag where netlink answers (binary records; the kernel skips unwanted states),
    else /proc/net/tcp{,6}: this runs on the handoff path, and under load the table holds
    thousands of TIME_WAIT rows."""
    wanted_ports = None if ports is None else frozenset(ports)
    mask = sock_diag.ALL_STATES if states is None else sock_diag.state_mask(states)
    rows = sock_diag.tcp_rows(wanted_ports, mask)
    if rows is not None:
        return [TcpSocket(local, remote, state, inode, unread) for local, remote, state, inode, unread in rows]
    return [s for s in _proc_net_tcp(wanted_ports) if mask & (1 << s.state)]


def _proc_net_tcp(ports: Optional[FrozenSet[int]]) -> List[TcpSocket]:
    """The text table, rows picked by a regular expression over all of it (C speed)."""
    wanted = "[0-9A-F]{4}" if ports is None else "|".join(f"{p:04X}" for p in ports)
    row = re.compile(_ROW % wanted, re.M)
    found = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table, encoding="ascii") as handle:
                text = handle.read()
        except OSError:
            continue
        for match in row.finditer(text):
            local_ip, local_port, remote_ip, remote_port, state, inode = match.groups()
            try:
                found.append(TcpSocket(_address(f"{local_ip}:{local_port}"), _address(f"{remote_ip}:{remote_port}"),
                                       int(state, 16), int(inode)))
            except (ValueError, OSError):
                continue
    return found


def listening(pid: int) -> Optional[List[TcpSocket]]:
    """The TCP sockets process `pid` listens on; None if /proc does not tell."""
    table = fd_table(pid)
    if table is None:
        return None
    mine = set(table.sockets.values())
    return [s for s in tcp_sockets(states=(LISTEN,)) if s.inode in mine]


def connections(pid: int, ports: Iterable[int]) -> Optional[List[TcpSocket]]:
    """Established (or half-closed) connections process `pid` holds on these local ports."""
    table = fd_table(pid)
    if table is None:
        return None
    mine = set(table.sockets.values())
    return [s for s in tcp_sockets(ports, _CONNECTED) if s.inode in mine]


def tcp_resets_sent() -> Optional[int]:
    """RST segments this network namespace's TCP has sent (Tcp OutRsts), None if unknown.

    Also counts resets sent for connections already handed to a TIME_WAIT/FIN_WAIT2
    mini-socket, which the TcpExt abort counters leave out."""
    try:
        with open("/proc/net/snmp", encoding="ascii") as handle:
            lines = handle.read().splitlines()
    except OSError:
        return None
    for names, values in zip(lines[::2], lines[1::2]):
        if names.startswith("Tcp:"):
            counters = dict(zip(names.split()[1:], values.split()[1:]))
            try:
                return int(counters["OutRsts"])
            except (KeyError, ValueError):
                return None
    return None


_TCP_INFO_UNACKED = 24  # struct tcp_info: 8 bytes of u8 fields, then rto ato snd_mss rcv_mss unacked


def accept_queue(sock: socket.socket) -> Optional[int]:
    """Connections waiting in a listening socket's accept queue (Linux TCP_INFO), None elsewhere."""
    option = getattr(socket, "TCP_INFO", None)
    if not AVAILABLE or option is None:
        return None
    try:
        raw = sock.getsockopt(socket.IPPROTO_TCP, option, 104)
    except OSError:
        return None
    if len(raw) < _TCP_INFO_UNACKED + 4:
        return None
    return int(struct.unpack_from("I", raw, _TCP_INFO_UNACKED)[0])


def reuseport_handoff_caveat() -> Optional[str]:
    """What socket mode `reuseport` loses on this OS, if anything can be done about it."""
    if not AVAILABLE:
        return None
    try:
        with open("/proc/sys/net/ipv4/tcp_migrate_req", encoding="ascii") as handle:
            if handle.read().strip() != "0":
                return None
    except OSError:
        return None  # older kernels: nothing to switch on
    return ("socket reuseport: when an old generation closes its socket, Linux resets connections still "
            "queued in it (a few new connections per reload under load). `sudo sysctl -w "
            "net.ipv4.tcp_migrate_req=1` hands them to the new generation instead; socket = inherit "
            "(the default) does not have this problem")
