"""Which protocol a port speaks, as the drain report asks it: real Go servers (net/http's own h2c,
Go 1.24+) that speak HTTP/1 only, HTTP/2 without TLS only (as gRPC does), or both on one port (as
Caddy does by default: its HTTP/1 clients must be drained by the HTTP/1 rule)."""

from __future__ import annotations

import socket
import subprocess
from pathlib import Path
from typing import Iterator, List

import pytest
from harness import free_port, kill_tree, wait_for

from hotgo.handoff import protocol_probe

SERVER = """package main

import (
\t"flag"
\t"fmt"
\t"net/http"
)

func main() {
\taddr := flag.String("addr", "", "")
\th1 := flag.Bool("h1", false, "")
\th2c := flag.Bool("h2c", false, "")
\tflag.Parse()
\tprotocols := new(http.Protocols)
\tprotocols.SetHTTP1(*h1)
\tprotocols.SetUnencryptedHTTP2(*h2c)
\tserver := &http.Server{Addr: *addr, Protocols: protocols, Handler: http.HandlerFunc(
\t\tfunc(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, r.Proto) })}
\tpanic(server.ListenAndServe())
}
"""


@pytest.fixture(scope="module")
def server_binary(tmp_path_factory: pytest.TempPathFactory, go_toolchain: str) -> Path:
    source = tmp_path_factory.mktemp("protocols")
    (source / "go.mod").write_text("module example.com/protocols\n\ngo 1.24\n")
    (source / "main.go").write_text(SERVER)
    built = subprocess.run([go_toolchain, "build", "-o", "server", "."], cwd=source, capture_output=True,
                           text=True, timeout=300)
    assert built.returncode == 0, built.stderr
    return source / "server"


@pytest.fixture
def serve(server_binary: Path) -> Iterator[List[subprocess.Popen[bytes]]]:
    started: List[subprocess.Popen[bytes]] = []
    yield started
    for proc in started:
        kill_tree(proc.pid)
        proc.wait(10)


@pytest.mark.parametrize(("flags", "expected"), [
    (["-h1"], protocol_probe.HTTP1),
    (["-h2c"], protocol_probe.HTTP2),
    (["-h1", "-h2c"], protocol_probe.BOTH),
])
def test_the_probe_tells_http1_h2c_and_a_port_that_speaks_both(
        server_binary: Path, serve: List[subprocess.Popen[bytes]], flags: List[str], expected: str) -> None:
    port = free_port()
    serve.append(subprocess.Popen([str(server_binary), "-addr", f"127.0.0.1:{port}", *flags]))
    wait_for(lambda: listening(port), 30, "the server listening")
    assert protocol_probe.protocol(port) == expected


def listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False
