"""The neutral scenarios' fixture: a :class:`NeutralScenario` on the shared cluster, for the system
under test (``system``: once per selected system), deployed once per session."""

from __future__ import annotations

import pytest

from fixtures.clusters.cluster import Cluster, NamespaceFactory
from fixtures.clusters.workloads import Deployment
from fixtures.systems import ReplicationSystem
from fixtures.systems.driver import Driver
from suites.neutral.scenario import NeutralScenario, kind_for
from suites.support import KNOWN_DEVIATION_SLO, SLO


@pytest.fixture
def neutral(
    request: pytest.FixtureRequest,
    system: ReplicationSystem,
    system_deployment: Deployment,
    cluster: Cluster,
    namespaces: NamespaceFactory,
) -> NeutralScenario:
    """A scenario of the first kind (Secret, else ConfigMap) the system replicates; known
    deviations get the shorter deadline (they fail anyway)."""
    slo = KNOWN_DEVIATION_SLO if request.node.get_closest_marker("xfail") else SLO
    return NeutralScenario(Driver(system, cluster), namespaces, kind_for(system), slo=slo)
