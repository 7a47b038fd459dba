"""Warning Events on sources (conflicts, invalid annotations), deduplicated so they never spam.

Events are written to the source's namespace with ``involvedObject`` pointing at the source, so
``kubectl describe secret <source>`` shows why a namespace got no copy. Messages carry names and
annotation values only, never data.
"""

from __future__ import annotations

import logging
from collections.abc import Hashable
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
    api_version: str = "v1",
    type_: str = "Warning",
    component: str = COMPONENT,
) -> dict[str, Any]:
    """A core/v1 Event about one object (by default a Warning about a source Secret/ConfigMap)."""
    ts = (now or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"generateName": f"{name}.", "namespace": namespace},
        "involvedObject": {
            "apiVersion": api_version,
            "kind": kind,
            "namespace": namespace,
            "name": name,
            "uid": uid,
        },
        "reason": reason,
        "message": message[:1000],
        "type": type_,
        "source": {"component": component},
        "reportingComponent": component,
        "reportingInstance": instance[:128],
        "firstTimestamp": ts,
        "lastTimestamp": ts,
        "count": 1,
    }


class EventRecorder:
    """Posts each distinct (object, reason, message) at most once per ``interval`` seconds.

    The ConfigMirror operator's recorder builds on this one (:meth:`post` takes any Event body).
    """

    log = log

    def __init__(self, kube: Kube, instance: str, interval: float = 600.0) -> None:
        self.kube = kube
        self.instance = instance
        self.once = Once(interval)
        self.failed = Once(300.0)

    def warn(self, kind: str, namespace: str, name: str, uid: str, reason: str, message: str) -> None:
        body = event_body(kind, namespace, name, uid, reason, message, instance=self.instance)
        self.post((kind, namespace, name, uid, reason, message), body)

    def post(self, key: Hashable, body: dict[str, Any]) -> None:
        """Create ``body`` in its namespace unless ``key`` was posted within the interval."""
        if not self.once(key):
            return
        namespace, reason = body["metadata"]["namespace"], body["reason"]
        try:
            self.kube.request(
                "POST", EVENTS.collection(namespace), body=body, verb="create", resource="events"
            )
        except KubeError as exc:
            if self.failed((exc.category, namespace)):
                self.log.warning(
                    "cannot record event",
                    extra={
                        "namespace": namespace,
                        "reason": reason,
                        "error": exc.category,
                        "status": exc.status,
                    },
                )
