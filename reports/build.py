"""Build the certification report (reports/certification.{json,md,html} + latency PNG).

Inputs, all produced by the run: Allure results (one per test, with feature/story labels),
replicheck records (reports/records/*.jsonl: latencies, example counts, conformance, chaos and
runbook outcomes), chaostoolkit journals (reports/chaos/), environment.properties, and a lint
pass over the implementation's manifests. Three verdicts: CERTIFIED when every selected system
passed every check with evidence; NOT CERTIFIED when a system failed a check of the system; NO
VERDICT when nothing failed but the run could not judge something (a harness self-test, a setup
error, a missing program, a check without evidence: fixtures/plugins/verdicts.py). Every reason names the
system, the check and its one-line cause. A failed or partial run still gets a full report.

    python -m reports.build [--pytest-exit N] [--systems A,B] [--lint PATH ...]
    # exit 0 CERTIFIED, 1 NOT CERTIFIED (a system failed a check), 2 NO VERDICT (the run could not judge)
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chaos.scoring import overall_resilience
from fixtures.core.environment import read_properties
from fixtures.core.paths import REPO_ROOT, REPORTS_DIR
from fixtures.core.record import RECORDS_DIR, read_records
from fixtures.core.stats import percentile, summary
from fixtures.plugins.verdicts import CAUSE_LABEL, FAIL, HARNESS_SELF_TESTS, LABEL, first_line
from fixtures.plugins.verdicts import NO_VERDICT as JUDGED_NO_VERDICT
from reports import bench
from reports.catalogue import BEHAVIOUR_TITLES, PROPERTY_TEXT
from reports.charts import chaos_plot, latency_plot, latency_systems_plot
from reports.matrix import (
    NOT_APPLICABLE,
    PROPERTY_STORY,
    SCENARIO_STORY,
    Outcome,
    accepted,
    deviation_text,
    matrix,
    named_systems,
    primary_system,
    system_of,
)
from reports.page import chaos_outcome as chaos_verdict
from reports.page import render_html

REPORTS = REPORTS_DIR
ALLURE_RESULTS = REPORTS / "allure-results"
CHAOS_DIR = REPORTS / "chaos"
PROPERTIES = {number: text.title for number, text in PROPERTY_TEXT.items()}
#: what every system must pass; Property 7 (the consolidation tool) and C1-C21 are seed 000's
#: Reflector-world gates: they bind Reflector-dialect systems (Report.reflector_gates)
SYSTEM_PROPERTIES = ("5", "6", "11")
REFLECTOR_DIALECT = "reflector"
CONTRACT_IDS = [f"C{i}" for i in range(1, 22)]
TIMELINESS_BOUND_S = 60.0
#: 2: three verdicts (NO VERDICT beside the two), reasons as {outcome, system, check, cause}, a headline
SCHEMA_VERSION = 2
CERTIFIED, NOT_CERTIFIED, NO_VERDICT = "CERTIFIED", "NOT CERTIFIED", "NO VERDICT"
#: exit codes of `python -m reports.build` and `make conformance`
EXIT_CODES = {CERTIFIED: 0, NOT_CERTIFIED: 1, NO_VERDICT: 2}
#: pytest exit codes that say nothing beyond the test results (0 passed, 1 tests failed, 5 none ran)
JUDGED_EXITS = (0, 1, 5)
#: Allure full names of the harness's own tests (HARNESS_SELF_TESTS of fixtures/plugins/verdicts.py,
#: as module paths)
HARNESS_PREFIXES = tuple(p.replace("/", ".") for p in HARNESS_SELF_TESTS)
#: written by `python -m reports.traceability` and `make mutation` (replicheck/mutation.py)
TRACEABILITY_JSON = "traceability.json"
MUTATION_JSON = "mutation.json"


@dataclass(frozen=True)
class Reason:
    """Why a run or a system is not certified, in a form a release manager can act on: which
    system (None: the run itself), which check (a C-id, a property, an experiment, a test id, a
    phase) and its one-line cause. ``outcome`` is NOT CERTIFIED (the system failed the check) or
    NO VERDICT (the check could not judge it)."""

    outcome: str
    system: str | None
    check: str
    cause: str
    #: the key a system's profile documents a known failure by (a neutral check's behaviour key,
    #: ``property<N>``, ``property6.latency``, ``chaos.<experiment>``); empty when none applies
    key: str = field(default="", compare=False)

    def text(self) -> str:
        who = f"{self.system}: " if self.system else ""
        return f"{who}{self.check}: {self.cause}" if self.check else f"{who}{self.cause}"

    def as_dict(self) -> dict[str, Any]:
        return {"outcome": self.outcome, "system": self.system, "check": self.check, "cause": self.cause}


def documents(known: set[str] | frozenset[str], key: str) -> bool:
    """Whether a profile's known failures cover a failed check's ``key``: the key itself, or for a
    property (``property5``) any known failure of it (``property5.occupied``): a property test stops
    at its first falsifying example, so which of its known failures it met is not told apart."""
    return bool(key) and (key in known or any(k.startswith(f"{key}.") for k in known))


def overall(reasons: list[Reason]) -> str:
    """A failure of a system outranks a check that could not judge; no reason at all certifies."""
    if any(r.outcome == NOT_CERTIFIED for r in reasons):
        return NOT_CERTIFIED
    return NO_VERDICT if reasons else CERTIFIED


def documented_note(documented: list[dict[str, Any]]) -> str:
    """`` (external-secrets: NOT CERTIFIED as its profile documents, 4 known failures)``: a headline
    that says CERTIFIED must not hide a third-party column that is not."""
    if not documented:
        return ""
    parts = [
        f"{d['system']}: {d['verdict']} as its profile documents, {d['documented']} known failures"
        for d in documented
    ]
    return f" ({'; '.join(parts)})"


def headline(verdict: str, reasons: list[Reason]) -> str:
    """The verdict's first line: the verdict and the first reason of its own kind."""
    own = [r for r in reasons if r.outcome == verdict]
    if not own:
        return verdict
    more = f" (and {len(reasons) - 1} more)" if len(reasons) > 1 else ""
    return f"{verdict}: {own[0].text()}{more}"


@dataclass
class TestResult:
    name: str
    full_name: str
    status: str  # passed | failed | broken | skipped
    labels: dict[str, list[str]]
    message: str = ""
    trace: str = ""
    duration_s: float = 0.0
    uuid: str = ""

    def label(self, key: str) -> list[str]:
        return self.labels.get(key, [])

    @property
    def harness_self_test(self) -> bool:
        return self.full_name.startswith(HARNESS_PREFIXES)

    @property
    def judgement(self) -> str | None:
        """Who is to blame when it did not pass (fixtures/plugins/verdicts.py): ``system failure`` or
        ``no verdict``; results written before the label existed: a failure is the system's."""
        if self.status not in ("failed", "broken"):
            return None
        if self.harness_self_test:
            return JUDGED_NO_VERDICT
        return (self.label(LABEL) or [FAIL])[0]

    @property
    def cause(self) -> str:
        """Why it did not pass, in one line: the judgement's cause (fixtures/plugins/verdicts.py), else
        the first line of its message or trace."""
        return next(iter(self.label(CAUSE_LABEL)), "") or first_line(self.message) or first_line(self.trace)

    @property
    def check(self) -> str:
        """The check this test is: its contract id or property (story), else its test id."""
        for story in self.label("story"):
            if m := PROPERTY_STORY.match(story):
                return f"Property {m.group(1)}"
            if m := SCENARIO_STORY.match(story):
                return m.group(1)
        return self.test_id

    @property
    def test_id(self) -> str:
        """``tests/x/test_y.py::test_z[param]`` from Allure's ``tests.x.test_y#test_z`` and name."""
        module, _, func = self.full_name.partition("#")
        params = self.name[len(func) :] if func and self.name.startswith(func) else ""
        return f"{module.replace('.', '/')}.py::{func or self.name}{params}" if module else self.name


def load_allure(directory: Path) -> list[TestResult]:
    results = []
    for path in sorted(directory.glob("*-result.json")):
        data = json.loads(path.read_text())
        labels: dict[str, list[str]] = {}
        for item in data.get("labels", []):
            labels.setdefault(item["name"], []).append(item["value"])
        details = data.get("statusDetails") or {}
        results.append(
            TestResult(
                name=data.get("name", ""),
                full_name=data.get("fullName", data.get("name", "")),
                status=data.get("status", "unknown"),
                labels=labels,
                message=details.get("message", "") or "",
                trace=details.get("trace", "") or "",
                duration_s=max(0.0, (data.get("stop", 0) - data.get("start", 0)) / 1000),
                uuid=data.get("uuid", "") or "",
            )
        )
    return results


def _reproduce(result: TestResult, profile: str) -> str:
    test = (result.name or result.full_name.rsplit("#", 1)[-1]).split("[")[0]
    blob = re.search(r"@reproduce_failure\([^)]*\)", result.trace + result.message)
    cmd = f'make properties PROFILE={profile} PYTEST_ARGS="-k {test}"'
    return f"{cmd}" + (f"  # or add {blob.group(0)}" if blob else "")


def diff_lines(message: str, trace: str = "", limit: int = 8, width: int = 200) -> list[str]:
    """The first lines of a failure: the assertion message, or pytest's `E` lines of the trace."""
    lines = [ln.rstrip()[:width] for ln in message.splitlines() if ln.strip()]
    if len(lines) <= 1:
        explained = [ln[1:].strip()[:width] for ln in trace.splitlines() if ln.startswith("E ")]
        lines = lines + [ln for ln in explained if ln and ln not in lines]
    return lines[:limit]


OUTCOMES = {"passed": "pass", "failed": "fail", "broken": "fail"}


def _outcome(result: TestResult) -> str:
    if result.status == "skipped":
        return "known deviation" if "deviation" in result.message.lower() else "skipped"
    if result.judgement == JUDGED_NO_VERDICT:
        return "no verdict"
    return OUTCOMES.get(result.status, "fail")


def _latency_summary(values: list[float]) -> dict[str, Any]:
    return {
        "samples": len(values),
        **summary(values),
        "max": max(values) if values else None,
        "bound": TIMELINESS_BOUND_S,
    }


def _property_numbers(result: TestResult) -> set[str]:
    return {m.group(1) for story in result.label("story") if (m := PROPERTY_STORY.match(story))}


def profile_key(result: TestResult) -> str:
    """The key a profile documents this test's check by: its behaviour key (a neutral check's
    ``neutral.<check>``), else ``property<N>`` for a property test, else none."""
    if behaviour := result.label("behaviour"):
        return behaviour[0]
    numbers = sorted(_property_numbers(result))
    return f"property{numbers[0]}" if numbers else ""


@dataclass
class Report:
    env: dict[str, str]
    results: list[TestResult]
    records: list[dict[str, Any]]
    pytest_exit: int | None
    lint: list[dict[str, Any]]
    reasons: list[Reason] = field(default_factory=list)
    #: where reports/traceability.json and reports/mutation.json are read from
    evidence_dir: Path = REPORTS
    #: set on one system's view of a run (Report.only): everything here belongs to it
    system: str | None = None
    #: the systems the run was asked to certify (``make conformance`` knows them; None: from the
    #: results): exactly these are judged, a selected one without results is NO VERDICT
    selected: list[str] | None = None

    # -- systems (reports/matrix.py) ---------------------------------------------------------
    @property
    def primary(self) -> str:
        """The system results without a ``system`` label belong to."""
        if self.selected:
            return self.selected[0]
        return primary_system(self.env.get("implementation"))

    def system_of_result(self, result: TestResult) -> str | None:
        """The system a result judges; None for the harness's own self-tests (they judge the run)."""
        if result.harness_self_test:
            return None
        return system_of(result.labels, None, self.primary)

    def system_of_record(self, rec: dict[str, Any]) -> str:
        return system_of(None, rec, self.primary)

    def systems(self) -> list[str]:
        """The systems this run certified, in column order: those ``--implementation`` named when it
        named several (a named system that produced nothing is a column that says so), then every
        system a test result or a labelled record belongs to, the primary one first."""
        if self.system is not None:
            return [self.system]
        if self.selected:
            return list(self.selected)
        named = named_systems(self.env.get("implementation"))
        found = {name for r in self.results if (name := self.system_of_result(r)) is not None}
        found |= {str(rec["system"]) for rec in self.records if rec.get("system")}
        first = named if len(named) > 1 else [self.primary] if self.primary in found else []
        return [*first, *sorted(found - set(first))]

    def only(self, system: str) -> Report:
        """One system's view of the run: its results and records, judged on their own."""
        return Report(
            self.env,
            [r for r in self.results if self.system_of_result(r) == system],
            [rec for rec in self.records if self.system_of_record(rec) == system],
            None,
            [],
            evidence_dir=self.evidence_dir,
            system=system,
            selected=self.selected,
        )

    def reflector_gates(self) -> bool:
        """Whether seed 000's Reflector-world gates (Property 7, C1-C21) bind this (single-system)
        view: its dialect is the Reflector one (``system.<name>.dialect`` in the run's environment),
        or the environment does not say and it is the primary system."""
        system = self.systems()[0] if self.systems() else self.primary
        dialect = self.env.get(f"system.{system}.dialect")
        return dialect == REFLECTOR_DIALECT if dialect else system == self.primary

    def required_properties(self) -> set[str]:
        """Properties this (single-system) view must pass: 5, 6 and 11, Property 7 too under the
        Reflector-world gates, and any property it ran."""
        ran = {n for r in self.results if r.status != "skipped" for n in _property_numbers(r)}
        return set(SYSTEM_PROPERTIES) | ({"7"} if self.reflector_gates() else set()) | (ran & set(PROPERTIES))

    def requires_conformance(self) -> bool:
        """C1-C21 (the Reflector-dialect suite) bind it under the Reflector-world gates, or if it ran one."""
        ran = any(  # skipped (written in another dialect, n/a here) is not "ran"
            (m := SCENARIO_STORY.match(story)) and m.group(1) in CONTRACT_IDS
            for r in self.results
            if r.status != "skipped"
            for story in r.label("story")
        )
        return self.reflector_gates() or ran

    # -- sections ----------------------------------------------------------------------------
    def totals(self) -> dict[str, int]:
        out = {"passed": 0, "failed": 0, "broken": 0, "skipped": 0}
        for r in self.results:
            out[r.status] = out.get(r.status, 0) + 1
        out["total"] = len(self.results)
        # of the failed and broken: those that judged nothing (fixtures/plugins/verdicts.py)
        out["no_verdict"] = sum(r.judgement == JUDGED_NO_VERDICT for r in self.results)
        return out

    def latencies(self) -> list[float]:
        values = []
        for rec in self.records:
            if rec["kind"] == "latency" and str(rec.get("property")) == "6":
                value = rec.get("last_copy_s", rec.get("seconds"))
                if isinstance(value, int | float):
                    values.append(float(value))
        return values

    def latencies_by_system(self) -> dict[str, list[float]]:
        return {name: self.only(name).latencies() for name in self.systems()}

    def properties(self) -> list[dict[str, Any]]:
        """One row per seed property over every system of the run (the matrix splits them); in a
        run of several systems Property 6's latency is per system (``systems.latency_s``)."""
        profile = self.env.get("profile", "ci")
        rows = []
        several = len(self.systems()) > 1
        lat = self.latencies()
        for number, title in PROPERTIES.items():
            tests = [r for r in self.results if number in _property_numbers(r)]
            recs = [r for r in self.records if r["kind"] == "property" and str(r.get("property")) == number]
            failed = [t for t in tests if t.judgement == FAIL]
            unjudged = [t for t in tests if t.judgement == JUDGED_NO_VERDICT]
            if not tests:
                status = "not run"
            elif failed:
                status = "fail"
            elif unjudged:
                status = "no verdict"
            else:
                status = "pass" if any(t.status == "passed" for t in tests) else "skipped"
            row = {
                "property": number,
                "title": title,
                "statement": PROPERTY_TEXT[number].statement,
                "validates": PROPERTY_TEXT[number].validates,
                "status": status,
                "tests": len(tests),
                "examples": sum(int(r.get("examples", 0)) for r in recs) or None,
                "seed": next(
                    (str(r["seed"]) for r in recs if r.get("seed") is not None),
                    self.env.get("hypothesis.seed"),
                ),
                "failures": [
                    {
                        "test": t.full_name,
                        "system": self.system_of_result(t),
                        "message": first_line(t.message),
                        "diff": diff_lines(t.message, t.trace),
                        "reproduce": _reproduce(t, profile),
                        "allure_uuid": t.uuid,
                    }
                    for t in failed
                ],
            }
            if number == "6":
                row["latency_s"] = None if several else _latency_summary(lat)
            rows.append(row)
        return rows

    def conformance(self) -> list[dict[str, Any]]:
        """One row per behaviour C1-C21: its title, outcome, scenarios (with Allure ids), first diff."""
        rows = {
            cid: {
                "id": cid,
                "title": BEHAVIOUR_TITLES.get(cid, ""),
                "outcome": "not run",
                "detail": "",
                "diff": [],
                "scenarios": [],
            }
            for cid in CONTRACT_IDS
        }
        for rec in self.records:
            if rec["kind"] == "conformance" and rec.get("id") in CONTRACT_IDS:
                row = rows[rec["id"]]
                if row["outcome"] in ("not run", "pass"):  # a failure or deviation wins
                    row["outcome"] = rec.get("outcome", "fail")
                    row["detail"] = rec.get("detail", "")
        for r in self.results:
            for story in r.label("story"):
                match = re.match(r"(C\d+)\b:?\s*(.*)", story)
                if not match or match.group(1) not in CONTRACT_IDS:
                    continue
                row, outcome = rows[match.group(1)], _outcome(r)
                row["scenarios"].append(
                    {
                        "title": match.group(2) or r.name,
                        "system": self.system_of_result(r),
                        "test": r.full_name,
                        "outcome": outcome,
                        "allure_uuid": r.uuid,
                    }
                )
                if row["outcome"] == "not run" or (row["outcome"] == "pass" and outcome != "pass"):
                    row["outcome"] = outcome
                    row["detail"] = first_line(r.message)
                    row["diff"] = diff_lines(r.message, r.trace) if outcome == "fail" else []
        for row in rows.values():
            row["scenarios"].sort(key=lambda sc: (sc["outcome"] == "pass", sc["title"]))
        return [rows[cid] for cid in CONTRACT_IDS]

    def chaos(self) -> list[dict[str, Any]]:
        return [
            {k: v for k, v in rec.items() if k not in ("kind", "time")}
            | {"system": self.system_of_record(rec)}
            for rec in self.records
            if rec["kind"] == "chaos"
        ]

    def runbooks(self) -> list[dict[str, Any]]:
        return [
            {k: v for k, v in rec.items() if k not in ("kind", "time")}
            for rec in self.records
            if rec["kind"] == "runbook"
        ]

    def deployments(self) -> list[dict[str, Any]]:
        """How each system under test ran (``system_deployment`` records, one per session deploy):
        processes or Pods, on which provider and how many nodes, the image digest and the chart."""
        seen: dict[tuple[Any, ...], dict[str, Any]] = {}
        for rec in self.records:
            if rec["kind"] != "system_deployment":
                continue
            row = {
                k: rec.get(k, "")
                for k in ("system", "runs_as", "provider", "nodes", "image", "image_digest", "chart")
            }
            # the registry is the run's own (its port differs per phase): the image is its path
            row["image"] = str(row["image"]).split("/", 1)[-1] if row["image"] else ""
            seen.setdefault(tuple(row.values()), row)
        return sorted(seen.values(), key=lambda r: (str(r["system"]), str(r["runs_as"])))

    def oci_credentials(self) -> dict[str, Any] | None:
        """OCI credentials end to end (oci/): authentication, rotation latency, negative control,
        runbook steps. None when that phase did not run."""
        e2e = [r for r in self.records if r["kind"] == "oci_e2e"]
        runbooks = [r for r in self.records if r["kind"] == "oci_runbook"]
        rotations = [s for r in self.records if r["kind"] == "oci_rotation" for s in r.get("seconds") or []]
        releases = [r for r in self.records if r["kind"] == "oci_releases"]
        if not (e2e or runbooks or rotations or releases):
            return None
        last = e2e[-1] if e2e else {}
        return {
            "releases": self.oci_releases(releases[-1]) if releases else None,
            "namespaces_authenticated": last.get("namespaces_authenticated"),
            "namespaces": last.get("namespaces"),
            "first_authentication_s": last.get("first_authentication_s"),
            "negative_control": last.get("negative_control"),
            "intervals_s": last.get("intervals_s"),
            "rotation_s": {
                "n": len(rotations),
                **summary(rotations),
                "bound": last.get("bound_s"),
            },
            "stack_ready_s": (last.get("stack_timings") or {}).get("registry_git_flux_ready_s"),
            "runbook": [
                {"fault": fault, "identified_by_step": step}
                for r in runbooks
                for fault, step in sorted((r.get("identified") or {}).items())
            ],
        }

    @staticmethod
    def oci_releases(rec: dict[str, Any]) -> dict[str, Any]:
        """The HelmReleases of the nodes' OCI stack (oci/test_helm_releases_e2e.py): each service
        namespace's release, the negative control, Ready and rotation latencies, the operator's own."""
        return {
            k: rec.get(k)
            for k in (
                "releases",
                "negative_control",
                "ready_s",
                "rotation",
                "rotations",
                "bound_s",
                "slo_s",
                "intervals_s",
                "helm_timeout_s",
                "operator",
            )
        }

    # -- verdict -----------------------------------------------------------------------------
    def gates(self) -> list[Reason]:
        """What stands between one system and its certificate (call it on a single-system run or
        on ``only(system)``), each with the check and its cause. NOT CERTIFIED: a check of the
        system failed its assertion, Property 6 p99 beyond the bound, a chaos experiment failed, a
        documented known failure. NO VERDICT: a check that could not judge it (harness fault,
        setup error, no evidence), a required property or C-item that did not run or only skipped,
        no chaos experiment result."""
        system = self.systems()[0] if self.systems() else self.primary
        out: list[Reason] = []
        for r in self.results:
            if r.judgement is None:
                continue
            outcome = NOT_CERTIFIED if r.judgement == FAIL else NO_VERDICT
            cause = r.cause or r.status
            check = r.check if r.check == r.test_id else f"{r.check} ({r.test_id})"
            out.append(Reason(outcome, system, check, cause, key=profile_key(r)))
        required = self.required_properties()
        for row in self.properties():
            if row["property"] in required and row["status"] in ("not run", "skipped"):
                out.append(
                    Reason(NO_VERDICT, system, f"Property {row['property']}", f"{row['status']}: no evidence")
                )
        p99 = percentile(self.latencies(), 99)
        if p99 is not None and p99 > TIMELINESS_BOUND_S:
            cause = f"latency p99 {p99:.1f} s exceeds {TIMELINESS_BOUND_S:.0f} s"
            out.append(Reason(NOT_CERTIFIED, system, "Property 6", cause, key="property6.latency"))
        out += self.documented_failures()
        if self.requires_conformance():
            for c in self.conformance():
                if c["outcome"] in ("not run", "skipped"):
                    cause = c["detail"] or f"{c['outcome']}: no evidence"
                    out.append(Reason(NO_VERDICT, system, c["id"], cause))
                elif c["outcome"] == "fail" and not any(r.check.split(" ")[0] == c["id"] for r in out):
                    out.append(Reason(NOT_CERTIFIED, system, c["id"], c["detail"] or "failed"))
        chaos = self.chaos()
        if not chaos and not self.chaos_not_applicable():
            out.append(Reason(NO_VERDICT, system, "chaos", "no chaos experiment results"))
        for c in chaos:
            verdict = chaos_verdict(c)
            name = f"chaos {c.get('experiment')}"
            if verdict == "fail":
                problems = "; ".join(str(p) for p in (c.get("problems") or [])[:2]) or "experiment failed"
                out.append(Reason(NOT_CERTIFIED, system, name, problems, key=f"chaos.{c.get('experiment')}"))
            elif verdict == "no verdict":
                missing = "; ".join(str(p) for p in (c.get("no_evidence") or [])[:2]) or "no evidence"
                out.append(Reason(NO_VERDICT, system, name, missing))
        return out

    def chaos_not_applicable(self) -> list[dict[str, Any]]:
        return [rec for rec in self.records if rec["kind"] == "chaos_not_applicable"]

    def system_verdicts(self) -> list[dict[str, Any]]:
        """Each system's own verdict, reasons and test totals, in column order."""
        out = []
        for name in self.systems():
            view = self.only(name)
            reasons = [
                Reason(NOT_CERTIFIED, name, "deploy", f"did not start: {why}")
                for why in view.setup_failures()
            ]
            reasons += (
                view.gates()
                if view.results
                else [
                    Reason(NO_VERDICT, name, "", "no test results for this system"),
                    *view.documented_failures(),
                ]
            )
            out.append(
                {
                    "system": name,
                    "verdict": overall(reasons),
                    "reasons": reasons,
                    "totals": view.totals(),
                }
            )
        return out

    def documented_failures(self) -> list[Reason]:
        """Failed checks the system's profile documents in ``known_failures``, with its text."""
        documented = {
            (self.system_of_record(r), r.get("key"), r["known_failure"])
            for r in self.records
            if r["kind"] == "conformance" and r.get("known_failure") and r.get("outcome") == "fail"
        }
        return [
            Reason(NOT_CERTIFIED, system, str(key), why, key=str(key))
            for system, key, why in sorted(documented)
        ]

    def setup_failures(self) -> list[str]:
        """Why a system under test could not be started (``setup_failure`` records, one per worker)."""
        return sorted({str(r.get("reason")) for r in self.records if r["kind"] == "setup_failure"})

    def run_reasons(self) -> list[Reason]:
        """What the run itself could not do (no system to blame): the harness's own self-tests that
        failed, phases that stopped without judging (pytest exit 2-4, a refused option), no results,
        contract items without a test."""
        out: list[Reason] = []
        for rec in self.records:
            if rec["kind"] == "preflight":
                cause = f"{rec.get('problem')}; run `{rec.get('fix')}`"
                out.append(Reason(NO_VERDICT, None, f"preflight {rec.get('need')}", cause))
        for rec in self.records:
            if rec["kind"] == "phase" and rec.get("exit") not in (*JUDGED_EXITS, None):
                line = rec.get("line") or f"pytest exited with {rec.get('exit')}"
                out.append(Reason(NO_VERDICT, None, f"phase {rec.get('phase')}", str(line)))
        for r in self.results:
            if r.harness_self_test and r.judgement is not None:
                out.append(Reason(NO_VERDICT, None, r.test_id, r.cause or r.status))
        if not self.results:
            out.append(Reason(NO_VERDICT, None, "", "no test results were produced"))
        if self.pytest_exit not in (*JUDGED_EXITS, None) and not any(
            rec["kind"] == "phase" for rec in self.records
        ):
            out.append(Reason(NO_VERDICT, None, "pytest", f"pytest exited with {self.pytest_exit}"))
        missing = (evidence(self.evidence_dir).get("traceability") or {}).get("missing")
        if missing:
            out.append(
                Reason(
                    NO_VERDICT,
                    None,
                    "traceability",
                    f"contract items without a test (reports/traceability.md): {', '.join(missing)}",
                )
            )
        return out

    # -- third-party systems: held to their profiles ---------------------------------------------
    def third_party(self, system: str) -> bool:
        """A controller this project did not write (``system.<name>.third_party`` in the run's
        environment, written from its profile)."""
        return self.env.get(f"system.{system}.third_party") == "true"

    def known_failures(self, system: str) -> frozenset[str]:
        """The keys of the known failures its profile documents (``system.<name>.known_failures``)."""
        return frozenset(k for k in self.env.get(f"system.{system}.known_failures", "").split(",") if k)

    def holds_to_profiles(self) -> bool:
        """Whether third-party systems enter the run's verdict through their profiles: when the run
        also certifies a system this project ships (``make conformance``: the bundled operator and
        ConfigMirror beside ESO). A run of third-party systems alone is their certificate."""
        systems = self.systems()
        return any(self.third_party(s) for s in systems) and not all(self.third_party(s) for s in systems)

    def passed_keys(self, system: str) -> set[str]:
        """Profile keys whose checks ran for ``system`` and passed (none of their tests failed)."""
        view = self.only(system)
        ran: dict[str, bool] = {}
        for r in view.results:
            if r.status == "skipped" or not (key := profile_key(r)):
                continue
            ran[key] = ran.get(key, True) and r.status == "passed"
        for c in view.chaos():
            key = f"chaos.{c.get('experiment')}"
            ran[key] = ran.get(key, True) and chaos_verdict(c) == "pass"
        return {k for k, ok in ran.items() if ok}

    def held_to_profile(self, system: str, reasons: list[Reason]) -> list[Reason]:
        """What a third-party system contributes to the run's verdict: its failures its profile does
        not document, what could not be judged of it, and every documented known failure whose check
        ran and passed (the profile is stale: as a known deviation that passes, that fails the run)."""
        known = self.known_failures(system)
        out = [r for r in reasons if not (r.outcome == NOT_CERTIFIED and documents(known, r.key))]
        failed = {r.key for r in reasons if r.outcome == NOT_CERTIFIED and r.key}
        passed = self.passed_keys(system)
        for key in sorted(known):
            covering = {k for k in passed if documents(frozenset({key}), k)}
            if covering and not any(documents(frozenset({key}), k) for k in failed):
                why = "its profile lists this known failure, but the check passed: the profile is stale"
                out.append(Reason(NOT_CERTIFIED, system, key, why, key=key))
        return out

    def documented_only(self) -> list[dict[str, Any]]:
        """Third-party systems whose certificate fails only as their profiles document (when the run
        holds them to their profiles): name and the documented reasons, for the headline."""
        if not self.holds_to_profiles():
            return []
        out = []
        for v in self.system_verdicts():
            name = v["system"]
            if not self.third_party(name) or v["verdict"] == CERTIFIED:
                continue
            if not self.held_to_profile(name, v["reasons"]):
                failed = {r.key for r in v["reasons"] if r.outcome == NOT_CERTIFIED}
                met = [
                    k for k in self.known_failures(name) if any(documents(frozenset({k}), f) for f in failed)
                ]
                out.append({"system": name, "verdict": v["verdict"], "documented": len(met)})
        return out

    def scope(self) -> list[dict[str, str]]:
        """What the run's systems' profiles say their certification leaves out, and why
        (``system.<name>.scope``: seed 003's Vault half for External Secrets Operator)."""
        profiles = [
            {"system": name, "statement": text}
            for name in self.systems()
            if (text := self.env.get(f"system.{name}.scope"))
        ]
        # a system the default selection left out on this provider (replicheck/conformance.py)
        left_out = [
            {"system": str(rec.get("system")), "statement": str(rec.get("statement"))}
            for rec in self.records
            if rec["kind"] == "scope"
        ]
        return profiles + left_out

    def verdict(self) -> str:
        """CERTIFIED only if every selected system is and the run judged everything; NOT CERTIFIED
        if a system failed a check; NO VERDICT if nothing failed but something could not be judged.
        A third-party system run beside this project's own systems enters through its profile
        (:meth:`held_to_profile`): its documented known failures leave its own column NOT CERTIFIED
        but not the run. Sets ``reasons``: failures of the systems first, a system that did not start
        first of all, then the run's own causes, then what could not be judged of each system."""
        reasons: list[Reason] = []
        hold = self.holds_to_profiles()
        for v in self.system_verdicts():
            if hold and self.third_party(v["system"]):
                reasons.extend(self.held_to_profile(v["system"], v["reasons"]))
            else:
                reasons.extend(v["reasons"])
        reasons += self.run_reasons()
        # failures first (a system that did not start first of all), then the run's own causes
        # (a phase that stopped, the preflight): they explain the systems' missing results
        reasons.sort(key=lambda r: (r.outcome != NOT_CERTIFIED, r.check != "deploy", r.system is not None))
        self.reasons = reasons
        return overall(reasons)

    # -- several systems: the matrix ------------------------------------------------------------
    def outcomes(self) -> list[Outcome]:
        """Every property test, scenario and chaos experiment as one matrix outcome."""
        out = []
        for r in self.results:
            system, outcome = self.system_of_result(r), _outcome(r)
            reason = first_line(deviation_text(r.message))
            diff = tuple(diff_lines(r.message, r.trace)) if outcome == "fail" else ()
            for story in r.label("story"):
                if m := PROPERTY_STORY.match(story):
                    title = PROPERTIES.get(m.group(1), m.group(2))
                    out.append(Outcome(system, "property", m.group(1), title, outcome, reason, diff, r.uuid))
                elif m := SCENARIO_STORY.match(story):
                    title = BEHAVIOUR_TITLES.get(m.group(1)) or m.group(2)
                    out.append(Outcome(system, "scenario", m.group(1), title, outcome, reason, diff, r.uuid))
        for c in self.chaos():
            name = str(c.get("experiment"))
            outcome = chaos_verdict(c)
            if outcome == "fail":
                reason = "; ".join(str(p) for p in (c.get("problems") or [])[:3]) or "experiment failed"
            elif outcome == "no verdict":
                reason = "; ".join(str(p) for p in (c.get("no_evidence") or [])[:3]) or "no evidence"
            else:
                reason = "; ".join(str(p) for p in (c.get("not_applicable") or [])[:3])
            out.append(Outcome(c["system"], "chaos", name, name, outcome, reason))
        for rec in self.records:
            if rec["kind"] == "chaos_not_applicable":  # documented by the system's profile
                name = str(rec.get("experiment"))
                why = str(rec.get("reason", ""))
                out.append(Outcome(self.system_of_record(rec), "chaos", name, name, NOT_APPLICABLE, why))
        for name, values in self.latencies_by_system().items():
            p99 = percentile(values, 99)
            if p99 is not None and p99 > TIMELINESS_BOUND_S:
                reason = f"latency p99 {p99:.1f} s exceeds {TIMELINESS_BOUND_S:.0f} s"
                out.append(Outcome(name, "property", "6", PROPERTIES["6"], "fail", reason))
        return out

    def systems_section(self) -> dict[str, Any] | None:
        """The matrix of a run of several systems (None for one system: the page stays as it was)."""
        systems = self.systems()
        if len(systems) <= 1:
            return None
        required: dict[str, set[tuple[str, str]]] = {}
        for name in systems:
            view = self.only(name)
            required[name] = {("property", n) for n in view.required_properties()}
            if view.requires_conformance():
                required[name] |= {("scenario", cid) for cid in CONTRACT_IDS}
        titles = {("property", n): t for n, t in PROPERTIES.items()}
        titles |= {("scenario", cid): BEHAVIOUR_TITLES.get(cid, "") for cid in CONTRACT_IDS}
        rows = matrix(systems, self.outcomes(), required, titles)
        verdicts = [v | {"reasons": [r.as_dict() for r in v["reasons"]]} for v in self.system_verdicts()]
        return {
            "names": systems,
            "primary": self.primary,
            "verdicts": verdicts,
            "rows": rows,
            "accepted": {
                name: sum(accepted(row["cells"][name]["outcome"]) for row in rows) for name in systems
            },
            "latency_s": {
                name: _latency_summary(values) for name, values in self.latencies_by_system().items()
            },
        }

    def to_json(
        self, verdict: str, artifacts: dict[str, str], plots: dict[str, str] | None = None
    ) -> dict[str, Any]:
        return {
            "schema_version": SCHEMA_VERSION,
            "generated_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "verdict": verdict,
            "headline": headline(verdict, self.reasons) + documented_note(self.documented_only()),
            "reasons": [r.as_dict() for r in self.reasons],
            "totals": self.totals(),
            "properties": self.properties(),
            "conformance": self.conformance(),
            "chaos": self.chaos(),
            "chaos_overall_resilience": overall_resilience(self.chaos()) if self.chaos() else None,
            "runbook_findings": self.runbooks(),
            "oci_credentials": self.oci_credentials(),
            "deployments": self.deployments(),
            "lint_findings": self.lint,
            "systems": self.systems_section(),
            # third-party systems run beside this project's own: held to their profiles (README)
            "held_to_profile": self.documented_only(),
            "scope": self.scope(),
            "environment": self.env,
            "artifacts_sha256": artifacts,
            "plots": plots or {},
            **evidence(self.evidence_dir),
        }


def evidence(reports: Path) -> dict[str, Any]:
    """How far the certificate can be trusted: contract traceability (item -> tests) and the last
    mutation score of the bundled operator, when those files exist (keys absent otherwise)."""
    out: dict[str, Any] = {}
    try:
        rows = json.loads((reports / TRACEABILITY_JSON).read_text())
        out["traceability"] = {
            "items": len(rows),
            "covered": sum(r["status"] == "covered" for r in rows),
            "untestable": [
                {"id": r["id"], "why": r["untestable"]} for r in rows if r["status"] == "untestable"
            ],
            "missing": [r["id"] for r in rows if r["status"] == "NO TEST"],
            "rows": [{k: r[k] for k in ("id", "source", "text", "status", "tests")} for r in rows],
        }
    except (OSError, ValueError, KeyError, TypeError):
        pass
    try:
        mutation = json.loads((reports / MUTATION_JSON).read_text())
        out["mutation"] = {
            k: mutation[k]
            for k in ("generated", "operator", "total", "killed", "errors", "survived", "score")
        } | {
            "seconds": mutation.get("seconds"),
            "mutants": [
                {
                    k: m.get(k, "")
                    for k in ("name", "description", "verdict", "phase", "first_failure", "detail")
                }
                for m in mutation.get("mutants", [])
            ],
        }
    except (OSError, ValueError, KeyError, TypeError):
        pass
    if systems := bench.load(reports):
        out["bench_systems"] = systems | {
            "rows": bench.rows(systems),
            "columns": [c[2] for c in bench.COLUMNS],
        }
    return out


# -- rendering -------------------------------------------------------------------------------
def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value).replace("|", "\\|")


def render_evidence(doc: dict[str, Any]) -> list[str]:
    """Traceability summary and the mutation score of the bundled operator (when present)."""
    out: list[str] = []
    if trace := doc.get("traceability"):
        out += [
            "",
            "## Contract traceability",
            "",
            f"{trace['covered']} of {trace['items']} contract items have tests that fail when they are "
            f"violated; {len(trace['untestable'])} cannot be tested here; "
            f"without a test: {', '.join(trace['missing']) or 'none'} (table: reports/traceability.md).",
        ]
        out += [f"- {u['id']}: not testable here: {u['why']}" for u in trace["untestable"]]
    if mut := doc.get("mutation"):
        out += [
            "",
            "## Mutation score of the bundled operator",
            "",
            f"{mut['killed']}/{mut['total']} mutants killed ({mut['score']:.0%}), "
            f"{mut['survived']} survived, {mut['errors']} error(s); `make mutation` of {mut['generated']}.",
            "",
            "| mutant | verdict | phase | first failing test |",
            "|---|---|---|---|",
        ]
        out += [
            f"| {m['name']} | {m['verdict']} | {m['phase'] or 'all'} | "
            f"{_fmt(m['first_failure'] or m['detail'])} |"
            for m in mut["mutants"]
        ]
    return out


HELD_TO_PROFILE = (
    "A third-party system run beside this project's own systems keeps its own verdict above, and "
    "enters the run's verdict through its profile: the known failures its profile documents leave "
    "its column NOT CERTIFIED but not the run; a failure it does not document, anything that could "
    "not be judged of it, or a documented failure whose check passed (a stale profile) count "
    "(reports/README.md)."
)


def render_scope(scope: list[dict[str, str]], held: list[dict[str, Any]]) -> list[str]:
    """What the run does not certify, and how third-party systems entered its verdict."""
    if not scope and not held:
        return []
    out = ["## Scope", ""]
    out += [f"- **{s['system']}**: {s['statement']}" for s in scope]
    if held:
        out += ["", HELD_TO_PROFILE]
    return [*out, ""]


def render_markdown(doc: dict[str, Any]) -> str:
    """The plain-text twin of the page (for diffs and terminals), from the same JSON."""
    out = [f"# replicheck certification: **{doc['verdict']}**", ""]
    if doc.get("headline") and doc["headline"] != doc["verdict"]:
        out += [f"**{doc['headline']}**", ""]
    env = doc["environment"]
    several = doc.get("systems")
    what = (
        "Systems " + ", ".join(f"`{n}`" for n in several["names"])
        if several
        else f"Implementation `{env.get('implementation', '?')}`"
    )
    out.append(
        f"{what} "
        f"(source sha256 `{env.get('implementation.source_sha256', '?')[:16]}…`) on "
        f"{env.get('provider', '?')} Kubernetes {env.get('kubernetes', '?')}, profile "
        f"`{env.get('profile', '?')}`, run `{env.get('run_id', '?')}`, {doc['generated_at']}."
    )
    out.append("")
    if several:
        out += [f"- **{v['system']}**: {v['verdict']}" for v in several["verdicts"]] + [""]
    if doc["reasons"]:
        out += ["## Why not certified", "", *render_reasons(doc["reasons"]), ""]
    out += render_scope(doc.get("scope") or [], doc.get("held_to_profile") or [])
    out += render_systems(several)
    out += render_deployments(doc.get("deployments") or [])
    t = doc["totals"]
    out += [
        f"Tests: {t['total']} — {t['passed']} passed, {t['failed']} failed, {t['broken']} broken, "
        f"{t['skipped']} skipped; {t.get('no_verdict', 0)} of the failed and broken judged nothing "
        "(no verdict).",
        "",
    ]
    out += ["## Properties", "", "| property | status | tests | examples | seed |", "|---|---|---|---|---|"]
    for p in doc["properties"]:
        out.append(
            f"| {p['property']}: {p['title']} | {p['status']} | {p['tests']} | {_fmt(p['examples'])} | "
            f"{_fmt(p['seed'])} |"
        )
    for p in doc["properties"]:
        for f in p["failures"]:
            out += [
                "",
                f"- **Property {p['property']} failure** `{f['test']}`: {f['message']}",
                f"  reproduce: `{f['reproduce']}`",
            ]
    lat = next(p.get("latency_s") for p in doc["properties"] if p["property"] == "6")
    if lat:
        out += [
            "",
            "### Property 6 latency (source update → last copy)",
            "",
            "| samples | p50 s | p95 s | p99 s | max s | bound s |",
            "|---|---|---|---|---|---|",
            f"| {lat['samples']} | {_fmt(lat['p50'])} | {_fmt(lat['p95'])} | {_fmt(lat['p99'])} | "
            f"{_fmt(lat['max'])} | {lat['bound']:.0f} |",
            "",
        ]
        if doc.get("plots", {}).get("latency"):
            out += [f"![latency distribution]({doc['plots']['latency']})", ""]
    else:
        out += ["", "Property 6 latency per system: see *Systems side by side* above.", ""]
    out += ["## Conformance (C1-C21)", "", "| id | behaviour | outcome | detail |", "|---|---|---|---|"]
    out += [
        f"| {c['id']} | {_fmt(c.get('title', ''))} | {c['outcome']} | {_fmt(c['detail'])} |"
        for c in doc["conformance"]
    ]
    out += [
        "",
        "## Chaos",
        "",
        "| experiment | passed | time to recovery s | resilience |",
        "|---|---|---|---|",
    ]
    out += [
        f"| {_fmt(c.get('experiment'))} | {_fmt(c.get('passed'))} | {_fmt(c.get('recovery_s'))} | "
        f"{_fmt(c.get('resilience'))} |"
        for c in doc["chaos"]
    ] or ["| (none run) | | | |"]
    if doc.get("chaos_overall_resilience") is not None:
        out += ["", f"Overall resilience score (Litmus, weighted): **{doc['chaos_overall_resilience']}%**"]
    out += render_oci(doc.get("oci_credentials"))
    out += ["", "## Runbook findings", ""]
    out += [
        f"- **{_fmt(r.get('runbook'))}** ({_fmt(r.get('fault'))})"
        + (f" in {r['experiment']}" if r.get("experiment") else "")
        + f": identified by step {_fmt(r.get('identifying_step'))}; "
        f"remedy restores service: {_fmt(r.get('remedy_restores'))}"
        + (f"; finding: {r['finding']}" if r.get("finding") else "")
        for r in doc["runbook_findings"]
    ] or ["- (none recorded)"]
    out += ["", "## Lint findings", ""]
    out += [f"- `{f['path']}:{f['line']}` {f['code']} {f['message']}" for f in doc["lint_findings"]] or [
        "- none"
    ]
    out += render_evidence(doc)
    out += bench.markdown(doc.get("bench_systems"))
    out += ["", "## Environment", "", "| key | value |", "|---|---|"]
    out += [f"| {k} | {_fmt(v)} |" for k, v in sorted(env.items())]
    out += ["", "## Artifacts (SHA-256)", "", "| file | sha256 |", "|---|---|"]
    out += [f"| {k} | `{v}` |" for k, v in sorted(doc["artifacts_sha256"].items())]
    return "\n".join(out) + "\n"


RAN_AS = {
    "processes": "local processes",
    "pods": "Pods (manifests)",
    "helm": "Pods (Helm chart)",
    "installed": "installed by its owner",
}


def render_deployments(rows: list[dict[str, Any]]) -> list[str]:
    """Markdown: how each system ran (processes beside the control plane, or Pods on nodes)."""
    if not rows:
        return []
    out = [
        "## How each system ran",
        "",
        "| system | ran as | cluster | nodes | image (by digest) | chart |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        ran = RAN_AS.get(str(r["runs_as"]), r["runs_as"])
        image, chart = _fmt(r["image"] or "—"), _fmt(r["chart"] or "—")
        out.append(f"| {r['system']} | {ran} | {r['provider']} | {r['nodes']} | {image} | {chart} |")
    return [*out, ""]


def render_systems(section: dict[str, Any] | None) -> list[str]:
    """Markdown of the systems matrix (nothing for a run of one system)."""
    if not section:
        return []
    names = section["names"]
    out = [
        "## Systems side by side",
        "",
        f"Cells: the worst outcome of the system's tests for the row, with the reason; n/a = does not apply. "
        f"Results without a system label belong to `{section['primary']}`.",
        "",
        "| row | " + " | ".join(names) + " |",
        "|---" * (len(names) + 1) + "|",
        "| **verdict** | " + " | ".join(f"**{v['verdict']}**" for v in section["verdicts"]) + " |",
    ]
    for row in section["rows"]:
        label = {
            "property": f"Property {row['key']}: {row['title']}",
            "scenario": f"{row['key']} {row['title']}",
        }
        cells = []
        for name in names:
            c = row["cells"][name]
            cells.append(_fmt(c["outcome"] + (f": {c['reason']}" if c["reason"] else "")))
        out.append(f"| {_fmt(label.get(row['group'], row['title']))} | " + " | ".join(cells) + " |")
    out += [
        "",
        "### Property 6 latency per system (source update → last copy)",
        "",
        "| system | samples | p50 s | p95 s | p99 s | max s | bound s |",
        "|---|---|---|---|---|---|---|",
    ]
    for name in names:
        lat = section["latency_s"][name]
        out.append(
            f"| {name} | {lat['samples']} | {_fmt(lat['p50'])} | {_fmt(lat['p95'])} | {_fmt(lat['p99'])} | "
            f"{_fmt(lat['max'])} | {lat['bound']:.0f} |"
        )
    out += ["", "![latency distribution per system](latency.png)", ""]
    for v in section["verdicts"]:
        if v["reasons"]:
            out += [f"Why **{v['system']}** is {v['verdict']}:", "", *render_reasons(v["reasons"]), ""]
    return out


def render_reasons(reasons: list[Any]) -> list[str]:
    """One Markdown line per reason: outcome, system, check and cause (plain strings of older
    reports as they are)."""
    out = []
    for r in reasons:
        if isinstance(r, dict):
            who = f"`{r['system']}` " if r.get("system") else "the run "
            check = f"`{_fmt(r['check'])}`: " if r.get("check") else ""
            out.append(f"- **{r['outcome']}**: {who}{check}{r['cause']}")
        else:
            out.append(f"- {r}")
    return out


def render_oci(oci: dict[str, Any] | None) -> list[str]:
    """Markdown of the "OCI credentials end to end" section (nothing when it did not run)."""
    if not oci:
        return []
    rot = oci.get("rotation_s") or {}
    out = [
        "",
        "## OCI credentials end to end",
        "",
        f"- Service namespaces authenticated to the registry: {_fmt(oci.get('namespaces_authenticated'))}"
        f" of {_fmt(oci.get('namespaces'))} (first pull {_fmt(oci.get('first_authentication_s'))} s)",
        f"- Negative control (wrong password): {_fmt(oci.get('negative_control'))}",
        f"- Rotation until every namespace authenticates again: p50 {_fmt(rot.get('p50'))} s, "
        f"p95 {_fmt(rot.get('p95'))} s, p99 {_fmt(rot.get('p99'))} s over {_fmt(rot.get('n'))} pulls "
        f"(bound {_fmt(rot.get('bound'))} s; Flux intervals {_fmt(oci.get('intervals_s'))})",
        f"- Registry, git server and Flux ready in {_fmt(oci.get('stack_ready_s'))} s",
    ]
    out += render_oci_releases(oci.get("releases"))
    out += [
        f"- Runbook Authentication Failure: {_fmt(r['fault'])} "
        + (
            f"identified by step {r['identified_by_step']}"
            if r.get("identified_by_step") is not None
            else "identified by no step"
        )
        for r in oci.get("runbook") or []
    ]
    return out


def render_oci_releases(rel: dict[str, Any] | None) -> list[str]:
    """Markdown of the HelmReleases (seed 000's step 6 with helm-controller on real nodes)."""
    if not rel:
        return []
    ready, rot, op = rel.get("ready_s") or {}, rel.get("rotation") or {}, rel.get("operator") or {}
    neg = rel.get("negative_control") or {}
    out = [
        "",
        "### HelmReleases from the registry (helm-controller, real nodes)",
        "",
        f"- Operator: HelmRelease {_fmt(op.get('helmrelease'))}, Ready {_fmt(op.get('ready'))}, chart "
        f"{_fmt(op.get('chart'))}, image {_fmt(op.get('image_digest'))}, {_fmt(op.get('replicas'))} replicas "
        f"(Ready after {_fmt(op.get('ready_s'))} s)",
        f"- Ready after the namespace and its credentials exist: p50 {_fmt(ready.get('p50'))} s, "
        f"p99 {_fmt(ready.get('p99'))} s (target {_fmt(rel.get('slo_s'))} s)",
        f"- Rotation until every HelmRelease is Ready again at the new chart with a new image pull: p50 "
        f"{_fmt(rot.get('p50'))} s, p95 {_fmt(rot.get('p95'))} s, p99 {_fmt(rot.get('p99'))} s over "
        f"{_fmt(rot.get('n'))} releases, {_fmt(rel.get('rotations'))} rotations "
        f"(bound {_fmt(rel.get('bound_s'))} s; intervals {_fmt(rel.get('intervals_s'))}, "
        f"helm wait {_fmt(rel.get('helm_timeout_s'))} s)",
        f"- Negative control ({_fmt(neg.get('namespace'))}, wrong password): {_fmt(neg.get('result'))}: "
        f"{_fmt(neg.get('source'))}; {_fmt(neg.get('helmrelease'))}",
        "",
        "| namespace | HelmRelease | Ready | chart version | image digest | pull |",
        "|---|---|---|---|---|---|",
    ]
    out += [
        f"| {_fmt(r.get('namespace'))} | {_fmt(r.get('helmrelease'))} | {_fmt(r.get('ready'))} | "
        f"{_fmt(r.get('chart_version'))} | {_fmt(r.get('image_digest'))} | {_fmt(r.get('pull'))} |"
        for r in rel.get("releases") or []
    ]
    return out


def run_lint(paths: list[str]) -> list[dict[str, Any]]:
    findings: list[dict[str, Any]] = []
    for path in paths:
        proc = subprocess.run(
            [sys.executable, "-m", "replicheck.cli", "lint", "--format", "json", path],
            capture_output=True,
            text=True,
            check=False,
            cwd=REPO_ROOT,
        )
        if proc.returncode in (0, 1) and proc.stdout.strip():
            findings += json.loads(proc.stdout)
        elif proc.returncode not in (0, 1):
            findings.append(
                {"path": path, "line": 0, "code": "LINT-ERROR", "message": first_line(proc.stderr)}
            )
    return findings


def draw_plots(report: Report, directory: Path) -> dict[str, str]:
    """The report's plots under ``directory`` (key -> file name): Property 6 latency (one
    distribution per system when the run certified several) and chaos time to recovery."""
    by_system = report.latencies_by_system()
    latency = (
        latency_systems_plot(by_system, TIMELINESS_BOUND_S, directory / "latency.png")
        if len(by_system) > 1
        else latency_plot(report.latencies(), directory / "latency.png")
    )
    plots = {}
    systems_bench = bench.plot(bench.load(report.evidence_dir), directory / "bench-systems.png")
    for key, made in (
        ("latency", latency),
        ("chaos", chaos_plot(report.chaos(), directory / "chaos.png")),
        ("bench_systems", systems_bench),
    ):
        if made:
            plots[key] = made.name
    return plots


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def build(
    pytest_exit: int | None,
    lint_paths: list[str],
    results_dir: Path = ALLURE_RESULTS,
    selected: list[str] | None = None,
) -> tuple[str, Path]:
    REPORTS.mkdir(exist_ok=True)
    env = read_properties(results_dir)
    records = read_records() if RECORDS_DIR.exists() else []
    report = Report(
        env, load_allure(results_dir), records, pytest_exit, run_lint(lint_paths), selected=selected
    )
    verdict = report.verdict()
    plots = draw_plots(report, REPORTS)
    artifacts = {}
    for path in [
        *(REPORTS / name for name in plots.values()),
        REPORTS / "bench.json",
        *sorted(CHAOS_DIR.glob("*.json")),
    ]:
        if path.exists():
            artifacts[str(path.relative_to(REPORTS))] = sha256(path)
    if results_dir.exists():
        sha = hashlib.sha256()
        for path in sorted(results_dir.iterdir()):
            if path.is_file():
                sha.update(path.name.encode() + b"\0" + path.read_bytes())
        artifacts["allure-results/ (all files)"] = sha.hexdigest()
    doc = report.to_json(verdict, artifacts, plots)
    md = render_markdown(doc)
    (REPORTS / "certification.md").write_text(md)
    (REPORTS / "certification.html").write_text(render_html(doc, REPORTS))
    doc["artifacts_sha256"]["certification.md"] = sha256(REPORTS / "certification.md")
    doc["artifacts_sha256"]["certification.html"] = sha256(REPORTS / "certification.html")
    out = REPORTS / "certification.json"
    out.write_text(json.dumps(doc, indent=2, default=str) + "\n")
    return verdict, out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m reports.build", description=__doc__.split("\n\n")[0])
    parser.add_argument("--pytest-exit", type=int, default=None, help="exit code of the test run")
    parser.add_argument(
        "--lint",
        action="append",
        default=None,
        help="paths to lint (default: the bundled operator's manifests)",
    )
    parser.add_argument(
        "--systems",
        default=None,
        help="comma list of the systems the run certified (default: those the results name)",
    )
    args = parser.parse_args(argv)
    lint_paths = args.lint or [str(Path("operator_under_test") / "deploy")]
    selected = [n for n in (args.systems or "").split(",") if n] or None
    verdict, out = build(args.pytest_exit, lint_paths, selected=selected)
    doc = json.loads(out.read_text())
    print(doc["headline"])
    for line in render_reasons(doc["reasons"]):
        print(f"  {line}")
    print("reports/certification.md, .html, .json")
    return EXIT_CODES[verdict]


if __name__ == "__main__":
    sys.exit(main())
