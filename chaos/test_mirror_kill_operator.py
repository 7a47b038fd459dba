"""ConfigMirror M2: the operator killed right after a change; its restart converges."""

from __future__ import annotations

import allure
import pytest

from chaos.conftest import EnvFactory
from chaos.journal import run_chaos_experiment
from fixtures.systems.configmirror import SYSTEM

# The whole test is ~30 s wall on 2 busy cores (mostly its private control plane): `slow`; the fast
# ConfigMirror experiment in `make test` is mirror-postgres-kill.
pytestmark = [pytest.mark.chaos, pytest.mark.slow, allure.label("system", SYSTEM)]


def test_mirror_operator_killed_converges(mirror_chaos_env: EnvFactory) -> None:
    ctx = mirror_chaos_env(sources=3, targets=3, hint="m2")
    result = run_chaos_experiment(ctx, "mirror-kill-operator")
    result.conclude()
    assert set(result.recovery) >= {"operator_ready", "recovery"}
