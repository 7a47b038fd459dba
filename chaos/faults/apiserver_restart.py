"""Actions of the apiserver-restart experiment (K2): the watch cut by a kube-apiserver restart."""

from __future__ import annotations

from typing import Any

from chaos.context import context_of
from chaos.faults.variants import inject


def restart_apiserver(configuration: dict | None = None) -> dict[str, Any]:
    ctx = context_of(configuration)
    ctx.notes["pids_before"] = {r.name: r.instance for r in ctx.operator.replicas()}
    ctx.notes["restarts_before"] = {r.name: r.restarts for r in ctx.operator.replicas()}
    ctx.mark("fault_at")
    out = inject(ctx, "restart-apiserver")
    ctx.mark("apiserver_back_at")
    ctx.notes["apiserver_downtime_s"] = out["downtime_s"]
    return out
