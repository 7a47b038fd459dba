"""Who is blamed for a test that did not pass (fixtures/plugins/verdicts.py), and what that makes the
certificate: a real pytest run with a failing harness fixture must give NO VERDICT, never NOT
CERTIFIED; a failed assertion must give NOT CERTIFIED."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from fixtures.core.errors import NoEvidence, NoVerdict
from fixtures.core.paths import REPO_ROOT
from fixtures.core.waiting import WaitTimeout
from fixtures.plugins.verdicts import FAIL, NO_VERDICT, did_not_start, is_assertion, judge
from reports import build


def _failed(message: str) -> BaseException:
    try:
        pytest.fail(message)
    except BaseException as exc:
        return exc
    raise AssertionError("pytest.fail did not raise")


@pytest.mark.parametrize(
    ("when", "exc", "expected"),
    [
        ("call", AssertionError("copy missing"), FAIL),
        ("call", WaitTimeout("copy not back within 60 s"), FAIL),
        ("call", _failed("the copy differs"), FAIL),
        ("call", ExceptionGroup("hypothesis", [AssertionError("a"), AssertionError("b")]), FAIL),
        ("call", ExceptionGroup("hypothesis", [AssertionError("a"), KeyError("b")]), NO_VERDICT),
        ("call", _failed("Timeout (>900.0s) from pytest-timeout."), NO_VERDICT),
        ("call", ConnectionRefusedError("api server gone"), NO_VERDICT),
        ("call", NoEvidence("no deletes by the operator", "0 of its requests in the window"), NO_VERDICT),
        ("call", NoVerdict("registry did not start"), NO_VERDICT),
        ("setup", _failed("kube-apiserver did not answer /readyz"), NO_VERDICT),
        ("setup", AssertionError("a fixture's own assert"), NO_VERDICT),
        ("teardown", OSError("cannot remove run dir"), NO_VERDICT),
        ("teardown", AssertionError("operator deleted something"), FAIL),
    ],
)
def test_only_a_failed_assertion_convicts_the_system(when: str, exc: BaseException, expected: str) -> None:
    assert judge("suites/conformance/test_x.py::test_y", when, exc).judgement == expected


def test_a_system_that_did_not_start_is_its_own_failure() -> None:
    did_not_start("replicator-0 not ready within 60s; see log")
    found = judge("suites/x.py::t", "setup", _failed("replicator-0 not ready within 60s; see log"))
    assert found.judgement == FAIL
    assert found.cause.startswith("did not start")


def test_a_harness_self_test_never_judges_a_system() -> None:
    found = judge("tests/browser/test_page.py::test_x", "call", AssertionError("scrollWidth 1597 > 1280"))
    assert found.judgement == NO_VERDICT
    assert found.cause == "harness self-test failed: scrollWidth 1597 > 1280"


def test_is_assertion_needs_every_exception_of_a_group() -> None:
    assert not is_assertion(ExceptionGroup("empty-ish", [ValueError("x")]))
    assert is_assertion(ExceptionGroup("g", [ExceptionGroup("inner", [AssertionError("x")])]))


def _run_pytest(tmp_path: Path, body: str) -> Path:
    """A real pytest session over ``body`` with our verdict plugin and Allure, as a phase runs."""
    test = tmp_path / "test_sample.py"
    test.write_text(textwrap.dedent(body))
    results = tmp_path / "allure"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "fixtures.plugins.verdicts",
            "-p",
            "no:cacheprovider",
            "-p",
            "no:randomly",
            f"--alluredir={results}",
            f"--rootdir={tmp_path}",
            "-c",
            str(tmp_path / "pytest.ini"),
            str(test),
        ],
        cwd=tmp_path,
        env={"PYTHONPATH": str(REPO_ROOT), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        check=False,
        timeout=120,
    )
    return results


def _report(results: Path, tmp_path: Path) -> build.Report:
    report = build.Report({}, build.load_allure(results), [], 1, [], evidence_dir=tmp_path)
    report.selected = ["bundled"]
    return report


def test_a_harness_fixture_that_fails_yields_no_verdict_not_not_certified(tmp_path: Path) -> None:
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    results = _run_pytest(
        tmp_path,
        """
        import pytest

        @pytest.fixture
        def cluster():
            raise RuntimeError("etcd did not start: port 2379 in use")

        def test_copies_land(cluster):
            assert True
        """,
    )
    report = _report(results, tmp_path)
    (result,) = report.results
    assert result.judgement == NO_VERDICT
    assert report.verdict() == build.NO_VERDICT
    assert any("etcd did not start" in r.cause for r in report.reasons), report.reasons
    assert not any(r.outcome == build.NOT_CERTIFIED for r in report.reasons)


def test_a_failed_assertion_of_a_check_yields_not_certified(tmp_path: Path) -> None:
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    results = _run_pytest(
        tmp_path,
        """
        def test_copies_land():
            assert {"a": "1"} == {"a": "2"}, "copy in ns-b differs from the source"
        """,
    )
    report = _report(results, tmp_path)
    (result,) = report.results
    assert result.judgement == FAIL
    assert report.verdict() == build.NOT_CERTIFIED
    assert any("copy in ns-b differs" in r.cause for r in report.reasons), report.reasons
