"""Which implementation of a fault runs in which variant of an experiment: ``local`` (the system as
processes beside a local control plane), ``kind`` (Pods on a kind cluster) or ``nodes`` (Pods on the
local provider's real nodes: containerd and a kubelet each, the control plane as processes).

Each fault has one implementation per variant that can carry it out: a table of functions (not
names), so a missing implementation fails at import and a unit test can compare the functions
themselves. A fault that needs a kubelet (a container killed in place, a hung container) has no
``local`` variant; one that needs the machine's nodes (a node lost) has only ``nodes``. An
experiment runs in the variants of its faults (:func:`providers_of`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from chaos.context import ChaosContext
from chaos.faults import containers, kind, local, nodes, pods
from fixtures.clusters.providers import KIND, LOCAL, NODES

# every variant, in the order tests are parametrized
PROVIDERS = (LOCAL, KIND, NODES)
# a kind or nodes variant keeps its journal and record apart from the local one
JOURNAL_SUFFIX = {LOCAL: "", KIND: "-kind", NODES: "-nodes"}

Fault = Callable[[ChaosContext, str | None], dict[str, Any]]

# fault -> variant -> (implementation, what it does)
VARIANTS: dict[str, dict[str, tuple[Fault, str]]] = {
    "kill-operator": {
        LOCAL: (local.kill_replica, "SIGKILL the controller process; the supervisor restarts it"),
        KIND: (pods.delete_every_operator_pod, "delete the operator's Pods with chaosk8s (grace period 0)"),
        NODES: (pods.delete_every_operator_pod, "delete the operator's Pods with chaosk8s (grace period 0)"),
    },
    "kill-leader": {
        LOCAL: (local.kill_replica, "SIGKILL the leader's process (container restart: same identity)"),
        KIND: (pods.delete_pods, "delete the leader's Pod with chaosk8s (a new Pod, a new identity)"),
        NODES: (pods.delete_pods, "delete the leader's Pod with chaosk8s (a new Pod, a new identity)"),
    },
    "freeze-leader": {
        LOCAL: (local.freeze_replica, "SIGSTOP the leader (a hung node): the follower must take over"),
        KIND: (pods.delete_pods, "delete the leader's Pod with chaosk8s: the follower must take over"),
        NODES: (
            nodes.hang_container,
            "SIGSTOP the leader's container through its node's containerd: the follower must take over",
        ),
    },
    "thaw-leader": {
        LOCAL: (local.thaw_replica, "SIGCONT the old leader: it must step down, not write"),
        KIND: (pods.nothing_to_do, "nothing to thaw: the old leader's Pod is gone"),
        NODES: (containers.resume, "SIGCONT the old leader's container: it must step down, not write"),
    },
    "restart-apiserver": {
        LOCAL: (local.restart_apiserver, "stop and start kube-apiserver with the same flags"),
        KIND: (kind.restart_apiserver, "crictl stop the kube-apiserver container; kubelet restarts it"),
        NODES: (local.restart_apiserver, "stop and start kube-apiserver (the control plane is processes)"),
    },
    "kill-container": {
        KIND: (
            kind.kill_container,
            "SIGKILL the container in place (ctr in the kind node); kubelet restarts it",
        ),
        NODES: (
            nodes.kill_container,
            "SIGKILL the container in place through its node's containerd; the kubelet restarts it",
        ),
    },
    "hang-container": {
        KIND: (kind.hang_container, "SIGSTOP the container's main process (ctr in the kind node)"),
        NODES: (
            nodes.hang_container,
            "SIGSTOP the container's main process through its node's containerd",
        ),
    },
    "limit-memory": {
        NODES: (
            nodes.limit_memory,
            "helm upgrade of the system's release with a tight resources.limits.memory (restored after)",
        ),
    },
    "freeze-node": {
        NODES: (nodes.freeze_node, "freeze the node's cgroup: its kubelet, containerd and containers stop"),
    },
    "thaw-node": {
        NODES: (nodes.thaw_node, "thaw the node's cgroup: everything on it runs on where it stopped"),
    },
}
FAULTS = tuple(VARIANTS)


class UnsupportedProvider(Exception):
    """The fault has no implementation in this variant (the wrapper skips with this reason)."""


def variant(fault: str, provider: str) -> tuple[Fault, str]:
    """(implementation, description) of ``fault`` in the variant ``provider``."""
    try:
        per_provider = VARIANTS[fault]
    except KeyError:
        raise ValueError(f"unknown fault {fault!r}; known: {', '.join(FAULTS)}") from None
    if provider not in per_provider:
        raise UnsupportedProvider(
            f"fault {fault!r} has no {provider!r} implementation (it runs in: {', '.join(per_provider)})"
        )
    return per_provider[provider]


def providers_of(*faults: str) -> tuple[str, ...]:
    """The variants that carry out every one of ``faults`` (an experiment's parametrization)."""
    unknown = [f for f in faults if f not in VARIANTS]
    if unknown:
        raise ValueError(f"unknown fault(s) {', '.join(unknown)}; known: {', '.join(FAULTS)}")
    return tuple(p for p in PROVIDERS if all(p in VARIANTS[f] for f in faults))


def journal_name(experiment: str, provider: str) -> str:
    """The journal (and record) name of ``experiment``'s ``provider`` variant."""
    return experiment + JOURNAL_SUFFIX[provider]


def inject(ctx: ChaosContext, fault: str, target: str | None = None) -> dict[str, Any]:
    """Carry out ``fault`` the way this context's variant does it; the output names the variant."""
    impl, description = variant(fault, ctx.variant)
    out = impl(ctx, target)
    out.update({"fault": fault, "provider": ctx.provider, "variant": ctx.variant, "how": description})
    return out
