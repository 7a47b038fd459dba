"""The mutation check's pure parts: verdicts from plain JUnit XML, the phase split, and that the
shipped mutants still apply to the operator."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fixtures.core.paths import REPO_ROOT
from replicheck import junit_verdict
from replicheck.junit_verdict import Case, parse, verdict
from replicheck.mutation import (
    PHASES,
    UNIT,
    Outcome,
    conformance_paths,
    describe,
    first_failure,
    hints,
    phase_paths,
    prepare,
    pytest_command,
    summary,
)

MUTANTS = sorted((REPO_ROOT / "tests" / "mutants").glob("*.patch"))
#: every shipped mutant, the bundled operator's and ConfigMirror's (tests/mutants_configmirror)
ALL_MUTANTS = MUTANTS + sorted((REPO_ROOT / "tests" / "mutants_configmirror").glob("*.patch"))


def junit(*cases: str) -> str:
    return "<testsuites><testsuite>" + "".join(cases) + "</testsuite></testsuites>"


def case(name: str, inner: str = "", classname: str = "suites.test_x") -> str:
    return f'<testcase classname="{classname}" name="{name}">{inner}</testcase>'


ASSERTION = '<failure message="AssertionError: namespace a differs&#10;more">trace</failure>'
PLAIN_ASSERT = '<failure message="assert [1] == [2]">trace</failure>'
WAIT_TIMEOUT = '<failure message="fixtures.core.waiting.WaitTimeout: timed out after 30s">t</failure>'
PYTEST_FAIL = '<failure message="Failed: the copy was written">t</failure>'
XPASS_STRICT = '<failure message="[XPASS(strict)] known deviation">t</failure>'
SETUP_ERROR = '<error message="failed on setup with &quot;SetupError: cluster did not start&quot;">t</error>'
API_EXCEPTION = '<failure message="kubernetes.client.exceptions.ApiException: (500)">t</failure>'
TIMEOUT = '<failure message="Failed: Timeout &gt;900.0s">t</failure>'
SKIPPED = '<skipped message="needs kind"/>'


def test_at_least_thirty_mutants_ship() -> None:
    assert len(MUTANTS) >= 30


@pytest.mark.parametrize("patch", ALL_MUTANTS, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_each_mutant_applies_to_a_copy_of_the_operator_and_changes_it(patch: Path, tmp_path: Path) -> None:
    applied, output = prepare(patch, tmp_path)
    assert applied, output
    changed = [
        p
        for p in (tmp_path / "operator_under_test").rglob("*.py")
        if p.read_bytes() != (REPO_ROOT / p.relative_to(tmp_path)).read_bytes()
    ]
    assert changed, "the patch changed nothing"
    assert describe(patch), "every mutant says what it breaks"


def test_describe_strips_the_mutant_prefix(tmp_path: Path) -> None:
    patch = tmp_path / "x.patch"
    patch.write_text("Mutant x: breaks things.\n\n--- a/f\n+++ b/f\n")
    assert describe(patch) == "breaks things."


@pytest.mark.parametrize("inner", [ASSERTION, PLAIN_ASSERT, WAIT_TIMEOUT, PYTEST_FAIL, XPASS_STRICT])
def test_a_failed_assertion_kills(inner: str) -> None:
    cases = parse(junit(case("test_ok"), case("test_bad", inner)))
    result = verdict(cases, 1)
    assert result.verdict == "killed"
    assert result.test == "suites.test_x::test_bad"


@pytest.mark.parametrize("inner", [SETUP_ERROR, API_EXCEPTION, TIMEOUT])
def test_an_error_or_a_non_assertion_failure_is_an_error_verdict_not_a_kill(inner: str) -> None:
    result = verdict(parse(junit(case("test_ok"), case("test_broken", inner))), 1)
    assert result.verdict == "error"
    assert result.test == "suites.test_x::test_broken"
    assert result.message.startswith(("setup/harness error", "failed without an assertion"))


def test_an_assertion_failure_anywhere_in_the_report_wins_over_an_earlier_error() -> None:
    # xdist -x: one worker's fixture crashed while the other's test failed its assertion
    result = verdict(parse(junit(case("test_broken", SETUP_ERROR), case("test_bad", ASSERTION))), 2)
    assert (result.verdict, result.test) == ("killed", "suites.test_x::test_bad")


def test_a_failed_call_with_a_teardown_error_counts_as_the_failure() -> None:
    cases = parse(junit(case("test_bad", ASSERTION + SETUP_ERROR.replace("setup", "teardown"))))
    assert cases == [Case("suites.test_x::test_bad", "failure", "AssertionError: namespace a differs\nmore")]


def test_passing_and_skipped_tests_pass_and_no_tests_is_a_pass() -> None:
    assert verdict(parse(junit(case("test_ok"), case("test_kind", SKIPPED))), 0).verdict == "passed"
    assert verdict(parse(junit()), 5).verdict == "passed"


@pytest.mark.parametrize(
    ("cases", "code", "why"),
    [
        (None, 4, "no JUnit report"),
        ([], 3, "pytest exit code 3"),
        ([Case("t", "passed")], -1, "timed out"),
        ([Case("t", "passed")], 2, "without a failing test"),
    ],
)
def test_a_run_without_a_verdict_is_an_error(cases: list[Case] | None, code: int, why: str) -> None:
    result = verdict(cases, code)
    assert result.verdict == "error"
    assert why in result.message


def test_a_malformed_or_missing_report_reads_as_none(tmp_path: Path) -> None:
    (tmp_path / "bad.xml").write_text("<testsuites><testcase")
    assert junit_verdict.read(tmp_path / "bad.xml") is None
    assert junit_verdict.read(tmp_path / "missing.xml") is None


def test_first_failure_reads_junit(tmp_path: Path) -> None:
    report = tmp_path / "junit.xml"
    report.write_text(
        junit(
            case("test_ok", classname="properties.test_p5"), case("test_bad", ASSERTION, "properties.test_p5")
        )
    )
    assert first_failure(report) == ("properties.test_p5::test_bad", "AssertionError: namespace a differs")
    assert first_failure(tmp_path / "missing.xml") == ("", "")


def test_fast_and_slow_partition_the_conformance_test_set_and_likely_comes_first() -> None:
    def phases_of(slow: bool) -> list[str]:
        return [p.name for p in PHASES if not p.targeted and eval(p.marker, {}, {"slow": slow})]  # noqa: S307

    assert (phases_of(False), phases_of(True)) == (["fast"], ["slow"])
    assert PHASES[0].targeted
    assert PHASES[0].name == "likely"


def test_the_default_test_set_is_the_one_make_conformance_runs_suites_first() -> None:
    from fixtures.conformance.phases import PHASES as CONFORMANCE

    paths = conformance_paths()
    assert sorted(paths) == sorted({p for phase in CONFORMANCE for p in phase.paths})
    assert paths[0] == "suites"


def test_hints_are_read_from_the_header_and_filtered_by_the_selected_paths(tmp_path: Path) -> None:
    patch = tmp_path / "x.patch"
    patch.write_text(
        "Mutant x: breaks.\nTests: suites/a.py::test_1, chaos/b.py::test_2\n\n--- a/f\n+++ b/f\nTests: no\n"
    )
    assert hints(patch) == ["suites/a.py::test_1", "chaos/b.py::test_2"]
    likely, fast = PHASES[0], PHASES[1]
    assert phase_paths(likely, ["suites", "tests"], hints(patch)) == [UNIT, "suites/a.py::test_1"]
    assert phase_paths(likely, ["chaos"], hints(patch)) == ["chaos/b.py::test_2"]
    assert phase_paths(fast, ["suites"], hints(patch)) == ["suites"]


@pytest.mark.parametrize("patch", ALL_MUTANTS, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_every_hinted_test_exists(patch: Path) -> None:
    for test in hints(patch):
        file, _, name = test.partition("::")
        source = REPO_ROOT / file
        assert source.is_file(), f"{patch.name} names {file}, which does not exist"
        assert f"def {name.split('[')[0]}(" in source.read_text(), f"{patch.name}: no {test}"


def test_each_phase_runs_fail_fast_over_the_selected_paths(tmp_path: Path) -> None:
    cmd = pytest_command(PHASES[1], ["suites", "chaos"], "2", tmp_path / "j.xml", ["--deselect", "x"])
    assert "-x" in cmd
    assert cmd[cmd.index("-m", 3) + 1] == "not slow"
    assert cmd[-2:] == ["suites", "chaos"]
    assert cmd[cmd.index("-n") + 1] == "2"


def test_summary_is_the_score_with_the_first_failing_test_per_mutant() -> None:
    outcomes = [
        Outcome("01-a", "bug a", "killed", "unit", "tests/unit::test_x", "AssertionError"),
        Outcome("02-b", "bug b", "error", "fast", "suites::test_y", "setup/harness error: x"),
        Outcome("03-c", "bug c"),
    ]
    data = json.loads(json.dumps(summary(outcomes, {"unit": 3.0}, 60.0, ["suites"])))
    assert (data["total"], data["killed"], data["errors"], data["survived"]) == (3, 1, 1, 1)
    assert data["score"] == pytest.approx(1 / 3, abs=1e-3)
    assert data["mutants"][0]["first_failure"] == "tests/unit::test_x"
    assert [m["verdict"] for m in data["mutants"]] == ["killed", "error", "survived"]
