"""Listen addresses as users write them: `:8080`, `127.0.0.1:8080`, `[::1]:9000`, `api=:8080`."""

from __future__ import annotations

import ipaddress
import re
import socket
from dataclasses import dataclass

from hotgo.errors import UsageError, shown

# A LISTEN_FDNAMES entry as systemd takes one (fdname_is_valid): printable ASCII but ':', at most 255
# characters; hotgo leaves out the space too.
_FDNAME = re.compile(r"[!-9;-~]{1,255}", re.ASCII)
_PORT = re.compile(r"[0-9]{1,5}", re.ASCII)
# A host name as DNS takes it: at most 253 characters, 63 between dots (RFC 1035).
MAX_HOST, MAX_LABEL = 253, 63


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
    said = shown(text)
    name = ""
    if "=" in raw:
        name, raw = raw.split("=", 1)
        if not _FDNAME.fullmatch(name):
            raise UsageError(
                f"listen address {said}: the name before '=' must be 1..255 printable ASCII characters, "
                "without ':' or spaces (it becomes a LISTEN_FDNAMES entry)"
            )
    host, sep, port_text = raw.rpartition(":")
    if not sep:
        raise UsageError(
            f"listen address {said}: expected HOST:PORT such as ':8080', "
            "'127.0.0.1:8080' or '[::1]:9000'"
        )
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    elif ":" in host:
        raise UsageError(f"listen address {said}: write IPv6 hosts in brackets, e.g. '[::1]:9000'")
    if not _PORT.fullmatch(port_text):
        raise UsageError(f"listen address {said}: port {shown(port_text, 12)} is not a number 0..65535 "
                         "(digits 0-9)")
    port = int(port_text)
    if not 0 <= port <= 65535:
        raise UsageError(f"listen address {said}: port must be 0..65535")
    host = _resolve_host(host, said)
    return ListenAddress(name or str(port), host, port)


def host_name_problem(host: str) -> str:
    """What keeps `host` (not an IP address) from being looked up, or "" when nothing does."""
    labels = host[:-1].split(".") if host.endswith(".") else host.split(".")
    if len(host) > MAX_HOST or not all(0 < len(label) <= MAX_LABEL for label in labels):
        return (f"host name {shown(host, 24)} is not one DNS can look up: at most {MAX_HOST} characters, "
                f"1..{MAX_LABEL} between dots")
    try:
        host.encode("idna")
    except UnicodeError as err:
        return f"host name {shown(host, 24)} cannot be written for DNS ({err.__cause__ or err})"
    return ""


def _resolve_host(host: str, said: str) -> str:
    if host in ("", "*"):
        return ""
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        pass
    problem = host_name_problem(host)
    if problem:
        raise UsageError(f"listen address {said}: {problem}")
    try:
        infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as err:
        raise UsageError(f"listen address {said}: cannot resolve host {shown(host, 24)} ({err})") from None
    # Prefer IPv4 for names such as "localhost", like most clients try first.
    infos.sort(key=lambda info: info[0] != socket.AF_INET)
    return str(infos[0][4][0])
