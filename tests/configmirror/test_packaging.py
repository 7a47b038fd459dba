"""ConfigMirror packaging: kustomize renders with the real kubectl, the chart lints with a real helm,
both describe the same least-privilege, hardened Deployment, and the image is non-root."""

from __future__ import annotations

import re
import subprocess

import allure
import pytest
import yaml

from fixtures.binaries import find_tool
from fixtures.configmirror import SYSTEM
from fixtures.deploy import render_kustomize
from fixtures.paths import REPO_ROOT

pytestmark = allure.label("system", SYSTEM)
DEPLOY = REPO_ROOT / "operator_under_test" / "configmirror" / "deploy"


@pytest.fixture(scope="module")
def kustomized() -> list[dict]:
    return render_kustomize(DEPLOY / "kustomize")


@pytest.fixture(scope="module")
def helm_rendered() -> list[dict]:
    helm = str(find_tool("helm", "run `make tools`"))
    out = subprocess.run(
        [
            helm,
            "template",
            "configmirror-operator",
            str(DEPLOY / "chart"),
            "--namespace",
            "configmirror-system",
            "--include-crds",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    return [d for d in yaml.safe_load_all(out.stdout) if d]


def _by_kind(docs: list[dict]) -> dict[str, list[dict]]:
    kinds: dict[str, list[dict]] = {}
    for doc in docs:
        kinds.setdefault(doc["kind"], []).append(doc)
    return kinds


def test_helm_lint_strict_passes() -> None:
    helm = str(find_tool("helm", "run `make tools`"))
    proc = subprocess.run([helm, "lint", "--strict", str(DEPLOY / "chart")], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_kustomize_and_helm_describe_the_same_objects(
    kustomized: list[dict], helm_rendered: list[dict]
) -> None:
    def names(docs: list[dict]) -> set[tuple[str, str]]:
        return {(d["kind"], d["metadata"]["name"]) for d in docs if d["kind"] != "Namespace"}

    assert names(kustomized) == names(helm_rendered)
    (crd_k,) = _by_kind(kustomized)["CustomResourceDefinition"]
    (crd_h,) = _by_kind(helm_rendered)["CustomResourceDefinition"]
    crd_k["metadata"].pop("labels", None)
    assert crd_k == crd_h, "chart/crds/ is a copy of kustomize/crd.yaml"


@pytest.mark.parametrize("source", ["kustomized", "helm_rendered"])
def test_cluster_role_is_least_privilege(source: str, request: pytest.FixtureRequest) -> None:
    docs = request.getfixturevalue(source)
    (role,) = _by_kind(docs)["ClusterRole"]
    granted = {(res, verb) for rule in role["rules"] for res in rule["resources"] for verb in rule["verbs"]}
    assert not any("*" in pair for pair in granted), "no wildcards"
    assert {v for r, v in granted if r == "secrets"} == {"get"}, "Secrets: get only (never list/watch)"
    assert {v for r, v in granted if r == "namespaces"} == {"get", "list", "watch"}
    assert {v for r, v in granted if r == "events"} <= {"create", "patch"}
    assert "delete" not in {v for r, v in granted if r.startswith("configmirrors")}
    (lease_role,) = _by_kind(docs)["Role"]
    assert {g for rule in lease_role["rules"] for g in rule["apiGroups"]} == {"coordination.k8s.io"}


@pytest.mark.parametrize("source", ["kustomized", "helm_rendered"])
def test_deployment_is_hardened_probed_on_8081_with_metrics_on_8080(
    source: str, request: pytest.FixtureRequest
) -> None:
    docs = request.getfixturevalue(source)
    (deployment,) = _by_kind(docs)["Deployment"]
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    security = {**pod.get("securityContext", {}), **container.get("securityContext", {})}
    assert security["runAsNonRoot"] is True
    assert security["readOnlyRootFilesystem"] is True
    assert security["allowPrivilegeEscalation"] is False
    assert security["capabilities"]["drop"] == ["ALL"]
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports == {"metrics": 8080, "probes": 8081}
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "probes"}
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "probes"}
    assert container["command"][-2:] == ["-m", "operator_under_test.configmirror"]
    assert "--leader-elect" in container["args"]


def test_crd_has_printer_columns_status_subresource_and_validation(kustomized: list[dict]) -> None:
    (crd,) = _by_kind(kustomized)["CustomResourceDefinition"]
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
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    final_stage = dockerfile.rsplit("\nFROM ", 1)[1]
    assert "distroless" in final_stage.splitlines()[0]
    assert re.search(r"^USER\s+(?!0\b|root\b)\S+", final_stage, re.MULTILINE)
    assert not re.search(r"^RUN\s", final_stage, re.MULTILINE), "the final stage needs no shell"
    requirements = (DEPLOY / "requirements.txt").read_text()
    for pkg in ("psycopg==", "psycopg-binary==", "kubernetes==", "prometheus-client=="):
        assert re.search(rf"^{re.escape(pkg)}\S+ \\\n\s+--hash=sha256:", requirements, re.MULTILINE), pkg
