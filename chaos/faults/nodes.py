"""How faults are carried out on the local provider's nodes (the ``nodes`` variant): the system's
containers signalled through each node's own containerd socket, and a whole node lost.

A node is lost by freezing it (``NodeSet.freeze``: the v1 freezer cgroup holding its kubelet, its
containerd, the shims and its Pods' containers): nothing on it runs, nothing on it answers, its
sockets stay open, exactly what a hung machine or a partition looks like from the control plane.
The thaw is registered before the freeze (``ChaosContext.hold``), so every exit path thaws it (the
experiment's rollback, the fixture's teardown; after a killed run the guardian and the next run's
reaper thaw it too, fixtures/clusters/nodes/host.py). Pod deletion goes through the API as on any
cluster that runs Pods (chaos/faults/pods.py); the control plane is processes, so its API server is
restarted as on the local provider (chaos/faults/local.py). A tighter memory limit is set the way a
platform team sets it: ``helm upgrade`` of the system's release with new chart values (restored on
every exit path).
"""

from __future__ import annotations

import subprocess
import time
from typing import Any

from chaos.context import ChaosContext, PodOperator
from chaos.faults import containers
from fixtures.clusters.binaries import find_tool
from fixtures.clusters.local import LocalProvider
from fixtures.clusters.nodes.node import NodeSet
from fixtures.core.waiting import eventually


def node_set(ctx: ChaosContext) -> NodeSet:
    """The nodes of the experiment's private cluster (started by this process)."""
    provider = ctx.cluster.provider
    nodes = provider.plane.node_set if isinstance(provider, LocalProvider) else None
    if nodes is None:
        raise AssertionError(f"the nodes variant needs a local cluster with nodes, not {provider.name}")
    return nodes


def ctr_prefix(ctx: ChaosContext) -> containers.CtrPrefix:
    nodes = node_set(ctx)
    return lambda node: containers.socket_prefix(str(nodes.layout(node).socket))


def kill_container(ctx: ChaosContext, name: str | None) -> dict[str, Any]:
    assert name is not None, "name the replica whose container is killed"
    return containers.kill(ctx, name, ctr_prefix(ctx))


def hang_container(ctx: ChaosContext, name: str | None) -> dict[str, Any]:
    assert name is not None, "name the replica whose container hangs"
    return containers.hang(ctx, name, ctr_prefix(ctx))


def node_key(node: str) -> str:
    return f"node {node}"


def freeze_node(ctx: ChaosContext, node: str | None) -> dict[str, Any]:
    """Lose the node ``node``: freeze everything on it (thawed on every exit path)."""
    assert node is not None, "name the node to freeze"
    nodes = node_set(ctx)
    layout = nodes.layout(node)  # a KeyError names the run's nodes
    ctx.hold(node_key(node), lambda: nodes.thaw(node))
    t0 = time.monotonic()
    nodes.freeze(node)

    def frozen() -> None:  # FREEZING until every task of the node's cgroups has stopped
        assert nodes.frozen(node), f"{node} is not FROZEN yet"

    eventually(frozen, timeout=10, interval=0.05, description=f"{node} to be frozen")
    return {
        "node": node,
        "address": layout.address,
        "frozen": nodes.frozen(node),
        "freeze_s": round(time.monotonic() - t0, 3),
    }


def thaw_node(ctx: ChaosContext, node: str | None) -> dict[str, Any]:
    """Bring the frozen node back (its kubelet, containerd and containers run on where they stopped)."""
    assert node is not None, "name the node to thaw"
    nodes = node_set(ctx)
    thawed = ctx.release(node_key(node))
    return {"node": node, "thawed": thawed, "frozen": nodes.frozen(node)}


# --- a tighter memory limit through the chart's values ---------------------------------------------------

HELM_TIMEOUT = "180s"


def memory_values(limit: str, request: str) -> list[str]:
    """The chart values that set the container's memory limit and request (``--set`` pairs)."""
    return [f"resources.limits.memory={limit}", f"resources.requests.memory={request}"]


def helm_upgrade_command(
    helm: str, release: str, chart: str, namespace: str, kubeconfig: str, values: list[str]
) -> list[str]:
    """``helm upgrade`` of the release with its current values and ``values`` on top, waiting for the
    rollout (what a platform team types to change a limit)."""
    cmd = [helm, "upgrade", release, chart, "--namespace", namespace, "--reuse-values"]
    for value in values:
        cmd += ["--set", value]
    return [*cmd, "--wait", "--timeout", HELM_TIMEOUT, "--kubeconfig", kubeconfig]


def container_working_set(summary: dict[str, Any], namespace: str, pod: str, container: str) -> int | None:
    """A container's memory working set (bytes) from the kubelet's ``/stats/summary``."""
    for entry in summary.get("pods", []):
        ref = entry.get("podRef", {})
        if ref.get("namespace") == namespace and ref.get("name") == pod:
            for c in entry.get("containers", []):
                if c.get("name") == container:
                    return (c.get("memory") or {}).get("workingSetBytes")
    return None


def _helm(ctx: ChaosContext, values: list[str]) -> None:
    deployment = ctx.saved.get("deployment")
    packaging = ctx.system.packaging if ctx.system is not None else None
    chart = getattr(packaging, "chart", None)
    if deployment is None or not deployment.release or chart is None:
        raise AssertionError("the memory limit is set through a Helm release of the system's own chart")
    cmd = helm_upgrade_command(
        str(find_tool("helm")),
        deployment.release,
        str(chart),
        deployment.namespace,
        str(ctx.cluster.kubeconfig),
        values,
    )
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=240, check=False)
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise AssertionError(f"helm upgrade {' '.join(values)} failed: {last[:300]}")


def limit_memory(ctx: ChaosContext, limit: str | None) -> dict[str, Any]:
    """Upgrade the system's Helm release with memory limit (and request) ``limit``; the values it had
    are put back on every exit path (held)."""
    assert limit is not None, "give the memory limit (a quantity such as 80Mi)"
    pods = ctx.operator.pods() if isinstance(ctx.operator, PodOperator) else []
    if not pods:
        raise AssertionError("no Pod of the system: nothing runs under a memory limit")
    resources = pods[0].spec.containers[0].resources
    before_limit = (resources.limits or {}).get("memory")
    before_request = (resources.requests or {}).get("memory")
    if not before_limit or not before_request:
        raise AssertionError(f"the container sets no memory limit and request to restore ({resources})")
    t0 = time.monotonic()
    ctx.hold("memory limit", lambda: _helm(ctx, memory_values(before_limit, before_request)))
    _helm(ctx, memory_values(limit, limit))
    return {
        "limit": limit,
        "before": {"limit": before_limit, "request": before_request},
        "rollout_s": round(time.monotonic() - t0, 3),
    }
