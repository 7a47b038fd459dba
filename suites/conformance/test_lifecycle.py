"""C7-C13: what happens to copies when the source, the namespaces or the copies change."""

from __future__ import annotations

from fixtures.core.waiting import eventually
from suites.contract import behaviour
from suites.support import Scenario

DATA = {"user": "app", "password": "s3cr3t"}


@behaviour("C7", "source data update")
def test_source_updates_reach_every_copy_and_removed_keys_vanish(scenario: Scenario) -> None:
    s = scenario
    src, a, b, c = s.ns("src"), s.ns("a"), s.ns("b"), s.ns("c")
    s.source(src, {"k1": "one", "k2": "two"}, to=[a, b, c])
    s.expect_copies(src, [a, b, c])

    s.update(src, {"k1": "uno", "k2": None, "k3": "tres"})
    seconds = s.expect_copies(src, [a, b, c], description="updated copies")
    s.latency("C7 source update → last copy", seconds, copies=3)
    assert sorted(s.read(a).data) == ["k1", "k3"], "a key removed from the source is still on the copy"

    for i in range(4):  # a few more samples for the latency distribution
        s.update(src, {"k1": f"rotation-{i}"})
        seconds = s.expect_copies(src, [a, b, c], description=f"copies after rotation {i}")
        s.latency("C7 source update → last copy", seconds, copies=3)


@behaviour("C8", "namespace created after the source")
def test_namespace_created_after_the_source_gets_a_copy(scenario: Scenario) -> None:
    s = scenario
    src, a = s.ns("src"), s.ns("a")
    later = s.later("later")
    s.source(src, DATA, to=[a, later])
    s.expect_copies(src, [a])

    s.create_ns(later)

    seconds = s.expect_copies(src, [a, later], description="a copy in the namespace created later")
    s.latency("C8 namespace created → copy", seconds)


@behaviour("C9", "namespace added to / removed from the allowed list")
def test_list_edits_create_and_delete_copies_and_freeze_manual_mirrors(scenario: Scenario) -> None:
    s = scenario
    src, a, b, manual = s.ns("src"), s.ns("a"), s.ns("b"), s.ns("manual")
    s.source(src, {"k": "v1"}, to=[a, manual], auto_to=[a, b])
    s.mirror(manual, of=src)
    s.expect_copies(src, [a, manual])

    # Added to the allowed list: a copy appears.
    s.redeclare(src, to=[a, b, manual], auto_to=[a, b])
    seconds = s.expect_copies(src, [a, b, manual], description="a copy in the namespace added to the list")
    s.latency("C9 namespace added → copy", seconds)

    # Removed from the allowed list: the auto copy goes, the manual mirror stays.
    s.redeclare(src, to=[b], auto_to=[a, b])
    seconds = s.expect_copies(src, [b], ignore=[manual], description="the copy in the removed namespace gone")
    s.latency("C9 namespace removed → copy deleted", seconds)
    frozen = s.kind.view(s.read(manual))

    # ...and is frozen: later source changes no longer reach it.
    s.update(src, {"k": "v2"})
    s.expect_copies(src, [b], ignore=[manual], description="the remaining copy updated")
    kept = s.read(manual)
    assert kept is not None, "the manual mirror was deleted when its namespace left the allowed list"
    assert s.kind.view(kept) == frozen, "a manual mirror outside the allowed list kept receiving updates"


@behaviour("C10", "auto-enabled toggled off")
def test_turning_auto_enabled_off_deletes_auto_copies_only(scenario: Scenario) -> None:
    s = scenario
    src, a, b, manual = s.auto_copies_and_a_manual_mirror(DATA)

    s.redeclare(src, to=[a, b, manual], auto="false", auto_to=[a, b])

    seconds = s.expect_copies(src, [], ignore=[manual], description="auto copies deleted")
    s.latency("C10 auto-enabled off → copies deleted", seconds, copies=2)
    # The manual mirror is not an auto copy: kept, and still updated (allowed is still true).
    s.update(src, {"password": "rotated"})
    s.wait(lambda: s.assert_holds(manual, src), "the manual mirror to keep receiving updates")


@behaviour("C11", "source deleted")
def test_deleting_the_source_deletes_auto_copies_and_keeps_manual_mirrors(scenario: Scenario) -> None:
    s = scenario
    src, _, _, manual = s.auto_copies_and_a_manual_mirror(DATA)
    last = s.kind.view(s.read(manual))

    s.delete(src)

    seconds = s.wait(lambda: s.assert_only_in([manual]), "auto copies deleted, manual mirror kept")
    s.latency("C11 source deleted → copies deleted", seconds, copies=2)
    assert s.kind.view(s.read(manual)) == last, "the manual mirror lost its last data"


@behaviour("C12", "copy deleted by hand")
def test_a_copy_deleted_by_hand_is_recreated(scenario: Scenario) -> None:
    s = scenario
    src, a, b = s.ns("src"), s.ns("a"), s.ns("b")
    s.source(src, DATA, to=[a, b])
    s.expect_copies(src, [a, b])
    deleted = s.read(a)

    s.delete(a)

    seconds = s.expect_copies(src, [a, b], description="the deleted copy to be recreated")
    s.latency("C12 copy deleted → recreated", seconds)
    assert s.read(a).metadata.uid != deleted.metadata.uid, "the copy was not deleted (same uid)"


@behaviour("C12", "manual mirror deleted by hand is not recreated", key="C12.manual")
def test_a_manual_mirror_deleted_by_hand_stays_deleted(scenario: Scenario) -> None:
    s = scenario
    src, a, manual = s.ns("src"), s.ns("a"), s.ns("manual")
    s.source(src, DATA, to=[a, manual], auto_to=[a])
    s.mirror(manual, of=src)
    s.expect_copies(src, [a, manual])

    s.delete(manual)  # the user owns it: deleting it is a decision

    s.update(src, {"password": "rotated"})  # a reason to recompute everything
    s.expect_copies(src, [a], description="the auto copy updated and the manual mirror still gone")
    s.settle(src)
    s.assert_only_in([src, a])


@behaviour("C13", "copy data edited by hand (drift)")
def test_hand_edits_to_a_copy_are_reverted(scenario: Scenario) -> None:
    s = scenario
    src, a, b = s.ns("src"), s.ns("a"), s.ns("b")
    s.source(src, DATA, to=[a, b])
    s.expect_copies(src, [a, b])

    s.update(a, {"password": "tampered", "extra": "added-by-hand"})

    seconds = s.expect_copies(src, [a, b], description="the drifted copy to be repaired")
    s.latency("C13 copy edited → repaired", seconds)


@behaviour("C13", "manual mirror re-synced when reflected-version is cleared", key="C13.manual")
def test_a_reapplied_manual_mirror_is_resynced_once_reflected_version_is_cleared(scenario: Scenario) -> None:
    s = scenario
    src, manual = s.ns("src"), s.ns("manual")
    s.source(src, DATA, to=[manual], auto=False)
    s.mirror(manual, of=src)
    s.wait(lambda: s.assert_holds(manual, src), "the manual mirror to be filled")

    # A Helm/kubectl re-apply of the mirror's manifest: its own (placeholder) data is back, and,
    # as the README prescribes, reflected-version is cleared.
    s.kind.patch(
        s.core,
        manual,
        s.name,
        {
            "data": s.kind.encode({"password": "placeholder"}),
            "metadata": {"annotations": {s.dialect.version_key: ""}},
        },
    )

    seconds = s.wait(lambda: s.assert_holds(manual, src), "the manual mirror to be re-synced")
    s.latency("C13 manual mirror re-applied → re-synced", seconds)
    eventually(
        lambda: _version_restored(s, manual, src),
        timeout=s.slo,
        description="reflected-version to be set again",
    )


def _version_restored(s: Scenario, namespace: str, source_ns: str) -> None:
    mirror, source = s.read(namespace), s.read(source_ns)
    version = (mirror.metadata.annotations or {}).get(s.dialect.version_key)
    assert version == source.metadata.resource_version, (
        f"reflected-version {version!r}, source resourceVersion {source.metadata.resource_version}"
    )
