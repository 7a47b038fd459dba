"""C14-C16: what an implementation must never touch: objects it does not own, and sources."""

from __future__ import annotations

from suites.contract import behaviour
from suites.support import Scenario

DATA = {"user": "app", "password": "s3cr3t"}


def assert_untouched(s: Scenario, namespace: str, before: object, what: str) -> None:
    after = s.read(namespace)
    assert after is not None, f"{what} in {namespace} was deleted"
    assert after.metadata.uid == before.metadata.uid, f"{what} in {namespace} was deleted and recreated"
    assert after.metadata.resource_version == before.metadata.resource_version, (
        f"{what} in {namespace} was modified: {s.kind.view(before)} -> {s.kind.view(after)}, annotations "
        f"{sorted(after.metadata.annotations or {})}"
    )


@behaviour("C14", "pre-existing unrelated same-name Secret")
def test_an_unrelated_same_name_secret_in_a_target_namespace_is_left_alone(scenario: Scenario) -> None:
    s = scenario
    src, a, taken = s.ns("src"), s.ns("a"), s.ns("taken")
    later = s.later("later")
    theirs = s.create(taken, {"mine": "keep"}, {"example.com/owner": "someone-else"})
    s.source(src, DATA, to=[a, taken, later])
    s.expect_copies(src, [a], ignore=[taken], description="a copy where the name is free")

    # More occasions to touch it: a source update, and a namespace event (a listed namespace appears).
    s.update(src, {"password": "rotated"})
    s.create_ns(later)
    s.expect_copies(src, [a, later], ignore=[taken], description="copies updated and in the new namespace")

    assert_untouched(s, taken, theirs, "the unrelated Secret")


@behaviour("C15", "same name used as independent sources in several namespaces")
def test_same_name_sources_in_different_namespaces_stay_independent(scenario: Scenario) -> None:
    s = scenario
    x, y, to_x, to_y = s.ns("x"), s.ns("y"), s.ns("tox"), s.ns("toy")
    s.source(x, {"origin": "x"}, to=[to_x])
    source_y = s.source(y, {"origin": "y"}, to=[to_y])
    s.expect_copies(x, [to_x], ignore=[y, to_y], description="x's copy")
    s.expect_copies(y, [to_y], ignore=[x, to_x], description="y's copy")

    updated_x = s.update(x, {"origin": "x2"})
    s.expect_copies(x, [to_x], ignore=[y, to_y], description="x's copy updated")

    assert_untouched(s, y, source_y, "the source y")
    s.assert_copies(y, [to_y], ignore=[x, to_x])
    assert s.read(x).metadata.resource_version == updated_x.metadata.resource_version, (
        "source x was written to"
    )


@behaviour("C16", "source namespace inside its own list, then the list narrowed")
def test_narrowing_a_list_that_contained_the_source_namespace_keeps_the_source(scenario: Scenario) -> None:
    s = scenario
    src, a, b = s.ns("src"), s.ns("a"), s.ns("b")
    s.source(src, DATA, to=[src, a, b])
    s.expect_copies(src, [a, b])

    s.redeclare(src, to=[a])
    s.expect_copies(src, [a], description="the copy in b deleted, the source and the copy in a kept")

    s.update(src, {"password": "rotated"})
    s.expect_copies(src, [a], description="the remaining copy updated")
    source = s.read(src)
    bookkeeping = sorted(set(source.metadata.annotations or {}) & s.dialect.bookkeeping)
    assert not bookkeeping, f"copy bookkeeping written onto the source: {bookkeeping}"
