"""External Secrets Operator as a platform team runs it: Pods of its own chart (from its module),
its image built here from the binary this project builds, pulled by digest from the run's
authenticated registry by real kubelets on real nodes (``--run-as=pods``; the profile's packaging,
``fixtures/systems/external_secrets.py`` ``EsoPackaging.as_chart_on_nodes``).

What only its Pods show: the image's user (65532) is what the kernel runs it as, the image the
kubelet ran is the digest the registry was given, two replicas elect a leader through a Lease in its
own namespace (controller-runtime finds the namespace in the Pod's ServiceAccount mount: what a
local process cannot do), the other waits, and when the leader's Pod is deleted the follower takes
over and keeps replicating. Skipped, with the one line, where nodes or the image tools are missing.
"""

from __future__ import annotations

import os
import secrets
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import allure
import pytest
from kubernetes import client

from fixtures.clusters.cluster import Cluster, new_run_id
from fixtures.clusters.local import LocalProvider
from fixtures.clusters.nodes.support import pods_unusable_reason
from fixtures.clusters.providers import NODES, ProviderChoice, private_cluster
from fixtures.clusters.workloads import Deployment, release_pods
from fixtures.core.record import record
from fixtures.core.waiting import eventually
from fixtures.plugins.session import started_private
from fixtures.systems.driver import Driver
from fixtures.systems.external_secrets import CONTROLLERS, LEASE_WAIT, started_controllers
from fixtures.systems.model import LabelSelector, Source
from fixtures.systems.profiles.external_secrets import SYSTEM

pytestmark = [pytest.mark.cluster, pytest.mark.slow, allure.label("system", SYSTEM.name)]
#: controller-runtime's Lease (ESO names it; its duration is controller-runtime's default, 15 s)
LEASE = "external-secrets-controller"
TIMEOUT = 60.0


@dataclass
class EsoPods:
    cluster: Cluster
    deployment: Deployment
    deploy_s: float


@pytest.fixture(scope="module")
def eso_pods(provider_choice: ProviderChoice) -> Iterator[EsoPods]:
    """A private local cluster with two real nodes and ESO as two Pods of its chart (leader election
    on); uninstalled, its Pods gone, and the cluster stopped afterwards."""
    if reason := pods_unusable_reason():
        pytest.skip(reason)
    with started_private(private_cluster(provider_choice, NODES, new_run_id(), os.getpid())) as provider:
        cluster = provider.cluster()
        assert cluster.run_dir is not None
        t0 = time.monotonic()
        deployment = SYSTEM.deploy(cluster, cluster.run_dir / "external-secrets", replicas=2)
        deploy_s = time.monotonic() - t0
        record("eso_pods", deploy_s=round(deploy_s, 1), **deployment.details)
        try:
            yield EsoPods(cluster, deployment, deploy_s)
        finally:
            SYSTEM.undeploy(deployment)
            assert release_pods(cluster, deployment) == [], "its Pods outlived the uninstall"
            cluster.close()


def _pods(eso: EsoPods) -> list[client.V1Pod]:
    return release_pods(eso.cluster, eso.deployment)


def _holder(cluster: Cluster) -> client.V1Lease:
    return client.CoordinationV1Api(cluster.api).read_namespaced_lease(LEASE, SYSTEM.packaging.namespace)


def _log(cluster: Cluster, pod: client.V1Pod) -> str:
    return cluster.core.read_namespaced_pod_log(pod.metadata.name, pod.metadata.namespace)


def _leads(cluster: Cluster, pod: client.V1Pod) -> bool:
    return set(CONTROLLERS) <= started_controllers(_log(cluster, pod))


def _replicates(cluster: Cluster, hint: str) -> float:
    """A Secret declared to the namespaces labelled ``team=<random>`` reaches the one labelled so (and
    not its unlabelled neighbour); the seconds it took."""
    team = secrets.token_hex(3)
    labelled = cluster.create_namespace(f"{hint}-in", labels={"team": team})
    unlabelled = cluster.create_namespace(f"{hint}-out")
    source = Source("Secret", cluster.create_namespace(f"{hint}-src"), f"s-{secrets.token_hex(3)}")
    t0 = time.monotonic()
    Driver(SYSTEM, cluster).create_source(source, {"token": b"v1"}, LabelSelector.of({"team": team}))

    def copied() -> None:
        copy = Driver(SYSTEM, cluster).read("Secret", labelled, source.name)
        assert copy is not None, f"no copy in {labelled}"
        assert SYSTEM.is_copy(copy.metadata.annotations, copy.metadata.labels, source), "no ESO markers"
        assert copy.data == {"token": "djE="}, "data differs from the source's"

    eventually(copied, timeout=TIMEOUT, interval=0.2, description=f"ESO's copy in {labelled}")
    seconds = time.monotonic() - t0
    names = [s.metadata.name for s in cluster.core.list_namespaced_secret(unlabelled).items]
    assert source.name not in names, f"a copy in the unlabelled {unlabelled}"
    return seconds


def _uids(pid: int) -> list[str]:
    line = next(ln for ln in Path(f"/proc/{pid}/status").read_text().splitlines() if ln.startswith("Uid:"))
    return line.split()[1:]


def test_eso_as_pods_of_its_chart_from_its_image_replicates_and_fails_over(eso_pods: EsoPods) -> None:
    """One test, one cluster: xdist would give each test of the module a cluster of its own."""
    with allure.step("it runs from its image by digest as 65532 and replicates to a labelled namespace"):
        _runs_from_its_image_by_digest_as_65532(eso_pods)
        seconds = _replicates(eso_pods.cluster, "pods")
        record(
            "latency", scenario="eso.pods.first_copy", seconds=round(seconds, 3), implementation=SYSTEM.name
        )
    with allure.step("two replicas elect one leader; the follower takes over when its Pod is deleted"):
        takeover = _the_follower_takes_over(eso_pods)
        record(
            "latency", scenario="eso.pods.takeover", seconds=round(takeover, 3), implementation=SYSTEM.name
        )
        seconds = _replicates(eso_pods.cluster, "after")  # and the new leader replicates
        record(
            "latency",
            scenario="eso.pods.after_takeover",
            seconds=round(seconds, 3),
            implementation=SYSTEM.name,
        )


def _runs_from_its_image_by_digest_as_65532(eso_pods: EsoPods) -> None:
    cluster, deployment = eso_pods.cluster, eso_pods.deployment
    provider = cluster.provider
    assert isinstance(provider, LocalProvider)
    assert (deployment.runs_as, deployment.release) == ("helm", "external-secrets")
    pods = _pods(eso_pods)
    nodes = sorted(n.metadata.name for n in cluster.core.list_node().items)
    assert sorted(p.spec.node_name for p in pods) == nodes  # host-network replicas: one per node
    digest = deployment.details["image_digest"]
    for pod in pods:
        (container,) = pod.spec.containers
        assert container.image.endswith(f"@{digest}"), container.image  # the spec names the digest
        (status,) = pod.status.container_statuses
        assert status.image_id.endswith(digest), status.image_id  # and the kubelet ran that image
        assert pod.spec.image_pull_secrets[0].name == "replicheck-registry"
        assert pod.spec.host_network
        pid = provider.container_pid(pod.spec.node_name, status.container_id.split("://", 1)[1])
        assert pid, f"no task for {pod.metadata.name}"
        assert _uids(pid) == ["65532"] * 4  # the image's user; the chart's runAsUser 1000 is removed
        assert Path(f"/proc/{pid}/exe").resolve().name == "external-secrets"
        args = container.args
        assert "--enable-leader-election=true" in args
        assert "--concurrent=1" in args  # the chart's default, left as it is
        assert any(a.startswith("--metrics-addr=$(POD_IP):") for a in args), args


def _the_follower_takes_over(eso_pods: EsoPods) -> float:
    """The seconds from deleting the leader's Pod until the follower runs the controllers."""
    cluster = eso_pods.cluster
    pods = _pods(eso_pods)
    assert len(pods) == 2
    leaders = [p for p in pods if _leads(cluster, p)]
    assert len(leaders) == 1, f"{len(leaders)} Pods run the controllers"
    (leader,) = leaders
    (follower,) = [p for p in pods if p.metadata.name != leader.metadata.name]
    assert LEASE_WAIT in _log(cluster, follower), "the follower does not wait for the Lease"
    before = _holder(cluster).spec
    # controller-runtime's identity: the host name (a host-network Pod's is the machine's, the same
    # for both replicas) and a random UUID, never the Pod's name (why node-loss and leader-failover
    # are n/a for ESO: their probes find the leader's Pod by the holder's name)
    assert (before.holder_identity or "").startswith(f"{socket.gethostname()}_"), before.holder_identity
    transitions = before.lease_transitions or 0
    t0 = time.monotonic()
    cluster.core.delete_namespaced_pod(
        leader.metadata.name, leader.metadata.namespace, grace_period_seconds=0
    )

    def took_over() -> None:
        spec = _holder(cluster).spec
        assert spec.holder_identity != before.holder_identity, "the deleted leader still holds the Lease"
        fresh = cluster.core.read_namespaced_pod(follower.metadata.name, follower.metadata.namespace)
        assert _leads(cluster, fresh), "the follower has not started its controllers"

    eventually(took_over, timeout=TIMEOUT, interval=0.5, description="the follower to take over")
    takeover = time.monotonic() - t0
    assert (_holder(cluster).spec.lease_transitions or 0) == transitions + 1
    return takeover
