"""The step the operator-kill experiments share (the operator killed, K1; its container killed in
place): update every source and fault the operator as soon as the *first* copy carries the new
version (or, for a system that records none, the new content), so the fan-out to the target
namespaces is cut half-way. Its own module because it injects
through :mod:`chaos.faults.variants`, which :mod:`chaos.faults.shared` must not import.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

from chaos.context import ChaosContext
from chaos.faults.variants import inject
from chaos.workload import Workload
from fixtures.clusters.watch import SECRETS, Event, Watch
from fixtures.core.redact import digest, secret_view


def new_content(wl: Workload, name: str, obj: Mapping[str, Any]) -> bool:
    """Whether a copy (API JSON) holds the source's newest content: how a copy of a system that
    records no source version (External Secrets Operator) is seen to carry the update (digests only)."""
    view = {"type": obj.get("type"), "data": {k: digest(v) for k, v in (obj.get("data") or {}).items()}}
    return bool(wl.history.get(name)) and view == wl.history[name][-1]


def fault_mid_fanout(ctx: ChaosContext, fault: str, timeout_s: float) -> dict[str, Any]:
    """Update every source, and inject ``fault`` on the first replica as soon as the first copy
    carries the new version (marks ``updated_at`` and ``fault_at``).

    A watch on the copies listed before the update (fixtures.clusters.watch: it resumes from that
    list's resourceVersion) sees every copy write in order, so the fault lands while the fan-out is
    still running; the output says how many copies had been written at that moment.
    """
    wl = ctx.workload
    assert wl is not None
    watched = wl.sources[0]
    ctx.notes["restarts_before"] = {r.name: r.restarts for r in ctx.operator.replicas()}
    ctx.notes["replicas_before"] = {r.name: r for r in ctx.operator.replicas()}
    carried: set[str] = set()  # the versions the copies of ``watched`` have carried so far
    arrived = threading.Condition()

    def copy_written(event: Event) -> None:
        meta = event.metadata
        if event.type == "DELETED" or meta.get("namespace") == wl.source_ns:
            return
        version = wl.system.version_of(meta.get("annotations"), meta.get("labels"))
        if not version and not wl.system.records_version and new_content(wl, watched, event.object):
            version = versions.get(watched)  # a system that records no version: the new content
        if version:
            with arrived:
                carried.add(version)
                arrived.notify_all()

    copies = Watch(
        ctx.cluster.api.configuration,
        SECRETS,
        copy_written,
        field_selector=f"metadata.name={watched}",
        name=f"{fault}-mid-fanout",
    )
    versions: dict[str, str] = {}
    with copies:
        versions.update(wl.update_sources())
        ctx.mark("updated_at")
        with arrived:
            reached = arrived.wait_for(lambda: versions[watched] in carried, timeout=timeout_s)
        if not reached:
            state = f" (the watch: {copies.broken or copies.last_error})" if copies.errors else ""
            raise AssertionError(
                f"no copy of {watched} reached the new version within {timeout_s:g}s: nothing faulted{state}"
            )
        target = ctx.replica_names()[0]
        ctx.notes["faulted_replica"] = target
        out = inject(ctx, fault, target)
        ctx.mark("fault_at")
    written, total = 0, 0
    for name in wl.sources:
        expected = set(wl.expected_targets(name))
        total += len(expected)
        for ns, copy in wl.copies_of(name).items():
            version = wl.system.version_of(copy.metadata.annotations, copy.metadata.labels)
            carries = version == versions[name] or (
                not wl.system.records_version and secret_view(copy) == wl.history[name][-1]
            )
            if ns in expected and carries:
                written += 1
    ctx.notes["fanout_at_kill"] = {"written": written, "total": total}
    return {**out, "copies_written_at_kill": written, "copies_total": total}
