"""Probes and metrics on two small stdlib HTTP servers (seed: probes on :8081, metrics on :8080).

``/readyz`` fails until the ConfigMirror, ConfigMap and Namespace caches finished their first list
and while a watch has been down too long; ``/healthz`` fails only when a thread died.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import CONTENT_TYPE_LATEST

from . import metrics

Check = Callable[[], tuple[bool, str]]


class _Server:
    def __init__(
        self, address: str, port: int, routes: dict[str, Callable[[], tuple[int, bytes, str]]]
    ) -> None:
        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                route = routes.get(self.path.split("?", 1)[0])
                code, body, ctype = route() if route else (404, b"not found\n", "text/plain")
                self.send_response(code)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:  # probes: silence
                return

        self.server = ThreadingHTTPServer((address, port), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(
            target=self.server.serve_forever, name=f"http-{self.port}", daemon=True
        )

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _probe(check: Check, bad: int) -> Callable[[], tuple[int, bytes, str]]:
    def run() -> tuple[int, bytes, str]:
        ok, why = check()
        return (200 if ok else bad), (why + "\n").encode(), "text/plain"

    return run


def health_server(address: str, port: int, liveness: Check, readiness: Check) -> _Server:
    return _Server(
        address,
        port,
        {
            "/healthz": _probe(liveness, 500),
            "/livez": _probe(liveness, 500),
            "/readyz": _probe(readiness, 503),
        },
    )


def metrics_server(address: str, port: int) -> _Server:
    return _Server(address, port, {"/metrics": lambda: (200, metrics.render(), CONTENT_TYPE_LATEST)})
