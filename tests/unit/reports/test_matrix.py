"""The systems matrix on plain data: whose result is whose, cells and their reasons, per-system
verdicts, and that a run of one system keeps the page it always had."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from reports import build
from reports.matrix import (
    NOT_APPLICABLE,
    Outcome,
    deviation_text,
    matrix,
    named_systems,
    primary_system,
    system_of,
)
from tests.unit.reports.test_build import _all_green, _result

MIRROR = "configmirror"

# -- pure builder ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("implementation", "named", "primary"),
    [
        ("bundled", ["bundled"], "bundled"),
        ("bundled,kubernetes-replicator", ["bundled", "kubernetes-replicator"], "bundled"),
        (
            " kubernetes-replicator , bundled,bundled",
            ["kubernetes-replicator", "bundled"],
            "kubernetes-replicator",
        ),
        ("all", [], "bundled"),
        ("", [], "bundled"),
        (None, [], "bundled"),
    ],
)
def test_named_systems_and_the_primary_one(implementation: str | None, named: list, primary: str) -> None:
    assert named_systems(implementation) == named
    assert primary_system(implementation) == primary


def test_a_label_or_a_record_field_names_the_system_else_the_primary_one() -> None:
    assert system_of({"system": ["configmirror"]}, None, "bundled") == "configmirror"
    assert system_of({"story": ["C7: x"]}, None, "bundled") == "bundled"
    assert system_of(None, {"kind": "latency", "system": "configmirror"}, "bundled") == "configmirror"
    assert system_of(None, {"kind": "latency"}, "kubernetes-replicator") == "kubernetes-replicator"


def test_cells_show_the_worst_outcome_with_its_reason_and_rows_keep_their_order() -> None:
    outcomes = [
        Outcome("a", "chaos", "kill-operator", "kill-operator", "pass"),
        Outcome("a", "scenario", "C12", "copy deleted by hand", "pass", allure_uuid="u1"),
        Outcome(
            "a", "scenario", "C12", "copy deleted by hand", "fail", "copy not restored", ("- x", "+ y"), "u2"
        ),
        Outcome("b", "scenario", "C12", "copy deleted by hand", "known deviation", "restored at resync only"),
        Outcome("b", "property", "11", "Reflector Namespace Replication", "pass"),
        Outcome("a", "scenario", "C2", "allowed + auto-enabled", "pass"),
        Outcome("b", "scenario", "N3", "drift repair", "skipped", "no drift repair in this dialect"),
    ]
    rows = matrix(["a", "b"], outcomes, required={"a": [("property", "5")]})

    assert [(r["group"], r["key"]) for r in rows] == [
        ("property", "5"),
        ("property", "11"),
        ("scenario", "C2"),
        ("scenario", "C12"),
        ("scenario", "N3"),
        ("chaos", "kill-operator"),
    ]
    by_key = {r["key"]: r["cells"] for r in rows}
    assert by_key["C12"]["a"] == {
        "outcome": "fail",
        "reason": "copy not restored",
        "diff": ["- x", "+ y"],
        "allure_uuid": "u2",
        "tests": 2,
    }
    assert by_key["C12"]["b"]["outcome"] == "known deviation"
    assert by_key["C12"]["b"]["reason"] == "restored at resync only"
    assert by_key["C12"]["b"]["diff"] == []
    assert by_key["5"]["a"]["outcome"] == "not run"  # required of a, no result
    assert by_key["5"]["b"]["outcome"] == NOT_APPLICABLE  # b need not run it
    assert by_key["11"]["a"]["outcome"] == NOT_APPLICABLE
    assert by_key["N3"]["b"] == {
        "outcome": "skipped",
        "reason": "no drift repair in this dialect",
        "diff": [],
        "allure_uuid": "",
        "tests": 1,
    }
    assert by_key["kill-operator"]["b"]["outcome"] == NOT_APPLICABLE
    assert by_key["C2"]["a"]["reason"] == ""  # a pass needs no reason


def test_rows_that_apply_to_no_system_are_left_out_and_titles_name_rows() -> None:
    titles = {("scenario", "C1"): "allowed-only source", ("scenario", "C7"): "source data update"}
    rows = matrix(["a"], [Outcome("a", "scenario", "C7", "", "pass")], titles=titles)
    assert [(r["key"], r["title"]) for r in rows] == [("C7", "source data update")]


def test_deviation_text_drops_pytests_prefix() -> None:
    assert deviation_text("XFAIL known deviation of x (C16): dropped") == "C16: dropped"
    assert deviation_text("Skipped: no poison declaration") == "no poison declaration"
    assert deviation_text("plain") == "plain"


# -- the report of a run of several systems ---------------------------------------------------


def _green_bundled(directory: Path) -> list[dict[str, Any]]:
    """A certified bundled operator, its results unlabelled (the primary system)."""
    return _all_green(directory)


def _green_mirror(directory: Path) -> list[dict[str, Any]]:
    """A certified ConfigMirror: Properties 5, 6, 11 under its own titles, its own chaos."""
    _result(directory, "cm5", "passed", "Property 5: ConfigMap Replication Consistency", system=MIRROR)
    _result(directory, "cm6", "passed", "Property 6: ConfigMap Replication Timeliness", system=MIRROR)
    _result(directory, "cm11", "passed", "Property 11: ConfigMirror Namespace Replication", system=MIRROR)
    _result(directory, "test_finalizer", "passed", system=MIRROR)
    return [
        {"kind": "latency", "property": "6", "last_copy_s": 0.4, "system": "configmirror"},
        {"kind": "latency", "property": "6", "last_copy_s": 0.5, "system": "configmirror"},
        {
            "kind": "chaos",
            "experiment": "mirror-postgres-kill",
            "passed": True,
            "resilience": 100.0,
            "system": "configmirror",
        },
    ]


def _report(directory: Path, records: list[dict[str, Any]], implementation: str = "bundled") -> build.Report:
    env = {"profile": "ci", "implementation": implementation}
    report = build.Report(env, build.load_allure(directory), records, 0, [])
    report.evidence_dir = directory
    return report


def test_one_system_keeps_todays_report(tmp_path: Path) -> None:
    report = _report(tmp_path, _green_bundled(tmp_path))
    assert report.verdict() == build.CERTIFIED, report.reasons
    doc = report.to_json(build.CERTIFIED, {})
    assert report.systems() == ["bundled"]
    assert doc["systems"] is None
    p6 = next(p for p in doc["properties"] if p["property"] == "6")
    assert p6["latency_s"]["samples"] == 3
    md = build.render_markdown(doc)
    assert "Systems side by side" not in md
    assert "Implementation `bundled`" in md
    assert 'id="systems"' not in build.render_html(doc, tmp_path)


def test_bundled_and_configmirror_are_two_columns_each_certified(tmp_path: Path) -> None:
    records = _green_bundled(tmp_path) + _green_mirror(tmp_path)
    report = _report(tmp_path, records)

    assert report.verdict() == build.CERTIFIED, report.reasons
    doc = report.to_json(build.CERTIFIED, {})
    systems = doc["systems"]
    assert systems["names"] == ["bundled", "configmirror"]
    assert [(v["system"], v["verdict"]) for v in systems["verdicts"]] == [
        ("bundled", "CERTIFIED"),
        ("configmirror", "CERTIFIED"),
    ]
    cells = {(r["group"], r["key"]): r["cells"] for r in systems["rows"]}
    assert cells[("property", "5")]["configmirror"]["outcome"] == "pass"
    assert cells[("property", "7")]["configmirror"]["outcome"] == NOT_APPLICABLE
    assert cells[("scenario", "C7")]["configmirror"]["outcome"] == NOT_APPLICABLE
    assert cells[("chaos", "mirror-postgres-kill")]["bundled"]["outcome"] == NOT_APPLICABLE
    assert cells[("chaos", "mirror-postgres-kill")]["configmirror"]["outcome"] == "pass"
    assert systems["latency_s"]["bundled"]["samples"] == 3
    # Was 0.45 (interpolated between the two samples 0.4 and 0.5); the nearest rank
    # (fixtures.core.stats) is the 1st sample: 0.4.
    assert systems["latency_s"]["configmirror"]["p50"] == pytest.approx(0.4)
    assert next(p for p in doc["properties"] if p["property"] == "6")["latency_s"] is None
    md = build.render_markdown(doc)
    assert "## Systems side by side" in md
    assert "| row | bundled | configmirror |" in md
    assert "| configmirror | 2 |" in md
    assert "Systems `bundled`, `configmirror`" in md


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        (
            lambda d, r: _result(d, "cm5b", "failed", "Property 5: ConfigMap", "row missing", MIRROR),
            "configmirror: Property 5 (suites/test_x.py::cm5b): row missing",
        ),
        (
            lambda d, r: r.extend(
                {"kind": "latency", "property": "6", "last_copy_s": 90.0, "system": "configmirror"}
                for _ in range(3)
            ),
            "configmirror: Property 6: latency p99",
        ),
        (
            lambda d, r: (
                r.append({"kind": "chaos", "experiment": "mirror-kill-operator", "passed": False})
                or r[-1].update(system="configmirror")
            ),
            "configmirror: chaos mirror-kill-operator: experiment failed",
        ),
        (
            lambda d, r: _result(d, "test_db", "broken", None, "AssertionError: database gone", MIRROR),
            "configmirror: suites/test_x.py::test_db: AssertionError: database gone",
        ),
    ],
)
def test_one_system_failing_blocks_only_its_own_verdict(tmp_path: Path, mutate, reason: str) -> None:
    records = _green_bundled(tmp_path) + _green_mirror(tmp_path)
    mutate(tmp_path, records)
    report = _report(tmp_path, records)

    assert report.verdict() == build.NOT_CERTIFIED
    texts = [r.text() for r in report.reasons]
    assert any(r.startswith(reason) for r in texts), texts
    assert all(r.system == "configmirror" for r in report.reasons), texts
    verdicts = {v["system"]: v["verdict"] for v in report.system_verdicts()}
    assert verdicts == {"bundled": "CERTIFIED", "configmirror": "NOT CERTIFIED"}


def test_a_failed_cell_carries_the_reason_diff_and_allure_link(tmp_path: Path) -> None:
    records = _green_bundled(tmp_path) + _green_mirror(tmp_path)
    uid = _result(tmp_path, "cm11b", "failed", "Property 11: x", "replica missing in t2\n- a\n+ b", MIRROR)
    section = _report(tmp_path, records).systems_section()
    assert section is not None
    cell = next(r for r in section["rows"] if r["key"] == "11")["cells"]["configmirror"]
    assert cell["outcome"] == "fail"
    assert cell["reason"] == "replica missing in t2"
    assert cell["diff"] == ["replica missing in t2", "- a", "+ b"]
    assert cell["allure_uuid"] == uid


def test_a_named_system_that_produced_nothing_is_a_column_that_says_so(tmp_path: Path) -> None:
    records = _green_bundled(tmp_path)
    report = _report(tmp_path, records, implementation="bundled,kubernetes-replicator")

    assert report.verdict() == build.NO_VERDICT  # nothing failed; nothing judged it either
    assert [r.text() for r in report.reasons] == ["kubernetes-replicator: no test results for this system"]
    section = report.systems_section()
    assert section is not None
    cells = {r["key"]: r["cells"]["kubernetes-replicator"]["outcome"] for r in section["rows"]}
    assert cells["5"] == cells["6"] == cells["11"] == "not run"
    assert cells["7"] == NOT_APPLICABLE


def test_a_system_that_ran_the_reflector_suite_is_held_to_all_of_it(tmp_path: Path) -> None:
    records = _green_bundled(tmp_path)
    for number in ("5", "6", "11"):
        _result(tmp_path, f"r{number}", "passed", f"Property {number}: t", system="reflector")
    _result(tmp_path, "r_c7", "passed", "C7: source data update", system="reflector")
    records.append({"kind": "chaos", "experiment": "kill-operator", "passed": True, "system": "reflector"})
    report = _report(tmp_path, records)

    assert report.verdict() == build.NO_VERDICT  # C1-C21 bind it and only C7 ran: no evidence for the rest
    checks = [r.check for r in report.reasons]
    assert checks[:3] == ["C1", "C2", "C3"]
    assert "C7" not in checks
    assert {r.system for r in report.reasons} == {"reflector"}


def test_latency_side_by_side_is_one_plot_and_none_without_samples(tmp_path: Path) -> None:
    from matplotlib import image

    path = tmp_path / "latency.png"
    by_system = {"bundled": [0.1, 0.2, 0.15], "kubernetes-replicator": [18.0, 12.0], "none": []}
    assert build.latency_systems_plot(by_system, 60.0, path) == path
    assert image.imread(path).shape[1] > 400
    assert build.latency_systems_plot({"a": [], "b": []}, 60.0, path) is None
    assert not path.exists()


def test_a_run_of_configmirror_alone_is_judged_by_its_own_gates_not_the_reflector_ones(
    tmp_path: Path,
) -> None:
    records = _green_mirror(tmp_path)
    env = {"implementation": MIRROR, f"system.{MIRROR}.dialect": "configmirror"}
    report = build.Report(env, build.load_allure(tmp_path), records, 0, [], evidence_dir=tmp_path)

    assert report.systems() == [MIRROR]
    assert report.verdict() == build.CERTIFIED, report.reasons  # no C1-C21, no Property 7: not its gates
    assert report.to_json(build.CERTIFIED, {})["systems"] is None  # one system: the usual page

    reflector = {"implementation": MIRROR, f"system.{MIRROR}.dialect": "reflector"}
    again = build.Report(reflector, build.load_allure(tmp_path), records, 0, [], evidence_dir=tmp_path)
    assert again.verdict() == build.NO_VERDICT
    texts = [r.text() for r in again.reasons]
    assert "configmirror: C1: not run: no evidence" in texts
    assert "configmirror: Property 7: not run: no evidence" in texts


def test_a_chaos_experiment_a_profile_says_does_not_apply_is_n_a_with_its_reason(tmp_path: Path) -> None:
    """chaos/conftest.py records a ``chaos_not_applicable`` when a system's ChaosProfile rules an
    experiment out (leader-failover for a controller without leader election): its cell says n/a
    with that reason, the row keeps the other system's result, and nobody's verdict changes."""
    records = [
        *_green_bundled(tmp_path),
        {"kind": "chaos", "experiment": "leader-failover", "passed": True, "resilience": 100.0},
        {
            "kind": "chaos_not_applicable",
            "experiment": "leader-failover",
            "reason": "no leader election",
            "system": "other",
        },
    ]
    report = _report(tmp_path, records, implementation="bundled,other")
    rows = {(r["group"], r["key"]): r["cells"] for r in report.systems_section()["rows"]}
    cells = rows[("chaos", "leader-failover")]
    assert cells["bundled"]["outcome"] == "pass"
    assert cells["other"]["outcome"] == NOT_APPLICABLE
    assert cells["other"]["reason"] == "no leader election"
    assert not any("leader-failover" in r for r in report.only("bundled").gates())
