"""The kubernetes-replicator profile says true things about the real controller (the user's binary).

Each test declares through the profile (never spelling an annotation), then asserts what the
profile claims: its push (names, grouped patterns, label selector) and pull paths, its documented
deviations, and the known failures that make its certificate NOT CERTIFIED. "Nothing happened" is
asserted only after a positive signal that the controller processed a later event: a copy appearing
in a namespace created afterwards (its namespace handler runs after the earlier events).
"""

from __future__ import annotations

import secrets

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException

from fixtures.clusters.cluster import Cluster
from fixtures.core.encoding import b64
from fixtures.core.redact import digest
from fixtures.core.waiting import eventually
from fixtures.systems.model import LabelSelector, Names, Patterns, Source
from fixtures.systems.profiles.kubernetes_replicator import SYSTEM

pytestmark = pytest.mark.cluster
TIMEOUT = 60.0


def _name() -> str:
    return f"s-{secrets.token_hex(3)}"


def _secret(cluster: Cluster, source: Source, metadata: dict, data: dict[str, bytes]) -> client.V1Secret:
    body = client.V1Secret(
        metadata=client.V1ObjectMeta(name=source.name, **metadata),
        data={k: b64(v) for k, v in data.items()},
    )
    return cluster.core.create_namespaced_secret(source.namespace, body)


def _data(secret: client.V1Secret | None) -> dict[str, str]:
    """Per-key digests: comparable, and a failure never shows a value."""
    return {k: digest(v) for k, v in ((secret.data if secret else None) or {}).items()}


def _read(cluster: Cluster, namespace: str, name: str) -> client.V1Secret | None:
    try:
        return cluster.core.read_namespaced_secret(name, namespace)
    except ApiException as exc:
        if exc.status == 404:
            return None
        raise


def _copy_in(cluster: Cluster, namespace: str, source: client.V1Secret) -> client.V1Secret:
    """Wait for this system's copy of ``source`` at the source's current version, equal in data."""

    def check() -> client.V1Secret:
        copy = _read(cluster, namespace, source.metadata.name)
        assert copy is not None, f"no copy in {namespace}"
        ann = copy.metadata.annotations
        src = Source("Secret", source.metadata.namespace, source.metadata.name)
        assert SYSTEM.is_copy(ann, copy.metadata.labels, src), f"{namespace}: not a copy: {sorted(ann or {})}"
        assert SYSTEM.version_of(ann, None) == source.metadata.resource_version, "stale version"
        assert _data(copy) == _data(source), f"{namespace}: data differs"
        return copy

    return eventually(check, timeout=TIMEOUT, description=f"copy in {namespace}")


def _signal(
    cluster: Cluster, source: client.V1Secret, hint: str = "signal", labels: dict[str, str] | None = None
) -> str:
    """A namespace created now that the declaration matches; its copy is the positive signal."""
    namespace = cluster.create_namespace(hint, labels)
    _copy_in(cluster, namespace, source)
    return namespace


def test_push_by_names_copies_data_labels_and_only_the_bookkeeping(replicator: Cluster) -> None:
    cluster = replicator
    src_ns, a, b, unlisted = (cluster.create_namespace(h) for h in ("src", "a", "b", "unlisted"))
    source = Source("Secret", src_ns, _name())
    declared = SYSTEM.declare(source, Names([a, b, src_ns]))
    created = _secret(
        cluster,
        source,
        {"annotations": {**declared.metadata()["annotations"], "note": "x"}, "labels": {"app": "demo"}},
        {"z": b"1", "a": b"\x00\xff"},
    )
    for namespace in (a, b):
        copy = _copy_in(cluster, namespace, created)
        own, _ = SYSTEM.bookkeeping.strip(copy.metadata.annotations)
        assert own == {}, f"annotations beyond the bookkeeping: {sorted(own)}"
        assert copy.metadata.labels == {"app": "demo"}
    # the copies above came from the same event that would have put one in `unlisted`
    assert _read(cluster, unlisted, source.name) is None
    assert _read(cluster, src_ns, source.name).metadata.resource_version == created.metadata.resource_version


def test_grouped_patterns_match_whole_names_only(replicator: Cluster) -> None:
    cluster = replicator
    src_ns = cluster.create_namespace("src")
    tag = secrets.token_hex(2)
    hit = cluster.create_namespace(f"p{tag}x")
    # an alternation: without the profile's grouping, ^A|B$ would also match `near` by its end
    near = cluster.create_namespace(name=f"{cluster.run_id}-zz-other{tag}")
    source = Source("Secret", src_ns, _name())
    pattern = f"{cluster.run_id}-p{tag}x-[0-9a-f]+|other{tag}"
    created = _secret(cluster, source, SYSTEM.declare(source, Patterns([pattern])).metadata(), {"k": b"v"})
    _copy_in(cluster, hit, created)
    _signal(cluster, created, hint=f"p{tag}x")
    assert _read(cluster, near, source.name) is None


def test_push_by_label_selector_reaches_new_namespaces(replicator: Cluster) -> None:
    cluster = replicator
    team = f"t{secrets.token_hex(3)}"
    src_ns = cluster.create_namespace("src", {"team": team})
    member, other = cluster.create_namespace("member", {"team": team}), cluster.create_namespace("other")
    source = Source("Secret", src_ns, _name())
    declared = SYSTEM.declare(source, LabelSelector.of({"team": team}))
    created = _secret(cluster, source, declared.metadata(), {"k": b"v"})
    _copy_in(cluster, member, created)
    _signal(cluster, created, labels={"team": team})
    assert _read(cluster, other, source.name) is None
    # its own namespace matches the selector but gets no copy (the source is never overwritten)
    assert _read(cluster, src_ns, source.name).metadata.resource_version == created.metadata.resource_version


def test_pull_needs_consent_and_a_deleted_source_empties_the_target(replicator: Cluster) -> None:
    cluster = replicator
    src_ns, allowed, refused = (cluster.create_namespace(h) for h in ("src", "allowed", "refused"))
    source = Source("Secret", src_ns, _name())
    consent = SYSTEM.allow_pull(source, Names([allowed]))
    created = _secret(cluster, source, consent.metadata(), {"k": b"v"})
    mirror = SYSTEM.pull_mirror(source).metadata()
    for namespace in (refused, allowed):  # the refused one first: the allowed one's fill follows it
        _secret(cluster, Source("Secret", namespace, source.name), mirror, {})

    def filled() -> None:
        got = _read(cluster, allowed, source.name)
        assert got is not None, "the target is gone"
        assert _data(got) == _data(created), "the allowed target is not filled"

    eventually(filled, timeout=TIMEOUT, description="pull into the allowed namespace")
    assert _data(_read(cluster, refused, source.name)) == {}, "a target outside the consent was filled"

    cluster.core.delete_namespaced_secret(source.name, src_ns)

    def emptied() -> None:  # deviation neutral.pull.source-deleted: the target stays, emptied
        got = _read(cluster, allowed, source.name)
        assert got is not None, "the target was deleted"
        assert _data(got) == {}, "the target still holds the deleted source's data"

    eventually(emptied, timeout=TIMEOUT, description="target emptied when its source went")


def test_deviation_unlisting_keeps_the_copy(replicator: Cluster) -> None:
    assert "neutral.unlist" in SYSTEM.deviations
    cluster = replicator
    src_ns, kept, dropped = (cluster.create_namespace(h) for h in ("src", "kept", "dropped"))
    source = Source("Secret", src_ns, _name())
    created = _secret(cluster, source, SYSTEM.declare(source, Names([kept, dropped])).metadata(), {"k": b"1"})
    _copy_in(cluster, dropped, created)
    patch = SYSTEM.redeclare(source, Names([kept])).patch()
    patch["data"] = {"k": b64(b"2")}  # the update is the positive signal that the edit was processed
    updated = cluster.core.patch_namespaced_secret(source.name, src_ns, patch)
    _copy_in(cluster, kept, updated)
    stale = _read(cluster, dropped, source.name)
    assert stale is not None, "the unlisted namespace's copy was deleted (the profile's deviation is stale)"
    assert _data(stale) == _data(created)


def test_known_failure_a_deleted_copy_is_not_restored(replicator: Cluster) -> None:
    assert "neutral.drift.delete" in SYSTEM.known_failures
    cluster = replicator
    prefix = f"d{secrets.token_hex(2)}"
    src_ns, victim = cluster.create_namespace("src"), cluster.create_namespace(prefix)
    source = Source("Secret", src_ns, _name())
    pattern = f"{cluster.run_id}-{prefix}-[0-9a-f]+"
    created = _secret(cluster, source, SYSTEM.declare(source, Patterns([pattern])).metadata(), {"k": b"v"})
    _copy_in(cluster, victim, created)
    cluster.core.delete_namespaced_secret(source.name, victim)
    _signal(cluster, created, hint=prefix)
    assert _read(cluster, victim, source.name) is None, "restored: the profile's known failure is stale"


def test_known_failure_an_unrelated_same_name_secret_is_overwritten(replicator: Cluster) -> None:
    assert "neutral.unrelated" in SYSTEM.known_failures
    cluster = replicator
    src_ns, target = cluster.create_namespace("src"), cluster.create_namespace("target")
    source = Source("Secret", src_ns, _name())
    _secret(cluster, Source("Secret", target, source.name), {"labels": {"owner": "someone"}}, {"mine": b"x"})
    created = _secret(cluster, source, SYSTEM.declare(source, Names([target])).metadata(), {"k": b"v"})

    def overwritten() -> None:
        got = _read(cluster, target, source.name)
        assert got is not None
        assert SYSTEM.is_copy(got.metadata.annotations, got.metadata.labels, source), "left alone"

    eventually(overwritten, timeout=TIMEOUT, description="the unrelated Secret taken over")
    got = _read(cluster, target, source.name)
    merged = {"mine": digest(b64(b"x")), **_data(created)}
    assert _data(got) == merged, "merged: its own key kept, the source's added"
    assert not got.metadata.labels, "its own labels replaced by the source's (none)"
