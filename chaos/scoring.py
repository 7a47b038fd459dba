"""Judging a chaostoolkit journal: what failed, the probe tally, and the Litmus resilience score.

Why a detailed check: chaoslib reports ``status: completed`` when a steady-state probe missed its
tolerance *before* the method (the method is then skipped) and when an action raised (only that run
entry is ``failed``; chaostoolkit-lib#95). :func:`journal_problems` therefore looks at every piece.

Scoring follows Litmus: a fault's *probe success percentage* is passed probes / probes, and the
resilience of a set of faults is ``sum(weight * probe success %) / sum(weight)`` with a weight of
1-10 per fault. Every declared probe counts, steady-state probes once before and once after the
method; a probe that never ran (skipped method, aborted run) counts as failed. A probe whose output
says ``skipped`` (the check does not exist on this provider, e.g. no audit log on kind) is left out.

Pure (no cluster, no chaos runtime): the report builder imports it, and :func:`ok_is_true` is also
the steady-state tolerance the experiment documents name (``module: chaos.scoring``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


def ok_is_true(value: Any = None) -> bool:
    """Tolerance: the probe's output says ok (or that the check does not apply on this provider)."""
    return isinstance(value, dict) and (value.get("ok") is True or value.get("skipped") is True)


@dataclass
class ProbeOutcome:
    name: str
    phase: str  # before | method | after
    passed: bool
    skipped: bool = False
    detail: str = ""


@dataclass
class Score:
    experiment: str
    weight: int
    probes_total: int
    probes_passed: int
    probes_skipped: int
    resilience: float  # Litmus probe success percentage, 0-100
    passed: bool
    problems: list[str] = field(default_factory=list)
    outcomes: list[ProbeOutcome] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _last_line(run: dict[str, Any]) -> str:
    exc = run.get("exception") or []
    text = "".join(exc) if isinstance(exc, list) else str(exc)
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    return lines[-1][:300] if lines else ""


def _output_excerpt(run: dict[str, Any]) -> str:
    out = run.get("output")
    if isinstance(out, dict):
        keep = {
            k: v
            for k, v in out.items()
            if k
            in (
                "ok",
                "problems",
                "examples",
                "why",
                "count",
                "writes",
                "budget",
                "requests",
                "thirds",
                "unexpected",
                "healthz",
                "leaders",
                "holder",
                "lease_transitions",
                "acquired",
                "readyz",
                "written",
                "total",
                "waited_s",
                "pids",
                "restarts",
                "pattern",
                "deletes",
                "conflicts_409",
            )
        }
        return str(keep)[:400]
    return str(out)[:200]


def journal_problems(journal: dict[str, Any]) -> list[str]:
    """Everything that went wrong in a run, one line each (empty = the experiment passed)."""
    problems: list[str] = []
    if journal.get("status") != "completed":
        problems.append(f"status is {journal.get('status')!r}, not 'completed'")
    if journal.get("deviated"):
        problems.append("deviated: the steady state did not hold after the method")
    has_hypothesis = bool((journal.get("experiment") or {}).get("steady-state-hypothesis", {}).get("probes"))
    states = journal.get("steady_states") or {}
    for phase in ("before", "after"):
        state = states.get(phase)
        if state is None:
            if has_hypothesis:
                problems.append(f"steady state {phase} the method was never checked")
            continue
        if state.get("steady_state_met") is not True:
            missed = [p["activity"]["name"] for p in state.get("probes", []) if not p.get("tolerance_met")]
            problems.append(f"steady state {phase} the method not met (probes out of tolerance: {missed})")
        for probe in state.get("probes", []):
            if probe.get("status") != "succeeded":
                problems.append(
                    f"steady-state probe {probe['activity']['name']} ({phase}) {probe.get('status')}: "
                    f"{_last_line(probe)}"
                )
            elif not probe.get("tolerance_met"):
                problems.append(
                    f"steady-state probe {probe['activity']['name']} ({phase}) out of tolerance: "
                    f"{_output_excerpt(probe)}"
                )
    for run in journal.get("run") or []:
        act = run.get("activity") or {}
        if run.get("status") != "succeeded":
            problems.append(f"{act.get('type')} {act.get('name')} {run.get('status')}: {_last_line(run)}")
        elif act.get("type") == "probe" and not ok_is_true(run.get("output")):
            problems.append(f"probe {act.get('name')} not ok: {_output_excerpt(run)}")
    for run in journal.get("rollbacks") or []:
        act = run.get("activity") or {}
        if run.get("status") != "succeeded":
            problems.append(f"rollback {act.get('name')} {run.get('status')}: {_last_line(run)}")
    return problems


def probe_outcomes(journal: dict[str, Any]) -> list[ProbeOutcome]:
    """Every declared probe, with whether it passed (a probe that never ran did not pass)."""
    experiment = journal.get("experiment") or {}
    hypothesis = [p["name"] for p in (experiment.get("steady-state-hypothesis") or {}).get("probes", [])]
    states = journal.get("steady_states") or {}
    out: list[ProbeOutcome] = []
    for phase in ("before", "after"):
        ran = (states.get(phase) or {}).get("probes", [])
        for i, name in enumerate(hypothesis):
            run = ran[i] if i < len(ran) else None
            if run is None:
                out.append(ProbeOutcome(name, phase, False, detail="not run"))
                continue
            output = run.get("output")
            skipped = isinstance(output, dict) and output.get("skipped") is True
            out.append(
                ProbeOutcome(
                    name, phase, bool(run.get("tolerance_met")) and run.get("status") == "succeeded", skipped
                )
            )
    method = experiment.get("method") or []
    runs = journal.get("run") or []
    for i, activity in enumerate(method):
        if activity.get("type") != "probe":
            continue
        run = runs[i] if i < len(runs) else None
        if run is None or (run.get("activity") or {}).get("name") != activity.get("name"):
            out.append(ProbeOutcome(activity["name"], "method", False, detail="not run"))
            continue
        output = run.get("output")
        skipped = isinstance(output, dict) and output.get("skipped") is True
        passed = run.get("status") == "succeeded" and ok_is_true(output)
        out.append(
            ProbeOutcome(
                activity["name"],
                "method",
                passed,
                skipped,
                "" if passed else (_last_line(run) or _output_excerpt(run)),
            )
        )
    return out


def score(journal: dict[str, Any], experiment: str, weight: int = 5) -> Score:
    outcomes = probe_outcomes(journal)
    counted = [o for o in outcomes if not o.skipped]
    passed = sum(1 for o in counted if o.passed)
    resilience = round(100.0 * passed / len(counted), 1) if counted else 0.0
    problems = journal_problems(journal)
    return Score(
        experiment=experiment,
        weight=weight,
        probes_total=len(counted),
        probes_passed=passed,
        probes_skipped=len(outcomes) - len(counted),
        resilience=resilience,
        passed=not problems,
        problems=problems,
        outcomes=outcomes,
    )


def overall_resilience(scores: list[dict[str, Any]]) -> float | None:
    """Litmus: sum(weight * probe success %) / sum(weight) over the experiments (records or Scores)."""
    weights = sum(int(s.get("weight", 1)) for s in scores)
    if not weights:
        return None
    return round(sum(int(s.get("weight", 1)) * float(s["resilience"]) for s in scores) / weights, 1)
