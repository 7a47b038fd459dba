"""The seed's runbooks against misconfigurations no chaos experiment injects (own private cluster).

* "Replication Failure" for a source without ``reflection-auto-enabled``: the seed's own data model
  omits that annotation, and no step checks it, so the runbook cannot diagnose the most common
  Reflector misconfiguration (reflector-semantics.md C1).
* "Missing Secret" while the operator is not running: step 2 finds it; the runbook's remedy (step 4,
  a hand-made Secret) restores the namespace only until the next rotation, and even after the
  operator is back the hand-made Secret is an unrelated object it will never update (H2).
"""

from __future__ import annotations

import json
from pathlib import Path

import allure
import pytest

from chaos.conftest import EnvFactory
from chaos.context import LocalOperator
from chaos.runbooks.base import Subject
from chaos.runbooks.engine import apply_remedy, diagnose, service_state
from chaos.workload import Workload
from fixtures.core.record import record
from fixtures.core.waiting import report_within
from fixtures.plugins.private import PrivateOperators
from fixtures.systems.dialects.reflector import replicate_to

pytestmark = [pytest.mark.chaos, pytest.mark.slow]


def _record(result: dict, experiment: str) -> None:
    record(
        "runbook",
        experiment=experiment,
        **{
            k: result.get(k)
            for k in ("runbook", "fault", "identifying_step", "remedy_restores", "finding", "cause", "steps")
        },
    )
    allure.attach(
        json.dumps(result, indent=2, default=str),
        name=f"runbook: {result['runbook']} for {result['fault']}",
        attachment_type=allure.attachment_type.JSON,
    )


def test_runbooks_on_misconfigurations(
    chaos_env: EnvFactory, implementation_under_test, private_operators: PrivateOperators
) -> None:
    ctx = chaos_env()
    ctx.mark("fault_at")  # before the workload: its replication is logged after the mark, so the
    # runbooks' log searches have lines to read (a search of no lines is cannot-check, not ok)
    wl = ctx.workload = Workload.create(
        ctx.cluster, ctx.system, sources=1, targets=2, hint="rb", bystander=False
    )
    converged, _, last = report_within(wl.consistency, timeout=30)
    assert converged, f"the workload never replicated: {last}"

    # --- Replication Failure: reflection-auto-enabled missing (allowed only: no auto copies) ---------
    wl.create_source("no-auto", [], annotations=replicate_to([wl.targets[0]], auto=False))
    subject = Subject(wl.source_ns, "no-auto", wl.targets[0])
    result = diagnose(ctx, "Replication Failure", "reflection-auto-enabled missing", "auto-disabled", subject)
    apply_remedy(ctx, result, subject, slo_s=3)
    _record(result, "runbooks-misconfiguration")
    assert result["identifying_step"] is None, "the seed's runbook has no step that could see this"
    assert "reflection-auto-enabled" in result["finding"]
    assert [s["status"] for s in result["steps"]] == ["ok"] * 5, result["steps"]

    # --- Missing Secret: the operator is not running ---------------------------------------------------
    assert isinstance(ctx.operator, LocalOperator)
    first = ctx.operator.deployment
    first.stop()
    late = ctx.cluster.create_namespace("rb-late")
    wl.create_source("late", [late])
    subject = Subject(wl.source_ns, "late", late)
    result = diagnose(ctx, "Missing Secret", "operator not running", "operator-down", subject)
    apply_remedy(ctx, result, subject, slo_s=5)
    assert result["identifying_step"] == 2, result["steps"]
    assert result["remedy"].startswith("manually create the secret"), result["remedy"]
    assert result["service_after"]["ok"] is True, (
        "the hand-made Secret serves the current credential at first"
    )
    assert result["remedy_restores"] is False, "...but a rotation does not reach it"

    # The operator comes back: the hand-made Secret is not a reflection, so it is never updated (H2)
    # and the conflict is reported on the source instead.
    second = private_operators.deploy(
        implementation_under_test, ctx.cluster, Path(ctx.run_dir) / "again", label="chaos: operator back"
    )
    try:
        ctx.operator = LocalOperator(second)
        wl.update_sources(["late"])

        def conflict_reported() -> dict:
            events = ctx.cluster.core.list_namespaced_event(wl.source_ns).items
            hit = [e for e in events if e.reason == "ReflectionConflict" and e.involved_object.name == "late"]
            return {"ok": bool(hit)}

        reported, _, _ = report_within(conflict_reported, timeout=30)
        state = service_state(ctx, subject)
        result["after_operator_restart"] = {"conflict_event": reported, **state}
        result["finding"] = "; ".join(
            x
            for x in (
                result["finding"],
                (
                    "after the operator is back the hand-made Secret is still stale: it is not a reflection, "
                    "so the operator reports a ReflectionConflict and never updates it (adopt it with the "
                    "reflects annotation or delete it; the runbook says neither)"
                )
                if not state["ok"]
                else None,
            )
            if x
        )
        _record(result, "runbooks-misconfiguration")
        assert reported, "the operator reports the conflict on the source"
        assert not state["ok"], state
        assert not state["managed"], state
    finally:
        private_operators.stop(second)
