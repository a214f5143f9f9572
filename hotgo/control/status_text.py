"""What `hotgo status` reports: its timestamps, and its text for people (`--json` gives the fields)."""

from __future__ import annotations

import time
from typing import Any, Dict, List, Type


def iso(timestamp: float) -> str:
    if not timestamp:
        return ""
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(timestamp)) + f".{int(timestamp % 1 * 1000):03d}Z"


def describe_status(status: Dict[str, Any]) -> List[str]:
    """`hotgo status` for people; several services: a block each, under its name."""
    if "services" in status:
        lines: List[str] = []
        for name, one in status["services"].items():
            lines += [f"── {name}", *("  " + line for line in describe_status(one))]
        return lines
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


# What describe_status reads, and its type (docs/reference.md, "hotgo status --json").
_FIELDS: Dict[str, Type[Any]] = {
    "generation": int, "pid": int, "binary": str, "started_at": str, "state": str, "last_build": dict,
    "last_config_push": dict, "socket": str, "listen": list, "rollback_to": str, "generations": list,
}
_PUSH_FIELDS: Dict[str, Type[Any]] = {"result": str, "when": str, "files": list, "message": str}
_GENERATION_FIELDS: Dict[str, Type[Any]] = {"generation": int, "state": str, "pid": int}


def status_problem(status: object) -> str:
    """Why `status` is not a status hotgo sends ("" when it is one): what a foreign answer lacks."""
    if not isinstance(status, dict):
        return "no status object"
    if "services" in status:  # several services: each one's status is checked
        services = status["services"]
        if not isinstance(services, dict) or not services:
            return "status without services"
        problems = [f"{name}: {status_problem(one)}" for name, one in services.items() if status_problem(one)]
        return problems[0] if problems else ""
    wrong = _wrong(status, _FIELDS)
    if wrong:
        return f"status without {wrong}"
    if not isinstance(status["last_build"].get("result"), str):
        return "status without last_build.result"
    push = status["last_config_push"]
    wrong = _wrong(push, _PUSH_FIELDS) if push.get("result") != "none" else ""
    if wrong or not isinstance(push.get("result"), str):
        return f"status without last_config_push.{wrong or 'result'}"
    if not all(isinstance(a, str) for a in status["listen"]):
        return "status with a listen address that is not text"
    if not all(isinstance(g, dict) and not _wrong(g, _GENERATION_FIELDS) for g in status["generations"]):
        return "status with a generation without generation, state or pid"
    if not all(isinstance(f, str) for f in push.get("files", [])) or not isinstance(status.get("note", ""), str):
        return "status with a file name or note that is not text"
    return ""


def _wrong(record: Dict[str, Any], fields: Dict[str, Type[Any]]) -> str:
    """The first field of `fields` missing from `record` or of another type ("" if none; a bool is no int)."""
    for name, kind in fields.items():
        value = record.get(name)
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            return name
    return ""
