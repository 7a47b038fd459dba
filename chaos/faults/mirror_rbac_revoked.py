"""Actions of the ConfigMirror RBAC experiment (M3): the operator's ClusterRoleBinding deleted while
the sources change, then put back as it was."""

from __future__ import annotations

import time
from typing import Any

from kubernetes import client
from kubernetes.client.rest import ApiException

from chaos.context import ChaosContext, context_of
from chaos.mirror_probes import forbidden_count
from chaos.mirror_workload import MirrorWorkload
from fixtures.core.waiting import eventually

BINDING = "configmirror-operator"  # ClusterRoleBinding (and ClusterRole) of deploy/kustomize/rbac.yaml
SA_NAMESPACE, SA = "configmirror-system", "configmirror-operator"


def _ctx(configuration: dict | None) -> tuple[ChaosContext, MirrorWorkload]:
    ctx = context_of(configuration)
    assert isinstance(ctx.workload, MirrorWorkload), "this experiment runs on a ConfigMirror workload"
    return ctx, ctx.workload


def operator_may_patch_configmaps(ctx: ChaosContext, namespace: str) -> bool:
    """SubjectAccessReview, asked as admin, for the ConfigMirror operator's ServiceAccount."""
    review = client.V1SubjectAccessReview(
        spec=client.V1SubjectAccessReviewSpec(
            user=f"system:serviceaccount:{SA_NAMESPACE}:{SA}",
            groups=[
                "system:serviceaccounts",
                f"system:serviceaccounts:{SA_NAMESPACE}",
                "system:authenticated",
            ],
            resource_attributes=client.V1ResourceAttributes(
                verb="patch", resource="configmaps", namespace=namespace, group=""
            ),
        )
    )
    result = client.AuthorizationV1Api(ctx.cluster.api).create_subject_access_review(review)
    return bool(result.status.allowed)


def _await_access(ctx: ChaosContext, wl: MirrorWorkload, allowed: bool, timeout_s: float) -> float:
    t0 = time.monotonic()

    def check() -> None:
        now = operator_may_patch_configmaps(ctx, wl.targets[0])
        assert now == allowed, f"operator may patch configmaps in {wl.targets[0]}: {now}, want {allowed}"

    eventually(check, timeout=timeout_s, interval=0.1, description="the RBAC change to take effect")
    return time.monotonic() - t0


def revoke_binding(timeout_s: float = 15.0, configuration: dict | None = None) -> dict[str, Any]:
    """Save and delete the operator's ClusterRoleBinding; return once access reviews deny."""
    ctx, wl = _ctx(configuration)
    rbac = client.RbacAuthorizationV1Api(ctx.cluster.api)
    binding = ctx.cluster.api.sanitize_for_serialization(rbac.read_cluster_role_binding(BINDING))
    binding["metadata"] = {
        k: v for k, v in binding["metadata"].items() if k in ("name", "labels", "annotations")
    }
    ctx.saved["mirror_binding"] = binding
    ctx.notes["restarts_before"] = {r.name: r.restarts for r in ctx.operator.replicas()}
    ctx.notes["pids_before"] = {r.name: r.instance for r in ctx.operator.replicas()}
    ctx.notes["replicas_before"] = sorted(wl.replicated())
    ctx.notes["forbidden_before"] = forbidden_count(ctx)
    rbac.delete_cluster_role_binding(BINDING)
    ctx.mark("fault_at")
    took = _await_access(ctx, wl, False, timeout_s)
    return {"deleted": f"clusterrolebinding/{BINDING}", "denied_after_s": round(took, 3)}


def update_sources(configuration: dict | None = None) -> dict[str, Any]:
    """New data on every matching source (the operator cannot write it now)."""
    ctx, wl = _ctx(configuration)
    version = wl.update_sources()
    ctx.mark("updated_at")
    return {"version": version}


def restore_binding(timeout_s: float = 15.0, configuration: dict | None = None) -> dict[str, Any]:
    """Create the saved binding again (idempotent: also the rollback); return once access is back."""
    ctx, wl = _ctx(configuration)
    saved = ctx.saved.get("mirror_binding")
    if saved is None:
        return {"restored": False, "why": "nothing was revoked"}
    rbac = client.RbacAuthorizationV1Api(ctx.cluster.api)
    try:
        rbac.create_cluster_role_binding(saved)
        created = True
    except ApiException as exc:
        if exc.status != 409:
            raise
        created = False  # already back
    if "restored_at" not in ctx.marks:
        ctx.mark("restored_at")
    took = _await_access(ctx, wl, True, timeout_s)
    return {"restored": created, "allowed_after_s": round(took, 3)}
