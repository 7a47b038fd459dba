"""Labelling scenarios: which contract behaviour (C1-C21) or user-reported bug a test pins down.

`@behaviour("C7", "source data update")` marks a test `conformance` and gives it the Allure feature
and story the report builder reads; `@neutral("N2", "source update", key="neutral.update")` does the
same for a dialect-neutral scenario (suites/neutral/). `@reflector_issue(485, "source delete")`
marks a `regression` with its issue link. All record the key that system profiles use to list
deviations (suites/conftest.py turns a listed deviation into a strict xfail).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import allure
import pytest

F = TypeVar("F", bound=Callable[..., object])
ISSUES = "https://github.com/emberstack/kubernetes-reflector/issues/"
ATTRIBUTE = "__replicheck_contract__"


@dataclass(frozen=True)
class Contract:
    kind: str  # conformance | regression
    cid: str  # "C7" or "#485"
    key: str  # deviation key: "C7", "C13.manual", "#672"
    title: str


def contract_of(function: object) -> Contract | None:
    return getattr(function, ATTRIBUTE, None)


def behaviour(cid: str, title: str, *, key: str | None = None) -> Callable[[F], F]:
    """A conformance scenario for contract behaviour `cid` (reflector-semantics.md §6)."""

    def wrap(fn: F) -> F:
        fn = pytest.mark.conformance(fn)
        fn = allure.feature("conformance")(fn)
        fn = allure.story(f"{cid}: {title}")(fn)
        fn = allure.label("behaviour", key or cid)(fn)
        setattr(fn, ATTRIBUTE, Contract("conformance", cid, key or cid, title))
        return fn

    return wrap


def neutral(nid: str, title: str, *, key: str) -> Callable[[F], F]:
    """A dialect-neutral conformance scenario (suites/neutral/), run against every selected system;
    ``key`` (``neutral.<check>``) is what profiles list deviations by."""

    def wrap(fn: F) -> F:
        fn = pytest.mark.conformance(fn)
        fn = allure.feature("neutral conformance")(fn)
        fn = allure.story(f"{nid}: {title}")(fn)
        fn = allure.label("behaviour", key)(fn)
        setattr(fn, ATTRIBUTE, Contract("conformance", nid, key, title))
        return fn

    return wrap


def reflector_issue(*numbers: int, title: str, key: str | None = None) -> Callable[[F], F]:
    """A regression test for user-reported Reflector bug(s) (reflector-semantics.md §2)."""
    primary = f"#{numbers[0]}"

    def wrap(fn: F) -> F:
        fn = pytest.mark.regression(fn)
        fn = allure.feature("regression")(fn)
        fn = allure.story(f"{'/'.join(f'#{n}' for n in numbers)}: {title}")(fn)
        for number in numbers:
            fn = allure.issue(f"{ISSUES}{number}", f"Reflector #{number}")(fn)
            fn = allure.label("reflector_issue", str(number))(fn)
        setattr(fn, ATTRIBUTE, Contract("regression", primary, key or primary, title))
        return fn

    return wrap


def deviation_marker(implementation: str, key: str, text: str) -> pytest.MarkDecorator:
    """Known deviation: expected to fail with an AssertionError; a pass means the profile is stale."""
    return pytest.mark.xfail(
        reason=f"known deviation of {implementation} ({key}): {text}", strict=True, raises=AssertionError
    )


def outcome_of(report: pytest.TestReport) -> str:
    """The record outcome of a test report (values the report builder understands)."""
    if report.passed and not hasattr(report, "wasxfail"):
        return "pass"
    if report.skipped and hasattr(report, "wasxfail"):
        return "known deviation"
    if report.skipped:
        return "skipped"
    return "fail"
