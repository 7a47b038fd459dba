"""The operator's main process hangs (SIGSTOP through its node's containerd): the kubelet's liveness
probe must restart the container, and the operator must catch up. Pods only: kind and the local
nodes."""

from __future__ import annotations

import pytest

from chaos.conftest import EnvFactory, variant_params
from chaos.faults import variants
from chaos.journal import run_chaos_experiment
from chaos.workload import Workload
from fixtures.systems import ReplicationSystem

pytestmark = [pytest.mark.chaos, pytest.mark.slow, pytest.mark.neutral_chaos("liveness-failure")]


@pytest.mark.parametrize("chaos_provider", variant_params("hang-container"), indirect=True)
def test_hung_operator_restarted_by_its_liveness_probe(
    system: ReplicationSystem, chaos_env: EnvFactory, chaos_provider: str
) -> None:
    ctx = chaos_env()
    ctx.workload = Workload.create(ctx.cluster, system, sources=2, targets=10, hint="lv")
    result = run_chaos_experiment(
        ctx, "liveness-failure", journal_name=variants.journal_name("liveness-failure", chaos_provider)
    )
    result.conclude()
