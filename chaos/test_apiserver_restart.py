"""Experiment 3 (K2): kube-apiserver restarts; replication resumes without an operator restart."""

from __future__ import annotations

import pytest

from chaos.conftest import EnvFactory, variant_params
from chaos.faults import variants
from chaos.journal import run_chaos_experiment
from chaos.workload import Workload
from fixtures.systems.dialects.reflector import ReflectorDialectSystem

pytestmark = [pytest.mark.chaos]


@pytest.mark.parametrize("chaos_provider", variant_params("restart-apiserver"), indirect=True)
def test_apiserver_restart(
    implementation_under_test: ReflectorDialectSystem, chaos_env: EnvFactory, chaos_provider: str
) -> None:
    ctx = chaos_env()
    ctx.workload = Workload.create(ctx.cluster, ctx.system, sources=2, targets=10, hint="k2")
    result = run_chaos_experiment(
        ctx,
        "apiserver-restart",
        journal_name=variants.journal_name("apiserver-restart", chaos_provider),
    )
    result.conclude()
