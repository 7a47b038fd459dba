"""How faults are carried out on kind: pods deleted through chaostoolkit-kubernetes, and the
kube-apiserver container stopped inside the kind node (kubelet restarts it).

The commands and chaosk8s arguments are plain data, so they are unit-tested without Docker.
Restarting the *whole* node container (``docker restart <node>``) is deliberately not used: on a
one-node kind cluster it restarts the operator's pod too, and the apiserver-restart experiment must
show that replication resumes *without* an operator restart.
"""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import threading
import time
from collections.abc import Iterator
from typing import Any

from kubernetes import client
from kubernetes.client.rest import ApiException

from chaos.context import OPERATOR_LABEL, OPERATOR_NAMESPACE, ChaosContext
from chaos.faults.shared import retry_api
from fixtures.clusters.providers import KindProvider

CHAOS_RUNNER_NS = "replicheck-chaos"
CHAOS_RUNNER_SA = "chaos-runner"


# --- command plans ------------------------------------------------------------------------------------


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


# --- chaosk8s plumbing --------------------------------------------------------------------------------

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
    """Host, token and CA of a least-privilege ServiceAccount for chaosk8s (delete operator pods only).

    Kept out of the experiment document and the journal: it is handed to chaosk8s as the secrets
    of its call only.
    """
    cached = ctx.saved.get("chaos_runner_secrets")
    if cached:
        return cached
    core, rbac = ctx.cluster.core, ctx.rbac
    with contextlib.suppress(ApiException):
        core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=CHAOS_RUNNER_NS)))
    with contextlib.suppress(ApiException):
        core.create_namespaced_service_account(
            CHAOS_RUNNER_NS, client.V1ServiceAccount(metadata=client.V1ObjectMeta(name=CHAOS_RUNNER_SA))
        )
    with contextlib.suppress(ApiException):
        rbac.create_namespaced_role(
            OPERATOR_NAMESPACE,
            client.V1Role(
                metadata=client.V1ObjectMeta(name="replicheck-chaos-pod-killer"),
                rules=[
                    client.V1PolicyRule(api_groups=[""], resources=["pods"], verbs=["get", "list", "delete"])
                ],
            ),
        )
    with contextlib.suppress(ApiException):
        rbac.create_namespaced_role_binding(
            OPERATOR_NAMESPACE,
            client.V1RoleBinding(
                metadata=client.V1ObjectMeta(name="replicheck-chaos-pod-killer"),
                role_ref=client.V1RoleRef(
                    api_group="rbac.authorization.k8s.io", kind="Role", name="replicheck-chaos-pod-killer"
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


# --- the kind variants -----------------------------------------------------------------------------------


def delete_pods(ctx: ChaosContext, name: str | None) -> dict[str, Any]:
    from chaosk8s.pod.actions import terminate_pods

    secrets = chaos_runner_secrets(ctx)
    with chaosk8s_explicit_credentials():
        deleted = terminate_pods(**pod_delete_arguments(name), secrets=secrets)
    if not deleted:  # chaosk8s returns [] without raising when nothing matched
        raise AssertionError(f"chaosk8s deleted no pod (selector matched nothing; wanted {name or 'any'})")
    return {"replica": name, "deleted_pods": deleted}


def delete_every_operator_pod(ctx: ChaosContext, name: str | None) -> dict[str, Any]:
    """Kill "the operator" on kind: every operator pod (a local kill names one replica process)."""
    return delete_pods(ctx, None)


def nothing_to_do(ctx: ChaosContext, name: str | None) -> dict[str, Any]:
    return {"replica": name, "skipped": "nothing to do on this provider"}


def restart_apiserver(ctx: ChaosContext, name: str | None) -> dict[str, Any]:
    provider = ctx.cluster.provider
    if not isinstance(provider, KindProvider):
        raise AssertionError(f"the kind restart needs a kind cluster, not {provider.name}")
    t0 = time.monotonic()
    for cmd in kind_apiserver_restart_commands(provider.plan.name):
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=False)
        if proc.returncode != 0:
            raise AssertionError(f"`{' '.join(cmd[:3])}` failed: {proc.stderr.strip()[:200]}")
    retry_api(lambda: client.VersionApi(ctx.cluster.api).get_code(), 120, "kube-apiserver to answer again")
    return {"component": "kube-apiserver", "downtime_s": round(time.monotonic() - t0, 3)}
