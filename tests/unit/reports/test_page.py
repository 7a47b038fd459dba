"""The certification page's renderer (reports/page.py) without a browser: reasons in both schemas,
the verdict's first line, chaos outcomes, and node ids that wrap without changing their text.

What the page looks like in Chromium is tests/browser/test_certification_page.py's job.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from markupsafe import escape

from reports import page
from tests.unit.reports import sample

FAILURE = {
    "outcome": "NOT CERTIFIED",
    "system": "kr",
    "check": "Property 5",
    "cause": "not restored within 60 s",
}
HARNESS = {
    "outcome": "NO VERDICT",
    "system": None,
    "check": "tests/browser/test_certification_page.py::test_x",
    "cause": "/usr/bin/chromium is missing; run make browser",
}
NO_EVIDENCE = {
    "outcome": "NO VERDICT",
    "system": "bundled",
    "check": "chaos kill-operator",
    "cause": "no evidence",
}


@pytest.fixture(scope="module")
def failing_doc(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], Path]:
    """A NOT CERTIFIED run as reports/build.py writes it (schema 2)."""
    return sample.run(tmp_path_factory.mktemp("run"), failing=True)


def test_a_node_id_may_wrap_at_its_separators_and_keeps_its_text() -> None:
    nodeid = "tests/configmirror/test_configmirror.py::test_keeps_foreign_finalizers[<x> & y]"
    html = str(page.breakable(nodeid))
    assert html.replace("<wbr>", "") == str(escape(nodeid))
    assert html.count("<wbr>") == len(re.findall(r"::|[/._\[\]]", nodeid)) - 1  # none after the last "]"
    assert "<x>" not in html


def test_reasons_are_grouped_failures_first_and_a_plain_string_is_a_cause() -> None:
    groups = page.reason_groups([HARNESS, FAILURE, "3 failed and 0 broken tests", NO_EVIDENCE])
    assert [outcome for outcome, _ in groups] == ["NOT CERTIFIED", "NO VERDICT"]
    failures, unjudged = groups[0][1], groups[1][1]
    assert failures == [
        FAILURE,
        {"outcome": "NOT CERTIFIED", "system": "", "check": "", "cause": "3 failed and 0 broken tests"},
    ]
    assert unjudged == [HARNESS, NO_EVIDENCE]  # the report's order within a group
    assert page.reason_groups([]) == []


def test_the_first_line_is_the_headline_without_its_verdict_or_else_the_first_reason() -> None:
    doc = {"verdict": "NO VERDICT", "headline": f"NO VERDICT: {HARNESS['check']}: {HARNESS['cause']}"}
    assert page.headline_cause(doc) == f"{HARNESS['check']}: {HARNESS['cause']}"
    # schema 1: no headline; the first reason of the verdict's own kind
    assert page.headline_cause({"verdict": "NOT CERTIFIED", "reasons": ["kr: Property 5: fail"]}) == (
        "kr: Property 5: fail"
    )
    assert page.headline_cause({"verdict": "NO VERDICT", "reasons": [FAILURE, HARNESS]}) == (
        f"{HARNESS['check']}: {HARNESS['cause']}"
    )
    assert page.headline_cause({"verdict": "CERTIFIED", "headline": "CERTIFIED", "reasons": []}) == ""
    assert page.headline_cause({"verdict": "CERTIFIED", "reasons": []}) == ""


@pytest.mark.parametrize(
    ("record", "outcome"),
    [
        ({"passed": True}, "pass"),
        ({"passed": False}, "fail"),
        ({"passed": False, "verdict": "no verdict"}, "no verdict"),
        ({"passed": False, "verdict": "n/a"}, "n/a"),
        ({"passed": True, "verdict": "fail"}, "fail"),
        ({"passed": True, "verdict": "unheard of"}, "pass"),
    ],
)
def test_a_chaos_record_states_its_outcome_or_older_ones_derive_it(record: dict, outcome: str) -> None:
    assert page.chaos_outcome(record) == outcome


def test_every_reason_is_rendered_as_system_check_cause(failing_doc: tuple[dict[str, Any], Path]) -> None:
    doc, directory = failing_doc
    assert doc["schema_version"] == 2
    html = page.render_html(doc, directory)
    assert '<section class="banner fail" id="verdict" data-verdict="NOT CERTIFIED">' in html
    items = re.findall(r'<li data-outcome="([^"]+)">(.*?)</li>', html)
    assert [outcome for outcome, _ in items] == [r["outcome"] for r in doc["reasons"]]
    for (_, item), r in zip(items, doc["reasons"], strict=True):
        text = re.sub(r"<[^>]+>", "", item)
        system = "the run" if r["system"] is None else r["system"]
        assert text == str(escape(f"{system} · {r['check']} · {r['cause']}"))


def test_an_old_report_with_reasons_as_strings_still_shows_them(
    failing_doc: tuple[dict[str, Any], Path],
) -> None:
    doc, directory = failing_doc
    reasons = [page.reason_text(r) for r in doc["reasons"]]
    old = {k: v for k, v in doc.items() if k != "headline"} | {"schema_version": 1, "reasons": reasons}
    html = page.render_html(old, directory)
    assert '<section class="banner fail"' in html
    shown = re.findall(r'<li data-outcome="NOT CERTIFIED"><span class="cause">(.*?)</span></li>', html)
    assert shown == [str(escape(r)) for r in reasons]
    first_line = re.search(r'<p class="headline">(.*?)</p>', html)
    assert first_line is not None
    assert re.sub(r"<[^>]+>", "", first_line.group(1)) == "NOT CERTIFIED " + str(escape(reasons[0]))


def test_no_verdict_has_its_own_banner_and_badge(failing_doc: tuple[dict[str, Any], Path]) -> None:
    doc, directory = failing_doc
    unjudged = doc | {"verdict": "NO VERDICT", "headline": "NO VERDICT: harness: broke", "reasons": [HARNESS]}
    html = page.render_html(unjudged, directory)
    assert '<section class="banner none" id="verdict" data-verdict="NO VERDICT">' in html
    assert "Why there is no verdict" in html
    assert '<ul class="reasons no-verdict">' in html
    assert '<ul class="reasons failures">' not in html
    assert (
        '<span class="badge none">no verdict</span>'
        in page.environment()
        .from_string('{% from "_macros.html.j2" import badge %}{{ badge("no verdict") }}')
        .render()
    )
