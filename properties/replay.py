"""A state machine run against a real system: a failure Hypothesis cannot replay is still a failure.

Why: Hypothesis replays a failing sequence to shrink and report it. A real controller is not
deterministic (watch timing, refresh intervals), so the replay may fail at another step
(``FlakyStrategyDefinition``: "data generation behaved differently") or not fail at all
(``FlakyFailure``). Both are Hypothesis errors, not assertions, and the run would call the check
unjudgeable although the system did fail an assertion of the model in a real run. The machine keeps
the assertions its steps failed with (its teardown sees them propagate); this reports the first one
with Hypothesis's reason. Without one, Hypothesis's error is its own and propagates unchanged.
"""

from __future__ import annotations

from typing import Any

from hypothesis import settings
from hypothesis.errors import Flaky
from hypothesis.stateful import run_state_machine_as_test


def run_reporting_unreplayed(factory: Any, profile: settings, failures: list[str]) -> None:
    """``run_state_machine_as_test``; a ``Flaky`` error after a step failed an assertion becomes an
    ``AssertionError`` carrying that first failure."""
    try:
        run_state_machine_as_test(factory, settings=profile)
    except Flaky as exc:
        if not failures:
            raise
        raise AssertionError(
            f"the cluster failed the model in a run that Hypothesis could not replay the same way "
            f"({type(exc).__name__}: the system behaved differently on replay); the first failure "
            f"seen:\n{failures[0]}"
        ) from exc
