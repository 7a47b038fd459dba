"""What several experiments' actions need: access reviews, the Lease, retrying a restarting API server,
and the two actions every experiment uses (operator ready; new data on the sources)."""

from __future__ import annotations

import time
from typing import Any

from kubernetes import client
from kubernetes.client.rest import ApiException

from chaos.context import ChaosContext, context_of
from fixtures.core.waiting import eventually


def operator_can(ctx: ChaosContext, verb: str, resource: str, namespace: str | None = None) -> bool:
    """SubjectAccessReview for the operator's ServiceAccount (user and its groups), asked as admin."""
    review = client.V1SubjectAccessReview(
        spec=client.V1SubjectAccessReviewSpec(
            user=ctx.operator_user(),
            groups=[
                "system:serviceaccounts",
                f"system:serviceaccounts:{ctx.names.namespace}",
                "system:authenticated",
            ],
            resource_attributes=client.V1ResourceAttributes(
                verb=verb, resource=resource, namespace=namespace, group=""
            ),
        )
    )
    result = client.AuthorizationV1Api(ctx.cluster.api).create_subject_access_review(review)
    return bool(result.status.allowed)


def lease_holder(ctx: ChaosContext) -> dict[str, Any]:
    names = ctx.names
    if names.lease is None:
        raise AssertionError(f"{ctx.system} has no leader election: there is no Lease to read")
    lease = client.CoordinationV1Api(ctx.cluster.api).read_namespaced_lease(names.lease, names.namespace)
    spec = lease.spec
    return {
        "holder": spec.holder_identity or "",
        "transitions": int(spec.lease_transitions or 0),
        "resource_version": lease.metadata.resource_version,
        "duration_s": spec.lease_duration_seconds,
    }


def retry_api(fn: Any, timeout_s: float, what: str) -> Any:
    """Call ``fn`` until the API answers (e.g. right after an API server restart); bounded."""

    def attempt() -> Any:
        try:
            return fn()
        except (ApiException, OSError) as exc:
            status = getattr(exc, "status", None)
            if status is not None and 400 <= status < 500 and status != 429:
                raise  # a real answer: not a transient outage
            raise AssertionError(f"{what}: {type(exc).__name__} {status or ''}") from None
        except Exception as exc:  # urllib3 connection errors surface as various types
            if "urllib3" in type(exc).__module__:
                raise AssertionError(f"{what}: {type(exc).__name__}") from None
            raise

    return eventually(attempt, timeout=timeout_s, interval=0.2, description=what)


def ensure_operator_ready(timeout_s: float = 60.0, configuration: dict | None = None) -> dict[str, Any]:
    """Every replica answers /readyz 200 (also the rollback of every experiment that kills it)."""
    ctx = context_of(configuration)
    ctx.resume_all()  # a frozen replica (process, container, node) would never become ready

    def ready() -> dict[str, Any]:
        states = {r.name: ctx.operator.ready(r.name) for r in ctx.operator.replicas()}
        assert states, "no operator replica found"
        bad = {n: why for n, (ok, why) in states.items() if not ok}
        assert not bad, f"not ready: {bad}"
        return {n: why for n, (_, why) in states.items()}

    t0 = time.monotonic()
    states = eventually(ready, timeout=timeout_s, interval=0.2, description="operator replicas ready")
    return {"ready": states, "waited_s": round(time.monotonic() - t0, 3)}


def update_sources(timeout_s: float = 30.0, configuration: dict | None = None) -> dict[str, Any]:
    """New data on every workload source (retried while the API server is unavailable)."""
    ctx = context_of(configuration)
    assert ctx.workload is not None
    versions = retry_api(ctx.workload.update_sources, timeout_s, "the source update to be accepted")
    ctx.mark("updated_at")
    return {"updated": sorted(versions), "generation": ctx.workload.generation}
