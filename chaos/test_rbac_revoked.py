"""Experiment 2 (K3, H5): RBAC revoked while sources change; loud errors, no hot loop, recovery."""

from __future__ import annotations

import pytest

from chaos.conftest import EnvFactory
from chaos.journal import run_chaos_experiment
from chaos.workload import Workload

pytestmark = [pytest.mark.chaos, pytest.mark.slow]

# Short server-side watch timeouts make the watches re-open (and meet the 403) inside the window,
# and a short readiness threshold lets /readyz report a watch that stays down; both are flags the
# operator documents. Everything else is its default configuration.
EXTRA_ARGS = ["--watch-timeout-seconds=10", "--ready-down-threshold-seconds=5"]


def test_rbac_revoked(chaos_env: EnvFactory) -> None:
    ctx = chaos_env(extra_args=EXTRA_ARGS)
    ctx.workload = Workload.create(
        ctx.cluster, ctx.system, sources=2, targets=8, hint="k3", docker_source=True
    )
    result = run_chaos_experiment(ctx, "rbac-revoked")
    assert result.passed, result.failure_report()
