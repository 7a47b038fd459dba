"""Experiment 1 (K1): the operator is killed mid-fan-out; the replay converges."""

from __future__ import annotations

import pytest

from chaos.conftest import EnvFactory, variant_params
from chaos.faults import variants
from chaos.journal import run_chaos_experiment
from chaos.workload import Workload
from fixtures.systems import ReplicationSystem

# every selected system; its flags come from its profile (the bundled operator: one write at a time,
# so the kill lands in the middle of the fan-out)
pytestmark = [pytest.mark.chaos, pytest.mark.neutral_chaos("kill-operator")]


@pytest.mark.parametrize("chaos_provider", variant_params("kill-operator"), indirect=True)
def test_kill_operator_mid_fanout(
    system: ReplicationSystem, chaos_env: EnvFactory, chaos_provider: str
) -> None:
    ctx = chaos_env()
    ctx.workload = Workload.create(ctx.cluster, system, sources=2, targets=30, hint="k1")
    result = run_chaos_experiment(
        ctx,
        "kill-operator",
        journal_name=variants.journal_name("kill-operator", chaos_provider),
    )
    result.conclude()
