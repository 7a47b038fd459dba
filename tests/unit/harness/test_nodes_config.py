"""The pure parts of the local nodes: addresses, program configurations, the pause image, --nodes."""

from __future__ import annotations

import hashlib
import ipaddress
import json
import tarfile
import tomllib
from pathlib import Path

import pytest

from fixtures.clusters.nodes.config import (
    NODE_NETWORK,
    NodeLayout,
    cni_conflist,
    containerd_toml,
    kubelet_args,
    kubelet_configuration,
    node_addresses,
    registry_hosts_toml,
)
from fixtures.clusters.nodes.host import interface_name
from fixtures.clusters.nodes.pause import oci_archive
from fixtures.clusters.providers import AUTO_NODES, resolve_nodes
from fixtures.core.errors import SetupError


def _node(tmp_path: Path, index: int = 1) -> NodeLayout:
    return NodeLayout("rc0123abcd", index, tmp_path / f"node-{index}", f"198.18.7.{10 + index}")


def test_node_addresses_are_in_the_benchmark_range_one_per_node_and_stable_per_run() -> None:
    first = node_addresses("rc0123abcd", 2)
    assert first == node_addresses("rc0123abcd", 2)
    assert len(set(first)) == 2
    assert all(ipaddress.ip_address(a) in NODE_NETWORK for a in first)
    assert all(not ipaddress.ip_address(a).is_loopback for a in first)  # the kubelet refuses loopback


def test_node_addresses_move_past_a_subnet_the_machine_already_uses() -> None:
    chosen = node_addresses("rc0123abcd", 2)
    subnet = ipaddress.ip_network(f"{chosen[0]}/24", strict=False)
    again = node_addresses("rc0123abcd", 2, taken=[str(next(subnet.hosts()))])
    assert not any(ipaddress.ip_address(a) in subnet for a in again)


def test_containerd_keeps_every_path_under_the_node_directory_and_never_raises_oom_score(
    tmp_path: Path,
) -> None:
    node = _node(tmp_path)
    config = tomllib.loads(containerd_toml(node))
    cri = config["plugins"]["io.containerd.grpc.v1.cri"]
    assert cri["restrict_oom_score_adj"] is True  # root here lacks CAP_SYS_RESOURCE
    runc = cri["containerd"]["runtimes"]["runc"]["options"]
    assert runc["SystemdCgroup"] is False
    paths = [
        config["root"],
        config["state"],
        config["grpc"]["address"],
        config["ttrpc"]["address"],
        config["plugins"]["io.containerd.internal.v1.opt"]["path"],
        runc["Root"],
        cri["cni"]["conf_dir"],
        cri["registry"]["config_path"],
    ]
    assert all(p.startswith(str(node.directory)) for p in paths), paths


def test_the_kubelet_runs_on_cgroup_v1_in_the_nodes_own_cgroup_and_address(tmp_path: Path) -> None:
    node = _node(tmp_path, 2)
    config = kubelet_configuration(node, tmp_path / "ca.crt", port=10250, healthz_port=10248)
    assert (config["failCgroupV1"], config["cgroupDriver"], config["failSwapOn"]) == (
        False,
        "cgroupfs",
        False,
    )
    assert config["cgroupRoot"] == "/replicheck-rc0123abcd-node-2/pods"
    assert config["address"] == node.address
    assert config["authentication"]["anonymous"]["enabled"] is False
    args = kubelet_args(node, Path("/bin/kubelet"))
    assert f"--node-ip={node.address}" in args
    assert f"--hostname-override={node.name}" in args


def test_the_pod_network_is_loopback_only_and_registries_are_verified(tmp_path: Path) -> None:
    assert [p["type"] for p in json.loads(cni_conflist(_node(tmp_path)))["plugins"]] == ["loopback"]
    hosts = tomllib.loads(registry_hosts_toml("127.0.0.1:5000", tmp_path / "ca.crt"))
    assert hosts["server"] == "https://127.0.0.1:5000"
    assert hosts["host"]["https://127.0.0.1:5000"]["ca"] == str(tmp_path / "ca.crt")


def test_interface_names_fit_the_kernel_limit() -> None:
    assert len(interface_name("rc" + "f" * 30)) <= 15


def test_the_pause_image_is_one_layer_with_the_program_and_the_same_bytes_every_time(tmp_path: Path) -> None:
    program = tmp_path / "pause"
    program.write_bytes(b"\x7fELF not really")
    first = oci_archive(program, tmp_path / "a.tar", "replicheck.local/pause:1").read_bytes()
    assert oci_archive(program, tmp_path / "b.tar", "replicheck.local/pause:1").read_bytes() == first
    with tarfile.open(tmp_path / "a.tar") as tar:
        index = json.loads(tar.extractfile("index.json").read())  # type: ignore[union-attr]
        ref = index["manifests"][0]
        assert ref["annotations"]["io.containerd.image.name"] == "replicheck.local/pause:1"
        manifest_bytes = tar.extractfile(f"blobs/sha256/{ref['digest'].split(':')[1]}").read()  # type: ignore[union-attr]
        assert hashlib.sha256(manifest_bytes).hexdigest() == ref["digest"].split(":")[1]
        manifest = json.loads(manifest_bytes)
        (layer,) = manifest["layers"]
        blob = tar.extractfile(f"blobs/sha256/{layer['digest'].split(':')[1]}")
        with tarfile.open(fileobj=blob) as inner:
            member = inner.getmember("pause")
            assert member.mode == 0o755


@pytest.mark.parametrize(
    ("option", "unusable", "pods", "expected"),
    [
        ("auto", None, True, (AUTO_NODES, None)),
        ("auto", "not root", True, (0, "not root")),
        ("1", None, False, (1, None)),
        ("3", "containerd not installed", True, (0, "containerd not installed")),
        ("0", None, True, (0, "--nodes=0")),
    ],
)
def test_nodes_option_never_falls_back_silently(
    option: str, unusable: str | None, pods: bool, expected: tuple[int, str | None]
) -> None:
    assert resolve_nodes(option, unusable, pods=pods) == expected


def test_auto_starts_no_idle_nodes_when_the_systems_run_as_processes_and_says_so() -> None:
    count, why = resolve_nodes("auto", None, pods=False)
    assert count == 0
    assert why is not None
    assert "processes" in why


@pytest.mark.parametrize("option", ["two", "-1"])
def test_a_bad_nodes_option_names_the_fix(option: str) -> None:
    with pytest.raises(SetupError, match="--nodes must be 'auto' or a count"):
        resolve_nodes(option, None)
