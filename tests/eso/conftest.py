"""tests/eso/: the External Secrets Operator profile checked against the real ESO this project builds.

Why here and not only in the neutral suites: the profile makes claims the neutral checks do not
spell out (how it runs: its own ServiceAccount, metrics on loopback, no webhook, no connection but
to the API server; why its declaration states the type; what its known failures really do). Each
claim gets a check against ESO v0.16.2 on a private local control plane.

Collected only when a run certifies ESO (``--implementation`` names ``external-secrets``, as
``make conformance`` does by default): building ESO takes minutes the first time, and a run that
does not judge ESO must not pay for it. When not collected, the run's summary says so in one line.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from fixtures.clusters.cluster import Cluster, new_run_id
from fixtures.clusters.local import LocalControlPlane
from fixtures.clusters.workloads import Deployment
from fixtures.core.errors import SetupError
from fixtures.systems.profiles.external_secrets import SYSTEM
from fixtures.systems.registry import parse_selection

NOT_COLLECTED = (
    f"tests/eso not collected: the run does not certify {SYSTEM.name} "
    f"(--implementation={SYSTEM.name}, or make conformance, which certifies it by default)"
)


def _selected(config: pytest.Config) -> bool:
    return SYSTEM.name in parse_selection(config.getoption("--implementation"))


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    if collection_path.name.startswith("test_") and not _selected(config):
        return True
    return None


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    if not _selected(config):
        terminalreporter.write_line(f"replicheck: {NOT_COLLECTED}")


@dataclass
class EsoCluster:
    """A private local cluster and the ESO deployed in it through the profile."""

    cluster: Cluster
    deployment: Deployment


@pytest.fixture(scope="module")
def eso_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EsoCluster]:
    """A private local control plane with ESO deployed through its profile (its binary, CRDs and
    chart RBAC, a supervised process under its own ServiceAccount); both gone afterwards."""
    plane = LocalControlPlane(
        run_id=new_run_id(),
        owner_pid=os.getpid(),
        audited_namespaces=tuple(SYSTEM.service_account_namespaces),
    )
    deployment: Deployment | None = None
    try:
        plane.start()
        cluster = plane.cluster()
        deployment = SYSTEM.deploy(cluster, tmp_path_factory.mktemp("external-secrets"))
    except SetupError as exc:
        plane.stop()
        pytest.fail(str(exc), pytrace=False)
    try:
        yield EsoCluster(cluster, deployment)
    finally:
        SYSTEM.undeploy(deployment)
        cluster.close()
        plane.stop()
