"""The bundled operator as users deploy it: its image (built from its Dockerfile, pulled by digest
from the run's authenticated registry) run by a real kubelet from its Helm chart, on real nodes.

What only a Pod shows: the runtime the chart asks for is what the kernel enforces (non-root, a
read-only root filesystem), the kubelet's probes pass, and an image pull needs the credential — here
the one the operator itself replicated into the namespace; without it the pull is refused (the
negative control, with the registry's own answer)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from kubernetes import client

from fixtures.clusters.cluster import Cluster, new_run_id
from fixtures.clusters.local import LocalProvider
from fixtures.clusters.providers import NODES, ProviderChoice, private_cluster
from fixtures.clusters.workloads import Deployment, Endpoint, endpoints
from fixtures.core.waiting import eventually
from fixtures.plugins.session import started_private
from fixtures.systems.delivery import cluster_registry, pull_secret_manifest
from fixtures.systems.model import Source
from fixtures.systems.profiles.bundled import PACKAGE, SYSTEM


@pytest.fixture(scope="module")
def pods(provider_choice: ProviderChoice) -> Iterator[tuple[Cluster, Deployment]]:
    """A private cluster with two nodes and the bundled operator as Pods of its chart."""
    with started_private(private_cluster(provider_choice, NODES, new_run_id(), os.getpid())) as provider:
        cluster = provider.cluster()
        assert cluster.run_dir is not None
        deployment = SYSTEM.deploy(cluster, cluster.run_dir / "operator", replicas=2)
        try:
            yield cluster, deployment
        finally:
            SYSTEM.undeploy(deployment)
            cluster.close()


def _main_pid(cluster: Cluster, pod: client.V1Pod) -> int:
    """The container's main process on the host, from the node's containerd (its task)."""
    provider = cluster.provider
    assert isinstance(provider, LocalProvider)
    container_id = pod.status.container_statuses[0].container_id.split("://", 1)[1]
    pid = provider.container_pid(pod.spec.node_name, container_id)
    assert pid, f"no task {container_id} on {pod.spec.node_name}"
    return pid


def test_the_operator_runs_from_its_image_by_digest_with_the_hardening_its_chart_asks_for(
    pods: tuple[Cluster, Deployment],
) -> None:
    cluster, deployment = pods
    listed = cluster.core.list_namespaced_pod(
        deployment.namespace, label_selector=f"app.kubernetes.io/instance={deployment.release}"
    ).items
    assert sorted(p.spec.node_name for p in listed) == sorted(
        n.metadata.name for n in cluster.core.list_node().items
    )
    for pod in listed:
        (status,) = pod.status.container_statuses
        assert status.ready
        assert status.image_id.endswith(deployment.details["image_digest"]), status.image_id
        pid = _main_pid(cluster, pod)
        uids = next(
            line for line in Path(f"/proc/{pid}/status").read_text().splitlines() if line.startswith("Uid:")
        )
        assert uids.split()[1:] == ["65532"] * 4, uids  # non-root, as the image and the chart say
        root = next(
            line for line in Path(f"/proc/{pid}/mountinfo").read_text().splitlines() if line.split()[4] == "/"
        )
        assert " ro," in f" {root.split()[5]},", root  # the root filesystem is mounted read-only
        no_new_privs = next(
            line
            for line in Path(f"/proc/{pid}/status").read_text().splitlines()
            if line.startswith("NoNewPrivs:")
        )
        assert no_new_privs.split()[1] == "1"  # allowPrivilegeEscalation: false
    # the kubelet's probes answer on each Pod's IP: the node's address
    assert {e.get("/readyz")[0] for e in endpoints(cluster, deployment)} == {200}


def _pull_pod(name: str, image: str, secret: str | None) -> client.V1Pod:
    return client.V1Pod(
        metadata=client.V1ObjectMeta(name=name),
        spec=client.V1PodSpec(
            host_network=True,
            restart_policy="Never",
            termination_grace_period_seconds=0,
            image_pull_secrets=[client.V1LocalObjectReference(name=secret)] if secret else None,
            containers=[
                client.V1Container(
                    name="pull",
                    image=image,
                    image_pull_policy="Always",  # a real pull from the registry, whatever the node has
                    command=["python3", "-c", "print('pulled')"],
                )
            ],
        ),
    )


def test_the_image_pulls_with_the_credential_the_operator_replicated_and_is_refused_without(
    pods: tuple[Cluster, Deployment], request: pytest.FixtureRequest
) -> None:
    cluster, deployment = pods
    registry = cluster_registry(cluster)
    source_ns = cluster.create_namespace("creds-src")
    target_ns = cluster.create_namespace("creds-dst")
    request.addfinalizer(lambda: [cluster.delete_namespace(n) for n in (source_ns, target_ns)])
    # the registry credential, declared for replication in the system's own vocabulary
    secret = pull_secret_manifest("registry-credentials", source_ns, registry)
    declaration = SYSTEM.declare(
        Source("Secret", source_ns, secret.metadata.name), SYSTEM.target_for([target_ns])
    )
    secret.metadata.annotations = declaration.metadata()["annotations"]
    secret.metadata.labels = {**(secret.metadata.labels or {}), **declaration.metadata()["labels"]}
    cluster.core.create_namespaced_secret(source_ns, secret)

    def replicated() -> None:
        copies = cluster.core.list_namespaced_secret(target_ns).items
        types = {c.metadata.name: c.type for c in copies}
        assert types.get(secret.metadata.name) == "kubernetes.io/dockerconfigjson", types

    eventually(replicated, timeout=30, description="the operator's copy of the registry credential")

    image = deployment.details["image"]
    cluster.core.create_namespaced_pod(target_ns, _pull_pod("with-copy", image, secret.metadata.name))
    cluster.core.create_namespaced_pod(target_ns, _pull_pod("without", image, None))

    def pulled_and_ran() -> None:
        pod = cluster.core.read_namespaced_pod("with-copy", target_ns)
        assert pod.status.phase == "Succeeded", pod.status.phase

    def refused() -> None:
        pod = cluster.core.read_namespaced_pod("without", target_ns)
        waiting = [s.state.waiting for s in pod.status.container_statuses or [] if s.state.waiting]
        reasons = [(w.reason, w.message or "") for w in waiting]
        assert any(r in ("ErrImagePull", "ImagePullBackOff") for r, _m in reasons), reasons
        assert any("401" in m or "unauthorized" in m.lower() for _r, m in reasons), reasons

    eventually(pulled_and_ran, timeout=60, description="the Pod pulling with the replicated credential")
    eventually(refused, timeout=60, description="the Pod without a credential to be refused the pull")
    assert cluster.core.read_namespaced_pod_log("with-copy", target_ns).strip() == "pulled"


def test_its_kustomize_base_runs_as_a_deployment_on_the_nodes_too(provider_choice: ProviderChoice) -> None:
    """The other way users deploy it: ``kubectl apply -k`` of its base, set to the image and the
    cluster's Pod network; undeploying deletes what was applied and waits for its Pods."""
    with started_private(private_cluster(provider_choice, NODES, new_run_id(), os.getpid())) as provider:
        cluster = provider.cluster()
        try:
            deployment = PACKAGE.as_kustomize_on_nodes(cluster, replicas=1, extra_args=["--no-leader-elect"])
            assert deployment.runs_as == "pods"
            (pod,) = ready_pods(cluster, deployment)
            port = pod.spec.containers[0].ports[0].container_port
            assert Endpoint(pod.metadata.name, pod.status.pod_ip, port).get("/readyz")[0] == 200
            assert pod.spec.host_network
            deployment.stop()
            assert ready_pods(cluster, deployment) == []
        finally:
            cluster.close()


def ready_pods(cluster: Cluster, deployment: Deployment) -> list[client.V1Pod]:
    """The Ready Pods of the applied Deployment (by its selector)."""
    (manifest,) = [d for d in deployment.manifests if d.get("kind") == "Deployment"]
    selector = ",".join(f"{k}={v}" for k, v in manifest["spec"]["selector"]["matchLabels"].items())
    pods = cluster.core.list_namespaced_pod(deployment.namespace, label_selector=selector).items
    return [p for p in pods if any(c.ready for c in p.status.container_statuses or [])]
