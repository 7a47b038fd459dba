"""Judging a chaostoolkit journal: what failed, what could not be judged, the probe tally, the verdict
and the Litmus resilience score.

Why a detailed check: chaoslib reports ``status: completed`` when a steady-state probe missed its
tolerance *before* the method (the method is then skipped) and when an action raised (only that run
entry is ``failed``; chaostoolkit-lib#95). :func:`journal_problems` therefore looks at every piece.

A probe's output says one of four things (:func:`probe_state`):

- ``pass`` / ``fail``: ``{"ok": True|False, "evidence": N, ...}``: it judged N things of the system
  (requests, log lines, copies, replicas) and found it right or wrong;
- ``no verdict``: ``{"ok": None, "evidence": 0, "no_evidence": cause}`` (:func:`judged` with
  nothing seen, :func:`no_evidence`): a check that saw nothing proved nothing, never a pass, never a
  failure of the system;
- ``n/a``: ``{"ok": None, "not_applicable": why}`` (:func:`not_applicable`): the check cannot run on
  this provider or does not apply to this system; never counted as passed. (Journals written before
  this said ``{"ok": True, "skipped": True}``; they are read as n/a.)

The experiment's verdict (:func:`verdict_of`): ``fail`` if anything failed with evidence (a probe, an
action, a rollback, the run itself); else ``no verdict`` if any probe had no evidence (or an activity
raised :class:`fixtures.core.errors.NoVerdict`); else ``n/a`` if every probe was n/a; else ``pass``.

Scoring follows Litmus: a fault's *probe success percentage* is passed probes / probes, and the
resilience of a set of faults is ``sum(weight * probe success %) / sum(weight)`` with a weight of
1-10 per fault. Every declared probe counts, steady-state probes once before and once after the
method; a probe that never ran (skipped method, aborted run) counts as failed. n/a and no-verdict
probes are left out of the score (they say nothing about resilience) and listed instead.

Pure (no cluster, no chaos runtime): the report builder imports it, the probes build their outputs
with it, and :func:`not_failed` is the steady-state tolerance the experiment documents name
(``module: chaos.scoring``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

State = Literal["pass", "fail", "no verdict", "n/a"]
Verdict = Literal["pass", "fail", "no verdict", "n/a"]
#: the exception names whose raising means "the harness could not judge", not "the system failed"
NO_VERDICT_ERRORS = ("NoVerdict", "NoEvidence")


def not_applicable(why: str) -> dict[str, Any]:
    """A probe's output when its check cannot run here (provider) or does not apply (system)."""
    return {"ok": None, "not_applicable": why, "why": why}


def no_evidence(cause: str, **detail: Any) -> dict[str, Any]:
    """A probe's output when it saw none of what it judges: no verdict."""
    return {**detail, "ok": None, "evidence": 0, "no_evidence": cause}


def judged(ok: bool, evidence: int, cause: str, **detail: Any) -> dict[str, Any]:
    """A probe's output over ``evidence`` observations of the system (requests, lines, copies):
    ``ok`` when there was something to judge, else no verdict with ``cause`` (what it did not see)."""
    if evidence <= 0:
        return no_evidence(cause, **detail)
    return {**detail, "ok": bool(ok), "evidence": int(evidence)}


def probe_state(output: Any) -> State:
    """What a probe's output says: pass, fail, no verdict (zero evidence) or n/a."""
    if not isinstance(output, dict):
        return "fail"
    if output.get("not_applicable") or output.get("skipped") is True:
        return "n/a"
    if output.get("no_evidence"):
        return "no verdict"
    return "pass" if output.get("ok") is True else "fail"


def not_failed(value: Any = None) -> bool:
    """Steady-state tolerance: the probe showed no fault of the system (it passed, had no evidence, or
    does not apply). chaoslib then carries on, and :func:`verdict_of` judges; a no-verdict probe
    never makes the steady state "met" in the verdict, it makes the experiment no verdict."""
    return probe_state(value) != "fail"


def _why(output: Any) -> str:
    if output is None:
        return ""
    if not isinstance(output, dict):
        return str(output)[:200]
    text = output.get("no_evidence") or output.get("not_applicable") or output.get("why") or ""
    return str(text)[:300]


@dataclass
class ProbeOutcome:
    name: str
    phase: str  # before | method | after
    passed: bool
    skipped: bool = False  # n/a: left out of the score (the name older records use)
    detail: str = ""
    state: str = ""  # pass | fail | no verdict | n/a (derived from passed/skipped when not given)

    def __post_init__(self) -> None:
        if not self.state:
            self.state = "pass" if self.passed else ("n/a" if self.skipped else "fail")

    @property
    def label(self) -> str:
        """The probe's name, with the phase for a steady-state probe (it runs before and after)."""
        return self.name if self.phase == "method" else f"{self.name} ({self.phase})"


@dataclass
class Score:
    experiment: str
    weight: int
    probes_total: int  # probes judged (pass or fail): n/a and no-verdict probes are left out
    probes_passed: int
    probes_skipped: int  # n/a
    resilience: float  # Litmus probe success percentage over the judged probes, 0-100
    passed: bool  # True only when the verdict is "pass"
    problems: list[str] = field(default_factory=list)
    outcomes: list[ProbeOutcome] = field(default_factory=list)
    verdict: Verdict = "pass"
    probes_no_evidence: int = 0
    #: "probe: cause" of every probe that saw nothing of the system (and activities that raised NoVerdict)
    no_evidence: list[str] = field(default_factory=list)
    #: "probe: why" of every probe that does not apply here
    not_applicable: list[str] = field(default_factory=list)

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
                "evidence",
                "no_evidence",
                "not_applicable",
            )
        }
        return str(keep)[:400]
    return str(out)[:200]


def _raised_no_verdict(run: dict[str, Any]) -> bool:
    """The activity raised NoVerdict/NoEvidence: the harness could not judge (not a failure)."""
    if run.get("status") == "succeeded":
        return False
    head = _last_line(run).split(":", 1)[0].rsplit(".", 1)[-1].strip()
    return head in NO_VERDICT_ERRORS


def _blocked_by_no_verdict(journal: dict[str, Any]) -> bool:
    """The steady state before the method was missed only because a probe raised NoVerdict (so the
    method never ran): what did not run could not be judged, it did not fail."""
    before = (journal.get("steady_states") or {}).get("before") or {}
    missed = [p for p in before.get("probes", []) if not p.get("tolerance_met")]
    return before.get("steady_state_met") is False and bool(missed) and all(map(_raised_no_verdict, missed))


def journal_problems(journal: dict[str, Any]) -> list[str]:
    """Everything that went wrong with evidence, one line each (empty: nothing failed). Probes with no
    evidence, n/a probes and activities that raised NoVerdict are not problems (:func:`unjudged`)."""
    problems: list[str] = []
    blocked = _blocked_by_no_verdict(journal)  # then the run's status and the steady states say nothing
    if journal.get("status") != "completed" and not blocked:
        problems.append(f"status is {journal.get('status')!r}, not 'completed'")
    if journal.get("deviated"):
        problems.append("deviated: the steady state did not hold after the method")
    has_hypothesis = bool((journal.get("experiment") or {}).get("steady-state-hypothesis", {}).get("probes"))
    states = journal.get("steady_states") or {}
    for phase in () if blocked else ("before", "after"):
        state = states.get(phase)
        if state is None:
            if has_hypothesis:
                problems.append(f"steady state {phase} the method was never checked")
            continue
        probes = state.get("probes", [])
        if state.get("steady_state_met") is not True and not all(_raised_no_verdict(p) for p in probes):
            missed = [p["activity"]["name"] for p in probes if not p.get("tolerance_met")]
            problems.append(f"steady state {phase} the method not met (probes out of tolerance: {missed})")
        for probe in probes:
            if _raised_no_verdict(probe):
                continue
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
        if _raised_no_verdict(run):
            continue
        if run.get("status") != "succeeded":
            problems.append(f"{act.get('type')} {act.get('name')} {run.get('status')}: {_last_line(run)}")
        elif act.get("type") == "probe" and probe_state(run.get("output")) == "fail":
            problems.append(f"probe {act.get('name')} not ok: {_output_excerpt(run)}")
    for run in journal.get("rollbacks") or []:
        act = run.get("activity") or {}
        if run.get("status") != "succeeded" and not _raised_no_verdict(run):
            problems.append(f"rollback {act.get('name')} {run.get('status')}: {_last_line(run)}")
    return problems


def _state_of(run: dict[str, Any], *, tolerance: bool = True) -> State:
    if _raised_no_verdict(run):
        return "no verdict"
    if run.get("status") != "succeeded" or not tolerance:
        return "fail"
    return probe_state(run.get("output"))


def probe_outcomes(journal: dict[str, Any]) -> list[ProbeOutcome]:
    """Every declared probe, with its state (a probe that never ran did not pass: it failed)."""
    experiment = journal.get("experiment") or {}
    hypothesis = [p["name"] for p in (experiment.get("steady-state-hypothesis") or {}).get("probes", [])]
    states = journal.get("steady_states") or {}
    out: list[ProbeOutcome] = []
    blocked = _blocked_by_no_verdict(journal)

    def not_run(name: str, phase: str) -> ProbeOutcome:
        if blocked:
            why = "not run: the steady state before the method could not be judged"
            return ProbeOutcome(name, phase, False, detail=why, state="no verdict")
        return ProbeOutcome(name, phase, False, detail="not run")

    for phase in ("before", "after"):
        ran = (states.get(phase) or {}).get("probes", [])
        for i, name in enumerate(hypothesis):
            run = ran[i] if i < len(ran) else None
            if run is None:
                out.append(not_run(name, phase))
                continue
            state = _state_of(run, tolerance=bool(run.get("tolerance_met")) or _raised_no_verdict(run))
            out.append(_outcome(name, phase, state, run))
    method = experiment.get("method") or []
    runs = journal.get("run") or []
    for i, activity in enumerate(method):
        if activity.get("type") != "probe":
            continue
        run = runs[i] if i < len(runs) else None
        if run is None or (run.get("activity") or {}).get("name") != activity.get("name"):
            out.append(not_run(activity["name"], "method"))
            continue
        out.append(_outcome(activity["name"], "method", _state_of(run), run))
    return out


def _outcome(name: str, phase: str, state: State, run: dict[str, Any]) -> ProbeOutcome:
    if state == "pass":
        detail = ""
    elif state in ("n/a", "no verdict"):
        detail = _why(run.get("output")) or _last_line(run)
    else:
        detail = _last_line(run) or _output_excerpt(run)
    return ProbeOutcome(name, phase, state == "pass", state == "n/a", detail, state)


def unjudged(journal: dict[str, Any], outcomes: list[ProbeOutcome]) -> tuple[list[str], list[str]]:
    """("probe: cause" of every probe or activity that saw nothing, "probe: why" of every n/a probe)."""
    no_evidence = [f"{o.label}: {o.detail}" for o in outcomes if o.state == "no verdict"]
    probes = {o.name for o in outcomes}
    for run in [*(journal.get("run") or []), *(journal.get("rollbacks") or [])]:
        act = run.get("activity") or {}
        if act.get("name") not in probes and _raised_no_verdict(run):
            no_evidence.append(f"{act.get('type')} {act.get('name')}: {_last_line(run)}")
    not_applicable = sorted({f"{o.name}: {o.detail}" for o in outcomes if o.state == "n/a"})
    return no_evidence, not_applicable


def verdict_of(problems: list[str], outcomes: list[ProbeOutcome], no_evidence: list[str]) -> Verdict:
    """fail if anything failed with evidence; else no verdict if anything saw nothing (or nothing
    was judged at all); else n/a if every probe was n/a; else pass."""
    if problems or any(o.state == "fail" for o in outcomes):
        return "fail"
    if no_evidence or not outcomes:
        return "no verdict"
    if all(o.state == "n/a" for o in outcomes):
        return "n/a"
    return "pass"


def score(journal: dict[str, Any], experiment: str, weight: int = 5) -> Score:
    outcomes = probe_outcomes(journal)
    counted = [o for o in outcomes if o.state in ("pass", "fail")]
    passed = sum(1 for o in counted if o.state == "pass")
    resilience = round(100.0 * passed / len(counted), 1) if counted else 0.0
    problems = journal_problems(journal)
    no_evidence, not_applicable = unjudged(journal, outcomes)
    verdict = verdict_of(problems, outcomes, no_evidence)
    return Score(
        experiment=experiment,
        weight=weight,
        probes_total=len(counted),
        probes_passed=passed,
        probes_skipped=sum(1 for o in outcomes if o.state == "n/a"),
        resilience=resilience,
        passed=verdict == "pass",
        problems=problems,
        outcomes=outcomes,
        verdict=verdict,
        probes_no_evidence=sum(1 for o in outcomes if o.state == "no verdict"),
        no_evidence=no_evidence,
        not_applicable=not_applicable,
    )


def verdict_fields(result: Score, verdict: Verdict | None = None) -> dict[str, Any]:
    """The verdict fields every ``chaos`` record carries (reports/build.py reads them): ``verdict``,
    ``passed`` (True only for ``pass``), ``no_evidence`` ("probe: cause") and ``not_applicable``
    ("probe: why"). ``verdict`` overrides the score's (a leaked Secret value fails the run)."""
    final = verdict or result.verdict
    return {
        "verdict": final,
        "passed": final == "pass",
        "no_evidence": result.no_evidence[:20],
        "not_applicable": result.not_applicable[:20],
        "probes_no_evidence": result.probes_no_evidence,
    }


def overall_resilience(scores: list[dict[str, Any]]) -> float | None:
    """Litmus: sum(weight * probe success %) / sum(weight) over the experiments (records or Scores)
    that judged at least one probe (an n/a or no-verdict experiment with nothing judged says nothing
    about resilience)."""
    judged_ = [s for s in scores if int(s.get("probes_total", 1)) > 0]
    weights = sum(int(s.get("weight", 1)) for s in judged_)
    if not weights:
        return None
    return round(sum(int(s.get("weight", 1)) * float(s["resilience"]) for s in judged_) / weights, 1)
