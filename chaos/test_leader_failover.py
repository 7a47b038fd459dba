"""Experiment 5 (K5): two replicas with leader election; the leader is killed and frozen under load."""

from __future__ import annotations

import pytest

from chaos.conftest import EnvFactory
from chaos.faults import variants
from chaos.journal import run_chaos_experiment
from chaos.workload import Workload

pytestmark = [pytest.mark.chaos, pytest.mark.slow]

# The documented flags, shortened so a takeover costs seconds rather than the default 15 s.
EXTRA_ARGS = ["--lease-duration-seconds=6", "--renew-deadline-seconds=4", "--retry-period-seconds=1"]


@pytest.mark.parametrize("chaos_provider", variants.PROVIDERS, indirect=True)
def test_leader_failover(chaos_env: EnvFactory, chaos_provider: str) -> None:
    ctx = chaos_env(replicas=2, extra_args=EXTRA_ARGS)
    ctx.workload = Workload.create(ctx.cluster, ctx.system, sources=2, targets=10, hint="k5")
    result = run_chaos_experiment(
        ctx,
        "leader-failover",
        journal_name=variants.journal_name("leader-failover", chaos_provider),
    )
    assert result.passed, result.failure_report()
