"""Two replicas on two real nodes; the leader's node is lost (frozen whole), the replica on the other
node takes over within the Lease duration, the lost leader never writes after the takeover, and when
the node comes back nothing is duplicated. The local nodes only (a kind cluster here has one node)."""

from __future__ import annotations

import pytest

from chaos.conftest import EnvFactory, variant_params
from chaos.faults import variants
from chaos.journal import run_chaos_experiment
from chaos.workload import Workload
from fixtures.systems import ReplicationSystem

pytestmark = [pytest.mark.chaos, pytest.mark.slow, pytest.mark.neutral_chaos("node-loss", replicas=2)]


@pytest.mark.parametrize("chaos_provider", variant_params("freeze-node", "thaw-node"), indirect=True)
def test_leaders_node_lost(system: ReplicationSystem, chaos_env: EnvFactory, chaos_provider: str) -> None:
    # the Lease timing its profile gives this experiment (the bundled operator: a takeover in
    # seconds rather than the default 15 s)
    ctx = chaos_env()
    ctx.workload = Workload.create(ctx.cluster, system, sources=2, targets=10, hint="nl")
    result = run_chaos_experiment(
        ctx, "node-loss", journal_name=variants.journal_name("node-loss", chaos_provider)
    )
    result.conclude()
