"""Probes and metrics on two small stdlib HTTP servers (seed: probes on :8081, metrics on :8080).

``/readyz`` fails until the ConfigMirror, ConfigMap and Namespace caches finished their first list
and while a watch has been down too long; ``/healthz`` fails only when a thread died. The server and
the routes are the replicator's (:mod:`operator_under_test.replicator.health`); only the split onto
two ports is ConfigMirror's.
"""

from __future__ import annotations

from operator_under_test.replicator.health import Check, ProbeServer, metrics_route, probe_routes

from . import metrics


def health_server(address: str, port: int, liveness: Check, readiness: Check) -> ProbeServer:
    return ProbeServer(address, port, probe_routes(liveness, readiness), name="health")


def metrics_server(address: str, port: int) -> ProbeServer:
    return ProbeServer(address, port, {"/metrics": metrics_route(metrics.render)}, name="metrics")
