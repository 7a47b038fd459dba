"""The audit-based checks see every system, and say NO VERDICT when they saw nothing of one.

On a private local control plane, two systems run side by side, each under its own ServiceAccount in
a namespace of its own: the bundled operator (``replicheck-system``) and ConfigMirror
(``configmirror-system``, with its PostgreSQL). The audit policy is built from every registered
system's namespaces (fixtures/clusters/local.py ``audit_policy``), so the audit reader counts the requests of
both, and an audit-based chaos probe judging the second system has evidence. When a system is
stopped, a window in which it sent nothing (while the other system's requests prove the log was being
written) is no verdict: the probe says so, and the pytest-side check raises NoEvidence.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from types import SimpleNamespace

import pytest

from chaos import audit, probes
from chaos.context import CONFIG_KEY, ChaosContext, LocalOperator, register, unregister
from chaos.scoring import probe_state
from fixtures.clusters.local import LocalControlPlane
from fixtures.clusters.workloads import Deployment
from fixtures.core.errors import NoEvidence
from fixtures.core.waiting import eventually
from fixtures.plugins.private import PrivateOperators
from fixtures.systems import system
from fixtures.systems.model import ChaosProfile

pytestmark = [pytest.mark.chaos]
TIMEOUT = 60.0


def user_of(deployment: Deployment) -> str:
    return f"system:serviceaccount:{deployment.namespace}:{deployment.service_account}"


@dataclass
class TwoSystems:
    plane: LocalControlPlane
    bundled: Deployment
    mirror: Deployment
    started_at: float

    def requests(self, deployment: Deployment, since: float) -> list[audit.AuditEvent]:
        return audit.window(audit.read(self.plane.audit_log), since, float("inf"), user_of(deployment))

    def probe_context(self, deployment: Deployment) -> ChaosContext:
        """A chaos context judging ``deployment``'s system by its own ServiceAccount (what a profile's
        ChaosProfile names), on this plane."""
        names = ChaosProfile(deployment.namespace, deployment.service_account, rbac="-")
        judged = SimpleNamespace(name=deployment.namespace, chaos=names)
        cluster = self.plane.cluster()
        return ChaosContext(cluster, LocalOperator(deployment), self.plane.run_dir, system=judged)  # type: ignore[arg-type]


@pytest.fixture
def two_systems(
    private_control_plane: LocalControlPlane, private_operators: PrivateOperators
) -> Iterator[TwoSystems]:
    handle = private_control_plane.cluster()
    started_at = time.time()
    configmirror = system("configmirror")
    bundled = private_operators.deploy(
        system("bundled"), handle, private_control_plane.run_dir / "bundled", label="bundled"
    )
    mirror = private_operators.deploy(
        configmirror, handle, private_control_plane.run_dir / "configmirror", label="configmirror"
    )
    try:
        yield TwoSystems(private_control_plane, bundled, mirror, started_at)
    finally:
        configmirror.undeploy(mirror)  # and its PostgreSQL
        handle.close()


def _no_deletes_since(env: TwoSystems, deployment: Deployment, since_wall: float) -> dict:
    """The chaos probe "no deletes by the operator", judging ``deployment`` from ``since_wall``."""
    ctx = env.probe_context(deployment)
    ctx.marks["window_wall"] = since_wall
    key = register(ctx)
    try:
        return probes.no_operator_deletes(since="window", configuration={CONFIG_KEY: key})
    finally:
        unregister(key)
        ctx.cluster.close()


def test_a_second_system_in_a_namespace_of_its_own_is_seen_by_the_audit_checks(
    two_systems: TwoSystems,
) -> None:
    env = two_systems
    assert env.mirror.namespace != env.bundled.namespace, "the second system runs in a namespace of its own"
    # both deployed and ready: each has listed and watched through the API server by now
    for deployment in (env.bundled, env.mirror):
        seen = audit.require_requests(
            env.requests(deployment, env.started_at),
            "audit reader",
            user_of(deployment),
            "since the deployment started",
        )
        assert seen > 0
    # a chaos probe judging the second system by its own ServiceAccount has evidence
    out = _no_deletes_since(env, env.mirror, env.started_at)
    assert probe_state(out) == "pass", out
    assert out["evidence"] > 0


def test_a_system_that_sent_nothing_in_the_window_is_no_verdict(two_systems: TwoSystems) -> None:
    env = two_systems
    env.bundled.stop()  # the bundled operator sends nothing from here on
    window_start = time.time()

    def log_written_since() -> int:
        # the audit log is being written in the window: the other system's requests are in it
        return audit.require_requests(
            env.requests(env.mirror, window_start), "audit log", user_of(env.mirror), "in the window"
        )

    eventually(
        log_written_since, timeout=TIMEOUT, retry_on=(NoEvidence,), description="a request of ConfigMirror"
    )
    assert env.requests(env.bundled, window_start) == []

    out = _no_deletes_since(env, env.bundled, window_start)
    assert probe_state(out) == "no verdict", out
    assert out["ok"] is None
    assert user_of(env.bundled) in out["no_evidence"]
    with pytest.raises(NoEvidence, match="no request of system:serviceaccount:replicheck-system"):
        audit.require_requests(
            env.requests(env.bundled, window_start), "no deletes", user_of(env.bundled), "in the window"
        )
