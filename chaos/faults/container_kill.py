"""Actions of the container-kill experiment: the operator's container SIGKILLed in place through its
node's containerd in the middle of a fan-out; the kubelet restarts it in the same Pod."""

from __future__ import annotations

from typing import Any

from chaos.context import context_of
from chaos.faults.midfanout import fault_mid_fanout


def kill_container_mid_fanout(timeout_s: float = 30.0, configuration: dict | None = None) -> dict[str, Any]:
    """Update every source and SIGKILL the first replica's container as soon as the first copy carries
    the new version (chaos/faults/midfanout.py): a crash, not a deletion; the Pod stays."""
    return fault_mid_fanout(context_of(configuration), "kill-container", timeout_s)
