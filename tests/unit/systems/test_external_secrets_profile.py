"""The External Secrets Operator profile on plain data: what a declaration creates (a reader that may
get one Secret, a ClusterSecretStore on the source's namespace, a ClusterExternalSecret selecting the
targets), which namespaces ESO's own selection rules pick from it, how its copies are recognised,
and what the interface cannot ask of it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import allure
import pytest

from fixtures.systems import (
    LabelSelector,
    Names,
    Patterns,
    Requirement,
    Source,
    Unsupported,
    selected,
    system,
)
from fixtures.systems.dialects import eso
from fixtures.systems.external_secrets import PACKAGING, EsoPackaging
from fixtures.systems.profiles.external_secrets import SYSTEM

pytestmark = allure.label("system", SYSTEM.name)

SOURCE = Source("Secret", "flux-system", "oci-creds")


def _by_kind(resources: tuple[Mapping[str, Any], ...]) -> dict[str, Mapping[str, Any]]:
    return {r["kind"]: r for r in resources}


def _eso_selects(ces: Mapping[str, Any], namespaces: Mapping[str, Mapping[str, str]]) -> set[str]:
    """ESO's GetTargetNamespaces over plain data: every namespace matching any of the selectors
    (matchLabels and matchExpressions ANDed inside one selector)."""
    picked = set()
    for sel in ces["spec"]["namespaceSelectors"]:
        expressions = tuple(
            Requirement(e["key"], e["operator"], tuple(e.get("values", ())))
            for e in sel.get("matchExpressions", ())
        )
        selector = LabelSelector(tuple(sorted((sel.get("matchLabels") or {}).items())), expressions)
        picked |= {ns for ns, labels in namespaces.items() if selector.matches(ns, labels)}
    return picked


def _namespaces(*names: str, **labels: dict[str, str]) -> dict[str, dict[str, str]]:
    """Namespaces with the name label the API server puts on every namespace, plus ``labels``."""
    return {n: {eso.NAME_LABEL: n, **labels.get(n.replace("-", "_"), {})} for n in names}


def test_eso_is_a_registered_crd_driven_secret_system_of_its_own_dialect() -> None:
    assert system("external-secrets") is SYSTEM
    assert (SYSTEM.dialect, SYSTEM.driven_by, sorted(SYSTEM.kinds)) == ("eso", "crd", ["Secret"])
    assert sorted(SYSTEM.push_targets) == ["names", "selector"]
    assert not SYSTEM.pull_targets
    # no dialect clash: the bundled operator, ConfigMirror and ESO share one cluster
    assert selected("bundled,configmirror,external-secrets").names == [
        "bundled",
        "configmirror",
        "external-secrets",
    ]
    assert isinstance(SYSTEM.packaging, EsoPackaging)
    assert SYSTEM.packaging is PACKAGING
    assert SYSTEM.service_account_namespaces == frozenset({"external-secrets"})  # audited by local planes


def test_a_declaration_is_a_reader_a_store_on_the_source_namespace_and_a_cluster_external_secret() -> None:
    declared = SYSTEM.declare(SOURCE, Names(["cert-manager", "kyverno"]))
    assert not declared.annotations
    assert not declared.labels
    kinds = _by_kind(declared.resources)
    assert list(kinds) == [
        "ServiceAccount",
        "Role",
        "RoleBinding",
        "ClusterSecretStore",
        "ClusterExternalSecret",
    ]
    reader = eso.reader_name(SOURCE)
    assert kinds["Role"]["metadata"] == {"name": reader, "namespace": "flux-system"}
    # least privilege: get, on this one Secret
    assert kinds["Role"]["rules"] == [
        {"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"], "resourceNames": ["oci-creds"]}
    ]
    assert kinds["RoleBinding"]["subjects"] == [
        {"kind": "ServiceAccount", "name": reader, "namespace": "flux-system"}
    ]
    provider = kinds["ClusterSecretStore"]["spec"]["provider"]["kubernetes"]
    assert provider["remoteNamespace"] == "flux-system"
    assert provider["auth"] == {"serviceAccount": {"name": reader, "namespace": "flux-system"}}
    assert provider["server"]["caProvider"] == {
        "type": "ConfigMap",
        "name": "kube-root-ca.crt",
        "key": "ca.crt",
        "namespace": "flux-system",
    }
    ces = kinds["ClusterExternalSecret"]
    name = eso.cluster_name(SOURCE)
    assert (
        ces["metadata"]["name"]
        == kinds["ClusterSecretStore"]["metadata"]["name"]
        == name
        == "flux-system.oci-creds"
    )
    spec = ces["spec"]
    assert spec["externalSecretName"] == name
    assert spec["refreshTime"] == "1m"  # namespaces re-listed (and watched)
    es = spec["externalSecretSpec"]
    assert es["refreshInterval"] == "15s"  # the source is polled: a quarter of the seed's 60 s
    assert es["secretStoreRef"] == {"kind": "ClusterSecretStore", "name": name}
    assert es["target"] == {"name": "oci-creds", "creationPolicy": "Owner", "deletionPolicy": "Delete"}
    assert es["dataFrom"] == [{"extract": {"key": "oci-creds"}}]  # every key of the source


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        (Names(["cert-manager", "kyverno"]), {"cert-manager", "kyverno"}),
        (Names([]), set()),
        (LabelSelector.of({"oci": "yes"}), {"observability"}),
        (LabelSelector((), (Requirement("oci", "Exists"),)), {"observability", "keycloak"}),
    ],
)
def test_eso_selects_exactly_the_targeted_namespaces(
    target: Names | LabelSelector, expected: set[str]
) -> None:
    namespaces = _namespaces(
        "flux-system",
        "cert-manager",
        "kyverno",
        "cert-manager-2",
        "observability",
        "keycloak",
        observability={"oci": "yes"},
        keycloak={"oci": "no"},
    )
    ces = _by_kind(SYSTEM.declare(SOURCE, target).resources)["ClusterExternalSecret"]
    assert _eso_selects(ces, namespaces) == expected


def test_what_eso_cannot_be_asked_is_unsupported() -> None:
    with pytest.raises(Unsupported, match="ConfigMap"):
        SYSTEM.declare(Source("ConfigMap", "apps", "settings"), Names(["a"]))
    with pytest.raises(Unsupported, match="patterns"):
        SYSTEM.declare(SOURCE, Patterns(["team-.*"]))
    with pytest.raises(Unsupported, match="pull"):
        SYSTEM.allow_pull(SOURCE, Names(["a"]))
    assert SYSTEM.target_for(["a", "b"]) == Names(["a", "b"])


def test_undeclaring_removes_the_cluster_external_secret_first_then_store_and_reader() -> None:
    undeclared = SYSTEM.undeclare(SOURCE)
    assert not undeclared.resources
    assert [(kind, ns) for _, kind, ns, _ in undeclared.deleted] == [
        ("ClusterExternalSecret", ""),
        ("ClusterSecretStore", ""),
        ("RoleBinding", "flux-system"),
        ("Role", "flux-system"),
        ("ServiceAccount", "flux-system"),
    ]
    redeclared = SYSTEM.redeclare(SOURCE, Names(["kyverno"]))
    assert not redeclared.deleted  # every object is replaced in place, none deleted
    ces = _by_kind(redeclared.resources)["ClusterExternalSecret"]
    assert _eso_selects(ces, _namespaces("kyverno", "cert-manager")) == {"kyverno"}


def test_the_poison_is_a_selector_eso_cannot_parse() -> None:
    ces = _by_kind(SYSTEM.poison(SOURCE).resources)["ClusterExternalSecret"]
    (selector,) = ces["spec"]["namespaceSelectors"]
    operators = {e["operator"] for e in selector["matchExpressions"]}
    assert not operators & {"In", "NotIn", "Exists", "DoesNotExist"}  # LabelSelectorAsSelector refuses it


def test_copies_are_recognised_by_esos_own_markers() -> None:
    labels = {eso.LABEL_MANAGED: "true", eso.LABEL_OWNER: "3f1c"}
    annotations = {eso.ANNOTATION_DATA_HASH: "9b2e"}
    assert SYSTEM.is_copy(annotations, labels, SOURCE)
    assert not SYSTEM.is_copy(None, None, SOURCE)  # a plain Secret
    assert not SYSTEM.is_copy(annotations, {eso.LABEL_MANAGED: "true"}, SOURCE)  # managed, not owned
    assert not SYSTEM.is_copy({}, labels, SOURCE)
    assert SYSTEM.version_of(annotations, labels) is None
    assert not SYSTEM.records_version
    # "a copy equals its source" ignores exactly these; diagnostics never print the data hash
    assert SYSTEM.bookkeeping.strip(annotations, {**labels, "app": "x"}) == ({}, {"app": "x"})
    assert not any(eso.ANNOTATION_DATA_HASH.startswith(p) for p in SYSTEM.bookkeeping.shown)


def test_long_names_stay_valid_object_names() -> None:
    source = Source("Secret", "n" * 63, "s" * 253)
    assert len(eso.cluster_name(source)) <= eso.MAX_NAME
    assert len(eso.reader_name(source)) <= eso.MAX_NAME
    assert eso.cluster_name(source) != eso.cluster_name(Source("Secret", "n" * 63, "s" * 252))


def test_the_profile_states_why_readiness_and_leader_failover_do_not_apply() -> None:
    assert SYSTEM.readiness is None
    assert "no readiness" in SYSTEM.no_readiness
    assert SYSTEM.chaos is not None
    assert SYSTEM.chaos.max_replicas == 1
    assert SYSTEM.chaos.lease is None
    assert SYSTEM.chaos.exemption("leader-failover")
    assert SYSTEM.chaos.user == "system:serviceaccount:external-secrets:external-secrets"
