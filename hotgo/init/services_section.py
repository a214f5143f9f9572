"""`hotgo init` in a module with several main packages: one `[services.NAME]` table each.

Every service gets what a single one would: the address its source names, its config
files, the signal it reloads on, a check command, each commented with the reason
when unsure. Ports never clash: a port named by two sources stays with the first
service and is commented in the second, and a service that only reads PORT gets a
commented free port rather than an invented one. The top-level [build], [run] and
[watch] stay as defaults for every service, without the keys that must be each
service's own (package, binary, listen).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Set, Tuple

from hotgo.init.config_section import propose_config
from hotgo.init.detect_listen import READS_PORT_NOTE, address_in_source, reads_port
from hotgo.init.main_packages import service_names
from hotgo.init.toml_text import section_lines, setting_lines, toml_literal
from hotgo.settings.schema import SETTINGS, Value, listen_list

# Keys that say which service it is: never a default shared by all.
PER_SERVICE = ("package", "binary", "listen")
_SHARED_SECTIONS = ("build", "run", "watch")
_CONFIG_KEYS = ("config_files", "config_push", "config_validate")
_FIRST_SUGGESTED_PORT = 8080
_WORKER_NOTE = "no port found, socket mode none: stop-then-start on reload"
_PACKAGE = next(s for s in SETTINGS if s.dest == "build_package")
_LISTEN = next(s for s in SETTINGS if s.dest == "run_listen")


@dataclass
class Service:
    name: str
    package: str
    address: Optional[str] = None  # proposed listen address
    listen_note: str = ""
    commented_address: Optional[str] = None  # a listen address left for the user to enable
    proposals: Dict[str, Value] = field(default_factory=dict)  # [config] keys, as the single service's
    notes: Dict[str, str] = field(default_factory=dict)
    commented: Dict[str, Value] = field(default_factory=dict)
    said: List[str] = field(default_factory=list)

    @property
    def has_config_files(self) -> bool:
        return "config_files" in self.proposals or "config_files" in self.commented


def _port(address: str) -> Optional[int]:
    try:
        return listen_list(address)[0].port
    except (ValueError, IndexError):
        return None


def _free_port(taken: Set[int]) -> int:
    port = _FIRST_SUGGESTED_PORT
    while port in taken:
        port += 1
    return port


def _assign_listen(root: Path, services: List[Service]) -> None:
    """Addresses named in the sources, first come first served; a commented free port for PORT readers."""
    named = {s.name: address_in_source(root / s.package) for s in services}
    taken: Set[int] = {p for found in named.values() if found for p in [_port(found[0])] if p is not None}
    owner: Dict[int, str] = {}
    for service in services:
        found = named[service.name]
        port = _port(found[0]) if found else None
        if found and port is not None and port in owner:
            service.commented_address = found[0]
            service.listen_note = (f"{found[1]}, but port {port} is {owner[port]}'s (found first) and two services "
                                   "cannot share one: give this one its own port and uncomment; until then it is "
                                   "stopped then started on reload (socket mode none)")
            service.said.append(f"listen: {found[0]} left commented: port {port} is {owner[port]}'s")
        elif found and port is not None:
            owner[port] = service.name
            service.address = found[0]
            service.listen_note = f"{found[1]}; the service must take the shared socket (see the Go helper)"
            service.said.append(f"listen: {found[0]} ({found[1]})")
        elif reads_port(root / service.package, root):
            suggested = _free_port(taken)
            taken.add(suggested)
            service.commented_address = f":{suggested}"
            service.listen_note = (f"{READS_PORT_NOTE}, but its source names no port: :{suggested} is free among "
                                   "these services; uncomment it or pick one")
            service.said.append(f"listen: none named; :{suggested} left commented (the service reads PORT)")
        else:
            service.listen_note = _WORKER_NOTE
            service.said.append("no port found: a worker (socket mode none)")


def _service_lines(service: Service) -> List[str]:
    out = [f"[services.{service.name}]", f"# hotgo init: main package {service.package}",
           f"package = {toml_literal(_PACKAGE, service.package)}", f"# hotgo init: {service.listen_note}"]
    if service.address is not None:
        out.append(f"listen = {toml_literal(_LISTEN, listen_list(service.address))}")
    elif service.commented_address is not None:
        out.append(f"# listen = {toml_literal(_LISTEN, listen_list(service.commented_address))}")
    out.append("")
    if service.has_config_files:
        # a push answers a change to the service's config files: without any, the table would say nothing
        out.append(f"[services.{service.name}.config]")
        for setting in SETTINGS:
            if setting.dest in _CONFIG_KEYS and setting.dest in service.notes:
                out += setting_lines(setting, service.proposals, service.notes, service.commented, with_help=False)
        out.append("")
    return out


def render_services(root: Path, packages: List[str]) -> Tuple[str, List[str]]:
    """hotgo.toml's text for several main packages, and the lines `hotgo init` prints."""
    names = service_names(packages, root)
    services = [Service(names[package], package) for package in packages]
    _assign_listen(root, services)
    told: Set[str] = set()
    for service in services:
        found = propose_config(root, root / service.package, service.proposals, service.notes, service.commented)
        if service.has_config_files:
            # the tool files left out are the same for every service: said once
            service.said += [line for line in found if not (line.startswith("left out") and line in told)]
            told.update(found)
    out = ["# hotgo.toml — settings for `hotgo run`: one [services.NAME] table for each main package of the module.",
           "# [build], [run] and [watch] show every key with its default; the [build] and [run] ones are defaults for",
           f"# every service, which may set them flat in its table ({', '.join(PER_SERVICE)} only there);",
           "# [services.NAME.config] takes the keys of [config]. Command-line flags override this file.",
           "# Durations: \"250ms\", \"2s\". Globs: ** spans directories.", ""]
    for section in _SHARED_SECTIONS:
        out += section_lines(section, {}, {}, {}, left_out=PER_SERVICE)
    for service in services:
        out += _service_lines(service)
    said = [f"services: {', '.join(f'{s.name} ({s.package})' for s in services)}"]
    said += [f"{service.name}: {line}" for service in services for line in service.said]
    return "\n".join(out), said
