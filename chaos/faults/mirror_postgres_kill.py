"""Actions of the ConfigMirror PostgreSQL experiment (M1): the database killed, sources changed while
it is down, then the database started again on the same port and data."""

from __future__ import annotations

from typing import Any

from chaos.context import context_of
from chaos.mirror_workload import MirrorWorkload


def _workload(configuration: dict | None) -> MirrorWorkload:
    wl = context_of(configuration).workload
    assert isinstance(wl, MirrorWorkload), "this experiment runs on a ConfigMirror workload"
    return wl


def kill_postgres(configuration: dict | None = None) -> dict[str, Any]:
    """SIGKILL the postmaster (a crash, not a shutdown); returns once its backends are gone."""
    ctx = context_of(configuration)
    wl = _workload(configuration)
    pid = wl.postgres.pid
    wl.postgres.kill()
    ctx.mark("fault_at")
    return {"postgres_pid": pid, "signal": "SIGKILL", "running": wl.postgres.running()}


def change_sources_during_outage(configuration: dict | None = None) -> dict[str, Any]:
    """Update every matching source and add a new one while the database is down."""
    ctx = context_of(configuration)
    wl = _workload(configuration)
    assert not wl.postgres.running(), "PostgreSQL is running: the change would not be made during an outage"
    version = wl.update_sources()
    wl.add_source(f"cfg-during-outage-{version}")
    ctx.mark("updated_at")
    return {"version": version, "sources": len(wl.sources)}


def restart_postgres(configuration: dict | None = None) -> dict[str, Any]:
    """Start the server again (same port, data and password) and wait until it accepts connections."""
    ctx = context_of(configuration)
    wl = _workload(configuration)
    ready_s = wl.postgres.restart()
    ctx.mark("restored_at")
    ctx.recovery["postgres_ready"] = ready_s
    return {"postgres_ready_s": round(ready_s, 3), "postgres_pid": wl.postgres.pid}


def ensure_postgres_running(configuration: dict | None = None) -> dict[str, Any]:
    """Rollback: a server the method left down is started again."""
    wl = _workload(configuration)
    if wl.postgres.running():
        return {"restarted": False}
    return {"restarted": True, "postgres_ready_s": round(wl.postgres.restart(), 3)}
