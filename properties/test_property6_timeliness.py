"""Property 6: Secret Replication Timeliness.

*For any* update, or sequence of updates, to the source (set, add, delete a key, replace everything,
set an empty value; values up to the size limit), every copy matches the new content within 60 s of
the update request. Updates are either awaited one by one or sent back to back (a burst: only the
final content must arrive, within 60 s of the last update).

Every observed latency (update sent → first and last copy reported by the watch) is recorded for
the report's p50/p95/p99; the assertion is the 60 s bound.
"""

from __future__ import annotations

from typing import Any

import allure
import pytest
from hypothesis import assume, event, example, given, note

from fixtures.clusters.cluster import Cluster
from fixtures.systems import ReplicationSystem
from properties.model import (
    SECRET_SIZE_LIMIT,
    Payload,
    Slot,
    SourceSpec,
    TimelinessCase,
    Update,
)
from properties.observe import ExampleEnv, timed
from properties.recording import tuned
from properties.strategies import blob, timeliness_cases

pytestmark = [pytest.mark.property, pytest.mark.usefixtures("system_deployment")]

_BIG = SECRET_SIZE_LIMIT - 2048
# Pinned: rotating a value just under the 1 MiB limit, then deleting and adding keys, one by one.
PINNED_NEAR_LIMIT = TimelinessCase(
    slots=(Slot("a"), Slot("b" * 63), Slot("0")),
    source=SourceSpec("Secret", "Opaque", Payload({"big.bin": blob(_BIG, 1), "user": b"bot", "empty": b""})),
    updates=(
        Update("set", Payload({"big.bin": blob(_BIG, 2), "user": b"bot", "empty": b""})),
        Update("delete", Payload({"big.bin": blob(_BIG, 2), "empty": b""})),
        Update("add", Payload({"big.bin": blob(_BIG, 2), "empty": b"", "raw": bytes(range(256))})),
    ),
)
# Pinned: an update that removes every key (the copies must follow to empty, not go away).
PINNED_EMPTIED = TimelinessCase(
    slots=(Slot("e"),),
    source=SourceSpec("Secret", "Opaque", Payload({"token": b"v1", "user": b"bot"})),
    updates=(Update("delete", Payload({})), Update("add", Payload({"token": b"v2"}))),
)
# Pinned: a burst of ConfigMap updates (data and binaryData); only the last must arrive.
PINNED_BURST = TimelinessCase(
    slots=(Slot("c"), Slot("d")),
    source=SourceSpec("ConfigMap", None, Payload({"app.properties": b"x=1"}, {"blob": b"\x00\xff"})),
    updates=tuple(
        Update("set", Payload({"app.properties": f"x={n}".encode()}, {"blob": bytes([n, 255 - n])}))
        for n in range(2, 7)
    ),
    burst=True,
)


@allure.feature("reflector-deployment")
@allure.story("Property 6: Secret Replication Timeliness")
@tuned("replication")
@example(case=PINNED_NEAR_LIMIT)
@example(case=PINNED_BURST)
@example(case=PINNED_EMPTIED)
@given(case=timeliness_cases())
def test_every_copy_matches_each_update_within_60s(
    cluster: Cluster, system: ReplicationSystem, case: TimelinessCase
) -> None:
    assume(case.source.kind in system.kinds)
    with ExampleEnv(cluster, system, "p6", case.source.kind) as env:
        names = env.names
        targets = [names.slot(i, case.slots[i].logical) for i in case.targets()]
        declaration = env.declaration(case.annotations(names), case.targeted(names))
        note(f"object {env.name}; source {names.source}; copies in {targets}")
        event(f"kind={case.source.kind} type={case.source.type} burst={case.burst}")
        event(f"updates: {' '.join(u.what for u in case.updates)}")

        for ns in (names.source, names.witness, *targets):
            env.create_namespace(ns)
        env.create_witness()

        def expected(created: dict[str, Any], spec: SourceSpec) -> dict[str, dict[str, Any]]:
            rv = created["metadata"]["resourceVersion"]
            return {
                names.source: env.view(created, identity=True),
                names.witness: env.witness_view(spec, rv),
                **{ns: env.copy_view(spec, rv) for ns in targets},
            }

        start, created = timed(lambda: env.create_source(case.source, declaration))
        rv = created["metadata"]["resourceVersion"]
        env.converge(
            expected(created, case.source),
            description="initial copies",
            deadline=start,
            final=True,
            source_rv=rv,
        )

        spec = case.source
        last = len(case.updates)
        for n, update in enumerate(case.updates, 1):
            spec = spec.with_payload(update.payload)
            start, created = timed(lambda s=spec: env.replace_source(s, declaration))
            if case.burst and n < last:
                continue  # back to back: only the final content must arrive
            want = expected(created, spec)
            what = "burst of " + str(last) if case.burst else f"update {n}/{last} ({update.what})"
            rv = created["metadata"]["resourceVersion"]
            env.converge(
                want,
                description=f"every copy at the content of {what}",
                deadline=start,
                final=True,
                source_rv=rv,
            )
            env.latency(
                "6",
                "burst" if case.burst else "update",
                {ns: want[ns] for ns in targets},
                start,
                change=update.what,
                payload_bytes=update.payload.size,
            )
