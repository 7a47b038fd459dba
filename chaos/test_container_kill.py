"""The operator's container SIGKILLed in place mid-fan-out (a crash, not a deletion): the kubelet
restarts it in the same Pod and the replay converges. Pods only: kind and the local nodes."""

from __future__ import annotations

import pytest

from chaos.conftest import EnvFactory, variant_params
from chaos.faults import variants
from chaos.journal import run_chaos_experiment
from chaos.workload import Workload
from fixtures.systems import ReplicationSystem

pytestmark = [pytest.mark.chaos, pytest.mark.slow, pytest.mark.neutral_chaos("container-kill")]


@pytest.mark.parametrize("chaos_provider", variant_params("kill-container"), indirect=True)
def test_container_killed_in_place_mid_fanout(
    system: ReplicationSystem, chaos_env: EnvFactory, chaos_provider: str
) -> None:
    # the flags its profile gives this experiment (the bundled operator: one write at a time, so the
    # kill lands inside the fan-out)
    ctx = chaos_env()
    ctx.workload = Workload.create(ctx.cluster, system, sources=2, targets=30, hint="ck")
    result = run_chaos_experiment(
        ctx, "container-kill", journal_name=variants.journal_name("container-kill", chaos_provider)
    )
    result.conclude()
