"""``/healthz``, ``/readyz`` and ``/metrics`` on one small stdlib HTTP server in a daemon thread.

``/readyz`` is honest (Reflector #292/#442 kept reporting healthy while its watchers were dead): it
fails until every informer finished its initial list, and again whenever a watch has been down for
longer than the configured threshold. ``/healthz`` fails only when a worker or informer thread died,
which a restart fixes.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import CONTENT_TYPE_LATEST

from . import metrics

log = logging.getLogger("replicator.health")

Check = Callable[[], tuple[bool, str]]


class HealthServer:
    """Serve the three endpoints; ``port=0`` picks a free port (see :attr:`port`)."""

    def __init__(self, address: str, port: int, liveness: Check, readiness: Check) -> None:
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                path = self.path.split("?", 1)[0]
                if path == "/metrics":
                    self._send(200, metrics.render(), CONTENT_TYPE_LATEST)
                elif path in ("/healthz", "/livez"):
                    ok, why = outer.liveness()
                    self._send(200 if ok else 500, (why + "\n").encode(), "text/plain")
                elif path == "/readyz":
                    ok, why = outer.readiness()
                    self._send(200 if ok else 503, (why + "\n").encode(), "text/plain")
                else:
                    self._send(404, b"not found\n", "text/plain")

            def _send(self, code: int, body: bytes, ctype: str) -> None:
                self.send_response(code)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:  # probes every few seconds: silence
                return

        self.liveness, self.readiness = liveness, readiness
        self.server = ThreadingHTTPServer((address, port), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self._thread = threading.Thread(target=self.server.serve_forever, name="health", daemon=True)

    def start(self) -> None:
        self._thread.start()
        log.info("health server listening", extra={"port": self.port})

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
