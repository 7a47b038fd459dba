"""How faults are carried out on the local provider: signals to supervised operator processes, and a
restart of the private control plane's kube-apiserver process (variants pick these by fault; the
nodes variant restarts its API server this way too: its control plane is processes)."""

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


def _resume(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGCONT)


def freeze_replica(ctx: ChaosContext, name: str | None) -> dict[str, Any]:
    assert name is not None, "the local freeze needs a replica name"
    replica = next((r for r in ctx.operator.replicas() if r.name == name), None)
    if replica is None or replica.pid is None:
        raise AssertionError(f"no running process of replica {name}")
    ctx.hold(f"pid {replica.pid}", lambda pid=replica.pid: _resume(pid))  # before it is stopped
    pid = ctx.operator.signal(name, signal.SIGSTOP)
    if pid != replica.pid:  # restarted in between: the one stopped is the one to resume
        ctx.hold(f"pid {pid}", lambda: _resume(pid))
    return {"replica": name, "pid": pid, "signal": "SIGSTOP"}


def thaw_replica(ctx: ChaosContext, name: str | None) -> dict[str, Any]:
    return {"replica": name, "thawed": ctx.resume_all(), "signal": "SIGCONT"}


def restart_apiserver(ctx: ChaosContext, name: str | None) -> dict[str, Any]:
    provider = ctx.cluster.provider
    if not isinstance(provider, LocalProvider) or provider.plane.guardian is None:
        raise AssertionError("the local restart needs the private control plane this process started")
    downtime = provider.plane.restart("kube-apiserver")
    return {"component": "kube-apiserver", "downtime_s": round(downtime, 3)}
