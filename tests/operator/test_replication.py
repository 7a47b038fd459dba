"""The bundled operator's own integration tests: every bullet of its "Behaviour", on a real API.

Each test uses its own namespaces and lists them explicitly, because the operator is shared by
all tests of the session (a catch-all pattern would replicate into other tests' namespaces).
"""

from __future__ import annotations

import secrets

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException

from fixtures.clusters.cluster import Cluster, NamespaceFactory
from fixtures.clusters.workloads import Deployment
from fixtures.core.encoding import b64
from fixtures.core.redact import secret_view
from fixtures.core.waiting import assert_mapping_equal, eventually
from fixtures.systems.dialects.reflector import (
    ALLOWED_NAMESPACES,
    AUTO_ENABLED,
    AUTO_REFLECTS,
    BOOKKEEPING,
    REFLECTED_VERSION,
    REFLECTS,
    mirror_of,
    replicate_to,
)

SLO = 30.0  # seconds; generous for a 2-core machine running tests in parallel
pytestmark = pytest.mark.usefixtures("operator")


def make_secret(
    cluster: Cluster,
    namespace: str,
    name: str,
    data: dict[str, str],
    annotations: dict[str, str],
    type_: str = "Opaque",
    labels: dict[str, str] | None = None,
) -> client.V1Secret:
    body = client.V1Secret(
        metadata=client.V1ObjectMeta(name=name, annotations=annotations, labels=labels),
        data={k: b64(v) for k, v in data.items()},
        type=type_,
    )
    return cluster.core.create_namespaced_secret(namespace, body)


def secrets_named(cluster: Cluster, name: str, namespaces: list[str]) -> dict[str, client.V1Secret]:
    found = {}
    for ns in namespaces:
        try:
            found[ns] = cluster.core.read_namespaced_secret(name, ns)
        except ApiException as exc:
            if exc.status != 404:
                raise
    return found


def assert_copies(
    cluster: Cluster, source_ns: str, name: str, expected: list[str], universe: list[str]
) -> None:
    """Copies exist in exactly `expected` (within `universe`) and match the source."""
    source = cluster.core.read_namespaced_secret(name, source_ns)
    actual = secrets_named(cluster, name, [ns for ns in universe if ns != source_ns])
    assert_mapping_equal(
        {ns: secret_view(source) for ns in expected},
        {ns: secret_view(s) for ns, s in actual.items()},
        "namespace",
    )


@pytest.fixture
def name() -> str:
    return f"creds-{secrets.token_hex(3)}"


def test_copies_land_in_exactly_the_listed_namespaces(
    cluster: Cluster, namespaces: NamespaceFactory, name: str
) -> None:
    src, a, b, unlisted = namespaces("src"), namespaces("a"), namespaces("b"), namespaces("x")
    make_secret(
        cluster,
        src,
        name,
        {"user": "u", "password": "p"},
        replicate_to([a, b, src]),
        type_="Opaque",
        labels={"app.kubernetes.io/managed-by": "flux"},
    )
    universe = [src, a, b, unlisted]
    eventually(
        lambda: assert_copies(cluster, src, name, [a, b], universe),
        timeout=SLO,
        description="copies in the listed namespaces",
    )
    copy = cluster.core.read_namespaced_secret(name, a)
    assert copy.metadata.labels in (None, {}), "no labels of the source on copies"
    reflector = {k: v for k, v in copy.metadata.annotations.items() if k.startswith("reflector.")}
    assert set(reflector) == BOOKKEEPING
    assert reflector[REFLECTS] == f"{src}/{name}"
    assert reflector[AUTO_REFLECTS] == "True"


def test_source_updates_reach_every_copy_and_removed_keys_vanish(
    cluster: Cluster, namespaces: NamespaceFactory, name: str
) -> None:
    src, a, b = namespaces("src"), namespaces("a"), namespaces("b")
    make_secret(cluster, src, name, {"k1": "one", "k2": "two"}, replicate_to([a, b]))
    eventually(lambda: assert_copies(cluster, src, name, [a, b], [a, b]), timeout=SLO, description="copies")
    cluster.core.patch_namespaced_secret(
        name, src, {"data": {"k1": b64("uno"), "k2": None, "k3": b64("tres")}}
    )
    eventually(
        lambda: assert_copies(cluster, src, name, [a, b], [a, b]), timeout=SLO, description="updated copies"
    )
    assert set(cluster.core.read_namespaced_secret(name, a).data) == {"k1", "k3"}


def test_deleting_the_source_deletes_auto_copies_and_keeps_manual_mirrors(
    cluster: Cluster, namespaces: NamespaceFactory, name: str
) -> None:
    src, auto_ns, manual_ns = namespaces("src"), namespaces("auto"), namespaces("manual")
    make_secret(cluster, src, name, {"k": "v"}, replicate_to([auto_ns, manual_ns], auto_namespaces=[auto_ns]))
    make_secret(cluster, manual_ns, name, {}, mirror_of(src, name))
    eventually(
        lambda: assert_copies(cluster, src, name, [auto_ns, manual_ns], [auto_ns, manual_ns]),
        timeout=SLO,
        description="auto copy and filled manual mirror",
    )
    cluster.core.delete_namespaced_secret(name, src)

    def only_manual_left() -> None:
        left = secrets_named(cluster, name, [auto_ns, manual_ns])
        assert sorted(left) == [manual_ns], f"secrets left: {sorted(left)}"

    eventually(only_manual_left, timeout=SLO, description="auto copy deleted, manual mirror kept")
    assert cluster.core.read_namespaced_secret(name, manual_ns).data == {"k": b64("v")}


def test_namespace_created_later_gets_a_copy(
    cluster: Cluster, namespaces: NamespaceFactory, name: str
) -> None:
    src = namespaces("src")
    later = namespaces.name("later")
    make_secret(cluster, src, name, {"k": "v"}, replicate_to([later]))
    cluster.create_namespace(name=later)
    eventually(
        lambda: assert_copies(cluster, src, name, [later], [later]),
        timeout=SLO,
        description="a copy in the namespace created after the source",
    )


def test_list_edits_add_and_remove_copies(cluster: Cluster, namespaces: NamespaceFactory, name: str) -> None:
    src, a, b = namespaces("src"), namespaces("a"), namespaces("b")
    make_secret(cluster, src, name, {"k": "v"}, replicate_to([a]))
    eventually(lambda: assert_copies(cluster, src, name, [a], [a, b]), timeout=SLO, description="copy in a")
    cluster.core.patch_namespaced_secret(
        name, src, {"metadata": {"annotations": {ALLOWED_NAMESPACES: f"{a},{b}"}}}
    )
    eventually(
        lambda: assert_copies(cluster, src, name, [a, b], [a, b]), timeout=SLO, description="copy in b"
    )
    cluster.core.patch_namespaced_secret(name, src, {"metadata": {"annotations": {ALLOWED_NAMESPACES: b}}})
    eventually(
        lambda: assert_copies(cluster, src, name, [b], [a, b]), timeout=SLO, description="copy in a gone"
    )
    cluster.core.patch_namespaced_secret(name, src, {"metadata": {"annotations": {AUTO_ENABLED: "false"}}})
    eventually(
        lambda: assert_copies(cluster, src, name, [], [a, b]),
        timeout=SLO,
        description="auto copies deleted when auto-enabled is turned off",
    )


def test_copies_deleted_or_edited_by_hand_are_restored(
    cluster: Cluster, namespaces: NamespaceFactory, name: str
) -> None:
    src, a = namespaces("src"), namespaces("a")
    make_secret(cluster, src, name, {"k": "v"}, replicate_to([a]))
    eventually(lambda: assert_copies(cluster, src, name, [a], [a]), timeout=SLO, description="copy")
    cluster.core.patch_namespaced_secret(name, a, {"data": {"k": b64("tampered")}})
    eventually(lambda: assert_copies(cluster, src, name, [a], [a]), timeout=SLO, description="drift repaired")
    cluster.core.delete_namespaced_secret(name, a)
    eventually(lambda: assert_copies(cluster, src, name, [a], [a]), timeout=SLO, description="copy restored")


def test_unrelated_same_name_secret_is_left_alone_and_reported(
    cluster: Cluster, namespaces: NamespaceFactory, name: str
) -> None:
    src, a, taken = namespaces("src"), namespaces("a"), namespaces("taken")
    make_secret(cluster, taken, name, {"mine": "keep"}, {"owner": "someone-else"})
    before = cluster.core.read_namespaced_secret(name, taken)
    make_secret(cluster, src, name, {"k": "v"}, replicate_to([a, taken]))
    eventually(lambda: assert_copies(cluster, src, name, [a], [a]), timeout=SLO, description="copy in a")

    def warned() -> None:
        events = cluster.core.list_namespaced_event(src, field_selector=f"involvedObject.name={name}").items
        reasons = [(e.type, e.reason, e.message) for e in events]
        assert any(e.type == "Warning" and taken in (e.message or "") for e in events), f"events: {reasons}"

    eventually(warned, timeout=SLO, description="a Warning Event on the source naming the conflict")
    after = cluster.core.read_namespaced_secret(name, taken)
    assert after.metadata.resource_version == before.metadata.resource_version, (
        "unrelated secret was modified"
    )
    assert after.data == {"mine": b64("keep")}


def test_source_in_its_own_list_is_never_deleted_when_narrowed(
    cluster: Cluster, namespaces: NamespaceFactory, name: str
) -> None:
    """Reflector #672: narrowing a list that contained the source's namespace deleted the source."""
    src, a = namespaces("src"), namespaces("a")
    make_secret(cluster, src, name, {"k": "v"}, replicate_to([src, a]))
    eventually(lambda: assert_copies(cluster, src, name, [a], [src, a]), timeout=SLO, description="copy in a")
    cluster.core.patch_namespaced_secret(name, src, {"metadata": {"annotations": {ALLOWED_NAMESPACES: a}}})
    cluster.core.patch_namespaced_secret(name, src, {"data": {"k": b64("v2")}})
    eventually(lambda: assert_copies(cluster, src, name, [a], [a]), timeout=SLO, description="copy updated")
    source = cluster.core.read_namespaced_secret(name, src)
    assert not any(k in BOOKKEEPING for k in source.metadata.annotations), (
        "bookkeeping written onto the source"
    )


def test_invalid_pattern_affects_only_its_source(
    cluster: Cluster, namespaces: NamespaceFactory, name: str
) -> None:
    src, a = namespaces("src"), namespaces("a")
    make_secret(cluster, src, f"{name}-bad", {"k": "v"}, replicate_to(["*"]))
    make_secret(cluster, src, name, {"k": "v"}, replicate_to([a]))
    eventually(
        lambda: assert_copies(cluster, src, name, [a], [a]),
        timeout=SLO,
        description="the good source still replicates",
    )

    def warned() -> None:
        events = cluster.core.list_namespaced_event(
            src, field_selector=f"involvedObject.name={name}-bad"
        ).items
        messages = [e.message for e in events if e.type == "Warning"]
        assert any("reflection-allowed-namespaces" in (m or "") for m in messages), f"warnings: {messages}"

    eventually(warned, timeout=SLO, description="a Warning Event naming the bad annotation")


def test_configmaps_replicate_data_and_binary_data(
    cluster: Cluster, namespaces: NamespaceFactory, name: str
) -> None:
    src, a = namespaces("src"), namespaces("a")
    cluster.core.create_namespaced_config_map(
        src,
        client.V1ConfigMap(
            metadata=client.V1ObjectMeta(name=name, annotations=replicate_to([a])),
            data={"app.properties": "x=1"},
            binary_data={"blob": b64(bytes(range(256)))},
        ),
    )

    def copied() -> None:
        try:
            copy = cluster.core.read_namespaced_config_map(name, a)
        except ApiException as exc:
            raise AssertionError(f"no copy yet ({exc.status})") from None
        assert copy.data == {"app.properties": "x=1"}
        assert copy.binary_data == {"blob": b64(bytes(range(256)))}

    eventually(copied, timeout=SLO, description="ConfigMap copy with data and binaryData")


def test_secret_values_never_reach_logs_events_or_annotations(
    cluster: Cluster, namespaces: NamespaceFactory, name: str, operator: Deployment
) -> None:
    marker = f"TOPSECRET{secrets.token_hex(8)}"
    src, a = namespaces("src"), namespaces("a")
    make_secret(cluster, src, name, {"password": marker}, replicate_to([a]))
    eventually(lambda: assert_copies(cluster, src, name, [a], [a]), timeout=SLO, description="copy")
    for replica in operator.replicas:
        assert marker not in replica.logs()
        assert b64(marker) not in replica.logs()
    for ns in (src, a):
        for event in cluster.core.list_namespaced_event(ns).items:
            assert marker not in (event.message or "")
        for secret in cluster.core.list_namespaced_secret(ns).items:
            annotations = " ".join((secret.metadata.annotations or {}).values())
            assert marker not in annotations
            assert b64(marker) not in annotations
    source = cluster.core.read_namespaced_secret(name, src)
    assert REFLECTED_VERSION not in (source.metadata.annotations or {})
