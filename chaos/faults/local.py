"""How faults are carried out on the local provider: signals to supervised operator processes, and a
restart of the private control plane's kube-apiserver process (variants pick these by fault)."""

from __future__ import annotations

import contextlib
import os
import signal
from typing import Any

from chaos.context import ChaosContext
from fixtures.clusters.providers import LocalProvider


def kill_replica(ctx: ChaosContext, name: str | None) -> dict[str, Any]:
    assert name is not None, "the local kill needs a replica name"
    pid = ctx.operator.signal(name, signal.SIGKILL)
    return {"replica": name, "pid": pid, "signal": "SIGKILL"}


def freeze_replica(ctx: ChaosContext, name: str | None) -> dict[str, Any]:
    assert name is not None, "the local freeze needs a replica name"
    pid = ctx.operator.signal(name, signal.SIGSTOP)
    ctx.notes.setdefault("frozen_pids", []).append(pid)
    return {"replica": name, "pid": pid, "signal": "SIGSTOP"}


def thaw_frozen(ctx: ChaosContext) -> list[int]:
    """SIGCONT every process a freeze stopped (none on kind: nothing is ever frozen there)."""
    thawed = []
    for pid in ctx.notes.pop("frozen_pids", []):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGCONT)
            thawed.append(pid)
    return thawed


def thaw_replica(ctx: ChaosContext, name: str | None) -> dict[str, Any]:
    return {"replica": name, "thawed_pids": thaw_frozen(ctx), "signal": "SIGCONT"}


def restart_apiserver(ctx: ChaosContext, name: str | None) -> dict[str, Any]:
    provider = ctx.cluster.provider
    if not isinstance(provider, LocalProvider) or provider.plane.guardian is None:
        raise AssertionError("the local restart needs the private control plane this process started")
    downtime = provider.plane.restart("kube-apiserver")
    return {"component": "kube-apiserver", "downtime_s": round(downtime, 3)}
