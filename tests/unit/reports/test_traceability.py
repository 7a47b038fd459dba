"""Traceability: every contract item has a test that fails when it is violated, or says why not."""

from __future__ import annotations

from collections import Counter

import pytest

from reports.traceability import ITEMS, Item, collect, markdown, resolve, trace

TESTS = {
    "suites/conformance/test_lifecycle.py::test_c7": ["C7"],
    "suites/conformance/test_x.py::test_allowed": ["C9", "C9.allowed"],
    "chaos/test_kill_operator.py::test_kill_operator_mid_fanout[local]": [],
    "tests/operator/test_fencing.py::test_fenced": ["OB7"],
}


def test_a_label_resolves_to_the_tests_carrying_it_and_a_path_to_its_tests() -> None:
    assert resolve("C9.allowed", TESTS) == ["suites/conformance/test_x.py::test_allowed"]
    assert resolve("chaos/test_kill_operator.py", TESTS) == [
        "chaos/test_kill_operator.py::test_kill_operator_mid_fanout[local]"
    ]
    assert resolve("C99", TESTS) == []


def test_an_item_without_tests_is_reported_and_a_reason_makes_it_untestable() -> None:
    rows = trace(
        TESTS,
        (
            Item("A", "s", "covered", ("C7", "C42")),
            Item("B", "s", "no test", ("C43",)),
            Item("C", "s", "not here", untestable="needs kind"),
        ),
    )
    assert [r["status"] for r in rows] == ["covered", "NO TEST", "untestable"]
    assert rows[0]["dangling"] == ["C42"]
    text = markdown(rows)
    assert "**NO TEST**" in text
    assert "needs kind" in text


def test_a_test_marked_with_an_item_id_covers_that_item() -> None:
    rows = trace(TESTS, (Item("OB7", "s", "leader election"),))
    assert rows[0]["tests"] == ["tests/operator/test_fencing.py::test_fenced"]
    assert rows[0]["status"] == "covered"


def test_item_ids_are_unique_and_untestable_items_say_why() -> None:
    assert [i for i, n in Counter(item.id for item in ITEMS).items() if n > 1] == []
    assert all(item.refs or item.untestable for item in ITEMS)


@pytest.fixture(scope="module")
def collected() -> dict[str, list[str]]:
    return collect()


def test_every_contract_item_has_a_test_that_fails_when_it_is_violated(
    collected: dict[str, list[str]],
) -> None:
    rows = trace(collected)
    missing = [f"{r['id']} ({r['text']})" for r in rows if r["status"] == "NO TEST"]
    assert not missing, f"contract items without a test: {missing}"


def test_every_reference_names_a_collected_test(collected: dict[str, list[str]]) -> None:
    dangling = {r["id"]: r["dangling"] for r in trace(collected) if r["dangling"]}
    assert not dangling, f"references that name no collected test (renamed? removed?): {dangling}"


def test_every_c_scenario_and_reflector_bug_row_is_an_item() -> None:
    ids = {item.id for item in ITEMS}
    assert {f"C{i}" for i in range(1, 22)} <= ids
    assert {f"K{i}" for i in range(1, 9)} <= ids
    assert {f"B{i}" for i in range(1, 17)} <= ids
