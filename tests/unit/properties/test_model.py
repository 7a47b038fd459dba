"""The pure parts of the replication properties: names, renderings vs. the oracle, payloads, updates."""

from __future__ import annotations

import json
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fixtures.core.stats import percentile
from fixtures.systems import Source, system
from properties.model import (
    DNS1123_LABEL,
    DOCKERCONFIGJSON,
    MAX_NAME,
    REQUIRED_KEYS,
    SECRET_SIZE_LIMIT,
    TLS,
    Entry,
    ListOp,
    ListSpec,
    ListState,
    Names,
    Payload,
    ReplicationCase,
    Slot,
    SourceSpec,
    copy_view,
    expected_targets,
    first_last,
    full_match_any,
    mirror_view,
    object_view,
    physical_name,
    ref_name,
    render_entry,
    render_list,
)
from properties.strategies import (
    EDGE_NAMESPACE_NAMES,
    namespace_names,
    namespace_replication_cases,
    next_payloads,
    payloads,
    replication_cases,
    source_objects,
    timeliness_cases,
)

PREFIXES = st.sampled_from(["rc1a2b3c-p5-0f0f0f", "rcffffff-sm-123abc", "rc000000-p11-a1b2c3"])
FAST = settings(max_examples=150, deadline=None, derandomize=True, database=None)
DNS = re.compile(DNS1123_LABEL)


@FAST
@given(namespace_names())
def test_namespace_names_are_dns_1123_labels(name: str) -> None:
    assert DNS.fullmatch(name)
    assert 1 <= len(name) <= MAX_NAME


def test_edge_names_cover_both_length_extremes_digits_and_inner_hyphens() -> None:
    lengths = {len(n) for n in EDGE_NAMESPACE_NAMES}
    assert {1, 63} <= lengths
    assert any(n.isdigit() for n in EDGE_NAMESPACE_NAMES)
    assert any("-" in n.strip("-") for n in EDGE_NAMESPACE_NAMES)
    assert all(DNS.fullmatch(n) for n in EDGE_NAMESPACE_NAMES)


@FAST
@given(PREFIXES, st.integers(0, 99), namespace_names(), namespace_names())
def test_physical_names_are_valid_unique_and_under_the_example_prefix(
    prefix: str, index: int, a: str, b: str
) -> None:
    name = physical_name(prefix, index, a)
    assert DNS.fullmatch(name)
    assert len(name) <= MAX_NAME
    assert name.startswith(f"{prefix}-{index}-")
    assert physical_name(prefix, index + 1, b) != name


def test_long_logical_names_give_63_character_namespaces() -> None:
    assert len(physical_name("rc1a2b3c-p5-0f0f0f", 3, "z" * 63)) == MAX_NAME


@FAST
@given(replication_cases(), PREFIXES)
def test_every_rendering_full_matches_exactly_what_its_reference_names(
    case: ReplicationCase, prefix: str
) -> None:
    """The oracle (references) and the annotation text (regexes) agree, under Reflector's rules."""
    names = Names(prefix)
    refs = [*range(len(case.slots)), "source", "witness"]
    outsiders = [f"{prefix}-{len(case.slots) + 5}-x", f"{prefix}-s-x", prefix, f"{prefix}x-0-a", "default"]
    for spec in (case.allowed, case.auto):
        if spec is None:
            continue
        text = render_list(spec, names, case.slots)
        for ref in refs:
            matched = full_match_any(text, ref_name(ref, names, case.slots))
            assert matched == (ref in spec.refs() or not spec.effective), (text, ref)
        for other in outsiders:
            assert full_match_any(text, other) == (not spec.effective), (text, other)


@FAST
@given(replication_cases(), PREFIXES)
def test_near_misses_match_only_under_unanchored_semantics(case: ReplicationCase, prefix: str) -> None:
    """A near miss is exactly what an implementation that forgets anchoring would accept."""
    names = Names(prefix)
    for entry in case.allowed.entries:
        if entry.form in ("near-prefix", "near-suffix"):
            (i,) = entry.slots
            target = names.slot(i, case.slots[i].logical)
            pattern = render_entry(entry, names, case.slots)
            assert re.search(pattern, target)
            assert not re.fullmatch(pattern, target)


def test_renderings_keep_blanks_separators_and_padding() -> None:
    slots = (Slot("a"), Slot("b"))
    spec = ListSpec(
        (Entry("blank"), Entry("name", (0,)), Entry("blank", text="  "), Entry("group", (0, 1))),
        (", ", " ,", ",\t"),
        (" ", ""),
    )
    text = render_list(spec, Names("p"), slots)
    assert text == " , p-0-a ,  ,\tp-(?:0|1)-.*"
    assert spec.refs() == {0, 1}


def test_expected_targets_never_include_the_source_and_empty_auto_means_all_allowed() -> None:
    allowed = ListSpec((Entry("witness"), Entry("source"), Entry("name", (0,)), Entry("name", (1,))))
    existing = {0, 1, 2, "source", "witness"}
    assert expected_targets(allowed, None, existing) == {0, 1, "witness"}
    assert expected_targets(allowed, ListSpec((Entry("blank", text=" "),)), existing) == {0, 1, "witness"}
    assert expected_targets(allowed, ListSpec((Entry("name", (1,)), Entry("source"))), existing) == {1}
    with pytest.raises(AssertionError, match="never on a shared cluster"):
        expected_targets(ListSpec((Entry("blank"),)), None, existing)


def test_copies_skip_occupied_and_missing_namespaces() -> None:
    case = ReplicationCase(
        slots=(Slot("a"), Slot("b", occupied=True), Slot("c", exists=False)),
        allowed=ListSpec((Entry("witness"), Entry("group", (0, 1, 2)))),
        auto=None,
        source=SourceSpec(),
    )
    assert case.copies() == {0}
    assert case.conflicts() == {1}


@FAST
@given(source_objects())
def test_sources_are_valid_for_the_api_server(spec: SourceSpec) -> None:
    assert spec.payload.size <= SECRET_SIZE_LIMIT
    for key in spec.payload.all_keys():
        assert re.fullmatch(r"[-._a-zA-Z0-9]+", key)
        assert key not in (".", "..")
    assert not set(spec.payload.data) & set(spec.payload.binary)
    if spec.kind == "ConfigMap":
        for value in spec.payload.data.values():
            value.decode()  # ConfigMap data must be UTF-8
    else:
        assert not spec.payload.binary
        assert set(REQUIRED_KEYS.get(spec.type or "", ())) <= set(spec.payload.data)
        if spec.type == DOCKERCONFIGJSON:
            assert isinstance(json.loads(spec.payload.data[".dockerconfigjson"]), dict)


@FAST
@given(st.data())
def test_updates_always_change_the_content_and_keep_it_valid(data: st.DataObject) -> None:
    spec = data.draw(source_objects())
    update = data.draw(next_payloads(spec, spec.payload))
    assert update.payload != spec.payload
    assert update.payload.size <= SECRET_SIZE_LIMIT
    assert set(REQUIRED_KEYS.get(spec.type or "", ())) <= set(update.payload.data)
    if spec.type == TLS:
        assert update.payload.data["tls.crt"].startswith(b"-----BEGIN CERTIFICATE-----")


def test_near_limit_payloads_are_near_the_limit() -> None:
    @settings(max_examples=10, deadline=None, database=None)
    @given(payloads("Secret", "Opaque", "near-limit"), payloads("ConfigMap", None, "near-limit"))
    def check(secret: Payload, cm: Payload) -> None:
        for p in (secret, cm):
            assert SECRET_SIZE_LIMIT - 8192 <= p.size <= SECRET_SIZE_LIMIT

    check()


@FAST
@given(timeliness_cases())
def test_timeliness_cases_have_targets_and_changing_updates(case) -> None:  # type: ignore[no-untyped-def]
    assert case.targets()
    current = case.source.payload
    for update in case.updates:
        assert update.payload != current
        current = update.payload


def test_payload_repr_shows_keys_and_sizes_never_values() -> None:
    secret = b"TOPSECRET-123456"
    payload = Payload({f"k{i}": secret for i in range(10)}, {"bin": secret})
    text = repr(payload)
    assert "TOPSECRET" not in text
    assert "VE9QU0VDUkVU" not in text
    assert "'k0': <16 bytes>" in text
    assert "4 more keys" in text
    assert "TOPSECRET" not in repr(SourceSpec(payload=payload))


def test_views_compare_content_by_digest_and_metadata_by_name() -> None:
    spec = SourceSpec(payload=Payload({"user": b"alice"}), labels=(("team", "x"),))
    obj = {
        "kind": "Secret",
        "type": "Opaque",
        "data": {"user": "YWxpY2U="},
        "metadata": {
            "uid": "u",
            "resourceVersion": "7",
            "annotations": {
                "reflector.v1.k8s.emberstack.com/reflects": "s/n",
                "reflector.v1.k8s.emberstack.com/auto-reflects": "True",
                "reflector.v1.k8s.emberstack.com/reflected-version": "5",
                "reflector.v1.k8s.emberstack.com/reflected-at": "2026-01-01T00:00:00Z",
            },
        },
    }
    bundled, src = system("bundled"), Source("Secret", "s", "n")
    assert object_view(obj, bundled, src) == copy_view(spec, bundled, "5")
    leaked = {**obj, "metadata": {**obj["metadata"], "labels": {"team": "x"}}}
    assert object_view(leaked, bundled, src)["labels"] == ["team"]
    assert "YWxpY2U=" not in json.dumps(object_view(obj, bundled, src))
    assert "alice" not in json.dumps(object_view(obj, bundled, src))
    assert object_view(obj, bundled, src, identity=True)["resourceVersion"] == "7"
    # another source's copy is not this source's copy; a filled manual mirror is a mirror
    assert object_view(obj, bundled, Source("Secret", "s", "other"))["copy"] is None
    mirror = {**obj, "metadata": {**obj["metadata"], "annotations": {**obj["metadata"]["annotations"]}}}
    mirror["metadata"]["annotations"]["reflector.v1.k8s.emberstack.com/auto-reflects"] = "False"
    assert object_view(mirror, bundled, src) == mirror_view(spec, bundled, "5")
    # declaration annotations on a copy are not bookkeeping: they show up by name
    stray = {**obj, "metadata": {**obj["metadata"], "annotations": {**obj["metadata"]["annotations"]}}}
    stray["metadata"]["annotations"]["reflector.v1.k8s.emberstack.com/reflection-allowed"] = "true"
    assert object_view(stray, bundled, src)["annotations"] == [
        "reflector.v1.k8s.emberstack.com/reflection-allowed"
    ]


def test_list_state_edits() -> None:
    state = ListState(allowed={0}, auto=None, existing={0, 1})
    assert state.copies() == {0}
    assert state.apply(ListOp("allow", 1))
    assert state.copies() == {0, 1}
    assert state.apply(ListOp("auto", 1))
    assert state.copies() == {1}
    assert state.apply(ListOp("unauto", 1))
    assert state.auto == set()
    assert state.copies() == {0, 1}, "an empty auto list means every allowed namespace"
    assert not state.apply(ListOp("create", 0))
    assert state.apply(ListOp("allow", 2))
    assert state.copies() == {0, 1}
    assert state.apply(ListOp("create", 2))
    assert state.copies() == {0, 1, 2}
    assert state.apply(ListOp("disallow", 0))
    assert state.copies() == {1, 2}
    ann = state.annotations(Names("p"), (Slot("a"), Slot("b"), Slot("c")))
    assert ann["reflector.v1.k8s.emberstack.com/reflection-allowed-namespaces"] == "p-w,p-1-b,p-2-c"
    assert ann["reflector.v1.k8s.emberstack.com/reflection-auto-namespaces"] == ""


@FAST
@given(namespace_replication_cases())
def test_namespace_cases_reference_their_own_slots(case) -> None:  # type: ignore[no-untyped-def]
    n = len(case.slots)
    assert all(0 <= op.slot < n for op in case.ops)
    assert len(case.ops) >= 2
    assert case.allowed <= set(range(n))


@FAST
@given(replication_cases(), PREFIXES)
def test_the_targeted_namespaces_are_the_list_oracle_over_every_slot(
    case: ReplicationCase, prefix: str
) -> None:
    """What a system without the Reflector list grammar is told: every namespace the lists target,
    created or not; the created ones without an object of their own are exactly the expected copies."""
    names = Names(prefix)
    targeted = case.targeted(names)
    slot_ns = {i: names.slot(i, s.logical) for i, s in enumerate(case.slots)}
    assert names.source not in targeted
    assert names.witness not in targeted
    created_free = {i for i, ns in slot_ns.items() if ns in targeted and case.slots[i].exists}
    assert created_free - case.occupied() == case.copies()
    assert created_free & case.occupied() == case.conflicts()


def test_list_state_and_timeliness_targets_name_every_listed_slot() -> None:
    slots = (Slot("a"), Slot("b"), Slot("c"))
    state = ListState(allowed={0, 2}, auto=None, existing={0})
    assert state.targeted(Names("p"), slots) == ["p-0-a", "p-2-c"]  # created or not
    state.auto = {2}
    assert state.targeted(Names("p"), slots) == ["p-2-c"]
    state.auto = set()
    assert state.targeted(Names("p"), slots) == ["p-0-a", "p-2-c"]  # empty auto list: every allowed one


def test_a_deleted_sources_emptied_mirror_claims_nothing() -> None:
    from properties.observe import emptied

    view = {"data": {"k": "d"}, "binaryData": {"b": "d"}, "copy": "mirror", "version": "5", "type": "Opaque"}
    assert emptied(view) == {"data": {}, "binaryData": {}, "copy": "mirror", "type": "Opaque"}
    assert "binaryData" not in emptied({"data": {"k": "d"}, "copy": "mirror"})


def test_latency_ranks_and_first_last() -> None:
    assert percentile([], 50) is None
    values = [float(v) for v in range(1, 101)]
    assert (percentile(values, 50), percentile(values, 95), percentile(values, 99)) == (50.0, 95.0, 99.0)
    assert first_last({"a": 10.5, "b": 12.0}, 10.0) == (0.5, 2.0)
    assert first_last({}, 1.0) == (None, None)


def test_a_mismatch_is_decided_once_it_cannot_resolve_itself() -> None:
    from properties.observe import decided

    copy = {"data": {"k": "d1"}, "version": "5", "copy": "auto"}
    assert decided({"a": copy}, {"a": copy, "b": copy}, final=True)  # a stray after the signal
    assert decided({"a": copy}, {"a": copy, "b": copy}) is None  # may still be on its way out
    assert decided({"a": copy}, {}, final=True) is None  # still waiting for the copy
    assert decided({"a": copy}, {"a": {**copy, "version": "4"}}, final=True) is None
    wrong = {**copy, "data": {"k": "d2"}}
    assert "claims source version 5" in (decided({"a": copy}, {"a": wrong}) or "")
    unversioned = {"data": {"k": "d1"}, "copy": "auto"}
    assert decided({"a": unversioned}, {"a": wrong}) is None
    assert decided({"a": unversioned}, {"a": wrong}, source_rv="5")
    assert decided({}, {"b": copy}, source_rv="5")  # current version where none belongs
    assert decided({}, {"b": copy}, source_rv="6") is None  # old copy, being deleted
    assert decided({}, {"b": {**copy, "copy": None}}, source_rv="5") is None  # not a copy of this source
    untouched = {"data": {}, "uid": "u1", "resourceVersion": "10"}
    assert decided({"x": untouched}, {"x": {**untouched, "resourceVersion": "9"}}) is None  # watch lag
    assert "was written" in (decided({"x": untouched}, {"x": {**untouched, "resourceVersion": "11"}}) or "")
    assert "replaced" in (decided({"x": untouched}, {"x": {**untouched, "uid": "u2"}}) or "")
