"""Warning Events on sources (conflicts, invalid annotations), deduplicated so they never spam.

Events are written to the source's namespace with ``involvedObject`` pointing at the source, so
``kubectl describe secret <source>`` shows why a namespace got no copy. Messages carry names and
annotation values only, never data.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from .kube import EVENTS, Kube, KubeError
from .logs import Once

COMPONENT = "replicheck-replicator"
log = logging.getLogger("replicator.events")


def event_body(
    kind: str,
    namespace: str,
    name: str,
    uid: str,
    reason: str,
    message: str,
    *,
    instance: str,
    now: datetime | None = None,
) -> dict[str, Any]:
    """A core/v1 Warning Event about one source object."""
    ts = (now or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"generateName": f"{name}.", "namespace": namespace},
        "involvedObject": {
            "apiVersion": "v1",
            "kind": kind,
            "namespace": namespace,
            "name": name,
            "uid": uid,
        },
        "reason": reason,
        "message": message[:1000],
        "type": "Warning",
        "source": {"component": COMPONENT},
        "reportingComponent": COMPONENT,
        "reportingInstance": instance[:128],
        "firstTimestamp": ts,
        "lastTimestamp": ts,
        "count": 1,
    }


class EventRecorder:
    """Posts each distinct (object, reason, message) at most once per ``interval`` seconds."""

    def __init__(self, kube: Kube, instance: str, interval: float = 600.0) -> None:
        self.kube = kube
        self.instance = instance
        self.once = Once(interval)
        self.failed = Once(300.0)

    def warn(self, kind: str, namespace: str, name: str, uid: str, reason: str, message: str) -> None:
        if not self.once((kind, namespace, name, uid, reason, message)):
            return
        body = event_body(kind, namespace, name, uid, reason, message, instance=self.instance)
        try:
            self.kube.request(
                "POST", EVENTS.collection(namespace), body=body, verb="create", resource="events"
            )
        except KubeError as exc:
            if self.failed((exc.category, namespace)):
                log.warning(
                    "cannot record event",
                    extra={
                        "namespace": namespace,
                        "reason": reason,
                        "error": exc.category,
                        "status": exc.status,
                    },
                )
