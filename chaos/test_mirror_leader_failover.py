"""ConfigMirror M4: two replicas with leader election; leader killed, then frozen until takeover."""

from __future__ import annotations

import allure
import pytest

from chaos.conftest import EnvFactory
from chaos.journal import run_chaos_experiment
from fixtures.systems.configmirror import SYSTEM

# The takeover waits out the Lease (15 s by default): well over 30 s with its private control plane.
pytestmark = [pytest.mark.chaos, pytest.mark.slow, allure.label("system", SYSTEM)]


def test_mirror_leader_killed_then_frozen_other_takes_over(mirror_chaos_env: EnvFactory) -> None:
    ctx = mirror_chaos_env(replicas=2, sources=3, targets=3, hint="m4")
    result = run_chaos_experiment(ctx, "mirror-leader-failover")
    result.conclude()
    assert {"after_kill", "takeover", "recovery"} <= set(result.recovery)
