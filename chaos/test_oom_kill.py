"""The operator OOM-killed under a tight memory limit set through its chart's values, restarted in
place by the kubelet, catching up once the burst of large sources is gone. The local nodes only: the
limit is set with ``helm upgrade`` of the release the nodes variant installs."""

from __future__ import annotations

import pytest

from chaos.conftest import EnvFactory, variant_params
from chaos.faults import variants
from chaos.journal import run_chaos_experiment
from chaos.workload import Workload
from fixtures.systems import ReplicationSystem

pytestmark = [pytest.mark.chaos, pytest.mark.slow, pytest.mark.neutral_chaos("oom-kill")]


@pytest.mark.parametrize("chaos_provider", variant_params("limit-memory"), indirect=True)
def test_oom_killed_under_a_tight_memory_limit(
    system: ReplicationSystem, chaos_env: EnvFactory, chaos_provider: str
) -> None:
    ctx = chaos_env()
    ctx.workload = Workload.create(ctx.cluster, system, sources=2, targets=10, hint="oom")
    result = run_chaos_experiment(
        ctx, "oom-kill", journal_name=variants.journal_name("oom-kill", chaos_provider)
    )
    result.conclude()
