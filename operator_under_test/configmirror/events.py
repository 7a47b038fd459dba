"""Events on ConfigMirror objects (``kubectl describe configmirror`` shows why), deduplicated."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from operator_under_test.replicator.logs import Once

from .kube import EVENTS, Kube, KubeError
from .planning import GROUP, VERSION

COMPONENT = "configmirror-operator"
log = logging.getLogger("configmirror.events")


def event_body(
    namespace: str, name: str, uid: str, type_: str, reason: str, message: str, instance: str, now: datetime
) -> dict[str, Any]:
    ts = now.strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"generateName": f"{name}.", "namespace": namespace},
        "involvedObject": {
            "apiVersion": f"{GROUP}/{VERSION}",
            "kind": "ConfigMirror",
            "namespace": namespace,
            "name": name,
            "uid": uid,
        },
        "reason": reason,
        "message": message[:1000],
        "type": type_,
        "source": {"component": COMPONENT},
        "reportingComponent": COMPONENT,
        "reportingInstance": instance[:128],
        "firstTimestamp": ts,
        "lastTimestamp": ts,
        "count": 1,
    }


class Recorder:
    """Posts each distinct (object, reason, message) at most once per ``interval`` seconds."""

    def __init__(self, kube: Kube, instance: str, interval: float = 600.0) -> None:
        self.kube, self.instance = kube, instance
        self.once = Once(interval)
        self.failed = Once(300.0)

    def record(self, namespace: str, name: str, uid: str, type_: str, reason: str, message: str) -> None:
        if not self.once((uid, reason, message)):
            return
        body = event_body(namespace, name, uid, type_, reason, message, self.instance, datetime.now(UTC))
        try:
            self.kube.request(
                "POST", EVENTS.collection(namespace), body=body, verb="create", resource="events"
            )
        except KubeError as exc:
            if self.failed((exc.category, namespace)):
                log.warning(
                    "cannot record event",
                    extra={"namespace": namespace, "reason": reason, "status": exc.status},
                )
