"""Dialect-neutral conformance (issue 14): what every replication controller must do, whatever its
vocabulary, judged through the system interface only. Each scenario runs once per selected system
(``--implementation=bundled,kubernetes-replicator`` or ``all``); a profile lists a known deviation
by the scenario's key (``neutral.drift.delete``) and the test becomes a strict xfail.

N1 copy equals source, N2 update, N3 source deleted, N4 namespace created later, N5 unrelated objects
never touched, N6 drift repaired (hand edit, deleted copy), N7 poison isolation. Negative checks
follow a positive signal (a copy that must appear or pick up an update).
"""

from __future__ import annotations

import pytest

from fixtures.systems import Unsupported
from suites.contract import neutral
from suites.neutral.scenario import NeutralScenario

DATA = {"username": "replicheck-bot", "token": "v1"}


@neutral("N1", "a copy equals its source in exactly the targeted namespaces", key="neutral.copy")
def test_copy_equals_source(neutral: NeutralScenario) -> None:
    s = neutral
    src, a, b, untargeted = s.ns("src"), s.ns("a"), s.ns("b"), s.ns("other")
    # a typed Secret (the copy must keep the type), a key with an empty value
    s.replicate(src, {**DATA, "empty": ""}, to=[a, b], type_="kubernetes.io/basic-auth")
    seconds = s.expect_copies(src, [a, b], description=f"copies in {a} and {b} only")
    s.latency("copy", seconds, copies=2)
    assert s.read(untargeted) is None, f"a copy appeared in the untargeted namespace {untargeted}"


@neutral("N2", "every copy follows an update of the source", key="neutral.update")
def test_update(neutral: NeutralScenario) -> None:
    s = neutral
    src, a, b = s.ns("src"), s.ns("a"), s.ns("b")
    s.replicate(src, DATA, to=[a, b])
    s.expect_copies(src, [a, b], description="initial copies")
    s.update(src, {"token": "v2", "added": "new", "username": None})
    seconds = s.expect_copies(src, [a, b], description="copies at the updated content")
    s.latency("update", seconds, copies=2)


@neutral("N3", "deleting the source deletes its copies", key="neutral.delete")
def test_source_deleted(neutral: NeutralScenario) -> None:
    s = neutral
    src, a, b = s.ns("src"), s.ns("a"), s.ns("b")
    s.replicate(src, DATA, to=[a, b])
    s.expect_copies(src, [a, b], description="initial copies")
    s.delete(src)
    seconds = s.expect_only_source(src, description="copies deleted with their source")
    s.latency("delete", seconds, copies=2)


@neutral("N4", "a targeted namespace created later gets a copy", key="neutral.new-namespace")
def test_namespace_created_later(neutral: NeutralScenario) -> None:
    s = neutral
    src, a, later = s.ns("src"), s.ns("a"), s.later("late")
    s.replicate(src, DATA, to=[a, later])
    s.expect_copies(src, [a], description=f"a copy in {a} (the namespace {later} does not exist yet)")
    s.create_ns(later)
    seconds = s.expect_copies(src, [a, later], description=f"a copy in {later}, created after the source")
    s.latency("new-namespace", seconds, copies=1)


@neutral("N5", "objects the system does not own are never touched", key="neutral.unrelated")
def test_unrelated_objects_untouched(neutral: NeutralScenario) -> None:
    s = neutral
    src, a, taken, elsewhere = s.ns("src"), s.ns("a"), s.ns("taken"), s.ns("else")
    # a same-name object in a targeted namespace, one in an untargeted namespace, and other names
    # next to the source and next to a copy
    before = {
        (taken, s.name): s.plain(taken, {"mine": "keep"}),
        (elsewhere, s.name): s.plain(elsewhere, {"mine": "keep"}),
        (src, f"{s.name}-other"): s.plain(src, {"mine": "keep"}, name=f"{s.name}-other"),
        (a, f"{s.name}-other"): s.plain(a, {"mine": "keep"}, name=f"{s.name}-other"),
    }
    s.replicate(src, DATA, to=[a, taken])
    s.expect_copies(src, [a], description=f"a copy in {a}", ignore=[taken, elsewhere])
    # positive signal: an update reaches the copy, so the system has long processed the source
    s.update(src, {"token": "v2"})
    s.expect_copies(src, [a], description=f"the update in {a}", ignore=[taken, elsewhere])
    after = {key: s.read(*key) for key in before}
    changed = {
        f"{ns}/{name}": "deleted" if after[(ns, name)] is None else "rewritten"
        for (ns, name), obj in before.items()
        if after[(ns, name)] is None
        or after[(ns, name)].metadata.resource_version != obj.metadata.resource_version
        or after[(ns, name)].metadata.uid != obj.metadata.uid
    }
    assert not changed, f"objects the system does not own were touched: {changed}"


@neutral("N6", "a hand-edited copy is restored to the source's content", key="neutral.drift.edit")
def test_drift_edit_repaired(neutral: NeutralScenario) -> None:
    s = neutral
    src, a = s.ns("src"), s.ns("a")
    s.replicate(src, DATA, to=[a])
    s.expect_copies(src, [a], description="initial copy")
    s.update(a, {"token": "edited by hand", "extra": "x"})
    seconds = s.expect_copies(src, [a], description="the hand-edited copy restored")
    s.latency("drift.edit", seconds, copies=1)


@neutral("N6", "a deleted copy is recreated", key="neutral.drift.delete")
def test_drift_delete_repaired(neutral: NeutralScenario) -> None:
    s = neutral
    src, a = s.ns("src"), s.ns("a")
    s.replicate(src, DATA, to=[a])
    s.expect_copies(src, [a], description="initial copy")
    s.delete(a)
    seconds = s.expect_copies(src, [a], description="the deleted copy recreated")
    s.latency("drift.delete", seconds, copies=1)


@neutral("N7", "a source the system must refuse harms no other source", key="neutral.poison")
def test_poison_isolated(neutral: NeutralScenario) -> None:
    s = neutral
    src, a, b = s.ns("src"), s.ns("a"), s.ns("b")
    poisoned = s.source(src, f"{s.name}-poison")
    try:
        declaration = s.system.poison(poisoned)
    except Unsupported as exc:
        pytest.skip(str(exc))  # the profile names no declaration it must refuse
    s.declared(src, {"token": "poison"}, declaration, name=poisoned.name)
    s.replicate(src, DATA, to=[a, b])
    s.expect_copies(src, [a, b], description="the healthy source replicates next to the poisoned one")
    s.update(src, {"token": "v2"})
    seconds = s.expect_copies(src, [a, b], description="and keeps replicating its updates")
    s.latency("poison", seconds, copies=2)
    left = sorted(ns for ns in s.driver.everywhere(poisoned) if ns != src)
    assert not left, f"the refused source {poisoned.key} was copied to {left}"
