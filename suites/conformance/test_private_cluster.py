"""Contract behaviours that need the implementation alone on a dedicated control plane: they restart
it, let its watches reconnect, or configure it (excluded namespaces). The shared operator is never
disturbed, and a second operator on the shared cluster would act on every other test's sources."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from suites.contract import behaviour
from suites.private import SHORT_WATCH_TIMEOUT, PrivateOperator, idle_until_watch_restarts

DATA = {"user": "app", "password": "s3cr3t"}


@behaviour("C8", "namespace created after a restart of the implementation", key="C8.restart")
def test_namespace_created_after_a_restart_gets_a_copy(
    private_operator: Callable[..., PrivateOperator],
) -> None:
    op = private_operator()
    s = op.scenario()
    src, a = s.ns("src"), s.ns("a")
    later = s.later("later")
    s.source(src, DATA, to=[a, later])
    s.expect_copies(src, [a])

    op.restart()
    s.create_ns(later)

    seconds = s.expect_copies(
        src, [a, later], description="a copy in the namespace created after the restart"
    )
    s.latency("C8 namespace created after a restart → copy", seconds)


@pytest.mark.slow  # idles through watch timeouts, then restarts the implementation
@behaviour("C14", "unrelated same-name Secret after watch re-lists and a restart", key="C14.restart")
def test_an_unrelated_same_name_secret_survives_relists_and_restarts(
    private_operator: Callable[..., PrivateOperator],
) -> None:
    op = private_operator(watch_timeout_seconds=SHORT_WATCH_TIMEOUT)
    s = op.scenario()
    src, a, taken = s.ns("src"), s.ns("a"), s.ns("taken")
    later = s.later("later")
    theirs = s.create(taken, {"mine": "keep"}, {"example.com/owner": "someone-else"})
    s.source(src, DATA, to=[a, taken, later])
    s.expect_copies(src, [a], ignore=[taken])

    # The namespace watcher reconnects (Reflector replays every namespace then: H2) ...
    idle_until_watch_restarts(op, "namespaces", 2, SHORT_WATCH_TIMEOUT)
    # ... and the implementation restarts (start-up replay).
    op.restart()
    s.update(src, {"password": "rotated"})
    s.create_ns(later)
    s.expect_copies(src, [a, later], ignore=[taken], description="copies updated after the restart")

    after = s.read(taken)
    assert after is not None, "the unrelated Secret was deleted"
    assert after.metadata.resource_version == theirs.metadata.resource_version, (
        f"the unrelated Secret was modified: {s.kind.view(theirs)} -> {s.kind.view(after)}"
    )


@behaviour("C20", "excluded namespaces (configuration)")
def test_sources_in_excluded_namespaces_are_ignored_but_copies_still_land_there(
    private_operator: Callable[..., PrivateOperator],
) -> None:
    op = private_operator(excluded_namespaces=["*-excluded-*"])
    s = op.scenario()
    excluded, src, a = s.ns("excluded"), s.ns("src"), s.ns("a")
    ignored = s.another()
    ignored_source = ignored.source(excluded, DATA, to=[a])  # handled first: created first
    s.source(src, DATA, to=[a, excluded])

    s.expect_copies(src, [a, excluded], description="copies, also in the excluded namespace")

    ignored.assert_copies(excluded, [])
    after = ignored.read(excluded)
    assert after.metadata.resource_version == ignored_source.metadata.resource_version


# A private control plane: a stalled implementation must not be the shared one.
@behaviour("C4", "a catastrophically backtracking entry affects only its own source (H1)", key="C4.redos")
def test_a_backtracking_entry_does_not_stall_other_sources(
    private_operator: Callable[..., PrivateOperator],
) -> None:
    op = private_operator()
    s = op.scenario()
    src, a = s.ns("src"), s.ns("a")
    s.ns("payments-production-eu-west-1-blue")  # names of this length are common in real clusters
    # A valid regex that never matches a namespace name, with nested quantifiers: naive
    # backtracking takes 2^len(name) steps on each name it is tried against.
    poison = s.another()
    poison.source(src, DATA, to=r"([a-z0-9-]+)+!")
    # The same hazard for engines that optimise the first form away (e.g. Python's `regex`).
    s.ns("a" * 40)
    poison_too = s.another()
    poison_too.source(src, DATA, to=r".*(a|aa)+!")

    s.source(src, DATA, to=[a])

    s.expect_copies(src, [a], description="a source created after the backtracking one to replicate")
    poison.assert_copies(src, [])
    poison_too.assert_copies(src, [])
