"""Experiment 4 (K4, H1): poison sources, including a catastrophically backtracking pattern."""

from __future__ import annotations

import pytest

from chaos.conftest import EnvFactory
from chaos.journal import run_chaos_experiment
from chaos.workload import Workload

pytestmark = [pytest.mark.chaos, pytest.mark.slow]


def test_poison_source(chaos_env: EnvFactory) -> None:
    ctx = chaos_env()
    ctx.workload = Workload.create(ctx.cluster, ctx.system, sources=2, targets=6, hint="k4")
    result = run_chaos_experiment(ctx, "poison-source")
    assert result.passed, result.failure_report()
