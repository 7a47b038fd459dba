"""chaostoolkit probes of the ConfigMirror experiments (same contract as chaos/probes.py: a dict
with ``ok`` and the evidence, polling with their own deadlines, raising only for broken plumbing).

The steady state itself is the generic ``chaos.probes.copies_consistent`` over a
:class:`chaos.mirror_workload.MirrorWorkload` (replicas and database rows).
"""

from __future__ import annotations

import time
import urllib.error
from typing import Any

from kubernetes import client

from chaos.context import ChaosContext, context_of
from chaos.mirror_workload import MirrorWorkload
from chaos.scoring import judged
from fixtures.core.metrics import metric_value
from fixtures.core.waiting import report_within
from fixtures.systems.configmirror import metrics_text

LEASE_NAMESPACE, LEASE = "configmirror-system", "configmirror-operator"  # deploy/kustomize args


def _wl(configuration: dict | None) -> tuple[ChaosContext, MirrorWorkload]:
    ctx = context_of(configuration)
    assert isinstance(ctx.workload, MirrorWorkload), "a ConfigMirror probe needs a ConfigMirror workload"
    return ctx, ctx.workload


def replicas_follow_during_outage(
    timeout_s: float = 30.0, configuration: dict | None = None
) -> dict[str, Any]:
    """While PostgreSQL is down, the replicas reach the sources' new data: replication never stops.

    ``ok`` only if every replica is current *and* the database was still down when that was seen.
    Evidence: the expected replicas compared.
    """
    ctx, wl = _wl(configuration)

    def check() -> dict[str, Any]:
        out = wl.replicas_consistent()
        down = not wl.postgres.running()
        return {**out, "ok": out["ok"] and down, "postgres_down": down}

    ok, waited, last = report_within(check, timeout=timeout_s)
    detail = {k: v for k, v in last.items() if k != "ok"}
    out = judged(ok, int(last.get("checked", 0)), "no source selected: no replica expected", **detail)
    if out["ok"] and "updated_at" in ctx.marks:
        ctx.recovery["replicated_during_outage"] = time.monotonic() - ctx.marks["updated_at"]
    return {**out, "waited_s": round(waited, 3)}


def mirror_condition(
    condition: str,
    status: str,
    reason: str | None = None,
    timeout_s: float = 30.0,
    configuration: dict | None = None,
) -> dict[str, Any]:
    """The ConfigMirror's condition ``condition`` reaches ``status`` (and ``reason``), polled."""
    _ctx, wl = _wl(configuration)

    def check() -> dict[str, Any]:
        cond = wl.system.condition(wl.ops, wl.name, condition)
        got = (cond.get("status"), cond.get("reason"))
        ok = got[0] == status and (reason is None or got[1] == reason)
        return {"ok": ok, "status": got[0], "reason": got[1], "message": (cond.get("message") or "")[:300]}

    _ok, waited, last = report_within(check, timeout=timeout_s, interval=0.3)
    return {**last, "waited_s": round(waited, 3)}


def no_duplicate_rows(configuration: dict | None = None) -> dict[str, Any]:
    """No two rows share the seed's UNIQUE key (name, namespace, configmirror_namespace/_name)."""
    _ctx, wl = _wl(configuration)
    dupes, rows = wl.duplicate_rows(), wl.row_count()
    return judged(dupes == 0, rows, "the configmaps table holds no row", duplicate_keys=dupes, rows=rows)


def forbidden_seen(timeout_s: float = 30.0, configuration: dict | None = None) -> dict[str, Any]:
    """The operator met the revocation: its ``rest_client_requests_total{code="403"}`` grew (polled)."""
    ctx, _ = _wl(configuration)
    base = ctx.notes.get("forbidden_before", 0.0)

    def check() -> dict[str, Any]:
        now = forbidden_count(ctx)
        return {"ok": now > base, "api_403": now, "before_revocation": base}

    _ok, waited, last = report_within(check, timeout=timeout_s, interval=0.3)
    return {**last, "waited_s": round(waited, 3)}


def forbidden_count(ctx: ChaosContext) -> float:
    """403 answers the operator's replicas have counted (``rest_client_requests_total``)."""
    return sum(
        metric_value(metrics_text(ctx.operator.replica(n)), "rest_client_requests_total", code="403")
        for n in ctx.replica_names()
    )


def replicas_intact(configuration: dict | None = None) -> dict[str, Any]:
    """While the operator may not write: every replica that existed is still there, nothing else
    replicated (the bystander neither). Evidence: the replicas recorded before the revocation."""
    ctx, wl = _wl(configuration)
    before = {tuple(k) for k in ctx.notes.get("replicas_before", [])}
    now = set(wl.replicated())
    gone = sorted(f"{ns}/{n}" for ns, n in before - now)
    cause = "no replica was recorded before the revocation: nothing to compare"
    return judged(not gone and now <= before, len(before), cause, replicas=len(now), gone=gone[:10])


def _leader_gauge(ctx: ChaosContext, name: str) -> float | None:
    """``leader_election_master_status`` of one replica (None when its /metrics does not answer)."""
    try:
        text = metrics_text(ctx.operator.replica(name))
    except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
        return None
    return metric_value(text, "leader_election_master_status")


def single_mirror_leader(timeout_s: float = 30.0, configuration: dict | None = None) -> dict[str, Any]:
    """Exactly one replica says it leads (gauge 1), every other says 0, and the Lease names it."""
    ctx, _ = _wl(configuration)

    def check() -> dict[str, Any]:
        gauges = {n: _leader_gauge(ctx, n) for n in ctx.replica_names()}
        leaders = [n for n, g in gauges.items() if g == 1]
        holder = mirror_lease(ctx)["holder"]
        ok = (
            len(gauges) >= 2 and leaders == [holder] and all(g == 0 for n, g in gauges.items() if n != holder)
        )
        return {"ok": ok, "leader_gauges": gauges, "lease_holder": holder}

    _ok, waited, last = report_within(check, timeout=timeout_s, interval=0.3)
    return {**last, "waited_s": round(waited, 3)}


def mirror_lease(ctx: ChaosContext) -> dict[str, Any]:
    """Holder (a replica name: the identity is the pod name) and transitions of the operator's Lease."""
    lease = client.CoordinationV1Api(ctx.cluster.api).read_namespaced_lease(LEASE, LEASE_NAMESPACE)
    return {"holder": lease.spec.holder_identity or "", "transitions": int(lease.spec.lease_transitions or 0)}
