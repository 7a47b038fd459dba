"""A container of the system signalled in place through its node's containerd: the Pod stays, the
kubelet sees its container die or hang and acts (restart, liveness probe), as it would for a crash
or a deadlock in production.

The command is ``ctr task kill --signal SIG <container id>`` against the containerd of the node the
Pod runs on, in the CRI's ``k8s.io`` namespace: on the local nodes through the node's own socket, on
kind inside the node container (``docker exec <node> ctr ...``: a kind node's container is named
after its Kubernetes node). Without ``--all`` the signal goes to the container's init process, the
system's main process (PID 1 in the container): a SIGKILL or SIGSTOP sent from the host's PID
namespace reaches it whatever handlers it set. The argument lists are plain data (unit-tested).
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from chaos.context import ChaosContext, ReplicaView

#: the containerd namespace the CRI plugin keeps Kubernetes containers in
CRI_NAMESPACE = "k8s.io"
CTR_TIMEOUT = 30.0

#: node name -> the command prefix that runs ``ctr`` against that node's containerd
CtrPrefix = Callable[[str], list[str]]


def socket_prefix(socket: str) -> list[str]:
    """``ctr`` against a node's containerd socket on this machine (the local nodes)."""
    return ["ctr", "--address", socket, "--namespace", CRI_NAMESPACE]


def kind_prefix(node: str) -> list[str]:
    """``ctr`` inside a kind node's container (named after the node)."""
    return ["docker", "exec", node, "ctr", "--namespace", CRI_NAMESPACE]


def runtime_id(container_id: str) -> str:
    """The runtime's ID of a container from its Pod status (``containerd://<id>``)."""
    scheme, sep, ident = container_id.partition("://")
    if not sep or scheme != "containerd" or not ident:
        raise ValueError(f"not a containerd container ID: {container_id!r}")
    return ident


def signal_command(prefix: list[str], container_id: str, signal_name: str) -> list[str]:
    """The command that sends ``signal_name`` (``SIGKILL``, ``SIGSTOP``, ``SIGCONT``) to the
    container's main process."""
    if not signal_name.startswith("SIG"):
        raise ValueError(f"a signal name such as SIGKILL, not {signal_name!r}")
    return [*prefix, "task", "kill", "--signal", signal_name, runtime_id(container_id)]


@dataclass(frozen=True)
class Signalled:
    """One signal delivered: to which replica's container, on which node, with what command."""

    replica: str
    node: str
    container_id: str
    signal: str
    command: list[str]

    def output(self) -> dict[str, Any]:
        return {
            "replica": self.replica,
            "node": self.node,
            "container_id": self.container_id,
            "signal": self.signal,
            "command": " ".join([*self.command[:-1], runtime_id(self.container_id)[:12]]),
        }


def find_replica(ctx: ChaosContext, name: str) -> ReplicaView | None:
    return next((r for r in ctx.operator.replicas() if r.name == name), None)


def replica_view(ctx: ChaosContext, name: str) -> ReplicaView:
    found = find_replica(ctx, name)
    if found is None:
        raise AssertionError(f"no replica named {name}: {ctx.replica_names()}")
    return found


def signal_container(ctx: ChaosContext, name: str, signal_name: str, prefix: CtrPrefix) -> Signalled:
    """Send ``signal_name`` to the running container of the Pod ``name``, on its node."""
    replica = replica_view(ctx, name)
    if not replica.node or not replica.container_id:
        raise AssertionError(f"{name} has no running container on a node (node {replica.node})")
    cmd = signal_command(prefix(replica.node), replica.container_id, signal_name)
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=CTR_TIMEOUT, check=False)
    if proc.returncode != 0:
        raise AssertionError(f"ctr task kill --signal {signal_name} failed: {proc.stderr.strip()[-300:]}")
    return Signalled(name, replica.node, replica.container_id, signal_name, cmd)


def kill(ctx: ChaosContext, name: str, prefix: CtrPrefix) -> dict[str, Any]:
    """SIGKILL the container in place: the kubelet restarts it in the same Pod (restartCount + 1)."""
    return signal_container(ctx, name, "SIGKILL", prefix).output()


def hang(ctx: ChaosContext, name: str, prefix: CtrPrefix) -> dict[str, Any]:
    """SIGSTOP the container's main process (a deadlock: nothing answers, nothing exits); held, so
    every exit path sends SIGCONT (unless the kubelet restarted the container meanwhile)."""
    replica = replica_view(ctx, name)
    what = f"container {name}"

    def resume() -> None:
        current = find_replica(ctx, name)
        # the same container still there (not restarted, Pod not deleted): let it run again
        if current is not None and current.container_id == replica.container_id:
            signal_container(ctx, name, "SIGCONT", prefix)

    ctx.hold(what, resume)
    return signal_container(ctx, name, "SIGSTOP", prefix).output()


def resume(ctx: ChaosContext, name: str | None) -> dict[str, Any]:
    """SIGCONT what :func:`hang` stopped (nothing when the kubelet restarted it already)."""
    return {"replica": name, "resumed": ctx.resume_all(), "signal": "SIGCONT"}
