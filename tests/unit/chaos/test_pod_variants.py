"""The Pod variants of the chaos experiments (kind, and the local provider's real nodes), pure parts:
which implementation each fault has in each variant and which variants each experiment runs in, the
nodes variant's private cluster, the chaosk8s arguments, the containerd commands that signal a
container in place, the Pod's probe port read from its spec, and what a fault holds until it is
resumed. Why: these decide what a fault does to a real machine (a Pod deleted, a container killed, a
node frozen); a wrong table or argument would fault the wrong thing, or nothing, silently."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from kubernetes import client

from chaos.context import ChaosContext, common_label_selector, health_port
from chaos.faults import containers, kind, local, nodes, pods, variants
from chaos.faults.nodes import container_working_set, helm_upgrade_command, memory_values
from fixtures.clusters import providers as cp
from fixtures.clusters.local import PODS, LocalProvider

# --- the variant table ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fault", "provider", "impl"),
    [
        ("kill-operator", "local", local.kill_replica),
        ("kill-operator", "kind", pods.delete_every_operator_pod),
        ("kill-operator", "nodes", pods.delete_every_operator_pod),
        ("kill-leader", "kind", pods.delete_pods),
        ("kill-leader", "nodes", pods.delete_pods),
        ("freeze-leader", "local", local.freeze_replica),
        ("freeze-leader", "kind", pods.delete_pods),
        ("freeze-leader", "nodes", nodes.hang_container),
        ("thaw-leader", "kind", pods.nothing_to_do),
        ("thaw-leader", "nodes", containers.resume),
        ("restart-apiserver", "local", local.restart_apiserver),
        ("restart-apiserver", "kind", kind.restart_apiserver),
        # the nodes variant's control plane is processes: its API server restarts like the local one
        ("restart-apiserver", "nodes", local.restart_apiserver),
        ("kill-container", "kind", kind.kill_container),
        ("kill-container", "nodes", nodes.kill_container),
        ("hang-container", "kind", kind.hang_container),
        ("hang-container", "nodes", nodes.hang_container),
        ("limit-memory", "nodes", nodes.limit_memory),
        ("freeze-node", "nodes", nodes.freeze_node),
        ("thaw-node", "nodes", nodes.thaw_node),
    ],
)
def test_each_fault_has_the_right_implementation_per_variant(fault: str, provider: str, impl) -> None:
    fn, description = variants.variant(fault, provider)
    assert fn is impl
    assert description


def test_where_each_fault_runs_and_nowhere_else() -> None:
    where = {fault: tuple(per) for fault, per in variants.VARIANTS.items()}
    assert where == {
        "kill-operator": ("local", "kind", "nodes"),
        "kill-leader": ("local", "kind", "nodes"),
        "freeze-leader": ("local", "kind", "nodes"),
        "thaw-leader": ("local", "kind", "nodes"),
        "restart-apiserver": ("local", "kind", "nodes"),
        # a kubelet restarts a container: none on the local provider's processes
        "kill-container": ("kind", "nodes"),
        "hang-container": ("kind", "nodes"),
        # a Helm release of the system's own chart: the local nodes install one
        "limit-memory": ("nodes",),
        # only the local nodes can be frozen (kind's node is the whole cluster)
        "freeze-node": ("nodes",),
        "thaw-node": ("nodes",),
    }
    assert tuple(variants.VARIANTS) == variants.FAULTS
    with pytest.raises(variants.UnsupportedProvider, match="runs in: nodes"):
        variants.variant("freeze-node", "local")
    with pytest.raises(variants.UnsupportedProvider, match="existing"):
        variants.variant("kill-operator", "existing")
    with pytest.raises(ValueError, match="unknown fault"):
        variants.variant("unplug-the-datacenter", "local")


def test_an_experiment_runs_in_the_variants_of_all_its_faults() -> None:
    assert variants.providers_of("kill-operator") == ("local", "kind", "nodes")
    assert variants.providers_of("kill-leader", "freeze-leader", "thaw-leader") == ("local", "kind", "nodes")
    assert variants.providers_of("kill-container") == ("kind", "nodes")
    assert variants.providers_of("freeze-node", "thaw-node") == ("nodes",)
    assert variants.providers_of("freeze-node", "kill-container") == ("nodes",)
    with pytest.raises(ValueError, match="unplug"):
        variants.providers_of("unplug")


def test_each_variant_keeps_its_own_journal() -> None:
    assert variants.journal_name("kill-operator", "local") == "kill-operator"
    assert variants.journal_name("kill-operator", "kind") == "kill-operator-kind"
    assert variants.journal_name("node-loss", "nodes") == "node-loss-nodes"
    assert set(variants.JOURNAL_SUFFIX) == set(variants.PROVIDERS)
    assert len(set(variants.JOURNAL_SUFFIX.values())) == len(variants.PROVIDERS)


# --- the nodes variant's cluster -----------------------------------------------------------------------


def test_the_nodes_variant_is_a_local_plane_with_two_nodes_running_the_systems_as_pods(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(cp, "nodes_unusable_reason", lambda: None)
    choice = cp.ProviderChoice("local", "requested", audited_namespaces=("replicheck-system",))
    offer = cp.private_cluster(choice, cp.NODES, "rc0n0d01", os.getpid())
    provider = offer.provider
    assert isinstance(provider, LocalProvider)
    assert offer.unusable is None
    assert provider.plane.nodes == cp.VARIANT_NODES == 2
    assert provider.run_as == PODS
    assert provider.workloads == PODS
    assert provider.plane.audited_namespaces == ("replicheck-system",)
    # under --cluster=kind too (the local nodes do not need Docker); never beside an existing cluster
    kind_choice = cp.ProviderChoice("kind", "requested")
    assert isinstance(cp.private_cluster(kind_choice, cp.NODES, "rc0n0d02", 1).provider, LocalProvider)
    existing = cp.ProviderChoice("existing", "requested")
    assert cp.private_cluster(existing, cp.NODES, "rc0n0d03", 1).provider is None


def test_where_nodes_cannot_run_the_nodes_variant_has_no_cluster_and_says_why(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(cp, "nodes_unusable_reason", lambda: "nodes need root; run as root")
    offer = cp.private_cluster(cp.ProviderChoice("local", "requested"), cp.NODES, "rc0n0d04", 1)
    assert offer.provider is None
    assert offer.unusable == "nodes variant: nodes need root; run as root"
    assert "\n" not in offer.unusable


# --- chaosk8s ----------------------------------------------------------------------------------------------


def test_pod_delete_arguments_name_exactly_the_pods() -> None:
    one = pods.pod_delete_arguments("replicheck-system", ["replicheck-replicator-5f9c.x"])
    assert one == {
        "name_pattern": r"^(?:replicheck\-replicator\-5f9c\.x)$",
        "ns": "replicheck-system",
        "grace_period": 0,
        "all": True,
    }
    two = pods.pod_delete_arguments("ns", ["b-2", "a-1"])
    assert two["name_pattern"] == r"^(?:a\-1|b\-2)$"
    import re

    rx = re.compile(two["name_pattern"])
    assert [n for n in ("a-1", "b-2", "a-10", "xa-1") if rx.search(n)] == ["a-1", "b-2"]
    with pytest.raises(ValueError, match="every Pod"):
        pods.pod_delete_arguments("ns", [])


def test_chaosk8s_gets_explicit_credentials_not_a_kubeconfig(tmp_path: Path, monkeypatch) -> None:
    """With a kubeconfig present chaosk8s would ignore its secrets (tooling.md 2.2); inside the guard
    it builds a client from them, and the environment is restored afterwards."""
    import chaosk8s

    decoy = tmp_path / "kubeconfig"
    decoy.write_text("not: used")
    monkeypatch.setenv("KUBECONFIG", str(decoy))
    monkeypatch.setenv("HTTP_PROXY", "http://proxy.invalid:3128")
    secrets = {
        "KUBERNETES_HOST": "https://127.0.0.1:6443",
        "KUBERNETES_API_KEY": "t0ken",
        "KUBERNETES_VERIFY_SSL": "true",
        "KUBERNETES_CA_CERT_FILE": "/ca.crt",
    }
    with pods.chaosk8s_explicit_credentials():
        api = chaosk8s.create_k8s_api_client(secrets)
    try:
        cfg = api.configuration
        assert cfg.host == "https://127.0.0.1:6443"
        assert cfg.api_key["authorization"] == "t0ken"
        assert cfg.verify_ssl is True
        assert cfg.proxy is None
    finally:
        api.close()
    assert os.environ["KUBECONFIG"] == str(decoy)
    assert os.environ["HTTP_PROXY"] == "http://proxy.invalid:3128"


class _Names:
    namespace = "replicheck-system"


class _Ctx:
    names = _Names()


def test_pod_deletion_fails_loudly_when_nothing_matched(monkeypatch) -> None:
    import chaosk8s.pod.actions as pod_actions

    calls = []

    def fake_terminate(**kwargs):
        calls.append(kwargs)
        return []

    monkeypatch.setattr(pod_actions, "terminate_pods", fake_terminate)
    monkeypatch.setattr(pods, "chaos_runner_secrets", lambda ctx: {"KUBERNETES_HOST": "h"})
    with pytest.raises(AssertionError, match="deleted no pod"):
        pods.delete_pods(_Ctx(), "leader-pod")
    assert calls[0]["name_pattern"] == "^(?:leader\\-pod)$"
    assert calls[0]["ns"] == "replicheck-system"
    assert calls[0]["secrets"] == {"KUBERNETES_HOST": "h"}


# --- a container signalled in place through its node's containerd -------------------------------------

CID = "containerd://8f0fb4178674e2ec293f1a20e862cc7ff22b4943b9ebb6d5615214f051e03802"


def test_a_container_is_signalled_through_its_own_nodes_containerd() -> None:
    sock = "/root/.cache/replicheck/runs/rc1/nodes/node-2/containerd.sock"
    cmd = containers.signal_command(containers.socket_prefix(sock), CID, "SIGKILL")
    assert cmd == [
        "ctr",
        "--address",
        sock,
        "--namespace",
        "k8s.io",
        "task",
        "kill",
        "--signal",
        "SIGKILL",
        "8f0fb4178674e2ec293f1a20e862cc7ff22b4943b9ebb6d5615214f051e03802",
    ]
    assert "--all" not in cmd  # the main process only (the container's PID 1), not every process
    on_kind = containers.signal_command(containers.kind_prefix("rc1-control-plane"), CID, "SIGSTOP")
    assert on_kind[:6] == ["docker", "exec", "rc1-control-plane", "ctr", "--namespace", "k8s.io"]
    assert on_kind[-3:] == ["--signal", "SIGSTOP", CID.split("//")[1]]


@pytest.mark.parametrize("bad", ["", "docker://abc", "8f0fb417", "containerd://"])
def test_only_a_containerd_container_id_is_signalled(bad: str) -> None:
    with pytest.raises(ValueError, match="containerd container ID"):
        containers.runtime_id(bad)


def test_a_signal_is_named() -> None:
    with pytest.raises(ValueError, match="signal name"):
        containers.signal_command(["ctr"], CID, "9")


# --- the Pod's probe port, and its labels ----------------------------------------------------------------


def _pod(*ports: client.V1ContainerPort) -> client.V1Pod:
    return client.V1Pod(
        metadata=client.V1ObjectMeta(name="replicheck-replicator-abc"),
        spec=client.V1PodSpec(containers=[client.V1Container(name="replicator", ports=list(ports))]),
    )


def test_the_probe_port_comes_from_the_pod_spec_not_8080() -> None:
    pod = _pod(
        client.V1ContainerPort(name="metrics", container_port=9090),
        client.V1ContainerPort(name="http", container_port=22876),
    )
    assert health_port(pod) == 22876
    with pytest.raises(AssertionError, match="no container port named 'http'"):
        health_port(_pod(client.V1ContainerPort(container_port=8080)))


def test_the_pods_label_selector_is_what_they_share_without_the_template_hash() -> None:
    a = {"app.kubernetes.io/name": "r", "app.kubernetes.io/instance": "rel", "pod-template-hash": "1"}
    b = {"app.kubernetes.io/name": "r", "app.kubernetes.io/instance": "rel", "pod-template-hash": "2"}
    assert common_label_selector([a, b]) == "app.kubernetes.io/instance=rel,app.kubernetes.io/name=r"
    with pytest.raises(AssertionError, match="share no label"):
        common_label_selector([{"a": "1"}, {"a": "2"}])


# --- a tighter memory limit through the chart, and the kubelet's memory figure --------------------------


def test_the_memory_limit_is_set_through_the_charts_values_with_helm_upgrade() -> None:
    values = memory_values("84Mi", "84Mi")
    assert values == ["resources.limits.memory=84Mi", "resources.requests.memory=84Mi"]
    cmd = helm_upgrade_command("helm", "replicheck-replicator", "/chart", "replicheck-system", "/kc", values)
    assert cmd[:4] == ["helm", "upgrade", "replicheck-replicator", "/chart"]
    assert "--reuse-values" in cmd  # every other value of the release stays
    assert cmd.count("--set") == 2
    assert cmd[cmd.index("--kubeconfig") + 1] == "/kc"
    assert "--wait" in cmd


def test_the_kubelets_working_set_of_one_container() -> None:
    summary = {
        "pods": [
            {"podRef": {"namespace": "other", "name": "p"}, "containers": [{"name": "replicator"}]},
            {
                "podRef": {"namespace": "replicheck-system", "name": "p"},
                "containers": [{"name": "replicator", "memory": {"workingSetBytes": 46137344}}],
            },
        ]
    }
    assert container_working_set(summary, "replicheck-system", "p", "replicator") == 46137344
    assert container_working_set(summary, "replicheck-system", "q", "replicator") is None


# --- what a fault holds is resumed on every exit path ------------------------------------------------


def _context() -> ChaosContext:
    return ChaosContext(cluster=None, operator=None, run_dir=Path("/nonexistent"))  # type: ignore[arg-type]


def test_everything_held_is_resumed_once_and_a_failing_resume_does_not_stop_the_others() -> None:
    ctx = _context()
    done: list[str] = []
    ctx.hold("node rc1-node-1", lambda: done.append("thaw node"))
    ctx.hold("container p", lambda: (_ for _ in ()).throw(RuntimeError("ctr failed")))
    ctx.hold("pid 12", lambda: done.append("SIGCONT 12"))
    with pytest.raises(RuntimeError, match="ctr failed"):
        ctx.resume_all()
    assert done == ["thaw node", "SIGCONT 12"]
    assert ctx.held == {}
    assert ctx.resume_all() == []  # idempotent: nothing is resumed twice


def test_one_held_thing_is_released_alone() -> None:
    ctx = _context()
    done: list[str] = []
    ctx.hold("node a", lambda: done.append("a"))
    ctx.hold("node b", lambda: done.append("b"))
    assert ctx.release("node b") is True
    assert ctx.release("node b") is False
    assert done == ["b"]
    assert list(ctx.held) == ["node a"]


def test_the_variant_decides_the_implementation_not_the_provider_name() -> None:
    ctx = _context()
    ctx.variant_name = "nodes"
    assert ctx.variant == "nodes"
