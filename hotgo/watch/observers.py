"""The native watchdog observer, with a hook that reports inotify queue overflows.

When the kernel's inotify queue overflows (fs.inotify.max_queued_events), events
are lost and watchdog tells no handler: 7.x re-adds its recursive watches, 5.x
and 6.x (the releases left for Python < 3.11) skip the overflow record. hotgo
must know, to rescan, so this module reaches into watchdog's inotify internals,
one way per layout:
  - watchdog >= 7: one InotifyFD per observer; a subclass sees every event;
  - watchdog 5/6: one Inotify per emitter, whose event parser is a static method
    called by class name; it is wrapped once, and the wrapper reports to the
    observers created here.
Everything that depends on watchdog's private layout lives in this file.
"""

from __future__ import annotations

import importlib
import os
import threading
import weakref
from typing import Any, Callable, Iterator, Optional, Tuple, Union

from watchdog.observers import Observer

from hotgo import platform

OverflowHook = Callable[[], None]
_IN_Q_OVERFLOW = 0x00004000  # <sys/inotify.h>


def _has_shared_fd() -> bool:
    try:
        from watchdog.observers.inotify_c import InotifyFD  # noqa: F401  (watchdog >= 7)
    except ImportError:
        return False
    return True


# watchdog >= 7 re-adds its recursive watches after an overflow (new directories included);
# with 5/6 the caller must re-schedule them itself.
READDS_WATCHES_AFTER_OVERFLOW = platform.CAPABILITIES.inotify and _has_shared_fd()


def native_observer(on_overflow: OverflowHook) -> Any:
    """The platform's observer; on Linux one that calls on_overflow when the kernel dropped events."""
    if not platform.CAPABILITIES.inotify:
        return Observer()
    if READDS_WATCHES_AFTER_OVERFLOW:
        return _shared_fd_observer(on_overflow)
    return _per_emitter_observer(on_overflow)


def _shared_fd_observer(on_overflow: OverflowHook) -> Any:
    from watchdog.observers.api import DEFAULT_OBSERVER_TIMEOUT, BaseObserver
    from watchdog.observers.inotify import InotifyEmitter, InotifyObserver
    from watchdog.observers.inotify_c import InotifyEvent, InotifyFD

    class _InotifyFD(InotifyFD):
        def handle_event(self, event: InotifyEvent) -> None:
            super().handle_event(event)  # on overflow: watchdog re-adds its recursive watches
            if event.is_queue_overflow:
                on_overflow()

    class _InotifyObserver(InotifyObserver):
        def __init__(self) -> None:  # InotifyObserver.__init__ with the FD above
            self._inotify_fd = _InotifyFD()
            self._inotify_fd.start()
            BaseObserver.__init__(self, InotifyEmitter, timeout=DEFAULT_OBSERVER_TIMEOUT,
                                  inotify_fd=self._inotify_fd)

    return _InotifyObserver()


# watchdog 5/6: every Inotify of this process parses through one wrapped function,
# so the hooks of live observers are kept here (weakly: a stopped observer goes away).
_hooks: weakref.WeakKeyDictionary[Any, OverflowHook] = weakref.WeakKeyDictionary()
_hooks_lock = threading.Lock()


def _per_emitter_observer(on_overflow: OverflowHook) -> Any:
    from watchdog.observers.inotify import InotifyObserver

    inotify_c: Any = importlib.import_module("watchdog.observers.inotify_c")  # 5/6 layout, unknown to 7's types

    with _hooks_lock:
        if not getattr(inotify_c.Inotify._parse_event_buffer, "hotgo_hook", False):
            parse = inotify_c.Inotify._parse_event_buffer

            def parse_and_report(event_buffer: bytes) -> Iterator[Tuple[int, int, int, bytes]]:
                for record in parse(event_buffer):
                    wd, mask = record[0], record[1]
                    if wd == -1 and mask & _IN_Q_OVERFLOW:
                        _report_overflow()
                    yield record

            parse_and_report.hotgo_hook = True  # type: ignore[attr-defined]
            inotify_c.Inotify._parse_event_buffer = staticmethod(parse_and_report)
        observer = InotifyObserver()
        _hooks[observer] = on_overflow
    return observer


def _report_overflow() -> None:
    with _hooks_lock:
        hooks = list(_hooks.values())
    for hook in hooks:  # a queue that overflowed lost events for every observer's paths
        hook()


def inotify_watch_count(pid: Union[int, str] = "self") -> Optional[int]:
    """inotify watches held by a process (Linux: `inotify wd:` lines of /proc/PID/fdinfo), else None."""
    if not platform.CAPABILITIES.inotify:
        return None  # Wine shows Linux's /proc to Windows programs, but its watches are in wineserver
    fdinfo = f"/proc/{pid}/fdinfo"
    try:
        names = os.listdir(fdinfo)
    except OSError:
        return None
    count = 0
    for name in names:
        try:
            with open(f"{fdinfo}/{name}", encoding="ascii", errors="replace") as handle:
                count += sum(1 for line in handle if line.startswith("inotify wd:"))
        except OSError:
            continue
    return count
