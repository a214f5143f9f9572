"""What `hotgo status` reports: its timestamps, and its text for people (`--json` gives the fields)."""

from __future__ import annotations

import time
from typing import Any, Dict, List


def iso(timestamp: float) -> str:
    if not timestamp:
        return ""
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(timestamp)) + f".{int(timestamp % 1 * 1000):03d}Z"


def describe_status(status: Dict[str, Any]) -> List[str]:
    """`hotgo status` for people."""
    lines = [
        f"generation {status['generation']} {status['state']} · pid {status['pid']} · since {status['started_at']}",
        f"binary      {status['binary']}",
        f"listen      {', '.join(status['listen']) or '-'} ({status['socket']})",
    ]
    build = status["last_build"]
    lines.append(f"last build  {build['result']}" + (f": {build['error']}" if build.get("error") else ""))
    push = status["last_config_push"]
    if push["result"] != "none":
        lines.append(f"last push   {push['result']} at {push['when']} ({', '.join(push['files'])}): {push['message']}")
    else:
        lines.append("last push   none")
    if status.get("note"):
        lines.append(f"note        {status['note']}")
    others = [g for g in status["generations"] if g["generation"] != status["generation"]]
    for other in others:
        lines.append(f"also        generation {other['generation']} {other['state']} (pid {other['pid']})")
    if status["rollback_to"]:
        lines.append(f"rollback    would hand off to {status['rollback_to']}")
    return lines
