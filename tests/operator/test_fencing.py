"""Fencing: a leader paused past its Lease and resumed after another replica took over must not
write, even for a moment before its own election loop notices. Checked from the API server's audit
log (what was *sent*), with the new leader paused too, so every write in the window is the old one's.

The bundled operator alone (its documented leader election, README "How it works"): two replicas on
a private control plane, short lease flags so a takeover costs seconds.
"""

from __future__ import annotations

import base64
import contextlib
import json
import secrets
import signal
import time
from collections.abc import Iterator
from datetime import datetime

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException

from chaos import audit
from fixtures.clusters.local import LocalControlPlane
from fixtures.clusters.workloads import Deployment, Replica
from fixtures.core.errors import NoEvidence, SetupError
from fixtures.core.waiting import WaitTimeout, eventually
from fixtures.plugins.private import PrivateOperators
from fixtures.systems.dialects.reflector import replicate_to
from fixtures.systems.profiles.bundled import SYSTEM as BUNDLED

LEASE_FLAGS = ["--lease-duration-seconds=6", "--renew-deadline-seconds=4", "--retry-period-seconds=1"]
OPERATOR_NAMESPACE, LEASE = "replicheck-system", "replicheck-replicator"
OPERATOR_USER = f"system:serviceaccount:{OPERATOR_NAMESPACE}:replicheck-replicator"
TIMEOUT = 60.0


@pytest.fixture
def two_replicas(
    private_control_plane: LocalControlPlane, private_operators: PrivateOperators
) -> Iterator[tuple[LocalControlPlane, Deployment]]:
    handle = private_control_plane.cluster()
    deployment = private_operators.deploy(
        BUNDLED,
        handle,
        private_control_plane.run_dir / "operator-ha",
        label="two replicas",
        replicas=2,
        extra_args=LEASE_FLAGS,
    )
    try:
        yield private_control_plane, deployment
    finally:
        for replica in deployment.replicas:  # never leave a stopped process behind
            with contextlib.suppress(OSError, SetupError):
                replica.kill(signal.SIGCONT)
        private_operators.stop(deployment)
        handle.close()


def holder(coordination: client.CoordinationV1Api) -> str:
    return coordination.read_namespaced_lease(LEASE, OPERATOR_NAMESPACE).spec.holder_identity or ""


def log_messages(replica: Replica, since: float) -> list[str]:
    out = []
    for line in replica.logs().splitlines():
        try:
            rec = json.loads(line)
        except ValueError:
            continue
        ts = rec.get("ts")
        if ts and datetime.fromisoformat(ts).timestamp() >= since - 1:
            out.append(rec.get("msg", ""))
    return out


@pytest.mark.contract("OB7", "OF-leader", "K5", "R28")
def test_a_leader_paused_past_its_lease_never_writes_after_the_takeover(
    two_replicas: tuple[LocalControlPlane, Deployment],
) -> None:
    plane, deployment = two_replicas
    cluster = plane.cluster()
    core, coordination = cluster.core, client.CoordinationV1Api(cluster.api)
    name = f"creds-{secrets.token_hex(4)}"
    src, a = cluster.create_namespace(name=f"{name}-src"), cluster.create_namespace(name=f"{name}-a")
    annotations = replicate_to([a])
    data = {"password": base64.b64encode(b"v1").decode()}
    core.create_namespaced_secret(
        src, client.V1Secret(metadata=client.V1ObjectMeta(name=name, annotations=annotations), data=data)
    )

    def copied(value: bytes) -> None:
        try:
            copy = core.read_namespaced_secret(name, a)
        except ApiException as exc:
            assert exc.status != 404, f"no copy in {a} yet"
            raise
        assert copy.data == {"password": base64.b64encode(value).decode()}, "copy not (yet) up to date"

    eventually(lambda: copied(b"v1"), timeout=TIMEOUT, description="the first copy")
    replicas = {r.name: r for r in deployment.replicas}
    old = eventually(lambda: replicas[holder(coordination)], timeout=TIMEOUT, description="a leader")

    old.kill(signal.SIGSTOP)  # a hung node: the Lease runs out

    def taken_over() -> Replica:
        now = holder(coordination)
        assert now, "nobody holds the Lease"
        assert now != old.name, f"{old.name} still holds the Lease"
        return replicas[now]

    new = eventually(taken_over, timeout=TIMEOUT, description="another replica to take the Lease")
    new.kill(signal.SIGSTOP)  # from here on, the old leader is the only replica running
    core.patch_namespaced_secret(name, src, {"data": {"password": base64.b64encode(b"v2").decode()}})
    thawed_at = time.time()
    old.kill(signal.SIGCONT)

    def noticed() -> None:
        assert "leadership lost" in log_messages(old, thawed_at), f"{old.name} has not noticed yet"

    eventually(noticed, timeout=TIMEOUT, description="the old leader to notice it lost the Lease")
    noticed_at = time.time()

    def audited() -> list[audit.AuditEvent]:
        events = audit.read(cluster.audit_log)
        assert events, "nothing audited yet"
        assert events[-1].received >= noticed_at - 1, "audit log not written up to now yet"
        return events

    try:
        events = eventually(audited, timeout=TIMEOUT, description="the audit log to cover the window")
    except WaitTimeout as exc:
        raise NoEvidence("fencing", f"the audit log does not cover the window: {exc}") from None
    window = audit.window(events, thawed_at - 0.5, noticed_at + 0.5, OPERATOR_USER)
    # evidence: the old leader's requests in the window (it must have asked for the Lease to notice
    # the loss); none seen means the log is blind to it, and "no write" would prove nothing
    audit.require_requests(window, "fencing", OPERATOR_USER, "between the thaw and the step-down")
    writes = [
        f"{e.verb} {e.resource} {e.namespace} ({e.code})"
        for e in window
        if e.verb in ("create", "update", "patch", "delete") and e.resource in ("secrets", "configmaps")
    ]
    assert not writes, f"{old.name} wrote after losing the Lease (no fencing): {writes}"

    new.kill(signal.SIGCONT)
    eventually(lambda: copied(b"v2"), timeout=TIMEOUT, description="the leader to propagate the update")
    cluster.close()
