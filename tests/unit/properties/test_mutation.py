"""The mutation check's pure parts, and the shipped mutants still apply to the operator."""

from __future__ import annotations

from pathlib import Path

import pytest

from fixtures.mutation import describe, first_failure, prepare
from fixtures.paths import REPO_ROOT

MUTANTS = sorted((REPO_ROOT / "tests" / "mutants").glob("*.patch"))


def test_at_least_eight_mutants_ship() -> None:
    assert len(MUTANTS) >= 8


@pytest.mark.parametrize("patch", MUTANTS, ids=lambda p: p.stem)
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


def test_first_failure_reads_junit(tmp_path: Path) -> None:
    junit = tmp_path / "junit.xml"
    junit.write_text(
        '<testsuites><testsuite><testcase classname="properties.test_p5" name="test_ok"/>'
        '<testcase classname="properties.test_p5" name="test_bad">'
        '<failure message="AssertionError: namespace a differs&#10;more">trace</failure></testcase>'
        "</testsuite></testsuites>"
    )
    assert first_failure(junit) == ("properties.test_p5::test_bad", "AssertionError: namespace a differs")
    assert first_failure(tmp_path / "missing.xml") == ("", "")
