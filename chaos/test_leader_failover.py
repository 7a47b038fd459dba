"""Experiment 5 (K5): two replicas with leader election; the leader is killed and frozen under load."""

from __future__ import annotations

import pytest

from chaos.conftest import EnvFactory, variant_params
from chaos.faults import variants
from chaos.journal import run_chaos_experiment
from chaos.workload import Workload
from fixtures.systems import ReplicationSystem

# every selected system whose profile runs two replicas (leader election); n/a with its reason for
# the others. The flags come from the profile (the bundled operator: a takeover in seconds).
pytestmark = [pytest.mark.chaos, pytest.mark.slow, pytest.mark.neutral_chaos("leader-failover", replicas=2)]


@pytest.mark.parametrize(
    "chaos_provider", variant_params("kill-leader", "freeze-leader", "thaw-leader"), indirect=True
)
def test_leader_failover(system: ReplicationSystem, chaos_env: EnvFactory, chaos_provider: str) -> None:
    ctx = chaos_env()
    ctx.workload = Workload.create(ctx.cluster, system, sources=2, targets=10, hint="k5")
    result = run_chaos_experiment(
        ctx,
        "leader-failover",
        journal_name=variants.journal_name("leader-failover", chaos_provider),
    )
    result.conclude()
