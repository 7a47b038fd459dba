"""``/healthz``, ``/readyz`` and ``/metrics`` on one small stdlib HTTP server in a daemon thread.

``/readyz`` is honest (Reflector #292/#442 kept reporting healthy while its watchers were dead): it
fails until every informer finished its initial list, and again whenever a watch has been down for
longer than the configured threshold. ``/healthz`` fails only when a worker or informer thread died,
which a restart fixes. The server and the routes are shared with the ConfigMirror operator (which
serves probes and metrics on two ports); both checks are the controllers' (``Loop`` in
:mod:`.controller`).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import CONTENT_TYPE_LATEST

from . import metrics

log = logging.getLogger("replicator.health")

Check = Callable[[], tuple[bool, str]]
Route = Callable[[], tuple[int, bytes, str]]


def probe(check: Check, bad: int) -> Route:
    """A route answering 200 or ``bad`` with the check's one-line reason."""

    def run() -> tuple[int, bytes, str]:
        ok, why = check()
        return (200 if ok else bad), (why + "\n").encode(), "text/plain"

    return run


def probe_routes(liveness: Check, readiness: Check) -> dict[str, Route]:
    """``/healthz`` and ``/livez`` (500 when dead), ``/readyz`` (503 when not ready)."""
    alive = probe(liveness, 500)
    return {"/healthz": alive, "/livez": alive, "/readyz": probe(readiness, 503)}


def metrics_route(render: Callable[[], bytes]) -> Route:
    """``/metrics`` in the Prometheus text format."""
    return lambda: (200, render(), CONTENT_TYPE_LATEST)


class ProbeServer:
    """Serve ``routes`` (path → handler) in a daemon thread; ``port=0`` picks a free port (:attr:`port`)."""

    def __init__(self, address: str, port: int, routes: Mapping[str, Route], name: str = "health") -> None:
        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                route = routes.get(self.path.split("?", 1)[0])
                code, body, ctype = route() if route else (404, b"not found\n", "text/plain")
                self.send_response(code)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:  # probes every few seconds: silence
                return

        self.server = ThreadingHTTPServer((address, port), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self._thread = threading.Thread(target=self.server.serve_forever, name=name, daemon=True)

    def start(self) -> None:
        self._thread.start()
        log.info(f"{self._thread.name} server listening", extra={"port": self.port})

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class HealthServer(ProbeServer):
    """The replicator's one server: probes and ``/metrics``."""

    def __init__(self, address: str, port: int, liveness: Check, readiness: Check) -> None:
        routes = probe_routes(liveness, readiness) | {"/metrics": metrics_route(metrics.render)}
        super().__init__(address, port, routes)
