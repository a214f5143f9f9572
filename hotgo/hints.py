"""Advice hotgo prints when a setting would make reloads better (socket mode `none`)."""

from __future__ import annotations

from typing import List, Optional

import psutil


def listening_ports(pid: int) -> List[str]:
    """The TCP addresses a process listens on, as `--listen` takes them."""
    try:
        connections = psutil.Process(pid).net_connections(kind="inet")
    except psutil.Error:
        return []
    found = []
    for conn in connections:
        if conn.status == psutil.CONN_LISTEN and conn.laddr:
            host = conn.laddr.ip
            host = "" if host in ("0.0.0.0", "::") else (f"[{host}]" if ":" in host else host)
            found.append(f"{host}:{conn.laddr.port}")
    return sorted(set(found))


def listen_hint(generation: int, pid: int) -> Optional[str]:
    ports = listening_ports(pid)
    if not ports:
        return None
    listen = ", ".join(f'"{p}"' for p in ports)
    return (
        f"generation {generation} listens on {', '.join(ports)}; with socket mode none every reload "
        "refuses connections while the service restarts. For seamless reloads: run with "
        f"--listen {ports[0]} (or `listen = [{listen}]` under [run] in hotgo.toml) and let the "
        "service take the shared socket — with the hotgo Go helper that is: "
        '`go get github.com/hotgo-dev/hotgo/go`, import hotgo "github.com/hotgo-dev/hotgo/go", '
        "and call hotgo.ListenAndServe(addr, handler) instead of http.ListenAndServe(addr, handler)."
    )
