"""How faults are carried out on kind: the kube-apiserver container stopped inside the kind node
(kubelet restarts it), and the system's containers signalled through the node's containerd. Pods
are deleted through the API as on any cluster that runs Pods (chaos/faults/pods.py).

The commands are plain data, so they are unit-tested without Docker. Restarting the *whole* node
container (``docker restart <node>``) is deliberately not used: on a one-node kind cluster it
restarts the operator's pod too, and the apiserver-restart experiment must show that replication
resumes *without* an operator restart.
"""

from __future__ import annotations

import subprocess
import time
from typing import Any

from kubernetes import client

from chaos.context import ChaosContext
from chaos.faults import containers
from chaos.faults.shared import retry_api
from fixtures.clusters.providers import KindProvider


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


def kill_container(ctx: ChaosContext, name: str | None) -> dict[str, Any]:
    assert name is not None, "name the replica whose container is killed"
    return containers.kill(ctx, name, containers.kind_prefix)


def hang_container(ctx: ChaosContext, name: str | None) -> dict[str, Any]:
    assert name is not None, "name the replica whose container hangs"
    return containers.hang(ctx, name, containers.kind_prefix)
