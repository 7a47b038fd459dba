"""Plumbing for every test tagged with a seed property story (``Property N: ...``):

* one ``record("property", property=N, examples=..., seed=..., status=...)`` per test, for the
  certification report (examples are counted by wrapping the Hypothesis inner test, so every
  example, shrink attempts included, counts once; state machines count their own runs);
* the reproduce command: always as an (excluded) Allure parameter, and as a "Reproduce" section
  of the pytest report when the test fails, next to Hypothesis' own ``@reproduce_failure`` blob.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Iterator

import allure
import pytest
from hypothesis import core, is_hypothesis_test, settings

from fixtures.core.record import record
from oci.fixture import oci_stack  # noqa: F401 (Property 7 end to end runs on the OCI stack)
from properties import recording

_CALL = pytest.StashKey[pytest.TestReport]()


def _stories(item: pytest.Item) -> list[str]:
    out: list[str] = []
    for mark in item.iter_markers("allure_label"):
        if mark.kwargs.get("label_type") == "story":
            out.extend(str(a) for a in mark.args)
    return out


def _test_settings(item: pytest.Item) -> settings:
    return getattr(item.obj, "_hypothesis_internal_use_settings", None) or settings.default  # type: ignore[attr-defined]


def _seed(item: pytest.Item) -> str | None:
    machine_seed = getattr(item, "replicheck_machine_seed", None)
    if machine_seed is not None:
        return machine_seed
    if not is_hypothesis_test(item.obj):  # type: ignore[attr-defined]
        return None
    return recording.seed_of(item.obj, _test_settings(item).derandomize, core.global_force_seed)  # type: ignore[attr-defined]


def _reproduce(item: pytest.Item) -> str:
    name = getattr(item, "originalname", None) or item.name
    return recording.reproduce_command(name, settings.get_current_profile_name(), _seed(item))


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """When the test began, as pytest-timeout counts it (setup included): the state machine's
    budget (properties/replay.py) is measured from here."""
    item.replicheck_started = time.monotonic()  # type: ignore[attr-defined]


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Iterator[None]:
    outcome = yield
    report: pytest.TestReport = outcome.get_result()
    if report.when != "call" or recording.property_of(_stories(item)) is None:
        return
    item.stash[_CALL] = report
    if report.failed:
        report.sections.append(("Reproduce", _reproduce(item)))


@pytest.fixture(autouse=True)
def _property_bookkeeping(request: pytest.FixtureRequest) -> Iterator[None]:
    item = request.node
    prop = recording.property_of(_stories(item))
    if prop is None:
        yield
        return
    counter = recording.ExampleCounter(item)
    recording.start(counter)
    allure.dynamic.parameter("reproduce", _reproduce(item), excluded=True)
    test = item.obj
    original = None
    if is_hypothesis_test(test):
        original = test.hypothesis.inner_test

        @functools.wraps(original)
        def counted(*args: object, **kwargs: object) -> object:
            recording.count_example()
            return original(*args, **kwargs)

        test.hypothesis.inner_test = counted
    started = time.monotonic()
    try:
        yield
    finally:
        if original is not None:
            test.hypothesis.inner_test = original
        recording.start(None)
        counter.release()  # the failing example's namespaces, kept for the diagnostics until now
        report = item.stash.get(_CALL, None)
        record(
            "property",
            property=prop,
            test=item.nodeid,
            examples=counter.examples if original is not None or counter.examples else 1,
            seed=_seed(item),
            profile=settings.get_current_profile_name(),
            status=report.outcome if report is not None else "error",
            duration_s=round(time.monotonic() - started, 2),
        )
