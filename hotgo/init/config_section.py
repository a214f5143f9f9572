"""`hotgo init`: the [config] section: which files, how the running service is told, how they are checked.

Each key gets a value only from what the source shows; a guess is written as a
commented line under the key, with the reason in the note above it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Dict, List

from hotgo.init.check_flag import find_check_flag
from hotgo.init.detect_config import propose_config_files
from hotgo.init.detect_signal import find_reload_signal
from hotgo.settings.schema import Value

_RESTART = "restart"


def propose_config(root: Path, package_dir: Path, proposals: Dict[str, Value], notes: Dict[str, str],
                   commented: Dict[str, Value]) -> List[str]:
    """Fill proposals / notes / commented for [config]; return the lines `hotgo init` prints."""
    said: List[str] = []
    found = propose_config_files(root, package_dir)
    skipped = f"; left out, as they configure tools: {', '.join(found.skipped)}" if found.skipped else ""
    if found.files:
        proposals["config_files"] = found.files
        notes["config_files"] = f"named by the source ({found.why}): a change to only these is pushed, not rebuilt"
        said.append(f"config files: {', '.join(found.files)} ({found.why})")
    elif found.guesses:
        commented["config_files"] = found.guesses
        notes["config_files"] = ("config-looking files the source does not name: uncomment if the service reads "
                                 "them")
        said.append(f"config files: none named by the source; {', '.join(found.guesses)} left commented")
    if skipped:
        notes["config_files"] = notes.get("config_files", "no config file found") + skipped
        said.append(skipped[2:])
    said += _push(root, package_dir, proposals, notes, commented)
    if found.files or found.guesses:
        check = find_check_flag(root, package_dir)
        if check is not None:
            commented["config_validate"] = check.command
            notes["config_validate"] = f"{check.why}: uncomment to check each config file with it before a push"
            said.append(f"validate: {check.command} ({check.why}; commented out)")
        else:
            notes["config_validate"] = "no check flag or subcommand found in the source: files are parsed by type"
    return said


def _push(root: Path, package_dir: Path, proposals: Dict[str, Value], notes: Dict[str, str],
          commented: Dict[str, Value]) -> List[str]:
    finding = find_reload_signal(root, package_dir)
    if finding.reload is not None:
        signal, where = finding.reload
        proposals["config_push"] = f"signal:{signal}"
        notes["config_push"] = f"the source reloads on {signal} ({where})"
        return [f"push: signal:{signal} (reloads on it at {where})"]
    proposals["config_push"] = _RESTART
    if finding.handled:
        signal, where = next(iter(finding.handled.items()))
        commented["config_push"] = f"signal:{signal}"
        notes["config_push"] = (f"{signal} is handled at {where}, but nothing there says it reloads: restart "
                                "(a handoff) until you know it does, then uncomment")
        return [f"push: restart ({signal} handled at {where}, not known to reload; left commented)"]
    notes["config_push"] = ("no reload signal handled in the source (a signal it does not handle would stop it): "
                            "a config change restarts it with a handoff")
    return ["push: restart (no reload signal handled in the source)"]
