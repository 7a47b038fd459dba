"""C17-C19, C21: what a copy is made of (type, metadata, ConfigMaps) and what is never a source."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from suites.contract import behaviour
from suites.support import CONFIGMAP, Scenario

DATA = {"user": "app", "password": "s3cr3t"}
TYPED = {
    "Opaque": {"user": "app", "password": "s3cr3t"},
    "kubernetes.io/tls": {"tls.crt": "-----BEGIN CERTIFICATE-----", "tls.key": "-----BEGIN PRIVATE KEY-----"},
    "kubernetes.io/dockerconfigjson": {".dockerconfigjson": json.dumps({"auths": {"registry.example": {}}})},
    "kubernetes.io/basic-auth": {"username": "app", "password": "s3cr3t"},
}


@behaviour("C17", "Secret types")
@pytest.mark.parametrize("type_", list(TYPED))
def test_copies_have_the_source_type(scenario: Scenario, type_: str) -> None:
    s = scenario
    src, a = s.ns("src"), s.ns("a")
    s.source(src, TYPED[type_], to=[a], type_=type_)

    s.expect_copies(src, [a], description=f"a {type_} copy")  # the compared view includes the type


@behaviour("C17", "type change by delete and recreate of the source")
def test_a_type_change_by_recreating_the_source_reaches_the_copies(scenario: Scenario) -> None:
    s = scenario
    src, a, b = s.ns("src"), s.ns("a"), s.ns("b")
    s.source(src, TYPED["Opaque"], to=[a, b])
    s.expect_copies(src, [a, b])

    s.delete(src)
    s.source(src, TYPED["kubernetes.io/tls"], to=[a, b], type_="kubernetes.io/tls")

    seconds = s.expect_copies(src, [a, b], description="copies of the new type")
    s.latency("C17 source recreated with a new type → copies", seconds, copies=2)


@behaviour("C18", "metadata on copies")
def test_copies_carry_only_the_bookkeeping_annotations_and_no_labels(scenario: Scenario) -> None:
    s = scenario
    src, a = s.ns("src"), s.ns("a")
    labels = {
        "app.kubernetes.io/instance": "infra",
        "app.kubernetes.io/managed-by": "Helm",
        "kustomize.toolkit.fluxcd.io/name": "infra",
        "kustomize.toolkit.fluxcd.io/namespace": "flux-system",
        "argocd.argoproj.io/instance": "infra",
        "team": "platform",
    }
    annotations = {
        "argocd.argoproj.io/tracking-id": "infra:/Secret:src/creds",
        "kubectl.kubernetes.io/last-applied-configuration": json.dumps(
            {"kind": "Secret", "data": {"k": "djE="}}
        ),
        "meta.helm.sh/release-name": "infra",
        "example.com/owner": "platform",
    }
    s.source(src, DATA, to=[a], labels=labels, annotations=annotations)
    s.expect_copies(src, [a])

    copy, source = s.read(a), s.read(src)
    assert not copy.metadata.labels, f"labels on the copy: {sorted(copy.metadata.labels)}"
    assert set(copy.metadata.annotations or {}) == set(s.dialect.bookkeeping), (
        f"annotations on the copy: {sorted(copy.metadata.annotations or {})}, "
        f"expected exactly {sorted(s.dialect.bookkeeping)}"
    )
    assert not copy.metadata.owner_references, "owner references on the copy"
    assert not copy.metadata.finalizers, "finalizers on the copy"
    assert s.dialect.is_auto_copy(copy.metadata.annotations, src, s.name), (
        f"not marked as an auto copy of {src}/{s.name}: {s.dialect.bookkeeping_of(copy.metadata.annotations)}"
    )
    assert copy.metadata.annotations[s.dialect.version_key] == source.metadata.resource_version
    reflected_at = copy.metadata.annotations[s.dialect.at_key]
    parsed = dt.datetime.fromisoformat(reflected_at.strip('"').replace("Z", "+00:00"))
    assert abs((dt.datetime.now(dt.UTC) - parsed).total_seconds()) < 600, f"reflected-at {reflected_at}"


@behaviour("C19", "ConfigMaps: the same lifecycle, with binaryData")
def test_configmaps_replicate_data_and_binary_data_through_their_lifecycle(scenario: Scenario) -> None:
    s = scenario.another(CONFIGMAP)
    src, a, b, manual, _unlisted = s.ns("src"), s.ns("a"), s.ns("b"), s.ns("manual"), s.ns("unlisted")
    s.source(
        src,
        {"app.properties": "x=1", "mode": "blue"},
        binary={"blob": bytes(range(256))},
        to=[a, b, manual],
        auto_to=[a, b],
    )
    s.mirror(manual, of=src)
    seconds = s.expect_copies(src, [a, b, manual], description="ConfigMap copies and the filled mirror")
    s.latency("C19 ConfigMap created → copies", seconds, copies=2)

    s.update(src, {"mode": None, "extra": "y"}, binary={"blob": b"\x00\xff" * 64, "more": b"\x01"})
    s.expect_copies(src, [a, b, manual], description="updated ConfigMap copies")
    copy = s.read(a)
    assert sorted(copy.data) == ["app.properties", "extra"], f"data keys {sorted(copy.data)}"
    assert sorted(copy.binary_data) == ["blob", "more"], f"binaryData keys {sorted(copy.binary_data)}"

    last = s.kind.view(s.read(manual))
    s.delete(src)

    s.wait(lambda: s.assert_only_in([manual]), "ConfigMap copies deleted with the source, manual mirror kept")
    assert s.kind.view(s.read(manual)) == last


@behaviour("C21", "Helm release Secrets are never sources")
def test_helm_release_secrets_are_ignored(scenario: Scenario) -> None:
    s = scenario
    src, a = s.ns("src"), s.ns("a")
    release = s.source(
        src,
        {"release": "H4sIAAAAAAAA"},
        to=[a],
        type_="helm.sh/release.v1",
        labels={"owner": "helm", "name": "infra", "status": "deployed", "version": "1"},
    )

    s.settle(src)

    s.assert_copies(src, [])
    assert s.read(src).metadata.resource_version == release.metadata.resource_version, (
        "the release was written to"
    )
