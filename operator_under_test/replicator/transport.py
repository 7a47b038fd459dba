"""Kept-alive HTTP/1.1 connections for the operator's requests, and one connection per watch.

Why not urllib3 for these: profiling a 1000-copy fan-out (py-spy, GIL samples) put 57 % of the
operator's time in ``urlopen``: http.client parses every response's headers through
``email.parser``, builds several objects per request and polls the socket before reusing it. Sent
the same way against the same API server, one JSON-patch write cost 0.43 ms of CPU through
urllib3 and 0.15 ms here, where a request is one encoded header block plus body on a kept-alive
socket and the response is parsed by httptools (llhttp, Node.js's parser), and that difference is
most of what the operator spent above the minimal floor client per copy.

TLS (CA bundle, client certificate, hostname check, SNI) is not configured here: each socket comes
from urllib3's own connection class of the client's pool, so both paths share one TLS setup.
A watch (:meth:`Transport.stream`) gets a connection of its own, read as the body arrives and
closed when the stream ends (urllib3's chunk reader was a tenth of the informer's time).

A connection that the server closed while idle is only noticed when a request on it gets no byte of
response; that request is then sent once more on a new connection (Go's client does the same). The
operator's writes tolerate a repeat: a patch carries a resourceVersion precondition (a repeat gets
409) and a repeated create gets 409 AlreadyExists; both mean "re-read and re-plan".
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator
from typing import Any

import httptools

#: Idle connections kept per client; more are closed when returned.
MAX_IDLE = 64


class ConnectionLost(Exception):
    """The connection broke (reset, EOF, timeout, unparsable response); the request's outcome is
    unknown. ``unsent``: nothing of a response arrived and it was no timeout, so the request may
    be sent again on a new connection if this one had been idle (the server closed it)."""

    def __init__(self, message: str, *, unsent: bool = False) -> None:
        super().__init__(message)
        self.unsent = unsent


class _Response:
    """httptools callbacks for one response at a time (``parser`` is set right after creation)."""

    __slots__ = ("body", "complete", "keep_alive", "parser", "started", "status")

    def __init__(self) -> None:
        self.parser: httptools.HttpResponseParser | None = None
        self.reset()

    def reset(self) -> None:
        self.body: list[bytes] = []
        self.complete = False
        self.started = False
        self.keep_alive = False
        self.status = 0

    def on_message_begin(self) -> None:
        self.started = True

    def on_headers_complete(self) -> None:
        assert self.parser is not None
        # only valid here: after the message the parser has reset for the next one
        self.keep_alive = self.parser.should_keep_alive()
        self.status = self.parser.get_status_code()

    def on_body(self, data: bytes) -> None:
        self.body.append(data)

    def on_message_complete(self) -> None:
        self.complete = True


class Connection:
    """One socket and its response parser; used by one thread at a time (the pool hands it out)."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.reused = False
        self._response = _Response()
        self._parser = httptools.HttpResponseParser(self._response)
        self._response.parser = self._parser

    @contextlib.contextmanager
    def _failures(self) -> Iterator[None]:
        """Socket and parser errors as ConnectionLost; ``unsent`` when no byte of a response arrived
        and it was no timeout (a timed-out request may still be acted on: never sent again)."""
        try:
            yield
        except TimeoutError as exc:
            raise ConnectionLost(f"timed out: {exc}") from None
        except (OSError, httptools.HttpParserError) as exc:
            raise ConnectionLost(f"{type(exc).__name__}: {exc}", unsent=not self._response.started) from None

    def _receive(self) -> None:
        data = self.sock.recv(65536)
        if not data:
            raise ConnectionLost("the server closed the connection", unsent=not self._response.started)
        self._parser.feed_data(data)

    def _send(self, request: bytes, *, headers_only: bool) -> None:
        """Send a request and read until its response is complete (or, ``headers_only``, until its
        status is known)."""
        response = self._response
        response.reset()
        with self._failures():
            self.sock.sendall(request)
            while not response.complete and not (headers_only and response.status):
                self._receive()

    def exchange(self, request: bytes) -> tuple[int, bytes, bool]:
        """Send one request; returns (status, body, keep_alive)."""
        self._send(request, headers_only=False)
        response = self._response
        return response.status, b"".join(response.body), response.keep_alive

    def open_stream(self, request: bytes, read_timeout: float) -> tuple[int, bytes, bool]:
        """Send a request whose body is read later (:meth:`body_pieces`); returns (status, body so
        far, complete) once the headers arrived."""
        self.sock.settimeout(read_timeout)
        self._send(request, headers_only=True)
        response = self._response
        if response.complete:
            return response.status, b"".join(response.body), True
        return response.status, b"", False

    def body_pieces(self) -> Iterator[bytes]:
        """The rest of a streamed body, piece by piece as it arrives (de-chunked)."""
        response = self._response
        while True:
            if response.body:
                pieces, response.body = response.body, []
                yield from pieces
            if response.complete:
                return
            with self._failures():
                self._receive()

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.close()


class Transport:
    """Thread-safe: idle connections are shared, each request holds one for its duration.

    ``connect`` returns a new connected socket (TLS done); ``host`` is the Host header's value.
    """

    def __init__(self, connect: Any, host: str) -> None:
        self._connect = connect
        self._host = host
        self._idle: list[Connection] = []
        self._lock = threading.Lock()
        self._closed = False

    def request(self, method: str, target: str, headers: str, body: bytes | None) -> tuple[int, bytes]:
        """``headers``: extra header lines, each ending in CRLF (auth, accept, user agent, type)."""
        head = f"{method} {target} HTTP/1.1\r\nHost: {self._host}\r\n{headers}"
        if body is not None:
            data = f"{head}Content-Length: {len(body)}\r\n\r\n".encode("latin-1") + body
        else:
            data = f"{head}\r\n".encode("latin-1")
        conn = self._take()
        try:
            status, payload, keep = conn.exchange(data)
        except ConnectionLost as exc:
            conn.close()
            if not (conn.reused and exc.unsent):
                raise
            conn = self._new()  # an idle connection the server had closed: send once more
            try:
                status, payload, keep = conn.exchange(data)
            except ConnectionLost:
                conn.close()
                raise
        except BaseException:
            conn.close()
            raise
        if keep:
            self._give_back(conn)
        else:
            conn.close()
        return status, payload

    def stream(
        self, method: str, target: str, headers: str, read_timeout: float
    ) -> tuple[int, bytes | Iterator[bytes]]:
        """A request on a connection of its own whose (long) body is read as it arrives: returns
        (status, body) for an answer that is already complete (an error), else (status, pieces);
        the connection closes when the pieces end or their iterator is closed."""
        request = f"{method} {target} HTTP/1.1\r\nHost: {self._host}\r\n{headers}\r\n".encode("latin-1")
        conn = self._new()
        try:
            status, body, complete = conn.open_stream(request, read_timeout)
        except BaseException:
            conn.close()
            raise
        if complete:
            conn.close()
            return status, body

        def pieces() -> Iterator[bytes]:
            try:
                yield from conn.body_pieces()
            finally:
                conn.close()

        return status, pieces()

    def _new(self) -> Connection:
        try:
            return Connection(self._connect())
        except OSError as exc:
            raise ConnectionLost(f"connect: {type(exc).__name__}: {exc}") from None

    def _take(self) -> Connection:
        with self._lock:
            if self._idle:
                return self._idle.pop()
        return self._new()

    def _give_back(self, conn: Connection) -> None:
        conn.reused = True
        with self._lock:
            if not self._closed and len(self._idle) < MAX_IDLE:
                self._idle.append(conn)
                return
        conn.close()

    def close(self) -> None:
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()
