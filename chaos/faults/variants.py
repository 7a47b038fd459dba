"""Which implementation of a fault runs where: the local provider (processes) or kind (pods, containers).

Each fault of the experiments has one implementation per provider: a table of functions (not names),
so a missing implementation fails at import and a unit test can compare the functions themselves.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from chaos.context import ChaosContext
from chaos.faults import kind, local
from fixtures.clusters.providers import KIND, LOCAL

FAULTS = ("kill-operator", "kill-leader", "freeze-leader", "thaw-leader", "restart-apiserver")
PROVIDERS = (LOCAL, KIND)  # the variants every chaos experiment with a fault has
# a kind variant keeps its journal and record apart from the local one
JOURNAL_SUFFIX = {LOCAL: "", KIND: "-kind"}

Fault = Callable[[ChaosContext, str | None], dict[str, Any]]

# fault -> provider -> (implementation, what it does)
VARIANTS: dict[str, dict[str, tuple[Fault, str]]] = {
    "kill-operator": {
        LOCAL: (local.kill_replica, "SIGKILL the controller process; the supervisor restarts it"),
        KIND: (kind.delete_every_operator_pod, "delete the operator pod with chaosk8s (grace period 0)"),
    },
    "kill-leader": {
        LOCAL: (local.kill_replica, "SIGKILL the leader's process (container restart: same identity)"),
        KIND: (kind.delete_pods, "delete the leader's pod with chaosk8s (a new pod, a new identity)"),
    },
    "freeze-leader": {
        LOCAL: (local.freeze_replica, "SIGSTOP the leader (a hung node): the follower must take over"),
        KIND: (kind.delete_pods, "delete the leader's pod with chaosk8s: the follower must take over"),
    },
    "thaw-leader": {
        LOCAL: (local.thaw_replica, "SIGCONT the old leader: it must step down, not write"),
        KIND: (kind.nothing_to_do, "nothing to thaw: the old leader's pod is gone"),
    },
    "restart-apiserver": {
        LOCAL: (local.restart_apiserver, "stop and start kube-apiserver with the same flags"),
        KIND: (kind.restart_apiserver, "crictl stop the kube-apiserver container; kubelet restarts it"),
    },
}


class UnsupportedProvider(Exception):
    """The fault has no implementation on this provider (the wrapper skips with this reason)."""


def variant(fault: str, provider: str) -> tuple[Fault, str]:
    """(implementation, description) of ``fault`` on ``provider``."""
    try:
        per_provider = VARIANTS[fault]
    except KeyError:
        raise ValueError(f"unknown fault {fault!r}; known: {', '.join(FAULTS)}") from None
    if provider not in per_provider:
        raise UnsupportedProvider(
            f"fault {fault!r} has no {provider!r} implementation (chaos experiments need a private "
            f"cluster the suite owns: local or kind)"
        )
    return per_provider[provider]


def journal_name(experiment: str, provider: str) -> str:
    """The journal (and record) name of ``experiment``'s ``provider`` variant."""
    return experiment + JOURNAL_SUFFIX[provider]


def inject(ctx: ChaosContext, fault: str, target: str | None = None) -> dict[str, Any]:
    """Carry out ``fault`` the way this context's provider does it; the output names the variant."""
    impl, description = variant(fault, ctx.provider)
    out = impl(ctx, target)
    out.update({"fault": fault, "provider": ctx.provider, "variant": description})
    return out
