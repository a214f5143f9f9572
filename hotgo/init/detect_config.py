"""`hotgo init`: which files are the service's own config.

A repository's root holds many YAML files that configure tools (linters, release
tools, pre-commit, CI, editors, containers, dependency bots): never the service's.
What the service reads is what its source names: a config flag's default
(`flag.String("config", "config.yaml", …)`, kingpin `.Default("blackbox.yml")`),
or a literal it opens or keeps in a config-named variable. Those are proposed;
other config-looking files only as a commented guess.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from fnmatch import fnmatch
from pathlib import Path
from typing import Dict, List, Set

from hotgo.build.go_module import embed_patterns
from hotgo.init.go_sources import go_sources, read_sources, shown
from hotgo.settings.toml_file import CONFIG_NAME

_CONFIG_SUFFIXES = (".toml", ".yaml", ".yml", ".json", ".conf", ".ini", ".hcl")

# Files that configure tools, not the service (matched on the file name, case-insensitively).
TOOL_FILES = (
    ".*",  # .golangci.yml, .goreleaser.yml, .pre-commit-config.yaml, .editorconfig, .yamllint, .promu.yml …
    "dockerfile*", "*.dockerfile", "docker-compose*", "compose.y*ml", "compose.*.y*ml", "containerfile*",
    "renovate.json*", "dependabot.y*ml", "codecov.y*ml", "goreleaser.y*ml", "golangci.y*ml",
    "buf.y*ml", "buf.gen.y*ml", "buf.work.y*ml", "skaffold.y*ml", "devspace.y*ml", "tiltfile",
    "taskfile.y*ml", "lefthook.y*ml", "mkdocs.y*ml", "netlify.toml", "vercel.json", "fly.toml",
    "package.json", "package-lock.json", "tsconfig*.json", "staticcheck.conf", "revive.toml", "typos.toml",
    "_typos.toml", "sqlc.y*ml", "gqlgen.y*ml", "cloudbuild.y*ml", "chart.yaml", "kustomization.y*ml",
    "release-please-config.json", "procfile", "openapi.*", "swagger.*", "cog.toml", "cliff.toml",
)
# Directories whose files configure tools (CI, editors, dev containers).
TOOL_DIRS = {".github", ".circleci", ".gitlab", ".vscode", ".idea", ".devcontainer", ".buildkite"}

_CONFIG_FLAG = r"(?:config|conf|cfg|settings)(?:[-_.]?(?:file|path|name))?"
# flag.String("config", "config.yaml", …); fs.StringVar(&p, "config", "x.json", …); StringP("config", "c", "x", …)
_FLAG_DEFAULT = re.compile(
    r"\b(?:String|StringVar|StringP|StringVarP)\(\s*(?:&[\w.\[\]]+\s*,\s*)?\"(?P<name>" + _CONFIG_FLAG + r")\"\s*,"
    r"\s*(?:\"\w\"\s*,\s*)?\"(?P<value>[^\"]+)\"", re.IGNORECASE)
# kingpin / kong style: Flag("config.file", …).Default("blackbox.yml")
_KINGPIN_DEFAULT = re.compile(
    r"\bFlag\(\s*\"(?P<name>" + _CONFIG_FLAG + r")\"[^\n]*?\.Default\(\s*\"(?P<value>[^\"]+)\"", re.IGNORECASE)
# os.ReadFile("Caddyfile"); configFile = "Caddyfile"; const defaultConfig = "app.toml"
_OPENED = re.compile(r"\b(?:ReadFile|Open|OpenFile|LoadFile|ParseFile|DecodeFile)\(\s*\"(?P<value>[^\"]+)\"")
_CONFIG_NAMED = re.compile(
    r"\b(?P<ident>\w*(?:[cC]onf(?:ig)?|[cC]fg|[sS]ettings)\w*|\w*(?:[fF]ile|[pP]ath)(?:[nN]ame)?)\s*:?=\s*"
    r"\"(?P<value>[^\"]+)\"")
# Files in a repository that show or test a config, not the one the service runs with.
_NOT_THE_CONFIG = re.compile(r"example|sample|test|fixture|\.bad\.|invalid", re.IGNORECASE)


@dataclass
class ConfigProposal:
    files: List[str] = field(default_factory=list)  # named by the source: proposed
    why: str = ""
    guesses: List[str] = field(default_factory=list)  # config-looking, named nowhere: a commented guess
    skipped: List[str] = field(default_factory=list)  # tool config files left out


def is_tool_file(relative: str) -> bool:
    parts = relative.split("/")
    if TOOL_DIRS.intersection(parts[:-1]):
        return True
    name = parts[-1].lower()
    return name == CONFIG_NAME or any(fnmatch(name, pattern) for pattern in TOOL_FILES)


def _plausible(value: str) -> bool:
    """A relative file name, not a URL, a format string or a directory."""
    return (bool(value) and " " not in value and "://" not in value and "%" not in value and "{" not in value
            and not value.endswith("/") and not value.startswith(("/", "$", "~")) and ":" not in value)


def _config_like(value: str) -> bool:
    name = value.rsplit("/", 1)[-1]
    # Caddyfile, Corefile: a config named like a Makefile (Dockerfile and such are tool files)
    return name.lower().endswith(_CONFIG_SUFFIXES) or ("." not in name and name[:1].isupper() and name.endswith("file"))


def named_in_source(root: Path, package_dir: Path) -> Dict[str, str]:
    """Files the source names, each with where; flag defaults in the main package win over the rest."""
    by_flag: Dict[str, str] = {}
    by_use: Dict[str, str] = {}
    for path, text in read_sources(root, package_dir):
        if by_flag and path.parent != package_dir:
            break  # the main package's own flags name the file: the rest of the module may be other tools'
        where = shown(path, root)
        for pattern in (_FLAG_DEFAULT, _KINGPIN_DEFAULT):
            for match in pattern.finditer(text):
                value = match.group("value")
                if _plausible(value) and _config_like(value):
                    by_flag.setdefault(value, f"default of the \"{match.group('name')}\" flag in {where}")
        for match in _OPENED.finditer(text):
            value = match.group("value")
            if _plausible(value) and _config_like(value) and _exists(root, package_dir, value):
                by_use.setdefault(value, f"opened in {where}")
        for match in _CONFIG_NAMED.finditer(text):
            value = match.group("value")
            if _plausible(value) and _config_like(value) and not value.startswith("."):
                by_use.setdefault(value, f"{match.group('ident')} in {where}")
    return by_flag or by_use


def _exists(root: Path, package_dir: Path, value: str) -> bool:
    return (root / value).is_file() or (package_dir / value).is_file()


def _as_glob(root: Path, package_dir: Path, value: str) -> str:
    """A named file as a watch glob from the module root: it is relative to the service's working directory,
    which is the module root, unless only the main package's directory holds it."""
    if not (root / value).exists() and (package_dir / value).exists():
        return shown(package_dir / value, root)
    return value


def propose_config_files(root: Path, package_dir: Path) -> ConfigProposal:
    proposal = ConfigProposal()
    named = named_in_source(root, package_dir)
    kept = {value: where for value, where in named.items() if not is_tool_file(value)}
    if kept:
        proposal.files = [_as_glob(root, package_dir, value) for value in kept]
        proposal.why = "; ".join(f"{value}: {where}" + ("" if _exists(root, package_dir, value) else ", not there yet")
                                 for value, where in kept.items())
    embedded = embed_patterns(root, list(go_sources(root, package_dir)))
    config_dir = root / "config"
    if config_dir.is_dir() and not any(config_dir.rglob("*.go")) and not kept:
        proposal.guesses.append("config/**")
    seen: Set[str] = set(proposal.files)
    for directory in dict.fromkeys((package_dir, root)):
        for path in sorted(directory.iterdir()) if directory.is_dir() else []:
            relative = shown(path, root)
            if not path.is_file() or relative in seen or not path.name.lower().endswith(_CONFIG_SUFFIXES):
                continue
            seen.add(relative)
            if is_tool_file(relative):
                proposal.skipped.append(relative)
            elif not kept and not _NOT_THE_CONFIG.search(path.name) and not any(
                    fnmatch(relative, pattern) for pattern in embedded):
                proposal.guesses.append(relative)
    return proposal
