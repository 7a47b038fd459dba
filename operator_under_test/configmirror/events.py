"""Events on ConfigMirror objects (``kubectl describe configmirror`` shows why), deduplicated.

The body, deduplication and failure handling are the replicator's
(:mod:`operator_under_test.replicator.events`); this module names the involved object and component.
"""

from __future__ import annotations

import logging

from operator_under_test.replicator.events import EventRecorder, event_body

from .planning import GROUP, VERSION

COMPONENT = "configmirror-operator"


class Recorder(EventRecorder):
    """Posts each distinct (ConfigMirror, reason, message) at most once per ``interval`` seconds."""

    log = logging.getLogger("configmirror.events")

    def record(self, namespace: str, name: str, uid: str, type_: str, reason: str, message: str) -> None:
        body = event_body(
            "ConfigMirror",
            namespace,
            name,
            uid,
            reason,
            message,
            instance=self.instance,
            api_version=f"{GROUP}/{VERSION}",
            type_=type_,
            component=COMPONENT,
        )
        self.post((uid, reason, message), body)
