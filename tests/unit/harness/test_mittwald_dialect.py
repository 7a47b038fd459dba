"""The mittwald kubernetes-replicator vocabulary and its pure matching model, on plain data.

The expectations restate its documented behaviour (README; `BuildStrictRegex`, `strconv.ParseBool`
and `strip-labels` handling in its source), so a profile built on this model judges the controller
by what it promises, not by what our operator does.
"""

from __future__ import annotations

import pytest

from fixtures.systems.dialects import mittwald as m


def test_every_annotation_is_in_its_prefix() -> None:
    names = [
        m.REPLICATE_TO,
        m.REPLICATE_TO_MATCHING,
        m.REPLICATE_FROM,
        m.REPLICATION_ALLOWED,
        m.REPLICATION_ALLOWED_NAMESPACES,
        *m.BOOKKEEPING,
    ]
    assert all(n.startswith("replicator.v1.mittwald.de/") for n in names)
    assert m.REPLICATE_TO == "replicator.v1.mittwald.de/replicate-to"
    assert m.BOOKKEEPING.isdisjoint(m.SOURCE_KEYS)


def test_declarations_are_comma_lists_and_a_namespace_slash_name() -> None:
    assert m.push(["a", "b-[0-9]+"]) == {m.REPLICATE_TO: "a,b-[0-9]+"}
    assert m.push(" a , b") == {m.REPLICATE_TO: " a , b"}  # raw text passes through for parsing tests
    assert m.push_matching("team=pay") == {m.REPLICATE_TO_MATCHING: "team=pay"}
    assert m.allow(["x"]) == {m.REPLICATION_ALLOWED: "true", m.REPLICATION_ALLOWED_NAMESPACES: "x"}
    assert m.allow(["x"], allowed=False)[m.REPLICATION_ALLOWED] == "false"
    assert m.pull("src", "db") == {m.REPLICATE_FROM: "src/db"}


def test_redeclare_removes_every_other_source_annotation() -> None:
    patch = m.redeclare_patch(m.push(["a"]))
    assert patch[m.REPLICATE_TO] == "a"
    assert {k for k, v in patch.items() if v is None} == m.SOURCE_KEYS - {m.REPLICATE_TO}


@pytest.mark.parametrize(
    ("entry", "regex"),
    [
        ("a", "^a$"),
        (" a ", "^a$"),
        ("^a", "^a$"),
        ("a$", "^a$"),
        ("^a$", "^a$"),
        ("app-[0-9]*", "^app-[0-9]*$"),
    ],
)
def test_each_entry_is_trimmed_and_anchored(entry: str, regex: str) -> None:
    assert m.anchored(entry) == regex


@pytest.mark.parametrize(
    ("patterns", "namespace", "expected"),
    [
        ("team-a", "team-a", True),
        ("team-a", "team-ab", False),  # anchored: no prefix match
        ("team-a", "xteam-a", False),
        ("team-[0-9]+", "team-42", True),
        ("other, team-a ", "team-a", True),  # entries trimmed
        ("(a|b)-x", "b-x", True),
        ("[", "[", False),  # invalid: skipped, matches nothing
        ("(?=t)team", "team", False),  # RE2 refuses lookarounds
        ("", "", True),  # an empty entry is ^$
        ("", "a", False),
    ],
)
def test_patterns_match_whole_names(patterns: str, namespace: str, expected: bool) -> None:
    assert m.matches(patterns, namespace) is expected


def test_push_targets_skip_the_source_namespace_and_missing_ones() -> None:
    namespaces = ["src", "app-1", "app-2", "other"]
    assert m.push_targets(["app-[0-9]", "src"], namespaces, "src") == {"app-1", "app-2"}


def test_selector_targets_are_equality_matches_without_the_source() -> None:
    labels = {"src": {"team": "pay"}, "a": {"team": "pay", "x": "1"}, "b": {"team": "ops"}, "c": {}}
    assert m.selector_targets({"team": "pay"}, labels, "src") == {"a"}


@pytest.mark.parametrize(
    ("allowed", "expected"),
    [
        ("true", True),
        ("True", True),
        ("1", True),
        ("t", True),
        ("TRUE", True),
        ("tRuE", False),
        (" true", False),
        ("no", False),
    ],
)
def test_pull_permission_follows_go_parsebool(allowed: str, expected: bool) -> None:
    source = {m.REPLICATION_ALLOWED: allowed, m.REPLICATION_ALLOWED_NAMESPACES: "dst-.*"}
    assert m.pull_allowed(source, "dst-1") is expected


def test_pull_needs_the_namespace_list_and_a_match() -> None:
    assert not m.pull_allowed({m.REPLICATION_ALLOWED: "true"}, "dst")
    assert not m.pull_allowed(m.allow(["dst"]), "dst-2")
    assert m.pull_allowed(m.allow(["dst"]), "dst")
    assert m.pull_allowed({}, "anything", allow_all=True)


def test_copies_are_recognised_by_bookkeeping_and_pull_targets_are_not_copies() -> None:
    copy = {**m.copy_bookkeeping("41", ["b", "a"]), m.REPLICATED_AT: "2026-01-01T00:00:00Z", "x": "y"}
    assert m.is_copy(copy)
    assert copy[m.REPLICATED_KEYS] == "a,b"
    assert m.bookkeeping_of(copy) == {k: v for k, v in copy.items() if k != "x"}
    target = {**copy, **m.pull("src", "db")}
    assert not m.is_copy(target)
    assert m.pulls_from(target) == "src/db"
    assert not m.is_copy({"unrelated": "1"})


def test_labels_are_copied_unless_strip_labels_is_present() -> None:
    labels = {"app": "x"}
    assert m.copied_labels(labels, {}) == labels
    assert m.copied_labels(labels, {m.STRIP_LABELS: "true"}) == {}
    assert m.copied_labels(labels, {m.STRIP_LABELS: "false"}) == {}  # any value strips (its source)
