"""The environment a generation starts with: the systemd conventions plus hotgo's own variables.

`LISTEN_PID` is not here: only the child knows its pid before exec (the platform seam sets it).
"""

from __future__ import annotations

import os
from typing import Dict, Mapping, Optional, Sequence

from hotgo.choices import SocketMode
from hotgo.settings.addresses import ListenAddress

# Set by whoever supervises hotgo (systemd): they describe hotgo's sockets, never the service's.
PROTOCOL_VARS = ("LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES", "NOTIFY_SOCKET")


def service_env(number: int, mode: SocketMode, addresses: Sequence[ListenAddress], inherited: int,
                run_env: Mapping[str, str], base: Optional[Mapping[str, str]] = None) -> Dict[str, str]:
    """`inherited`: how many shared listeners the generation gets as fds 3, 4, …"""
    env = {k: v for k, v in (os.environ if base is None else base).items() if k not in PROTOCOL_VARS}
    env.update(run_env)
    env["HOTGO_GENERATION"] = str(number)
    env["HOTGO_SOCKET"] = mode.value
    if addresses:
        env["PORT"] = str(addresses[0].port)
        env["HOTGO_LISTEN"] = ",".join(str(a) for a in addresses)
    if mode is SocketMode.INHERIT:
        env["LISTEN_FDS"] = str(inherited)
        env["LISTEN_FDNAMES"] = ":".join(a.name for a in addresses)
    return env
