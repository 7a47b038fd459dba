"""The External Secrets Operator profile says true things about ESO v0.16.2.

Each test declares through the profile and the driver (never spelling an ESO object by hand, except
where a test shows what the profile's declaration avoids), then asserts what the profile claims:
how ESO runs here, its refresh interval, its documented deviation, and the known failures that make
its certificate NOT CERTIFIED. "Nothing happened" is asserted only after a positive signal (a copy of
a later write) that ESO processed the source since.
"""

from __future__ import annotations

import secrets
import time
from typing import Any

import allure
import psutil
import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException
from kubernetes.dynamic import DynamicClient

from chaos import audit
from fixtures.clusters.cluster import Cluster
from fixtures.core.encoding import b64
from fixtures.core.record import record
from fixtures.core.redact import digest
from fixtures.core.waiting import eventually
from fixtures.systems.dialects import eso as eso_dialect
from fixtures.systems.driver import Driver
from fixtures.systems.model import Names, Source
from fixtures.systems.profiles.external_secrets import SYSTEM
from tests.eso.conftest import EsoCluster

pytestmark = [pytest.mark.cluster, allure.label("system", SYSTEM.name)]
TIMEOUT = 60.0
#: a refresh is due every REFRESH_INTERVAL; one reconcile and a watch event on top of it
REFRESH_S = 15.0
SLACK_S = 10.0


def _name() -> str:
    return f"s-{secrets.token_hex(3)}"


def _read(cluster: Cluster, namespace: str, name: str) -> client.V1Secret | None:
    try:
        return cluster.core.read_namespaced_secret(name, namespace)
    except ApiException as exc:
        if exc.status == 404:
            return None
        raise


def _data(secret: client.V1Secret | None) -> dict[str, str]:
    """Per-key digests: comparable, and a failure never shows a value."""
    return {k: digest(v) for k, v in ((secret.data if secret else None) or {}).items()}


def _copy_like(cluster: Cluster, namespace: str, source: client.V1Secret, timeout: float = TIMEOUT) -> float:
    """Wait until ESO's copy in ``namespace`` has the source's data and type; the seconds it took."""
    t0 = time.monotonic()

    def check() -> None:
        copy = _read(cluster, namespace, source.metadata.name)
        assert copy is not None, f"no copy in {namespace}"
        src = Source("Secret", source.metadata.namespace, source.metadata.name)
        assert SYSTEM.is_copy(copy.metadata.annotations, copy.metadata.labels, src), (
            f"{namespace}: no markers"
        )
        assert _data(copy) == _data(source), f"{namespace}: data differs"
        assert copy.type == source.type, f"{namespace}: type {copy.type}, source {source.type}"

    eventually(check, timeout=timeout, interval=0.1, description=f"ESO's copy in {namespace}")
    return time.monotonic() - t0


def _source(
    cluster: Cluster, targets: list[str], data: dict[str, bytes], type_: str = "Opaque"
) -> client.V1Secret:
    src_ns = cluster.create_namespace("src")
    source = Source("Secret", src_ns, _name())
    Driver(SYSTEM, cluster).create_source(source, data, Names(targets), type_=type_)
    created = _read(cluster, src_ns, source.name)
    assert created is not None
    return created


def test_eso_runs_as_its_own_service_account_talks_only_to_the_api_server_and_listens_on_loopback(
    eso_cluster: EsoCluster,
) -> None:
    cluster, deployment = eso_cluster.cluster, eso_cluster.deployment
    (replica,) = deployment.replicas
    a = cluster.create_namespace("a")
    source = _source(cluster, [a], {"token": b"v1"})
    _copy_like(cluster, a, source)  # it worked, so it talked to the API server by now
    process = psutil.Process(replica.child_pid())
    server_port = int(cluster.server.rsplit(":", 1)[1])
    connections = process.net_connections(kind="inet")
    listening = sorted({(c.laddr.ip, c.laddr.port) for c in connections if c.status == psutil.CONN_LISTEN})
    assert listening == [("127.0.0.1", replica.health_port)], (
        f"listens on {listening} (metrics only, loopback)"
    )
    remote = sorted({(c.raddr.ip, c.raddr.port) for c in connections if c.raddr})
    assert remote, "no open connection at all: nothing to judge"
    assert all(port == server_port for _, port in remote), f"connections beyond the API server: {remote}"
    users = {e.user for e in audit.read(cluster.audit_log) if e.namespace in (a, source.metadata.namespace)}
    assert SYSTEM.chaos is not None
    assert SYSTEM.chaos.user in users, f"no request of {SYSTEM.chaos.user} in the audit log: {sorted(users)}"


def test_an_update_reaches_the_copies_within_one_refresh_interval(eso_cluster: EsoCluster) -> None:
    cluster = eso_cluster.cluster
    a, b = cluster.create_namespace("a"), cluster.create_namespace("b")
    source = _source(cluster, [a, b], {"token": b"v1"})
    first = max(_copy_like(cluster, ns, source) for ns in (a, b))
    updated = cluster.core.patch_namespaced_secret(
        source.metadata.name, source.metadata.namespace, {"data": {"token": b64(b"v2")}}
    )
    seconds = max(_copy_like(cluster, ns, updated) for ns in (a, b))
    record("latency", scenario="eso.update", seconds=round(seconds, 3), implementation=SYSTEM.name, copies=2)
    assert first < SLACK_S, f"the first copies took {first:.1f}s: a new ExternalSecret syncs at once"
    assert seconds <= REFRESH_S + SLACK_S, f"an update took {seconds:.1f}s (refresh every {REFRESH_S:g}s)"


def test_deviation_without_the_declared_type_a_copy_is_opaque(eso_cluster: EsoCluster) -> None:
    """What the profile's declaration avoids: ESO does not copy the type (deviation declaration.type)."""
    assert "declaration.type" in SYSTEM.deviations
    cluster = eso_cluster.cluster
    a = cluster.create_namespace("a")
    src_ns = cluster.create_namespace("src")
    source = Source("Secret", src_ns, _name())
    Driver(SYSTEM, cluster).create(
        source,
        client.V1Secret(
            metadata=client.V1ObjectMeta(name=source.name),
            data={"username": b64("bot"), "password": b64("p")},
            type="kubernetes.io/basic-auth",
        ),
    )
    declared = SYSTEM.declare(source, Names([a]))
    dynamic = DynamicClient(cluster.api)
    # applied as declared, without the type the profile fills in from the source
    for resource in declared.resources:
        resource = SYSTEM.for_cluster(resource, cluster)
        if resource["kind"] == eso_dialect.CES_KIND:
            spec = dict(resource["spec"])
            es = dict(spec["externalSecretSpec"])
            es["target"] = {k: v for k, v in es["target"].items() if k != "template"}
            spec["externalSecretSpec"] = es
            resource = {**resource, "spec": spec}
        dynamic.resources.get(api_version=resource["apiVersion"], kind=resource["kind"]).create(
            body=dict(resource), namespace=resource["metadata"].get("namespace")
        )

    def opaque_copy() -> Any:
        copy = _read(cluster, a, source.name)
        assert copy is not None, f"no copy in {a}"
        return copy

    copy = eventually(opaque_copy, timeout=TIMEOUT, description=f"a copy in {a}")
    assert _data(copy) == {"password": digest(b64("p")), "username": digest(b64("bot"))}
    assert copy.type == "Opaque", f"type {copy.type}: ESO copied the type after all (the deviation is stale)"


def test_known_failure_an_unrelated_same_name_secret_is_adopted_and_rewritten(
    eso_cluster: EsoCluster,
) -> None:
    assert "neutral.unrelated" in SYSTEM.known_failures
    cluster = eso_cluster.cluster
    taken, a = cluster.create_namespace("taken"), cluster.create_namespace("a")
    name = _name()
    mine = cluster.core.create_namespaced_secret(
        taken,
        client.V1Secret(
            metadata=client.V1ObjectMeta(name=name, labels={"owner": "someone-else"}),
            data={"mine": b64("keep")},
        ),
    )
    src_ns = cluster.create_namespace("src")
    source = Source("Secret", src_ns, name)
    Driver(SYSTEM, cluster).create_source(source, {"token": b"v1"}, Names([a, taken]))
    created = _read(cluster, src_ns, name)
    assert created is not None
    _copy_like(cluster, a, created)  # the positive signal: ESO processed the source
    adopted = _copy_like(cluster, taken, created)  # the unrelated Secret now holds the source's data
    after = _read(cluster, taken, name)
    assert after is not None
    assert after.metadata.uid == mine.metadata.uid, "the same object, rewritten in place"
    owners = [(o.kind, o.name) for o in after.metadata.owner_references or []]
    assert owners == [(eso_dialect.ES_KIND, eso_dialect.cluster_name(source))], f"owners {owners}"
    # and it goes with the source, like a copy
    cluster.core.delete_namespaced_secret(name, src_ns)
    eventually(
        lambda: _assert_gone(cluster, taken, name),
        timeout=REFRESH_S + SLACK_S + 30,
        description=f"the adopted Secret in {taken} deleted with the source",
    )
    record("latency", scenario="eso.adopted", seconds=round(adopted, 3), implementation=SYSTEM.name, copies=1)


def _assert_gone(cluster: Cluster, namespace: str, name: str) -> None:
    assert _read(cluster, namespace, name) is None, f"{namespace}/{name} still exists"


def test_known_failure_emptying_the_source_deletes_its_copies(eso_cluster: EsoCluster) -> None:
    assert "property6.emptied" in SYSTEM.known_failures
    cluster = eso_cluster.cluster
    a = cluster.create_namespace("a")
    source = _source(cluster, [a], {"token": b"v1", "user": b"bot"})
    _copy_like(cluster, a, source)
    cluster.core.replace_namespaced_secret(
        source.metadata.name,
        source.metadata.namespace,
        client.V1Secret(metadata=client.V1ObjectMeta(name=source.metadata.name), data={}),
    )
    eventually(
        lambda: _assert_gone(cluster, a, source.metadata.name),
        timeout=REFRESH_S + SLACK_S,
        description="the copy of an emptied source deleted",
    )
    assert _read(cluster, source.metadata.namespace, source.metadata.name) is not None, (
        "the source is still there"
    )


def test_undeclaring_deletes_the_copies_through_their_owners(eso_cluster: EsoCluster) -> None:
    cluster = eso_cluster.cluster
    a, b = cluster.create_namespace("a"), cluster.create_namespace("b")
    source = _source(cluster, [a, b], {"token": b"v1"})
    for ns in (a, b):
        _copy_like(cluster, ns, source)
    src = Source("Secret", source.metadata.namespace, source.metadata.name)
    Driver(SYSTEM, cluster).undeclare(src)
    for ns in (a, b):
        eventually(
            lambda n=ns: _assert_gone(cluster, n, src.name), timeout=TIMEOUT, description=f"{ns} cleared"
        )
    assert _read(cluster, src.namespace, src.name) is not None, "undeclaring keeps the source"


#: the API server's limit on a Secret's data (1 MiB), and Property 5's pinned source near it
SECRET_LIMIT = 1024 * 1024
DOCKERCONFIG = b'{"auths":{"ghcr.io":{"username":"opencenter-bot","password":"not-a-real-password"}}}'


def _ready_condition(cluster: Cluster, namespace: str, name: str) -> tuple[str, str, str]:
    """The ExternalSecret's Ready condition: status, reason, message (ESO's own words, no values)."""
    es = (
        DynamicClient(cluster.api)
        .resources.get(api_version=eso_dialect.API_VERSION, kind=eso_dialect.ES_KIND)
        .get(name=name, namespace=namespace)
        .to_dict()
    )
    for condition in (es.get("status") or {}).get("conditions") or []:
        if condition.get("type") == "Ready":
            return condition.get("status", ""), condition.get("reason", ""), condition.get("message", "")
    raise AssertionError(f"{namespace}/{name}: no Ready condition yet")


def test_known_failure_an_occupant_of_another_type_is_labelled_and_deleted_with_the_source(
    eso_cluster: EsoCluster,
) -> None:
    """Property 5's pinned example (property5.occupied): a kubernetes.io/dockerconfigjson source near
    the 1 MiB limit, an unrelated Opaque Secret of its name in one target. ESO's first step there is to
    patch its managed label onto that Secret (no store, no read of the source), so the write can come
    before the copies elsewhere: the property's verdict then shows them absent. They are not held
    back: the copy in the other target arrives like any copy. The unrelated Secret keeps its data
    (its type cannot change: ESO's update is refused), but carries ESO's label, and when the source
    goes ESO deletes it, though it never owned it."""
    assert "property5.occupied" in SYSTEM.known_failures
    cluster = eso_cluster.cluster
    taken, a = cluster.create_namespace("taken"), cluster.create_namespace("a")
    name = _name()
    mine = cluster.core.create_namespaced_secret(
        taken,
        client.V1Secret(
            metadata=client.V1ObjectMeta(name=name, labels={"owner": "someone-else"}),
            data={"mine": b64("keep")},
            type="Opaque",
        ),
    )
    src_ns = cluster.create_namespace("src")
    source = Source("Secret", src_ns, name)
    big = secrets.token_bytes(SECRET_LIMIT - len(DOCKERCONFIG) - 64)
    t0 = time.monotonic()
    Driver(SYSTEM, cluster).create_source(
        source,
        {".dockerconfigjson": DOCKERCONFIG, "big.bin": big},
        Names([a, taken]),
        labels={"app.kubernetes.io/managed-by": "flux"},
        annotations={"kustomize.toolkit.fluxcd.io/checksum": "0123abcd"},
        type_="kubernetes.io/dockerconfigjson",
    )
    created = _read(cluster, src_ns, name)
    assert created is not None
    seen: dict[str, float] = {}

    def both() -> None:
        occupant = _read(cluster, taken, name)
        if (
            "claimed" not in seen
            and occupant
            and occupant.metadata.resource_version != mine.metadata.resource_version
        ):
            seen["claimed"] = time.monotonic() - t0
        copy = _read(cluster, a, name)
        if "copy" not in seen and copy and _data(copy) == _data(created) and copy.type == created.type:
            seen["copy"] = time.monotonic() - t0
        assert set(seen) == {"claimed", "copy"}, f"seen so far: {sorted(seen)}"

    eventually(both, timeout=TIMEOUT, interval=0.1, description=f"the copy in {a} and a write in {taken}")
    # the occupied namespace holds the other target back no more than any first copy takes
    assert seen["copy"] < SLACK_S, f"the copy in {a} took {seen['copy']:.1f}s"
    es_name = eso_dialect.cluster_name(source)
    eventually(
        lambda: _refused(cluster, taken, es_name),
        timeout=TIMEOUT,
        description=f"the ExternalSecret in {taken} reporting its refused update",
    )
    occupant = _read(cluster, taken, name)
    assert occupant is not None
    assert occupant.metadata.uid == mine.metadata.uid, "the same object"
    assert (occupant.metadata.labels or {}).get(eso_dialect.LABEL_MANAGED) == eso_dialect.MANAGED, (
        f"labels {sorted(occupant.metadata.labels or {})}: ESO did not claim it"
    )
    assert _data(occupant) == {"mine": digest(b64("keep"))}, "its data was replaced after all"
    assert occupant.type == "Opaque"
    assert not occupant.metadata.owner_references, "ESO became its owner after all"
    assert not SYSTEM.is_copy(occupant.metadata.annotations, occupant.metadata.labels, source)
    for replica in eso_cluster.deployment.replicas:  # its log says why (no values in it)
        log = [line for line in replica.logs().splitlines() if taken in line and "field is immutable" in line]
        assert log, f"no refused update of {taken}/{name} in ESO's log"

    # the source goes: the copy goes, and so does the unrelated Secret ESO never owned
    elapsed = time.monotonic() - t0
    t1 = time.monotonic()
    cluster.core.delete_namespaced_secret(name, src_ns)
    eventually(
        lambda: _assert_gone(cluster, a, name),
        timeout=REFRESH_S + SLACK_S,
        description=f"the copy in {a} deleted with the source",
    )
    copy_gone = time.monotonic() - t1
    # its ExternalSecret retries the refused update with ESO's backoff (1 s doubling): its next
    # attempt, which finds the source gone, is due within about the time it has been failing
    eventually(
        lambda: _assert_gone(cluster, taken, name),
        timeout=2 * elapsed + REFRESH_S + SLACK_S,
        description=f"the unrelated Secret in {taken} deleted with the source",
    )
    occupant_gone = time.monotonic() - t1
    record(
        "latency",
        scenario="eso.occupied",
        implementation=SYSTEM.name,
        copies=1,
        seconds=round(seen["copy"], 3),
        claimed_s=round(seen["claimed"], 3),
        copy_deleted_s=round(copy_gone, 3),
        occupant_deleted_s=round(occupant_gone, 3),
    )


def _refused(cluster: Cluster, namespace: str, name: str) -> None:
    """Its ExternalSecret says its write was refused (ESO's reason, not a value)."""
    status, reason, message = _ready_condition(cluster, namespace, name)
    assert (status, reason) == ("False", "SecretSyncedError"), f"Ready {status} {reason}: {message}"
