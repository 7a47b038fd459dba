"""The HelmRelease a system is deployed by (fixtures/systems/helmrelease.py): its manifest and how
helm-controller's status is read (pure)."""

from __future__ import annotations

from fixtures.systems.helmrelease import ChartSource, is_released, release_manifest, released_version

SOURCE = ChartSource("replicheck-replicator", "flux-system", "replicheck-replicator", "0.1.0")


def _release(status: str, chart_version: str, generation: int = 1, observed: int = 1) -> dict:
    return {
        "kind": "HelmRelease",
        "metadata": {"name": "r", "namespace": "ns", "generation": generation},
        "status": {
            "observedGeneration": observed,
            "conditions": [{"type": "Ready", "status": status, "observedGeneration": observed}],
            "history": [{"chartVersion": chart_version}, {"chartVersion": "0.0.9"}],
        },
    }


def test_the_release_names_its_chart_source_its_account_and_retries_failures() -> None:
    doc = release_manifest(
        "r", "ns", SOURCE, {"rbac": {"enabled": True}}, "helm-release", interval="10s", timeout="60s"
    )
    spec = doc["spec"]
    assert doc["apiVersion"] == "helm.toolkit.fluxcd.io/v2"
    assert spec["chartRef"] == {"kind": "OCIRepository", "name": SOURCE.name, "namespace": "flux-system"}
    assert spec["serviceAccountName"] == "helm-release"
    assert spec["releaseName"] == "r"
    assert spec["values"] == {"rbac": {"enabled": True}}
    assert spec["install"]["remediation"]["retries"] == -1


def test_a_chart_from_an_oci_repository_is_released_at_its_version_without_the_digest_suffix() -> None:
    # helm-controller records a chart from an OCIRepository as <version>+<digest prefix>
    assert released_version(_release("True", "0.1.0+e78e9e89f069")) == "0.1.0"
    assert is_released(_release("True", "0.1.0+e78e9e89f069"), "0.1.0")
    assert not is_released(_release("True", "0.1.0+e78e9e89f069"), "0.1.1")
    assert not is_released(_release("False", "0.1.0"), "0.1.0")
    # a status that describes an older generation says nothing about the current one
    assert not is_released(_release("True", "0.1.0", generation=2, observed=1), "0.1.0")
    assert released_version(None) == ""
