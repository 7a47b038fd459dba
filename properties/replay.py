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

import time
from collections.abc import Callable
from typing import Any

from hypothesis import settings
from hypothesis.errors import Flaky
from hypothesis.stateful import run_state_machine_as_test


def run_reporting_unreplayed(
    factory: Any, profile: settings, failures: list[str], budget: Budget | None = None
) -> None:
    """``run_state_machine_as_test``; a ``Flaky`` error after a step failed an assertion becomes an
    ``AssertionError`` carrying that first failure. A spent ``budget`` ends the run: it passes with
    the examples that completed unless a step failed before (Hypothesis's attempts to shrink or
    replay past the budget end at once, and may then see the run as flaky: that is the budget's doing,
    not the system's)."""
    try:
        run_state_machine_as_test(factory, settings=profile)
    except (BudgetExhausted, Flaky) as exc:
        cut = isinstance(exc, BudgetExhausted) or (budget is not None and budget.cut)
        if failures:
            how = (
                ""
                if cut
                else f" in a run that Hypothesis could not replay the same way ({type(exc).__name__}: "
                "the system behaved differently on replay)"
            )
            raise AssertionError(
                f"the cluster failed the model{how}; the first failure seen:\n{failures[0]}"
            ) from exc
        if not cut:
            raise


class BudgetExhausted(Exception):
    """The run's wall-clock budget is spent: no further example or step runs."""


class Budget:
    """A wall-clock budget for a state machine run against a real system, inside the test's timeout.

        A slow controller (ESO refreshes every 15 s) turns each step into seconds of waiting, and the
        profile's examples would outlast pytest-timeout, which ends the run with no verdict. Past ``soft``
        seconds no new example starts; past ``hard`` seconds no step runs: :class:`BudgetExhausted` is
        raised, which :func:`run_reporting_unreplayed` turns into the end of the run with the examples
        that completed (a failure found before is still reported; Hypothesis's attempts to shrink or
        replay it past the budget end at once). ``examples`` counts the examples that started,
    ``completed`` those that ran to their end: a run with none completed has no evidence."""

    def __init__(
        self,
        soft: float,
        hard: float,
        clock: Callable[[], float] = time.monotonic,
        started: float | None = None,
    ) -> None:
        self.soft, self.hard, self.clock = soft, hard, clock
        self.started = clock() if started is None else started  # the test's start (setup included)
        self.examples = 0
        self.completed = 0
        self.cut = False

    def elapsed(self) -> float:
        return self.clock() - self.started

    def start_example(self) -> None:
        if self.elapsed() > self.soft:
            self.cut = True
            raise BudgetExhausted(f"{self.elapsed():.0f} s spent of a {self.soft:.0f}-s budget")
        self.examples += 1

    def finish_example(self) -> None:
        """An example ran to its end (the machine's teardown, nothing propagating)."""
        self.completed += 1

    def step(self) -> None:
        if self.elapsed() > self.hard:
            self.cut = True
            raise BudgetExhausted(f"{self.elapsed():.0f} s spent, past the {self.hard:.0f}-s limit")
