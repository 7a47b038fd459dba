"""Build the certification report (reports/certification.{json,md,html} + latency PNG).

Inputs, all produced by the run: Allure results (one per test, with feature/story labels),
replicheck records (reports/records/*.jsonl: latencies, example counts, conformance, chaos and
runbook outcomes), chaostoolkit journals (reports/chaos/), environment.properties, and a lint
pass over the implementation's manifests. The verdict is CERTIFIED only if every gate holds;
otherwise the reasons say which did not. A failed or partial run still gets a full report.

    python -m reports.build [--pytest-exit N] [--lint PATH ...]   # exit 0 only if CERTIFIED
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
from fixtures.environment import read_properties
from fixtures.paths import REPO_ROOT
from fixtures.record import RECORDS_DIR, read_records
from reports.catalogue import BEHAVIOUR_TITLES, PROPERTY_TEXT
from reports.charts import chaos_plot, latency_plot
from reports.page import render_html

REPORTS = REPO_ROOT / "reports"
ALLURE_RESULTS = REPORTS / "allure-results"
CHAOS_DIR = REPORTS / "chaos"
PROPERTIES = {number: text.title for number, text in PROPERTY_TEXT.items()}
CONTRACT_IDS = [f"C{i}" for i in range(1, 22)]
TIMELINESS_BOUND_S = 60.0
SCHEMA_VERSION = 1
#: written by `python -m reports.traceability` and `make mutation` (fixtures/mutation.py)
TRACEABILITY_JSON = "traceability.json"
MUTATION_JSON = "mutation.json"


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


def percentile(values: list[float], p: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    k = (len(ordered) - 1) * p / 100
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def _reproduce(result: TestResult, profile: str) -> str:
    test = (result.name or result.full_name.rsplit("#", 1)[-1]).split("[")[0]
    blob = re.search(r"@reproduce_failure\([^)]*\)", result.trace + result.message)
    cmd = f'make properties PROFILE={profile} PYTEST_ARGS="-k {test}"'
    return f"{cmd}" + (f"  # or add {blob.group(0)}" if blob else "")


def _first_line(text: str, limit: int = 300) -> str:
    line = next((ln.strip() for ln in text.splitlines() if ln.strip()), "")
    return line[:limit]


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
    return OUTCOMES.get(result.status, "fail")


@dataclass
class Report:
    env: dict[str, str]
    results: list[TestResult]
    records: list[dict[str, Any]]
    pytest_exit: int | None
    lint: list[dict[str, Any]]
    reasons: list[str] = field(default_factory=list)
    #: where reports/traceability.json and reports/mutation.json are read from
    evidence_dir: Path = REPORTS

    # -- sections ----------------------------------------------------------------------------
    def totals(self) -> dict[str, int]:
        out = {"passed": 0, "failed": 0, "broken": 0, "skipped": 0}
        for r in self.results:
            out[r.status] = out.get(r.status, 0) + 1
        out["total"] = len(self.results)
        return out

    def latencies(self) -> list[float]:
        values = []
        for rec in self.records:
            if rec["kind"] == "latency" and str(rec.get("property")) == "6":
                value = rec.get("last_copy_s", rec.get("seconds"))
                if isinstance(value, int | float):
                    values.append(float(value))
        return values

    def properties(self) -> list[dict[str, Any]]:
        profile = self.env.get("profile", "ci")
        rows = []
        lat = self.latencies()
        for number, title in PROPERTIES.items():
            story = f"Property {number}: {title}"
            tests = [r for r in self.results if story in r.label("story")]
            recs = [r for r in self.records if r["kind"] == "property" and str(r.get("property")) == number]
            failed = [t for t in tests if t.status in ("failed", "broken")]
            status = (
                "not run"
                if not tests
                else (
                    "fail" if failed else ("pass" if any(t.status == "passed" for t in tests) else "skipped")
                )
            )
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
                        "message": _first_line(t.message),
                        "diff": diff_lines(t.message, t.trace),
                        "reproduce": _reproduce(t, profile),
                        "allure_uuid": t.uuid,
                    }
                    for t in failed
                ],
            }
            if number == "6":
                row["latency_s"] = {
                    "samples": len(lat),
                    "p50": percentile(lat, 50),
                    "p95": percentile(lat, 95),
                    "p99": percentile(lat, 99),
                    "max": max(lat) if lat else None,
                    "bound": TIMELINESS_BOUND_S,
                }
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
                        "test": r.full_name,
                        "outcome": outcome,
                        "allure_uuid": r.uuid,
                    }
                )
                if row["outcome"] == "not run" or (row["outcome"] == "pass" and outcome != "pass"):
                    row["outcome"] = outcome
                    row["detail"] = _first_line(r.message)
                    row["diff"] = diff_lines(r.message, r.trace) if outcome == "fail" else []
        for row in rows.values():
            row["scenarios"].sort(key=lambda sc: (sc["outcome"] == "pass", sc["title"]))
        return [rows[cid] for cid in CONTRACT_IDS]

    def chaos(self) -> list[dict[str, Any]]:
        return [
            {k: v for k, v in rec.items() if k not in ("kind", "time")}
            for rec in self.records
            if rec["kind"] == "chaos"
        ]

    def runbooks(self) -> list[dict[str, Any]]:
        return [
            {k: v for k, v in rec.items() if k not in ("kind", "time")}
            for rec in self.records
            if rec["kind"] == "runbook"
        ]

    def oci_credentials(self) -> dict[str, Any] | None:
        """OCI credentials end to end (oci/): authentication, rotation latency, negative control,
        runbook steps. None when that phase did not run."""
        e2e = [r for r in self.records if r["kind"] == "oci_e2e"]
        runbooks = [r for r in self.records if r["kind"] == "oci_runbook"]
        rotations = [s for r in self.records if r["kind"] == "oci_rotation" for s in r.get("seconds") or []]
        if not (e2e or runbooks or rotations):
            return None
        last = e2e[-1] if e2e else {}
        return {
            "namespaces_authenticated": last.get("namespaces_authenticated"),
            "namespaces": last.get("namespaces"),
            "first_authentication_s": last.get("first_authentication_s"),
            "negative_control": last.get("negative_control"),
            "intervals_s": last.get("intervals_s"),
            "rotation_s": {
                "n": len(rotations),
                "p50": percentile(rotations, 50),
                "p95": percentile(rotations, 95),
                "p99": percentile(rotations, 99),
                "bound": last.get("bound_s"),
            },
            "stack_ready_s": (last.get("stack_timings") or {}).get("registry_git_flux_ready_s"),
            "runbook": [
                {"fault": fault, "identified_by_step": step}
                for r in runbooks
                for fault, step in sorted((r.get("identified") or {}).items())
            ],
        }

    # -- verdict -----------------------------------------------------------------------------
    def verdict(self) -> bool:
        reasons = self.reasons
        totals = self.totals()
        failures = {(r.get("system"), r.get("reason")) for r in self.records if r["kind"] == "setup_failure"}
        reasons += [f"{system} did not start: {why}" for system, why in sorted(failures)]
        if not self.results:
            reasons.append("no test results were produced")
        if self.pytest_exit not in (None, 0):
            reasons.append(f"pytest exited with {self.pytest_exit}")
        if totals["failed"] or totals["broken"]:
            reasons.append(f"{totals['failed']} failed and {totals['broken']} broken tests")
        for row in self.properties():
            if row["status"] != "pass":
                reasons.append(f"Property {row['property']} ({row['title']}): {row['status']}")
            p99 = (row.get("latency_s") or {}).get("p99")
            if p99 is not None and p99 > TIMELINESS_BOUND_S:
                reasons.append(f"Property 6 latency p99 {p99:.1f}s exceeds {TIMELINESS_BOUND_S:.0f}s")
        documented = {
            (r.get("system"), r.get("key"), r["known_failure"])
            for r in self.records
            if r["kind"] == "conformance" and r.get("known_failure") and r.get("outcome") == "fail"
        }
        reasons += [f"{system}: {key} failed; {why}" for system, key, why in sorted(documented)]
        bad = [c["id"] for c in self.conformance() if c["outcome"] not in ("pass", "known deviation")]
        if bad:
            reasons.append(f"conformance not passed: {', '.join(bad)}")
        chaos = self.chaos()
        if not chaos:
            reasons.append("no chaos experiment results")
        failed_chaos = [str(c.get("experiment")) for c in chaos if not c.get("passed")]
        if failed_chaos:
            reasons.append(f"chaos experiments failed: {', '.join(failed_chaos)}")
        missing = (evidence(self.evidence_dir).get("traceability") or {}).get("missing")
        if missing:
            reasons.append(f"contract items without a test (reports/traceability.md): {', '.join(missing)}")
        return not reasons

    def to_json(
        self, certified: bool, artifacts: dict[str, str], plots: dict[str, str] | None = None
    ) -> dict[str, Any]:
        return {
            "schema_version": SCHEMA_VERSION,
            "generated_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "verdict": "CERTIFIED" if certified else "NOT CERTIFIED",
            "reasons": self.reasons,
            "totals": self.totals(),
            "properties": self.properties(),
            "conformance": self.conformance(),
            "chaos": self.chaos(),
            "chaos_overall_resilience": overall_resilience(self.chaos()) if self.chaos() else None,
            "runbook_findings": self.runbooks(),
            "oci_credentials": self.oci_credentials(),
            "lint_findings": self.lint,
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


def render_markdown(doc: dict[str, Any]) -> str:
    """The plain-text twin of the page (for diffs and terminals), from the same JSON."""
    out = [f"# replicheck certification: **{doc['verdict']}**", ""]
    env = doc["environment"]
    out.append(
        f"Implementation `{env.get('implementation', '?')}` "
        f"(source sha256 `{env.get('implementation.source_sha256', '?')[:16]}…`) on "
        f"{env.get('provider', '?')} Kubernetes {env.get('kubernetes', '?')}, profile "
        f"`{env.get('profile', '?')}`, run `{env.get('run_id', '?')}`, {doc['generated_at']}."
    )
    out.append("")
    if doc["reasons"]:
        out += ["## Why not certified", ""] + [f"- {r}" for r in doc["reasons"]] + [""]
    t = doc["totals"]
    out += [
        f"Tests: {t['total']} — {t['passed']} passed, {t['failed']} failed, {t['broken']} broken, "
        f"{t['skipped']} skipped.",
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
    lat = next(p["latency_s"] for p in doc["properties"] if p["property"] == "6")
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
        f"- **{_fmt(r.get('runbook'))}** ({_fmt(r.get('fault'))}): identified by step "
        f"{_fmt(r.get('identifying_step'))}; remedy restores service: {_fmt(r.get('remedy_restores'))}"
        + (f"; finding: {r['finding']}" if r.get("finding") else "")
        for r in doc["runbook_findings"]
    ] or ["- (none recorded)"]
    out += ["", "## Lint findings", ""]
    out += [f"- `{f['path']}:{f['line']}` {f['code']} {f['message']}" for f in doc["lint_findings"]] or [
        "- none"
    ]
    out += render_evidence(doc)
    out += ["", "## Environment", "", "| key | value |", "|---|---|"]
    out += [f"| {k} | {_fmt(v)} |" for k, v in sorted(env.items())]
    out += ["", "## Artifacts (SHA-256)", "", "| file | sha256 |", "|---|---|"]
    out += [f"| {k} | `{v}` |" for k, v in sorted(doc["artifacts_sha256"].items())]
    return "\n".join(out) + "\n"


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
    out += [
        f"- Runbook Authentication Failure: {_fmt(r['fault'])} identified by step "
        f"{_fmt(r['identified_by_step'])}"
        for r in oci.get("runbook") or []
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
                {"path": path, "line": 0, "code": "LINT-ERROR", "message": _first_line(proc.stderr)}
            )
    return findings


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def build(
    pytest_exit: int | None, lint_paths: list[str], results_dir: Path = ALLURE_RESULTS
) -> tuple[bool, Path]:
    REPORTS.mkdir(exist_ok=True)
    env = read_properties(results_dir)
    records = read_records() if RECORDS_DIR.exists() else []
    report = Report(env, load_allure(results_dir), records, pytest_exit, run_lint(lint_paths))
    certified = report.verdict()
    plots = {}
    for key, made in (
        ("latency", latency_plot(report.latencies(), REPORTS / "latency.png")),
        ("chaos", chaos_plot(report.chaos(), REPORTS / "chaos.png")),
    ):
        if made:
            plots[key] = made.name
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
    doc = report.to_json(certified, artifacts, plots)
    md = render_markdown(doc)
    (REPORTS / "certification.md").write_text(md)
    (REPORTS / "certification.html").write_text(render_html(doc, REPORTS))
    doc["artifacts_sha256"]["certification.md"] = sha256(REPORTS / "certification.md")
    doc["artifacts_sha256"]["certification.html"] = sha256(REPORTS / "certification.html")
    out = REPORTS / "certification.json"
    out.write_text(json.dumps(doc, indent=2, default=str) + "\n")
    return certified, out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m reports.build", description=__doc__.split("\n\n")[0])
    parser.add_argument("--pytest-exit", type=int, default=None, help="exit code of the test run")
    parser.add_argument(
        "--lint",
        action="append",
        default=None,
        help="paths to lint (default: the bundled operator's manifests)",
    )
    args = parser.parse_args(argv)
    lint_paths = args.lint or [str(Path("operator_under_test") / "deploy")]
    certified, out = build(args.pytest_exit, lint_paths)
    doc = json.loads(out.read_text())
    print(f"{doc['verdict']}: reports/certification.md, .html, .json")
    for reason in doc["reasons"]:
        print(f"  - {reason}")
    return 0 if certified else 1


if __name__ == "__main__":
    sys.exit(main())
