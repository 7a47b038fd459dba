"""properties/replay.py with plain state machines (no cluster): a failure that does not replay the
same way is reported as the assertion it was; a machine that never failed keeps Hypothesis's error."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import HealthCheck, settings
from hypothesis.errors import Flaky
from hypothesis.stateful import RuleBasedStateMachine, rule

from properties.replay import Budget, run_reporting_unreplayed

PROFILE = settings(
    max_examples=5, stateful_step_count=3, database=None, suppress_health_check=list(HealthCheck)
)


def _machine(fails_once: bool, failures: list[str]) -> type[RuleBasedStateMachine]:
    calls = itertools.count()

    class OnceFailing(RuleBasedStateMachine):
        @rule()
        def step(self) -> None:
            if fails_once and next(calls) == 0:
                raise AssertionError("copy absent in ns-1")  # the first run only: not replayable

        def teardown(self) -> None:
            import sys

            failure = sys.exc_info()[1]
            if isinstance(failure, AssertionError):
                failures.append(str(failure))

    return OnceFailing


def test_a_failure_that_does_not_replay_is_reported_as_the_assertion_it_was() -> None:
    failures: list[str] = []
    with pytest.raises(AssertionError, match="could not replay the same way") as info:
        run_reporting_unreplayed(_machine(True, failures), PROFILE, failures)
    assert "copy absent in ns-1" in str(info.value)
    assert isinstance(info.value.__cause__, Flaky)


def test_hypothesis_errors_without_a_failed_step_stay_hypothesis_errors() -> None:
    failures: list[str] = []

    class Raises(RuleBasedStateMachine):
        @rule()
        def step(self) -> None:
            raise Flaky("Hypothesis's own")

    with pytest.raises(Flaky):
        run_reporting_unreplayed(Raises, PROFILE, failures)
    run_reporting_unreplayed(_machine(False, failures), PROFILE, failures)  # passes: nothing raised
    assert failures == []


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_past_the_budget_no_example_starts_and_the_run_ends_with_what_completed() -> None:
    clock = _Clock()
    budget = Budget(soft=10.0, hard=20.0, clock=clock)
    steps: list[int] = []

    class Slow(RuleBasedStateMachine):
        def __init__(self) -> None:
            budget.start_example()
            super().__init__()

        @rule()
        def step(self) -> None:
            budget.step()
            clock.now += 1.0  # every step costs a second of waiting
            steps.append(1)

    run_reporting_unreplayed(Slow, settings(PROFILE, max_examples=50), [], budget)
    assert budget.cut
    assert 0 < budget.examples < 50
    assert clock.now <= 10.0 + 3  # the example running at the soft limit finishes its 3 steps


def test_a_failure_found_before_the_budget_ran_out_is_still_reported() -> None:
    clock = _Clock()
    budget = Budget(soft=1.0, hard=2.0, clock=clock)
    failures: list[str] = []

    class FailsThenSlow(RuleBasedStateMachine):
        def __init__(self) -> None:
            budget.start_example()
            super().__init__()

        @rule()
        def step(self) -> None:
            budget.step()
            clock.now += 5.0  # the replay would start past both limits
            raise AssertionError("copy absent in ns-2")

        def teardown(self) -> None:
            import sys

            failure = sys.exc_info()[1]
            if isinstance(failure, AssertionError):
                failures.append(str(failure))

    with pytest.raises(AssertionError, match="copy absent in ns-2"):
        run_reporting_unreplayed(FailsThenSlow, settings(PROFILE, max_examples=50), failures, budget)
