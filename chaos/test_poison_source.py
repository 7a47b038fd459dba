"""Experiment 4 (K4, H1): poison sources, including a catastrophically backtracking pattern."""

from __future__ import annotations

import pytest

from chaos.conftest import EnvFactory
from chaos.journal import run_chaos_experiment
from chaos.workload import Workload
from fixtures.systems import ReplicationSystem

# every selected system: the Reflector dialect's own poison, or the declaration a profile names as
# poison (chaos/faults/poison_source.py)
pytestmark = [pytest.mark.chaos, pytest.mark.slow, pytest.mark.neutral_chaos("poison-source")]


def test_poison_source(system: ReplicationSystem, chaos_env: EnvFactory) -> None:
    ctx = chaos_env()
    ctx.workload = Workload.create(ctx.cluster, system, sources=2, targets=6, hint="k4")
    result = run_chaos_experiment(ctx, "poison-source")
    result.conclude()
