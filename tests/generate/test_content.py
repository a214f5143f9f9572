"""What a step wrote, by content: real files, rewritten, created, deleted; and the watcher's echo of it."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import List

from gen_fixtures import age, write
from harness import make_tree

from hotgo.generate.content import ContentIndex, file_digest
from hotgo.generate.echo import Echoes


def test_a_rewrite_with_the_same_bytes_is_no_change(tmp_path: Path) -> None:
    page = write(tmp_path / "web" / "page_gen.go", "package web\n")
    age(page)
    index = ContentIndex.for_root(tmp_path)
    before = index.snapshot()
    write(page, "package web\n")
    diff = index.diff(before)
    assert diff.changed == ()
    assert diff.rewritten == (page,)
    assert index.changes_since(before) == ()


def test_new_deleted_and_changed_files_are_changes(tmp_path: Path) -> None:
    kept, changed, deleted = (write(tmp_path / name, f"{name}\n") for name in ("kept.go", "changed.go", "deleted.go"))
    for path in (kept, changed, deleted):
        age(path)
    index = ContentIndex.for_root(tmp_path)
    before = index.snapshot()
    write(changed, "changed again\n")
    deleted.unlink()
    created = write(tmp_path / "sub" / "created.go", "new\n")
    assert index.changes_since(before) == tuple(sorted((changed, deleted, created)))
    assert index.digest(created) == file_digest(str(created))
    assert index.digest(deleted) is None


def test_a_same_size_rewrite_within_one_mtime_tick_is_seen(tmp_path: Path) -> None:
    """The second write keeps size and mtime (set back to the first one's): only the hash tells."""
    out = write(tmp_path / "out_gen.go", "const A = 1\n")
    index = ContentIndex.for_root(tmp_path)
    before = index.snapshot()  # out is fresh: 'racy', so the next scan hashes it again
    stat = out.stat()
    write(out, "const A = 2\n")
    os.utime(out, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert out.stat().st_size == stat.st_size
    assert index.changes_since(before) == (out,)


def test_skipped_directories_and_temp_files_are_not_scanned(tmp_path: Path) -> None:
    for name in (".git/objects/x", ".hotgo/bin/api", "node_modules/a/b.js", "vendor/m/a.go", "web/.page.go.swp"):
        write(tmp_path / name, "x")
    shown = write(tmp_path / "web" / "page.go", "package web\n")
    index = ContentIndex.for_root(tmp_path)
    index.snapshot()
    assert len(index) == 1 and index.digest(shown) is not None


def test_a_second_scan_hashes_only_what_changed_on_2000_files(tmp_path: Path) -> None:
    """The cost the report quotes: the first scan hashes all, a later one stats all and hashes one."""
    make_tree(tmp_path, 200, 10, fanout=20)  # 190 directories of 10 files (empty, as make_tree writes them)
    files: List[Path] = sorted(tmp_path.rglob("*.txt"))
    for number, path in enumerate(files):
        path.write_text(f"// file {number}\n" * 40)  # ~600 bytes, about a generated Go file's smallest
        age(path)
    while len(files) < 2000:
        files.append(write(tmp_path / "more" / f"f{len(files)}.txt", "x" * 600))
        age(files[-1])
    index = ContentIndex.for_root(tmp_path)
    started = time.perf_counter()
    before = index.snapshot()
    first = time.perf_counter() - started
    assert index.hashed == len(index) == 2000
    write(files[7], "changed\n")
    started = time.perf_counter()
    assert index.changes_since(before) == (files[7],)
    second = time.perf_counter() - started
    assert index.hashed == 1
    print(f"\nContentIndex on 2,000 files: first scan {first * 1000:.1f} ms (all hashed), "
          f"next {second * 1000:.1f} ms (1 hashed)")
    assert second < 1.0  # a stat per file: tens of ms; generous for a loaded CI machine


# -- echoes ----------------------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_the_watcher_s_report_of_a_step_s_writes_is_dropped(tmp_path: Path) -> None:
    out = write(tmp_path / "a_gen.go", "package a\n")
    same = write(tmp_path / "b_gen.go", "package b\n")
    gone = tmp_path / "c_gen.go"
    other = write(tmp_path / "main.go", "package main\n")
    echoes = Echoes(clock=Clock())
    echoes.expect({out: file_digest(str(out)), same: file_digest(str(same)), gone: None})
    kept, dropped = echoes.filter([other, out, same, gone])
    assert (kept, dropped) == ((other,), (out, same, gone))
    # A write seen in two bursts is dropped twice: a record is not spent by the first report.
    assert echoes.filter([out]) == ((), (out,))


def test_a_file_changed_since_the_step_is_kept(tmp_path: Path) -> None:
    out = write(tmp_path / "a_gen.go", "package a\n")
    echoes = Echoes(clock=Clock())
    echoes.expect({out: file_digest(str(out))})
    write(out, "package a // edited by hand\n")
    assert echoes.filter([out]) == ((out,), ())
    write(out, "package a\n")  # back to what the step wrote: the record is gone, this is a change too
    assert echoes.filter([out]) == ((out,), ())


def test_records_expire(tmp_path: Path) -> None:
    out = write(tmp_path / "a_gen.go", "package a\n")
    clock = Clock()
    echoes = Echoes(ttl=5.0, clock=clock)
    echoes.expect({out: file_digest(str(out))})
    clock.now += 4.9
    assert echoes.filter([out]) == ((), (out,))
    clock.now += 0.2
    assert echoes.filter([out]) == ((out,), ())
    assert len(echoes) == 0
