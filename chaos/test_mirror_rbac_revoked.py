"""ConfigMirror M3: RBAC revoked while sources change; no crash, nothing deleted, converges after."""

from __future__ import annotations

import allure
import pytest

from chaos.conftest import EnvFactory
from chaos.journal import run_chaos_experiment
from fixtures.systems.configmirror import SYSTEM

# ~30 s wall on 2 busy cores (mostly its private control plane): `slow`, like M2.
pytestmark = [pytest.mark.chaos, pytest.mark.slow, allure.label("system", SYSTEM)]


def test_mirror_rbac_revoked_and_restored(mirror_chaos_env: EnvFactory) -> None:
    ctx = mirror_chaos_env(sources=3, targets=3, hint="m3")
    result = run_chaos_experiment(ctx, "mirror-rbac-revoked")
    result.conclude()
    assert "recovery" in result.recovery
