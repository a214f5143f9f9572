"""Build profiles (issue 13): dev strips DWARF yet keeps the user's flags, debug keeps DWARF and
tells how to attach, plain is the user's flags only."""

from __future__ import annotations

import os
import re
import signal
import struct
import subprocess
import sys
from pathlib import Path
from typing import Set

import pytest
from harness import Hotgo, field_of, free_port, get, gone, set_version, wait_for

from hotgo.settings.profiles import merge

elf_only = pytest.mark.skipif(sys.platform != "linux", reason="reads the ELF sections of the built binary")


def elf_sections(binary: Path) -> Set[str]:
    """Section names of a 64-bit little-endian ELF file (what `readelf -S` lists)."""
    data = binary.read_bytes()
    assert data[:4] == b"\x7fELF" and data[4] == 2 and data[5] == 1, f"{binary} is not a 64-bit LE ELF"
    shoff, = struct.unpack_from("<Q", data, 0x28)
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", data, 0x3A)
    headers = [struct.unpack_from("<IIQQQQ", data, shoff + i * shentsize) for i in range(shnum)]
    strtab_offset, strtab_size = headers[shstrndx][4], headers[shstrndx][5]
    strtab = data[strtab_offset:strtab_offset + strtab_size]
    return {strtab[h[0]:strtab.index(b"\0", h[0])].decode() for h in headers}


# -- merging: pure ---------------------------------------------------------------------------------

def test_dev_profile_flags() -> None:
    assert merge("dev", []) == ["-buildvcs=false", "-ldflags=-s -w"]


def test_user_ldflags_are_merged_not_dropped() -> None:
    # go build keeps only the last -ldflags for a package: the profile's args go inside the user's.
    assert merge("dev", ["-ldflags", "-X main.v=1", "-race"]) == [
        "-buildvcs=false", "-ldflags=-s -w -X main.v=1", "-race"]
    assert merge("dev", ["-ldflags=all=-X main.v=1"]) == ["-buildvcs=false", "-ldflags=all=-s -w -X main.v=1"]


def test_user_ldflags_in_goflags_survive_too() -> None:
    assert merge("dev", [], goflags="-p=1 -ldflags=-X=main.v=2") == ["-buildvcs=false", "-ldflags=-s -w -X=main.v=2"]


def test_user_switch_wins_over_the_profile() -> None:
    assert merge("dev", ["-buildvcs=true"]) == ["-ldflags=-s -w", "-buildvcs=true"]
    assert merge("dev", [], goflags="-buildvcs=true") == ["-ldflags=-s -w"]


def test_debug_gcflags_cover_the_users_packages() -> None:
    assert merge("debug", []) == ["-gcflags=all=-N -l"]
    # the user's -gcflags=-m (main package only) would win there and lose -N -l: merged into it
    assert merge("debug", ["-gcflags=-m"]) == ["-gcflags=all=-N -l", "-gcflags=-N -l -m"]


def test_plain_is_the_users_flags_exactly() -> None:
    flags = ["-tags", "dev", "-ldflags=-X main.v=1", "-trimpath"]
    assert merge("plain", flags) == flags


# -- the real toolchain ------------------------------------------------------------------------------

def _stampable(project: Path) -> None:
    """`const version` -> `var version`, so that `-X main.version=...` can set it."""
    main = project / "cmd" / "api" / "main.go"
    main.write_text(main.read_text().replace('const version = "v1"', 'var version = "v1"'))


@elf_only
def test_dev_binary_has_no_dwarf_and_keeps_user_ldflags(api_project: Path) -> None:
    """Wording is the point of the first line's check: it names the profile and how to pick another."""
    _stampable(api_project)
    port = free_port()
    with Hotgo(["run", "./cmd/api", "--listen", f"127.0.0.1:{port}",
                "--build-flags=-ldflags='-X main.version=stamped'"], cwd=api_project) as hotgo:
        hotgo.wait_serving()
        first = hotgo.events("start_hotgo")[0]["message"]  # no field names the profile yet
        assert re.search(r"build profile dev \(.*--profile debug\|plain", first), first
        assert field_of(get(port), "version") == "stamped", hotgo.transcript()  # the user's -X survived
        sections = elf_sections(api_project / ".hotgo" / "bin" / "api-1")
        assert ".debug_info" not in sections and ".symtab" not in sections, sorted(sections)
        assert ".gopclntab" in sections  # what runtime stack traces are made of
        assert hotgo.events("debug") == [], hotgo.transcript()


@elf_only
def test_debug_binary_has_dwarf_and_a_halted_old_generation_does_not_block_the_handoff(api_project: Path) -> None:
    if sys.platform == "win32":  # what follows is POSIX (mypy --platform win32 skips it)
        pytest.skip("SIGSTOP is POSIX")
    port = free_port()
    with Hotgo(["run", "./cmd/api", "--listen", f"127.0.0.1:{port}", "--profile", "debug",
                "--drain-timeout", "1s"], cwd=api_project) as hotgo:
        hotgo.wait_serving(timeout=600)  # -N -l: the standard library is compiled again, once
        sections = elf_sections(api_project / ".hotgo" / "bin" / "api-1")
        assert ".debug_info" in sections, sorted(sections)
        first_pid = int(field_of(get(port), "pid") or 0)
        [hint] = hotgo.events("debug", generation=1, pid=first_pid)
        assert f"`dlv attach {first_pid}`" in hint["message"], hint  # the one check of the hint's words

        # A debugger halted at a breakpoint keeps the process stopped; SIGSTOP does the same.
        os.kill(first_pid, signal.SIGSTOP)
        set_version(api_project, "v2")
        wait_for(lambda: field_of(get(port), "version") == "v2", 120, "v2 served while generation 1 is halted")
        hotgo.wait_event("drain_timeout", timeout=30, generation=1)
        wait_for(lambda: gone(first_pid), 30, "the halted generation killed")
        second_pid = int(field_of(get(port), "pid") or 0)
        assert hotgo.events("debug", pid=second_pid), hotgo.transcript()


@pytest.mark.go
def test_dev_flags_keep_full_panic_stack_traces(tmp_path: Path) -> None:
    (tmp_path / "go.mod").write_text("module crash\n\ngo 1.21\n")
    (tmp_path / "main.go").write_text(
        "package main\n\nfunc crash(n int) int {\n\tvar m map[int]int\n\tm[n] = n\n\treturn n\n}\n\n"
        "func main() {\n\tcrash(1)\n}\n")
    binary = tmp_path / "crash"
    subprocess.run(["go", "build", *merge("dev", []), "-o", str(binary), "."], cwd=tmp_path, check=True,
                   timeout=300)
    done = subprocess.run([str(binary)], capture_output=True, text=True, timeout=30)
    assert done.returncode != 0
    assert "panic: assignment to entry in nil map" in done.stderr
    assert re.search(r"main\.crash\(.*\)\n\s+\S*main\.go:5", done.stderr), done.stderr
    assert re.search(r"main\.main\(\)\n\s+\S*main\.go:10", done.stderr), done.stderr
