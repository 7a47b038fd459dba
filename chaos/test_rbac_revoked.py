"""Experiment 2 (K3, H5): RBAC revoked while sources change; loud errors, no hot loop, recovery."""

from __future__ import annotations

import pytest

from chaos.conftest import EnvFactory
from chaos.journal import run_chaos_experiment
from chaos.workload import Workload
from fixtures.systems import ReplicationSystem

# every selected system; its RBAC names and flags come from its profile (the bundled operator: short
# watch timeouts and readiness threshold, so the 403 is met and reported inside the window)
pytestmark = [pytest.mark.chaos, pytest.mark.slow, pytest.mark.neutral_chaos("rbac-revoked")]


def test_rbac_revoked(system: ReplicationSystem, chaos_env: EnvFactory) -> None:
    ctx = chaos_env()
    ctx.workload = Workload.create(ctx.cluster, system, sources=2, targets=8, hint="k3", docker_source=True)
    result = run_chaos_experiment(ctx, "rbac-revoked")
    result.conclude()
