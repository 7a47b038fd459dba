"""C1-C6: how a source declares where it may and must be replicated (reflector-semantics.md §1.2, §6).

Every scenario uses its own namespaces and names them explicitly (or with a regex anchored to a
prefix only it uses): the operator is shared with the tests running in parallel.
"""

from __future__ import annotations

import re
import secrets

import allure
import pytest

from fixtures.systems.dialects.reflector import ReflectorDialectSystem
from suites.contract import behaviour
from suites.support import Scenario

DATA = {"user": "app", "password": "s3cr3t"}


@behaviour("C1", "allowed-only source (no auto-enabled)")
def test_allowed_only_source_creates_no_copies_but_fills_manual_mirrors(scenario: Scenario) -> None:
    s = scenario
    src, allowed, also_allowed, outside = s.ns("src"), s.ns("mirror"), s.ns("allowed"), s.ns("outside")
    s.source(src, DATA, to=[allowed, also_allowed], auto=False)
    s.mirror(allowed, of=src)
    stranger = s.mirror(outside, of=src)

    # The manual mirror in an allowed namespace receives the data: the source has been handled.
    s.wait(lambda: s.assert_holds(allowed, src), "the manual mirror in an allowed namespace to be filled")

    # No auto copy anywhere (not in the other allowed namespace either); the mirror outside the
    # allowed list is left as its owner made it.
    s.assert_copies(src, [allowed], ignore=[outside])
    after = s.read(outside)
    assert after is not None, "the manual mirror outside the allowed list was deleted"
    assert after.metadata.resource_version == stranger.metadata.resource_version, (
        "the manual mirror outside the allowed list was written to"
    )


@behaviour("C2", "allowed + auto-enabled, explicit list")
def test_copies_land_in_exactly_the_listed_namespaces(scenario: Scenario) -> None:
    s = scenario
    src, a, b, _unlisted = s.ns("src"), s.ns("a"), s.ns("b"), s.ns("unlisted")
    source = s.source(src, DATA, to=[a, b, src])

    seconds = s.expect_copies(src, [a, b], description="copies in exactly the listed namespaces")
    s.latency("C2 source created → copies", seconds, copies=2)

    # Never in the source's own namespace, although it is listed: the source is not touched.
    after = s.read(src)
    assert after.metadata.resource_version == source.metadata.resource_version, "the source was written to"


@behaviour("C2", "auto targets = allowed list AND auto list")
def test_auto_targets_are_the_intersection_of_allowed_and_auto_lists(scenario: Scenario) -> None:
    s = scenario
    src, both1, both2, allowed_only, auto_only = s.ns("src"), s.ns("ab1"), s.ns("ab2"), s.ns("al"), s.ns("au")
    s.source(src, DATA, to=[both1, both2, allowed_only], auto_to=[both1, both2, auto_only])

    s.expect_copies(src, [both1, both2], description="copies only where both lists allow")
    # The wait above passes as soon as the expected copies exist; one more in `allowed_only` or
    # `auto_only` could still be on its way. After the sentinel, nothing is.
    s.settle(src)
    s.assert_copies(src, [both1, both2])


@behaviour("C2", "namespace label selector ORed with the allowed list (Reflector 2026)", key="C2.selector")
def test_namespace_label_selector_extends_the_allowed_set(scenario: Scenario) -> None:
    s = scenario
    label = f"replicheck.io/sel-{secrets.token_hex(3)}"  # unique: selects only this test's namespace
    src, listed, labelled, _other = s.ns("src"), s.ns("listed"), s.ns("labelled", {label: "yes"}), s.ns("x")
    annotations = {**s.impl.annotate([listed]), s.dialect.allowed_selector_key: f"{label}=yes"}
    s.create(src, DATA, annotations)

    s.expect_copies(src, [listed, labelled], description="copies in the listed and the labelled namespace")


@behaviour("C3", "list whitespace and empty entries")
def test_list_entries_are_trimmed_and_empty_entries_ignored(scenario: Scenario) -> None:
    s = scenario
    src, a, b, c, _unlisted = s.ns("src"), s.ns("a"), s.ns("b"), s.ns("c"), s.ns("unlisted")
    s.source(src, DATA, to=f"  {a} , ,{b},,\t{c}  ,", auto_to=f" {a},{b} ,  {c} ,")

    s.expect_copies(src, [a, b, c], description="copies in every listed namespace")


@behaviour("C4", "regex semantics: full-name match, globs are not globs")
def test_entries_are_regexes_matching_the_whole_name(scenario: Scenario) -> None:
    s = scenario
    token = f"c4{secrets.token_hex(2)}"  # a prefix no other test uses
    src = s.ns("src")
    anchored, glob, prefix, substring = (s.ns(f"{token}-{x}") for x in "abcd")
    entries = [
        f"^{re.escape(anchored[:-6])}.*",  # ^<prefix>-a-.* matches <prefix>-a-<hex>
        f"{glob[:-6]}*",  # "<prefix>-b-*" is <prefix>-b followed by hyphens: no match
        prefix[:-7],  # "<prefix>-c": a prefix, not the whole name: no match
        f"{substring[len(s.cluster.run_id) + 1 : -6]}.*",  # matches inside the name only: no match
    ]
    allure.dynamic.parameter("entries", entries)
    s.source(src, DATA, to=entries)

    s.expect_copies(src, [anchored], description="a copy only where an entry matches the whole name")


@behaviour("C4", "an invalid regex ('*') affects only its own source (H1)")
def test_invalid_entry_replicates_nowhere_and_does_not_stall_others(scenario: Scenario) -> None:
    s = scenario
    src, target = s.ns("src"), s.ns("target")
    # The auto list keeps a glob-reading implementation inside this test's namespace.
    poison = s.source(src, DATA, to="*", auto_to=[target])

    # Other sources created after it still replicate...
    s.settle(src)
    # ...and the invalid one replicates nowhere and is left as it is.
    s.assert_copies(src, [])
    after = s.read(src)
    assert after.metadata.resource_version == poison.metadata.resource_version, "the source was written to"


@allure.description(
    "Security note: a missing or empty allowed list lets a manual mirror in ANY namespace pull the "
    "source's data. Sources should always carry an explicit allowed list."
)
@behaviour("C5", "empty or missing allowed list = all namespaces")
@pytest.mark.parametrize("allowed_list", [None, "", " , "], ids=["missing", "empty", "blank-entries"])
def test_missing_or_empty_allowed_list_allows_every_namespace(
    scenario: Scenario, allowed_list: str | None
) -> None:
    s = scenario
    src, a, b, puller = s.ns("src"), s.ns("a"), s.ns("b"), s.ns("puller")
    # The auto list keeps copies inside this test's namespaces (the cluster is shared).
    s.source(src, DATA, to=allowed_list, auto_to=[a, b])
    s.mirror(puller, of=src)

    s.expect_copies(
        src, [a, b], ignore=[puller], description="auto copies in namespaces named in no allowed list"
    )
    s.wait(lambda: s.assert_holds(puller, src), "a manual mirror in an unlisted namespace to pull the data")


@behaviour("C6", "boolean spellings: true/True/TRUE")
@pytest.mark.parametrize("spelling", ["true", "True", "TRUE", " true "])
def test_true_in_any_case_enables_replication(scenario: Scenario, spelling: str) -> None:
    s = scenario
    src, a = s.ns("src"), s.ns("a")
    s.source(src, DATA, to=[a], allowed=spelling, auto=spelling)

    s.expect_copies(src, [a], description=f"a copy with allowed/auto-enabled {spelling!r}")


@behaviour("C6", "boolean spellings: yes/1 count as false")
@pytest.mark.parametrize("spelling", ["yes", "1", "on"])
def test_other_truthy_spellings_count_as_false(
    scenario: Scenario, spelling: str, impl: ReflectorDialectSystem
) -> None:
    s = scenario
    src, a, mirror_ns = s.ns("src"), s.ns("a"), s.ns("mirror")
    # auto-enabled spelled `spelling`: a manual mirror is filled (allowed is true), no auto copy.
    s.source(src, DATA, to=[a, mirror_ns], auto=spelling, auto_to=[a])
    s.mirror(mirror_ns, of=src)
    # allowed spelled `spelling`: nothing at all, not even manual mirrors.
    denied = s.another()
    denied.source(src, DATA, to=[a, mirror_ns], allowed=spelling, auto_to=[a])
    denied_mirror = denied.mirror(mirror_ns, of=src)

    s.wait(lambda: s.assert_holds(mirror_ns, src), "the manual mirror of the allowed source to be filled")
    s.settle(src)

    s.assert_copies(src, [mirror_ns])  # no auto copy in a
    denied.assert_copies(src, [], ignore=[mirror_ns])  # no copy of the denied source anywhere
    after = denied.read(mirror_ns)
    assert after.metadata.resource_version == denied_mirror.metadata.resource_version, (
        f"a manual mirror was filled although reflection-allowed is {spelling!r}"
    )
