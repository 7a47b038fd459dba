"""Reproduce commands, property numbers and seeds of the property tests."""

from __future__ import annotations

from types import SimpleNamespace

from properties.recording import property_of, reproduce_command, seed_of


def test_property_number_comes_from_the_seed_story() -> None:
    assert property_of(["Property 5: Secret Replication Consistency"]) == "5"
    assert property_of(["C7 source update", "Property 11: Reflector Namespace Replication"]) == "11"
    assert property_of(["C2 allowed + auto-enabled"]) is None


def test_reproduce_command_names_profile_test_and_seed() -> None:
    assert reproduce_command("test_x", "ci", "derandomized") == (
        "make properties PROFILE=ci PYTEST_ARGS='-k test_x'"
    )
    assert reproduce_command("test_x", "nightly", "123") == (
        "make properties PROFILE=nightly PYTEST_ARGS='-k test_x --hypothesis-seed=123'"
    )


def test_seed_sources_in_order_of_precedence() -> None:
    test = SimpleNamespace(_hypothesis_internal_use_seed=None, _hypothesis_internal_use_generated_seed=42)
    assert seed_of(test, derandomize=True, forced=None) == "derandomized"
    assert seed_of(test, derandomize=False, forced=7) == "7"
    assert seed_of(test, derandomize=False, forced=None) == "42"
    assert seed_of(SimpleNamespace(_hypothesis_internal_use_seed=9), derandomize=True, forced=None) == "9"
