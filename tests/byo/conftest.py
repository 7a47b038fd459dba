"""tests/byo/: the kubernetes-replicator profile checked against the user's own binary.

These tests run a controller this project does not ship: no code of it and no script that builds it
is in the repository, and CI has no binary. So they are collected only when the user names one
(``REPLICHECK_IMPLEMENTATION_COMMAND=/path/to/kubernetes-replicator``, or
``--implementation=kubernetes-replicator --implementation-command=...``); otherwise they are not
collected and the run's summary says so in one line. The profile's pure parts are tested
everywhere (tests/unit/systems/, tests/unit/harness/).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from fixtures.clusters.cluster import Cluster, new_run_id
from fixtures.clusters.local import LocalControlPlane
from fixtures.clusters.workloads import Deployment
from fixtures.core.errors import SetupError
from fixtures.systems.packaging import COMMAND_ENV, COMMAND_OPTION, given_command
from fixtures.systems.profiles.kubernetes_replicator import SYSTEM

NOT_COLLECTED = (
    f"tests/byo not collected: they run your kubernetes-replicator binary; set "
    f"{COMMAND_ENV}=/path/to/kubernetes-replicator (or pass --implementation=kubernetes-replicator "
    f"{COMMAND_OPTION}=/path/to/kubernetes-replicator)"
)


def _command(config: pytest.Config) -> str | None:
    return given_command(config.getoption(COMMAND_OPTION))


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    if collection_path.name.startswith("test_") and _command(config) is None:
        return True
    return None


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    if _command(config) is None:
        terminalreporter.write_line(f"replicheck: {NOT_COLLECTED}")


@pytest.fixture(scope="module")
def replicator(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """A private local cluster with the user's kubernetes-replicator deployed through the profile
    (its own ServiceAccount and RBAC, TokenRequest kubeconfig); both gone afterwards."""
    plane = LocalControlPlane(run_id=new_run_id(), owner_pid=os.getpid())
    deployment: Deployment | None = None
    try:
        plane.start()
        cluster = plane.cluster()
        bound = SYSTEM.with_command(_command(request.config))
        deployment = bound.deploy(cluster, tmp_path_factory.mktemp("kubernetes-replicator"))
    except SetupError as exc:
        plane.stop()
        pytest.fail(str(exc), pytrace=False)
    try:
        yield cluster
    finally:
        if deployment is not None:
            deployment.stop()
        cluster.close()
        plane.stop()
