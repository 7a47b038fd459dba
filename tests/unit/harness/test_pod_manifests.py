"""The pure steps that make a system's manifests and chart values fit a cluster's Pods."""

from __future__ import annotations

from fixtures.clusters.cluster import PodNetwork
from fixtures.systems.delivery import DeliveredImage
from fixtures.systems.packaging import on_pod_network, with_image
from fixtures.systems.profiles.bundled import PACKAGE

MANIFESTS = [
    {"kind": "Namespace", "metadata": {"name": "ns"}},
    {
        "kind": "Deployment",
        "metadata": {"name": "op", "namespace": "ns"},
        "spec": {
            "replicas": 1,
            "template": {
                "spec": {
                    "containers": [
                        {"name": "op", "image": "x:1", "args": ["--a"], "env": [{"name": "E", "value": "1"}]}
                    ]
                }
            },
        },
    },
]
LOCAL = PodNetwork(
    host_network=True, api_env={"KUBERNETES_SERVICE_HOST": "127.0.0.1", "KUBERNETES_SERVICE_PORT": "6443"}
)


def test_the_image_replicas_and_args_are_set_without_touching_the_input() -> None:
    out = with_image(MANIFESTS, "reg/op@sha256:1", replicas=2, extra_args=["--b"])
    pod = out[1]["spec"]["template"]["spec"]
    assert out[1]["spec"]["replicas"] == 2
    assert pod["containers"][0]["image"] == "reg/op@sha256:1"
    assert pod["containers"][0]["args"] == ["--a", "--b"]
    assert MANIFESTS[1]["spec"]["replicas"] == 1


def test_without_a_pod_network_pods_use_the_host_network_bind_their_pod_ip_and_find_the_api_server() -> None:
    out = on_pod_network(MANIFESTS, LOCAL, "pull", "--health-address")
    pod = out[1]["spec"]["template"]["spec"]
    assert (pod["hostNetwork"], pod["dnsPolicy"]) == (True, "ClusterFirstWithHostNet")
    assert pod["imagePullSecrets"] == [{"name": "pull"}]
    main = pod["containers"][0]
    assert main["args"][-1] == "--health-address=$(POD_IP)"  # expanded by the kubelet from the env
    names = [e["name"] for e in main["env"]]
    assert names[:3] == ["POD_IP", "KUBERNETES_SERVICE_HOST", "KUBERNETES_SERVICE_PORT"]
    assert names[-1] == "E"
    assert out[0] == MANIFESTS[0]


def test_with_a_pod_network_only_the_pull_secret_is_added() -> None:
    out = on_pod_network(MANIFESTS, PodNetwork(), "pull", "--health-address")
    pod = out[1]["spec"]["template"]["spec"]
    assert "hostNetwork" not in pod
    assert pod["imagePullSecrets"] == [{"name": "pull"}]


def test_the_chart_values_pin_the_image_by_digest_and_give_every_port_a_value() -> None:
    image = DeliveredImage(
        "127.0.0.1:5000/replicheck/replicator", "sha256:ab", "r@sha256:ab", 0.1, True, 0.2, 1
    )
    values = PACKAGE.chart_values(image, "pull", LOCAL, 2, ["--x"])
    assert values["image"] == {
        "repository": "127.0.0.1:5000/replicheck/replicator",
        "digest": "sha256:ab",
        "pullPolicy": "IfNotPresent",
    }
    assert (values["replicaCount"], values["hostNetwork"], values["extraArgs"]) == (2, True, ["--x"])
    assert values["imagePullSecrets"] == [{"name": "pull"}]
    assert {e["name"] for e in values["extraEnv"]} == set(LOCAL.api_env)
    assert isinstance(values["healthPort"], int)
