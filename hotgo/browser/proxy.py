"""The browser proxy: every request passes through to the service's shared port; HTML pages get the live script.

One upstream connection per request (`Connection: close`): a pooled connection
to a generation that is draining would fail the next request with it. Pages
opened directly on the shared port are untouched; only this port pays.
"""

from __future__ import annotations

import gzip
import html
import http.client
import json
import socket
import threading
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Iterator, List, Optional, Tuple

from hotgo import platform
from hotgo.browser.livereload import LiveReload
from hotgo.browser.page_script import EVENTS_PATH, PREFIX, SCRIPT, SCRIPT_PATH, inject, script_tag

_HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade"}
_CHUNK = 64 * 1024
_KEEPALIVE_SECONDS = 15.0


class BrowserProxy(ThreadingHTTPServer):
    daemon_threads = True  # open event streams must not keep hotgo from exiting
    allow_reuse_address = not platform.CAPABILITIES.reuseaddr_shares_port  # else two servers could share the port

    def __init__(self, listen: Tuple[str, int], family: socket.AddressFamily, upstream: Tuple[str, int],
                 live: LiveReload) -> None:
        self.address_family = family
        self.upstream = upstream
        self.live = live
        super().__init__(listen, _Handler)

    def start(self) -> None:
        threading.Thread(target=self.serve_forever, name="hotgo-browser-proxy", daemon=True).start()

    def stop(self) -> None:
        self.live.close()
        self.shutdown()
        self.server_close()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # A response goes out in several writes (head, body): with Nagle's algorithm the second waits
    # for the ACK of the first, which a keep-alive client delays ~40 ms. Measured with wrk on one
    # keep-alive connection: 22 requests/s at 46 ms each, the signature of that wait.
    disable_nagle_algorithm = True
    server: BrowserProxy

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the service logs its requests; hotgo's log is about generations

    def __getattr__(self, name: str) -> Callable[[], None]:
        # Every method passes through (do_GET, do_PROPFIND, ...), not only those a proxy knows.
        if name.startswith("do_"):
            return self._handle
        raise AttributeError(name)

    def _handle(self) -> None:
        if self.path.startswith(PREFIX):
            self._own()
        elif "upgrade" in self.headers.get("Connection", "").lower() and self.headers.get("Upgrade"):
            self._tunnel()
        else:
            self._pass_through()

    # -- hotgo's own endpoints ---------------------------------------------------------
    def _own(self) -> None:
        path = self.path.split("?", 1)[0]
        if path == SCRIPT_PATH:
            self._send_whole(200, "application/javascript; charset=utf-8", SCRIPT.encode())
        elif path == EVENTS_PATH:
            self._events()
        else:
            self._send_whole(404, "text/plain; charset=utf-8", b"not a hotgo endpoint\n")

    def _send_whole(self, status: int, content_type: str, body: bytes) -> None:
        self.send_response_only(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _events(self) -> None:
        """Server-Sent Events: the whole state now and on every change, a comment meanwhile."""
        self.close_connection = True
        self.send_response_only(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-store")
        self.send_header("Connection", "close")
        self.end_headers()
        live = self.server.live
        seen = -1
        try:
            while not live.closed:
                version, state = live.wait_change(seen, _KEEPALIVE_SECONDS)
                if version == seen:
                    self.wfile.write(b": still here\n\n")  # finds closed pages, keeps idle links open
                    continue
                seen = version
                data = json.dumps(state.to_json())
                self.wfile.write(f"retry: 1000\nevent: state\ndata: {data}\n\n".encode())
        except OSError:
            pass  # the page went away

    # -- passing requests through ------------------------------------------------------
    def _forwarded_headers(self) -> List[Tuple[str, str]]:
        client = self.client_address[0]
        previous = self.headers.get("X-Forwarded-For")
        host = self.headers.get("Host", "")
        return [
            ("X-Forwarded-For", f"{previous}, {client}" if previous else client),
            ("X-Forwarded-Host", self.headers.get("X-Forwarded-Host", host)),
            ("X-Forwarded-Proto", self.headers.get("X-Forwarded-Proto", "http")),
        ]

    def _request_headers(self, keep_upgrade: bool) -> List[Tuple[str, str]]:
        named = {n.strip().lower() for n in self.headers.get("Connection", "").split(",")}
        drop = set() if keep_upgrade else (_HOP_BY_HOP | named)
        drop |= {"x-forwarded-for", "x-forwarded-host", "x-forwarded-proto"}
        headers = [(k, v) for k, v in self.headers.items() if k.lower() not in drop]
        if "Host" not in self.headers:  # an HTTP/1.0 client: upstream speaks HTTP/1.1, which needs one
            headers.append(("Host", self._upstream_text()))
        if self._wants_page() and not keep_upgrade:
            # Pages are rewritten: ask for them uncompressed (gzip is still decoded if it comes).
            headers = [(k, v) for k, v in headers if k.lower() != "accept-encoding"]
            headers.append(("Accept-Encoding", "identity"))
        return headers + self._forwarded_headers()

    def _wants_page(self) -> bool:
        return self.command == "GET" and "text/html" in self.headers.get("Accept", "")

    def _request_body(self) -> Tuple[Optional[Iterator[bytes]], Optional[str]]:
        """The body as pieces, and the framing header to send upstream."""
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return self._read_chunked(), "chunked"
        length = int(self.headers.get("Content-Length") or 0)
        if length <= 0:
            return None, None
        return self._read_exactly(length), str(length)

    def _read_exactly(self, length: int) -> Iterator[bytes]:
        while length > 0:
            piece = self.rfile.read(min(length, _CHUNK))
            if not piece:
                raise ConnectionError("the client closed during its request body")
            length -= len(piece)
            yield piece

    def _read_chunked(self) -> Iterator[bytes]:
        while True:
            size = int(self.rfile.readline(1024).split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while self.rfile.readline(8192) not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                return
            yield from self._read_exactly(size)
            self.rfile.readline(8)  # the CRLF after each chunk

    def _pass_through(self) -> None:
        state = self.server.live.snapshot()  # before upstream sees the request: see the page's data-generation
        if state.generation == 0:
            self._not_yet(state)
            return
        body, framing = self._request_body()
        host, port = self.server.upstream
        upstream = http.client.HTTPConnection(host, port, timeout=None)
        try:
            try:
                upstream.putrequest(self.command, self.path, skip_host=True, skip_accept_encoding=True)
                for name, value in self._request_headers(keep_upgrade=False):
                    upstream.putheader(name, value)
                if framing == "chunked":
                    upstream.putheader("Transfer-Encoding", "chunked")
                elif framing is not None:
                    upstream.putheader("Content-Length", framing)
                upstream.putheader("Connection", "close")
                upstream.endheaders()
                for piece in body or ():
                    upstream.send(b"%x\r\n%s\r\n" % (len(piece), piece) if framing == "chunked" else piece)
                if framing == "chunked":
                    upstream.send(b"0\r\n\r\n")
                response = upstream.getresponse()
            except (OSError, http.client.HTTPException) as err:
                self._waiting_page(502, f"nothing answers on {self._upstream_text()} ({type(err).__name__})", state)
                return
            self._relay(response, state)
        finally:
            upstream.close()

    def _relay(self, response: http.client.HTTPResponse, state: Any) -> None:
        headers = [(k, v) for k, v in response.getheaders() if k.lower() not in _HOP_BY_HOP]
        content_type = response.getheader("Content-Type", "") or ""
        bodiless = self.command == "HEAD" or response.status in (204, 304) or 100 <= response.status < 200
        if content_type.lower().startswith("text/html") and not bodiless:
            page = self._page_with_script(response, headers, state)
            if page is not None:
                headers, body = page
                self._start_response(response, headers)
                self.wfile.write(body)
                return
        if bodiless or response.getheader("Content-Length") is not None:
            self._start_response(response, headers)
            if not bodiless:
                self._copy(response, chunked=False)
            return
        # No length: re-frame as chunks (HTTP/1.1) so streams (SSE) flow piece by piece.
        chunked = self.request_version == "HTTP/1.1"
        if chunked:
            headers.append(("Transfer-Encoding", "chunked"))
        else:
            self.close_connection = True
        self._start_response(response, headers)
        self._copy(response, chunked)

    def _page_with_script(self, response: http.client.HTTPResponse, headers: List[Tuple[str, str]],
                          state: Any) -> Optional[Tuple[List[Tuple[str, str]], bytes]]:
        """The page with the script added and its length fixed, or None to pass the body as it came."""
        encoding = (response.getheader("Content-Encoding") or "identity").strip().lower()
        if encoding not in ("identity", "gzip", "x-gzip", "deflate"):
            return None  # br, zstd: not decoded here; the page goes through without the script
        raw = response.read()
        try:
            plain = raw if encoding == "identity" else (
                gzip.decompress(raw) if "gzip" in encoding else zlib.decompress(raw))
        except (OSError, zlib.error, EOFError):
            plain = None
        page = inject(plain, script_tag(state)) if plain is not None else None
        if page is None:
            page, keep = raw, True
        else:
            keep = False
        framing = {"content-length"} | (set() if keep else {"content-encoding", "etag"})
        headers = [(k, v) for k, v in headers if k.lower() not in framing]
        headers.append(("Content-Length", str(len(page))))
        return headers, page

    def _start_response(self, response: http.client.HTTPResponse, headers: List[Tuple[str, str]]) -> None:
        self.send_response_only(response.status, response.reason)
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()

    def _copy(self, response: http.client.HTTPResponse, chunked: bool) -> None:
        try:
            while True:
                piece = response.read1(_CHUNK)
                if not piece:
                    break
                self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece) if chunked else piece)
            if chunked:
                self.wfile.write(b"0\r\n\r\n")
        except (OSError, http.client.HTTPException):
            self.close_connection = True  # one side went away mid-stream: end this connection too

    def _upstream_text(self) -> str:
        return "{}:{}".format(*self.server.upstream)

    def _not_yet(self, state: Any) -> None:
        # hotgo's own listener would queue the request until a generation serves, and a failed
        # first build never lets it: answer now with a page that shows the errors and reloads.
        self._read_and_drop_body()
        self._waiting_page(503, "no generation of the service is ready yet", state)

    def _read_and_drop_body(self) -> None:
        body, _ = self._request_body()
        for _piece in body or ():
            pass

    def _waiting_page(self, status: int, why: str, state: Any) -> None:
        """A page that carries the live script: it shows build errors and reloads once a generation serves."""
        text = (f"<!doctype html><html><head><title>hotgo: waiting for the service</title></head><body>"
                f"<p>hotgo: {html.escape(why)}; this page reloads when a generation is ready.</p>"
                f"</body></html>").encode()
        page = inject(text, script_tag(state)) or text
        self.close_connection = True
        self._send_whole(status, "text/html; charset=utf-8", page)

    # -- WebSocket and other upgrades: a byte tunnel -----------------------------------------
    def _tunnel(self) -> None:
        self.close_connection = True
        if self.server.live.snapshot().generation == 0:
            self._not_yet(self.server.live.snapshot())
            return
        try:
            upstream = socket.create_connection(self.server.upstream, timeout=10)
        except OSError as err:
            why = f"nothing answers on {self._upstream_text()} ({type(err).__name__})"
            self._waiting_page(502, why, self.server.live.snapshot())
            return
        upstream.settimeout(None)
        head = [f"{self.command} {self.path} {self.request_version}"]
        head += [f"{k}: {v}" for k, v in self._request_headers(keep_upgrade=True)]
        try:
            upstream.sendall(("\r\n".join(head) + "\r\n\r\n").encode("latin-1"))
            towards_service = threading.Thread(target=self._pump_from_client, args=(upstream,), daemon=True)
            towards_service.start()
            while True:
                data = upstream.recv(_CHUNK)
                if not data:
                    break
                self.connection.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (upstream, self.connection):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
            upstream.close()

    def _pump_from_client(self, upstream: socket.socket) -> None:
        try:
            while True:
                data = self.rfile.read1(_CHUNK)  # read1: bytes the parser already buffered come first
                if not data:
                    break
                upstream.sendall(data)
        except (OSError, ValueError):
            pass
        try:
            upstream.shutdown(socket.SHUT_WR)
        except OSError:
            pass
