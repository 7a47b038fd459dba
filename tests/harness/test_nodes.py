"""Real nodes of the local provider (containerd + kubelet each): Pods run on them, and nothing of
them is left on the machine after a run ends, whether by teardown, a SIGKILLed owner, or a run whose
owner and guardian were both killed (the next run reaps it)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from kubernetes import client

from fixtures.clusters.clients import admin_api_client
from fixtures.clusters.cluster import new_run_id
from fixtures.clusters.local import LocalControlPlane
from fixtures.clusters.nodes import host
from fixtures.clusters.nodes.config import PAUSE_IMAGE
from fixtures.clusters.nodes.host import RECORD_FILE, HostRecord, leftovers
from fixtures.clusters.nodes.support import nodes_unusable_reason
from fixtures.clusters.procs import RunState
from fixtures.clusters.reaping import clean_stale_runs
from fixtures.core.waiting import eventually

pytestmark = pytest.mark.skipif(
    nodes_unusable_reason() is not None, reason=f"no local nodes here: {nodes_unusable_reason()}"
)


@pytest.fixture
def plane() -> Iterator[LocalControlPlane]:
    started = LocalControlPlane(new_run_id(), os.getpid(), nodes=2).start()
    try:
        yield started
    finally:
        started.stop()


def _pod(name: str, node: str) -> client.V1Pod:
    """A Pod of the sandbox image itself (already on every node: no registry needed)."""
    return client.V1Pod(
        metadata=client.V1ObjectMeta(name=name),
        spec=client.V1PodSpec(
            host_network=True,
            node_name=node,
            termination_grace_period_seconds=0,
            containers=[client.V1Container(name="main", image=PAUSE_IMAGE, image_pull_policy="Never")],
        ),
    )


def test_a_pod_runs_on_every_node_and_the_api_server_reaches_each_kubelet(plane: LocalControlPlane) -> None:
    assert plane.node_set is not None
    with admin_api_client(plane.kubeconfig) as api:
        core = client.CoreV1Api(api)
        nodes = {n.metadata.name: n for n in core.list_node().items}
        assert sorted(nodes) == sorted(plane.node_set.names)
        for name, node in nodes.items():
            internal = [a.address for a in node.status.addresses if a.type == "InternalIP"]
            assert internal == [plane.node_set.layout(name).address]
        for i, name in enumerate(plane.node_set.names):
            core.create_namespaced_pod("default", _pod(f"p{i}", name))

        def running() -> None:
            pods = core.list_namespaced_pod("default").items
            phases = {p.metadata.name: (p.status.phase, p.spec.node_name) for p in pods}
            assert all(phase == "Running" for phase, _node in phases.values()), phases
            assert len(phases) == len(nodes), phases

        eventually(running, timeout=60, description="a Pod Running on every node")
        # the API server → kubelet path (logs, the runbooks' `kubectl logs`) works on each node
        for i in range(len(nodes)):
            assert core.read_namespaced_pod_log(f"p{i}", "default") == ""
        core.delete_namespaced_pod("p0", "default", grace_period_seconds=0)
        eventually(
            lambda: _gone(core, "p0"), timeout=60, description="the deleted Pod to be gone from its node"
        )


def _gone(core: client.CoreV1Api, name: str) -> None:
    names = [p.metadata.name for p in core.list_namespaced_pod("default").items]
    assert name not in names, names


def test_teardown_leaves_nothing_of_the_nodes_on_the_machine() -> None:
    plane = LocalControlPlane(new_run_id(), os.getpid(), nodes=2).start()
    try:
        record = HostRecord.load(plane.run_dir)
        assert record is not None
        with admin_api_client(plane.kubeconfig) as api:
            client.CoreV1Api(api).create_namespaced_pod("default", _pod("p", plane.node_set.names[0]))
        assert leftovers(record), "a running node shows in the leftovers check (it sees things)"
    finally:
        plane.stop()
    assert leftovers(record) == []


_OWNER = textwrap.dedent(
    """
    import os, sys
    from fixtures.clusters.local import LocalControlPlane
    from fixtures.clusters.clients import admin_api_client
    from kubernetes import client
    from tests.harness.test_nodes import _pod
    plane = LocalControlPlane(run_id=sys.argv[1], owner_pid=os.getpid(), nodes=2).start()
    with admin_api_client(plane.kubeconfig) as api:
        client.CoreV1Api(api).create_namespaced_pod("default", _pod("p", plane.node_set.names[1]))
    print(plane.run_dir, flush=True)
    sys.stdin.read()  # block until killed
    """
)


def _owner_with_a_pod() -> tuple[subprocess.Popen, Path, HostRecord]:
    owner = subprocess.Popen(
        [sys.executable, "-c", _OWNER, new_run_id()],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    run_dir = Path(owner.stdout.readline().strip())  # type: ignore[union-attr]
    record = HostRecord(**json.loads((run_dir / RECORD_FILE).read_text()))

    def a_container_runs() -> None:
        shims = subprocess.run(["pgrep", "-f", f"containerd-shim.*{record.sockets[1]}"], capture_output=True)
        assert shims.returncode == 0, "no shim of node 2 yet"

    eventually(a_container_runs, timeout=60, description="the Pod's shim on node 2")
    return owner, run_dir, record


def _close(owner: subprocess.Popen) -> None:
    owner.kill()
    owner.wait()
    owner.stdin.close()  # type: ignore[union-attr]
    owner.stdout.close()  # type: ignore[union-attr]


def test_a_sigkilled_owner_leaves_nothing_of_the_nodes() -> None:
    """The guardian kills the group, then undoes the record: shims, containers, mounts, cgroups,
    the interface, kernel settings."""
    owner, run_dir, record = _owner_with_a_pod()
    try:
        os.kill(owner.pid, signal.SIGKILL)
        owner.wait()
        eventually(lambda: _nothing_left(record, run_dir), timeout=60, description="the guardian's cleanup")
    finally:
        _close(owner)


def test_a_run_whose_guardian_was_killed_too_is_cleaned_up_by_the_next_run() -> None:
    owner, run_dir, record = _owner_with_a_pod()
    try:
        state = RunState.load(run_dir)
        assert state is not None
        assert state.pgid
        os.kill(state.pgid, signal.SIGKILL)  # the guardian first, so nobody reaps
        os.kill(owner.pid, signal.SIGKILL)
        owner.wait()
        assert leftovers(record), "expected leftovers for the next run to remove"
        assert state.run_id in clean_stale_runs()
        _nothing_left(record, run_dir)
    finally:
        _close(owner)


def _nothing_left(record: HostRecord, run_dir: Path) -> None:
    assert leftovers(record) == []
    assert not run_dir.exists(), f"{run_dir} still exists"


def test_overlapping_runs_restore_the_machine_settings_only_when_the_last_one_ends(tmp_path: Path) -> None:
    """Two runs with nodes overlap: the second records the values from before the first (not the
    first's kubelet's), the first to end leaves the settings to the other, the last restores them."""
    setting = Path("/proc/sys/vm/overcommit_memory")
    before = setting.read_text().strip()
    machine = tmp_path / "machine.json"
    first, second = (
        HostRecord(new_run_id(), host.interface_name(new_run_id()), [], [], [], [], "none") for _ in range(2)
    )
    runs = {first.run_id: tmp_path / "a", second.run_id: tmp_path / "b"}
    for directory in runs.values():
        directory.mkdir()
    changed = "1" if before != "1" else "0"
    try:
        host.prepare(first, runs[first.run_id], machine)
        setting.write_text(changed)  # what the first run's kubelet does
        host.prepare(second, runs[second.run_id], machine)
        assert second.kernel_settings["vm/overcommit_memory"] == before
        assert host.cleanup(first, machine) == []
        assert setting.read_text().strip() == changed, "restored while another run still has nodes"
        assert host.cleanup(second, machine) == []
        assert setting.read_text().strip() == before
        assert not machine.exists()
    finally:
        for record in (first, second):
            host.cleanup(record, machine)
        setting.write_text(before)
