"""Actions of the liveness-failure experiment: the operator's main process hangs (SIGSTOP through its
node's containerd: alive, answering nothing, like a deadlock); only the kubelet's liveness probe can
notice, and it must restart the container. Sources change while it hangs."""

from __future__ import annotations

from typing import Any

from chaos.context import context_of
from chaos.faults.shared import retry_api
from chaos.faults.variants import inject


def hang_operator(configuration: dict | None = None) -> dict[str, Any]:
    """SIGSTOP the first replica's main process (held: SIGCONT on every exit path unless the kubelet
    restarted the container), then change every source: the restarted operator must catch up."""
    ctx = context_of(configuration)
    assert ctx.workload is not None
    replicas = ctx.operator.replicas()
    name = replicas[0].name
    ctx.notes["restarts_before"] = {r.name: r.restarts for r in replicas}
    ctx.notes["replicas_before"] = {r.name: r for r in replicas}
    ctx.notes["faulted_replica"] = name
    out = inject(ctx, "hang-container", name)
    ctx.mark("fault_at")
    versions = retry_api(ctx.workload.update_sources, 30, "the source update to be accepted")
    ctx.mark("updated_at")
    return {**out, "updated": sorted(versions)}


def resume_operator(configuration: dict | None = None) -> dict[str, Any]:
    """Rollback: whatever is still stopped runs again (nothing when the kubelet restarted it)."""
    ctx = context_of(configuration)
    return {"resumed": ctx.resume_all()}
