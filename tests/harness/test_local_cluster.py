"""The harness itself, against a real local control plane: RBAC, tokens, controllers, teardown."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException

from fixtures.clusters.cluster import Cluster, NamespaceFactory
from fixtures.clusters.local import LocalControlPlane
from fixtures.clusters.procs import RunState, pid_alive
from fixtures.clusters.reaping import clean_stale_runs
from fixtures.core.waiting import eventually


def _rbac_subject(namespace: str, name: str) -> client.RbacV1Subject:
    return client.RbacV1Subject(kind="ServiceAccount", name=name, namespace=namespace)


def test_service_account_is_forbidden_until_bound(cluster: Cluster, namespace: str) -> None:
    """Setup: a ServiceAccount with no bindings. Assess: 403, then 200 after a RoleBinding."""
    cluster.core.create_namespaced_service_account(
        namespace, client.V1ServiceAccount(metadata=client.V1ObjectMeta(name="reader"))
    )
    with cluster.service_account_client(namespace, "reader") as sa_api:
        with pytest.raises(ApiException) as denied:
            client.CoreV1Api(sa_api).list_namespaced_secret(namespace)
        assert denied.value.status == 403

        rbac = client.RbacAuthorizationV1Api(cluster.api)
        rbac.create_namespaced_role(
            namespace,
            client.V1Role(
                metadata=client.V1ObjectMeta(name="secret-reader"),
                rules=[client.V1PolicyRule(api_groups=[""], resources=["secrets"], verbs=["list"])],
            ),
        )
        rbac.create_namespaced_role_binding(
            namespace,
            client.V1RoleBinding(
                metadata=client.V1ObjectMeta(name="secret-reader"),
                role_ref=client.V1RoleRef(
                    api_group="rbac.authorization.k8s.io", kind="Role", name="secret-reader"
                ),
                subjects=[_rbac_subject(namespace, "reader")],
            ),
        )

        def allowed() -> None:
            try:
                client.CoreV1Api(sa_api).list_namespaced_secret(namespace)
            except ApiException as exc:
                raise AssertionError(f"still {exc.status} after the RoleBinding") from exc

        eventually(allowed, timeout=10, description="the RoleBinding to take effect")
        # Only what was granted: get is still forbidden.
        with pytest.raises(ApiException) as still_denied:
            client.CoreV1Api(sa_api).read_namespaced_secret("anything", namespace)
        assert still_denied.value.status == 403


def test_token_request_tokens_authenticate_as_the_service_account(cluster: Cluster, namespace: str) -> None:
    cluster.core.create_namespaced_service_account(
        namespace, client.V1ServiceAccount(metadata=client.V1ObjectMeta(name="whoami"))
    )
    with cluster.service_account_client(namespace, "whoami", seconds=600) as sa_api:
        review = client.AuthenticationV1Api(sa_api).create_self_subject_review(client.V1SelfSubjectReview())
    assert review.status.user_info.username == f"system:serviceaccount:{namespace}:whoami"


def test_a_deleted_namespace_disappears(cluster: Cluster, namespaces: NamespaceFactory) -> None:
    """The namespace controller (kube-controller-manager) finalizes deletions."""
    name = namespaces("gone")
    cluster.core.create_namespaced_config_map(
        name, client.V1ConfigMap(metadata=client.V1ObjectMeta(name="content"), data={"k": "v"})
    )
    cluster.core.delete_namespace(name)

    def gone() -> None:
        try:
            ns = cluster.core.read_namespace(name)
        except ApiException as exc:
            assert exc.status == 404
            return
        raise AssertionError(f"namespace {name} is still {ns.status.phase}")

    eventually(gone, timeout=60, interval=0.2, description=f"namespace {name} to be deleted")


def test_new_namespaces_get_service_account_and_root_ca(cluster: Cluster, namespace: str) -> None:
    """serviceaccount and root-ca-certificate-publisher controllers are running."""

    def provisioned() -> None:
        sas = {sa.metadata.name for sa in cluster.core.list_namespaced_service_account(namespace).items}
        cms = {cm.metadata.name for cm in cluster.core.list_namespaced_config_map(namespace).items}
        assert "default" in sas, f"service accounts: {sas}"
        assert "kube-root-ca.crt" in cms, f"config maps: {cms}"

    eventually(provisioned, timeout=30, description="default ServiceAccount and kube-root-ca.crt")


def test_data_survives_an_apiserver_restart(private_control_plane: LocalControlPlane) -> None:
    plane = private_control_plane
    from fixtures.clusters.clients import admin_api_client

    with admin_api_client(plane.kubeconfig) as api:
        client.CoreV1Api(api).create_namespaced_config_map(
            "default",
            client.V1ConfigMap(metadata=client.V1ObjectMeta(name="survivor"), data={"answer": "42"}),
        )
    old_pid = plane.components["kube-apiserver"].process.pid
    plane.restart("kube-apiserver")
    assert plane.components["kube-apiserver"].process.pid != old_pid
    with admin_api_client(plane.kubeconfig) as api:
        cm = client.CoreV1Api(api).read_namespaced_config_map("survivor", "default")
    assert cm.data == {"answer": "42"}


def test_teardown_leaves_no_process_and_no_files(private_control_plane: LocalControlPlane) -> None:
    plane = private_control_plane
    pids = [c.process.pid for c in plane.components.values()] + [plane.guardian.pid]
    dirs = [plane.run_dir, plane.data_dir]
    assert all(pid_alive(p) for p in pids)
    plane.stop()
    assert [p for p in pids if pid_alive(p)] == []
    assert [d for d in dirs if d.exists()] == []


_OWNER = textwrap.dedent(
    """
    import sys
    from fixtures.clusters.local import LocalControlPlane
    plane = LocalControlPlane(run_id=sys.argv[1], owner_pid=None)
    plane.owner_pid = __import__("os").getpid()
    plane.start()
    print(plane.run_dir, flush=True)
    sys.stdin.read()  # block until killed
    """
)


def _start_owned_cluster(run_id: str) -> tuple[subprocess.Popen, RunState]:
    owner = subprocess.Popen(
        [sys.executable, "-c", _OWNER, run_id],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    run_dir = Path(owner.stdout.readline().strip())
    state = RunState.load(run_dir)
    assert state is not None, f"no state in {run_dir}"
    return owner, state


def _reap(owner: subprocess.Popen) -> None:
    owner.kill()
    owner.wait()
    owner.stdin.close()
    owner.stdout.close()


def _all_gone(state: RunState) -> None:
    alive = [name for name, pid in state.pids.items() if state.ours(pid)]
    assert alive == [], f"still running: {alive}"
    assert not Path(state.run_dir).exists(), f"{state.run_dir} still exists"


def test_killing_the_owner_kills_the_cluster() -> None:
    """A SIGKILLed pytest (no teardown at all) still leaves nothing behind: the guardian reaps."""
    from fixtures.clusters.cluster import new_run_id

    owner, state = _start_owned_cluster(new_run_id())
    try:
        assert all(state.ours(pid) for pid in state.pids.values())
        os.kill(owner.pid, signal.SIGKILL)
        owner.wait()
        eventually(lambda: _all_gone(state), timeout=30, description="the guardian to reap the cluster")
    finally:
        _reap(owner)


def test_a_stale_cluster_is_found_and_removed_next_time() -> None:
    """Even with the guardian gone too (kill -9 of everything we control), the next start cleans up."""
    from fixtures.clusters.cluster import new_run_id

    owner, state = _start_owned_cluster(new_run_id())
    try:
        os.kill(state.pgid, signal.SIGKILL)  # the guardian first, so nobody reaps
        os.kill(owner.pid, signal.SIGKILL)
        owner.wait()
        assert any(state.ours(pid) for pid in state.pids.values()), "expected orphans to clean up"
        stale_lock = Path(state.run_dir).parent / f".session-{owner.pid}.json.lock"
        stale_lock.touch()  # what a killed pytest leaves of its session record
        removed = clean_stale_runs()
        assert not stale_lock.exists()
        assert state.run_id in removed
        eventually(lambda: _all_gone(state), timeout=30, description="the stale run to be removed")
    finally:
        _reap(owner)
