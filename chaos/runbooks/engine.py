"""Running a runbook: carry out every step with the setup's checks (the chaos cluster's or the OCI
stack's), record which one identifies the injected cause, then apply the remedy the runbook prescribes
and check that it restores service durably. One runner, so every setup reports its steps alike."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from chaos.context import ChaosContext
from chaos.runbooks.base import (
    ALERT,
    CANNOT_CHECK,
    NOT_APPLICABLE,
    PROBLEM,
    Outcome,
    Subject,
    read_secret,
)
from chaos.runbooks.catalogue import MISSING_CHECK, RUNBOOKS, Step
from chaos.runbooks.checks import CHECKS
from chaos.runbooks.remedies import REMEDIES
from fixtures.core.redact import secret_view
from fixtures.core.waiting import report_within
from fixtures.systems.dialects.reflector import AUTO_REFLECTS, REFLECTS


def carry_out(title: str, check: Callable[[Step], Outcome]) -> list[dict[str, Any]]:
    """Every step of the runbook ``title`` in order, each carried out by ``check`` (the setup's check
    of that step); a check that raises could not be carried out (``cannot-check``), it does not stop
    the others."""
    steps = []
    for step in RUNBOOKS[title].steps:
        t0 = time.monotonic()
        try:
            outcome = check(step)
        except Exception as exc:  # a check that cannot run is a finding too, not a crash of the run
            outcome = Outcome(CANNOT_CHECK, f"check failed: {type(exc).__name__}: {str(exc)[:160]}")
        steps.append(
            {
                "step": step.number,
                "text": step.text,
                "kind": step.kind,
                "status": outcome.status,
                "causes": outcome.causes,
                "evidence": outcome.evidence,
                "seconds": round(time.monotonic() - t0, 3),
            }
        )
    return steps


def identifying(steps: list[dict[str, Any]], cause: str) -> dict[str, Any] | None:
    """The first step whose problem (or alert) points at ``cause``."""
    return next((s for s in steps if s["status"] in (PROBLEM, ALERT) and cause in s["causes"]), None)


def diagnose(ctx: ChaosContext, title: str, fault: str, cause: str, subject: Subject) -> dict[str, Any]:
    """Carry out every diagnostic step; which one identifies ``cause``? (remedies are not run here)."""
    # Is the fault visible where the runbook looks (the subject lacks the current data)? The runbook
    # is run either way; a non-identification of an invisible fault is reported as such.
    try:
        manifest = title == "Pod Not Running" or not service_state(ctx, subject)["ok"]
    except Exception:
        manifest = True
    steps = carry_out(title, lambda step: CHECKS[step.check](ctx, subject))
    found = identifying(steps, cause)
    misleading = {
        s["step"]: [c for c in s["causes"] if c != cause]
        for s in steps
        if s["status"] == PROBLEM and any(c != cause for c in s["causes"])
    }
    findings = []
    if found is None:
        unjudged = [s["step"] for s in steps if s["status"] == CANNOT_CHECK]
        findings.append(
            f"'{title}' cannot diagnose {fault}: {MISSING_CHECK.get(cause, 'no step points at ' + cause)}"
            + (f"; steps {unjudged} could not be judged" if unjudged else "")
            + ("" if manifest else " (the fault was not visible at the subject when the runbook ran)")
        )
    # a step naming what this deployment does not have: where it is carried out instead (its evidence)
    for s in steps:
        if s["status"] == NOT_APPLICABLE:
            findings.append(f"step {s['step']} does not apply to this deployment: {s['evidence']}")
    for number, others in misleading.items():
        findings.append(f"step {number} also points at {', '.join(others)} (misleading for this fault)")
    result = {
        "runbook": title,
        "fault": fault,
        "cause": cause,
        "subject": {"source": f"{subject.source_ns}/{subject.source}", "target_namespace": subject.target_ns},
        "manifest": manifest,
        "identifying_step": found["step"] if found else None,
        "identifying_text": found["text"] if found else None,
        "steps": steps,
        "remedy": None,
        "remedy_restores": False,
        "self_healed": None,
        "finding": "; ".join(findings) or None,
    }
    ctx.runbooks.append(result)
    return result


def chosen_remedy(title: str, identifying_step: int | None) -> tuple[str, str] | None:
    """The remedy the runbook prescribes: the identifying check's implied fix, else its remedy step."""
    rb = RUNBOOKS[title]
    if identifying_step is not None:
        step = rb.steps[identifying_step - 1]
        if step.remedy and step.kind != "remedy":
            return step.remedy, f"implied by step {step.number} ({step.text})"
    explicit = rb.remedy_step()
    if explicit and explicit.remedy:
        return explicit.remedy, f"step {explicit.number} as written ({explicit.text})"
    return None


def service_state(ctx: ChaosContext, subject: Subject) -> dict[str, Any]:
    """Does the target hold the source's current data, and is it a managed copy?"""
    source = read_secret(ctx, subject.source, subject.source_ns)
    copy = read_secret(ctx, subject.source, subject.target_ns)
    managed = (
        bool(copy)
        and (copy.metadata.annotations or {}).get(REFLECTS) == f"{subject.source_ns}/{subject.source}"
    )
    auto = bool(copy) and (copy.metadata.annotations or {}).get(AUTO_REFLECTS) == "True"
    current = bool(source and copy and secret_view(copy) == secret_view(source))
    return {"ok": current, "present": copy is not None, "managed": managed, "auto": auto}


def _wait_service(ctx: ChaosContext, subject: Subject, timeout_s: float) -> tuple[bool, dict[str, Any]]:
    ok, _, last = report_within(lambda: service_state(ctx, subject), timeout=timeout_s, interval=0.3)
    return ok, last


def apply_remedy(ctx: ChaosContext, result: dict[str, Any], subject: Subject, slo_s: float) -> dict[str, Any]:
    """Apply the prescribed remedy; it restores service if the target gets the current credential
    and still follows one further rotation within the SLO."""
    choice = chosen_remedy(result["runbook"], result["identifying_step"])
    if choice is None:
        ok, state = _wait_service(ctx, subject, slo_s)
        result.update(
            remedy="none prescribed (alert only)", remedy_restores=False, self_healed=ok, service_after=state
        )
        note = (
            "service came back on its own (restart policy / retries), not through the runbook"
            if ok
            else "service not restored and the runbook offers no remedy"
        )
        result["finding"] = "; ".join(x for x in (result["finding"], note) if x)
        return result
    key, why = choice
    label, fn = REMEDIES[key]
    done = fn(ctx, subject)
    restored, state = _wait_service(ctx, subject, slo_s)
    durable, later = False, {}
    if restored:
        assert ctx.workload is not None
        ctx.workload.update_sources([subject.source])
        durable, later = _wait_service(ctx, subject, slo_s)
    result.update(
        remedy=f"{label}: {why}; {done}",
        remedy_restores=restored and durable,
        service_after=state,
        service_after_rotation=later,
    )
    if restored and not durable:
        extra = (
            f"the remedy ({label}) restores service only until the next rotation: the target no longer "
            "follows the source"
            + (
                " (a hand-made Secret is not a reflection, so the operator never "
                "updates it; the runbook never says to adopt or remove it)"
                if not later.get("managed")
                else ""
            )
        )
        result["finding"] = "; ".join(x for x in (result["finding"], extra) if x)
    elif not restored:
        extra = f"the remedy ({label}) does not restore service: {state}"
        result["finding"] = "; ".join(x for x in (result["finding"], extra) if x)
    return result
