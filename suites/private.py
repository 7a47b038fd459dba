"""Scenarios that need the implementation alone on a dedicated control plane: restarts, watch
reconnects with a short watch timeout, configuration such as excluded namespaces."""

from __future__ import annotations

import time
from dataclasses import dataclass

from fixtures.clusters.cluster import Cluster, NamespaceFactory
from fixtures.clusters.workloads import Deployment
from fixtures.core.waiting import eventually
from fixtures.systems.dialects.reflector import ReflectorDialectSystem
from suites.support import Scenario

#: --watch-timeout-seconds for scenarios about watch reconnects (Reflector: watcher.timeout)
SHORT_WATCH_TIMEOUT = 2


@dataclass
class PrivateOperator:
    """The implementation alone on a dedicated control plane."""

    cluster: Cluster
    deployment: Deployment
    namespaces: NamespaceFactory
    impl: ReflectorDialectSystem
    slo: float

    def scenario(self) -> Scenario:
        return Scenario(self.cluster, self.namespaces, self.impl, slo=self.slo)

    def restart(self) -> None:
        """Kill the controller process (SIGKILL, like a crashed pod) and wait for its replacement."""
        replica = self.deployment.replicas[0]
        old = replica.kill()

        def replaced() -> None:
            pid = replica.child_pid()
            assert pid, "no controller process yet"
            assert pid != old, f"controller process still {pid}"

        eventually(replaced, timeout=30, description="the supervisor to restart the controller")
        self.deployment.wait_ready()

    def watch_sessions(self, resource: str) -> int | None:
        return self.impl.watch_sessions(self.deployment, resource)


def idle_until_watch_restarts(op: PrivateOperator, resource: str, count: int, timeout_seconds: int) -> None:
    """Act "stay idle": until `count` watch sessions on `resource` have ended by timeout.

    With the bundled operator this is observed on /metrics. For an implementation without that signal
    the idle period itself is the scenario, so it sleeps for `count` watch timeouts plus slack.
    """
    start = op.watch_sessions(resource)
    if start is None:
        time.sleep(count * timeout_seconds + 2)  # the idle period under test, not a wait for a condition
        return

    def restarted() -> None:
        now = op.watch_sessions(resource) or 0
        assert now - start >= count, f"{now - start} of {count} {resource} watch sessions ended so far"

    eventually(
        restarted,
        timeout=count * timeout_seconds + 30,
        interval=0.5,
        description=f"{resource} watch restarts",
    )
