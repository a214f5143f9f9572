"""`hotgo init`: a commented hotgo.toml a user can read top to bottom, derived from hotgo.settings.schema.

With one main package, every key is written with the service's detections in place; with several,
one [services.NAME] table each (init/services_section.py). Either way the code generators the
repository shows follow (init/detect_generators.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import Dict, List, Optional, Tuple

from hotgo.build.constraints import directory_hint, never_built
from hotgo.errors import UsageError
from hotgo.init.config_section import propose_config
from hotgo.init.detect_generators import detect_generators, generator_lines
from hotgo.init.detect_listen import propose_listen
from hotgo.init.go_sources import shown
from hotgo.init.main_packages import detect_packages
from hotgo.init.services_section import render_services
from hotgo.init.toml_text import render
from hotgo.settings.schema import Value, listen_list
from hotgo.settings.toml_file import CONFIG_NAME


def _single_service(root: Path, packages: List[str], not_proposed: Optional[str]) -> Tuple[str, List[str]]:
    """hotgo.toml's text for one main package (or none found), and the lines `hotgo init` prints."""
    said: List[str] = []
    proposals: Dict[str, Value] = {}
    notes: Dict[str, str] = {}
    if not_proposed:
        notes["build_package"] = not_proposed
    if packages:
        proposals["build_package"] = packages[0]
        notes["build_package"] = "main package detected" + (f"; {not_proposed}" if not_proposed else "")
        said.append(f"main package: {packages[0]}")
    package_dir = root / str(proposals.get("build_package", "."))
    address, why = propose_listen(package_dir, root)
    if address:
        proposals["run_listen"] = listen_list(address)
        notes["run_listen"] = f"{why}; the service must take the shared socket (see the Go helper)"
        said.append(f"listen: {address} ({why})")
    commented: Dict[str, Value] = {}
    said += propose_config(root, package_dir, proposals, notes, commented)
    return render(proposals, notes, commented), said


def write(root: Path, force: bool, cwd: Optional[Path] = None) -> Tuple[Path, List[str]]:
    """Write hotgo.toml at the module root; return it and what was detected."""
    target = root / CONFIG_NAME
    if target.exists() and not force:
        raise UsageError(f"{target} already exists; use `hotgo init --force` to overwrite it")
    packages = detect_packages(root, cwd)
    hint = directory_hint(cwd) if cwd is not None and never_built(cwd) else None
    not_proposed = f"{shown(cwd, root)}: {hint}" if cwd is not None and hint else None
    said = [f"not proposed: {not_proposed}"] if not_proposed else []
    if len(packages) > 1:
        text, found = render_services(root, packages)
    else:
        text, found = _single_service(root, packages, not_proposed)
    said += found
    generators = detect_generators(root)
    if generators:
        text += "\n" + "\n".join(generator_lines(generators))
        said += [f"generate: {g.run} on {', '.join(g.watch)}" + ("" if g.sure else " (left commented)")
                 for g in generators]
    target.write_text(text, encoding="utf-8")
    gitignore = root / ".gitignore"
    if gitignore.is_file():
        lines = gitignore.read_text(encoding="utf-8").splitlines()
        if not any(line.strip() in (".hotgo", ".hotgo/", "/.hotgo/", "/.hotgo") for line in lines):
            with gitignore.open("a", encoding="utf-8") as handle:
                prefix = "" if not lines or gitignore.read_text(encoding="utf-8").endswith("\n") else "\n"
                handle.write(f"{prefix}.hotgo/\n")
            said.append("added .hotgo/ to .gitignore")
    return target, said
