"""Checks both bundled operators' packaging must pass, written once and parametrised by operator.

`tests/operator/test_packaging.py` (replicator) and `tests/configmirror/test_packaging.py` each
name their :class:`Package` and call these checks, then assert what is theirs alone (the replicator's
grants, ConfigMirror's CRD and two ports). Rendering uses the real kubectl (kustomize) and helm.
"""

from __future__ import annotations

import copy
import functools
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from fixtures.clusters.binaries import find_tool
from fixtures.clusters.workloads import render_kustomize

Doc = dict[str, Any]


@dataclass(frozen=True)
class Package:
    """One operator's deploy folder (``kustomize/``, ``chart/``, ``Dockerfile``) and how it runs."""

    deploy: Path
    release: str  # the Helm release name
    namespace: str
    module: str  # ``python -m <module>`` is the container's command
    helm_flags: tuple[str, ...] = ()

    def render(self, source: str) -> list[Doc]:
        """The objects ``source`` (one of :data:`SOURCES`) renders; rendered once, a fresh copy each call."""
        return copy.deepcopy(_render(self, source))


SOURCES = ("kustomized", "helm_rendered")


@functools.cache
def _render(pkg: Package, source: str) -> list[Doc]:
    if source == "kustomized":
        return render_kustomize(pkg.deploy / "kustomize")
    assert source == "helm_rendered", source
    chart = str(pkg.deploy / "chart")
    command = [_helm(), "template", pkg.release, chart, "--namespace", pkg.namespace, *pkg.helm_flags]
    out = subprocess.run(command, capture_output=True, text=True, check=True)
    return [d for d in yaml.safe_load_all(out.stdout) if d]


def _helm() -> str:
    return str(find_tool("helm", "run `make tools`"))


def by_kind(docs: list[Doc]) -> dict[str, list[Doc]]:
    kinds: dict[str, list[Doc]] = {}
    for doc in docs:
        kinds.setdefault(doc["kind"], []).append(doc)
    return kinds


def assert_helm_lint_strict(pkg: Package) -> None:
    proc = subprocess.run(
        [_helm(), "lint", "--strict", str(pkg.deploy / "chart")], capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


#: a label value (Kubernetes: at most 63 characters, alphanumerics and ``-_.`` inside)
LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")


def assert_labels_valid_with_build_metadata(pkg: Package, tmp: Path) -> None:
    """Every label the chart renders is valid when its version carries build metadata, as Flux's
    helm-controller gives a chart from an OCIRepository (``0.1.0+<digest prefix>``: a ``+`` is not
    allowed in a label value, so ``helm.sh/chart`` must replace it)."""
    chart = str(pkg.deploy / "chart")
    subprocess.run(
        [_helm(), "package", chart, "--version", "0.1.0+e78e9e89f069", "--destination", str(tmp)],
        capture_output=True,
        text=True,
        check=True,
    )
    (archive,) = tmp.glob("*.tgz")
    command = [_helm(), "template", pkg.release, str(archive), "--namespace", pkg.namespace, *pkg.helm_flags]
    proc = subprocess.run(command, capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    bad = [
        f"{doc['kind']}/{doc['metadata']['name']} {key}={value}"
        for doc in yaml.safe_load_all(proc.stdout)
        if doc
        for key, value in (doc["metadata"].get("labels") or {}).items()
        if len(str(value)) > 63 or not LABEL_VALUE.match(str(value))
    ]
    assert not bad, f"invalid label values: {bad}"


def assert_same_objects(pkg: Package) -> None:
    """Kustomize and the chart name the same objects (the chart leaves the Namespace to Helm)."""

    def names(docs: list[Doc]) -> set[tuple[str, str]]:
        return {(d["kind"], d["metadata"]["name"]) for d in docs if d["kind"] != "Namespace"}

    assert names(pkg.render("kustomized")) == names(pkg.render("helm_rendered"))


def assert_least_privilege(docs: list[Doc]) -> set[tuple[str, str]]:
    """No wildcard; Namespaces read-only; Events created or patched; the Lease Role touches only
    coordination.k8s.io. Returns the ClusterRole's (resource, verb) grants for the caller's checks."""
    (role,) = by_kind(docs)["ClusterRole"]
    granted = {(res, verb) for rule in role["rules"] for res in rule["resources"] for verb in rule["verbs"]}
    assert not any("*" in pair for pair in granted), "no wildcards"
    assert {v for r, v in granted if r == "namespaces"} == {"get", "list", "watch"}
    assert {v for r, v in granted if r == "events"} <= {"create", "patch"}
    (lease_role,) = by_kind(docs)["Role"]
    assert {g for rule in lease_role["rules"] for g in rule["apiGroups"]} == {"coordination.k8s.io"}
    return granted


def assert_hardened(pkg: Package, docs: list[Doc]) -> Doc:
    """One container, non-root, read-only root, no escalation, no capabilities, probed on /healthz and
    /readyz, running ``python -m <module>``. Returns the container for the caller's checks."""
    (deployment,) = by_kind(docs)["Deployment"]
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    security = {**pod.get("securityContext", {}), **container.get("securityContext", {})}
    assert security["runAsNonRoot"] is True
    assert security["readOnlyRootFilesystem"] is True
    assert security["allowPrivilegeEscalation"] is False
    assert security["capabilities"]["drop"] == ["ALL"]
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["command"][-2:] == ["-m", pkg.module]
    return container


def assert_image_non_root_without_shell(pkg: Package) -> None:
    """The Dockerfile's final stage is distroless, runs as a non-root user and has no RUN step."""
    dockerfile = (pkg.deploy / "Dockerfile").read_text()
    final_stage = dockerfile.rsplit("\nFROM ", 1)[1]
    assert "distroless" in final_stage.splitlines()[0]
    assert re.search(r"^USER\s+(?!0\b|root\b)\S+", final_stage, re.MULTILINE)
    assert not re.search(r"^RUN\s", final_stage, re.MULTILINE), "the final stage needs no shell"
