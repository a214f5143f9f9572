"""Listen addresses as users write them: `:8080`, `127.0.0.1:8080`, `[::1]:9000`, `api=:8080`."""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass

from hotgo.errors import UsageError

_FDNAME_FORBIDDEN = set(":\n\r\t ")


@dataclass(frozen=True)
class ListenAddress:
    """One port that hotgo shares across generations."""

    name: str  # LISTEN_FDNAMES entry
    host: str  # "" = every interface, as Go's ":8080"
    port: int

    @property
    def family(self) -> socket.AddressFamily:
        return socket.AF_INET6 if ":" in self.host else socket.AF_INET

    def with_port(self, port: int) -> ListenAddress:
        return ListenAddress(self.name, self.host, port)

    def __str__(self) -> str:
        if ":" in self.host:
            return f"[{self.host}]:{self.port}"
        return f"{self.host}:{self.port}"

    def url(self, path: str = "/") -> str:
        """An address a local client can reach (wildcards become loopback)."""
        host = self.host or "127.0.0.1"
        if host == "0.0.0.0":
            host = "127.0.0.1"
        elif host == "::":
            host = "::1"
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.port}{path}"


def parse_listen(text: str) -> ListenAddress:
    """Parse `[NAME=]HOST:PORT`; raise UsageError naming what is allowed."""
    raw = text.strip()
    name = ""
    if "=" in raw:
        name, raw = raw.split("=", 1)
        if not name or _FDNAME_FORBIDDEN & set(name):
            raise UsageError(
                f"listen address {text!r}: the name before '=' must be non-empty, "
                "without ':' or spaces (it becomes a LISTEN_FDNAMES entry)"
            )
    host, sep, port_text = raw.rpartition(":")
    if not sep:
        raise UsageError(
            f"listen address {text!r}: expected HOST:PORT such as ':8080', "
            "'127.0.0.1:8080' or '[::1]:9000'"
        )
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    elif ":" in host:
        raise UsageError(f"listen address {text!r}: write IPv6 hosts in brackets, e.g. '[::1]:9000'")
    try:
        port = int(port_text)
    except ValueError:
        raise UsageError(f"listen address {text!r}: port {port_text!r} is not a number") from None
    if not 0 <= port <= 65535:
        raise UsageError(f"listen address {text!r}: port must be 0..65535")
    host = _resolve_host(host, text)
    return ListenAddress(name or str(port), host, port)


def _resolve_host(host: str, text: str) -> str:
    if host in ("", "*"):
        return ""
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except socket.gaierror as err:
        raise UsageError(f"listen address {text!r}: cannot resolve host {host!r} ({err})") from None
    # Prefer IPv4 for names such as "localhost", like most clients try first.
    infos.sort(key=lambda info: info[0] != socket.AF_INET)
    return str(infos[0][4][0])
