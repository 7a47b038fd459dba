"""Prometheus metrics, on a private registry so tests and several controllers in one process never clash.

Names are stable API for the suite's dashboards and assertions; see the operator README.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

REGISTRY = CollectorRegistry(auto_describe=True)

PROPAGATION = Histogram(
    "replicator_propagation_latency_seconds",
    "Time from observing a change (source, copy or namespace event) to the copy write succeeding.",
    ["kind", "action"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 300.0),
    registry=REGISTRY,
)
RECONCILE_ERRORS = Counter(
    "replicator_reconcile_errors_total",
    "Failed reconcile steps by reason (forbidden, conflict, server_error, connection, invalid_annotation).",
    ["kind", "reason"],
    registry=REGISTRY,
)
RECONCILES = Counter(
    "replicator_reconciles_total",
    "Reconciles of one source, by result.",
    ["kind", "result"],
    registry=REGISTRY,
)
WRITES = Counter(
    "replicator_writes_total",
    "Successful writes to copies, by action.",
    ["kind", "action"],
    registry=REGISTRY,
)
MANAGED_COPIES = Gauge(
    "replicator_managed_copies",
    "Copies in the cache that point at a source, by mode (auto copies, manual mirrors).",
    ["kind", "mode"],
    registry=REGISTRY,
)
SOURCES = Gauge("replicator_sources", "Objects carrying source annotations.", ["kind"], registry=REGISTRY)
CONFLICTS = Counter(
    "replicator_conflicts_total",
    "Target namespaces skipped because an unrelated same-name object exists there.",
    ["kind"],
    registry=REGISTRY,
)
WATCH_RESTARTS = Counter(
    "replicator_watch_restarts_total",
    "Watch sessions that ended and were restarted, by resource and reason (timeout, gone, error).",
    ["resource", "reason"],
    registry=REGISTRY,
)
WATCH_UP = Gauge(
    "replicator_watch_up", "1 while the watch for a resource is connected.", ["resource"], registry=REGISTRY
)
RELISTS = Counter("replicator_relists_total", "Full lists per resource.", ["resource"], registry=REGISTRY)
API_REQUESTS = Counter(
    "replicator_api_requests_total",
    "Kubernetes API requests by verb, resource and HTTP code ('error' for connection failures).",
    ["verb", "resource", "code"],
    registry=REGISTRY,
)
QUEUE_DEPTH = Gauge("replicator_queue_depth", "Sources waiting to be reconciled.", registry=REGISTRY)
IS_LEADER = Gauge("replicator_is_leader", "1 while this replica holds the Lease.", registry=REGISTRY)
READY = Gauge("replicator_ready", "1 while /readyz answers 200.", registry=REGISTRY)


def render() -> bytes:
    """The text exposition format served on ``/metrics``."""
    return generate_latest(REGISTRY)
