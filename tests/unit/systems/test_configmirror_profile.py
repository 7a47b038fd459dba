"""The ConfigMirror profile on plain data: what its declarations mean to the operator's own planning
code (operator_under_test/configmirror/planning.py), how it recognises its replicas, and what the
interface cannot ask of it."""

from __future__ import annotations

from typing import Any

import allure
import pytest

from fixtures.systems import LabelSelector, Names, Patterns, Source, Unsupported, registered, selected, system
from fixtures.systems.configmirror import SYSTEM
from fixtures.systems.dialects.configmirror import (
    API_VERSION,
    KIND,
    OWNER_LABEL,
    SELECT_LABEL,
    SOURCE_ANNOTATION,
    mirror_body,
)
from fixtures.systems.packaging import PythonPackage, WithPostgres
from operator_under_test.configmirror.planning import parse_mirror, plan

pytestmark = allure.label("system", SYSTEM)  # ConfigMirror's column in the report

SOURCE = Source("ConfigMap", "apps", "settings")


def _configmap(namespace: str, name: str, labels: dict[str, str], data: dict[str, str]) -> dict[str, Any]:
    return {"metadata": {"namespace": namespace, "name": name, "labels": labels}, "data": data}


def _planned(targets: list[str], existing: list[str]) -> tuple[Any, dict[str, Any]]:
    """Apply the profile's declaration of SOURCE the way the test driver does (labels on the
    source, the ConfigMirror created with a uid), then let the operator plan it."""
    profile = system(SYSTEM)
    declared = profile.declare(SOURCE, Names(targets))
    (resource,) = declared.resources
    mirror = parse_mirror({**resource, "metadata": {**resource["metadata"], "uid": "u-1"}})
    source = _configmap("apps", "settings", {"app": "x", **declared.metadata()["labels"]}, {"k": "v"})
    other = _configmap("apps", "unrelated", {"app": "x"}, {"k": "other"})
    configmaps = {("apps", "settings"): source, ("apps", "unrelated"): other}
    return plan(mirror, configmaps, ["apps", *existing], owned=[]), source


def test_configmirror_is_a_registered_crd_driven_system_of_its_own_dialect() -> None:
    profile = system(SYSTEM)
    assert SYSTEM in registered()
    assert (profile.dialect, profile.driven_by, sorted(profile.kinds)) == (
        "configmirror",
        "crd",
        ["ConfigMap"],
    )
    assert selected(f"bundled,{SYSTEM}").names == ["bundled", SYSTEM]  # no dialect clash: one cluster
    assert {"configmirror", "configmirror_deployment"} <= profile.fixtures
    assert isinstance(profile.packaging, WithPostgres)
    assert isinstance(profile.packaging.inner, PythonPackage)
    assert (profile.packaging.inner.manifests / "kustomization.yaml").exists()


def test_a_declaration_is_one_configmirror_selecting_exactly_its_source() -> None:
    declared = system(SYSTEM).declare(SOURCE, Names(["t1", "t2"]))
    assert declared.labels == {SELECT_LABEL: "settings"}
    assert declared.annotations == {}
    assert declared.resources == (
        mirror_body(
            "mirror-settings", "apps", "apps", ["t1", "t2"], {"matchLabels": {SELECT_LABEL: "settings"}}
        ),
    )
    planned, _ = _planned(["t1", "t2", "later"], existing=["t1", "t2"])
    assert planned.sources == ["settings"]  # the unrelated ConfigMap with the same app label stays put
    assert [(c["metadata"]["namespace"], c["metadata"]["name"]) for c in planned.creates] == [
        ("t1", "settings"),
        ("t2", "settings"),
    ]
    assert planned.missing_targets == ["later"]


def test_its_replicas_are_recognised_and_equal_the_source_without_bookkeeping() -> None:
    profile = system(SYSTEM)
    planned, source = _planned(["t1"], existing=["t1"])
    (replica,) = planned.creates
    meta = replica["metadata"]
    assert profile.is_copy(meta.get("annotations"), meta.get("labels"), SOURCE)
    assert not profile.is_copy(
        meta.get("annotations"), meta.get("labels"), Source("ConfigMap", "other", "settings")
    )
    assert not profile.is_copy({}, {}, SOURCE)  # a same-name ConfigMap someone else made
    assert profile.bookkeeping.strip(meta.get("annotations"), meta.get("labels")) == ({}, {})
    assert replica["data"] == source["data"]
    assert OWNER_LABEL in meta["labels"]
    assert meta["annotations"][SOURCE_ANNOTATION] == SOURCE.key


def test_undeclaring_deletes_the_configmirror_and_unlabels_the_source() -> None:
    profile = system(SYSTEM)
    gone = profile.undeclare(SOURCE)
    assert gone.labels == {SELECT_LABEL: None}
    assert gone.patch() == {"metadata": {"labels": {SELECT_LABEL: None}}}
    assert gone.deleted == ((API_VERSION, KIND, "apps", "mirror-settings"),)
    again = profile.redeclare(SOURCE, Names(["t3"]))
    assert again.deleted == ()  # replaced by name, not deleted
    assert again.resources[0]["spec"]["targetNamespaces"] == ["t3"]


@pytest.mark.parametrize(
    ("target", "kind", "pull"),
    [
        (Patterns(["team-.*"]), "ConfigMap", False),
        (LabelSelector.of({"team": "a"}), "ConfigMap", False),
        (Names(["t1"]), "Secret", False),
        (Names(["t1"]), "ConfigMap", True),
    ],
    ids=["patterns", "namespace-selector", "secrets", "pull-mirror"],
)
def test_what_it_cannot_express_is_unsupported_with_one_line(target: Any, kind: str, pull: bool) -> None:
    profile = system(SYSTEM)
    source = Source(kind, "apps", "settings")
    act = profile.allow_pull if pull else profile.declare
    with pytest.raises(Unsupported) as err:
        act(source, target)
    assert "\n" not in str(err.value)
    assert profile.target_for(["a", "b"]) == Names(["a", "b"])


def test_it_names_no_poison_declaration_because_the_api_server_refuses_them_first() -> None:
    with pytest.raises(Unsupported, match="the API server itself rejects a malformed ConfigMirror"):
        system(SYSTEM).poison(SOURCE)


def test_its_own_tests_report_under_it_whichever_systems_the_run_selected() -> None:
    from types import SimpleNamespace

    from fixtures.plugins import session as plugin

    config = SimpleNamespace(stash=pytest.Stash())
    config.stash[plugin._SELECTION] = selected("bundled")
    labelled = allure.label("system", SYSTEM).mark  # what the module-level pytestmark adds

    def item(fixtures: set[str], *marks: pytest.Mark) -> Any:
        def iter_markers(name: str) -> list[pytest.Mark]:
            return [m for m in marks if m.name == name]

        return SimpleNamespace(config=config, fixturenames=fixtures, callspec=None, iter_markers=iter_markers)

    assert plugin.system_of(item({"configmirror", "cluster"}, labelled)) == SYSTEM
    assert plugin.system_of(item({"cluster"}, labelled)) == SYSTEM  # packaging, unit tests
    assert plugin.system_of(item({"configmirror", "cluster"})) is None  # not selected, not labelled
