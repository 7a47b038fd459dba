"""The certification report builder on plain data: gates, percentiles, rendering, no secrets."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

from fixtures.core.environment import read_properties, write_properties
from reports import build


def _result(
    directory: Path,
    name: str,
    status: str,
    story: str | None = None,
    message: str = "",
    system: str | None = None,
    judgement: str | None = None,
    module: str = "suites.test_x",
) -> str:
    """One Allure result (its uuid); ``system``: the label of a run that certifies several systems;
    ``judgement``: fixtures/plugins/verdicts.py's label on a test that did not pass."""
    labels = [{"name": "feature", "value": "x"}]
    if story:
        labels.append({"name": "story", "value": story})
    if system:
        labels.append({"name": "system", "value": system})
    if judgement:
        labels.append({"name": "judgement", "value": judgement})
    result_id = str(uuid.uuid4())
    doc = {
        "uuid": result_id,
        "name": name,
        "fullName": f"{module}#{name}",
        "status": status,
        "labels": labels,
        "statusDetails": {"message": message, "trace": ""},
        "start": 0,
        "stop": 1500,
    }
    (directory / f"{result_id}-result.json").write_text(json.dumps(doc))
    return result_id


def _all_green(directory: Path) -> list[dict]:
    for number, title in build.PROPERTIES.items():
        _result(directory, f"test_p{number}", "passed", f"Property {number}: {title}")
    for cid in build.CONTRACT_IDS:
        _result(directory, f"test_{cid}", "passed", f"{cid}: behaviour")
    return [{"kind": "latency", "property": "6", "last_copy_s": v} for v in (0.1, 0.2, 0.3)] + [
        {
            "kind": "chaos",
            "experiment": "kill-operator",
            "passed": True,
            "recovery_s": 2.0,
            "resilience": 100.0,
        }
    ]


def _report(directory: Path, records: list[dict], exit_code: int = 0) -> build.Report:
    report = build.Report({"profile": "ci"}, build.load_allure(directory), records, exit_code, [])
    report.evidence_dir = directory  # no traceability/mutation files unless a test writes them
    return report


def _texts(report: build.Report) -> list[str]:
    return [r.text() for r in report.reasons]


def test_everything_green_is_certified(tmp_path: Path) -> None:
    report = _report(tmp_path, _all_green(tmp_path))
    assert report.verdict() == build.CERTIFIED, report.reasons
    assert report.reasons == []


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        (
            lambda d, r: _result(d, "test_extra", "failed", message="AssertionError: boom"),
            "bundled: suites/test_x.py::test_extra: AssertionError: boom",
        ),
        (
            lambda d, r: r.append(
                {"kind": "chaos", "experiment": "revoke-rbac", "passed": False, "problems": ["hot loop"]}
            ),
            "bundled: chaos revoke-rbac: hot loop",
        ),
        (
            lambda d, r: (
                r.append({"kind": "latency", "property": "6", "last_copy_s": 120.0})
                or r.extend({"kind": "latency", "property": "6", "last_copy_s": 119.0} for _ in range(200))
            ),
            "bundled: Property 6: latency p99 119.0 s exceeds 60 s",
        ),
        (
            lambda d, r: _result(d, "test_C12_again", "failed", "C12: copy deleted by hand", "gone"),
            "bundled: C12 (suites/test_x.py::test_C12_again): gone",
        ),
    ],
)
def test_each_gate_blocks_certification_with_a_reason(tmp_path: Path, mutate, reason: str) -> None:
    records = _all_green(tmp_path)
    mutate(tmp_path, records)
    report = _report(tmp_path, records)
    assert report.verdict() == build.NOT_CERTIFIED
    assert any(reason in r for r in _texts(report)), _texts(report)
    assert all(r.outcome == build.NOT_CERTIFIED for r in report.reasons)


def test_empty_run_has_no_verdict(tmp_path: Path) -> None:
    report = _report(tmp_path, [], exit_code=2)
    assert report.verdict() == build.NO_VERDICT
    assert "no test results were produced" in _texts(report)
    assert "pytest: pytest exited with 2" in _texts(report)


def test_a_controller_that_did_not_start_is_not_certified_and_says_why(tmp_path: Path) -> None:
    records = [
        {"kind": "setup_failure", "system": "kubernetes-replicator", "reason": "no binary; pass --x"}
    ] * 2  # one record per xdist worker
    report = _report(tmp_path, records, exit_code=1)
    report.selected = ["kubernetes-replicator"]
    assert report.verdict() == build.NOT_CERTIFIED
    assert _texts(report)[0] == "kubernetes-replicator: deploy: did not start: no binary; pass --x"
    assert sum("did not start" in r for r in _texts(report)) == 1


def test_a_harness_fault_is_no_verdict_never_a_failure_of_the_system(tmp_path: Path) -> None:
    records = _all_green(tmp_path)
    _result(tmp_path, "test_page", "broken", message="/usr/bin/chromium is missing", module="tests.browser.t")
    _result(tmp_path, "test_c4", "broken", "C4: x", "ApiException: 503", judgement="no verdict")
    report = _report(tmp_path, records)
    assert report.verdict() == build.NO_VERDICT
    texts = _texts(report)
    assert "tests/browser/t.py::test_page: /usr/bin/chromium is missing" in texts  # the run's, no system
    assert "bundled: C4 (suites/test_x.py::test_c4): ApiException: 503" in texts
    assert all(r.outcome == build.NO_VERDICT for r in report.reasons)
    doc = report.to_json(build.NO_VERDICT, {})
    assert doc["headline"].startswith("NO VERDICT: ")
    run_level = [r for r in doc["reasons"] if r["system"] is None]
    assert run_level == [
        {
            "outcome": "NO VERDICT",
            "system": None,
            "check": "tests/browser/t.py::test_page",
            "cause": "/usr/bin/chromium is missing",
        }
    ]
    # a failure of the system outranks what could not be judged
    _result(tmp_path, "test_c5", "failed", "C5: y", "AssertionError: missing", judgement="system failure")
    again = _report(tmp_path, records)
    assert again.verdict() == build.NOT_CERTIFIED
    assert again.reasons[0].outcome == build.NOT_CERTIFIED


def test_a_phase_that_refused_an_option_is_no_verdict_with_its_line(tmp_path: Path) -> None:
    records = [
        *_all_green(tmp_path),
        {"kind": "phase", "phase": "ConfigMirror", "exit": 4, "line": "ERROR: --implementation: refused"},
    ]
    report = _report(tmp_path, records)
    assert report.verdict() == build.NO_VERDICT
    assert _texts(report) == ["phase ConfigMirror: ERROR: --implementation: refused"]


def test_a_chaos_check_without_evidence_is_no_verdict_and_n_a_is_nothing(tmp_path: Path) -> None:
    records = _all_green(tmp_path)
    records[-1] |= {"verdict": "no verdict", "passed": False, "no_evidence": ["no-deletes: 0 requests"]}
    records.append({"kind": "chaos", "experiment": "kind-only", "verdict": "n/a", "passed": False})
    report = _report(tmp_path, records)
    assert report.verdict() == build.NO_VERDICT
    assert _texts(report) == ["bundled: chaos kill-operator: no-deletes: 0 requests"]


def test_only_the_selected_systems_are_judged(tmp_path: Path) -> None:
    records: list[dict] = []
    _result(tmp_path, "test_other", "failed", "C7: x", "AssertionError: other", system="configmirror")
    for cid in build.CONTRACT_IDS:  # written in another dialect: skipped, not applicable
        _result(tmp_path, f"test_{cid}_kr", "skipped", f"{cid}: x", "not its dialect", system="kr")
    for number in build.SYSTEM_PROPERTIES:
        _result(tmp_path, f"test_p{number}_kr", "passed", f"Property {number}: t", system="kr")
    records += [{"kind": "latency", "property": "6", "last_copy_s": 0.2, "system": "kr"}]
    records += [{"kind": "chaos", "experiment": "kill-operator", "passed": True, "system": "kr"}]
    report = _report(tmp_path, records)
    report.selected = ["kr"]
    report.env["system.kr.dialect"] = "mittwald"  # what the harness writes for the report
    assert report.systems() == ["kr"]
    assert report.verdict() == build.CERTIFIED, _texts(report)


def test_a_documented_known_failure_is_the_reason_it_gives(tmp_path: Path) -> None:
    records = _all_green(tmp_path)
    failing = {"kind": "conformance", "id": "N6", "key": "neutral.drift.delete", "system": "kr"}
    records += [
        {**failing, "outcome": "fail", "known_failure": "breaks Property 5: restored only at resync"},
        {**failing, "system": "bundled", "outcome": "pass", "known_failure": None},
    ]
    _result(
        tmp_path, "test_drift_delete[kr]", "failed", "N6: a deleted copy is recreated", "timeout", system="kr"
    )
    report = _report(tmp_path, records)
    assert report.verdict() == build.NOT_CERTIFIED
    assert "kr: neutral.drift.delete: breaks Property 5: restored only at resync" in _texts(report)


def test_known_deviation_counts_as_accepted(tmp_path: Path) -> None:
    records = _all_green(tmp_path)
    records.append({"kind": "conformance", "id": "C13", "outcome": "known deviation", "detail": "#672"})
    report = _report(tmp_path, records)
    assert report.verdict() == build.CERTIFIED, report.reasons
    assert next(c for c in report.conformance() if c["id"] == "C13")["outcome"] == "known deviation"


def test_property_failure_carries_a_reproduction_command(tmp_path: Path) -> None:
    _result(tmp_path, "test_consistency", "failed", "Property 5: Secret Replication Consistency", "mismatch")
    row = next(p for p in _report(tmp_path, []).properties() if p["property"] == "5")
    assert row["status"] == "fail"
    assert row["failures"][0]["reproduce"].startswith(
        'make properties PROFILE=ci PYTEST_ARGS="-k test_consistency"'
    )


def test_latency_figures_use_nearest_rank() -> None:
    assert build.percentile([], 50) is None
    # Was 2.5 (linear interpolation between the 2nd and 3rd sample). The report now uses the one
    # definition in fixtures.core.stats, the nearest rank: the smallest sample with at least half
    # of the samples at or below it, 2.0 (rank ceil(0.5 * 4) = 2).
    assert build.percentile([1.0, 2.0, 3.0, 4.0], 50) == 2.0
    assert build.percentile([5.0], 99) == 5.0


def test_rendered_markdown_and_html_show_verdict_and_tables(tmp_path: Path) -> None:
    report = _report(tmp_path, _all_green(tmp_path))
    doc = report.to_json(report.verdict(), {"latency.png": "ab" * 32})
    md = build.render_markdown(doc)
    assert md.startswith("# replicheck certification: **CERTIFIED**")
    assert "| C21 | Helm release Secrets | pass |" in md
    page = build.render_html(doc, tmp_path)
    assert 'class="verdict">CERTIFIED<' in page
    assert '<tr id="C21">' in page
    assert "**" not in page
    assert "`" not in page


def test_conformance_rows_carry_title_scenarios_and_the_first_diff_lines(tmp_path: Path) -> None:
    records = _all_green(tmp_path)
    diff = "AssertionError: copies differ\nassert 1 == 2\n  - 2\n  + 1"
    _result(tmp_path, "test_c12_hand_delete", "failed", "C12: copy deleted by hand", diff)
    rows = {c["id"]: c for c in _report(tmp_path, records).conformance()}
    c12 = rows["C12"]
    assert (c12["title"], c12["outcome"]) == ("copy deleted by hand", "fail")
    assert c12["diff"] == ["AssertionError: copies differ", "assert 1 == 2", "  - 2", "  + 1"]
    assert [sc["outcome"] for sc in c12["scenarios"]] == ["fail", "pass"]  # failures first
    assert c12["scenarios"][0]["allure_uuid"]
    assert all(rows[cid]["title"] for cid in build.CONTRACT_IDS)


def test_diff_lines_fall_back_to_pytest_explanation_lines() -> None:
    trace = "def test():\n>   assert a == b\nE   assert 1 == 2\nE     +1\nE     -2\n"
    assert build.diff_lines("assert 1 == 2", trace) == ["assert 1 == 2", "+1", "-2"]
    assert build.diff_lines("", "") == []
    assert len(build.diff_lines("\n".join(f"line {i}" for i in range(50)))) == 8


def test_page_escapes_what_tests_printed(tmp_path: Path) -> None:
    records = _all_green(tmp_path)
    _result(tmp_path, "test_c3", "failed", "C3: list whitespace", "<script>alert(1)</script> & more")
    report = _report(tmp_path, records)
    doc = report.to_json(report.verdict(), {})
    page = build.render_html(doc, tmp_path)
    assert "<script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; more" in page


def test_plots_are_embedded_and_the_page_needs_no_network(tmp_path: Path) -> None:
    report = _report(tmp_path, _all_green(tmp_path))
    plots = {"latency": build.latency_plot(report.latencies(), tmp_path / "latency.png").name}
    plots["chaos"] = build.chaos_plot(report.chaos(), tmp_path / "chaos.png").name
    page = build.render_html(report.to_json(report.verdict(), {}, plots), tmp_path)
    assert page.count('src="data:image/png;base64,') == 2
    assert "http://" not in page
    assert "https://" not in page


def test_a_section_is_one_template_and_one_json_key(tmp_path: Path) -> None:
    from reports import page

    keys = [s.key for s in page.sections()]
    assert keys[:3] == ["environment", "systems", "properties"]
    assert "conformance" in keys
    assert all(s.title for s in page.sections())
    extra = tmp_path / "sections"
    extra.mkdir()
    (extra / "45-mutation.html.j2").write_text("{# title: Mutation score #}\n{{ section.score }}%")
    (extra / "notes.txt").write_text("not a section")
    found = page.sections(extra)
    assert [(s.key, s.title, s.always) for s in found] == [("mutation", "Mutation score", False)]


def test_stale_plots_are_removed_when_a_phase_did_not_run(tmp_path: Path) -> None:
    stale = tmp_path / "chaos.png"
    stale.write_bytes(b"old")
    assert build.chaos_plot([], stale) is None
    assert not stale.exists()


def test_environment_properties_round_trip(tmp_path: Path) -> None:
    env = {"implementation": "bundled", "kubernetes": "v1.37.1", "odd": "a=b"}
    write_properties(tmp_path, env)
    assert read_properties(tmp_path) == env


def test_traceability_and_mutation_score_appear_and_an_item_without_test_blocks(tmp_path: Path) -> None:
    rows = [
        {"id": "C7", "source": "s", "text": "update", "status": "covered", "tests": ["suites/x.py::t"]},
        {
            "id": "K8",
            "source": "s",
            "text": "cron",
            "status": "untestable",
            "tests": [],
            "untestable": "no cron",
        },
        {"id": "R99", "source": "s", "text": "new rule", "status": "NO TEST", "tests": [], "untestable": ""},
    ]
    (tmp_path / build.TRACEABILITY_JSON).write_text(json.dumps(rows))
    mutants = [
        {
            "name": "16-x",
            "description": "bug",
            "verdict": "killed",
            "phase": "likely",
            "first_failure": "suites/x.py::t",
            "detail": "AssertionError",
        }
    ]
    mutation = {
        "generated": "2026-12-02T10:00:00+00:00",
        "operator": "bundled",
        "total": 1,
        "killed": 1,
        "errors": 0,
        "survived": 0,
        "score": 1.0,
        "seconds": 60.0,
        "mutants": mutants,
    }
    (tmp_path / build.MUTATION_JSON).write_text(json.dumps(mutation))
    report = _report(tmp_path, _all_green(tmp_path))

    verdict = report.verdict()
    doc = report.to_json(verdict, {})

    assert verdict == build.NO_VERDICT  # the suite has a gap: it cannot judge R99
    assert any("R99" in r for r in _texts(report))
    assert doc["traceability"]["missing"] == ["R99"]
    assert doc["mutation"]["score"] == 1.0
    md = build.render_markdown(doc)
    assert "## Mutation score of the bundled operator" in md
    assert "1/1 mutants killed (100%)" in md
    assert "K8: not testable here: no cron" in md
    page = build.render_html(doc, tmp_path)
    assert "Mutation score of the bundled operator" in page
    assert "Contract traceability" in page


def test_oci_credentials_section_summarises_the_end_to_end_records(tmp_path: Path) -> None:
    from reports import page

    records = [
        {"kind": "oci_rotation", "seconds": [2.0, 3.0, 4.0]},
        {"kind": "oci_rotation", "seconds": [5.0]},
        {
            "kind": "oci_e2e",
            "namespaces_authenticated": 3,
            "namespaces": 3,
            "first_authentication_s": 3.4,
            "negative_control": "refused",
            "intervals_s": {"GitRepository": 2, "Kustomization": 2, "OCIRepository": 2},
            "bound_s": 66.0,
            "stack_timings": {"registry_git_flux_ready_s": 4.3},
        },
        {"kind": "oci_runbook", "identified": {"wrong password": 3, "registry stopped": 4}},
    ]
    report = build.Report({}, [], records, 0, [])
    oci = report.oci_credentials()
    assert oci is not None
    assert oci["rotation_s"]["n"] == 4
    # Was 3.5 (interpolated between 3.0 and 4.0); the nearest rank (fixtures.core.stats) of the four
    # rotation samples 2, 3, 4, 5 is the 2nd: 3.0.
    assert oci["rotation_s"]["p50"] == 3.0
    assert oci["runbook"] == [
        {"fault": "registry stopped", "identified_by_step": 4},
        {"fault": "wrong password", "identified_by_step": 3},
    ]
    text = "\n".join(build.render_oci(oci))
    assert "## OCI credentials end to end" in text
    assert "registry stopped identified by step 4" in text
    assert build.Report({}, [], [], 0, []).oci_credentials() is None
    assert [s.key for s in page.sections()].count("oci_credentials") == 1


def test_the_oci_section_lists_every_helmrelease_and_the_negative_control(tmp_path: Path) -> None:
    records = [
        {
            "kind": "oci_releases",
            "releases": [
                {
                    "namespace": "svc0-x",
                    "helmrelease": "svc0-x/service",
                    "ready": True,
                    "chart_version": "0.1.4",
                    "image_digest": "sha256:abc",
                    "pull": "pulled sha256:abc",
                }
            ],
            "negative_control": {
                "namespace": "wrong0-x",
                "result": "refused",
                "source": "OCIRepository wrong0-x/service-chart Ready=False AuthenticationFailed: 401",
                "helmrelease": "HelmRelease wrong0-x/service Ready=False",
            },
            "ready_s": {"p50": 9.5, "p99": 12.0, "n": 3},
            "rotation": {"p50": 10.0, "p95": 14.0, "p99": 14.5, "n": 9},
            "rotations": 3,
            "bound_s": 66.0,
            "slo_s": 60.0,
            "intervals_s": {"GitRepository": 2, "HelmRelease": 10},
            "helm_timeout_s": 60,
            "operator": {"helmrelease": "replicheck-system/replicheck-replicator", "ready": True},
        }
    ]
    report = build.Report({}, [], records, 0, [])
    oci = report.oci_credentials()
    assert oci is not None
    assert oci["releases"]["releases"][0]["chart_version"] == "0.1.4"
    text = "\n".join(build.render_oci(oci))
    assert "| svc0-x | svc0-x/service | True | 0.1.4 | sha256:abc | pulled sha256:abc |" in text
    assert "HelmRelease replicheck-system/replicheck-replicator, Ready True" in text
    assert "wrong password): refused: OCIRepository wrong0-x/service-chart Ready=False" in text
    html = build.render_html(report.to_json(report.verdict(), {}), tmp_path)
    assert "HelmReleases from the registry" in html
    assert "svc0-x/service" in html
    assert "AuthenticationFailed: 401" in html


def test_an_oci_fault_no_runbook_step_identified_says_so(tmp_path: Path) -> None:
    records = [{"kind": "oci_runbook", "identified": {"registry stopped": None, "secret missing": 1}}]
    report = build.Report({}, [], records, 0, [])
    oci = report.oci_credentials()
    assert oci is not None
    assert oci["runbook"] == [
        {"fault": "registry stopped", "identified_by_step": None},
        {"fault": "secret missing", "identified_by_step": 1},
    ]
    text = "\n".join(build.render_oci(oci))
    assert "registry stopped identified by no step" in text
    assert "secret missing identified by step 1" in text
    html = build.render_html(report.to_json(report.verdict(), {}), tmp_path)
    assert "registry stopped</td><td>identified by no step" in html
    assert "secret missing</td><td>identified by step 1" in html


def test_runbook_findings_say_where_the_runbook_was_carried_out(tmp_path: Path) -> None:
    """The same runbook is carried out by chaos experiments and, against HelmReleases, by the OCI
    phase (``oci-helmrelease``): each finding says where, which step identified the fault, whether
    the remedy restored service, and the finding in full (what Flux did, in its words)."""
    records = [
        {
            "kind": "runbook",
            "experiment": "oci-helmrelease",
            "runbook": "Pod Not Running",
            "fault": "crash loop (bad flag --no-such-flag through the release's extraArgs)",
            "cause": "bad-flag",
            "identifying_step": 2,
            "remedy_restores": True,
            "finding": "steps: 1 problem (crash-loop), 2 problem (bad-flag), 3 problem (release-not-ready), "
            "4 alert (crash-loop); Flux: HelmRelease ops/replicator Ready=True UpgradeSucceeded: Helm "
            "upgrade succeeded; its events since the fault: UpgradeFailed: timeout | RollbackSucceeded: "
            "Helm rollback to previous release ops/replicator.v3 succeeded",
        },
        {
            "kind": "runbook",
            "experiment": "kill-operator",
            "runbook": "Pod Not Running",
            "fault": "operator killed mid-fan-out",
            "identifying_step": 1,
            "remedy_restores": False,
            "finding": "step 3 does not apply to this deployment: this deployment has no HelmRelease",
        },
    ]
    report = build.Report({}, [], records, 0, [])
    doc = report.to_json(report.verdict(), {})
    assert [r["experiment"] for r in doc["runbook_findings"]] == ["oci-helmrelease", "kill-operator"]
    md = build.render_markdown(doc)
    assert (
        "- **Pod Not Running** (crash loop (bad flag --no-such-flag through the release's extraArgs)) "
        "in oci-helmrelease: identified by step 2; remedy restores service: True; finding: steps: 1 problem"
    ) in md
    assert "RollbackSucceeded: Helm rollback to previous release ops/replicator.v3 succeeded" in md
    assert "(operator killed mid-fan-out) in kill-operator: identified by step 1" in md
    html = build.render_html(doc, tmp_path)
    assert "<th>where</th>" in html
    assert "<td>oci-helmrelease</td>" in html
    assert "RollbackSucceeded: Helm rollback to previous release ops/replicator.v3 succeeded" in html
