"""Actions of the oom-kill experiment: the operator under a tight memory limit (its chart's
``resources.limits.memory``, set with ``helm upgrade`` a little above what it uses), then a burst of
large sources it must hold in memory, until the kernel kills its container for exceeding the limit
(OOMKilled). The burst is removed; the kubelet restarts the container in the same Pod, and the
operator must catch up with what changed meanwhile.

The limit is the container's working set as the kubelet measures it (``/stats/summary``, read
through the API server's node proxy) plus a headroom; the burst grows a few sources at a time until
the kill is seen, never beyond a bound (a system that never gets killed is no verdict: the
experiment did not happen). The burst's sources are declared through the system's interface, as
replication sources towards a namespace that does not exist: they are held, nothing is copied.
"""

from __future__ import annotations

import json
import math
import secrets
import time
from typing import Any

from kubernetes import client
from kubernetes.client.rest import ApiException

from chaos.context import ChaosContext, PodOperator, context_of
from chaos.faults.nodes import container_working_set
from chaos.faults.shared import retry_api
from chaos.faults.variants import inject
from fixtures.core.encoding import b64
from fixtures.core.errors import NoVerdict
from fixtures.systems import Source
from fixtures.systems.driver import Driver

BURST_LABEL = "replicheck.io/chaos-burst"
MiB = 2**20


def memory_limit_for(working_set_bytes: int, headroom_mib: int) -> str:
    """The tight limit: the working set plus ``headroom_mib``, in whole MiB."""
    return f"{math.ceil(working_set_bytes / MiB) + headroom_mib}Mi"


def burst_plan(headroom_mib: int, source_kib: int, bound: float) -> int:
    """How many burst sources at most: ``bound`` times the headroom's worth."""
    return max(1, math.ceil(bound * headroom_mib * 1024 / source_kib))


def _pods(ctx: ChaosContext) -> PodOperator:
    if not isinstance(ctx.operator, PodOperator):
        raise AssertionError("the OOM experiment needs the operator as Pods")
    return ctx.operator


def working_set(ctx: ChaosContext, name: str) -> int:
    """The operator container's working set (bytes), as its node's kubelet measures it."""
    pod = _pods(ctx).pod(name)
    container = pod.spec.containers[0].name

    def read() -> int:
        # the raw body: the client would turn a JSON answer declared as a string into a Python repr
        response = ctx.cluster.core.connect_get_node_proxy_with_path(
            pod.spec.node_name, "stats/summary", _request_timeout=(5.0, 30.0), _preload_content=False
        )
        summary = json.loads(response.data)
        found = container_working_set(summary, pod.metadata.namespace, pod.metadata.name, container)
        assert found, f"the kubelet has no memory figure for {name}/{container} yet"
        return int(found)

    return retry_api(read, 60, f"the kubelet's memory figure for {name}")


def tighten_memory_limit(headroom_mib: int = 40, configuration: dict | None = None) -> dict[str, Any]:
    """Set the memory limit to the operator's working set plus ``headroom_mib`` through its chart's
    values (``helm upgrade``: a rollout, new Pods); put back on every exit path."""
    ctx = context_of(configuration)
    name = ctx.replica_names()[0]
    used = working_set(ctx, name)
    limit = memory_limit_for(used, headroom_mib)
    out = inject(ctx, "limit-memory", limit)
    ctx.notes.update(limit=limit, working_set_before=used, headroom_mib=headroom_mib)
    return {**out, "working_set_mib": round(used / MiB, 1), "headroom_mib": headroom_mib}


def _oom_seen(ctx: ChaosContext, name: str, restarts_before: int) -> dict[str, Any] | None:
    pod = _pods(ctx).pod(name)
    for s in pod.status.container_statuses or []:
        term = s.last_state.terminated if s.last_state else None
        running_term = s.state.terminated if s.state else None
        for t in (running_term, term):
            if t is not None and (t.reason == "OOMKilled" or (s.restart_count or 0) > restarts_before):
                return {"reason": t.reason, "exit_code": t.exit_code, "restarts": s.restart_count}
    return None


def burst_until_oom_kill(
    source_kib: int = 768, step: int = 4, bound: float = 3.0, configuration: dict | None = None
) -> dict[str, Any]:
    """Create large sources ``step`` at a time until the operator's container is killed (OOMKilled,
    or any restart), at most ``bound`` times the headroom's worth (marks ``fault_at`` at the first
    source and ``oom_at`` when the kill is seen), then change the workload's sources: the restarted
    operator must catch up with them."""
    ctx = context_of(configuration)
    wl, system = ctx.workload, ctx.system
    assert wl is not None
    assert system is not None
    replicas = ctx.operator.replicas()
    name = replicas[0].name
    ctx.notes.update(
        restarts_before={r.name: r.restarts for r in replicas},
        replicas_before={r.name: r for r in replicas},
        faulted_replica=name,
    )
    if "limit" not in ctx.notes:
        raise AssertionError("the memory limit was not tightened: there is no limit to exceed")
    headroom = int(ctx.notes["headroom_mib"])
    most = burst_plan(headroom, source_kib, bound)
    namespace = ctx.cluster.create_namespace("burst")
    ctx.notes["burst_namespace"] = namespace
    nowhere = f"{namespace}-nowhere"  # never created: the burst is held, never copied
    driver = Driver(system, ctx.cluster)
    made, seen = 0, None
    ctx.mark("fault_at")
    while made < most and seen is None:
        for _ in range(min(step, most - made)):
            source = Source("Secret", namespace, f"burst-{made}")
            declaration = system.declare(source, system.target_for([nowhere]))
            meta = declaration.metadata()
            ctx.cluster.core.create_namespaced_secret(
                namespace,
                client.V1Secret(
                    metadata=client.V1ObjectMeta(
                        name=source.name,
                        annotations=meta["annotations"] or None,
                        labels={**(meta["labels"] or {}), BURST_LABEL: "true"},
                    ),
                    data={"filler": b64(secrets.token_bytes(source_kib * 1024))},
                ),
            )
            driver.apply_resources(declaration)
            made += 1
        seen = _oom_seen(ctx, name, ctx.notes["restarts_before"][name])
    if seen is None:
        # the experiment did not happen: a system that holds no payload never gets killed this way
        raise NoVerdict(
            f"no OOM kill after {made} sources of {source_kib} KiB "
            f"({made * source_kib / 1024:.0f} MiB) under a limit of {ctx.notes.get('limit')}"
        )
    ctx.mark("oom_at")
    ctx.notes["oom"] = seen
    versions = retry_api(wl.update_sources, 30, "the source update to be accepted")
    ctx.mark("updated_at")
    return {
        "burst_sources": made,
        "burst_mib": round(made * source_kib / 1024, 1),
        "limit": ctx.notes.get("limit"),
        "killed": seen,
        "oom_after_s": round(ctx.marks["oom_at"] - ctx.marks["fault_at"], 3),
        "updated": sorted(versions),
    }


def remove_burst(configuration: dict | None = None) -> dict[str, Any]:
    """Delete the burst's sources (also the rollback): the pressure goes away."""
    ctx = context_of(configuration)
    namespace = ctx.notes.get("burst_namespace")
    if not namespace:
        return {"removed": 0}
    try:
        listed = ctx.cluster.core.list_namespaced_secret(namespace, label_selector=f"{BURST_LABEL}=true")
        count = len(listed.items)
        ctx.cluster.core.delete_collection_namespaced_secret(namespace, label_selector=f"{BURST_LABEL}=true")
    except ApiException as exc:
        if exc.status != 404:
            raise
        count = 0
    ctx.mark("burst_removed_at")
    return {"removed": count, "namespace": namespace, "at_s_after_oom": _since(ctx, "oom_at")}


def _since(ctx: ChaosContext, mark: str) -> float | None:
    return round(time.monotonic() - ctx.marks[mark], 3) if mark in ctx.marks else None


def restore(configuration: dict | None = None) -> dict[str, Any]:
    """Rollback: the burst removed and the memory limit put back (its chart values before)."""
    ctx = context_of(configuration)
    removed = remove_burst(configuration)
    return {**removed, "resumed": ctx.resume_all()}
