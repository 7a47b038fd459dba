"""The operator's kept-alive HTTP/1.1 transport: framing, reuse, and when a request is sent again.

A real TCP server on localhost answers with scripted bytes (the framing cases the API server's Go
net/http produces: Content-Length, chunked, Connection: close), so each case is exact; the
transport against the real API server is covered by every operator test on a cluster.
"""

from __future__ import annotations

import socket
import socketserver
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest
from kubernetes import client

from operator_under_test.replicator.kube import SECRETS, Kube, KubeError, _lines
from operator_under_test.replicator.transport import ConnectionLost, Transport

#: What a scripted server does with the n-th request (0-based, over all connections) it reads.
Script = Callable[[int, socket.socket], bool]  # returns False to close the connection


def ok(body: bytes, *extra: str) -> bytes:
    head = "".join(f"{h}\r\n" for h in extra)
    return f"HTTP/1.1 200 OK\r\nContent-Length: {len(body)}\r\n{head}\r\n".encode() + body


def chunked(*parts: bytes) -> bytes:
    chunks = b"".join(f"{len(p):x}\r\n".encode() + p + b"\r\n" for p in parts)
    return b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + chunks + b"0\r\n\r\n"


class Server:
    """Counts connections and requests; hands each request to the script."""

    def __init__(self, script: Script) -> None:
        self.script = script
        self.connections = 0
        self.requests: list[bytes] = []
        self.lock = threading.Lock()
        outer = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                with outer.lock:
                    outer.connections += 1
                buf = b""
                while True:
                    while b"\r\n\r\n" not in buf:
                        data = self.request.recv(65536)
                        if not data:
                            return
                        buf += data
                    head, buf = buf.split(b"\r\n\r\n", 1)
                    length = 0
                    for line in head.split(b"\r\n")[1:]:
                        key, _, value = line.partition(b":")
                        if key.lower() == b"content-length":
                            length = int(value)
                    while len(buf) < length:
                        buf += self.request.recv(65536)
                    with outer.lock:
                        index = len(outer.requests)
                        outer.requests.append(head + b"\r\n\r\n" + buf[:length])
                    buf = buf[length:]
                    if not outer.script(index, self.request):
                        return

        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    @property
    def address(self) -> tuple[str, int]:
        return self.server.server_address[:2]  # type: ignore[return-value]

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@contextmanager
def serving(script: Script, timeout: float = 5.0) -> Iterator[tuple[Server, Transport]]:
    server = Server(script)

    def connect() -> socket.socket:
        sock = socket.create_connection(server.address, timeout=timeout)
        return sock

    transport = Transport(connect, "{}:{}".format(*server.address))
    try:
        yield server, transport
    finally:
        transport.close()
        server.stop()


HEADERS = "Accept: application/json\r\nUser-Agent: test\r\n"


def test_requests_reuse_one_kept_alive_connection_and_both_framings_parse() -> None:
    responses = [ok(b'{"a":1}'), chunked(b'{"b"', b":2}"), ok(b"")]

    def script(i: int, conn: socket.socket) -> bool:
        conn.sendall(responses[i])
        return True

    with serving(script) as (server, transport):
        assert transport.request("GET", "/x", HEADERS, None) == (200, b'{"a":1}')
        assert transport.request("PATCH", "/y?z=1", HEADERS, b"[1]") == (200, b'{"b":2}')
        assert transport.request("DELETE", "/y", HEADERS, None) == (200, b"")
    assert server.connections == 1
    assert server.requests[1].startswith(b"PATCH /y?z=1 HTTP/1.1\r\nHost: 127.0.0.1:")
    assert b"\r\nContent-Length: 3\r\n\r\n[1]" in server.requests[1]
    assert b"Content-Length" not in server.requests[0]


def test_an_error_status_is_returned_with_its_body() -> None:
    def script(i: int, conn: socket.socket) -> bool:
        body = b'{"kind":"Status","reason":"Conflict"}'
        conn.sendall(f"HTTP/1.1 409 Conflict\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body)
        return True

    with serving(script) as (_, transport):
        status, body = transport.request("POST", "/x", HEADERS, b"{}")
    assert (status, body) == (409, b'{"kind":"Status","reason":"Conflict"}')


def test_connection_close_is_honoured() -> None:
    def script(i: int, conn: socket.socket) -> bool:
        conn.sendall(ok(b"{}", "Connection: close"))
        return False

    with serving(script) as (server, transport):
        for _ in range(3):
            assert transport.request("GET", "/x", HEADERS, None) == (200, b"{}")
    assert server.connections == 3


def test_an_idle_connection_the_server_closed_is_replaced_and_the_request_sent_once_more() -> None:
    # the server answers the first request, then closes that connection while it sits idle
    def script(i: int, conn: socket.socket) -> bool:
        conn.sendall(ok(b"{}"))
        return i != 0

    with serving(script) as (server, transport):
        assert transport.request("GET", "/first", HEADERS, None) == (200, b"{}")
        assert transport.request("PATCH", "/second", HEADERS, b"[]") == (200, b"{}")
    assert server.connections == 2
    assert [r.split(b" ")[1] for r in server.requests] == [b"/first", b"/second"]


def test_a_request_on_a_new_connection_is_never_sent_twice() -> None:
    # the server reads the request and closes without a byte of response
    with (
        serving(lambda i, conn: False) as (server, transport),
        pytest.raises(ConnectionLost, match="closed"),
    ):
        transport.request("POST", "/x", HEADERS, b"{}")
    assert len(server.requests) == 1


def test_a_half_answered_request_is_not_sent_again() -> None:
    def script(i: int, conn: socket.socket) -> bool:
        if i == 0:
            conn.sendall(ok(b"{}"))
            return True
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n{")
        return False

    with serving(script) as (server, transport):
        transport.request("GET", "/warm", HEADERS, None)
        with pytest.raises(ConnectionLost):
            transport.request("PATCH", "/x", HEADERS, b"[]")
    assert len(server.requests) == 2


def test_a_timed_out_request_is_not_sent_again() -> None:
    answered = threading.Event()

    def script(i: int, conn: socket.socket) -> bool:
        if i == 0:
            conn.sendall(ok(b"{}"))
            return True
        answered.wait(10)  # holds the second request until the client gave up on it
        return False

    with serving(script, timeout=0.3) as (server, transport):
        transport.request("GET", "/warm", HEADERS, None)
        with pytest.raises(ConnectionLost, match="timed out"):
            transport.request("PATCH", "/x", HEADERS, b"[]")
        answered.set()
    assert len(server.requests) == 2


def test_a_garbled_response_is_a_lost_connection() -> None:
    def script(i: int, conn: socket.socket) -> bool:
        conn.sendall(b"NOT HTTP AT ALL\r\n\r\n")
        return True

    with serving(script) as (_, transport), pytest.raises(ConnectionLost, match="HttpParserError"):
        transport.request("GET", "/x", HEADERS, None)


def test_a_refused_connection_is_a_lost_connection() -> None:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # nothing listens there now
    transport = Transport(lambda: socket.create_connection(("127.0.0.1", port), timeout=2), f"x:{port}")
    with pytest.raises(ConnectionLost, match="connect"):
        transport.request("GET", "/x", HEADERS, None)


def test_an_api_server_that_is_down_is_a_connection_error_of_the_client() -> None:
    """A refused connection must surface as KubeError(0) like every other connection failure: the
    leader elector's thread died on urllib3's own exception type while the API server restarted."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    cfg = client.Configuration()
    cfg.host = f"https://127.0.0.1:{port}"
    kube = Kube(cfg)
    try:
        with pytest.raises(KubeError) as caught:
            kube.request("GET", "/api/v1/namespaces", verb="list", resource="namespaces")
        assert caught.value.status == 0
        assert caught.value.category == "connection"
    finally:
        kube.close()


def test_a_stream_yields_its_chunks_as_they_arrive_and_closes_its_connection() -> None:
    step = threading.Event()

    def script(i: int, conn: socket.socket) -> bool:
        conn.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + b'7\r\n{"a":1}\r\n')
        step.wait(10)  # the second event only after the client has read the first
        conn.sendall(b'8\r\n\n{"b":2}\r\n0\r\n\r\n')
        return True

    with serving(script) as (server, transport):
        status, body = transport.stream("GET", "/w?watch=true", HEADERS, 5.0)
        assert status == 200
        assert not isinstance(body, bytes)
        assert next(body) == b'{"a":1}'
        step.set()
        assert list(body) == [b'\n{"b":2}']
        assert not transport._idle  # a stream's connection is never reused
    assert server.connections == 1


def test_a_stream_answered_with_an_error_returns_the_whole_body() -> None:
    def script(i: int, conn: socket.socket) -> bool:
        body = b'{"kind":"Status","code":410}'
        conn.sendall(f"HTTP/1.1 410 Gone\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body)
        return True

    with serving(script) as (_, transport):
        assert transport.stream("GET", "/w", HEADERS, 5.0) == (410, b'{"kind":"Status","code":410}')


def test_a_stream_cut_off_midway_is_a_lost_connection() -> None:
    def script(i: int, conn: socket.socket) -> bool:
        conn.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + b'7\r\n{"a":1}\r\n')
        return False

    with serving(script) as (_, transport):
        _, body = transport.stream("GET", "/w", HEADERS, 5.0)
        assert not isinstance(body, bytes)
        assert next(body) == b'{"a":1}'
        with pytest.raises(ConnectionLost, match="closed the connection"):
            next(body)


def test_watch_lines_may_be_split_anywhere() -> None:
    pieces = [b'{"type":"ADDED","n":', b'1}\n{"type":"MODIFIED"', b',"n":2}\n\n{"type":"DELETED","n":3}']
    events = list(_lines(iter(pieces), SECRETS))
    assert [(e["type"], e["n"]) for e in events] == [("ADDED", 1), ("MODIFIED", 2), ("DELETED", 3)]


def test_a_watch_cut_off_is_a_kube_connection_error() -> None:
    def pieces() -> Iterator[bytes]:
        yield b'{"type":"ADDED"}\n'
        raise ConnectionLost("the server closed the stream")

    events = _lines(pieces(), SECRETS)
    assert next(events) == {"type": "ADDED"}
    with pytest.raises(KubeError) as caught:
        next(events)
    assert caught.value.category == "connection"
