"""Several systems certified in one run: whose result is whose, and the systems matrix.

Why: a certification suite earns trust when it tells controllers apart, with reasons, in one
report. When one run certifies several systems (``--implementation=bundled,kubernetes-replicator``,
``all``, or ``make conformance``, which certifies the bundled operator and ConfigMirror), the report gets one
column per system and one row per property, scenario and chaos experiment; each cell says pass,
known deviation or fail, with the reason.

The reporting contract (fixtures/systems/README.md): a test run against a system carries the
Allure label ``system=<name>``; a record written during such a test carries ``system=<name>``; a
result or record without it belongs to the run's *primary* system, the first one
``--implementation`` names (the default, ``bundled``, when it names none or says ``all``).

Everything here is pure (plain data in, plain data out) so it is unit-tested without a run.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

#: the Allure label and record field naming a result's system (fixtures/systems/README.md); the
#: default system and ``all`` as fixtures/systems/registry.py spells them (not imported: the report
#: builder must not load the harness's Kubernetes side)
SYSTEM_LABEL, DEFAULT, ALL = "system", "bundled", "all"
GROUPS = ("property", "scenario", "chaos")
#: worst first: a row's cell shows the worst outcome of that system's tests for the row
NOT_APPLICABLE = "n/a"
#: n/a last: a cell of a system's documented n/a (a chaos experiment its profile says does not
#: apply) shows the reason, and any other outcome on the row outranks it
#: "no verdict": the check could not judge the system (fixtures/plugins/verdicts.py), after a failure
NO_VERDICT = "no verdict"
OUTCOMES = ("fail", NO_VERDICT, "not run", "known deviation", "skipped", "pass", NOT_APPLICABLE)
#: "C7: source data update", "N3: drift repair": a scenario id and its title
SCENARIO_STORY = re.compile(r"^([A-Z]{1,3}\d+)\b:?\s*(.*)$")
PROPERTY_STORY = re.compile(r"^Property (\d+):\s*(.*)$")


def named_systems(implementation: str | None) -> list[str]:
    """The systems ``--implementation`` names, in order (``all`` names none by itself)."""
    names = [name.strip() for name in (implementation or "").split(",")]
    return [name for name in dict.fromkeys(names) if name and name != ALL]


def primary_system(implementation: str | None) -> str:
    """Who a result without a ``system`` label belongs to."""
    names = named_systems(implementation)
    return names[0] if names else DEFAULT


def system_of(labels: Mapping[str, list[str]] | None, record: Mapping[str, Any] | None, primary: str) -> str:
    """The system of an Allure result (its labels) or of a record; the primary one when unlabelled."""
    if labels and labels.get(SYSTEM_LABEL):
        return labels[SYSTEM_LABEL][0]
    if record and record.get(SYSTEM_LABEL):
        return str(record[SYSTEM_LABEL])
    return primary


def deviation_text(message: str) -> str:
    """The reason of a known deviation or a skip without pytest's ``XFAIL`` / ``Skipped:`` prefix,
    and without the column's own name again (``known deviation of S (KEY): text`` -> ``KEY: text``;
    the cell already says "known deviation" and the column names the system)."""
    text = re.sub(r"^\s*(XFAIL\s*|Skipped:\s*)", "", message).strip()
    return re.sub(r"^known deviation of \S+ \(([^)]*)\):\s*", r"\1: ", text)


@dataclass(frozen=True)
class Outcome:
    """One test's (or one chaos experiment's) verdict on one row for one system."""

    system: str
    group: str  # property | scenario | chaos
    key: str  # "6", "C12", "kill-operator"
    title: str
    outcome: str  # pass | known deviation | fail | no verdict | skipped | not run | n/a
    reason: str = ""
    diff: tuple[str, ...] = ()
    allure_uuid: str = ""


def _natural(key: str) -> list[Any]:
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", key)]


def _rank(outcome: str) -> int:
    return OUTCOMES.index(outcome) if outcome in OUTCOMES else 0


def cell(outcomes: list[Outcome], required: bool) -> dict[str, Any]:
    """One system's cell of one row: the worst outcome, its reason, diff and Allure link."""
    if not outcomes:
        outcome = "not run" if required else NOT_APPLICABLE
        return {"outcome": outcome, "reason": "", "diff": [], "allure_uuid": "", "tests": 0}
    worst = min(outcomes, key=lambda o: _rank(o.outcome))
    return {
        "outcome": worst.outcome,
        "reason": worst.reason if worst.outcome != "pass" else "",
        "diff": list(worst.diff) if worst.outcome == "fail" else [],
        "allure_uuid": worst.allure_uuid,
        "tests": len(outcomes),
    }


def matrix(
    systems: list[str],
    outcomes: Iterable[Outcome],
    required: Mapping[str, Iterable[tuple[str, str]]] | None = None,
    titles: Mapping[tuple[str, str], str] | None = None,
) -> list[dict[str, Any]]:
    """Rows (property, scenario, chaos; each in natural key order), one cell per system in each.

    ``required[system]`` lists the (group, key) rows that system must have run: without a result
    its cell is "not run"; a row a system did not run and is not required of it is "n/a". A row
    that is n/a for every system is left out. ``titles`` names rows (the first outcome's title
    otherwise).
    """
    required = {name: set(rows) for name, rows in (required or {}).items()}
    by_cell: dict[tuple[str, str, str], list[Outcome]] = {}
    named: dict[tuple[str, str], str] = dict(titles or {})
    for o in outcomes:
        by_cell.setdefault((o.system, o.group, o.key), []).append(o)
        named.setdefault((o.group, o.key), o.title)
    keys = set(named) | {row for rows in required.values() for row in rows}
    rows = []
    for group, key in sorted(keys, key=lambda gk: (GROUPS.index(gk[0]), _natural(gk[1]))):
        cells = {
            name: cell(by_cell.get((name, group, key), []), (group, key) in required.get(name, set()))
            for name in systems
        }
        if all(c["outcome"] == NOT_APPLICABLE for c in cells.values()):
            continue
        rows.append({"group": group, "key": key, "title": named.get((group, key), key), "cells": cells})
    return rows


def accepted(outcome: str) -> bool:
    """A cell that does not stand in the way of a certificate."""
    return outcome in ("pass", "known deviation", NOT_APPLICABLE)
