"""Regressions of user-reported emberstack Reflector bugs (reflector-semantics.md §2), one per issue.

Each test is labelled with its issue (Allure link + label, and the test name says the behaviour);
the implementation profile may list an issue number as a known deviation.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable

import pytest

from suites.contract import reflector_issue
from suites.private import SHORT_WATCH_TIMEOUT, PrivateOperator, idle_until_watch_restarts
from suites.support import Scenario

DATA = {"user": "app", "password": "s3cr3t"}


@reflector_issue(150, 478, title="namespaces created later get copies")
def test_a_burst_of_namespaces_created_after_the_source_all_get_copies(scenario: Scenario) -> None:
    s = scenario
    src = s.ns("src")
    later = [s.later(f"later{i}") for i in range(5)]
    s.source(src, DATA, to=later)
    s.settle(src)

    for name in later:
        s.create_ns(name)

    seconds = s.expect_copies(src, later, description="a copy in every namespace created later")
    s.latency("#150 burst of 5 namespaces → last copy", seconds, copies=len(later))


@pytest.mark.slow  # idles through watch timeouts on a private control plane
@reflector_issue(
    150, 478, title="namespaces created after a watch reconnect get copies", key="#150.reconnect"
)
def test_a_namespace_created_after_the_namespace_watch_reconnected_gets_a_copy(
    private_operator: Callable[..., PrivateOperator],
) -> None:
    op = private_operator(watch_timeout_seconds=SHORT_WATCH_TIMEOUT)
    s = op.scenario()
    src, a = s.ns("src"), s.ns("a")
    later = s.later("later")
    s.source(src, DATA, to=[a, later])
    s.expect_copies(src, [a])

    idle_until_watch_restarts(op, "namespaces", 2, SHORT_WATCH_TIMEOUT)
    s.create_ns(later)

    seconds = s.expect_copies(src, [a, later], description="a copy in the namespace created after reconnects")
    s.latency("#150 namespace created after watch reconnects → copy", seconds)


@reflector_issue(485, title="deleting the source deletes every auto copy")
def test_deleting_the_source_leaves_no_auto_copy_behind(scenario: Scenario) -> None:
    s = scenario
    src, manual = s.ns("src"), s.ns("manual")
    targets = [s.ns(f"t{i}") for i in range(4)]
    s.source(src, DATA, to=[*targets, manual], auto_to=targets)
    s.mirror(manual, of=src)
    s.expect_copies(src, [*targets, manual])

    s.delete(src)

    s.wait(lambda: s.assert_only_in([manual]), "every auto copy deleted, the manual mirror kept")
    s.settle(src)  # nothing brings them back afterwards
    s.assert_only_in([manual])


@reflector_issue(672, title="source namespace in its own list: the source survives narrowing")
def test_the_source_survives_when_its_own_namespace_leaves_the_auto_list(scenario: Scenario) -> None:
    s = scenario
    src, a, b = s.ns("src"), s.ns("a"), s.ns("b")
    later = s.later("later")
    s.source(src, DATA, to=[src, a, b, later], auto_to=[src, a, b, later])
    s.expect_copies(src, [a, b])
    # The namespace-event path is the one that recorded the source as a copy of itself (#672).
    s.create_ns(later)
    s.expect_copies(src, [a, b, later])

    s.redeclare(src, to=[src, a, b, later], auto_to=[a])

    s.expect_copies(src, [a], description="copies outside the narrowed list deleted, the source kept")
    s.update(src, {"password": "rotated"})
    s.expect_copies(src, [a], description="the remaining copy still follows the source")


@reflector_issue(238, title="unrelated same-name Secrets are never deleted")
def test_an_unrelated_same_name_secret_is_never_deleted_as_the_list_changes(scenario: Scenario) -> None:
    s = scenario
    src, a, other = s.ns("src"), s.ns("a"), s.ns("other")
    theirs = s.create(other, {"mine": "keep"})  # no annotations at all
    s.source(src, DATA, to=[a])
    s.expect_copies(src, [a], ignore=[other])

    s.redeclare(src, to=[a, other])  # now it is in the way of a copy
    s.update(src, {"password": "rotated"})
    s.expect_copies(src, [a], ignore=[other], description="the copy updated")
    s.redeclare(src, to=[a], auto_to=[a])  # and out of the list again
    s.delete(src)
    s.wait(lambda: s.assert_only_in([other]), "the auto copy deleted with the source")

    after = s.read(other)
    assert after is not None, "the unrelated Secret was deleted"
    assert after.metadata.resource_version == theirs.metadata.resource_version, (
        "the unrelated Secret was modified"
    )


@reflector_issue(256, 238, title="same-name sources listing each other's namespaces")
def test_same_name_sources_listing_each_others_namespace_never_overwrite_or_delete_each_other(
    scenario: Scenario,
) -> None:
    s = scenario
    x, y, to_x, to_y = s.ns("x"), s.ns("y"), s.ns("tox"), s.ns("toy")
    s.source(x, {"origin": "x"}, to=[to_x])
    source_y = s.source(y, {"origin": "y"}, to=[x, to_y])  # x holds a same-name source: in the way
    s.redeclare(x, to=[y, to_x])  # and now x lists y, which holds a same-name source too
    s.expect_copies(x, [to_x], ignore=[y, to_y])
    s.expect_copies(y, [to_y], ignore=[x, to_x])

    s.update(x, {"origin": "x2"})
    s.expect_copies(x, [to_x], ignore=[y, to_y], description="x's copy updated")
    s.delete(x)
    # x's copy goes with x, and x's namespace, no longer in the way, now gets y's copy.
    s.expect_copies(y, [to_y, x], description="x's copy deleted; y replicates into the freed namespace")

    after_y = s.read(y)
    assert after_y is not None, "source y was deleted"
    assert after_y.metadata.resource_version == source_y.metadata.resource_version, "source y was modified"


@reflector_issue(295, title="manual same-name mirrors outside the auto set are not deleted")
def test_a_manual_same_name_mirror_outside_the_auto_set_is_kept_and_filled(scenario: Scenario) -> None:
    s = scenario
    src, a, b, manual = s.auto_copies_and_a_manual_mirror(DATA)

    s.redeclare(src, to=[a, b, manual], auto_to=[a])  # a recompute that deletes b's copy
    s.update(src, {"password": "rotated"})

    s.expect_copies(src, [a, manual], description="b's copy deleted; the manual mirror kept and updated")


@reflector_issue(298, 397, title="Secret type carried to copies")
@pytest.mark.parametrize(
    ("type_", "data"),
    [
        ("kubernetes.io/dockerconfigjson", {".dockerconfigjson": '{"auths":{"r.example":{}}}'}),
        ("kubernetes.io/tls", {"tls.crt": "CERT", "tls.key": "KEY"}),
    ],
    ids=["dockerconfigjson", "tls"],
)
def test_auto_copies_take_the_source_type_and_manual_mirrors_keep_theirs(
    scenario: Scenario, type_: str, data: dict[str, str]
) -> None:
    s = scenario
    src, a, manual = s.ns("src"), s.ns("a"), s.ns("manual")
    s.source(src, data, to=[a, manual], auto_to=[a], type_=type_)
    s.mirror(manual, of=src)  # an Opaque placeholder, as users create them

    s.expect_copies(src, [a], ignore=[manual], description=f"an auto copy of type {type_}")
    s.wait(lambda: s.assert_holds(manual, src), "the manual mirror to be filled")
    assert s.read(manual).type == "Opaque", "a manual mirror's type is its owner's (it is immutable)"


GLOB_CASES = [
    # (entry template, matches the namespace "<p>-app-<hex>"?)  <p> is unique to the test
    ("{p}-app-*", False),  # #430 "namespace-*": a regex, "-" repeated, so no match
    ("^{p}-app-.*", True),  # what the maintainer recommends
    ("{p}-app-.*", True),  # implicitly anchored
    ("{p}-app", False),  # a prefix is not a match
    ("{p}-ap+-[0-9a-f]{{6}}", True),  # a real regex
]


@reflector_issue(430, 510, title="list entries are regexes, not globs")
@pytest.mark.parametrize(("template", "matches"), GLOB_CASES, ids=[t for t, _ in GLOB_CASES])
def test_glob_looking_entries_follow_regex_semantics(
    scenario: Scenario, template: str, matches: bool
) -> None:
    s = scenario
    p = f"g{secrets.token_hex(3)}"
    src, control, target = s.ns("src"), s.ns("control"), s.ns(f"{p}-app")
    prefix = target[: target.index(p)] + p  # "<run id>-<p>"
    entry = template.format(p=re.escape(prefix) if template.startswith("^") else prefix)
    s.source(src, DATA, to=[control, entry])

    s.expect_copies(src, [control, target] if matches else [control], description=f"entry {entry!r}")


@pytest.mark.slow  # idles through watch timeouts on a private control plane
@reflector_issue(246, 228, title="updates propagate after idle watches time out")
def test_an_update_after_idle_watch_timeouts_propagates(
    private_operator: Callable[..., PrivateOperator],
) -> None:
    op = private_operator(watch_timeout_seconds=SHORT_WATCH_TIMEOUT)
    s = op.scenario()
    src, a, b = s.ns("src"), s.ns("a"), s.ns("b")
    s.source(src, DATA, to=[a, b])
    s.expect_copies(src, [a, b])

    idle_until_watch_restarts(op, "secrets", 3, SHORT_WATCH_TIMEOUT)
    s.update(src, {"password": "rotated-after-idle"})

    seconds = s.expect_copies(src, [a, b], description="copies updated after the idle period")
    s.latency("#246 update after idle watch timeouts → last copy", seconds, copies=2)
