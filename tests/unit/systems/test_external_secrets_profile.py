"""The External Secrets Operator profile on plain data: what a declaration creates (a reader that may
get one Secret, a ClusterSecretStore on the source's namespace, a ClusterExternalSecret selecting the
targets), which namespaces ESO's own selection rules pick from it, how its copies are recognised,
what the interface cannot ask of it, and how it runs as Pods of its chart (its image's inputs, the
values document, the post-renderer, what chaos does not apply where)."""

from __future__ import annotations

import ast
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import allure
import pytest
import yaml

from fixtures.clusters.cluster import PodNetwork
from fixtures.core.errors import SetupError
from fixtures.core.paths import REPO_ROOT
from fixtures.services import images
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
from fixtures.systems.delivery import DeliveredImage
from fixtures.systems.dialects import eso
from fixtures.systems.external_secrets import (
    DOCKERFILE,
    KIND_MISSING,
    PACKAGING,
    POST_RENDERER,
    EsoPackaging,
    bind_metrics_on_pod_ip,
    chart_values,
    flag_map,
    image_spec,
)
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


def test_chaos_runs_it_as_pods_on_the_nodes_and_says_what_still_does_not_apply() -> None:
    chaos = SYSTEM.chaos
    assert chaos is not None
    # its image and chart run on the nodes: the nodes variants of the one-replica experiments apply
    assert chaos.exemption("provider:nodes") is None
    for experiment in ("kill-operator", "container-kill"):
        assert chaos.refusal(experiment, replicas=1, provider="nodes") is None
    # what still does not, each with its own reason
    assert "UUID" in (chaos.refusal("node-loss", replicas=2, provider="nodes") or "")
    assert "UUID" in (chaos.refusal("leader-failover", replicas=2, provider="nodes") or "")
    assert "liveness probe" in (chaos.refusal("liveness-failure", replicas=1, provider="nodes") or "")
    assert "resources" in (chaos.refusal("oom-kill", replicas=1, provider="nodes") or "")
    # kind: the image exists, loading it into the kind node does not
    assert KIND_MISSING in (chaos.exemption("provider:kind") or "")
    assert "kind load image-archive" in KIND_MISSING
    assert KIND_MISSING in (SYSTEM.unavailable_on("kind") or "")
    assert SYSTEM.unavailable_on("local") is None


def _known_failure_checks() -> dict[str, set[str]]:
    """tests/eso's ``test_known_failure_*`` checks and the known-failure keys each asserts the profile
    lists (``assert "<key>" in SYSTEM.known_failures``), read from its source."""
    tree = ast.parse((REPO_ROOT / "tests" / "eso" / "test_external_secrets.py").read_text())
    checks: dict[str, set[str]] = {}
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name.startswith("test_known_failure_"):
            checks[node.name] = {
                c.left.value
                for c in ast.walk(node)
                if isinstance(c, ast.Compare)
                and isinstance(c.left, ast.Constant)
                and isinstance(c.ops[0], ast.In)
                and isinstance(c.comparators[0], ast.Attribute)
                and c.comparators[0].attr == "known_failures"
            }
    return checks


def test_every_known_failure_names_the_check_that_reproduces_it() -> None:
    """Issue 26's target: a known failure names its reproducing check, a tests/eso
    ``test_known_failure_*`` that asserts the profile lists it, or a make bench figure."""
    checks = _known_failure_checks()
    assert checks, "no test_known_failure_* in tests/eso"
    for key, text in SYSTEM.known_failures.items():
        named = [name for name in checks if name in text]
        if "make bench" in text:
            continue
        assert named, f"{key}: names no reproducing check of tests/eso"
        assert all(key in checks[name] for name in named), f"{key}: {named} do not assert it is listed"
    # and every such check reproduces a listed known failure
    assert all(keys and keys <= set(SYSTEM.known_failures) for keys in checks.values()), checks


# --- as Pods of its chart -------------------------------------------------------------------------


def test_its_image_is_its_dockerfile_over_the_binary_and_the_key_covers_the_binary(tmp_path: Path) -> None:
    binary = tmp_path / "bin" / "external-secrets"
    binary.parent.mkdir()
    binary.write_bytes(b"\x7fELF one build")
    binary.chmod(0o755)
    spec = image_spec(binary)
    assert (spec.name, spec.dockerfile) == ("external-secrets", DOCKERFILE)
    assert spec.dockerfile_path.is_file()
    # the Dockerfile copies exactly the staged binary, read from outside the repository
    assert [p.as_posix() for p in images.context_files(spec)] == ["external-secrets"]
    assert spec.source(Path("external-secrets")) == binary
    text = spec.dockerfile_path.read_text()
    assert "ARG RUNTIME_BASE=" in text
    assert "USER 65532:65532" in text
    assert 'ENTRYPOINT ["/bin/external-secrets"]' in text
    key = images.image_key(spec, "b" * 64)
    assert images.image_key(image_spec(binary), "b" * 64) == key
    binary.write_bytes(b"\x7fELF another build")
    assert images.image_key(spec, "b" * 64) != key  # a rebuilt binary is a new image
    binary.unlink()
    with pytest.raises(SetupError, match="staged from a missing file"):
        images.context_files(spec)


DIGEST = "sha256:" + "d" * 64
IMAGE = DeliveredImage(
    repository="127.0.0.1:5000/replicheck/external-secrets",
    digest=DIGEST,
    reference=f"127.0.0.1:5000/replicheck/external-secrets@{DIGEST}",
    build_seconds=0.1,
    cached=True,
    push_seconds=0.2,
    size_bytes=1,
)
NODES = PodNetwork(
    host_network=True, api_env={"KUBERNETES_SERVICE_HOST": "127.0.0.1", "KUBERNETES_SERVICE_PORT": "6443"}
)


def test_the_values_keep_the_charts_defaults_but_what_the_nodes_need() -> None:
    values = chart_values(
        IMAGE,
        "replicheck-registry",
        NODES,
        replicas=2,
        extra_args=["--enable-flood-gate=false"],
        metrics_port=31234,
        version="v0.16.2",
    )
    assert values["image"] == {
        "repository": IMAGE.repository,
        "tag": f"v0.16.2@{DIGEST}",  # the chart has no digest value: the runtime pulls by this digest
        "pullPolicy": "IfNotPresent",
    }
    assert values["imagePullSecrets"] == [{"name": "replicheck-registry"}]
    assert (values["hostNetwork"], values["dnsPolicy"]) == (True, "ClusterFirstWithHostNet")
    assert values["extraEnv"] == [
        {"name": "KUBERNETES_SERVICE_HOST", "value": "127.0.0.1"},
        {"name": "KUBERNETES_SERVICE_PORT", "value": "6443"},
    ]
    assert (values["replicaCount"], values["leaderElect"]) == (2, True)
    assert values["metrics"] == {"listen": {"port": 31234}}
    assert values["securityContext"] == {"runAsUser": None}  # the image's 65532, not the chart's 1000
    assert values["webhook"] == values["certController"] == {"create": False}
    assert values["installCRDs"] is False
    assert values["extraArgs"] == {"enable-flood-gate": "false"}
    assert "concurrent" not in values  # the chart's default (1) stays
    one = chart_values(
        IMAGE, "s", PodNetwork(), replicas=1, extra_args=[], metrics_port=8080, version="v0.16.2"
    )
    assert (one["leaderElect"], one["hostNetwork"], one["dnsPolicy"], one["extraEnv"]) == (
        False,
        False,
        "ClusterFirst",
        [],
    )


def test_extra_flags_become_the_charts_extra_args_map() -> None:
    assert flag_map(["--a=1", "--flag", "--b=x=y"]) == {"a": "1", "flag": "", "b": "x=y"}
    for bad in ("-v", "value", "--"):
        with pytest.raises(SetupError, match="--name=value"):
            flag_map([bad])


RENDERED = """\
apiVersion: v1
kind: ServiceAccount
metadata: {name: external-secrets, namespace: external-secrets}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: external-secrets, namespace: external-secrets}
spec:
  template:
    spec:
      containers:
      - name: external-secrets
        args: [--enable-leader-election=true, --concurrent=1, --metrics-addr=:31234, --loglevel=info]
        env:
        - {name: KUBERNETES_SERVICE_HOST, value: 127.0.0.1}
"""


def test_the_post_renderer_binds_the_metrics_on_the_pod_ip() -> None:
    docs = list(yaml.safe_load_all(bind_metrics_on_pod_ip(RENDERED)))
    assert docs[0] == {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": {"name": "external-secrets", "namespace": "external-secrets"},
    }
    (container,) = docs[1]["spec"]["template"]["spec"]["containers"]
    assert container["args"] == [
        "--enable-leader-election=true",
        "--concurrent=1",
        "--metrics-addr=$(POD_IP):31234",
        "--loglevel=info",
    ]
    assert container["env"] == [
        {"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
        {"name": "KUBERNETES_SERVICE_HOST", "value": "127.0.0.1"},
    ]
    with pytest.raises(SetupError, match="no --metrics-addr"):
        bind_metrics_on_pod_ip(RENDERED.replace("--metrics-addr=:31234", "--metrics-addr=127.0.0.1:1"))
    assert "bind_metrics_on_pod_ip" in POST_RENDERER
