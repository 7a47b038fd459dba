"""Actions of the rbac-revoked experiment (K3, H5): the operator's RBAC taken away and put back.

:func:`restore_rbac` is also the runbooks' "grant the missing permissions" remedy.
"""

from __future__ import annotations

import time
from typing import Any

from kubernetes import client
from kubernetes.client.rest import ApiException

from chaos.context import ChaosContext, context_of
from chaos.faults.shared import operator_can
from fixtures.core.metrics import metric_value
from fixtures.core.waiting import eventually


def _clean(obj: Any, api: client.ApiClient) -> dict[str, Any]:
    data = api.sanitize_for_serialization(obj)
    meta = data.get("metadata", {})
    data["metadata"] = {k: v for k, v in meta.items() if k in ("name", "labels", "annotations")}
    return data


def _await_access(ctx: ChaosContext, allowed: bool, verb: str, timeout_s: float) -> float:
    ns = ctx.workload.targets[-1] if ctx.workload else "default"
    t0 = time.monotonic()

    def check() -> None:
        now = operator_can(ctx, verb, "secrets", ns)
        assert now == allowed, f"operator may {verb} secrets in {ns}: {now}, want {allowed}"

    eventually(check, timeout=timeout_s, interval=0.1, description="the RBAC change to take effect")
    return time.monotonic() - t0


def snapshot_metrics(ctx: ChaosContext, mark: str) -> None:
    """Counters at a mark, so probes can tell failures *since* then from earlier ones."""
    texts = [ctx.operator.metrics(r) for r in ctx.replica_names()]
    ctx.notes[f"metrics_at_{mark}"] = {
        "forbidden": sum(metric_value(t, "replicator_api_requests_total", code="403") for t in texts),
        "errors": sum(
            metric_value(t, "replicator_reconcile_errors_total", reason="forbidden") for t in texts
        ),
    }


def revoke_cluster_role_binding(
    timeout_s: float = 30.0, mark: str = "fault_at", configuration: dict | None = None
) -> dict[str, Any]:
    """Delete the operator's ClusterRoleBinding (saved for the restore)."""
    ctx = context_of(configuration)
    crb = ctx.rbac.read_cluster_role_binding(ctx.names.rbac)
    ctx.saved.setdefault("cluster_role_binding", _clean(crb, ctx.cluster.api))
    snapshot_metrics(ctx, mark)
    ctx.rbac.delete_cluster_role_binding(ctx.names.rbac)
    ctx.mark(mark)
    took = _await_access(ctx, False, "patch", timeout_s)
    return {"deleted": f"clusterrolebinding/{ctx.names.rbac}", "effective_after_s": round(took, 3)}


def remove_verb_from_cluster_role(
    verb: str = "patch",
    resource: str = "secrets",
    timeout_s: float = 30.0,
    mark: str = "fault_at",
    configuration: dict | None = None,
) -> dict[str, Any]:
    """Take one verb away from the operator's ClusterRole for one resource (saved for the restore)."""
    ctx = context_of(configuration)
    role = ctx.rbac.read_cluster_role(ctx.names.rbac)
    ctx.saved.setdefault("cluster_role", _clean(role, ctx.cluster.api))
    rules = []
    for rule in role.rules or []:
        if resource in (rule.resources or []) and verb in (rule.verbs or []):
            others = [r for r in rule.resources if r != resource]
            if others:
                rules.append(
                    client.V1PolicyRule(api_groups=rule.api_groups, resources=others, verbs=rule.verbs)
                )
            rules.append(
                client.V1PolicyRule(
                    api_groups=rule.api_groups,
                    resources=[resource],
                    verbs=[v for v in rule.verbs if v != verb],
                )
            )
        else:
            rules.append(rule)
    role.rules = rules
    snapshot_metrics(ctx, mark)
    ctx.rbac.replace_cluster_role(ctx.names.rbac, role)
    ctx.mark(mark)
    took = _await_access(ctx, False, verb, timeout_s)
    return {"removed": f"{verb} on {resource}", "effective_after_s": round(took, 3)}


def restore_rbac(
    timeout_s: float = 30.0, mark: str = "restored_at", configuration: dict | None = None
) -> dict[str, Any]:
    """Put back whatever the RBAC actions changed (idempotent: also the rollback)."""
    ctx = context_of(configuration)
    restored = []
    role = ctx.saved.pop("cluster_role", None)
    if role is not None:
        current = ctx.rbac.read_cluster_role(ctx.names.rbac)
        current.rules = [client.V1PolicyRule(**_snake_rule(r)) for r in role.get("rules", [])]
        ctx.rbac.replace_cluster_role(ctx.names.rbac, current)
        restored.append(f"clusterrole/{ctx.names.rbac}")
    crb = ctx.saved.pop("cluster_role_binding", None)
    if crb is not None:
        try:
            ctx.rbac.create_cluster_role_binding(crb)
        except ApiException as exc:
            if exc.status != 409:
                raise
        restored.append(f"clusterrolebinding/{ctx.names.rbac}")
    if restored:
        ctx.mark(mark)
        ctx.mark("restored_at")
        took = _await_access(ctx, True, "patch", timeout_s)
    else:
        took = 0.0
    return {"restored": restored, "effective_after_s": round(took, 3)}


def _snake_rule(rule: dict[str, Any]) -> dict[str, Any]:
    keys = {
        "apiGroups": "api_groups",
        "resourceNames": "resource_names",
        "nonResourceURLs": "non_resource_urls",
    }
    return {keys.get(k, k): v for k, v in rule.items()}
