"""How a third-party system's known failures enter the run's verdict, on plain data.

Beside this project's own systems (``make conformance``: the bundled operator and ConfigMirror with
External Secrets Operator), a third-party system keeps its own column and verdict, and enters the
run's verdict through its profile: what the profile documents as known failures leaves its column
NOT CERTIFIED but not the run; a failure it does not document, what could not be judged of it, and a
documented failure whose check passed (a stale profile) count. A run of third-party systems alone is
their own certificate.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

from reports import build
from tests.unit.reports.test_matrix import _green_bundled

ESO = "external-secrets"
KNOWN = "neutral.unrelated,property5.occupied,property6.emptied"


def _labelled(directory: Path, name: str, status: str, labels: dict[str, str], message: str = "") -> None:
    doc = {
        "uuid": str(uuid.uuid4()),
        "name": name,
        "fullName": f"suites.neutral.test_replication#{name}",
        "status": status,
        "labels": [{"name": k, "value": v} for k, v in labels.items()],
        "statusDetails": {"message": message, "trace": ""},
        "start": 0,
        "stop": 1000,
    }
    (directory / f"{doc['uuid']}-result.json").write_text(json.dumps(doc))


def _eso(
    directory: Path, *, n5: str = "failed", n2: str = "passed", p5: str = "failed", p6: str = "failed"
) -> list[dict[str, Any]]:
    """ESO's results as measured (N5, Properties 5 and 6 fail as its profile documents), N2, Property
    11 and one chaos experiment passing."""
    judged = {"judgement": "system failure"}
    for name, status, key, story in (
        ("test_update", n2, "neutral.update", "N2: every copy follows an update of the source"),
        ("test_unrelated", n5, "neutral.unrelated", "N5: objects the system does not own are never touched"),
    ):
        extra = judged if status == "failed" else {}
        _labelled(directory, name, status, {"system": ESO, "behaviour": key, "story": story, **extra})
    for number, title, status in (
        ("5", "Secret Replication Consistency", p5),
        ("6", "Secret Replication Timeliness", p6),
        ("11", "Reflector Namespace Replication", "passed"),
    ):
        extra = judged if status == "failed" else {}
        _labelled(
            directory,
            f"test_p{number}",
            status,
            {"system": ESO, "story": f"Property {number}: {title}", **extra},
        )
    records: list[dict[str, Any]] = [
        {"kind": "latency", "property": "6", "last_copy_s": 8.0, "system": ESO},
        {"kind": "chaos", "experiment": "kill-operator", "passed": True, "resilience": 100.0, "system": ESO},
    ]
    if n5 == "failed":
        why = "breaks Property 5: an unrelated same-name Secret is adopted"
        records.append(
            {
                "kind": "conformance",
                "key": "neutral.unrelated",
                "outcome": "fail",
                "known_failure": why,
                "system": ESO,
            }
        )
    return records


def _report(directory: Path, records: list[dict[str, Any]], selected: list[str]) -> build.Report:
    env = {
        "profile": "ci",
        "implementation": ",".join(selected),
        f"system.{ESO}.dialect": "eso",
        f"system.{ESO}.third_party": "true",
        f"system.{ESO}.known_failures": KNOWN,
        f"system.{ESO}.scope": "seed 003's Vault half is out: Vault is BUSL-licensed, OpenBao not served",
        "system.bundled.dialect": "reflector",
    }
    return build.Report(
        env, build.load_allure(directory), records, 0, [], evidence_dir=directory, selected=selected
    )


def test_documented_known_failures_leave_the_column_not_certified_and_the_run_certified(
    tmp_path: Path,
) -> None:
    records = _green_bundled(tmp_path) + _eso(tmp_path)
    report = _report(tmp_path, records, ["bundled", ESO])
    assert report.holds_to_profiles()
    assert report.verdict() == build.CERTIFIED, report.reasons
    verdicts = {v["system"]: v for v in report.system_verdicts()}
    assert verdicts["bundled"]["verdict"] == build.CERTIFIED
    assert verdicts[ESO]["verdict"] == build.NOT_CERTIFIED
    checks = {r.check.split(" ")[0] for r in verdicts[ESO]["reasons"]}
    assert {"N5", "neutral.unrelated", "Property"} <= checks  # its column still says why
    doc = report.to_json(build.CERTIFIED, {})
    assert doc["held_to_profile"] == [{"system": ESO, "verdict": build.NOT_CERTIFIED, "documented": 3}]
    assert doc["headline"] == f"CERTIFIED ({ESO}: NOT CERTIFIED as its profile documents, 3 known failures)"
    assert doc["scope"] == [{"system": ESO, "statement": report.env[f"system.{ESO}.scope"]}]
    md = build.render_markdown(doc)
    assert "## Scope" in md
    assert "Vault is BUSL-licensed" in md
    assert "enters the run's verdict through its profile" in md
    html = build.render_html(doc, tmp_path)
    assert 'id="scope"' in html
    assert "OpenBao not served" in html


def test_an_undocumented_failure_of_a_third_party_system_fails_the_run(tmp_path: Path) -> None:
    records = _green_bundled(tmp_path) + _eso(tmp_path, n2="failed")
    report = _report(tmp_path, records, ["bundled", ESO])
    assert report.verdict() == build.NOT_CERTIFIED
    assert [r.check.split(" ")[0] for r in report.reasons] == ["N2"]
    assert report.to_json(build.NOT_CERTIFIED, {})["held_to_profile"] == []


def test_a_documented_failure_whose_check_passed_is_a_stale_profile(tmp_path: Path) -> None:
    records = _green_bundled(tmp_path) + _eso(tmp_path, n5="passed")
    report = _report(tmp_path, records, ["bundled", ESO])
    assert report.verdict() == build.NOT_CERTIFIED
    (reason,) = report.reasons
    assert (reason.system, reason.check) == (ESO, "neutral.unrelated")
    assert "stale" in reason.cause


def test_a_documented_property_failure_is_stale_when_the_property_passed(tmp_path: Path) -> None:
    records = _green_bundled(tmp_path) + _eso(tmp_path, p6="passed")
    report = _report(tmp_path, records, ["bundled", ESO])
    assert report.passed_keys(ESO) >= {"property6", "property11", "neutral.update", "chaos.kill-operator"}
    assert report.verdict() == build.NOT_CERTIFIED
    assert [(r.check, "stale" in r.cause) for r in report.reasons] == [("property6.emptied", True)]


def test_a_known_failure_whose_check_did_not_run_is_not_judged_stale(tmp_path: Path) -> None:
    records = _green_bundled(tmp_path) + _eso(tmp_path)
    report = _report(tmp_path, records, ["bundled", ESO])
    report.env[f"system.{ESO}.known_failures"] = KNOWN + ",scale.update"  # a bench figure: no check here
    assert report.verdict() == build.CERTIFIED, report.reasons


def test_third_party_systems_alone_are_their_own_certificate(tmp_path: Path) -> None:
    report = _report(tmp_path, _eso(tmp_path), [ESO])
    assert not report.holds_to_profiles()
    assert report.verdict() == build.NOT_CERTIFIED
    assert report.to_json(build.NOT_CERTIFIED, {})["held_to_profile"] == []


def test_documents_matches_a_check_key_or_any_known_failure_of_a_property() -> None:
    known = frozenset({"neutral.unrelated", "property5.occupied"})
    assert build.documents(known, "neutral.unrelated")
    assert build.documents(known, "property5")
    assert not build.documents(known, "property6")
    assert not build.documents(known, "neutral.update")
    assert not build.documents(known, "")
