"""N8 (issue 22 item 8): readiness waits for the first lists and follows the watches; liveness does not.

A controller's readiness path says "my caches are listed and my watches are up"; its liveness path
says only "restart me, I am stuck". Reflector kept reporting healthy while its watchers were dead
(#292, #442; reflector-semantics.md R31 and K2: the health endpoint must not mask a dead watcher).
On a private local control plane whose kube-apiserver this test stops and starts again:

(a) a controller process started while the API server is down answers its liveness path 200 and its
    readiness path something else (its first lists cannot complete); once the API server serves
    again it becomes ready;
(b) a ready controller whose API server goes away becomes not ready once its watches have been down
    longer than its threshold, and its liveness path answers 200 all the while (a restart would not
    bring the API server back); ready again once the API server serves.

Applies to every selected system whose profile declares a readiness contract
(``ReplicationSystem.readiness``, ``fixtures/systems/model.py`` ``ReadinessProfile``): the bundled
operator and ConfigMirror, both through the replicator's ``Loop`` readiness, their threshold set
small with ``--ready-down-threshold-seconds``. For any other system it is n/a with its profile's
reason (``no_readiness``): kubernetes-replicator serves one handler on /healthz and /readyz, and
Reflector's readiness only calls the API server's /version. It needs a private control plane
(none under ``--cluster=existing``: skipped with the factory's reason).
"""

from __future__ import annotations

import time
import urllib.error
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import pytest

from fixtures.clusters.local import LocalControlPlane
from fixtures.clusters.workloads import Replica
from fixtures.core.waiting import eventually
from fixtures.plugins.private import PrivateOperators
from fixtures.systems import ReadinessProfile, ReplicationSystem
from suites.contract import neutral

APISERVER = "kube-apiserver"
#: for the supervisor to start a killed process again and for it to open its probe port
RESTART_TIMEOUT = 30.0
#: from "the API server serves again" to ready: its informers' backoff (capped at a few seconds in
#: both bundled operators), the new API server's RBAC warm-up (403 for a moment), the lists
READY_TIMEOUT = 60.0
#: beyond the threshold, for the watches to notice the API server went away (its sockets close when
#: it stops). Less than the bundled operators' 30 s default threshold minus the threshold: one that
#: ignores the flag stays ready past this wait.
DOWN_SLACK = 15.0


@dataclass
class Probes:
    """The readiness and liveness paths of one replica, as status codes (None: nothing answered)."""

    replica: Replica
    profile: ReadinessProfile
    #: liveness answers other than 200 seen while the API server was down (what (b) must not see)
    lapses: list[str] = field(default_factory=list)

    def status(self, path: str) -> int | None:
        try:
            return self.replica.get(path)[0]
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            return None

    def read(self) -> tuple[int | None, int | None]:
        """(liveness, readiness) status, liveness first."""
        return self.status(self.profile.liveness_path), self.status(self.profile.readiness_path)

    def shown(self, live: int | None, ready: int | None) -> str:
        return f"{self.profile.liveness_path} {live}, {self.profile.readiness_path} {ready}"

    def ready_and_alive(self) -> None:
        live, ready = self.read()
        assert (live, ready) == (200, 200), f"{self.replica.name}: {self.shown(live, ready)}"


@contextmanager
def api_server_down(plane: LocalControlPlane) -> Iterator[float]:
    """kube-apiserver stopped (SIGTERM, as an upgrade or a crash of the control plane would) for the
    block, which gets the moment it had stopped; started again with the same flags and port after
    the block, even when the block fails."""
    plane.halt(APISERVER)
    try:
        yield time.monotonic()
    finally:
        plane.resume(APISERVER)


@neutral(
    "N8",
    "readiness waits for the first lists and follows the watches; liveness does not",
    key="neutral.readiness",
)
@pytest.mark.contract("OB8", "R31", "OF-ready-down")
@pytest.mark.cluster
def test_readiness_follows_the_api_server_and_liveness_does_not(
    request: pytest.FixtureRequest, system: ReplicationSystem
) -> None:
    profile = system.readiness
    if profile is None:
        pytest.skip(f"n/a for {system.name}: {system.no_readiness}")
    plane: LocalControlPlane = request.getfixturevalue("private_control_plane")
    operators: PrivateOperators = request.getfixturevalue("private_operators")  # stopped before the plane
    cluster = plane.cluster()
    deployment = operators.deploy(
        system, cluster, plane.run_dir / "readiness", label="readiness", extra_args=list(profile.args)
    )
    try:
        replica = deployment.replicas[0]
        probes = Probes(replica, profile)
        probes.ready_and_alive()  # deploy waited for readiness; its liveness answers too

        # (a) a process that starts while the API server is down cannot list: alive, not ready
        with api_server_down(plane):
            killed = replica.kill()  # its supervisor starts it again at once, as a kubelet would

            def restarted_and_alive() -> int | None:
                pid = replica.child_pid()
                assert pid not in (None, killed), f"the controller process is still {pid or 'gone'}"
                live, ready = probes.read()
                assert live == 200, f"the restarted process (pid {pid}): {probes.shown(live, ready)}"
                return ready

            ready = eventually(
                restarted_and_alive,
                timeout=RESTART_TIMEOUT,
                description=f"{replica.name} restarted and answering {profile.liveness_path}",
            )
            assert ready not in (None, 200), (
                f"{system.name} started while the API server was down answers "
                f"{profile.readiness_path} {ready}: ready before its first lists could complete"
            )
        eventually(
            probes.ready_and_alive,
            timeout=READY_TIMEOUT,
            description=f"{replica.name} ready once the API server serves again",
        )

        # (b) a ready process whose watches stay down past the threshold: not ready, still alive
        with api_server_down(plane) as stopped:

            def not_ready_while_alive() -> None:
                live, ready = probes.read()
                if live != 200:
                    probes.lapses.append(f"{time.monotonic() - stopped:.1f}s: {probes.shown(live, ready)}")
                assert ready not in (None, 200), (
                    f"{probes.shown(live, ready)} {time.monotonic() - stopped:.1f}s after the API server "
                    f"stopped (threshold {profile.threshold:g}s)"
                )

            eventually(
                not_ready_while_alive,
                timeout=profile.threshold + DOWN_SLACK,
                interval=0.2,
                description=f"{replica.name} not ready while its watches are down",
            )
            assert not probes.lapses, (
                f"{profile.liveness_path} failed while only the API server was away (a restart would "
                f"not help): {probes.lapses}"
            )
        eventually(
            probes.ready_and_alive,
            timeout=READY_TIMEOUT,
            description=f"{replica.name} ready again once the API server serves",
        )
    finally:
        system.undeploy(deployment)  # ConfigMirror's PostgreSQL too, not only the operator
        cluster.close()
