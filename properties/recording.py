"""Per-test bookkeeping of the property tests: example counts, the seed, the reproduce command.

The plumbing lives in ``properties/conftest.py``; this module holds the pure parts and the counter
the tests (and the state machine) increment.
"""

from __future__ import annotations

import re
import shlex
from typing import Any

from hypothesis import settings
from hypothesis.errors import InvalidArgument

STORY = re.compile(r"^Property (\d+): ")


class ExampleCounter:
    """Per-test state: examples run, and the namespaces of the last failing example (kept for the
    failure diagnostics until the test's teardown, then deleted)."""

    def __init__(self, item: Any = None) -> None:
        self.examples = 0
        self.item = item
        self.kept: list[str] = []
        self.cluster: Any = None
        self.tracked = False

    @property
    def created(self) -> list[str]:  # what fixtures.plugins.diagnostics reads from a namespaces object
        return list(self.kept)

    def release(self) -> None:
        if self.cluster is not None:
            for ns in self.kept:
                self.cluster.delete_namespace(ns)
        self.kept = []


_current: ExampleCounter | None = None


def start(counter: ExampleCounter | None) -> None:
    global _current
    _current = counter


def keep_for_diagnostics(cluster: Any, namespaces: list[str]) -> bool:
    """A failing example hands its namespaces over instead of deleting them, so the failure report
    can show their objects and Events; the previous failing example's namespaces go now. Returns
    False (caller deletes) outside a property test."""
    counter = _current
    if counter is None or counter.item is None:
        return False
    counter.release()
    counter.cluster, counter.kept = cluster, list(namespaces)
    if not counter.tracked:
        try:
            from fixtures.plugins import diagnostics

            diagnostics.track(counter.item, cluster=cluster, namespaces=counter, label="failing example")
        except Exception:  # diagnostics must never change a test's outcome
            return True
        counter.tracked = True
    return True


def count_example() -> None:
    """One more example ran (called around every Hypothesis example and every machine run)."""
    if _current is not None:
        _current.examples += 1


def property_of(stories: list[str]) -> str | None:
    """The property number from the seed's Allure story (``Property 5: ...``)."""
    for story in stories:
        if m := STORY.match(story):
            return m.group(1)
    return None


def reproduce_command(test_name: str, profile: str, seed: str | None) -> str:
    """The one-line command that re-runs one property test with the same profile (and seed)."""
    args = f"-k {test_name}"
    if seed and seed.isdigit():
        args += f" --hypothesis-seed={seed}"
    return f"make properties PROFILE={profile} PYTEST_ARGS={shlex.quote(args)}"


def seed_of(test: Any, derandomize: bool, forced: Any) -> str | None:
    """What seeded the run: an explicit @seed, derandomization, --hypothesis-seed, or the generated seed."""
    explicit = getattr(test, "_hypothesis_internal_use_seed", None)
    if explicit is not None:
        return str(explicit)
    if derandomize:
        return "derandomized"
    if forced is not None:
        return str(forced)
    generated = getattr(test, "_hypothesis_internal_use_generated_seed", None)
    return None if generated is None else str(generated)


def tuned(kind: str) -> settings:
    """The active profile's per-property variant ``<profile>.<kind>`` (root conftest), if registered,
    else the active profile. Usable as a decorator: ``@tuned("replication")``."""
    try:
        return settings.get_profile(f"{settings.get_current_profile_name()}.{kind}")
    except InvalidArgument:
        return settings.default
