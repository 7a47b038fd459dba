"""Prometheus metrics on a private registry, served on the metrics port (seed: :8080).

The seed lists ``rest_client_requests_total`` (Kubernetes API requests by code, method and host),
``leader_election_master_status`` (1 = leader) and process metrics; the ``configmirror_*`` series
are ours. Names are stable API for the harness.
"""

from __future__ import annotations

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
)

REGISTRY = CollectorRegistry(auto_describe=True)
ProcessCollector(registry=REGISTRY)
PlatformCollector(registry=REGISTRY)

REST_CLIENT_REQUESTS = Counter(
    "rest_client_requests_total",
    "Number of HTTP requests to the Kubernetes API, partitioned by status code, method, and host.",
    ["code", "method", "host"],
    registry=REGISTRY,
)
LEADER = Gauge(
    "leader_election_master_status",
    "Gauge of if the reporting system is master of the relevant lease, "
    "0 indicates backup, 1 indicates master.",
    ["name"],
    registry=REGISTRY,
)
RECONCILES = Counter(
    "configmirror_reconciles_total",
    "Reconciles of one ConfigMirror, by result.",
    ["result"],
    registry=REGISTRY,
)
WRITES = Counter(
    "configmirror_replica_writes_total", "Replica writes by action.", ["action"], registry=REGISTRY
)
CONFLICTS = Counter(
    "configmirror_conflicts_total",
    "Desired replicas skipped because a ConfigMap the operator does not own is in the way.",
    registry=REGISTRY,
)
REPLICAS = Gauge("configmirror_replicas", "Replicas owned by ConfigMirrors (cache).", registry=REGISTRY)
MIRRORS = Gauge("configmirror_mirrors", "ConfigMirror resources (cache).", registry=REGISTRY)
DB_SYNCS = Counter(
    "configmirror_database_syncs_total",
    "Database syncs by result (ok or a reason).",
    ["result"],
    registry=REGISTRY,
)
DB_ROWS = Counter(
    "configmirror_database_row_writes_total", "Rows upserted or deleted.", ["action"], registry=REGISTRY
)
PROPAGATION = Histogram(
    "configmirror_propagation_latency_seconds",
    "Time from observing a change to the replica writes of that reconcile succeeding.",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0),
    registry=REGISTRY,
)
QUEUE_DEPTH = Gauge("configmirror_queue_depth", "ConfigMirrors waiting to be reconciled.", registry=REGISTRY)


def render() -> bytes:
    return generate_latest(REGISTRY)
