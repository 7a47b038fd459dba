"""Experiment 6 (K6): many listed namespaces created and deleted quickly."""

from __future__ import annotations

import pytest

from chaos.conftest import EnvFactory
from chaos.journal import run_chaos_experiment
from chaos.workload import Workload
from fixtures.systems import LabelSelector, Patterns, ReplicationSystem, Target

pytestmark = [pytest.mark.chaos, pytest.mark.slow, pytest.mark.neutral_chaos("namespace-churn")]
#: on the churned namespaces when the system under test selects namespaces by label, not by name
CHURN_LABEL = "replicheck.io/churn"


def test_namespace_churn(system: ReplicationSystem, chaos_env: EnvFactory) -> None:
    ctx = chaos_env()
    # No same-name bystander here: its conflict Event would be an (expected) Warning on the source.
    ctx.workload = Workload.create(ctx.cluster, system, sources=1, targets=3, hint="k6", bystander=False)
    prefix = f"{ctx.cluster.run_id}-churn"
    target: Target = Patterns([f"^{prefix}-.*"])
    if not system.supports(target):  # a system that targets by label only (ESO): the churned carry one
        target = LabelSelector.of({CHURN_LABEL: prefix})
        ctx.notes["churn_labels"] = {CHURN_LABEL: prefix}
    ctx.workload.create_source("churn-src", [], target=target)
    ctx.notes.update(churn_prefix=prefix, churn_source="churn-src")
    result = run_chaos_experiment(ctx, "namespace-churn")
    result.conclude()
