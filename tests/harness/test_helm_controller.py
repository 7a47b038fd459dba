"""Flux's helm-controller (v1.6.0) beside source-controller and kustomize-controller, real parts only,
on a private local cluster: a chart whose only object is a ConfigMap, `helm push`ed to the run's OCI
registry (TLS from the run's CA, htpasswd), pulled by an OCIRepository authenticated by a
dockerconfigjson Secret and the registry's CA, and installed by a HelmRelease whose `chartRef` names
that OCIRepository, as the namespace's release ServiceAccount (`Flux.allow_releases`, impersonation;
helm-controller itself may not write ConfigMaps). helm-controller fetches the chart artifact from
source-controller's storage over HTTP at its advertised loopback address.

A HelmRelease of a chart tag the registry does not hold is not Ready, and Flux's one-line verdict
names the tag. Flux intervals: OCIRepository and HelmRelease every `INTERVAL` s.
"""

from __future__ import annotations

import base64
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from kubernetes import client
from kubernetes.client.rest import ApiException

from fixtures.clusters.cluster import Cluster, new_run_id
from fixtures.clusters.local import LocalProvider
from fixtures.clusters.providers import ProviderChoice, private_plane
from fixtures.core.errors import SetupError
from fixtures.core.record import record
from fixtures.core.waiting import eventually
from fixtures.services import flux
from fixtures.services.flux import Flux
from fixtures.services.oci_registry import OciRegistry
from oci.path import HELM_LAYER, dockerconfig, helm

pytestmark = [pytest.mark.cluster]

INTERVAL = 2  # seconds: OCIRepository and HelmRelease
CHART = "hc-probe"
VERSION = "0.1.0"
MISSING = "9.9.9"  # a tag never pushed
READY_WITHIN = 60.0


@dataclass
class HelmStack:
    provider: LocalProvider
    cluster: Cluster
    registry: OciRegistry
    flux: Flux
    work: Path
    install_s: float


@pytest.fixture(scope="module")
def helm_stack(provider_choice: ProviderChoice) -> Iterator[HelmStack]:
    """A private control plane, the OCI registry and the three Flux controllers (Flux.install)."""
    offer = private_plane(provider_choice, new_run_id(), os.getpid())
    if offer.provider is None:
        pytest.skip(offer.unusable or "no private cluster")
    provider = offer.provider
    plane = provider.plane
    cluster: Cluster | None = None
    registry: OciRegistry | None = None
    installed: Flux | None = None
    try:
        cluster = provider.start()
        run_dir = plane.run_dir
        registry = OciRegistry(run_dir / "registry", run_dir / "pki", plane.pgid).start()
        installed = Flux(cluster, run_dir / "flux")
        t0 = time.monotonic()
        installed.install()
        install_s = time.monotonic() - t0
        record(
            "helm_controller_stack",
            flux_install_s=round(install_s, 3),
            timings={k: round(v, 3) for k, v in installed.timings.items()},
        )
        yield HelmStack(provider, cluster, registry, installed, run_dir / "helm-test", install_s)
    except SetupError as exc:
        pytest.fail(str(exc), pytrace=False)
    finally:
        if installed is not None:
            installed.stop()
        if registry is not None:
            registry.stop()
        if cluster is not None:
            cluster.close()
        provider.stop()


def push_chart(stack: HelmStack) -> None:
    """Package a chart whose only object is a ConfigMap and `helm push` it (login with the CA)."""
    src = stack.work / "chart" / CHART
    (src / "templates").mkdir(parents=True, exist_ok=True)
    (src / "Chart.yaml").write_text(
        yaml.safe_dump({"apiVersion": "v2", "name": CHART, "version": VERSION, "type": "application"})
    )
    (src / "templates" / "configmap.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}\n"
        f'data:\n  pushed: "{VERSION}"\n  chart: "{{{{ .Chart.Version }}}}"\n'
    )
    home = stack.work / "helm"
    home.mkdir(mode=0o700, parents=True, exist_ok=True)
    registry, ca = stack.registry, str(stack.registry.ca_cert)
    login = ["registry", "login", registry.host, "--username", registry.username, "--password-stdin"]
    helm([*login, "--ca-file", ca], home, stdin=registry.password)
    helm(["package", str(src), "--destination", str(stack.work / "chart")], home)
    tgz = stack.work / "chart" / f"{CHART}-{VERSION}.tgz"
    helm(["push", str(tgz), f"oci://{registry.host}/charts", "--ca-file", ca], home)


def namespace_with_source(stack: HelmStack, namespace: str, tag: str) -> None:
    """The namespace, its pull Secret and CA Secret, an OCIRepository of `tag`, its release account."""
    core, registry = stack.cluster.core, stack.registry
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=namespace)))
    config = dockerconfig(registry.host, registry.username, registry.password).text()
    core.create_namespaced_secret(
        namespace,
        client.V1Secret(
            metadata=client.V1ObjectMeta(name="oci-creds"),
            type="kubernetes.io/dockerconfigjson",
            data={".dockerconfigjson": base64.b64encode(config.encode()).decode()},
        ),
    )
    core.create_namespaced_secret(
        namespace,
        client.V1Secret(
            metadata=client.V1ObjectMeta(name="registry-ca"),
            data={"ca.crt": base64.b64encode(registry.ca_cert.read_bytes()).decode()},
        ),
    )
    flux.apply(
        stack.cluster,
        {
            "kind": "OCIRepository",
            "metadata": {"name": CHART, "namespace": namespace},
            "spec": {
                "interval": f"{INTERVAL}s",
                "timeout": "10s",
                "url": f"oci://{registry.host}/charts/{CHART}",
                "ref": {"tag": tag},
                "secretRef": {"name": "oci-creds"},
                "certSecretRef": {"name": "registry-ca"},
                "layerSelector": {"mediaType": HELM_LAYER, "operation": "copy"},
            },
        },
    )
    stack.flux.allow_releases(namespace)


def configmap(stack: HelmStack, namespace: str, name: str) -> client.V1ConfigMap | None:
    try:
        return stack.cluster.core.read_namespaced_config_map(name, namespace)
    except ApiException as exc:
        if exc.status == 404:
            return None
        raise


def helm_release(stack: HelmStack, namespace: str, name: str) -> None:
    flux.apply(
        stack.cluster,
        {
            "kind": "HelmRelease",
            "metadata": {"name": name, "namespace": namespace},
            "spec": {
                "interval": f"{INTERVAL}s",
                "releaseName": name,
                "chartRef": {"kind": "OCIRepository", "name": CHART},
                "serviceAccountName": flux.RELEASE_ACCOUNT,
                "timeout": "30s",
            },
        },
    )


def test_helm_release_from_the_oci_registry_installs_its_chart(helm_stack: HelmStack) -> None:
    # Setup: the chart in the registry, a namespace whose OCIRepository pulls it.
    stack, ns, name = helm_stack, "hc-ready", "probe"
    push_chart(stack)
    namespace_with_source(stack, ns, VERSION)

    def source_ready() -> None:
        obj = flux.get(stack.cluster, "OCIRepository", ns, CHART)
        assert flux.ready_condition(obj).get("status") == "True", flux.describe(obj)

    eventually(source_ready, timeout=READY_WITHIN, description="the OCIRepository's pull")

    # Act: the HelmRelease.
    t0 = time.monotonic()
    helm_release(stack, ns, name)

    def released() -> dict:
        obj = flux.get(stack.cluster, "HelmRelease", ns, name)
        assert flux.ready_condition(obj).get("status") == "True", flux.describe(obj)
        return obj or {}

    obj = eventually(released, timeout=READY_WITHIN, interval=0.2, description=f"HelmRelease {ns}/{name}")
    ready_s = time.monotonic() - t0

    # Assess: Ready at the pushed version, the ConfigMap installed, owned by the Helm release.
    # (helm-controller gives a chart from an OCIRepository the version <version>+<digest prefix>,
    # in its history and in the chart the templates see)
    history = (obj.get("status") or {}).get("history") or [{}]
    assert str(history[0].get("chartVersion")).split("+")[0] == VERSION, flux.describe(obj)
    cm = configmap(stack, ns, name)
    assert cm is not None, f"no ConfigMap {ns}/{name}"
    assert (cm.data or {}).get("pushed") == VERSION
    assert (cm.data or {}).get("chart") == history[0].get("chartVersion")
    assert (cm.metadata.annotations or {}).get("meta.helm.sh/release-name") == name
    # helm-controller wrote it as the release account: it cannot write ConfigMaps as itself.
    review = client.AuthorizationV1Api(stack.cluster.api).create_subject_access_review(
        client.V1SubjectAccessReview(
            spec=client.V1SubjectAccessReviewSpec(
                user=f"system:serviceaccount:{flux.FLUX_NS}:helm-controller",
                resource_attributes=client.V1ResourceAttributes(
                    namespace=ns, verb="create", resource="configmaps"
                ),
            )
        )
    )
    assert not review.status.allowed, "helm-controller should not write ConfigMaps without impersonation"

    # Deleting the HelmRelease uninstalls the release (helm-controller first checks, with its own
    # reads, that the account it impersonates still exists), and nothing was refused on the way.
    group, version, plural = flux.KINDS["HelmRelease"]
    flux.custom(stack.cluster).delete_namespaced_custom_object(group, version, ns, plural, name)

    def uninstalled() -> None:
        assert flux.get(stack.cluster, "HelmRelease", ns, name) is None, "HelmRelease still present"
        assert configmap(stack, ns, name) is None, "the release's ConfigMap is still present"

    eventually(uninstalled, timeout=READY_WITHIN, description=f"HelmRelease {ns}/{name} uninstalled")
    log = stack.flux.controller("helm-controller").replicas[0].logs()
    refused = [line for line in log.splitlines() if "forbidden" in line.lower()]
    assert not refused, f"helm-controller was refused: {refused[0][:400]}"
    record("helm_controller_release", helmrelease_ready_s=round(ready_s, 3), interval_s=INTERVAL)


def test_helm_release_of_a_missing_chart_tag_is_not_ready_and_names_the_tag(helm_stack: HelmStack) -> None:
    # Setup: an OCIRepository of a tag never pushed (the chart itself is pushed by the test above,
    # or here when run alone: the repository exists, the tag does not).
    stack, ns, name = helm_stack, "hc-missing", "probe"
    if not (stack.work / "chart" / f"{CHART}-{VERSION}.tgz").exists():
        push_chart(stack)
    namespace_with_source(stack, ns, MISSING)
    helm_release(stack, ns, name)

    # Assess: helm-controller's verdict is not Ready, and Flux's one line names the missing tag.
    def judged() -> str:
        obj = flux.get(stack.cluster, "HelmRelease", ns, name)
        cond = flux.ready_condition(obj)
        line = flux.describe(obj)
        assert cond.get("status") == "False", line
        assert MISSING in cond.get("message", ""), line
        return line

    line = eventually(judged, timeout=READY_WITHIN, interval=0.5, description="helm-controller's verdict")
    assert "\n" not in line
    assert configmap(stack, ns, name) is None
    record("helm_controller_missing_tag", verdict=line)
