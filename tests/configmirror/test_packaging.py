"""ConfigMirror packaging: kustomize renders with the real kubectl, the chart lints with a real helm,
both describe the same least-privilege, hardened Deployment, and the image is non-root.

The checks both bundled operators share are :mod:`testing.packaging`'s; this module adds
ConfigMirror's own (Secrets get-only, the CRD, two ports, pinned psycopg)."""

from __future__ import annotations

import re
from pathlib import Path

import allure
import pytest

from fixtures.core.paths import REPO_ROOT
from fixtures.systems.configmirror import SYSTEM
from testing.packaging import (
    SOURCES,
    Package,
    assert_hardened,
    assert_helm_lint_strict,
    assert_image_non_root_without_shell,
    assert_labels_valid_with_build_metadata,
    assert_least_privilege,
    assert_same_objects,
    by_kind,
)

pytestmark = allure.label("system", SYSTEM)
PACKAGE = Package(
    deploy=REPO_ROOT / "operator_under_test" / "configmirror" / "deploy",
    release="configmirror-operator",
    namespace="configmirror-system",
    module="operator_under_test.configmirror",
    helm_flags=("--include-crds",),
)


def test_helm_lint_strict_passes() -> None:
    assert_helm_lint_strict(PACKAGE)


def test_labels_stay_valid_for_a_chart_version_with_build_metadata(tmp_path: Path) -> None:
    assert_labels_valid_with_build_metadata(PACKAGE, tmp_path)


def test_kustomize_and_helm_describe_the_same_objects() -> None:
    assert_same_objects(PACKAGE)
    (crd_k,) = by_kind(PACKAGE.render("kustomized"))["CustomResourceDefinition"]
    (crd_h,) = by_kind(PACKAGE.render("helm_rendered"))["CustomResourceDefinition"]
    crd_k["metadata"].pop("labels", None)
    assert crd_k == crd_h, "chart/crds/ is a copy of kustomize/crd.yaml"


@pytest.mark.parametrize("source", SOURCES)
def test_cluster_role_is_least_privilege(source: str) -> None:
    granted = assert_least_privilege(PACKAGE.render(source))
    assert {v for r, v in granted if r == "secrets"} == {"get"}, "Secrets: get only (never list/watch)"
    assert "delete" not in {v for r, v in granted if r.startswith("configmirrors")}


@pytest.mark.parametrize("source", SOURCES)
def test_deployment_is_hardened_probed_on_8081_with_metrics_on_8080(source: str) -> None:
    container = assert_hardened(PACKAGE, PACKAGE.render(source))
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports == {"metrics": 8080, "probes": 8081}
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "probes"}
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "probes"}
    assert "--leader-elect" in container["args"]


def test_crd_has_printer_columns_status_subresource_and_validation() -> None:
    (crd,) = by_kind(PACKAGE.render("kustomized"))["CustomResourceDefinition"]
    assert crd["spec"]["group"] == "mirror.configmirror.io"
    assert crd["spec"]["scope"] == "Namespaced"
    (version,) = crd["spec"]["versions"]
    assert version["name"] == "v1alpha1"
    assert version["subresources"] == {"status": {}}
    assert [c["name"] for c in version["additionalPrinterColumns"]] == [
        "Source",
        "Targets",
        "Replicated",
        "Ready",
        "Database",
        "Age",
    ]
    spec = version["schema"]["openAPIV3Schema"]["properties"]["spec"]
    assert set(spec["required"]) == {"sourceNamespace", "targetNamespaces", "selector"}
    expr = spec["properties"]["selector"]["properties"]["matchExpressions"]["items"]
    assert expr["properties"]["operator"]["enum"] == ["In", "NotIn", "Exists", "DoesNotExist"]


def test_image_runs_as_non_root_without_a_shell() -> None:
    assert_image_non_root_without_shell(PACKAGE)
    requirements = (PACKAGE.deploy / "requirements.txt").read_text()
    for pkg in ("psycopg==", "psycopg-binary==", "kubernetes==", "prometheus-client=="):
        assert re.search(rf"^{re.escape(pkg)}\S+ \\\n\s+--hash=sha256:", requirements, re.MULTILINE), pkg
