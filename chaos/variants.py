"""Which implementation of a fault runs where: the local provider (processes) or kind (pods, containers).

Each fault of the experiments has one implementation per provider, picked by :func:`variant`. The
kind ones go through chaostoolkit-kubernetes (pod deletion) or ``docker exec`` into the kind node
(restarting the kube-apiserver container); their commands are plain data so they are unit-tested
without Docker. Restarting the *whole* node container (``docker restart <node>``) is deliberately not
used: on a one-node kind cluster it restarts the operator's pod too, and experiment 3 must show that
replication resumes *without* an operator restart.
"""

from __future__ import annotations

import contextlib
import os
import re
import threading
from collections.abc import Iterator
from typing import Any

from chaos.context import OPERATOR_LABEL, OPERATOR_NAMESPACE

FAULTS = ("kill-operator", "kill-leader", "freeze-leader", "thaw-leader", "restart-apiserver")
PROVIDERS = ("local", "kind")

# fault -> provider -> (implementation name in chaos.actions, what it does)
VARIANTS: dict[str, dict[str, tuple[str, str]]] = {
    "kill-operator": {
        "local": ("_local_kill_replica", "SIGKILL the controller process; the supervisor restarts it"),
        "kind": ("_kind_delete_pods", "delete the operator pod with chaosk8s (grace period 0)"),
    },
    "kill-leader": {
        "local": ("_local_kill_replica", "SIGKILL the leader's process (container restart: same identity)"),
        "kind": ("_kind_delete_pods", "delete the leader's pod with chaosk8s (a new pod, a new identity)"),
    },
    "freeze-leader": {
        "local": ("_local_freeze_replica", "SIGSTOP the leader (a hung node): the follower must take over"),
        "kind": ("_kind_delete_pods", "delete the leader's pod with chaosk8s: the follower must take over"),
    },
    "thaw-leader": {
        "local": ("_local_thaw_replica", "SIGCONT the old leader: it must step down, not write"),
        "kind": ("_noop", "nothing to thaw: the old leader's pod is gone"),
    },
    "restart-apiserver": {
        "local": ("_local_restart_apiserver", "stop and start kube-apiserver with the same flags"),
        "kind": ("_kind_restart_apiserver", "crictl stop the kube-apiserver container; kubelet restarts it"),
    },
}


class UnsupportedProvider(Exception):
    """The fault has no implementation on this provider (the wrapper skips with this reason)."""


def variant(fault: str, provider: str) -> tuple[str, str]:
    """(implementation name, description) of ``fault`` on ``provider``."""
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


# --- kind: command plans and chaosk8s plumbing ---------------------------------------------------------


def kind_node(kind_name: str) -> str:
    """The control-plane node container of a one-node kind cluster."""
    return f"{kind_name}-control-plane"


def kind_apiserver_restart_commands(kind_name: str) -> list[list[str]]:
    """Stop the kube-apiserver container inside the kind node; kubelet starts a new one (static pod)."""
    return [
        [
            "docker",
            "exec",
            kind_node(kind_name),
            "sh",
            "-c",
            'ids=$(crictl ps -q --name kube-apiserver) && test -n "$ids" && crictl stop $ids',
        ]
    ]


def pod_delete_arguments(name: str | None = None) -> dict[str, Any]:
    """Arguments of ``chaosk8s.pod.actions.terminate_pods`` for the operator (or one named pod of it).

    With no name, every operator pod matches (``all=True``); chaosk8s returns ``[]`` without raising
    when nothing matches, so callers must check the output.
    """
    args: dict[str, Any] = {
        "label_selector": OPERATOR_LABEL,
        "ns": OPERATOR_NAMESPACE,
        "grace_period": 0,
        "all": name is None,
    }
    if name is not None:
        args["name_pattern"] = f"^{re.escape(name)}$"
    return args


_ENV_LOCK = threading.Lock()
_NO_KUBECONFIG = "/nonexistent/replicheck-chaosk8s-uses-explicit-secrets"


@contextlib.contextmanager
def chaosk8s_explicit_credentials() -> Iterator[None]:
    """Make chaosk8s use the host/token/CA in its ``secrets`` (its branch 3), never a kubeconfig.

    chaosk8s loads ``$KUBECONFIG`` or ``~/.kube/config`` whenever that file exists, and then ignores
    the credentials it was given (tooling.md 2.2): on a developer machine that is some other cluster.
    For the duration of the call KUBECONFIG points at a path that cannot exist. Our own clients never
    read KUBECONFIG (fixtures.clients passes config files explicitly), so nothing else is affected.
    """
    with _ENV_LOCK:
        saved = {
            k: os.environ.get(k) for k in ("KUBECONFIG", "CHAOSTOOLKIT_IN_POD", "HTTP_PROXY", "NO_PROXY")
        }
        os.environ["KUBECONFIG"] = _NO_KUBECONFIG
        for key in (
            "CHAOSTOOLKIT_IN_POD",
            "HTTP_PROXY",
            "NO_PROXY",
        ):  # no proxy: cluster traffic stays direct
            os.environ.pop(key, None)
        try:
            yield
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
