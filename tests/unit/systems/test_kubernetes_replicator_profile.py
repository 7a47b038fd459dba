"""The kubernetes-replicator profile's pure parts, on plain data (CI has no kubernetes-replicator
binary; tests/byo/ checks the same claims against the user's binary).

What a declaration means is checked through the mittwald model (fixtures/systems/dialects/mittwald.py):
the namespaces the controller would pick from the annotation are exactly those the neutral target
names.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from fixtures.clusters.local import LocalControlPlane
from fixtures.clusters.providers import LocalProvider
from fixtures.core.errors import SetupError
from fixtures.systems import (
    LabelSelector,
    Names,
    Patterns,
    Requirement,
    Source,
    Unsupported,
    selected,
    system,
)
from fixtures.systems.byo import ExternalSystem
from fixtures.systems.dialects import mittwald as md
from fixtures.systems.packaging import COMMAND_OPTION
from fixtures.systems.profiles.kubernetes_replicator import CONTROLLER, SYSTEM
from fixtures.systems.registry import Selection, bind_command

SRC = Source("Secret", "apps", "creds")
NAMESPACES = ["apps", "a", "b", "ab", "team-1", "team-12", "xteam-1", "other"]


def test_it_is_registered_in_its_own_dialect_and_selectable_beside_the_bundled_operator() -> None:
    assert system("kubernetes-replicator") is SYSTEM
    assert SYSTEM.dialect == "mittwald"
    assert selected("bundled,kubernetes-replicator").names == ["bundled", "kubernetes-replicator"]
    described = SYSTEM.describe()
    assert described["program"] == "kubernetes-replicator"
    assert "neutral.drift.delete" in described["known_failures"]
    assert set(described["known_failures"]).isdisjoint(SYSTEM.deviations), "a check is either, never both"


@pytest.mark.parametrize(
    "target",
    [
        Names(["a", "team-1"]),
        Patterns(["team-[0-9]+"]),
        Patterns(["a|b"]),  # alternation: must stay whole-name once anchored as ^...$
        Patterns(["a", "te.m-1"]),
    ],
)
def test_a_push_declaration_picks_exactly_the_namespaces_the_target_names(target: Names | Patterns) -> None:
    annotations = SYSTEM.declare(SRC, target).metadata()["annotations"]
    assert set(annotations) == {md.REPLICATE_TO}
    expected = {ns for ns in NAMESPACES if target.matches(ns) and ns != SRC.namespace}
    assert md.push_targets(annotations[md.REPLICATE_TO], NAMESPACES, SRC.namespace) == expected


def test_names_are_written_verbatim_and_patterns_grouped() -> None:
    assert SYSTEM.declare(SRC, Names(["a", "b"])).annotations == {md.REPLICATE_TO: "a,b"}
    assert SYSTEM.declare(SRC, Patterns(["a|b", "c"])).annotations == {md.REPLICATE_TO: "(?:a|b),(?:c)"}
    with pytest.raises(Unsupported, match="splits lists on commas"):
        SYSTEM.declare(SRC, Patterns(["a{1,2}"]))


def test_a_label_selector_becomes_replicate_to_matching() -> None:
    selector = LabelSelector.of({"team": "pay"}, Requirement("env", "In", ("a", "b")))
    assert SYSTEM.declare(SRC, selector).annotations == {md.REPLICATE_TO_MATCHING: "team=pay,env in (a,b)"}


def test_undeclare_removes_every_source_annotation() -> None:
    assert SYSTEM.undeclare(SRC).annotations == dict.fromkeys(md.SOURCE_KEYS)
    patch = SYSTEM.redeclare(SRC, Names(["a"])).patch()["metadata"]["annotations"]
    assert patch[md.REPLICATE_TO] == "a"
    assert patch[md.REPLICATE_TO_MATCHING] is None


def test_pull_is_consent_on_the_source_and_replicate_from_on_the_target() -> None:
    consent = SYSTEM.allow_pull(SRC, Names(["a"])).annotations
    assert md.pull_allowed(consent, "a")
    assert not md.pull_allowed(consent, "ab")
    assert SYSTEM.pull_mirror(SRC).annotations == {md.REPLICATE_FROM: "apps/creds"}
    with pytest.raises(Unsupported):
        SYSTEM.allow_pull(SRC, LabelSelector.of({"team": "pay"}))


def test_copies_are_recognised_and_their_bookkeeping_is_all_that_is_ignored() -> None:
    copy = {**md.copy_bookkeeping("7", ["k"]), md.REPLICATED_AT: "2026-01-01T00:00:00Z", "x": "1"}
    assert SYSTEM.is_copy(copy, None, SRC)
    assert SYSTEM.version_of(copy, None) == "7"
    assert SYSTEM.bookkeeping.strip(copy) == ({"x": "1"}, {})
    assert not SYSTEM.is_copy({**copy, **md.pull("apps", "creds")}, None, SRC)


def test_a_filled_pull_target_is_its_mirror_and_its_replicate_from_is_bookkeeping() -> None:
    empty = md.pull("apps", "creds")
    filled = {**empty, **md.copy_bookkeeping("9", ["k"]), md.REPLICATED_AT: "t"}
    assert not SYSTEM.is_pull_mirror(empty, None, SRC), "not filled yet"
    assert SYSTEM.is_pull_mirror(filled, None, SRC)
    assert not SYSTEM.is_pull_mirror(filled, None, Source("Secret", "apps", "other"))
    assert SYSTEM.version_of(filled, None) == "9"
    assert SYSTEM.records_version
    assert SYSTEM.bookkeeping.strip(filled) == ({}, {})


def test_more_than_one_replica_is_refused_for_want_of_leader_election(tmp_path: Path) -> None:
    local = LocalProvider(LocalControlPlane.attach("r", None, 1)).cluster()
    with pytest.raises(SetupError, match="no leader election"):
        SYSTEM.deploy(local, tmp_path, replicas=2)


def test_our_manifest_grants_only_what_secret_and_configmap_replication_needs() -> None:
    docs = {d["kind"]: d for d in yaml.safe_load_all(CONTROLLER.manifest.read_text()) if d}
    rules = {(tuple(r["resources"]), tuple(r["verbs"])) for r in docs["ClusterRole"]["rules"]}
    assert rules == {
        (("namespaces",), ("get", "list", "watch")),
        (("secrets", "configmaps"), ("get", "list", "watch", "create", "update", "patch", "delete")),
    }
    binding = docs["ClusterRoleBinding"]
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": "kubernetes-replicator", "namespace": "kubernetes-replicator"}
    ]
    assert CONTROLLER.identity() == ("kubernetes-replicator", "kubernetes-replicator")
    args = docs["Deployment"]["spec"]["template"]["spec"]["containers"][0]["args"]
    assert {
        "-replicate-roles=false",
        "-replicate-role-bindings=false",
        "-replicate-service-accounts=false",
    } <= set(args)


def test_the_command_option_goes_to_the_one_system_the_user_brings() -> None:
    chosen = bind_command(selected("bundled,kubernetes-replicator"), "/opt/bin/kubernetes-replicator -v")
    bound = chosen.systems[1]
    assert isinstance(bound, ExternalSystem)
    assert bound.packaging.command_line == "/opt/bin/kubernetes-replicator -v"
    assert SYSTEM.packaging.command_line is None, "the registered profile is not changed"
    assert bind_command(selected("kubernetes-replicator"), None).systems[0] is SYSTEM


def test_the_command_option_without_such_a_system_or_with_two_is_one_line() -> None:
    with pytest.raises(SetupError, match=f"{COMMAND_OPTION} runs a controller you bring"):
        bind_command(selected("bundled"), "/opt/bin/x")
    other = SYSTEM.with_command(None)
    other.name = "another-controller"
    with pytest.raises(SetupError, match="certify them in separate runs"):
        bind_command(Selection((SYSTEM, other)), "/opt/bin/x")
