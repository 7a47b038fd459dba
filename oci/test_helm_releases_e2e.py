"""Seed 000's integration test, step 6 literally: "verify all HelmReleases can authenticate to the
OCI registry", with Flux's helm-controller on real nodes (oci/releases.py), and the operator under
test itself deployed by a HelmRelease from its chart in that registry (seed 000's deployment).

Setup: a test-service image and chart pushed to the run's registry; the customer repository
consolidated and committed; Flux applies flux-system/oci-creds; the operator's HelmRelease (chart
source authenticated by that Secret). Assess: every service namespace's HelmRelease Ready at the
pushed chart version with its Pod Running on the pushed image digest (chart pull and image pull both
with the replicated copy); a namespace with a wrong password is refused (negative control, the
registry's answer shown); after each password rotation committed through git, every HelmRelease is
Ready again at a chart version only the new password could push, its new Pod pulled with the new
copy. Records: ``oci_releases`` (per namespace: HelmRelease, Ready, chart version, image digest,
pull result; negative control; Ready and rotation latencies with the Flux intervals; the operator's
HelmRelease).
"""

from __future__ import annotations

import secrets
import time

import allure
import pytest

from fixtures.core.record import record
from fixtures.core.waiting import eventually
from fixtures.services import flux
from fixtures.services.flux import FLUX_NS
from fixtures.systems.packaging import PythonPackage
from oci.path import AUTH_FAILURE_WORDS, CREDS, INTERVAL, GitOpsPath, latency_summary
from oci.releases import RELEASE_INTERVAL, RELEASE_TIMEOUT, SERVICE, Releases
from oci.stack import OciStack

pytestmark = [pytest.mark.cluster]

SLO = 60.0  # seed: a service's HelmRelease Ready within 60 s of its namespace and credentials
BOUND = SLO + 3 * INTERVAL  # rotation: plus one GitRepository, Kustomization and OCIRepository interval
ROTATIONS = 3
WRONG = "wrong-creds"
OPERATOR_REPLICAS = 2  # a leader and a standby, on different nodes


@allure.feature("reflector-deployment")
@allure.story("HelmReleases authenticate to the OCI registry")
def test_every_helmrelease_authenticates_and_survives_rotation(oci_nodes_stack: OciStack) -> None:
    stack = oci_nodes_stack
    cluster, registry = stack.started()
    packaging = stack.impl.packaging
    assert isinstance(packaging, PythonPackage)
    path = GitOpsPath(stack, stack.run_dir / "gitops", with_deployment=True)
    releases = Releases(path)

    # Setup: the service's image and chart in the registry; the consolidated repository in git.
    image = releases.push_service_image()
    version = path.push_chart()
    services = [cluster.create_namespace(f"svc{i}") for i in range(3)]
    plain = [cluster.create_namespace("plain0")]
    path.write_repository(path.simple_layout(services, plain))
    path.bootstrap()

    def applied() -> None:
        assert path.copy_config(FLUX_NS) is not None, flux.describe(path.kustomization())

    eventually(applied, timeout=SLO, description="Flux to apply flux-system/oci-creds")

    # The operator, the seed's way: a HelmRelease of its chart from the registry.
    t_operator = time.monotonic()
    stack.operator = releases.deploy_operator(
        packaging, replicas=OPERATOR_REPLICAS, extra_args=list(stack.impl.private_args())
    )
    operator_ready_s = time.monotonic() - t_operator

    # Every service namespace: the copy arrives, then its HelmRelease is declared.
    def copied() -> None:
        missing = [ns for ns in services if path.copy_config(ns) is None]
        assert not missing, "\n".join(path.copy_diagnosis(ns) for ns in missing)

    eventually(copied, timeout=SLO, description="the operator to copy oci-creds to every service namespace")
    t0 = time.monotonic()
    for ns in services:
        releases.add_service(ns)

    # Assess 1: every HelmRelease Ready at the pushed chart, its Pod on the pushed image digest.
    first = releases.wait_released(services, version, timeout=SLO, since=t0)
    for ns in services:
        assert releases.pull_result(ns) == f"pulled {image.digest}", releases.diagnosis(ns)
    assert path.copy_config(plain[0]) is None, "a namespace without a service got the credentials"

    # Negative control: a wrong password is refused by the registry, and nothing is installed.
    wrong = cluster.create_namespace("wrong0")
    negative = _refused(releases, wrong)

    # Rotation through every consumer: new password, a chart only it could push, committed in git.
    latencies: list[float] = []
    for i in range(ROTATIONS):
        password = secrets.token_urlsafe(18)
        registry.set_password(password)
        version = path.push_chart()
        path.write_credentials(password)
        t_commit = time.monotonic()
        path.commit(f"rotate OCI credentials ({i + 1})")
        per_ns = releases.wait_released(services, version, timeout=BOUND, since=t_commit)
        latencies += per_ns.values()
        for ns in services:
            assert releases.pull_result(ns) == f"pulled {image.digest}", releases.diagnosis(ns)

    rows = [releases.summary(ns) for ns in services]
    operator = releases.release(stack.operator.namespace, stack.operator.release)
    record(
        "oci_releases",
        releases=rows,
        negative_control=negative,
        ready_s=latency_summary(list(first.values())),
        rotation=latency_summary(latencies),
        rotations=ROTATIONS,
        bound_s=BOUND,
        slo_s=SLO,
        intervals_s={
            "GitRepository": INTERVAL,
            "Kustomization": INTERVAL,
            "OCIRepository": INTERVAL,
            "HelmRelease": int(RELEASE_INTERVAL.rstrip("s")),
        },
        helm_timeout_s=int(RELEASE_TIMEOUT.rstrip("s")),
        operator={
            "helmrelease": f"{stack.operator.namespace}/{stack.operator.release}",
            "ready": flux.ready_condition(operator).get("status") == "True",
            "chart": stack.operator.details.get("chart"),
            "image_digest": stack.operator.details.get("image_digest"),
            "replicas": OPERATOR_REPLICAS,
            "ready_s": round(operator_ready_s, 3),
        },
    )
    assert max(first.values()) <= SLO
    summary = latency_summary(latencies)
    assert summary["p99"] is not None
    assert summary["p99"] <= BOUND, f"rotation p99 {summary['p99']} s > {BOUND} s"


def _refused(releases: Releases, namespace: str) -> dict[str, str]:
    """A namespace whose chart source has a wrong password: the registry refuses the pull, so the
    HelmRelease is not Ready and installs nothing. Returns Flux's lines for the report."""
    path = releases.path
    releases.add_service(namespace, pull_secret=path.create_wrong_credentials(namespace, WRONG))

    def refused() -> dict[str, str]:
        source = path.source(namespace)
        cond = flux.ready_condition(source)
        assert cond.get("status") == "False", flux.describe(source)
        assert any(w in cond.get("message", "").lower() for w in AUTH_FAILURE_WORDS), flux.describe(source)
        release = releases.release(namespace)
        assert flux.ready_condition(release).get("status") != "True", flux.describe(release)
        assert flux.ready_condition(release), f"helm-controller has not judged {flux.describe(release)}"
        return {
            "namespace": namespace,
            "source": flux.describe(source),
            "helmrelease": flux.describe(release),
        }

    lines = eventually(refused, timeout=30, description="the registry to refuse the wrong password")
    assert not releases.pods(namespace), f"{namespace}: a Pod was installed without credentials"
    assert CREDS not in [s.metadata.name for s in path.cluster.core.list_namespaced_secret(namespace).items]
    allure.attach("\n".join(lines.values()), "negative control", allure.attachment_type.TEXT)
    return {**lines, "result": "refused", "release": SERVICE}
