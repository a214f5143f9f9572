"""A stop request before hotgo's loop runs is never lost, wherever Python runs the handler
(hotgo/stop_signals.py). Each case runs in a Python of its own: signal handlers are per process."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# A weakref callback that sends hotgo's process a stop signal; each case goes on with its body.
CALLBACK_THAT_SIGNALS = r'''
import signal, weakref
from hotgo import stop_signals
stop_signals.install()

class Thing:
    pass

def callback(_ref):
    signal.raise_signal(signal.SIGINT)'''

# The handler raises inside a weakref callback, where Python drops exceptions (the import system
# has such callbacks): the request must still end the step, and nothing be printed about the drop.
DROPPED_IN_A_CALLBACK = CALLBACK_THAT_SIGNALS + r'''
    for _ in range(100):  # the handler runs between two of these bytecodes: inside the callback
        pass

try:
    with stop_signals.interruptible():
        thing = Thing()
        ref = weakref.ref(thing, callback)
        del thing
        print("the step went on", flush=True)
    print("not stopped")
except stop_signals.Stopped as stop:
    print("stopped by", stop.name)
'''

# The same drop outside any step that may be cut short: the loop, once it runs, gets the request.
DROPPED_BEFORE_THE_LOOP = CALLBACK_THAT_SIGNALS + r'''
    with stop_signals.interruptible():  # the handler raises in here, and the callback drops it
        for _ in range(100):
            pass

thing = Thing()
ref = weakref.ref(thing, callback)
del thing
posted = []
stop_signals.deliver_to(posted.append)
print("posted", posted)
'''


def run(script: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=60)


def test_a_stop_python_drops_in_a_callback_still_ends_the_step_it_came_in() -> None:
    done = run(DROPPED_IN_A_CALLBACK)
    assert done.stdout.splitlines() == ["the step went on", "stopped by SIGINT"], done
    assert done.stderr == "", done.stderr  # no "Exception ignored in ...", no traceback


def test_a_stop_python_drops_before_the_loop_is_posted_to_the_loop() -> None:
    done = run(DROPPED_BEFORE_THE_LOOP)
    assert done.stdout.splitlines() == ["posted ['SIGINT']"], done
    assert done.stderr == "", done.stderr
