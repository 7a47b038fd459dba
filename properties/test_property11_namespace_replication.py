"""Property 11: Reflector Namespace Replication.

*For any* sequence of edits: adding a namespace to the allowed list (and to the auto list) yields a
copy there; creating a listed namespace after the source yields a copy; removing a namespace from
either list deletes its auto copy. After every edit the cluster converges, within 60 s of the
request, to exactly the copies the lists name (an empty auto list meaning every allowed namespace).

A system whose profile lists the deviation ``neutral.unlist`` (kubernetes-replicator) keeps the
copy of a namespace removed from its lists: that copy is then expected to stay exactly as it was
when the namespace was removed (it is no longer updated), until the namespace is listed again. The
property as the seed states it (a newly listed namespace gets a copy) is unchanged.

When an edit should change nothing visible (e.g. listing a namespace that does not exist yet), the
source's content is bumped and every copy must pick it up: that is the positive signal that the
operator processed the edit, before asserting that no copy appeared or vanished.
"""

from __future__ import annotations

import time
from typing import Any

import allure
import pytest
from hypothesis import assume, event, given, note

from fixtures.clusters.cluster import Cluster
from fixtures.systems import ReplicationSystem
from properties.model import NamespaceReplicationCase, SourceSpec
from properties.observe import ExampleEnv, timed
from properties.recording import tuned
from properties.strategies import namespace_replication_cases

pytestmark = [pytest.mark.property, pytest.mark.usefixtures("system_deployment")]

BARRIER_KEY = "replicheck-barrier"


@allure.feature("reflector-deployment")
@allure.story("Property 11: Reflector Namespace Replication")
@tuned("replication")
@given(case=namespace_replication_cases())
def test_listed_namespaces_get_copies_and_delisted_ones_lose_them(
    cluster: Cluster, system: ReplicationSystem, case: NamespaceReplicationCase
) -> None:
    assume(case.source.kind in system.kinds)
    with ExampleEnv(cluster, system, "p11", case.source.kind) as env:
        names = env.names
        slot_ns = {i: names.slot(i, s.logical) for i, s in enumerate(case.slots)}
        state = case.initial_state()
        spec = case.source
        note(f"object {env.name}; source {names.source}; slots {slot_ns}")

        for ns in (names.source, names.witness, *(slot_ns[i] for i in sorted(state.existing))):
            env.create_namespace(ns)
        env.create_witness()

        source: dict[str, Any] = {}
        keeps_delisted = system.deviation("neutral.unlist") is not None
        kept: dict[int, tuple[SourceSpec, str]] = {}  # delisted slot -> the content its copy keeps

        def write(new_spec: SourceSpec, *, create: bool = False) -> float:
            nonlocal source
            declared = env.declaration(
                state.annotations(names, case.slots), state.targeted(names, case.slots)
            )
            write = env.create_source if create else env.replace_source
            start, source = timed(lambda: write(new_spec, declared))
            return start

        def rv() -> str:
            return source["metadata"]["resourceVersion"]

        def expected(version: bool) -> dict[str, dict[str, Any]]:
            rv = source["metadata"]["resourceVersion"]
            return {
                names.source: env.view(source, identity=True),
                names.witness: env.witness_view(spec, rv, version=version),
                **{slot_ns[i]: env.copy_view(s, v, version=version) for i, (s, v) in kept.items()},
                **{slot_ns[i]: env.copy_view(spec, rv, version=version) for i in state.copies()},
            }

        start = write(spec, create=True)
        env.converge(expected(True), description="initial copies", deadline=start, source_rv=rv())

        bumps = 0
        for step, op in enumerate(case.ops, 1):
            before = state.copies()
            if not state.apply(op):
                continue
            event(f"op {op.op}")
            what = f"step {step}: {op.op} {slot_ns[op.slot]}"
            if keeps_delisted:
                kept.update({i: (spec, rv()) for i in before - state.copies()})
                for i in state.copies():
                    kept.pop(i, None)  # listed again: a live copy
            if op.op == "create":
                start = time.monotonic()
                env.create_namespace(slot_ns[op.slot])
            else:
                start = write(spec)
            after = state.copies()
            env.converge(expected(False), description=f"copies after {what}", deadline=start, source_rv=rv())
            changed: dict[str, dict[str, Any] | None] = {
                **{slot_ns[i]: expected(False)[slot_ns[i]] for i in after - before},
                **{slot_ns[i]: None for i in before - after if i not in kept},
            }
            if changed:
                env.latency("11", op.op, changed, start)
            else:
                # Nothing visible should change: bump the content, and once every copy has it the
                # operator has processed the edit; only then is "no copy appeared" meaningful.
                bumps += 1
                spec = spec.with_payload(spec.payload.with_data(**{BARRIER_KEY: str(bumps).encode()}))
                start = write(spec)
                want = expected(True)
                env.converge(
                    want,
                    description=f"content bump after {what} (nothing else changes)",
                    deadline=start,
                    source_rv=rv(),
                )
                env.latency(
                    "6", "update", {slot_ns[i]: want[slot_ns[i]] for i in after}, start, change="bump"
                )
