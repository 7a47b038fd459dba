"""Switches and lists changed *after* copies exist, in both directions, and changes delivered in
the other order the API allows (an unrelated object created, then deleted). The scenarios of C1-C21
mostly set a switch at creation and check the first outcome; these flip it on a live source."""

from __future__ import annotations

from suites.contract import behaviour
from suites.support import CONFIGMAP, Scenario

DATA = {"user": "app", "password": "s3cr3t"}


@behaviour("C9", "reflection-allowed turned off, then on again, after copies exist", key="C9.allowed")
def test_turning_reflection_allowed_off_and_on_after_copies_exist(scenario: Scenario) -> None:
    s = scenario
    src, a, b, manual = s.auto_copies_and_a_manual_mirror(DATA)

    s.redeclare(src, to=[a, b, manual], auto_to=[a, b], allowed="false")
    s.expect_copies(src, [], ignore=[manual], description="auto copies deleted once allowed is off")
    frozen = s.read(manual)
    assert frozen is not None, "the manual mirror was deleted when reflection-allowed was turned off"
    s.update(src, {"password": "rotated-while-off"})
    s.settle(src)
    kept = s.read(manual)
    assert kept is not None, "the manual mirror was deleted while reflection-allowed was off"
    assert s.kind.view(kept) == s.kind.view(frozen), "a manual mirror got data while allowed was off"

    s.redeclare(src, to=[a, b, manual], auto_to=[a, b], allowed=True)
    s.expect_copies(src, [a, b, manual], description="copies back and the manual mirror refilled")


@behaviour("C9", "namespace removed from / added back to the auto list only", key="C9.auto")
def test_auto_list_narrowed_and_widened_after_copies_exist(scenario: Scenario) -> None:
    s = scenario
    src, a, b = s.ns("src"), s.ns("a"), s.ns("b")
    s.source(src, DATA, to=[a, b], auto_to=[a, b])
    s.expect_copies(src, [a, b])

    s.redeclare(src, to=[a, b], auto_to=[a])
    s.expect_copies(src, [a], description="the copy in b deleted: b is allowed but no longer auto")

    s.redeclare(src, to=[a, b], auto_to=[a, b])
    s.expect_copies(src, [a, b], description="the copy in b back once b is in the auto list again")


@behaviour("C10", "auto-enabled turned on after creation, then off", key="C10.on")
def test_auto_enabled_switched_on_after_creation_then_off(scenario: Scenario) -> None:
    s = scenario
    src, a, b = s.ns("src"), s.ns("a"), s.ns("b")
    s.source(src, DATA, to=[a, b], auto=False)
    s.settle(src)
    s.assert_copies(src, [])

    s.redeclare(src, to=[a, b], auto=True)
    s.expect_copies(src, [a, b], description="copies once auto-enabled is switched on")

    s.redeclare(src, to=[a, b], auto=False)
    s.expect_copies(src, [], description="copies deleted once auto-enabled is switched off again")


@behaviour("C14", "unrelated same-name object created, then deleted: the copy follows", key="C14.freed")
def test_an_unrelated_object_deleted_later_frees_the_name_for_the_copy(scenario: Scenario) -> None:
    s = scenario
    src, a, taken = s.ns("src"), s.ns("a"), s.ns("taken")
    s.create(taken, {"mine": "keep"}, {"example.com/owner": "someone-else"})
    s.source(src, DATA, to=[a, taken])
    s.expect_copies(src, [a], ignore=[taken], description="a copy where the name is free")

    s.delete(taken)  # its owner removes it: the name is free now

    s.expect_copies(src, [a, taken], description="a copy in the namespace whose name was freed")


@behaviour("C19", "ConfigMap binaryData removed from the source after copies exist", key="C19.binary")
def test_binary_data_removed_from_a_configmap_source_vanishes_from_copies(scenario: Scenario) -> None:
    s = scenario.another(CONFIGMAP)
    src, a = s.ns("src"), s.ns("a")
    s.source(src, {"k": "v"}, to=[a], binary={"blob": b"\x00\x01binary"})
    s.expect_copies(src, [a])

    s.update(src, {}, binary={"blob": None})

    s.expect_copies(src, [a], description="binaryData gone from the copy as from the source")
