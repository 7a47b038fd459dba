"""Planning of the ConfigMirror operator on plain dicts: replicas, conflicts, deletes, status, rows."""

from __future__ import annotations

import base64
from typing import Any

import allure
import pytest

from fixtures.systems.configmirror import SYSTEM
from operator_under_test.configmirror.planning import (
    FINALIZER,
    OWNER_LABEL,
    SpecError,
    parse_mirror,
    plan,
    ready_condition,
    row_of,
    status_body,
    status_differs,
)

pytestmark = allure.label("system", SYSTEM)  # ConfigMirror's column in the report

UID = "0000-uid"


def mirror_obj(**spec: Any) -> dict[str, Any]:
    base = {
        "sourceNamespace": "src",
        "targetNamespaces": ["a", "b"],
        "selector": {"matchLabels": {"app": "x"}},
    }
    return {
        "metadata": {"name": "m", "namespace": "ops", "uid": UID, "generation": 3, "resourceVersion": "9"},
        "spec": {**base, **spec},
    }


def cm(ns: str, name: str, labels: dict[str, str] | None = None, **payload: Any) -> dict[str, Any]:
    return {
        "metadata": {
            "namespace": ns,
            "name": name,
            "uid": f"u-{ns}-{name}",
            "resourceVersion": "1",
            "labels": labels or {},
        },
        **payload,
    }


def cache(*objs: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(o["metadata"]["namespace"], o["metadata"]["name"]): o for o in objs}


def test_matching_sources_replicate_to_every_existing_target() -> None:
    m = parse_mirror(mirror_obj())
    bin_ = base64.b64encode(b"\x00\x01").decode()
    src = cm("src", "c1", {"app": "x"}, data={"k": "v"}, binaryData={"b": bin_})
    other = cm("src", "c2", {"app": "y"}, data={"k": "v"})
    p = plan(m, cache(src, other), {"src", "a", "b"}, [])
    assert sorted((b["metadata"]["namespace"], b["metadata"]["name"]) for b in p.creates) == [
        ("a", "c1"),
        ("b", "c1"),
    ]
    body = p.creates[0]
    assert body["data"] == {"k": "v"}
    assert body["binaryData"] == {"b": bin_}
    assert body["metadata"]["labels"][OWNER_LABEL] == UID
    assert "app" not in body["metadata"]["labels"], "source labels are not copied (no chains)"


def test_same_name_configmap_not_owned_is_a_conflict_never_written() -> None:
    m = parse_mirror(mirror_obj())
    src = cm("src", "c1", {"app": "x"}, data={"k": "v"})
    foreign = cm("a", "c1", {}, data={"mine": "keep"})
    p = plan(m, cache(src, foreign), {"src", "a", "b"}, [])
    assert p.conflicts == [("a", "c1")]
    assert [b["metadata"]["namespace"] for b in p.creates] == ["b"]
    assert not p.updates
    assert not p.deletes
    assert ready_condition(p, m, 0).reason == "ReplicaConflict"


def test_replica_of_another_mirror_is_a_conflict() -> None:
    m = parse_mirror(mirror_obj())
    src = cm("src", "c1", {"app": "x"}, data={"k": "v"})
    theirs = cm("a", "c1", {OWNER_LABEL: "someone-else"}, data={"k": "v"})
    p = plan(m, cache(src, theirs), {"src", "a", "b"}, [])
    assert p.conflicts == [("a", "c1")]


def test_source_update_updates_and_stale_replicas_are_deleted() -> None:
    m = parse_mirror(mirror_obj(targetNamespaces=["a"]))
    src = cm("src", "c1", {"app": "x"}, data={"k": "new"})
    first = plan(m, cache(src), {"src", "a"}, []).creates[0]
    stale = {
        **first,
        "data": {"k": "old"},
        "metadata": {**first["metadata"], "uid": "r1", "resourceVersion": "5"},
    }
    p = plan(m, cache(src, stale), {"src", "a"}, [stale])
    assert [d["data"] for _, d in p.updates] == [{"k": "new"}]
    # source no longer matching: its replica is deleted
    unmatched = cm("src", "c1", {"app": "nope"}, data={"k": "new"})
    p2 = plan(m, cache(unmatched, stale), {"src", "a"}, [stale])
    assert [d["metadata"]["name"] for d in p2.deletes] == ["c1"]
    assert not p2.creates
    # target removed from the list: its replica is deleted
    m2 = parse_mirror(mirror_obj(targetNamespaces=["b"]))
    p3 = plan(m2, cache(src, stale), {"src", "a", "b"}, [stale])
    assert [d["metadata"]["namespace"] for d in p3.deletes] == ["a"]
    assert [c["metadata"]["namespace"] for c in p3.creates] == ["b"]


def test_missing_target_and_source_namespace_are_reported() -> None:
    m = parse_mirror(mirror_obj())
    src = cm("src", "c1", {"app": "x"}, data={"k": "v"})
    p = plan(m, cache(src), {"src", "a"}, [])
    assert p.missing_targets == ["b"]
    assert ready_condition(p, m, 0).reason == "TargetNamespaceMissing"
    p2 = plan(m, cache(), {"a", "b"}, [])
    assert ready_condition(p2, m, 0).reason == "SourceNamespaceMissing"


def test_nothing_matching_is_ready_with_its_own_reason() -> None:
    m = parse_mirror(mirror_obj())
    p = plan(m, cache(cm("src", "c1", {"app": "y"})), {"src", "a", "b"}, [])
    cond = ready_condition(p, m, 0)
    assert (cond.status, cond.reason) == ("True", "NoMatchingConfigMaps")


def test_replicas_are_never_sources_and_source_namespace_is_never_a_target() -> None:
    m = parse_mirror(mirror_obj(targetNamespaces=["src", "a"], selector={}))
    replica_in_source = cm("src", "r", {OWNER_LABEL: "x"}, data={"k": "v"})
    src = cm("src", "c1", {}, data={"k": "v"})
    p = plan(m, cache(replica_in_source, src), {"src", "a"}, [])
    assert sorted((b["metadata"]["namespace"], b["metadata"]["name"]) for b in p.creates) == [("a", "c1")]


def test_deleting_mirror_plans_only_deletes() -> None:
    obj = mirror_obj()
    obj["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    obj["metadata"]["finalizers"] = [FINALIZER]
    m = parse_mirror(obj)
    src = cm("src", "c1", {"app": "x"}, data={"k": "v"})
    owned = cm("a", "c1", {OWNER_LABEL: UID}, data={"k": "v"})
    p = plan(m, cache(src, owned), {"src", "a", "b"}, [owned])
    assert not p.creates
    assert not p.updates
    assert [d["metadata"]["namespace"] for d in p.deletes] == ["a"]


@pytest.mark.parametrize(
    ("spec", "reason"),
    [
        ({"sourceNamespace": ""}, "InvalidSpec"),
        ({"selector": {"matchExpressions": [{"key": "k", "operator": "Bad"}]}}, "InvalidSelector"),
        ({"database": {"enabled": True}}, "InvalidSpec"),
    ],
)
def test_unusable_specs_raise_with_a_reason(spec: dict[str, Any], reason: str) -> None:
    with pytest.raises(SpecError) as err:
        parse_mirror(mirror_obj(**spec))
    assert err.value.reason == reason


def test_secret_namespace_defaults_to_the_mirror_namespace() -> None:
    m = parse_mirror(mirror_obj(database={"enabled": True, "secretRef": {"name": "db"}}))
    assert (m.secret_namespace, m.secret_name, m.db_enabled) == ("ops", "db", True)


def test_rows_are_the_replicas_data() -> None:
    m = parse_mirror(mirror_obj(targetNamespaces=["a"]))
    p = plan(m, cache(cm("src", "c1", {"app": "x"}, data={"k": "v"})), {"src", "a"}, [])
    (row,) = [row_of(b) for b in p.desired]
    assert (row.namespace, row.name, dict(row.data)) == ("a", "c1", {"k": "v"})


def test_status_keeps_transition_time_until_status_changes() -> None:
    m = parse_mirror(mirror_obj())
    p = plan(m, cache(), {"src", "a", "b"}, [])
    first = status_body(m, [ready_condition(p, m, 0)], 0, None, "T1")
    same = status_body(m, [ready_condition(p, m, 0)], 0, first, "T2")
    assert same["conditions"][0]["lastTransitionTime"] == "T1"
    assert not status_differs(same, first)
    failed = status_body(m, [ready_condition(p, m, 2)], 0, first, "T3")
    assert failed["conditions"][0]["lastTransitionTime"] == "T3"
    assert status_differs(failed, first)
    assert first["observedGeneration"] == 3


def test_kube_root_ca_is_never_a_source() -> None:
    m = parse_mirror(mirror_obj(targetNamespaces=["a"], selector={}))
    root_ca = cm("src", "kube-root-ca.crt", {}, data={"ca.crt": "x"})
    p = plan(m, cache(root_ca, cm("src", "c1", {}, data={"k": "v"})), {"src", "a"}, [])
    assert [b["metadata"]["name"] for b in p.creates] == ["c1"]
