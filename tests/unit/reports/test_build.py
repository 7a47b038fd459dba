"""The certification report builder on plain data: gates, percentiles, rendering, no secrets."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

from reports import build
from reports.environment import read_properties, write_properties


def _result(directory: Path, name: str, status: str, story: str | None = None, message: str = "") -> None:
    labels = [{"name": "feature", "value": "x"}]
    if story:
        labels.append({"name": "story", "value": story})
    doc = {
        "name": name,
        "fullName": f"suites.test_x#{name}",
        "status": status,
        "labels": labels,
        "statusDetails": {"message": message, "trace": ""},
        "start": 0,
        "stop": 1500,
    }
    (directory / f"{uuid.uuid4()}-result.json").write_text(json.dumps(doc))


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
    return build.Report({"profile": "ci"}, build.load_allure(directory), records, exit_code, [])


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
    md = build.render_markdown(doc, None)
    assert md.startswith("# replicheck certification: **CERTIFIED**")
    assert "| C21 | pass |" in md
    page = build.render_html(md, doc, None)
    assert "<table>" in page
    assert "<td>C21</td>" in page


def test_environment_properties_round_trip(tmp_path: Path) -> None:
    env = {"implementation": "bundled", "kubernetes": "v1.37.1", "odd": "a=b"}
    write_properties(tmp_path, env)
    assert read_properties(tmp_path) == env
