"""Actions of the kill-operator experiment (K1): the operator killed in the middle of a fan-out."""

from __future__ import annotations

from typing import Any

from kubernetes import watch

from chaos.context import context_of
from chaos.faults.variants import inject


def kill_operator(configuration: dict | None = None) -> dict[str, Any]:
    """Kill the (first) operator instance; on kind delete its pod."""
    ctx = context_of(configuration)
    name = ctx.replica_names()[0]
    before = {r.name: r.restarts for r in ctx.operator.replicas()}
    ctx.notes["restarts_before"] = before
    out = inject(ctx, "kill-operator", name)
    ctx.mark("fault_at")
    return out


def kill_operator_mid_fanout(timeout_s: float = 30.0, configuration: dict | None = None) -> dict[str, Any]:
    """Update every source, and kill the operator as soon as the *first* copy carries the new version.

    A watch from the list's resourceVersion sees every copy write in order, so the kill lands while
    the fan-out is still running; the output says how many copies had been written at that moment.
    """
    ctx = context_of(configuration)
    wl = ctx.workload
    assert wl is not None
    core = ctx.cluster.core
    watched = wl.sources[0]
    ctx.notes["restarts_before"] = {r.name: r.restarts for r in ctx.operator.replicas()}
    rv0 = core.list_secret_for_all_namespaces(
        field_selector=f"metadata.name={watched}"
    ).metadata.resource_version
    versions = wl.update_sources()
    ctx.mark("updated_at")
    w = watch.Watch()
    stream = w.stream(
        core.list_secret_for_all_namespaces,
        field_selector=f"metadata.name={watched}",
        resource_version=rv0,
        timeout_seconds=max(1, int(timeout_s)),
        _request_timeout=(5, timeout_s + 5),
    )
    killed: dict[str, Any] | None = None
    try:
        for event in stream:
            obj = event["object"]
            version = wl.system.version_of(obj.metadata.annotations, obj.metadata.labels)
            if obj.metadata.namespace != wl.source_ns and version == versions[watched]:
                name = ctx.replica_names()[0]
                killed = inject(ctx, "kill-operator", name)
                ctx.mark("fault_at")
                break
    finally:
        w.stop()
        stream.close()
    if killed is None:
        raise AssertionError(
            f"no copy of {watched} reached the new version within {timeout_s:g}s: nothing killed"
        )
    written, total = 0, 0
    for name in wl.sources:
        expected = set(wl.expected_targets(name))
        total += len(expected)
        for ns, copy in wl.copies_of(name).items():
            version = wl.system.version_of(copy.metadata.annotations, copy.metadata.labels)
            if ns in expected and version == versions[name]:
                written += 1
    ctx.notes["fanout_at_kill"] = {"written": written, "total": total}
    return {**killed, "copies_written_at_kill": written, "copies_total": total}
