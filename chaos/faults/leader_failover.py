"""Actions of the leader-failover experiment (K5): two replicas under load; the leader killed, then
frozen until the follower takes over, then thawed."""

from __future__ import annotations

import threading
from typing import Any

from kubernetes.client.rest import ApiException

from chaos.context import ChaosContext, context_of
from chaos.faults.shared import lease_holder
from chaos.faults.takeover import freeze_until_takeover
from chaos.faults.variants import inject
from chaos.workload import CopyVersionWatcher
from fixtures.core.waiting import eventually


def start_source_updates(
    interval_s: float = 0.5, max_updates: int = 60, configuration: dict | None = None
) -> dict[str, Any]:
    """Update the sources at a steady pace in a thread until stopped (or ``max_updates``): the load
    during which the leader is killed. The pacing is the load profile, not a wait for anything."""
    ctx = context_of(configuration)
    wl = ctx.workload
    assert wl is not None
    ctx.stop_load.clear()
    stats = ctx.notes.setdefault("load", {"updates": 0, "errors": 0})

    def run() -> None:
        for _ in range(max_updates):
            if ctx.stop_load.is_set():
                return
            try:
                wl.update_sources()
                stats["updates"] += 1
            except (ApiException, OSError):
                stats["errors"] += 1
            if ctx.stop_load.wait(interval_s):
                return

    thread = threading.Thread(target=run, name="chaos-load", daemon=True)
    ctx.threads.append(thread)
    ctx.notes["copy_watcher"] = CopyVersionWatcher(wl)
    ctx.mark("load_started_at")
    thread.start()
    return {"interval_s": interval_s, "max_updates": max_updates}


def stop_source_updates(timeout_s: float = 30.0, configuration: dict | None = None) -> dict[str, Any]:
    ctx = context_of(configuration)
    ctx.join_threads(timeout_s)
    watcher = ctx.notes.get("copy_watcher")
    if watcher is not None:
        watcher.stop()
    alive = [t.name for t in ctx.threads if t.is_alive()]
    ctx.threads = [t for t in ctx.threads if t.is_alive()]
    if alive:
        raise AssertionError(f"load threads still running after {timeout_s:g}s: {alive}")
    ctx.mark("load_stopped_at")
    return dict(ctx.notes.get("load", {}))


def _await_leader(ctx: ChaosContext, timeout_s: float, not_holder: str | None = None) -> dict[str, Any]:
    def check() -> dict[str, Any]:
        info = lease_holder(ctx)
        assert info["holder"], "no leader"
        assert info["holder"] != not_holder, f"{not_holder} still holds the lease"
        return info

    return eventually(check, timeout=timeout_s, interval=0.2, description="a leader")


def kill_leader(timeout_s: float = 30.0, configuration: dict | None = None) -> dict[str, Any]:
    """SIGKILL the Lease holder (local: a container restart, same identity) / delete its pod (kind)."""
    ctx = context_of(configuration)
    before = _await_leader(ctx, timeout_s)
    ctx.notes["lease_before"] = ctx.notes.get("lease_before") or before
    out = inject(ctx, "kill-leader", before["holder"])
    ctx.mark("fault_at")
    return {**out, "leader": before["holder"], "transitions_before": before["transitions"]}


def freeze_leader(timeout_s: float = 60.0, configuration: dict | None = None) -> dict[str, Any]:
    """Freeze the Lease holder (SIGSTOP: a hung node) until another replica has taken over."""
    ctx = context_of(configuration)
    result, _, took = freeze_until_takeover(ctx, timeout_s, _await_leader)
    ctx.notes["takeover_s"] = took
    return result


def thaw_leader(configuration: dict | None = None) -> dict[str, Any]:
    """Let the frozen ex-leader run again: it must notice it lost the Lease and not write."""
    ctx = context_of(configuration)
    out = inject(ctx, "thaw-leader", None)
    ctx.mark("thaw_at")
    return out


# --- rollback -------------------------------------------------------------------------------------------


def thaw_everything(configuration: dict | None = None) -> dict[str, Any]:
    """Rollback: nothing stays frozen (a process, a container) and no load thread keeps running."""
    ctx = context_of(configuration)
    thawed = ctx.resume_all()  # nothing is ever frozen on kind
    ctx.join_threads(10)
    watcher = ctx.notes.get("copy_watcher")
    if watcher is not None:
        watcher.stop()
    return {
        "thawed": thawed,
        "threads_alive": [t.name for t in ctx.threads if t.is_alive()],
    }
