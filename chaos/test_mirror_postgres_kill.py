"""ConfigMirror M1: PostgreSQL killed and restarted; replication never stops, the rows catch up."""

from __future__ import annotations

import allure
import pytest

from chaos.conftest import EnvFactory
from chaos.journal import run_chaos_experiment
from fixtures.systems.configmirror import SYSTEM

pytestmark = [pytest.mark.chaos, allure.label("system", SYSTEM)]


def test_mirror_postgres_killed_and_restarted(mirror_chaos_env: EnvFactory) -> None:
    ctx = mirror_chaos_env(sources=3, targets=3, hint="m1")
    result = run_chaos_experiment(ctx, "mirror-postgres-kill")
    result.conclude()
    assert set(result.recovery) >= {"replicated_during_outage", "postgres_ready", "recovery"}
