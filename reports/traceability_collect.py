"""pytest plugin for reports/traceability.py: after collection, write each test's contract labels.

Labels: the arguments of ``@pytest.mark.contract(...)`` markers, and the id and key of the suites'
``@behaviour`` / ``@reflector_issue`` decorators (suites/contract.py). Used with ``--collect-only``.
"""

from __future__ import annotations

import json
import os

import pytest

from suites.contract import contract_of

OUTPUT = "REPLICHECK_TRACEABILITY_OUT"


def labels_of(item: pytest.Item) -> list[str]:
    labels: list[str] = []
    for mark in item.iter_markers("contract"):
        labels += [str(arg) for arg in mark.args]
    contract = contract_of(getattr(item, "function", None))
    if contract is not None:
        labels += [contract.cid, contract.key]
    return sorted(set(labels))


def pytest_collection_finish(session: pytest.Session) -> None:
    path = os.environ.get(OUTPUT)
    if path:
        with open(path, "w") as out:
            json.dump({item.nodeid: labels_of(item) for item in session.items}, out)
