"""A pathological pattern must poison only its own source, quickly (Reflector H1, found by C4.redos)."""

from __future__ import annotations

import time

import pytest

from operator_under_test.replicator import annotations as a
from operator_under_test.replicator.planning import SourceView, plan

# Exponential for a backtracking engine even with the `regex` module's optimisations.
SLOW = r".*(a|aa)+!"
NAME = "rcab12cd-" + "a" * 40 + "-1f2e3d"


def test_catastrophic_backtracking_is_an_annotation_error_not_a_hang() -> None:
    (pattern,) = a.parse_patterns(a.ALLOWED_NAMESPACES, SLOW)
    t0 = time.monotonic()
    with pytest.raises(a.AnnotationError) as exc:
        pattern.fullmatch(NAME)
    # "not a hang": without the limit this takes ~2^40 steps. The bound is generous on purpose: a
    # tight one failed on a loaded 2-core machine and turned `make mutation` verdicts into noise
    # (how fast the limit trips is a measurement, not a unit-test assertion).
    assert time.monotonic() - t0 < 30
    assert "catastrophic backtracking" in str(exc.value)
    assert a.ALLOWED_NAMESPACES in str(exc.value)


def test_planning_turns_a_slow_pattern_into_an_error_plan_with_no_writes() -> None:
    annotations = {a.ALLOWED: "true", a.AUTO_ENABLED: "true", a.ALLOWED_NAMESPACES: SLOW}
    source = SourceView("src", "s", "1", annotations=annotations, type="Opaque")
    result = plan(("src", "s"), source, ["src", NAME], {})
    assert result.error is not None
    assert result.writes == ()
