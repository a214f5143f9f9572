"""SIGINT and SIGTERM (SIGBREAK on Windows) from hotgo's first moment: a stop request, never a traceback.

`install` runs first (hotgo/__main__.py), before the imports that take most of a start. Until the
loop runs there is nobody to post a stop to: the handler notes the request and raises `Stopped` in
the main thread, once, inside a step that said it may be cut short (`interruptible()`: the imports,
waiting for `go list`, walking the tree). A request that comes during any other step (each short)
waits for the next `interruptible()` (entered or left) or `check()`; `hotgo run` checks last just
before its loop starts. Whoever catches `Stopped` has only to unwind: the code that started a child
kills its tree and reaps it on the way out (hotgo/build/go_module.py). Once the loop runs
(`deliver_to`), the handler only posts and the loop decides (a second request kills at once).

Python runs a handler between any two bytecodes of the main thread, also inside a weakref callback
or a `__del__` (the import system has such callbacks), where an exception is not propagated but
dropped. A `Stopped` dropped there is not lost: the request stays pending, `sys.unraisablehook` keeps
the drop quiet, and the next checkpoint raises it again (or `deliver_to` posts it). Checkpoints are
never on the way out, so a `Stopped` that unwinds is never raised twice.

Signals are per process, so this is one module-level state, as the handlers are. Only built-in
modules are imported here (`_signal`, `_thread`: no import time): the handlers are in place a few
milliseconds after the interpreter runs hotgo's first line, not after `signal`, `threading` and
`typing` have loaded.
"""

from __future__ import annotations

import _signal  # type: ignore[import-not-found]  # the built-in behind `signal`, which takes ms to import
import _thread
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from types import FrameType, TracebackType
    from typing import Any, Callable, Optional

STOP_SIGNALS = ("SIGINT", "SIGTERM", "SIGBREAK")  # the ones this OS has are handled
_NAMES = {getattr(_signal, name): name for name in STOP_SIGNALS if hasattr(_signal, name)}


class Stopped(BaseException):
    """A stop request before hotgo's loop runs. A BaseException, as KeyboardInterrupt: an `except
    Exception` on the way does not swallow it."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name  # "SIGINT", "SIGTERM", "SIGBREAK"

    def exit_code(self, command: str) -> int:
        """`hotgo run` stopped as asked: 0, as when its loop drains and exits. Any other command cut
        short: what a shell reports for a command the signal ended (130 for SIGINT, 143 for SIGTERM)."""
        number = next((n for n, name in _NAMES.items() if name == self.name), 0)
        return 0 if command == "run" else 128 + int(number)


class _State:
    def __init__(self) -> None:
        self.main_thread = -1  # the thread that installed the handlers: the one that runs them
        self.requested: Optional[str] = None  # the first request's signal
        self.raised = False  # the handler raises once: a second request does not cut the unwinding short
        self.cut_short = 0  # interruptible() sections the main thread is in
        self.post: Optional[Callable[[str], None]] = None


_state = _State()


def install() -> None:
    """Handle the stop signals from now on (again: no change). Also unblocks them: a signal mask
    survives exec, and one blocked by whoever started hotgo would also be blocked in every service."""
    if _state.main_thread != -1:
        return
    for number in _NAMES:
        _signal.signal(number, _handle)
    _state.main_thread = _thread.get_ident()
    sys.unraisablehook = _quiet_about_dropped_stops(sys.unraisablehook)
    unblock = getattr(_signal, "pthread_sigmask", None)  # POSIX
    if unblock is not None:  # a request held until now is handled here
        unblock(getattr(_signal, "SIG_UNBLOCK", 1), set(_NAMES))


def _handle(signum: int, _frame: Optional[FrameType]) -> None:
    name = _NAMES.get(signum, str(signum))
    post = _state.post
    if post is not None:
        post(name)
        return
    if _state.requested is None:
        _state.requested = name
    if _state.cut_short and not _state.raised:
        _state.raised = True
        _raise_pending()


def _raise_pending() -> None:
    """At a checkpoint: raise `Stopped` if a request is pending (no loop to post it to yet)."""
    if _state.requested is not None and _state.post is None:
        raise Stopped(_state.requested)


def _quiet_about_dropped_stops(default: Callable[[Any], object]) -> Callable[[Any], object]:
    """The unraisable hook, but silent on a `Stopped` Python dropped: it is raised again later."""
    def hook(unraisable: Any) -> None:
        if not isinstance(unraisable.exc_value, Stopped):
            default(unraisable)
    return hook


class interruptible:  # lower case: used as `with stop_signals.interruptible():`
    """A step of the start that a stop request may cut short: `Stopped` is raised inside it, at once
    when the request came before. Only in the main thread (the one that gets signals); elsewhere
    nothing changes."""

    def __enter__(self) -> None:
        self._counted = _thread.get_ident() == _state.main_thread
        if self._counted:
            _state.cut_short += 1
            try:
                _raise_pending()
            except Stopped:
                _state.cut_short -= 1
                raise

    def __exit__(self, kind: Optional[type], error: Optional[BaseException],
                 trace: Optional[TracebackType]) -> None:
        if self._counted:
            _state.cut_short -= 1
            if error is None:  # the step ran to its end: a request Python dropped on the way ends it here
                _raise_pending()


def check() -> None:
    """Raise `Stopped` if a stop was requested meanwhile."""
    _raise_pending()


def requested() -> Optional[str]:
    """The signal of the first stop request, if one came."""
    return _state.requested


def deliver_to(post: Callable[[str], None]) -> None:
    """The loop runs: from now on a stop request is posted with `post(signal name)`."""
    _state.post = post
    if _state.requested is not None:  # one hotgo's start did not end on: it was dropped on the way
        post(_state.requested)
