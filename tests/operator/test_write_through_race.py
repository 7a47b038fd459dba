"""A copy deleted by a user the moment the operator's patch of it lands must come back.

Why this test exists: the state machine (properties/test_replication_machine.py) failed once on a
loaded CI machine with an auto copy absent for 60 s. The operator writes the response of each of its
own writes through to its cache; when a user deleted the copy right after the operator's patch, the
Secret watch could deliver that deletion *before* the worker applied the patch response, and the
late response put the deleted copy back into the cache. Planning then saw a current copy and never
recreated it (until the 5-minute resync). The interleaving depends on thread scheduling, so here it
is forced: the bundled operator's controller runs in-process against a private control plane (the
shared one has the deployed operator, which would repair the copy itself) with the real API, and its
client holds the patch response back until the user's deletion has reached the controller's cache.
"""

from __future__ import annotations

import base64
import secrets
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException

from fixtures.clusters.cluster import Cluster
from fixtures.clusters.local import LocalControlPlane
from fixtures.core.waiting import eventually
from fixtures.systems.dialects.reflector import REFLECTS, replicate_to
from operator_under_test.replicator.controller import Controller, Options
from operator_under_test.replicator.kube import SECRETS, Kube, load_configuration

TIMEOUT = 30.0


class DeleteAfterWrite(Kube):
    """The real client, except that once, after the operator's ``method`` write of the copy at
    ``target`` succeeds, a user deletes that copy, and the response goes back to the operator only
    when its Secret watch has delivered the deletion (a marker Secret written after the deletion has
    reached the cache: one watch delivers events in order)."""

    def __init__(self, cluster: Cluster, kubeconfig: str, method: str, target: tuple[str, str]) -> None:
        super().__init__(load_configuration(kubeconfig))
        self.cluster, self.method, self.target = cluster, method, target
        self.controller: Controller | None = None
        self.deleted_uid = ""
        self.fired = threading.Event()

    def _copy_path(self) -> str:
        ns, name = self.target
        return SECRETS.item(ns, name) if self.method == "PATCH" else SECRETS.collection(ns)

    def request(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        obj = super().request(method, path, **kwargs)
        if method == self.method and path == self._copy_path() and not self.fired.is_set():
            self.fired.set()
            ns, name = self.target
            self.deleted_uid = obj["metadata"]["uid"]
            self.cluster.core.delete_namespaced_secret(name, ns)
            marker = f"{name}-marker"
            self.cluster.core.create_namespaced_secret(
                ns, client.V1Secret(metadata=client.V1ObjectMeta(name=marker))
            )
            store = self.controller.stores["Secret"] if self.controller else None

            def deletion_seen() -> None:
                assert store is not None, "no controller attached"
                assert store.exists(ns, marker), "the watch has not delivered the deletion yet"

            eventually(deletion_seen, timeout=TIMEOUT, description="the controller to see the deletion")
        return obj


@pytest.fixture
def plane_cluster(private_control_plane: LocalControlPlane) -> Iterator[Cluster]:
    handle = private_control_plane.cluster()
    try:
        yield handle
    finally:
        handle.close()


@pytest.mark.parametrize("write", ["POST", "PATCH"], ids=["create", "update"])
def test_a_copy_deleted_while_the_operator_writes_it_is_recreated(
    private_control_plane: LocalControlPlane, plane_cluster: Cluster, write: str
) -> None:
    """``create``: the deletion races the write-through of the copy's creation (the state machine's
    failure: a copy deleted by hand twice in a row); ``update``: of a patch after a source update."""
    cluster = plane_cluster
    name = f"creds-{secrets.token_hex(4)}"
    src = cluster.create_namespace(name=f"{name}-src")
    target = cluster.create_namespace(name=f"{name}-a")
    kube = DeleteAfterWrite(cluster, str(private_control_plane.kubeconfig), write, (target, name))
    controller = Controller(kube, Options(resync_seconds=0, workers=2, write_concurrency=2))
    kube.controller = controller
    controller.start()
    controller.set_leading(True)
    try:
        data = {"password": base64.b64encode(b"v1").decode()}
        body = client.V1Secret(
            metadata=client.V1ObjectMeta(name=name, annotations=replicate_to([target])), data=data
        )
        cluster.core.create_namespaced_secret(src, body)

        def copy() -> client.V1Secret:
            try:
                found = cluster.core.read_namespaced_secret(name, target)
            except ApiException as exc:
                assert exc.status != 404, f"no copy in {target}"
                raise
            assert (found.metadata.annotations or {}).get(REFLECTS) == f"{src}/{name}", "not a copy"
            return found

        content = b"v1"
        if write == "PATCH":
            eventually(copy, timeout=TIMEOUT, description="the first copy")
            content = b"v2"  # a source update: the operator patches the copy
            cluster.core.patch_namespaced_secret(
                name, src, {"data": {"password": base64.b64encode(content).decode()}}
            )

        def fired() -> None:
            assert kube.fired.is_set(), f"the operator has not written the copy ({write}) yet"

        eventually(fired, timeout=TIMEOUT, description="the operator's write of the copy")

        def recreated() -> None:
            found = copy()
            assert found.metadata.uid != kube.deleted_uid, "still the deleted copy"
            assert found.data == {"password": base64.b64encode(content).decode()}, "not the source's content"

        eventually(recreated, timeout=TIMEOUT, description="the deleted copy to be recreated")
    finally:
        controller.shutdown()
        kube.close()
