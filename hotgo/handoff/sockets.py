"""The listening sockets hotgo owns and shares with every generation (mode `inherit`)."""

from __future__ import annotations

import errno
import os
import socket
from typing import List, Sequence

from hotgo.errors import UsageError
from hotgo.platform import listeners, set_listen_options
from hotgo.settings.addresses import ListenAddress

BACKLOG = 4096  # the kernel caps it at net.core.somaxconn


def _sockaddr(address: ListenAddress) -> tuple[str, int]:
    return (address.host or "", address.port)


def _new_socket(address: ListenAddress) -> socket.socket:
    if address.host == "" and socket.has_dualstack_ipv6():
        sock = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)  # like Go's ":8080"
        return sock
    return socket.socket(address.family, socket.SOCK_STREAM)


def _bind_address(sock: socket.socket, address: ListenAddress) -> tuple[str, int]:
    if sock.family == socket.AF_INET6 and address.host == "":
        return ("::", address.port)
    return _sockaddr(address)


def port_in_use_message(address: ListenAddress) -> str:
    holder = listeners.holder(address.port)
    if holder is not None and holder.startswith(f"pid {os.getpid()} "):
        # hotgo itself: two listen addresses overlap (":8080" already covers 127.0.0.1:8080)
        return (f"listen address {address} overlaps another --listen address of this hotgo "
                "(':PORT' covers every interface): give each port once")
    who = f" by {holder}" if holder else " by another process"
    return (
        f"listen address {address} is already in use{who}: stop it, "
        "or choose another port with --listen"
    )


def bind_shared(addresses: Sequence[ListenAddress]) -> List[socket.socket]:
    """Bind every address once; report a port held by someone else, naming them."""
    sockets: List[socket.socket] = []
    try:
        for address in addresses:
            sockets.append(_bind_one(address))
    except BaseException:
        for sock in sockets:
            sock.close()
        raise
    return sockets


def _bind_one(address: ListenAddress) -> socket.socket:
    # First bind without SO_REUSEPORT: with it, the kernel would let us join a
    # stray reuseport listener (an orphan of some other tool) and share its traffic.
    probe = _new_socket(address)
    try:
        set_listen_options(probe, reuseport=False)
        probe.bind(_bind_address(probe, address))
    except OSError as err:
        probe.close()
        if err.errno == errno.EADDRINUSE:
            raise UsageError(port_in_use_message(address)) from None
        if err.errno == errno.EADDRNOTAVAIL:
            raise UsageError(f"listen address {address}: no interface on this host has that address") from None
        if err.errno == errno.EACCES:
            raise UsageError(f"listen address {address}: permission denied (ports < 1024 need privileges)") from None
        raise UsageError(f"listen address {address}: {err.strerror}") from None
    if address.port == 0:
        # Port 0: keep the kernel's choice; every generation shares this very socket.
        probe.listen(BACKLOG)
        return probe
    probe.close()
    sock = _new_socket(address)
    set_listen_options(sock, reuseport=True)
    try:
        sock.bind(_bind_address(sock, address))
    except OSError as err:
        sock.close()
        raise UsageError(f"listen address {address}: {err.strerror}") from None
    sock.listen(BACKLOG)
    return sock


def bound_address(sock: socket.socket, address: ListenAddress) -> ListenAddress:
    """The address with the port the kernel actually gave (for ':0')."""
    return address.with_port(int(sock.getsockname()[1]))
