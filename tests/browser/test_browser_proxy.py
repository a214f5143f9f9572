"""The browser proxy passes requests through unchanged (issue 14): real hotgo, a real Go service, real clients."""

from __future__ import annotations

import base64
import gzip
import http.client
import json
import os
import shutil
import socket
import sys
from pathlib import Path
from typing import Any, Dict, Iterable, Iterator, Mapping, Optional, Tuple, Union

import pytest
import websocket
from harness import REPO, Hotgo, free_port, kill_processes_under

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="the test service takes fd 3 (POSIX inheritance)")


@pytest.fixture(scope="module")
def ports(tmp_path_factory: pytest.TempPathFactory, go_toolchain: str) -> Iterator[Tuple[int, int]]:
    """(shared port, browser port) of one hotgo running tests/proxyapp for the whole module."""
    project = tmp_path_factory.mktemp("proxy") / "proxyapp"
    shutil.copytree(REPO / "tests" / "proxyapp", project)
    shared, browser = free_port(), free_port()
    try:
        with Hotgo(["run", "--listen", f"127.0.0.1:{shared}", "--browser", f"127.0.0.1:{browser}"], project) as hotgo:
            hotgo.wait_serving()
            yield shared, browser
    finally:
        kill_processes_under(project)


def request(port: int, method: str, path: str, body: Union[bytes, Iterable[bytes], None] = None,
            headers: Optional[Mapping[str, str]] = None,
            chunked: bool = False) -> Tuple[http.client.HTTPResponse, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request(method, path, body=body, headers=dict(headers or {}), encode_chunked=chunked)
        response = conn.getresponse()
        return response, response.read()
    finally:
        conn.close()


def test_a_post_body_arrives_unchanged_and_the_answer_comes_back(ports: Tuple[int, int]) -> None:
    _, browser = ports
    payload = os.urandom(300_000)  # binary, several reads long
    response, body = request(browser, "POST", "/echo?x=1", payload, {"Content-Type": "application/octet-stream"})
    assert response.status == 201
    echoed = json.loads(body)
    assert base64.b64decode(echoed["body"]) == payload
    assert (echoed["method"], echoed["query"], echoed["contentType"]) == ("POST", "x=1", "application/octet-stream")


def test_a_chunked_request_body_and_any_method_pass(ports: Tuple[int, int]) -> None:
    _, browser = ports
    pieces = [b"first piece,", b"second piece"]
    response, body = request(browser, "PATCH", "/echo", iter(pieces), chunked=True)
    echoed = json.loads(body)
    assert response.status == 201
    assert (echoed["method"], base64.b64decode(echoed["body"])) == ("PATCH", b"".join(pieces))


def test_the_host_is_kept_and_forwarded_headers_are_set(ports: Tuple[int, int]) -> None:
    _, browser = ports
    _, body = request(browser, "GET", "/echo", headers={"Host": "app.example.test:3000"})
    echoed = json.loads(body)
    assert echoed["host"] == "app.example.test:3000"
    assert echoed["forwardedHost"] == "app.example.test:3000"
    assert echoed["forwardedFor"] == "127.0.0.1"
    assert echoed["forwardedProto"] == "http"


def test_a_redirect_is_handed_to_the_client_not_followed(ports: Tuple[int, int]) -> None:
    _, browser = ports
    response, _ = request(browser, "GET", "/redirect")
    assert response.status == 303
    assert response.getheader("Location") == "/echo?from=redirect"


def test_an_event_stream_arrives_event_by_event(ports: Tuple[int, int]) -> None:
    shared, browser = ports
    conn = http.client.HTTPConnection("127.0.0.1", browser, timeout=30)
    try:
        conn.request("GET", "/events", headers={"Accept": "text/event-stream"})
        response = conn.getresponse()
        assert response.getheader("Content-Type") == "text/event-stream"
        # The service holds the second event until told: a buffering proxy would never show the first.
        assert response.readline() == b"data: first\n"
        assert response.readline() == b"\n"
        released, _ = request(shared, "POST", "/release")
        assert released.status == 200
        assert response.read() == b"data: second\n\n"
    finally:
        conn.close()


def test_a_websocket_echoes_through_the_proxy(ports: Tuple[int, int]) -> None:
    _, browser = ports
    ws = websocket.create_connection(f"ws://127.0.0.1:{browser}/ws", timeout=30)
    try:
        ws.send("hello through hotgo")
        assert ws.recv() == "hello through hotgo"
        blob = os.urandom(70_000)  # a 64-bit length frame
        ws.send_binary(blob)
        assert ws.recv() == blob
    finally:
        ws.close()


def test_pages_get_the_script_once_decompressed_and_other_answers_none(ports: Tuple[int, int]) -> None:
    shared, browser = ports
    response, body = request(browser, "GET", "/gzpage", headers={"Accept": "text/html", "Accept-Encoding": "gzip"})
    assert response.getheader("Content-Encoding") is None
    assert int(response.getheader("Content-Length") or -1) == len(body)
    assert body.count(b'<script src="/__hotgo/live.js"') == 1
    assert body.endswith(b"</script></body></html>")
    _, fragment = request(browser, "GET", "/fragment", headers={"Accept": "text/html"})
    assert fragment == b"<li>an htmx fragment</li>"
    # The shared port stays direct: the same page there is the service's own bytes.
    direct, raw = request(shared, "GET", "/gzpage", headers={"Accept": "text/html"})
    assert direct.getheader("Content-Encoding") == "gzip"
    assert b"hotgo" not in gzip.decompress(raw)


def first_event(port: int) -> Dict[str, Any]:
    """The state /__hotgo/events sends first, read from a raw socket."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(b"GET /__hotgo/events HTTP/1.1\r\nHost: x\r\n\r\n")
        received = b""
        while b"\n\n" not in received.split(b"\r\n\r\n", 1)[-1]:
            received += sock.recv(4096)
    head, events = received.split(b"\r\n\r\n", 1)
    assert b"Content-Type: text/event-stream" in head
    return json.loads(events.split(b"data: ", 1)[1].split(b"\n", 1)[0])  # type: ignore[no-any-return]


def test_the_live_endpoint_streams_the_serving_generation(ports: Tuple[int, int]) -> None:
    _, browser = ports
    state = first_event(browser)
    assert state["generation"] == 1 and state["failed"] is None


def test_before_any_generation_serves_pages_wait_with_the_errors_then_get_the_service(api_project: Path) -> None:
    main = api_project / "cmd" / "api" / "main.go"
    good = main.read_text()
    main.write_text(good.replace('const version = "v1"', "const version = notyet"))
    shared, browser = free_port(), free_port()
    args = ["run", "./cmd/api", "--listen", f"127.0.0.1:{shared}", "--browser", f"127.0.0.1:{browser}"]
    with Hotgo(args, api_project) as hotgo:
        hotgo.wait_event("build_failed", 120)
        response, page = request(browser, "GET", "/page", headers={"Accept": "text/html"})
        assert response.status == 503  # at once: not queued on hotgo's listener until something serves
        assert b'<script src="/__hotgo/live.js"' in page and b'data-generation="0"' in page
        state = first_event(browser)
        assert state["generation"] == 0
        assert any("main.go:" in line and "undefined: notyet" in line for line in state["failed"]["errors"])

        main.write_text(good)
        hotgo.wait_serving()
        state = first_event(browser)
        assert state["generation"] == 2 and state["failed"] is None
        response, page = request(browser, "GET", "/page", headers={"Accept": "text/html"})
        assert response.status == 200 and b'<span id="version">v1</span>' in page


def test_an_http10_client_without_host_gets_its_answer(ports: Tuple[int, int]) -> None:
    _, browser = ports
    with socket.create_connection(("127.0.0.1", browser), timeout=30) as sock:
        sock.sendall(b"GET /echo HTTP/1.0\r\n\r\n")
        received = b""
        while chunk := sock.recv(65536):  # HTTP/1.0: the answer ends when the proxy closes
            received += chunk
    head, body = received.split(b"\r\n\r\n", 1)
    assert head.startswith(b"HTTP/1.1 201") or head.startswith(b"HTTP/1.0 201"), head
    assert json.loads(body)["host"] == f"127.0.0.1:{ports[0]}"
