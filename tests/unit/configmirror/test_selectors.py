"""LabelSelector semantics of the ConfigMirror operator (pure logic, plain data)."""

from __future__ import annotations

import allure
import pytest
from hypothesis import given
from hypothesis import strategies as st

from fixtures.systems.configmirror import SYSTEM
from operator_under_test.configmirror.selectors import Requirement, Selector, SelectorError, parse_selector

pytestmark = allure.label("system", SYSTEM)  # ConfigMirror's column in the report

KEYS = st.sampled_from(["app", "tier", "example.com/team", "replicate"])
VALUES = st.sampled_from(["a", "b", "c", "true"])
LABELS = st.dictionaries(KEYS, VALUES, max_size=4)


def test_match_labels_are_anded() -> None:
    sel = parse_selector({"matchLabels": {"app": "myapp", "replicate": "true"}})
    assert sel.matches({"app": "myapp", "replicate": "true", "extra": "x"})
    assert not sel.matches({"app": "myapp"})
    assert not sel.matches({"app": "other", "replicate": "true"})


@pytest.mark.parametrize(
    ("op", "values", "labels", "expected"),
    [
        ("In", ["a", "b"], {"k": "a"}, True),
        ("In", ["a", "b"], {"k": "c"}, False),
        ("In", ["a"], {}, False),
        ("NotIn", ["a"], {"k": "b"}, True),
        ("NotIn", ["a"], {}, True),  # absent key satisfies NotIn (Kubernetes semantics)
        ("NotIn", ["a"], {"k": "a"}, False),
        ("Exists", [], {"k": ""}, True),
        ("Exists", [], {}, False),
        ("DoesNotExist", [], {}, True),
        ("DoesNotExist", [], {"k": "a"}, False),
    ],
)
def test_match_expressions(op: str, values: list[str], labels: dict[str, str], expected: bool) -> None:
    expr: dict = {"key": "k", "operator": op}
    if values:
        expr["values"] = values
    assert parse_selector({"matchExpressions": [expr]}).matches(labels) is expected


def test_empty_selector_selects_everything_and_none_is_refused() -> None:
    assert parse_selector({}).matches({})
    assert parse_selector({}).matches({"a": "b"})
    with pytest.raises(SelectorError, match="missing"):
        parse_selector(None)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"matchExpressions": [{"key": "k", "operator": "Equals", "values": ["a"]}]}, "not one of"),
        ({"matchExpressions": [{"key": "k", "operator": "In"}]}, "at least one value"),
        ({"matchExpressions": [{"key": "k", "operator": "Exists", "values": ["a"]}]}, "takes no values"),
        ({"matchExpressions": [{"operator": "Exists"}]}, "needs a key"),
        ({"matchLabels": {"k": 1}}, "must be a string"),
        ({"matchLabels": ["k"]}, "map of label"),
        ("app=x", "must be an object"),
    ],
)
def test_invalid_selectors_name_the_field(raw: object, message: str) -> None:
    with pytest.raises(SelectorError, match=message):
        parse_selector(raw)


@given(labels=LABELS, match=st.dictionaries(KEYS, VALUES, max_size=3))
def test_match_labels_equals_subset_relation(labels: dict[str, str], match: dict[str, str]) -> None:
    assert parse_selector({"matchLabels": match}).matches(labels) == (match.items() <= labels.items())


@given(labels=LABELS, key=KEYS, values=st.frozensets(VALUES, min_size=1, max_size=3))
def test_notin_is_the_complement_of_in(labels: dict[str, str], key: str, values: frozenset[str]) -> None:
    in_ = Selector((Requirement(key, "In", values),))
    not_in = Selector((Requirement(key, "NotIn", values),))
    assert in_.matches(labels) != not_in.matches(labels)
    exists = Selector((Requirement(key, "Exists"),)).matches(labels)
    assert exists != Selector((Requirement(key, "DoesNotExist"),)).matches(labels)
