"""Actions of the node-loss experiment: two replicas on two nodes; the node that runs the leader is
lost (frozen: its kubelet, containerd and containers stop) until the replica on the other node holds
the Lease, then it comes back (thawed) and its replica must step down without writing."""

from __future__ import annotations

from typing import Any

from chaos.context import ChaosContext, context_of
from chaos.faults.shared import lease_holder
from chaos.faults.variants import inject
from fixtures.core.waiting import eventually


def _await_holder(ctx: ChaosContext, timeout_s: float, not_holder: str | None = None) -> dict[str, Any]:
    def check() -> dict[str, Any]:
        info = lease_holder(ctx)
        assert info["holder"], "no leader"
        assert info["holder"] != not_holder, f"{not_holder} still holds the lease"
        return info

    return eventually(check, timeout=timeout_s, interval=0.1, description="a Lease holder")


def freeze_leader_node(timeout_s: float = 60.0, configuration: dict | None = None) -> dict[str, Any]:
    """Freeze the node the Lease holder runs on (thawed on every exit path) and wait until a replica
    on another node holds the Lease (marks ``freeze_at`` and ``takeover_at``)."""
    ctx = context_of(configuration)
    before = _await_holder(ctx, timeout_s)
    leader = before["holder"]
    replicas = {r.name: r for r in ctx.operator.replicas()}
    if leader not in replicas or not replicas[leader].node:
        raise AssertionError(f"the Lease holder {leader} is not a Pod on a node: {sorted(replicas)}")
    node = str(replicas[leader].node)
    ctx.notes.update(
        old_leader=leader,
        frozen_node=node,
        pods_before_node_loss=replicas,
        lease_duration_s=before["duration_s"],
        lease_before=ctx.notes.get("lease_before") or before,
    )
    out = inject(ctx, "freeze-node", node)
    ctx.mark("freeze_at")
    ctx.notes["frozen_node_address"] = out.get("address")
    after = _await_holder(ctx, timeout_s, not_holder=leader)
    ctx.mark("takeover_at")
    took = ctx.marks["takeover_at"] - ctx.marks["freeze_at"]
    ctx.notes.update(takeover_s=took, new_leader=after["holder"])
    ctx.recovery["takeover"] = took
    return {
        **out,
        "old_leader": leader,
        "new_leader": after["holder"],
        "new_leader_node": replicas.get(after["holder"]) and replicas[after["holder"]].node,
        "takeover_s": round(took, 3),
        "lease_duration_s": before["duration_s"],
    }


def thaw_lost_node(configuration: dict | None = None) -> dict[str, Any]:
    """The lost node comes back: everything on it runs on where it stopped."""
    ctx = context_of(configuration)
    node = ctx.notes.get("frozen_node")
    if not node:
        raise AssertionError("no node was frozen (the freeze did not happen)")
    seen = node_ready(ctx, node)  # what the control plane made of the lost node meanwhile
    out = inject(ctx, "thaw-node", node)
    ctx.mark("thaw_at")
    ctx.notes["frozen_s"] = ctx.marks["thaw_at"] - ctx.marks["freeze_at"]
    return {**out, "frozen_s": round(ctx.notes["frozen_s"], 3), "node_ready_before_thaw": seen}


def node_ready(ctx: ChaosContext, node: str) -> str:
    """The node's Ready condition as the API server shows it (``True``; ``Unknown`` once the node
    lifecycle controller noticed the kubelet stopped reporting)."""
    conditions = ctx.cluster.core.read_node(node).status.conditions or []
    ready = next((c for c in conditions if c.type == "Ready"), None)
    return f"{ready.status} ({ready.reason})" if ready else "no Ready condition"


def thaw_everything(configuration: dict | None = None) -> dict[str, Any]:
    """Rollback: no node stays frozen, no load thread keeps running, the copy watcher stops."""
    ctx = context_of(configuration)
    thawed = ctx.resume_all()
    ctx.join_threads(10)
    watcher = ctx.notes.get("copy_watcher")
    if watcher is not None:
        watcher.stop()
    return {"thawed": thawed, "threads_alive": [t.name for t in ctx.threads if t.is_alive()]}
