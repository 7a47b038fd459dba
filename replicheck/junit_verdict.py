"""What a pytest JUnit report says about a mutant: killed, survived, or error (pure, no I/O but parsing).

A mutant counts as *killed* only when a test ran and failed its assertion: a ``<failure>`` whose
exception is an ``AssertionError`` (plain ``assert``, ``fixtures.core.waiting.WaitTimeout``), an explicit
``pytest.fail`` in the test body, or a strict xfail that passed. Everything else that went wrong is
an *error*, never a kill: a ``<error>`` (fixture crashed, cluster did not start, teardown failed), a
``<failure>`` raised by something other than an assertion (an ``ApiException`` in the test body, a
``pytest-timeout`` kill), a collection error, or a pytest run that stopped without a verdict.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

#: pytest exit codes (pytest.ExitCode): 0 ok, 1 tests failed, 2 interrupted (-x under xdist), 5 none ran
PASSED_CODES = (0, 5)
FAILED_CODES = (1, 2)

_ASSERTION = re.compile(
    r"^(?:(?:[\w.]+\.)?(?:AssertionError|WaitTimeout)\b|assert\s|Failed: (?!Timeout)|\[XPASS\(strict\)\])"
)


@dataclass(frozen=True)
class Case:
    """One ``<testcase>``: its id and, if it did not pass, how (``failure``/``error``) and why."""

    test: str
    outcome: str  # passed | skipped | failure | error
    message: str = ""

    @property
    def assertion_failed(self) -> bool:
        return self.outcome == "failure" and bool(_ASSERTION.match(self.message))


@dataclass(frozen=True)
class Verdict:
    verdict: str  # killed | passed | error
    test: str = ""
    message: str = ""


def first_line(text: str, limit: int = 200) -> str:
    lines = text.strip().splitlines()
    return lines[0][:limit] if lines else ""


def parse(xml_text: str) -> list[Case]:
    """Test cases in report order; raises ``ET.ParseError`` on a malformed report."""
    root = ET.fromstring(xml_text)  # noqa: S314 (our own pytest output)
    cases = []
    for node in root.iter("testcase"):
        classname, name = node.get("classname", ""), node.get("name", "")
        test = f"{classname}::{name}" if classname else name
        outcome, message = "passed", ""
        for tag in ("failure", "error", "skipped"):  # a failed call plus a teardown error: failure wins
            child = node.find(tag)
            if child is not None:
                outcome = tag
                message = (child.get("message") or child.text or "").strip()
                break
        cases.append(Case(test, outcome, message))
    return cases


def read(junit: Path) -> list[Case] | None:
    """The cases of a report file, or None if pytest wrote no (readable) report."""
    try:
        return parse(junit.read_text())
    except (OSError, ET.ParseError):
        return None


def verdict(cases: list[Case] | None, exit_code: int) -> Verdict:
    """Classify one pytest run of a mutant (or of the baseline: "killed" then means "failed").

    ``exit_code`` -1 means the run was stopped by the overall timeout.
    """
    if exit_code == -1:
        return Verdict("error", message="pytest run timed out")
    if cases is None:
        return Verdict("error", message=f"no JUnit report (pytest exit code {exit_code})")
    for case in cases:
        if case.assertion_failed:
            return Verdict("killed", case.test, first_line(case.message))
    for case in cases:
        if case.outcome in ("failure", "error"):
            kind = "setup/harness error" if case.outcome == "error" else "failed without an assertion"
            return Verdict("error", case.test, f"{kind}: {first_line(case.message)}")
    if exit_code in PASSED_CODES:
        return Verdict("passed")
    return Verdict("error", message=f"pytest exit code {exit_code} without a failing test")
