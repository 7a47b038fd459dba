"""Faults carried out through the API on any cluster that runs Pods (kind, the local nodes): a Pod
deleted with chaostoolkit-kubernetes (chaosk8s), as a least-privilege ServiceAccount.

chaosk8s gets explicit host/token/CA of a ``chaos-runner`` ServiceAccount that may get, list and
delete Pods in the system's namespace only, and is kept from reading any kubeconfig. Its arguments
are plain data (:func:`pod_delete_arguments`), unit-tested without a cluster.
"""

from __future__ import annotations

import contextlib
import os
import re
import threading
from collections.abc import Iterator, Sequence
from typing import Any

from kubernetes import client
from kubernetes.client.rest import ApiException

from chaos.context import ChaosContext

CHAOS_RUNNER_NS = "replicheck-chaos"
CHAOS_RUNNER_SA = "chaos-runner"
POD_KILLER = "replicheck-chaos-pod-killer"  # its Role and RoleBinding in the system's namespace


def pod_delete_arguments(namespace: str, names: Sequence[str]) -> dict[str, Any]:
    """Arguments of ``chaosk8s.pod.actions.terminate_pods`` that delete exactly the Pods ``names``
    in ``namespace`` at once (grace period 0). chaosk8s returns ``[]`` without raising when nothing
    matches, so callers must check the output."""
    if not names:
        raise ValueError("name the Pods to delete: an empty pattern would match every Pod")
    return {
        "name_pattern": "^(?:" + "|".join(re.escape(n) for n in sorted(names)) + ")$",
        "ns": namespace,
        "grace_period": 0,
        "all": True,
    }


_ENV_LOCK = threading.Lock()
_NO_KUBECONFIG = "/nonexistent/replicheck-chaosk8s-uses-explicit-secrets"


@contextlib.contextmanager
def chaosk8s_explicit_credentials() -> Iterator[None]:
    """Make chaosk8s use the host/token/CA in its ``secrets`` (its branch 3), never a kubeconfig.

    chaosk8s loads ``$KUBECONFIG`` or ``~/.kube/config`` whenever that file exists, and then ignores
    the credentials it was given (tooling.md 2.2): on a developer machine that is some other cluster.
    For the duration of the call KUBECONFIG points at a path that cannot exist. Our own clients never
    read KUBECONFIG (fixtures.clusters.clients passes config files explicitly), so nothing else is affected.
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


def chaos_runner_secrets(ctx: ChaosContext) -> dict[str, str]:
    """Host, token and CA of a least-privilege ServiceAccount for chaosk8s (delete the system's Pods
    only). Kept out of the experiment document and the journal: it is handed to chaosk8s as the
    secrets of its call only."""
    cached = ctx.saved.get("chaos_runner_secrets")
    if cached:
        return cached
    core, rbac = ctx.cluster.core, ctx.rbac
    namespace = ctx.names.namespace
    with contextlib.suppress(ApiException):
        core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=CHAOS_RUNNER_NS)))
    with contextlib.suppress(ApiException):
        core.create_namespaced_service_account(
            CHAOS_RUNNER_NS, client.V1ServiceAccount(metadata=client.V1ObjectMeta(name=CHAOS_RUNNER_SA))
        )
    with contextlib.suppress(ApiException):
        rbac.create_namespaced_role(
            namespace,
            client.V1Role(
                metadata=client.V1ObjectMeta(name=POD_KILLER),
                rules=[
                    client.V1PolicyRule(api_groups=[""], resources=["pods"], verbs=["get", "list", "delete"])
                ],
            ),
        )
    with contextlib.suppress(ApiException):
        rbac.create_namespaced_role_binding(
            namespace,
            client.V1RoleBinding(
                metadata=client.V1ObjectMeta(name=POD_KILLER),
                role_ref=client.V1RoleRef(
                    api_group="rbac.authorization.k8s.io", kind="Role", name=POD_KILLER
                ),
                subjects=[
                    client.RbacV1Subject(
                        kind="ServiceAccount", name=CHAOS_RUNNER_SA, namespace=CHAOS_RUNNER_NS
                    )
                ],
            ),
        )
    cfg = ctx.cluster.api.configuration
    secrets = {
        "KUBERNETES_HOST": cfg.host,
        "KUBERNETES_API_KEY": ctx.cluster.service_account_token(CHAOS_RUNNER_NS, CHAOS_RUNNER_SA, 3600),
        "KUBERNETES_API_KEY_PREFIX": "Bearer",
        "KUBERNETES_VERIFY_SSL": "true",
        "KUBERNETES_CA_CERT_FILE": str(cfg.ssl_ca_cert or ""),
    }
    ctx.saved["chaos_runner_secrets"] = secrets
    return secrets


def delete_named_pods(ctx: ChaosContext, names: Sequence[str]) -> list[str]:
    """Delete the Pods ``names`` of the system's namespace with chaosk8s; the Pods it deleted."""
    from chaosk8s.pod.actions import terminate_pods

    secrets = chaos_runner_secrets(ctx)
    with chaosk8s_explicit_credentials():
        deleted = terminate_pods(**pod_delete_arguments(ctx.names.namespace, names), secrets=secrets)
    if not deleted:  # chaosk8s returns [] without raising when nothing matched
        raise AssertionError(f"chaosk8s deleted no pod (wanted {', '.join(names)}: none matched)")
    return list(deleted)


def delete_pods(ctx: ChaosContext, name: str | None) -> dict[str, Any]:
    """Delete the Pod ``name`` (a replica; the leader, for the leader faults)."""
    assert name is not None, "name the Pod to delete"
    return {"replica": name, "deleted_pods": delete_named_pods(ctx, [name])}


def delete_every_operator_pod(ctx: ChaosContext, name: str | None) -> dict[str, Any]:
    """Kill "the operator" on Pods: every Pod it runs (a local kill names one replica process)."""
    names = [r.name for r in ctx.operator.replicas()]
    if not names:
        raise AssertionError("no Pod of the operator to delete")
    return {"replica": name, "deleted_pods": delete_named_pods(ctx, names)}


def nothing_to_do(ctx: ChaosContext, name: str | None) -> dict[str, Any]:
    return {"replica": name, "skipped": "nothing to do on this provider"}
