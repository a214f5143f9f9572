"""Which protocol a service's port speaks: HTTP/2 (gRPC, h2c) or not, asked once per port.

The drain report and its advice differ by protocol: an HTTP/1 keep-alive client is told to
reconnect with `Connection: close`, an HTTP/2 client with GOAWAY. hotgo cannot read a
connection's bytes, so it asks the port itself, once per hotgo run: it opens one connection,
sends the HTTP/2 client preface and an empty SETTINGS frame (what a gRPC client sends first,
"prior knowledge"), and reads the first 9 bytes, then ends the connection in order (its FIN,
then the server's: no reset). An HTTP/2 server's first frame is its own
SETTINGS (type 4 at byte 3); an HTTP/1 server answers with `HTTP/1.x` (or closes). The
connection is closed at once; a TLS port answers neither and counts as unknown.

A port that answers the preface with SETTINGS is asked once more, in HTTP/1.1: Caddy and other
servers with h2c speak both on one port, and their HTTP/1 clients (wrk, browsers, Go's
http.Client) are then drained as HTTP/1 ones (a reset is a cut). Such a port counts as BOTH,
which the drain report treats as HTTP/1. A gRPC server (grpc-go) gives no HTTP/1 answer.
"""

from __future__ import annotations

import socket
import threading
from typing import Dict, Optional

HTTP2 = "http/2"
HTTP1 = "http/1"
BOTH = "http/1 and h2c"  # one port, both protocols: its HTTP/1 clients are drained as such

_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + b"\x00\x00\x00\x04\x00\x00\x00\x00\x00"  # + empty SETTINGS
_HTTP1_REQUEST = b"OPTIONS * HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: hotgo-protocol-probe\r\n\r\n"
_SETTINGS = 4
_known: Dict[int, Optional[str]] = {}  # port -> protocol: the service rarely changes it between builds
_lock = threading.Lock()


def protocol(port: int, host: str = "127.0.0.1", timeout: float = 0.5) -> Optional[str]:
    """HTTP2, HTTP1, BOTH, or None (no answer: TLS, a closed port, another protocol). Blocks: call
    off the loop."""
    with _lock:
        if port in _known:
            return _known[port]
    found = _ask(host, port, timeout, _PREFACE)
    if found == HTTP2 and _ask(host, port, timeout, _HTTP1_REQUEST) == HTTP1:
        found = BOTH
    with _lock:
        if found is not None:
            _known[port] = found
    return found


def _ask(host: str, port: int, timeout: float, question: bytes) -> Optional[str]:
    try:
        with socket.create_connection((host, port), timeout=timeout) as probe:
            probe.sendall(question)
            head = _read(probe, 9)
            try:  # ends in order: our FIN, then what the server sent up to its own (a close with
                probe.shutdown(socket.SHUT_WR)  # unread bytes sends a reset, which the drain report counts)
                while probe.recv(4096):
                    pass
            except OSError:
                pass
    except OSError:
        return None
    return _kind(head)


def _read(probe: socket.socket, size: int) -> bytes:
    head = b""
    while len(head) < size:
        chunk = probe.recv(size - len(head))
        if not chunk:
            break
        head += chunk
    return head


def _kind(head: bytes) -> Optional[str]:
    if head.startswith(b"HTTP/"):
        return HTTP1
    if len(head) == 9 and head[3] == _SETTINGS:
        return HTTP2
    return None
