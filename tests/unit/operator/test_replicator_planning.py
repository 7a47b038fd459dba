"""Planning rules as plain data: every lifecycle row of reflector-semantics.md §1.3 that we implement."""

from __future__ import annotations

from operator_under_test.replicator import annotations as a
from operator_under_test.replicator.planning import (
    ObjectView,
    Plan,
    SourceView,
    Write,
    copy_body,
    delete_options,
    payload_digest,
    plan,
    update_patch,
)

SRC = ("src", "creds")
NAMESPACES = {"src", "a", "b", "c", "kube-system"}
PAYLOAD = {"data": {"user": "YWxpY2U="}}
DIGEST = payload_digest(PAYLOAD)


def source(rv: str = "10", stype: str = "Opaque", **ann: str) -> SourceView:
    annotations = {a.PREFIX + k: v for k, v in ann.items()}
    return SourceView("src", "creds", rv, "uid-src", annotations, stype, PAYLOAD)


def auto_source(allowed: str = "", auto: str = "", rv: str = "10", stype: str = "Opaque") -> SourceView:
    return source(
        rv,
        stype,
        **{
            "reflection-allowed": "true",
            "reflection-allowed-namespaces": allowed,
            "reflection-auto-enabled": "true",
            "reflection-auto-namespaces": auto,
        },
    )


def copy(ns: str, *, rv_src: str = "10", digest: str = DIGEST, auto: bool = True, stype: str = "Opaque",
         name: str = "creds", reflects: str = "src/creds") -> ObjectView:  # fmt: skip
    ann = {
        a.REFLECTS: reflects,
        a.AUTO_REFLECTS: "True" if auto else "False",
        a.REFLECTED_VERSION: rv_src,
        a.REFLECTED_AT: "2026-01-01T00:00:00Z",
    }
    return ObjectView(ns, name, f"rv-{ns}", f"uid-{ns}", ann, digest, stype)


def unrelated(ns: str, **ann: str) -> ObjectView:
    return ObjectView(ns, "creds", f"rv-{ns}", f"uid-{ns}", ann, None, "Opaque")


def actions(p: Plan) -> set[tuple[str, str]]:
    return {(w.action, w.namespace) for w in p.writes}


def test_c2_creates_in_listed_namespaces_only_never_in_own() -> None:
    p = plan(SRC, auto_source("a,b,src"), NAMESPACES, {"src": unrelated("src")})
    assert actions(p) == {("create", "a"), ("create", "b")}


def test_c1_allowed_only_creates_nothing() -> None:
    s = source(**{"reflection-allowed": "true"})
    assert plan(SRC, s, NAMESPACES, {}).writes == ()


def test_c5_empty_list_means_every_namespace() -> None:
    p = plan(SRC, auto_source(), NAMESPACES, {})
    assert actions(p) == {("create", ns) for ns in NAMESPACES - {"src"}}


def test_create_skips_missing_and_terminating_namespaces() -> None:
    p = plan(SRC, auto_source("a,b,zz"), {"src", "a"}, {}, terminating={"b"})
    assert actions(p) == {("create", "a")}


def test_c7_source_update_updates_copies_and_nothing_when_in_sync() -> None:
    in_sync = {"a": copy("a")}
    assert plan(SRC, auto_source("a"), NAMESPACES, in_sync).writes == ()
    stale = {"a": copy("a", rv_src="9", digest="old")}
    p = plan(SRC, auto_source("a"), NAMESPACES, stale)
    assert p.writes == (Write("update", "a", "creds", True, "source-changed", "rv-a", "uid-a"),)


def test_annotation_only_source_change_bumps_reflected_version() -> None:
    p = plan(SRC, auto_source("a", rv="11"), NAMESPACES, {"a": copy("a", rv_src="10")})
    assert [(w.action, w.reason) for w in p.writes] == [("update", "version")]


def test_c13_drift_is_repaired_even_with_matching_reflected_version() -> None:
    p = plan(SRC, auto_source("a"), NAMESPACES, {"a": copy("a", digest="tampered")})
    assert [(w.action, w.namespace, w.reason) for w in p.writes] == [("update", "a", "drift")]


def test_c12_deleted_copy_is_recreated() -> None:
    p = plan(SRC, auto_source("a,b"), NAMESPACES, {"a": copy("a")})
    assert actions(p) == {("create", "b")}


def test_c9_namespace_removed_from_list_deletes_auto_copy_only() -> None:
    existing = {"a": copy("a"), "b": copy("b"), "c": copy("c", auto=False)}
    p = plan(SRC, auto_source("a"), NAMESPACES, existing)
    assert actions(p) == {("delete", "b")}
    assert ("c", "creds") in p.frozen  # manual mirror kept, no longer updated


def test_c9_removed_from_auto_list_keeps_permitted_manual_mirror_updated() -> None:
    existing = {"b": copy("b", auto=False, digest="old")}
    p = plan(SRC, auto_source("a,b", auto="a"), NAMESPACES, existing)
    assert actions(p) == {("create", "a"), ("update", "b")}
    assert [w.auto for w in p.writes if w.namespace == "b"] == [False]


def test_c10_auto_enabled_off_deletes_auto_copies_promptly() -> None:
    s = source(**{"reflection-allowed": "true", "reflection-auto-enabled": "false"})
    p = plan(SRC, s, NAMESPACES, {"a": copy("a"), "b": copy("b")})
    assert actions(p) == {("delete", "a"), ("delete", "b")}
    assert all(w.reason == "not-targeted" for w in p.writes)


def test_allowed_off_deletes_auto_copies_and_freezes_manual_mirrors() -> None:
    s = source(**{"reflection-allowed": "false", "reflection-auto-enabled": "true"})
    mirror = copy("c", auto=False, name="other-name")
    p = plan(SRC, s, NAMESPACES, {"a": copy("a")}, [mirror])
    assert actions(p) == {("delete", "a")}
    assert p.frozen == (("c", "other-name"),)


def test_c11_source_deleted_deletes_auto_copies_keeps_manual_mirrors() -> None:
    existing = {"a": copy("a"), "b": copy("b", auto=False)}
    p = plan(SRC, None, NAMESPACES, existing, [copy("c", auto=False, name="x")])
    assert actions(p) == {("delete", "a")}
    assert p.writes[0].reason == "source-gone"
    assert set(p.frozen) == {("b", "creds"), ("c", "x")}


def test_deletes_carry_uid_and_resource_version_preconditions() -> None:
    p = plan(SRC, None, NAMESPACES, {"a": copy("a")})
    opts = delete_options(p.writes[0])
    assert opts["preconditions"] == {"uid": "uid-a", "resourceVersion": "rv-a"}


def test_c14_unrelated_same_name_object_is_never_touched_and_reported() -> None:
    existing = {
        "a": unrelated("a"),
        "b": unrelated("b", **{a.REFLECTS: "elsewhere/creds", a.AUTO_REFLECTS: "True"}),
    }
    p = plan(SRC, auto_source("a,b,c"), NAMESPACES, existing)
    assert actions(p) == {("create", "c")}
    assert p.conflicts == ("a", "b")
    # ... and not even when the source goes away
    assert plan(SRC, None, NAMESPACES, existing).writes == ()


def test_c15_same_name_independent_sources_never_touch_each_other() -> None:
    other_source = unrelated("a", **{a.ALLOWED: "true", a.AUTO_ENABLED: "true"})
    p = plan(SRC, auto_source(), NAMESPACES, {"a": other_source})
    assert "a" not in {w.namespace for w in p.writes}
    assert p.conflicts == ("a",)


def test_object_with_source_annotations_is_never_deleted_even_if_it_claims_to_be_a_copy() -> None:
    hybrid = copy("a")
    hybrid = ObjectView("a", "creds", "rv", "uid", {**hybrid.annotations, a.ALLOWED: "true"}, "x", "Opaque")
    assert plan(SRC, None, NAMESPACES, {"a": hybrid}).writes == ()


def test_c16_source_namespace_in_own_list_then_narrowed_never_targets_source() -> None:
    the_source = ObjectView(
        "src", "creds", "10", "uid-src", dict(auto_source("src,a").annotations), DIGEST, "Opaque"
    )
    before = plan(SRC, auto_source("src,a"), NAMESPACES, {"src": the_source})
    assert actions(before) == {("create", "a")}
    after = plan(SRC, auto_source("a"), NAMESPACES, {"src": the_source, "a": copy("a")})
    assert after.writes == ()
    # Even a (corrupted) self-reflecting source in its own namespace is never deleted.
    selfish = copy("src")
    assert plan(SRC, None, NAMESPACES, {"src": selfish}).writes == ()


def test_295_manual_same_name_mirror_outside_auto_set_is_not_deleted() -> None:
    p = plan(SRC, auto_source("a,b", auto="a"), NAMESPACES, {"a": copy("a"), "b": copy("b", auto=False)})
    assert "delete" not in {w.action for w in p.writes}


def test_manual_mirror_with_other_name_is_filled_when_permitted() -> None:
    mirror = copy("b", auto=False, name="pull", digest="empty", rv_src="")
    p = plan(
        SRC,
        source(**{"reflection-allowed": "true", "reflection-allowed-namespaces": "b"}),
        NAMESPACES,
        {},
        [mirror],
    )
    assert [(w.action, w.namespace, w.name, w.auto) for w in p.writes] == [("update", "b", "pull", False)]


def test_manual_mirror_with_auto_flag_but_other_name_is_treated_as_manual() -> None:
    mirror = copy("b", auto=True, name="pull")
    p = plan(SRC, None, NAMESPACES, {}, [mirror])
    assert p.writes == ()
    assert p.frozen == (("b", "pull"),)


def test_c17_type_change_recreates_auto_copy_but_not_manual_mirror() -> None:
    tls = auto_source("a,b", stype="kubernetes.io/tls")
    p = plan(SRC, tls, NAMESPACES, {"a": copy("a"), "b": copy("b", auto=False)})
    assert [(w.action, w.namespace) for w in p.writes] == [("recreate", "a")]


def test_c21_helm_release_sources_are_ignored() -> None:
    helm = auto_source(stype="helm.sh/release.v1")
    p = plan(SRC, helm, NAMESPACES, {"a": copy("a")})
    assert p.writes == ()
    assert p.ignored


def test_c20_excluded_source_namespace_is_ignored_entirely() -> None:
    p = plan(SRC, None, NAMESPACES, {"a": copy("a")}, excluded_source=True)
    assert p.writes == ()
    assert p.ignored


def test_h1_invalid_pattern_plans_nothing_and_reports() -> None:
    bad = auto_source("*")
    p = plan(SRC, bad, NAMESPACES, {"a": copy("a")})
    assert p.writes == ()
    assert p.error is not None
    assert p.error.annotation == a.ALLOWED_NAMESPACES


def test_hints_for_glob_like_entries() -> None:
    p = plan(SRC, auto_source("ns-*"), NAMESPACES, {})
    assert p.hints
    assert "'^ns-.*'" in p.hints[0]


def test_copy_in_terminating_namespace_is_left_alone() -> None:
    p = plan(SRC, None, NAMESPACES - {"a"}, {"a": copy("a")}, terminating={"a"})
    assert p.writes == ()


# --- bodies ----------------------------------------------------------------------------------------


def test_c18_copy_body_has_payload_type_and_exactly_four_annotations_no_labels() -> None:
    s = auto_source(stype="kubernetes.io/dockerconfigjson")
    body = copy_body("Secret", s, "a", now="2026-01-01T00:00:00Z")
    assert body["type"] == "kubernetes.io/dockerconfigjson"
    assert body["data"] == PAYLOAD["data"]
    assert "labels" not in body["metadata"]
    assert body["metadata"]["annotations"] == {
        a.REFLECTS: "src/creds",
        a.AUTO_REFLECTS: "True",
        a.REFLECTED_VERSION: "10",
        a.REFLECTED_AT: "2026-01-01T00:00:00Z",
    }


def test_c19_configmap_body_carries_binary_data() -> None:
    s = SourceView("src", "cm", "3", "u", {}, None, {"data": {"k": "v"}, "binaryData": {"b": "AAE="}})
    body = copy_body("ConfigMap", s, "a", now="t")
    assert body["binaryData"] == {"b": "AAE="}
    assert "type" not in body


def test_update_patch_replaces_payload_with_rv_precondition_and_escaped_keys() -> None:
    s = auto_source()
    w = Write("update", "a", "creds", False, "drift", "rv-a", "uid-a")
    ops = update_patch("ConfigMap", s, w, now="t")
    assert ops[0] == {"op": "add", "path": "/metadata/resourceVersion", "value": "rv-a"}
    assert {"op": "add", "path": "/data", "value": PAYLOAD["data"]} in ops
    assert {"op": "add", "path": "/binaryData", "value": {}} in ops
    paths = {op["path"]: op["value"] for op in ops}
    assert paths["/metadata/annotations/reflector.v1.k8s.emberstack.com~1auto-reflects"] == "False"
    assert paths["/metadata/annotations/reflector.v1.k8s.emberstack.com~1reflects"] == "src/creds"


def test_digest_treats_absent_and_empty_alike() -> None:
    assert payload_digest({}) == payload_digest({"data": {}, "binaryData": {}})
    assert payload_digest({"data": {"a": "1"}}) != payload_digest({"data": {"a": "2"}})
