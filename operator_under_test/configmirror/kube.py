"""API access: the bundled replicator's raw-JSON client, counting requests as the seed names them.

Reused from :mod:`operator_under_test.replicator.kube` (auth, TLS, pool, paginated list, watch);
this subclass adds ``rest_client_requests_total{code,method,host}``.
"""

from __future__ import annotations

from typing import Any

from kubernetes import client

from operator_under_test.replicator.kube import (
    CONFIGMAPS,
    EVENTS,
    NAMESPACES,
    SECRETS,
    KubeError,
    ResourceType,
    load_configuration,
)
from operator_under_test.replicator.kube import (
    Kube as _Kube,
)

from . import metrics

CONFIGMIRRORS = ResourceType(
    "ConfigMirror", "configmirrors", api_prefix="/apis/mirror.configmirror.io/v1alpha1"
)
MERGE_PATCH = "application/merge-patch+json"

__all__ = [
    "CONFIGMAPS",
    "CONFIGMIRRORS",
    "EVENTS",
    "MERGE_PATCH",
    "NAMESPACES",
    "SECRETS",
    "Kube",
    "KubeError",
    "ResourceType",
    "load_configuration",
]


class Kube(_Kube):
    def __init__(self, cfg: client.Configuration, **kwargs: Any) -> None:
        super().__init__(cfg, **kwargs)
        self.api.user_agent = "configmirror-operator/0.1"
        self.host = cfg.host.split("://", 1)[-1]

    def _count(self, method: str, verb: str, resource: str, code: str) -> None:
        super()._count(method, verb, resource, code)
        code = "<error>" if code == "error" else code
        metrics.REST_CLIENT_REQUESTS.labels(code=code, method=method, host=self.host).inc()
