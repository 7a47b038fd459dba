"""Properties 5, 6 and 11 in ConfigMirror's terms, plus the database property, on Hypothesis.

* Property 5 (consistency): for any generated label sets, selector (matchLabels and
  matchExpressions) and target list (namespaces existing, created after the CR, never created, or
  holding a foreign same-name ConfigMap), replicas exist in exactly the model's positions with the
  source's data and binaryData, foreign objects and sources stay as they were, nothing lands in an
  unlisted namespace; the **database property**: the CR's rows equal the replicated set
  (namespace, name, data); after the CR is deleted, no replicas and no rows.
* Property 6 (timeliness): every source update reaches every replica (and its row) within 60 s;
  the observed latencies are recorded (``latency`` records; ``system=configmirror``, like every
  record of these tests, so the report puts them in ConfigMirror's column).
* Property 11 (namespace replication): edits of the target list and namespaces created after the
  CR converge to replicas in exactly the listed namespaces that exist.

Each example uses fresh run-id-prefixed namespaces and deletes them (and its CR, through the
finalizer) at the end, pass or fail. The cases are plain data (properties/configmirror_model.py)
so a later system interface can drive the same cases.
"""

from __future__ import annotations

import base64
import contextlib
import secrets
import time
from typing import Any

import allure
import pytest
from hypothesis import event, given, note
from hypothesis import strategies as st
from kubernetes import client

from fixtures.core.errors import NoEvidence
from fixtures.core.record import record
from fixtures.core.waiting import WaitTimeout, eventually
from fixtures.systems.configmirror import SYSTEM, ConfigMirrorDriver
from fixtures.systems.dialects.configmirror import OWNER_LABEL
from properties.configmirror_model import (
    MirrorCase,
    SelectorCase,
    SourceCase,
    TargetListCase,
    mirror_cases,
    target_list_cases,
)
from properties.recording import tuned

pytestmark = [pytest.mark.property, allure.label("system", SYSTEM)]
BOUND = 60.0  # seconds, the seed's convergence bound


class Example(contextlib.AbstractContextManager):
    """One example's namespaces and ConfigMirror; everything is removed on exit."""

    def __init__(self, system: ConfigMirrorDriver, hint: str) -> None:
        self.system, self.hint = system, hint
        self.namespaces: list[str] = []
        self.mirror: dict[str, Any] | None = None
        self.ops = self.namespace("ops")
        self.source = self.namespace("src")
        system.credentials_secret(self.ops, "db")

    @property
    def core(self) -> client.CoreV1Api:
        return self.system.cluster.core

    def name(self, hint: str) -> str:
        name = self.system.cluster.namespace_name(f"{self.hint}-{hint}")
        self.namespaces.append(name)
        return name

    def namespace(self, hint: str) -> str:
        return self.create(self.name(hint))

    def create(self, name: str) -> str:
        self.system.cluster.create_namespace(name=name)
        if name not in self.namespaces:
            self.namespaces.append(name)
        return name

    def configmap(self, namespace: str, src: SourceCase, labels: dict[str, str] | None = None) -> None:
        body = client.V1ConfigMap(
            metadata=client.V1ObjectMeta(
                name=src.name, labels=dict(src.labels) if labels is None else labels
            ),
            data=dict(src.data) or None,
            binary_data={k: base64.b64encode(v).decode() for k, v in src.binary} or None,
        )
        self.core.create_namespaced_config_map(namespace, body)

    def declare(self, targets: list[str], selector: SelectorCase) -> dict[str, Any]:
        body = self.system.declare(
            f"mirror-{secrets.token_hex(3)}",
            self.ops,
            self.source,
            targets,
            selector.spec(),
            {"enabled": True, "secretRef": {"name": "db"}},
        )
        self.mirror = self.system.create(body)
        return self.mirror

    # -- observation ---------------------------------------------------------------------------
    def planned(self) -> None:
        """A positive signal that the operator handled this ConfigMirror: its Ready condition (the
        operator's own status) is written. An example that expects no replica and no row proves
        nothing before that (the empty result holds before the operator even sees the resource), so
        without it the example has no evidence (NoEvidence, never a pass)."""
        assert self.mirror is not None
        name = self.mirror["metadata"]["name"]

        def written() -> None:
            status = self.system.condition(self.ops, name, "Ready").get("status")
            assert status in ("True", "False"), "no Ready condition yet"

        try:
            eventually(written, timeout=BOUND, interval=0.1, description="the ConfigMirror's Ready condition")
        except WaitTimeout:
            raise NoEvidence(
                "ConfigMirror: nothing replicated", f"{self.ops}/{name} never got a Ready condition"
            ) from None

    def replicas(self) -> dict[tuple[str, str], tuple[dict, dict]]:
        assert self.mirror is not None
        return {
            pos: (cm.data or {}, {k: base64.b64decode(v) for k, v in (cm.binary_data or {}).items()})
            for pos, cm in self.system.replicas(self.mirror).items()
        }

    def rows(self) -> dict[tuple[str, str], dict]:
        assert self.mirror is not None
        return self.system.rows(self.ops, self.mirror["metadata"]["name"])

    def converge(self, expected: dict[tuple[str, str], tuple[dict, dict]], what: str, since: float) -> float:
        """Replicas (cluster-wide, by owner label) and rows equal ``expected``; returns the time taken."""

        def check() -> None:
            actual = self.replicas()
            assert actual == expected, _diff("replicas", expected, actual)
            rows = self.rows()
            want_rows = {pos: data for pos, (data, _) in expected.items()}
            assert rows == want_rows, _diff("rows", want_rows, rows)

        eventually(check, timeout=BOUND, interval=0.1, description=what)
        return time.monotonic() - since

    def __exit__(self, *exc: object) -> None:
        if self.mirror is not None:
            name = self.mirror["metadata"]["name"]
            self.system.delete(self.ops, name)
            with contextlib.suppress(AssertionError):
                self.system.wait_gone(self.ops, name, timeout=BOUND)
        for ns in self.namespaces:
            self.system.cluster.delete_namespace(ns)


def _diff(what: str, expected: dict, actual: dict) -> str:
    missing = sorted(set(expected) - set(actual))
    extra = sorted(set(actual) - set(expected))
    wrong = sorted(k for k in set(expected) & set(actual) if expected[k] != actual[k])
    return f"{what}: missing {missing}, unexpected {extra}, different {wrong}"


@allure.feature("configmirror")
@allure.story("Property 5: ConfigMap Replication Consistency (+ database property)")
@tuned("configmirror")
@given(case=mirror_cases())
def test_replicas_and_rows_in_exactly_the_selected_positions(
    configmirror: ConfigMirrorDriver, case: MirrorCase
) -> None:
    with Example(configmirror, "cm5") as ex:
        slot_ns = {i: ex.name(f"t{i}") for i in range(len(case.targets))}
        for i, slot in enumerate(case.targets):
            if slot.state == "exists":
                ex.create(slot_ns[i])
        foreign = {}
        for i, slot in enumerate(case.targets):
            if slot.occupied_by is not None:
                src = case.sources[slot.occupied_by]
                ex.configmap(
                    slot_ns[i], SourceCase(src.name, (), (("foreign", "keep"),)), labels={"owner": "user"}
                )
                foreign[(slot_ns[i], src.name)] = {"foreign": "keep"}
        unlisted = ex.namespace("unlisted") if case.unlisted_namespace else None
        for src in case.sources:
            ex.configmap(ex.source, src)
        note(f"selector {case.selector.spec()}; selected {[s.name for s in case.selected()]}")
        event(f"selected {len(case.selected())}/{len(case.sources)}")
        event(f"target states {sorted({t.state for t in case.targets})}")

        ex.declare(list(slot_ns.values()), case.selector)
        for i, slot in enumerate(case.targets):
            if slot.state == "later":
                ex.create(slot_ns[i])
        start = time.monotonic()
        expected = case.expected(slot_ns)
        ex.converge(expected, f"replicas and rows of {len(expected)} positions", start)
        if not expected:
            ex.planned()  # converging to nothing proves something only once the operator handled it
        for (ns, name), data in foreign.items():
            assert ex.core.read_namespaced_config_map(name, ns).data == data, "a foreign object was changed"
        if unlisted:
            assert not ex.core.list_namespaced_config_map(unlisted, label_selector=OWNER_LABEL).items

        # Database property, second half: deleting the CR leaves no replicas and no rows.
        assert ex.mirror is not None
        name = ex.mirror["metadata"]["name"]
        configmirror.delete(ex.ops, name)
        configmirror.wait_gone(ex.ops, name, timeout=BOUND)
        assert ex.replicas() == {}
        assert ex.rows() == {}
        for (ns, cm), data in foreign.items():
            assert ex.core.read_namespaced_config_map(cm, ns).data == data, "a foreign object was changed"
        ex.mirror = None


@allure.feature("configmirror")
@allure.story("Property 6: ConfigMap Replication Timeliness")
@tuned("configmirror")
@given(case=mirror_cases(states=("exists",)), updates=st.integers(1, 3))
def test_source_updates_reach_every_replica_within_the_bound(
    configmirror: ConfigMirrorDriver, case: MirrorCase, updates: int
) -> None:
    case = MirrorCase(case.sources, SelectorCase(), tuple(t.__class__("exists") for t in case.targets), False)
    with Example(configmirror, "cm6") as ex:
        slot_ns = {i: ex.namespace(f"t{i}") for i in range(len(case.targets))}
        for src in case.sources:
            ex.configmap(ex.source, src)
        ex.declare(list(slot_ns.values()), case.selector)
        ex.converge(case.expected(slot_ns), "first replicas", time.monotonic())
        target = case.sources[0]
        for n in range(updates):
            data = {**dict(target.data), "rev": str(n)}
            start = time.monotonic()
            ex.core.patch_namespaced_config_map(target.name, ex.source, {"data": data})
            target = SourceCase(target.name, target.labels, tuple(sorted(data.items())), target.binary)
            sources = (target, *case.sources[1:])
            expected = MirrorCase(sources, case.selector, case.targets, False).expected(slot_ns)
            took = ex.converge(expected, f"update {n} on every replica and row", start)
            record(
                "latency",
                property="6",
                event="update",
                object_kind="ConfigMap",
                last_copy_s=round(took, 4),
                copies=len(slot_ns),
            )
            note(f"update {n}: {took:.3f}s for {len(slot_ns)} replicas")


@allure.feature("configmirror")
@allure.story("Property 11: ConfigMirror Namespace Replication")
@tuned("configmirror")
@given(case=target_list_cases())
def test_target_list_edits_and_late_namespaces(
    configmirror: ConfigMirrorDriver, case: TargetListCase
) -> None:
    with Example(configmirror, "cm11") as ex:
        slot_ns = {i: ex.name(f"t{i}") for i in range(case.slots)}
        existing = set()
        for i in sorted(case.exists):
            ex.create(slot_ns[i])
            existing.add(i)
        for src in case.sources:
            ex.configmap(ex.source, src)
        listed = set(case.initial)
        mirror = ex.declare([slot_ns[i] for i in sorted(listed)], case.selector)
        name = mirror["metadata"]["name"]

        def expected() -> dict[tuple[str, str], tuple[dict, dict]]:
            sel = [s for s in case.sources if case.selector.selects(dict(s.labels))]
            return {
                (slot_ns[i], s.name): (dict(s.data), dict(s.binary)) for i in listed & existing for s in sel
            }

        ex.converge(expected(), "initial list", time.monotonic())
        for op, slot in case.edits:
            note(f"{op} {slot}")
            event(f"edit {op}")
            if op == "create":
                if slot in existing:
                    continue
                ex.create(slot_ns[slot])
                existing.add(slot)
            else:
                listed = listed | {slot} if op == "add" else listed - {slot}
                configmirror.patch_spec(
                    ex.ops, name, {"targetNamespaces": [slot_ns[i] for i in sorted(listed)]}
                )
            start = time.monotonic()
            took = ex.converge(expected(), f"after {op} {slot}", start)
            record("latency", property="11", event=op, object_kind="ConfigMap", last_copy_s=round(took, 4))
