"""Which services a `hotgo run` runs, each with its settings: the defaults, then hotgo.toml (its
top level, then the service's own `[services.NAME]` table), then the flags. The later wins.

One service (no `[services.*]`, at most one PKG) is named "": its output stays as it always was.
Several come from the `[services.*]` tables (PKG arguments then pick some of them by name) or from
several PKG arguments (each named after its directory). Flags that name one service's own things
(PKG, --listen, --binary, the words after `--`) are refused with several: each service has its own.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Sequence

from hotgo.build.go_module import find_module_root, module_path
from hotgo.errors import UsageError, shown, shown_name
from hotgo.generate.steps import GenerateStep, parse_generate
from hotgo.settings import env_file, limits, toml_file
from hotgo.settings.schema import SETTINGS, Settings, Value, resolve
from hotgo.settings.services import NAME, ServiceValues
from hotgo.settings.toml_file import CONFIG_NAME, SettingsFile

SETTING_OF = {setting.dest: setting for setting in SETTINGS}
# Flags that name one service's own things, and the key of [services.NAME] that takes their place.
_FLAG_OF_OWN = {"run_listen": ("--listen", "listen"), "run_binary": ("--binary", "binary"),
                "run_args": ("-- ARGS", "args"), "browser_listen": ("--browser", "browser.listen"),
                "front_listen": ("--front", "front.listen")}


@dataclass(frozen=True)
class RunPlan:
    services: List[Planned]
    generate: List[GenerateStep]  # [[generate]]: the code generators, run-wide


@dataclass(frozen=True)
class Planned:
    """One service to run: its name ("" for the only one), settings, and where each value was set."""

    name: str
    settings: Settings
    where: Dict[str, str]


def values_from_flags(namespace: argparse.Namespace, app_args: List[str],
                      package: Optional[str] = None) -> Dict[str, Value]:
    values: Dict[str, Value] = {}
    for setting in SETTINGS:
        raw = getattr(namespace, setting.dest, None) if setting.flag else None
        if raw is None:
            continue
        try:
            values[setting.dest] = setting.parse(raw)
        except ValueError as err:
            raise UsageError(f"{setting.flag}: {err}") from None
    # PKG and the words after `--` are checked as [build] package and [run] args are.
    for dest, raw, named in (("build_package", package, "PKG"), ("run_args", app_args, "--")):
        if raw:
            try:
                values[dest] = SETTING_OF[dest].parse(raw)
            except ValueError as err:
                raise UsageError(f"{named}: {err}") from None
    return values


def packages_of(namespace: argparse.Namespace) -> List[str]:
    """The PKG arguments (a list; a single one given in-process as a string counts too)."""
    given = getattr(namespace, "package", None)
    if given is None:
        return []
    return [given] if isinstance(given, str) else list(given)


def load_settings(namespace: argparse.Namespace, app_args: List[str], cwd: Path,
                  where: Optional[Dict[str, str]] = None) -> Settings:
    """The settings of a one-service run (see plan_services)."""
    planned = plan_services(namespace, app_args, cwd)
    if len(planned) != 1:
        raise UsageError(f"{len(planned)} services are configured; this command takes one")
    if where is not None:
        where.update(planned[0].where)
    return planned[0].settings


def plan_services(namespace: argparse.Namespace, app_args: List[str], cwd: Path) -> List[Planned]:
    return plan_run(namespace, app_args, cwd).services


def plan_run(namespace: argparse.Namespace, app_args: List[str], cwd: Path) -> RunPlan:
    for flag, text in (("--config", namespace.config), ("--log-file", namespace.log_file)):
        try:  # before the file is read: a path no file can have is the flag's mistake
            limits.file_path(text or "")
        except ValueError as err:
            raise UsageError(f"{flag}: {err}") from None
    packages = packages_of(namespace)
    candidate = settings_file(namespace, cwd)
    # Also a directory or a broken link: toml_file says what is wrong instead of using defaults.
    config_path = candidate if namespace.config or os.path.lexists(candidate) else None
    file = toml_file.load_file(config_path) if config_path else SettingsFile()
    steps: List[GenerateStep] = []
    if file.generate is not None:
        try:
            steps = parse_generate(file.generate, shown_name(str(config_path)), file.text)
        except ValueError as err:
            raise UsageError(str(err)) from None
    return RunPlan(_services(namespace, app_args, cwd, packages, file, config_path), steps)


def _services(namespace: argparse.Namespace, app_args: List[str], cwd: Path, packages: List[str],
              file: SettingsFile, config_path: Optional[Path]) -> List[Planned]:
    if not file.services and len(packages) <= 1:
        flag_values = values_from_flags(namespace, app_args, packages[0] if packages else None)
        if flag_values.get("run_binary") and packages:
            raise UsageError(f"PKG {shown(packages[0])} and --binary exclude each other: --binary runs a "
                             "prebuilt binary and builds nothing; drop one of them")
        return [_planned("", file.values, file.locations, flag_values, config_path, cwd)]
    flag_values = values_from_flags(namespace, app_args)
    for dest, (flag, key) in _FLAG_OF_OWN.items():
        if dest in flag_values:
            raise UsageError(f"{flag} names one service's own {'words' if dest == 'run_args' else 'setting'}; "
                             f"with several services set it in hotgo.toml, in [services.NAME] (`{key}`)")
    tables = _chosen(file.services, packages, config_path) if file.services else _from_packages(packages, cwd)
    return [_planned(table.name, {**file.values, **table.values}, {**file.locations, **table.locations},
                     flag_values, config_path, cwd) for table in tables]


def _planned(name: str, values: Dict[str, Value], locations: Dict[str, str], flag_values: Dict[str, Value],
             config_path: Optional[Path], cwd: Path) -> Planned:
    flag_names = {s.dest: s.flag for s in SETTINGS if s.flag and s.dest in flag_values}
    where = {**locations, **flag_names}
    settings = resolve({**values, **flag_values}, where)
    if settings.run_env_file:
        # A path in hotgo.toml is relative to that file; a flag's to the current directory.
        from_flag = "run_env_file" in flag_values or config_path is None
        base = cwd if from_flag or config_path is None else config_path.parent
        named_in = "--env-file" if from_flag else locations["run_env_file"]
        from_file = env_file.load(base / settings.run_env_file, named_in)
        settings = dataclasses.replace(settings, run_env={**from_file, **settings.run_env})
    return Planned(name, settings, where)


def _chosen(services: List[ServiceValues], names: Sequence[str], config_path: Optional[Path]) -> List[ServiceValues]:
    """`hotgo run api web`: those services of hotgo.toml; no name: all of them."""
    by_name = {service.name: service for service in services}
    unknown = [name for name in names if name not in by_name]
    if unknown:
        raise UsageError(f"{config_path} configures the services {', '.join(by_name)}: "
                         f"{', '.join(shown(n) for n in unknown)} is none of them (name services to run only those, "
                         "or drop the arguments to run all)")
    return [by_name[name] for name in dict.fromkeys(names)] if names else services


def _from_packages(packages: Sequence[str], cwd: Path) -> List[ServiceValues]:
    """`hotgo run ./cmd/api ./cmd/worker`: a service per package, named after its directory."""
    names = service_names(packages, cwd)
    return [ServiceValues(name, {"build_package": SETTING_OF["build_package"].parse(package)},
                          {"build_package": f"PKG {package}"}, 0) for name, package in zip(names, packages)]


def service_names(packages: Sequence[str], cwd: Path) -> List[str]:
    """A name per package: its directory's name (`./cmd/api` → api; `.` → the module's); two of the
    same name take their parent's too (`api-v1`, `api-v2` from ./v1/api and ./v2/api)."""
    def words(package: str) -> List[str]:
        path = (cwd / package).resolve() if package.startswith(".") else Path(package.rstrip("/."))
        parts = [p for p in path.parts if p not in ("/", "")]
        if package.startswith(".") and path == _root_of(path):
            parts = [module_path(path).rsplit("/", 1)[-1]] if (path / "go.mod").is_file() else parts
        return [_clean(p) for p in reversed(parts)] or ["service"]

    chains = [words(package) for package in packages]
    depth = {index: 1 for index in range(len(packages))}
    while True:
        names = ["-".join(reversed(chains[i][: depth[i]])) for i in range(len(packages))]
        clashes = {name for name in names if names.count(name) > 1}
        grow = [i for i, name in enumerate(names) if name in clashes and depth[i] < len(chains[i])]
        if not grow:
            break
        for i in grow:
            depth[i] += 1
    clashing = sorted({name for name in names if names.count(name) > 1})
    if clashing:
        raise UsageError(f"PKG: {', '.join(shown(p) for p in packages)} name the same package twice ({clashing[0]}); "
                         "give each once, or configure two services in hotgo.toml [services.NAME]")
    bad = [name for name in names if not NAME.fullmatch(name)]
    if bad:
        raise UsageError(f"PKG: cannot name a service after {shown(bad[0])}: name it in hotgo.toml [services.NAME]")
    return names


def _root_of(path: Path) -> Path:
    try:
        return find_module_root(path)
    except UsageError:
        return Path("/")


def _clean(part: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]+", "-", part).strip("-")[:32] or "service"


def settings_file(namespace: argparse.Namespace, cwd: Path) -> Path:
    """--config, else hotgo.toml at the project root (which may not exist yet)."""
    return (cwd / namespace.config).absolute() if namespace.config else project_root(cwd) / CONFIG_NAME


def project_root(cwd: Path) -> Path:
    """The Go module root; without one (a staging host holding only a binary), the directory itself."""
    try:
        return find_module_root(cwd)
    except UsageError:
        return cwd

