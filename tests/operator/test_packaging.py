"""The operator's packaging: kustomize renders with the real kubectl, the chart lints with a real helm,
and both describe the same least-privilege, hardened Deployment.

The checks both bundled operators share are :mod:`testing.packaging`'s; this module adds the
replicator's own (its grants, its resource limits)."""

from __future__ import annotations

from pathlib import Path

import pytest

from fixtures.core.paths import REPO_ROOT
from testing.packaging import (
    SOURCES,
    Package,
    assert_hardened,
    assert_helm_lint_strict,
    assert_image_non_root_without_shell,
    assert_labels_valid_with_build_metadata,
    assert_least_privilege,
    assert_same_objects,
)

PACKAGE = Package(
    deploy=REPO_ROOT / "operator_under_test" / "deploy",
    release="replicheck-replicator",
    namespace="replicheck-system",
    module="operator_under_test.replicator",
)


def test_helm_lint_strict_passes() -> None:
    assert_helm_lint_strict(PACKAGE)


def test_labels_stay_valid_for_a_chart_version_with_build_metadata(tmp_path: Path) -> None:
    assert_labels_valid_with_build_metadata(PACKAGE, tmp_path)


def test_kustomize_and_helm_describe_the_same_objects() -> None:
    assert_same_objects(PACKAGE)


@pytest.mark.parametrize("source", SOURCES)
def test_cluster_role_is_least_privilege(source: str) -> None:
    granted = assert_least_privilege(PACKAGE.render(source))
    assert {r for r, _ in granted} == {"secrets", "configmaps", "namespaces", "events"}


@pytest.mark.parametrize("source", SOURCES)
def test_deployment_is_hardened_and_probed(source: str) -> None:
    container = assert_hardened(PACKAGE, PACKAGE.render(source))
    assert container["resources"]["limits"]["memory"]


def test_image_runs_as_non_root_without_a_shell() -> None:
    assert_image_non_root_without_shell(PACKAGE)
