"""Actions of the kill-operator experiment (K1): the operator killed in the middle of a fan-out."""

from __future__ import annotations

from typing import Any

from chaos.context import context_of
from chaos.faults.midfanout import fault_mid_fanout
from chaos.faults.variants import inject


def kill_operator(configuration: dict | None = None) -> dict[str, Any]:
    """Kill the (first) operator instance; on Pods delete them."""
    ctx = context_of(configuration)
    name = ctx.replica_names()[0]
    before = {r.name: r.restarts for r in ctx.operator.replicas()}
    ctx.notes["restarts_before"] = before
    out = inject(ctx, "kill-operator", name)
    ctx.mark("fault_at")
    return out


def kill_operator_mid_fanout(timeout_s: float = 30.0, configuration: dict | None = None) -> dict[str, Any]:
    """Update every source, and kill the operator as soon as the *first* copy carries the new version
    (chaos/faults/midfanout.py)."""
    return fault_mid_fanout(context_of(configuration), "kill-operator", timeout_s)
