"""The dialect-neutral system interface without a cluster: targets, declarations, bookkeeping, the
registry and selection, the Reflector-dialect profiles, the record labels, and that a CRD-driven
system (ConfigMirror's shape) can be expressed through the same interface."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from fixtures.core import record as records
from fixtures.core.errors import SetupError
from fixtures.systems import (
    ALL,
    Bookkeeping,
    Declaration,
    LabelSelector,
    Names,
    Patterns,
    ReplicationSystem,
    Requirement,
    Source,
    Target,
    Unsupported,
    parse_selection,
    registered,
    selected,
    system,
)
from fixtures.systems.dialects import reflector as rd

SRC = Source("Secret", "apps", "creds")


# --- targets ---------------------------------------------------------------------------------------


def test_targets_name_namespaces_by_list_by_whole_pattern_or_by_labels() -> None:
    assert Names(["a", "b"]).matches("a")
    assert not Names(["a", "b"]).matches("ab")
    patterns = Patterns(["team-.*", "ops"])
    assert patterns.matches("team-x")
    assert patterns.matches("ops")
    assert not patterns.matches("xteam-x")
    assert not patterns.matches("ops2")
    selector = LabelSelector.of(
        {"team": "pay"}, Requirement("env", "In", ("prod", "stage")), Requirement("frozen", "DoesNotExist")
    )
    assert selector.matches("x", {"team": "pay", "env": "prod"})
    assert not selector.matches("x", {"team": "pay", "env": "dev"})
    assert not selector.matches("x", {"team": "pay", "env": "prod", "frozen": "1"})
    assert not selector.matches("x", None)
    assert LabelSelector(match_expressions=(Requirement("team", "NotIn", ("a",)),)).matches("x", {})
    assert LabelSelector(match_expressions=(Requirement("team", "Exists"),)).matches("x", {"team": ""})
    assert [Names(["a"]).kind, Patterns(["a"]).kind, selector.kind] == ["names", "patterns", "selector"]


def test_a_selector_renders_for_a_crd_and_for_an_annotation() -> None:
    selector = LabelSelector.of(
        {"team": "pay"}, Requirement("env", "In", ("a", "b")), Requirement("x", "Exists")
    )
    assert selector.to_api() == {
        "matchLabels": {"team": "pay"},
        "matchExpressions": [
            {"key": "env", "operator": "In", "values": ["a", "b"]},
            {"key": "x", "operator": "Exists"},
        ],
    }
    assert selector.to_string() == "team=pay,env in (a,b),x"


def test_a_declaration_is_metadata_to_create_with_or_a_merge_patch() -> None:
    declared = Declaration({"a": "1", "gone": None}, {"l": "v"})
    assert declared.metadata() == {"annotations": {"a": "1"}, "labels": {"l": "v"}}
    assert declared.patch() == {"metadata": {"annotations": {"a": "1", "gone": None}, "labels": {"l": "v"}}}
    assert Declaration().patch() == {}


def test_bookkeeping_is_stripped_exactly() -> None:
    keeping = Bookkeeping(annotations=frozenset({"x/own"}), labels=frozenset({"owner"}), prefixes=("p/",))
    annotations, labels = keeping.strip({"x/own": "1", "p/any": "2", "user": "3"}, {"owner": "u", "app": "a"})
    assert annotations == {"user": "3"}
    assert labels == {"app": "a"}


# --- the Reflector dialect ---------------------------------------------------------------------------


def test_the_reflector_vocabulary_is_spelled_once() -> None:
    assert {rd.ALLOWED, rd.ALLOWED_NAMESPACES, rd.AUTO_ENABLED, rd.AUTO_NAMESPACES} <= rd.SOURCE_KEYS
    assert {rd.ALLOWED_SELECTOR, rd.AUTO_SELECTOR} <= rd.SOURCE_KEYS
    assert {rd.REFLECTS, rd.AUTO_REFLECTS, rd.REFLECTED_VERSION, rd.REFLECTED_AT} == rd.BOOKKEEPING
    assert all(k.startswith(rd.PREFIX) for k in rd.SOURCE_KEYS | rd.BOOKKEEPING)
    assert set(rd.BOOLEAN_KEYS) | set(rd.LIST_KEYS) <= rd.SOURCE_KEYS
    assert rd.short(rd.REFLECTS) == "reflects"
    assert rd.replicate_to(["a", "b"]) == {
        rd.ALLOWED: "true",
        rd.ALLOWED_NAMESPACES: "a,b",
        rd.AUTO_ENABLED: "true",
    }
    assert rd.replicate_to(None, auto=False, allowed="TRUE") == {rd.ALLOWED: "TRUE"}
    assert rd.redeclare_patch({rd.ALLOWED: "true"})[rd.AUTO_ENABLED] is None


def test_the_bundled_and_reflector_profiles_speak_the_reflector_dialect() -> None:
    bundled, reflector = system("bundled"), system("reflector")
    assert bundled.dialect == reflector.dialect == rd.NAME
    assert bundled.driven_by == "annotations"
    assert bundled.kinds == {"Secret", "ConfigMap"}
    assert bundled.declare(SRC, Names(["a", "b"])).annotations == rd.replicate_to(["a", "b"])
    assert bundled.declare(SRC, Patterns(["team-.*"])).annotations[rd.ALLOWED_NAMESPACES] == "team-.*"
    with pytest.raises(Unsupported, match="bundled cannot target selector"):
        bundled.declare(SRC, LabelSelector.of({"team": "pay"}))  # refused on purpose (C2.selector)
    by_label = reflector.declare(SRC, LabelSelector.of({"team": "pay"})).annotations
    assert by_label[rd.ALLOWED_SELECTOR] == by_label[rd.AUTO_SELECTOR] == "team=pay"
    assert set(bundled.undeclare(SRC).annotations) == rd.SOURCE_KEYS
    assert all(v is None for v in bundled.undeclare(SRC).annotations.values())
    again = bundled.redeclare(SRC, Names(["c"])).annotations
    assert again[rd.ALLOWED_NAMESPACES] == "c"
    assert again[rd.AUTO_NAMESPACES] is None
    assert bundled.allow_pull(SRC, Names(["m"])).annotations == rd.replicate_to(["m"], auto=False)
    both = bundled.declare_with_pull(SRC, Names(["a", "b"]), Names(["m"])).annotations
    assert both == rd.replicate_to(["a", "b", "m"], auto_namespaces=["a", "b"])  # one list, auto subset
    assert bundled.pull_mirror(SRC).annotations == {rd.REFLECTS: "apps/creds"}
    copy = {rd.REFLECTS: "apps/creds", rd.AUTO_REFLECTS: "True", rd.REFLECTED_VERSION: "7"}
    assert bundled.is_copy(copy, None, SRC)
    assert not bundled.is_copy({rd.REFLECTS: "apps/creds"}, None, SRC)  # a manual mirror is the user's
    assert not bundled.is_copy(copy, None, Source("Secret", "other", "creds"))
    assert bundled.version_of(copy, None) == "7"
    assert bundled.bookkeeping.strip({**copy, "user": "x"})[0] == {"user": "x"}
    assert bundled.deviation("C2.selector")
    assert not bundled.deviation("neutral.drift.delete")
    assert reflector.deviation("neutral.drift.delete")
    assert reflector.deviation("C12")
    assert bundled.target_for(["a", "b"]) == Names(["a", "b"])


# --- registry and selection -------------------------------------------------------------------------


def test_the_registry_finds_every_profile_module_default_first() -> None:
    names = registered()
    assert names[0] == "bundled"
    assert "reflector" in names
    assert system("bundled").name == "bundled"
    with pytest.raises(
        SetupError, match=r"unknown implementation 'nope'; choose one of: bundled, .* \(or all\)"
    ):
        system("nope")


def test_implementation_option_takes_a_name_a_comma_list_or_all() -> None:
    assert parse_selection(None) == parse_selection("") == ["bundled"]
    assert parse_selection(" bundled , reflector,bundled ") == ["bundled", "reflector"]
    assert parse_selection(ALL) == registered()
    assert selected("bundled").names == ["bundled"]


def test_two_systems_of_one_dialect_never_share_a_cluster() -> None:
    with pytest.raises(SetupError, match="bundled and reflector both act on the reflector dialect"):
        selected("bundled,reflector")
    everything = selected(ALL)
    assert everything.names[0] == "bundled"
    assert "reflector" not in everything.names
    assert dict(everything.left_out)["reflector"].startswith("bundled and reflector both act")


# --- the reporting contract ---------------------------------------------------------------------------


def test_records_written_inside_a_system_block_carry_its_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(records, "RECORDS_DIR", tmp_path)
    with records.labelled(system="bundled"):
        records.record("latency", property="6", seconds=0.1)
        records.record("latency", property="6", seconds=0.2, system="explicit")
    records.record("latency", property="6", seconds=0.3)
    lines = [json.loads(line) for path in tmp_path.glob("*.jsonl") for line in path.read_text().splitlines()]
    assert [line.get("system") for line in lines] == ["bundled", "explicit", None]


# --- a CRD-driven system fits the same interface ---------------------------------------------------------


class _CrdShaped(ReplicationSystem):
    """The shape of ConfigMirror (a CR selects labelled sources, lists targets): not a registered
    profile, only proof that the interface expresses a CRD dialect."""

    name = "crd-shaped"
    dialect = "crd-shaped"
    driven_by = "crd"
    kinds = frozenset({"ConfigMap"})
    push_targets = frozenset({"names"})
    bookkeeping = Bookkeeping(labels=frozenset({"example.io/owner-uid"}))
    SOURCE_LABEL = "replicheck.dev/source"

    def declare(self, source: Source, target: Target) -> Declaration:
        self.require(target, kind=source.kind)
        assert isinstance(target, Names)
        body: dict[str, Any] = {
            "apiVersion": "example.io/v1",
            "kind": "Mirror",
            "metadata": {"name": f"m-{source.name}", "namespace": source.namespace},
            "spec": {
                "sourceNamespace": source.namespace,
                "targetNamespaces": list(target.namespaces),
                "selector": LabelSelector.of({self.SOURCE_LABEL: source.name}).to_api(),
            },
        }
        return Declaration(labels={self.SOURCE_LABEL: source.name}, resources=(body,))

    def undeclare(self, source: Source) -> Declaration:
        return Declaration(deleted=(("example.io/v1", "Mirror", source.namespace, f"m-{source.name}"),))

    def is_copy(
        self, annotations: Mapping[str, str] | None, labels: Mapping[str, str] | None, source: Source
    ) -> bool:
        return "example.io/owner-uid" in (labels or {})

    def deploy(
        self, cluster: Any, run_dir: Path, *, replicas: int = 1, extra_args: list[str] | None = None
    ) -> Any:
        raise SetupError("not deployable: an example")


def test_a_crd_driven_system_declares_by_custom_resource() -> None:
    crd = _CrdShaped()
    cm = Source("ConfigMap", "apps", "conf")
    declared = crd.declare(cm, Names(["a"]))
    assert declared.labels == {"replicheck.dev/source": "conf"}
    assert declared.resources[0]["spec"]["selector"] == {"matchLabels": {"replicheck.dev/source": "conf"}}
    again = crd.redeclare(cm, Names(["b"]))
    assert again.deleted == ()  # the resource is replaced by name, not deleted
    assert again.resources[0]["spec"]["targetNamespaces"] == ["b"]
    assert crd.undeclare(cm).deleted == (("example.io/v1", "Mirror", "apps", "m-conf"),)
    with pytest.raises(Unsupported, match="does not replicate Secrets"):
        crd.declare(SRC, Names(["a"]))
    with pytest.raises(Unsupported, match="no pull-style mirrors"):
        crd.pull_mirror(cm)
    with pytest.raises(Unsupported, match="cannot name namespaces one by one"):
        _NoNames().target_for(["a"])
    assert crd.target_for(["a"]) == Names(["a"])
    assert crd.describe()["driven_by"] == "crd"


class _NoNames(_CrdShaped):
    push_targets = frozenset({"selector"})


# --- the driver's pure parts and the test-to-system mapping -------------------------------------------


def test_a_source_body_carries_the_declaration_over_its_own_metadata() -> None:
    from fixtures.systems.driver import body

    declared = Declaration({"a": "1", "gone": None}, {"sel": "x"})
    secret = body(SRC, {"k": "v"}, declared, annotations={"a": "0", "own": "y"}, labels={"app": "z"})
    assert secret.metadata.annotations == {"a": "1", "own": "y"}
    assert secret.metadata.labels == {"app": "z", "sel": "x"}
    assert secret.data == {"k": "dg=="}
    assert secret.type == "Opaque"
    cm = body(Source("ConfigMap", "apps", "conf"), {"k": b"v"})
    assert cm.data == {"k": "v"}
    assert cm.metadata.annotations is None


def test_a_copy_may_carry_the_sources_metadata_and_bookkeeping_but_nothing_invented() -> None:
    from types import SimpleNamespace

    from fixtures.systems.driver import foreign_metadata

    def obj(annotations: dict[str, str], labels: dict[str, str]) -> Any:
        return SimpleNamespace(metadata=SimpleNamespace(annotations=annotations, labels=labels))

    source = obj({"team": "pay"}, {"app": "a"})
    bundled = system("bundled")
    copy = obj({rd.REFLECTS: "apps/creds", "team": "pay"}, {"app": "a"})
    assert foreign_metadata(bundled, copy, source) == []
    invented = obj({rd.REFLECTS: "apps/creds", "team": "other", "new": "x"}, {"extra": "1"})
    assert foreign_metadata(bundled, invented, source) == ["annotation new", "annotation team", "label extra"]


def test_a_test_runs_against_its_system_parameter_or_the_system_whose_fixtures_it_uses() -> None:
    from types import SimpleNamespace

    from fixtures.plugins import session as plugin

    config = SimpleNamespace(stash=pytest.Stash())
    config.stash[plugin._SELECTION] = selected("bundled")

    def item(fixtures: set[str], params: dict[str, str] | None = None) -> Any:
        callspec = SimpleNamespace(params=params) if params is not None else None
        return SimpleNamespace(
            config=config, fixturenames=fixtures, callspec=callspec, iter_markers=lambda name: iter(())
        )

    assert plugin.system_of(item({"system"}, {"system": "other"})) == "other"
    assert plugin.system_of(item({"system", "cluster"})) == "bundled"
    assert plugin.system_of(item({"scenario", "cluster"})) == "bundled"  # the C1-C21 suite
    assert plugin.system_of(item({"operator"})) == "bundled"
    assert plugin.system_of(item({"cluster", "namespace"})) is None  # a harness test: no system
    assert plugin.reflector_dialect_system(config).name == "bundled"  # type: ignore[arg-type]
