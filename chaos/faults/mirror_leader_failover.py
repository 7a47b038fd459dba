"""Actions of the ConfigMirror leader experiment (M4): two replicas on one Lease; the leader killed
(a container restart: same identity), then frozen (a hung node) until the other one takes over, with
the sources changed each time, then thawed (it must step down)."""

from __future__ import annotations

from typing import Any

from chaos.context import ChaosContext, context_of
from chaos.faults.takeover import freeze_until_takeover
from chaos.faults.variants import inject
from chaos.mirror_probes import mirror_lease
from chaos.mirror_workload import MirrorWorkload
from fixtures.core.waiting import eventually


def _ctx(configuration: dict | None) -> tuple[ChaosContext, MirrorWorkload]:
    ctx = context_of(configuration)
    assert isinstance(ctx.workload, MirrorWorkload), "this experiment runs on a ConfigMirror workload"
    return ctx, ctx.workload


def _await_holder(ctx: ChaosContext, timeout_s: float, not_holder: str | None = None) -> dict[str, Any]:
    def check() -> dict[str, Any]:
        info = mirror_lease(ctx)
        assert info["holder"] in ctx.replica_names(), f"lease holder {info['holder']!r} is no replica"
        assert info["holder"] != not_holder, f"{not_holder} still holds the lease"
        return info

    return eventually(check, timeout=timeout_s, interval=0.2, description="a ConfigMirror leader")


def update_and_kill_leader(timeout_s: float = 30.0, configuration: dict | None = None) -> dict[str, Any]:
    """Update the sources and SIGKILL the Lease holder at once (its supervisor restarts it)."""
    ctx, wl = _ctx(configuration)
    before = _await_holder(ctx, timeout_s)
    ctx.notes["restarts_before"] = {r.name: r.restarts for r in ctx.operator.replicas()}
    version = wl.update_sources()
    out = inject(ctx, "kill-leader", before["holder"])
    ctx.mark("fault_at")
    return {
        **out,
        "leader": before["holder"],
        "transitions_before": before["transitions"],
        "version": version,
    }


def freeze_leader_until_takeover(
    timeout_s: float = 60.0, configuration: dict | None = None
) -> dict[str, Any]:
    """SIGSTOP the Lease holder; return once the other replica holds the Lease; then change the
    sources (only the new leader can replicate them)."""
    ctx, wl = _ctx(configuration)
    result, before, took = freeze_until_takeover(ctx, timeout_s, _await_holder)
    ctx.recovery["takeover"] = took
    version = wl.update_sources()
    wl.add_source(f"cfg-after-takeover-{version}")
    ctx.mark("updated_at")
    ctx.notes["frozen_leader"] = before["holder"]
    return result


def thaw_old_leader(configuration: dict | None = None) -> dict[str, Any]:
    """SIGCONT the frozen ex-leader (also the rollback): it must step down, not compete."""
    ctx = context_of(configuration)
    thawed = ctx.resume_all()
    if thawed:
        ctx.mark("thaw_at")
    return {"thawed": thawed}
