"""Fixtures for the ConfigMirror integration tests: per-test namespaces and mirrors, cleaned up
through the operator's own finalizer path (so every test also checks deletion leaves nothing)."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from kubernetes import client

from fixtures.clusters.cluster import Cluster, NamespaceFactory
from fixtures.core.waiting import WaitTimeout
from fixtures.systems.configmirror import ConfigMirrorDriver

SLO = 30.0  # seconds; generous for a 2-core machine running tests in parallel


@dataclass
class MirrorEnv:
    """One test's world: an ops namespace for the CRs, a source namespace, target namespaces."""

    system: ConfigMirrorDriver
    namespaces: NamespaceFactory
    ops: str
    source: str
    secret: str = "db-credentials"  # noqa: S105 (a Secret name, not a password)
    created: list[tuple[str, str]] = field(default_factory=list)

    @property
    def cluster(self) -> Cluster:
        return self.system.cluster

    def mirror(
        self,
        targets: list[str],
        selector: dict[str, Any],
        *,
        database: bool | dict[str, Any] = True,
        source: str | None = None,
        name: str | None = None,
    ) -> dict[str, Any]:
        name = name or f"mirror-{secrets.token_hex(3)}"
        db: dict[str, Any] | None
        if database is True:
            db = {"enabled": True, "secretRef": {"name": self.secret, "namespace": self.ops}}
        elif database is False:
            db = None
        else:
            db = database
        body = self.system.declare(name, self.ops, source or self.source, targets, selector, db)
        obj = self.system.create(body)
        self.created.append((self.ops, name))
        return obj

    def configmap(
        self,
        name: str,
        labels: dict[str, str],
        data: dict[str, str] | None = None,
        binary: dict[str, str] | None = None,
        namespace: str | None = None,
    ) -> client.V1ConfigMap:
        body = client.V1ConfigMap(
            metadata=client.V1ObjectMeta(name=name, labels=labels), data=data, binary_data=binary
        )
        return self.cluster.core.create_namespaced_config_map(namespace or self.source, body)

    def cleanup(self) -> None:
        """Delete every mirror through its finalizer. One whose rows cannot be deleted (a test left
        its database broken) is let go by disabling the database, and the test fails loudly."""
        for ns, name in self.created:
            self.system.delete(ns, name)
        stuck = []
        for ns, name in self.created:
            try:
                self.system.wait_gone(ns, name, timeout=SLO)
            except WaitTimeout as exc:
                stuck.append(str(exc).splitlines()[0])
                self.system.patch_spec(ns, name, {"database": {"enabled": False}})
                self.system.wait_gone(ns, name, timeout=SLO)
        if stuck:
            raise AssertionError("ConfigMirror(s) blocked by their finalizer: " + "; ".join(stuck))


@pytest.fixture
def env(configmirror: ConfigMirrorDriver, namespaces: NamespaceFactory) -> Iterator[MirrorEnv]:
    ops, source = namespaces("ops"), namespaces("src")
    world = MirrorEnv(configmirror, namespaces, ops, source)
    configmirror.credentials_secret(ops, world.secret)
    try:
        yield world
    finally:
        world.cleanup()
