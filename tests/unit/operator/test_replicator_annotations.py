"""Annotation parsing: booleans, pattern lists and regex semantics (contract C3, C4, C5, C6)."""

from __future__ import annotations

import re

import pytest

from operator_under_test.replicator import annotations as a


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("true", True),
        ("True", True),
        ("TRUE", True),
        ("  true\n", True),
        ("false", False),
        ("False", False),
        ("yes", False),
        ("1", False),
        ("t", False),
        ("", False),
        (None, False),
        ('"true"', False),
    ],
)
def test_bool_follows_dotnet_semantics(value: str | None, expected: bool) -> None:
    assert a.parse_bool(value) is expected


@pytest.mark.parametrize(
    ("patterns", "namespace", "expected"),
    [
        ("ns-*", "ns-a", False),  # regex: 'ns' then any number of '-' (#430, #510)
        ("ns-*", "ns--", True),
        ("^ns-.*", "ns-a", True),
        ("ns-.*", "ns-a", True),
        ("ns-.*", "xns-a", False),  # implicitly anchored at the start ...
        ("ns", "ns-a", False),  # ... and at the end
        ("a|ab", "ab", True),  # fullmatch: documented difference from .NET's first-match rule
        ("a|ab", "a", True),
        ("cert-manager, metallb-system", "metallb-system", True),
        (" cert-manager ,, ,metallb-system ", "cert-manager", True),
        ("cert-manager,metallb-system", "kyverno", False),
        ("", "anything", True),  # empty list = all namespaces
        (" , ,", "anything", True),  # only empty entries = all namespaces
        (".*", "kube-system", True),
        ("team-[0-9]+", "team-42", True),
        ("team-[0-9]+", "team-x", False),
    ],
)
def test_pattern_list_matching(patterns: str, namespace: str, expected: bool) -> None:
    compiled = a.parse_patterns(a.ALLOWED_NAMESPACES, patterns)
    assert a.matches(compiled, namespace) is expected


def test_missing_list_means_all() -> None:
    assert a.parse_patterns(a.ALLOWED_NAMESPACES, None) == ()
    assert a.matches((), "whatever")


@pytest.mark.parametrize(
    ("entry", "fix_fragment"),
    [
        ("*", "'.*'"),
        ("*-ns", "'^.*-ns'"),
        ("ns-(", "valid Python regular expression"),
        ("[a-", "valid Python regular expression"),
    ],
)
def test_invalid_regex_is_a_typed_error_naming_annotation_entry_and_fix(
    entry: str, fix_fragment: str
) -> None:
    with pytest.raises(a.AnnotationError) as info:
        a.parse_patterns(a.AUTO_NAMESPACES, f"good, {entry}")
    err = info.value
    assert err.annotation == a.AUTO_NAMESPACES
    assert err.entry == entry
    assert fix_fragment in err.fix
    assert a.AUTO_NAMESPACES in str(err)
    assert repr(entry) in str(err)


def test_glob_hint_for_valid_but_suspicious_entry() -> None:
    hint = a.glob_hint("ns-*")
    assert hint is not None
    assert "'^ns-.*'" in hint
    assert a.glob_hint("^ns-.*") is None
    assert a.glob_hint(r"ns\*") is None


def _spec(**ann: str) -> a.ReflectionSpec:
    return a.parse_spec({a.PREFIX + k: v for k, v in ann.items()})


def test_auto_target_needs_allowed_and_auto_enabled() -> None:
    only_allowed = _spec(**{"reflection-allowed": "true"})
    assert only_allowed.permits("x")
    assert not only_allowed.auto_target("x")  # C1: allowed alone creates nothing
    auto = _spec(**{"reflection-allowed": "true", "reflection-auto-enabled": "True"})
    assert auto.auto_target("x")
    not_allowed = _spec(**{"reflection-auto-enabled": "true"})
    assert not not_allowed.auto_target("x")


def test_auto_set_is_allowed_and_auto_lists() -> None:
    spec = _spec(
        **{
            "reflection-allowed": "true",
            "reflection-allowed-namespaces": "a,b,c",
            "reflection-auto-enabled": "true",
            "reflection-auto-namespaces": "b,c,d",
        }
    )
    assert [ns for ns in "abcde" if spec.auto_target(ns)] == ["b", "c"]
    assert [ns for ns in "abcde" if spec.permits(ns)] == ["a", "b", "c"]


@pytest.mark.parametrize(
    "key", ["reflection-allowed-namespaces-selector", "reflection-auto-namespaces-selector"]
)
def test_label_selectors_are_refused_not_ignored(key: str) -> None:
    with pytest.raises(a.AnnotationError) as info:
        _spec(**{"reflection-allowed": "true", key: "env=prod"})
    assert info.value.annotation == a.PREFIX + key


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("ns/name", ("ns", "name")),
        (" ns / name ", ("ns", "name")),
        ('"ns/name"', ("ns", "name")),
        ("name", None),
        ("a/b/c", None),
        ("/name", None),
        ("ns/", None),
        ("", None),
        (None, None),
    ],
)
def test_parse_reflects(value: str | None, expected: tuple[str, str] | None) -> None:
    assert a.parse_reflects(value) == expected


def test_prefixed_and_is_source() -> None:
    ann = {a.ALLOWED: "true", "kubectl.kubernetes.io/last-applied-configuration": "{...}"}
    assert a.prefixed(ann) == {a.ALLOWED: "true"}
    assert a.is_source(a.prefixed(ann))
    assert not a.is_source({a.REFLECTS: "x/y"})
    assert a.prefixed(None) == {}


def test_plain_names_are_matched_by_equality_without_compiling_a_regex() -> None:
    pats = a.parse_patterns("x", "team-a, team_b ,ns,^ns-.*,prod1")
    assert [p.compiled is None for p in pats] == [True, True, True, False, True]
    assert pats.literals == {"team-a", "team_b", "ns", "prod1"}
    assert a.matches(pats, "team-a")
    assert a.matches(pats, "ns-x")  # through the regex entry
    assert not a.matches(pats, "team-ab")  # full match, not prefix
    assert not a.matches(pats, "n")


def test_plain_names_match_exactly_like_their_regex() -> None:
    names = ["a", "ab", "a-b", "a_b", "b", "ns-1", "Ns-1", "x" * 63]
    for entry in ["a", "ab", "a-b", "a_b", "ns-1", "NS-1", "x" * 63]:
        pats = a.parse_patterns("x", entry)
        assert pats[0].compiled is None
        for name in names:
            assert a.matches(pats, name) == (re.fullmatch(entry, name) is not None), (entry, name)
