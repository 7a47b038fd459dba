"""Actions of the namespace-churn experiment (K6): listed namespaces created and deleted at once while
the source rotates, and names re-used."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from kubernetes.client.rest import ApiException

from chaos.context import ChaosContext, context_of
from fixtures.core.waiting import eventually


def churn_namespaces(
    count: int = 30, keep: int = 8, reuse: int = 4, timeout_s: float = 90.0, configuration: dict | None = None
) -> dict[str, Any]:
    """Create ``count`` listed namespaces at once, delete all but ``keep`` right away (many while their
    copies are being written), wait for them to be gone, then re-create ``reuse`` of the deleted names.
    A namespace with a near-miss name (not matching the list) is created for the Missing-Secret runbook.
    """
    ctx = context_of(configuration)
    wl = ctx.workload
    assert wl is not None
    core = ctx.cluster.core
    prefix = ctx.notes["churn_prefix"]
    labels = ctx.notes.get("churn_labels")  # a system that targets by label: the churned ones carry it
    names = [f"{prefix}-{i}" for i in range(count)]
    ctx.mark("fault_at")
    source = ctx.notes["churn_source"]
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda n: ctx.cluster.create_namespace("churn", labels, name=n), names))
        doomed = names[keep:]
        deletions = pool.map(lambda n: core.delete_namespace(n), doomed)
        wl.update_sources([source])  # copies are rewritten while their namespaces terminate
        list(deletions)

    def gone() -> None:
        left = [n for n in doomed if _namespace_exists(ctx, n)]
        assert not left, f"{len(left)} deleted namespaces still present, e.g. {left[:3]}"

    t0 = time.monotonic()
    eventually(gone, timeout=timeout_s, interval=0.5, description="the churned namespaces to be deleted")
    deletion_s = time.monotonic() - t0
    reused = doomed[:reuse]
    for n in reused:
        ctx.cluster.create_namespace("churn", labels, name=n)
    typo = f"{prefix.replace('churn', 'chrun')}-x"
    ctx.cluster.create_namespace("typo", name=typo)
    survivors = names[:keep] + reused
    ctx.notes["churn"] = {"survivors": survivors, "deleted": doomed[reuse:], "typo_namespace": typo}
    ctx.mark("churn_done_at")
    return {
        "created": count,
        "deleted": len(doomed),
        "reused_names": len(reused),
        "survivors": len(survivors),
        "deletion_s": round(deletion_s, 3),
        "typo_namespace": typo,
    }


def _namespace_exists(ctx: ChaosContext, name: str) -> bool:
    try:
        ctx.cluster.core.read_namespace(name)
    except ApiException as exc:
        if exc.status == 404:
            return False
        raise
    return True
