"""Seed 000's integration test step 6 literally (issue 25): "verify all HelmReleases can authenticate
to the OCI registry", with HelmReleases installed by Flux's helm-controller on real nodes.

What runs (the nodes' OCI stack, ``OciStack(on_nodes=True)``): the GitOps path of ``path.py``, and
then, in flux-system and in every service namespace,

* the **test service**: a chart in the run's registry (``charts/service-chart``) whose Deployment runs
  one Pod of an image in the same registry (``replicheck/test-service``: the project's own pause
  program, a one-layer image) with ``imagePullPolicy: Always`` and the namespace's ``oci-creds`` as
  its imagePullSecret. Each service namespace has an OCIRepository authenticated by its replicated
  ``oci-creds`` and a HelmRelease of it. **HelmRelease Ready at chart version V** means both pulls
  happened after V was pushed: helm-controller installed V (source-controller pulled the chart with
  the copy of the credentials) and waited for its Pod, which the kubelet started after pulling the
  image with the same copy (the chart version is in the Pod template, so every version is a new Pod
  and a new pull; ``Always`` makes the kubelet ask the registry even for a layer it holds);
* the **operator under test**, deployed the seed's way: its chart pushed to ``charts/<chart>``, an
  OCIRepository in flux-system authenticated by the consolidated ``flux-system/oci-creds`` and a
  HelmRelease in its own namespace with ``rbac.enabled: true`` (``fixtures/systems/helmrelease.py``).

HelmReleases run as a ServiceAccount of their namespace (``Flux.allow_releases``): helm-controller
may impersonate it and nothing else, and it may do what a namespace admin may in that namespace
only; the operator's, whose chart creates a ClusterRole, is cluster-admin.

Flux intervals (they bound how fast a change travels; stated in the record): GitRepository,
Kustomization and OCIRepository every ``INTERVAL`` s (path.py); a HelmRelease reacts to its source's
new artifact at once (helm-controller watches its chartRef) and is re-checked every
``RELEASE_INTERVAL``.
"""

from __future__ import annotations

import copy
import json
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import yaml
from kubernetes import client

from fixtures.clusters.nodes.pause import pause_archive
from fixtures.clusters.workloads import kubectl
from fixtures.core.errors import SetupError
from fixtures.core.waiting import eventually
from fixtures.services import flux, images
from fixtures.services.flux import FLUX_NS
from fixtures.systems.helmrelease import (
    ChartSource,
    deploy_by_release,
    is_released,
    release_manifest,
    released_version,
)
from fixtures.systems.packaging import PythonPackage
from oci.path import CHART, CREDS, GitOpsPath

SERVICE = "service"  # the HelmRelease (and release) name in every service namespace
RECONCILE_ANNOTATION = "reconcile.fluxcd.io/requestedAt"  # what `flux reconcile` sets
SERVICE_IMAGE = "test-service"
RELEASE_INTERVAL = "10s"
RELEASE_TIMEOUT = "60s"  # helm's wait for the release's Pods


@dataclass
class Releases:
    """The HelmReleases of one GitOps path on the nodes' stack."""

    path: GitOpsPath
    image: images.PushedImage | None = None
    namespaces: list[str] = field(default_factory=list)

    @property
    def cluster(self):
        return self.path.cluster

    # -- what the registry holds -------------------------------------------------------------------
    def push_service_image(self) -> images.PushedImage:
        """The test service's image (the pause program as a one-layer OCI image) in the registry."""
        archive = pause_archive()
        built = images.BuiltImage(
            name=SERVICE_IMAGE,
            archive=archive,
            digest=images.archive_digest(archive),
            key=archive.stem,
            build_seconds=0.0,
            cached=True,
            size_bytes=archive.stat().st_size,
        )
        self.image = images.push(built, self.path.registry)
        return self.image

    # -- who installs -------------------------------------------------------------------------------
    def ensure_release_account(self, namespace: str, *, cluster_wide: bool = False) -> str:
        """``namespace``'s release ServiceAccount (``Flux.allow_releases``): admin of that namespace
        only, or cluster-admin (``cluster_wide``: a chart that creates cluster-wide RBAC)."""
        assert self.path.stack.flux is not None, "the stack is not started"
        return self.path.stack.flux.allow_releases(namespace, cluster_wide=cluster_wide)

    # -- the services ---------------------------------------------------------------------------------
    def add_service(self, namespace: str, pull_secret: str = CREDS) -> None:
        """The OCIRepository (authenticated by ``pull_secret``) and the HelmRelease of the test service."""
        assert self.image is not None, "push the service image first"
        self.path.add_source(namespace, pull_secret=pull_secret)
        account = self.ensure_release_account(namespace)
        doc = release_manifest(
            SERVICE,
            namespace,
            ChartSource(CHART, namespace, CHART, ""),
            {"image": self.image.reference, "pullSecret": pull_secret},
            account,
            interval=RELEASE_INTERVAL,
            timeout=RELEASE_TIMEOUT,
        )
        kubectl(
            self.cluster, "apply", "--server-side", "--force-conflicts", "-f", "-", stdin=yaml.safe_dump(doc)
        )
        self.namespaces.append(namespace)

    def release(self, namespace: str, name: str = SERVICE) -> dict | None:
        return flux.get(self.cluster, "HelmRelease", namespace, name)

    def wait_released(
        self, namespaces: list[str], version: str, timeout: float, since: float
    ) -> dict[str, float]:
        """Poll until every namespace's HelmRelease is Ready at ``version``; seconds from ``since``."""
        seen: dict[str, float] = {}

        def all_released() -> dict[str, float]:
            for ns in namespaces:
                if ns not in seen and is_released(self.release(ns), version):
                    seen[ns] = time.monotonic() - since
            missing = [ns for ns in namespaces if ns not in seen]
            assert not missing, f"not yet released at chart {version}:\n" + "\n".join(
                self.diagnosis(ns) for ns in missing
            )
            return dict(seen)

        return eventually(
            all_released, timeout=timeout, interval=0.25, description=f"HelmReleases at chart {version}"
        )

    def pods(self, namespace: str) -> list[client.V1Pod]:
        return self.cluster.core.list_namespaced_pod(
            namespace, label_selector=f"app.kubernetes.io/instance={SERVICE}"
        ).items

    def pull_result(self, namespace: str) -> str:
        """What the kubelet made of the service's image: ``pulled <digest>`` from a running Pod, or the
        waiting reason and message of one that is not (ErrImagePull with the registry's answer)."""
        results = []
        for pod in self.pods(namespace):
            for status in pod.status.container_statuses or []:
                if status.state.running and status.image_id:
                    results.append(f"pulled {status.image_id.rsplit('@', 1)[-1]}")
                elif status.state.waiting:
                    w = status.state.waiting
                    results.append(f"{w.reason}: {' '.join(str(w.message or '').split())[:200]}")
        return "; ".join(sorted(set(results))) or "no Pod"

    def diagnosis(self, namespace: str) -> str:
        """One line: the HelmRelease's and its source's verdicts, and the Pod's pull."""
        return (
            f"{namespace}: {flux.describe(self.release(namespace))}; "
            f"{flux.describe(self.path.source(namespace))}; pod: {self.pull_result(namespace)}"
        )

    def summary(self, namespace: str) -> dict[str, Any]:
        """What the report lists for one namespace."""
        obj = self.release(namespace)
        cond = flux.ready_condition(obj)
        return {
            "namespace": namespace,
            "helmrelease": f"{namespace}/{SERVICE}",
            "ready": cond.get("status") == "True",
            "chart_version": released_version(obj),
            "image_digest": self.image.digest if self.image else "",
            "pull": self.pull_result(namespace),
            "message": flux.describe(obj),
        }

    # -- the operator -------------------------------------------------------------------------------
    def deploy_operator(self, package: PythonPackage, *, replicas: int, extra_args: list[str]) -> Any:
        """The operator under test from its chart in the registry, by a HelmRelease in its namespace
        whose source (in flux-system) authenticates with the consolidated ``oci-creds``."""
        if package.chart is None:
            raise SetupError(f"{package.manifests} has no chart to push")
        chart = yaml.safe_load((package.chart / "Chart.yaml").read_text())
        self.path.push_package(package.chart, chart["version"])
        source = ChartSource(chart["name"], FLUX_NS, chart["name"], chart["version"])
        self.path.add_source(FLUX_NS, chart=source.name, ref={"tag": source.version})
        namespace, _ = package.identity()
        self.cluster.ensure_namespace(namespace)
        # its chart creates a ClusterRole and its binding: a namespace admin may not
        account = self.ensure_release_account(namespace, cluster_wide=True)
        return deploy_by_release(
            package,
            self.cluster,
            source,
            release_account=account,
            replicas=replicas,
            extra_args=extra_args,
            values={"rbac": {"enabled": True}},  # as seed 000 configures Reflector
            interval=RELEASE_INTERVAL,
        )

    # -- changing a release as its owner would (the runbook tests' faults and remedies) -------------
    def values(self, namespace: str, name: str) -> dict[str, Any]:
        """A copy of the HelmRelease's ``spec.values``."""
        obj = flux.get(self.cluster, "HelmRelease", namespace, name)
        assert obj is not None, f"no HelmRelease {namespace}/{name}"
        return copy.deepcopy((obj.get("spec") or {}).get("values") or {})

    def _patch(self, resource: str, namespace: str, name: str, kind: str, body: Any) -> None:
        patch = json.dumps(body)
        kubectl(self.cluster, "patch", resource, name, "-n", namespace, "--type", kind, "-p", patch)

    def set_values(self, namespace: str, name: str, values: dict[str, Any]) -> None:
        """Replace the HelmRelease's ``spec.values`` (a new generation: helm-controller upgrades)."""
        replace = [{"op": "replace", "path": "/spec/values", "value": values}]
        self._patch("helmreleases.helm.toolkit.fluxcd.io", namespace, name, "json", replace)

    def set_timeout(self, namespace: str, name: str, timeout: str) -> None:
        """How long helm waits for the release's resources before it calls an install or upgrade
        failed (and helm-controller remediates it)."""
        body = {"spec": {"timeout": timeout}}
        self._patch("helmreleases.helm.toolkit.fluxcd.io", namespace, name, "merge", body)

    def set_chart_ref(self, namespace: str, name: str, ref: dict[str, str]) -> None:
        """Point an OCIRepository at another chart version (``{"tag": ...}``)."""
        body = {"spec": {"ref": ref}}
        self._patch("ocirepositories.source.toolkit.fluxcd.io", namespace, name, "merge", body)

    def request_reconcile(self, kind: str, namespace: str, name: str) -> str:
        """Ask Flux to reconcile an object now, as ``flux reconcile`` does (the annotation); returns
        the token its status reports as ``lastHandledReconcileAt`` once handled."""
        group, _, plural = flux.KINDS[kind]
        token = datetime.now(UTC).isoformat()
        kubectl(
            self.cluster,
            "annotate",
            "--overwrite",
            f"{plural}.{group}",
            name,
            "-n",
            namespace,
            f"{RECONCILE_ANNOTATION}={token}",
        )
        return token

    def _events(self, namespace: str, name: str) -> list[Any]:
        return self.cluster.core.list_namespaced_event(
            namespace, field_selector=f"involvedObject.kind=HelmRelease,involvedObject.name={name}"
        ).items

    def event_counts(self, namespace: str, name: str) -> dict[str, int]:
        """The HelmRelease's Events so far (uid → count): what :meth:`events` leaves out."""
        return {ev.metadata.uid: ev.count or 1 for ev in self._events(namespace, name)}

    def events(self, namespace: str, name: str, before: dict[str, int] | None = None) -> list[str]:
        """What helm-controller said about a HelmRelease, in its own words (its Events,
        ``reason: message``, oldest first): those new, or repeated, since ``before``
        (:meth:`event_counts`; Events carry whole seconds, so a time would not tell them apart)."""
        out = []
        for ev in self._events(namespace, name):
            if before and (ev.count or 1) <= before.get(ev.metadata.uid, 0):
                continue
            when = ev.last_timestamp or ev.event_time or ev.first_timestamp
            said = " ".join((ev.message or "").split())
            out.append((when.timestamp() if when else 0.0, f"{ev.reason}: {said}"[:300]))
        return [line for _, line in sorted(out)]
