"""Actions of the ConfigMirror operator-kill experiment (M2): sources updated, then the operator
SIGKILLed before it can have finished; its supervisor restarts it and the restart must converge."""

from __future__ import annotations

from typing import Any

from chaos.context import context_of
from chaos.faults.variants import inject
from chaos.mirror_workload import MirrorWorkload


def update_sources_and_kill_operator(configuration: dict | None = None) -> dict[str, Any]:
    """Update every matching source and add one, then kill the (first) operator instance at once."""
    ctx = context_of(configuration)
    wl = ctx.workload
    assert isinstance(wl, MirrorWorkload), "this experiment runs on a ConfigMirror workload"
    ctx.notes["restarts_before"] = {r.name: r.restarts for r in ctx.operator.replicas()}
    version = wl.update_sources()
    wl.add_source(f"cfg-before-kill-{version}")
    ctx.mark("updated_at")
    out = inject(ctx, "kill-operator", ctx.replica_names()[0])
    ctx.mark("fault_at")
    caught = wl.replicas_consistent()  # what the operator had done before it died (evidence only)
    return {**out, "version": version, "replicas_consistent_at_kill": caught["ok"], "at_kill": caught}
