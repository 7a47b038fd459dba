"""Experiment 1 (K1): the operator is killed mid-fan-out; the replay converges."""

from __future__ import annotations

import pytest

from chaos.conftest import EnvFactory
from chaos.faults import variants
from chaos.journal import run_chaos_experiment
from chaos.workload import Workload

pytestmark = [pytest.mark.chaos]

# One write at a time makes the fan-out last long enough (tens of writes, ~ms each) for the kill to
# land in the middle of it; everything else is the operator's default configuration.
EXTRA_ARGS = ["--write-concurrency=1"]


@pytest.mark.parametrize("chaos_provider", variants.PROVIDERS, indirect=True)
def test_kill_operator_mid_fanout(chaos_env: EnvFactory, chaos_provider: str) -> None:
    ctx = chaos_env(extra_args=EXTRA_ARGS)
    ctx.workload = Workload.create(ctx.cluster, ctx.system, sources=2, targets=30, hint="k1")
    result = run_chaos_experiment(
        ctx,
        "kill-operator",
        journal_name=variants.journal_name("kill-operator", chaos_provider),
    )
    assert result.passed, result.failure_report()
