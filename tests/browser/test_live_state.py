"""When pages are told to reload (issue 14): only after the old generation stopped accepting; config pushes opt-in."""

from __future__ import annotations

import io
import subprocess
import sys
import threading

from harness import wait_for

from hotgo.browser.livereload import LiveReload
from hotgo.browser.page_script import inject, script_tag
from hotgo.handoff.listening import holds_listener, wait_stopped_accepting
from hotgo.log import Log

# A stand-in for a draining generation: listens, closes its listener when told, and stays alive.
LISTENER = """
import socket, sys
sock = socket.socket()
sock.bind(("127.0.0.1", 0))
sock.listen()
print(sock.getsockname()[1], flush=True)
sys.stdin.readline()
sock.close()
print("closed", flush=True)
sys.stdin.readline()
"""


def test_pages_reload_only_once_the_old_process_closed_its_listener() -> None:
    old = subprocess.Popen([sys.executable, "-c", LISTENER], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert old.stdout is not None and old.stdin is not None
        port = int(old.stdout.readline())
        assert holds_listener(old.pid, port) is True
        assert wait_stopped_accepting(old.pid, port, timeout=0.3) is False

        live = LiveReload(port, drain_timeout=30, reload_on_config=False, log=Log(io.StringIO()))
        live.ready(2, old_pid=old.pid)
        _, state = live.wait_change(-1, 0)
        assert state.generation == 0  # generation 2 is ready, but the old one still accepts
        old.stdin.write("close\n")
        old.stdin.flush()
        assert old.stdout.readline() == "closed\n"
        wait_for(lambda: live.snapshot().generation == 2, 30, "generation 2 to be announced")
        assert old.poll() is None, "announced while the old process still runs (it only closed its listener)"
    finally:
        old.kill()
        old.wait()


def test_a_config_push_reloads_pages_only_when_asked() -> None:
    quiet = LiveReload(1, 10, reload_on_config=False, log=Log(io.StringIO()))
    quiet.config_pushed(1)
    assert quiet.snapshot().config == 0
    eager = LiveReload(1, 10, reload_on_config=True, log=Log(io.StringIO()))
    version, _ = eager.wait_change(-1, 0)
    waiter = threading.Thread(target=lambda: eager.wait_change(version, 30))
    waiter.start()
    eager.config_pushed(1)
    waiter.join(30)
    assert not waiter.is_alive() and eager.snapshot().config == 1


def test_a_failed_build_is_shown_until_the_next_good_one() -> None:
    live = LiveReload(1, 10, reload_on_config=False, log=Log(io.StringIO()))
    live.build_failed(3, ["cmd/api/main.go:30:17: undefined: v3broken"])
    assert live.snapshot().failed == {"generation": 3, "errors": ["cmd/api/main.go:30:17: undefined: v3broken"]}
    live.build_ok()
    assert live.snapshot().failed is None


def test_a_process_that_is_gone_holds_no_listener() -> None:
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    assert holds_listener(int(gone.stdout), 8080) is False


def test_the_script_goes_before_the_last_closing_body_tag_only() -> None:
    page = b'<html><BODY><script>document.write("</body>")</script><p>x</p></BODY ></html>'
    assert inject(page, b"<s/>") == b'<html><BODY><script>document.write("</body>")</script><p>x</p><s/></BODY ></html>'
    assert inject(b"<li>a fragment</li>", b"<s/>") is None
    live = LiveReload(1, 10, reload_on_config=False, log=Log(io.StringIO()))
    tag = script_tag(live.snapshot())
    assert tag.startswith(b'<script src="/__hotgo/live.js" ') and b'data-generation="0"' in tag
