"""Running one experiment from pytest: load, validate, run on the main thread, keep the journal,
attach it to Allure, score it, record it for the report, and check for leaked Secret values.

The record carries the verdict (``pass`` | ``fail`` | ``no verdict`` | ``n/a``, chaos/scoring.py),
``passed`` (True only for ``pass``), and the probes that saw nothing (``no_evidence``) or do not
apply (``not_applicable``); :meth:`ChaosResult.conclude` ends the test the same way: a failure, a
NoEvidence (NO VERDICT), an n/a skip, or nothing.
"""

from __future__ import annotations

import copy
import json
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import allure
import pytest
from chaoslib.experiment import ensure_experiment_is_valid, run_experiment
from chaoslib.loader import load_experiment

from chaos.context import CONFIG_KEY, ChaosContext, register, unregister
from chaos.probes import MISSED_FANOUT
from chaos.scoring import Score, Verdict, score, verdict_fields
from fixtures.core.encoding import b64
from fixtures.core.errors import NoEvidence
from fixtures.core.paths import REPO_ROOT
from fixtures.core.record import record

EXPERIMENTS = Path(__file__).resolve().parent / "experiments"
JOURNALS = REPO_ROOT / "reports" / "chaos"
# Rollbacks run whatever happened: RBAC must come back and frozen processes must be thawed even when
# a probe failed. `settings` is always explicit: with None chaoslib reads ~/.chaostoolkit/settings.yaml.
SETTINGS: dict[str, Any] = {"runtime": {"rollbacks": {"strategy": "always"}}}


@dataclass
class ChaosResult:
    experiment: str
    journal: dict[str, Any]
    score: Score
    journal_path: Path
    recovery: dict[str, float] = field(default_factory=dict)
    leaks: list[str] = field(default_factory=list)

    def failure_report(self) -> str:
        lines = [f"chaos experiment {self.experiment!r} failed (journal: {self.journal_path}):"]
        lines += [f"  - {p}" for p in self.score.problems]
        lines += [f"  - secret value leaked into {where}" for where in self.leaks]
        return "\n".join(lines)

    @property
    def verdict(self) -> Verdict:
        """The score's verdict; a leaked Secret value fails the experiment whatever else it says."""
        return "fail" if self.leaks else self.score.verdict

    @property
    def passed(self) -> bool:
        return self.verdict == "pass"

    def conclude(self) -> None:
        """End the test with the verdict: fail (AssertionError), no verdict (NoEvidence: reported as
        NO VERDICT, never a pass and never a failure of the system), n/a (skipped with the reasons)."""
        verdict = self.verdict
        if verdict == "fail":
            raise AssertionError(self.failure_report())
        if verdict == "no verdict":
            saw = "; ".join(self.score.no_evidence) or "no probe judged anything"
            raise NoEvidence(f"chaos experiment {self.experiment!r}", saw)
        if verdict == "n/a":
            pytest.skip(f"n/a: {self.experiment}: " + "; ".join(self.score.not_applicable))


def load(name: str) -> dict[str, Any]:
    exp = load_experiment(str(EXPERIMENTS / f"{name}.yaml"), settings={})
    ensure_experiment_is_valid(exp)
    return exp


def experiment_weight(exp: dict[str, Any]) -> int:
    for ext in exp.get("extensions") or []:
        if ext.get("name") == "replicheck":
            return int(ext.get("weight", 5))
    return 5


#: runs of an experiment whose fault missed the window it is about (MISSED_FANOUT) before its
#: no-verdict run is the one reported
ATTEMPTS = 3


def missed_its_window(result: ChaosResult) -> bool:
    """The run has no verdict only because its fault did not land where the experiment says (pure)."""
    return (
        result.verdict == "no verdict"
        and bool(result.score.no_evidence)
        and all(MISSED_FANOUT in cause for cause in result.score.no_evidence)
    )


def run_chaos_experiment(
    ctx: ChaosContext, name: str, config: dict[str, Any] | None = None, journal_name: str | None = None
) -> ChaosResult:
    """Run ``chaos/experiments/<name>.yaml`` against ``ctx`` (a private cluster and operator). A run
    whose fault missed its window (:func:`missed_its_window`) is run again, up to :data:`ATTEMPTS`
    times, and only the last run is recorded: it tested nothing of the system, so it neither passes
    nor fails it; a run that failed or passed is never repeated."""
    for attempt in range(1, ATTEMPTS + 1):
        result, journal, summary_path = _run_once(ctx, name, config, journal_name)
        if attempt < ATTEMPTS and missed_its_window(result):
            ctx.runbooks.clear()
            ctx.recovery.clear()
            continue
        return _record(ctx, name, journal_name, result, journal, summary_path, attempt)
    raise AssertionError("unreachable")


def _run_once(
    ctx: ChaosContext, name: str, config: dict[str, Any] | None, journal_name: str | None
) -> tuple[ChaosResult, dict[str, Any], Path]:
    if threading.current_thread() is not threading.main_thread():
        raise RuntimeError("chaoslib installs signal handlers: run experiments on the main thread")
    exp = load(name)
    key = register(ctx)
    try:
        journal = run_experiment(
            copy.deepcopy(exp),  # chaoslib changes the dict it is given
            settings=copy.deepcopy(SETTINGS),
            experiment_vars=({CONFIG_KEY: key, **(config or {})}, {}),  # a 2-tuple: (configuration, secrets)
        )
    finally:
        unregister(key)
    JOURNALS.mkdir(parents=True, exist_ok=True)
    # one file per system when a run certifies several (the record keeps the experiment's name)
    stem = f"{journal_name or name}{ctx.journal_suffix}"
    path = JOURNALS / f"{stem}.json"
    result = ChaosResult(
        name, journal, score(journal, name, experiment_weight(exp)), path, dict(ctx.recovery)
    )
    return result, journal, path


def _record(
    ctx: ChaosContext,
    name: str,
    journal_name: str | None,
    result: ChaosResult,
    journal: dict[str, Any],
    path: Path,
    attempt: int,
) -> ChaosResult:
    """Write the run's journal, logs, record and runbook records (secret values refused)."""
    stem = path.stem
    text = json.dumps(journal, indent=2, default=str)
    path.write_text(text)
    allure.attach(text, name=f"chaostoolkit journal: {name}", attachment_type=allure.attachment_type.JSON)
    canaries = set(ctx.leak_canaries) | (ctx.workload.canaries if ctx.workload else set())
    logs = operator_logs(ctx)
    result.leaks = find_leaks(canaries, {"journal": text, **logs})
    for where, log_text in logs.items():
        if where in result.leaks:
            continue  # never copy a leaking log into reports/
        replica = where.rsplit(" ", 1)[-1]
        (JOURNALS / f"{stem}.{replica}.log").write_text(log_text)
        allure.attach(log_text, name=where, attachment_type=allure.attachment_type.TEXT)
    summary = {
        "experiment": journal_name or name,
        "provider": ctx.provider,
        "variant": ctx.variant,
        **verdict_fields(result.score, result.verdict),
        "recovery_s": round(result.recovery["recovery"], 3) if "recovery" in result.recovery else None,
        "recovery_detail_s": {k: round(v, 3) for k, v in result.recovery.items()},
        "resilience": result.score.resilience,
        "weight": result.score.weight,
        "probes_passed": result.score.probes_passed,
        "probes_total": result.score.probes_total,
        "probes_skipped": result.score.probes_skipped,
        "problems": result.score.problems[:20],
        "journal": str(path.relative_to(REPO_ROOT)),
        "hot_loop": ctx.notes.get("hot_loop"),
        "attempts": attempt,
    }
    leaks_in_record = find_leaks(canaries, {"record": json.dumps(summary, default=str)})
    if leaks_in_record:
        raise AssertionError("refusing to write a record that contains a secret value")
    record("chaos", **summary)
    allure.attach(
        json.dumps(summary, indent=2, default=str),
        name=f"score: {name}",
        attachment_type=allure.attachment_type.JSON,
    )
    for rb in ctx.runbooks:
        entry = {
            k: rb.get(k)
            for k in ("runbook", "fault", "identifying_step", "remedy_restores", "finding", "cause", "steps")
        }
        if find_leaks(canaries, {"runbook": json.dumps(rb, default=str)}):
            raise AssertionError(f"refusing to record runbook {rb['runbook']!r}: it contains a secret value")
        record("runbook", experiment=journal_name or name, **entry)
        allure.attach(
            json.dumps(rb, indent=2, default=str),
            name=f"runbook: {rb['runbook']} for {rb['fault']}",
            attachment_type=allure.attachment_type.JSON,
        )
    return result


def operator_logs(ctx: ChaosContext) -> dict[str, str]:
    out = {}
    for name in ctx.replica_names():
        out[f"operator log {name}"] = ctx.operator.logs(name)
    return out


def find_leaks(canaries: set[str], texts: dict[str, str]) -> list[str]:
    """Where any canary appears, plain or base64-encoded (never the value itself)."""
    forms = set()
    for value in canaries:
        forms.add(value)
        forms.add(b64(value))
    return sorted({where for where, text in texts.items() for f in forms if f and f in text})
