"""The certification report builder on plain data: gates, percentiles, rendering, no secrets."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

from fixtures.environment import read_properties, write_properties
from reports import build


def _result(
    directory: Path,
    name: str,
    status: str,
    story: str | None = None,
    message: str = "",
    system: str | None = None,
) -> str:
    """One Allure result (its uuid); ``system``: the label of a run that certifies several systems."""
    labels = [{"name": "feature", "value": "x"}]
    if story:
        labels.append({"name": "story", "value": story})
    if system:
        labels.append({"name": "system", "value": system})
    result_id = str(uuid.uuid4())
    doc = {
        "uuid": result_id,
        "name": name,
        "fullName": f"suites.test_x#{name}",
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


def test_everything_green_is_certified(tmp_path: Path) -> None:
    report = _report(tmp_path, _all_green(tmp_path))
    assert report.verdict(), report.reasons
    assert report.reasons == []


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        (lambda d, r: _result(d, "test_extra", "failed", message="boom"), "1 failed and 0 broken tests"),
        (
            lambda d, r: r.append({"kind": "chaos", "experiment": "revoke-rbac", "passed": False}),
            "chaos experiments failed: revoke-rbac",
        ),
        (
            lambda d, r: (
                r.append({"kind": "latency", "property": "6", "last_copy_s": 120.0})
                or r.extend({"kind": "latency", "property": "6", "last_copy_s": 119.0} for _ in range(200))
            ),
            "Property 6 latency p99",
        ),
        (
            lambda d, r: _result(d, "test_C12_again", "failed", "C12: copy deleted by hand"),
            "conformance not passed: C12",
        ),
    ],
)
def test_each_gate_blocks_certification_with_a_reason(tmp_path: Path, mutate, reason: str) -> None:
    records = _all_green(tmp_path)
    mutate(tmp_path, records)
    report = _report(tmp_path, records)
    assert not report.verdict()
    assert any(reason in r for r in report.reasons), report.reasons


def test_empty_run_is_not_certified(tmp_path: Path) -> None:
    report = _report(tmp_path, [], exit_code=2)
    assert not report.verdict()
    assert "no test results were produced" in report.reasons
    assert "pytest exited with 2" in report.reasons


def test_a_controller_that_did_not_start_is_not_certified_and_says_why(tmp_path: Path) -> None:
    records = [
        {"kind": "setup_failure", "system": "kubernetes-replicator", "reason": "no binary; pass --x"}
    ] * 2  # one record per xdist worker
    report = _report(tmp_path, records, exit_code=1)
    assert not report.verdict()
    assert report.reasons[0] == "kubernetes-replicator did not start: no binary; pass --x"
    assert sum("did not start" in r for r in report.reasons) == 1


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
    assert not report.verdict()
    # a run of several systems: the system's own reasons carry its name once more, as a prefix
    assert any(
        r.endswith("kr: neutral.drift.delete failed; breaks Property 5: restored only at resync")
        for r in report.reasons
    ), report.reasons


def test_known_deviation_counts_as_accepted(tmp_path: Path) -> None:
    records = _all_green(tmp_path)
    records.append({"kind": "conformance", "id": "C13", "outcome": "known deviation", "detail": "#672"})
    report = _report(tmp_path, records)
    assert report.verdict(), report.reasons
    assert next(c for c in report.conformance() if c["id"] == "C13")["outcome"] == "known deviation"


def test_property_failure_carries_a_reproduction_command(tmp_path: Path) -> None:
    _result(tmp_path, "test_consistency", "failed", "Property 5: Secret Replication Consistency", "mismatch")
    row = next(p for p in _report(tmp_path, []).properties() if p["property"] == "5")
    assert row["status"] == "fail"
    assert row["failures"][0]["reproduce"].startswith(
        'make properties PROFILE=ci PYTEST_ARGS="-k test_consistency"'
    )


def test_percentiles_interpolate() -> None:
    assert build.percentile([], 50) is None
    assert build.percentile([1.0, 2.0, 3.0, 4.0], 50) == pytest.approx(2.5)
    assert build.percentile([5.0], 99) == 5.0


def test_rendered_markdown_and_html_show_verdict_and_tables(tmp_path: Path) -> None:
    report = _report(tmp_path, _all_green(tmp_path))
    certified = report.verdict()
    doc = report.to_json(certified, {"latency.png": "ab" * 32})
    md = build.render_markdown(doc)
    assert md.startswith("# replicheck certification: **CERTIFIED**")
    assert "| C21 | Helm release Secrets | pass |" in md
    page = build.render_html(doc, tmp_path)
    assert '<p class="verdict">CERTIFIED</p>' in page
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

    certified = report.verdict()
    doc = report.to_json(certified, {})

    assert not certified
    assert any("R99" in r for r in report.reasons)
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
    assert oci["rotation_s"]["p50"] == 3.5
    assert oci["runbook"] == [
        {"fault": "registry stopped", "identified_by_step": 4},
        {"fault": "wrong password", "identified_by_step": 3},
    ]
    text = "\n".join(build.render_oci(oci))
    assert "## OCI credentials end to end" in text
    assert "registry stopped identified by step 4" in text
    assert build.Report({}, [], [], 0, []).oci_credentials() is None
    assert [s.key for s in page.sections()].count("oci_credentials") == 1
