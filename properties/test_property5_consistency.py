"""Property 5: Secret Replication Consistency.

*For any* generated allowed/auto lists, once the operator has processed the source, copies exist in
exactly the allowed ∩ auto namespaces that exist, with identical data and type and only the Reflector
bookkeeping as metadata, and nowhere else: not in the source's namespace (even when it lists itself),
not in listed-but-missing or unlisted namespaces, not over an unrelated same-name object, and not in
any other namespace of the cluster. When the source goes, its auto copies go; what the operator does
not own (the witness mirror, unrelated objects) stays exactly as it was.

The positive signal before every "nowhere else": the witness, a manual mirror in a namespace the
allowed list always names, carries the source's content at the source's ``resourceVersion``.
"""

from __future__ import annotations

import time

import allure
import pytest
from hypothesis import assume, event, example, given, note

from fixtures.clusters.cluster import Cluster
from fixtures.systems import ReplicationSystem
from properties.model import (
    DOCKERCONFIGJSON,
    SECRET_SIZE_LIMIT,
    Entry,
    ListSpec,
    Payload,
    ReplicationCase,
    Slot,
    SourceSpec,
)
from properties.observe import ExampleEnv, timed
from properties.recording import tuned
from properties.strategies import blob, replication_cases

pytestmark = [pytest.mark.property, pytest.mark.usefixtures("system_deployment")]

_DOCKER = b'{"auths":{"ghcr.io":{"username":"opencenter-bot","password":"not-a-real-password"}}}'

# Pinned: a value just under the 1 MiB limit, 63-character names, the source's namespace in its own
# lists (Reflector #672), a regex group over several names, near misses, an occupied target.
PINNED_LARGE = ReplicationCase(
    slots=(
        Slot("z" * 63),
        Slot("0" * 40, occupied=True),
        Slot("a-b"),
        Slot("never-created", exists=False),
    ),
    allowed=ListSpec(
        (
            Entry("group", (0, 1, 3)),
            Entry("source"),
            Entry("near-prefix", (2,)),
            Entry("blank"),
            Entry("witness"),
            Entry("near-suffix", (2,)),
        ),
        (", ", ",", " , ", ",", ","),
        (" ", ""),
    ),
    # slot 2 is auto-listed but only near misses of it are allowed: a copy there means unanchored matching
    auto=ListSpec(
        (
            Entry("anchored", (0,)),
            Entry("name", (1,)),
            Entry("source"),
            Entry("name", (2,)),
            Entry("name", (3,)),
        )
    ),
    source=SourceSpec(
        "Secret",
        DOCKERCONFIGJSON,
        Payload({".dockerconfigjson": _DOCKER, "big.bin": blob(SECRET_SIZE_LIMIT - len(_DOCKER) - 64, 7)}),
        labels=(("app.kubernetes.io/managed-by", "flux"),),
        annotations=(("kustomize.toolkit.fluxcd.io/checksum", "0123abcd"),),
    ),
)
# Pinned: an auto list that is present but empty means "every allowed namespace".
PINNED_EMPTY_AUTO = ReplicationCase(
    slots=(Slot("1"), Slot("b")),
    allowed=ListSpec((Entry("witness"), Entry("name", (0,)), Entry("name", (1,)))),
    auto=ListSpec((Entry("blank", text=" "),)),
    source=SourceSpec("ConfigMap", None, Payload({"app.properties": b"x=1"}, {"blob": bytes(range(256))})),
)


@allure.feature("reflector-deployment")
@allure.story("Property 5: Secret Replication Consistency")
@example(case=PINNED_LARGE)
@example(case=PINNED_EMPTY_AUTO)
@tuned("replication")
@given(case=replication_cases())
def test_copies_in_exactly_the_allowed_and_auto_namespaces(
    cluster: Cluster, system: ReplicationSystem, case: ReplicationCase
) -> None:
    assume(case.source.kind in system.kinds)
    with ExampleEnv(cluster, system, "p5", case.source.kind) as env:
        names = env.names
        slot_ns = {i: names.slot(i, s.logical) for i, s in enumerate(case.slots)}
        declaration = env.declaration(case.annotations(names), case.targeted(names))
        note(f"object {env.name}; source namespace {names.source}; witness {names.witness}")
        note(f"slots: {[(slot_ns[i], s.exists, s.occupied) for i, s in enumerate(case.slots)]}")
        note(f"declaration: {declaration}")
        event(f"kind={case.source.kind} type={case.source.type}")
        event(f"copies expected: {min(len(case.copies()), 5)}{'+' if len(case.copies()) >= 5 else ''}")
        event(f"source lists itself: {'source' in case.allowed.refs()}")

        for ns in (names.source, names.witness, *(slot_ns[i] for i, s in enumerate(case.slots) if s.exists)):
            env.create_namespace(ns)
        unrelated = {slot_ns[i]: env.create_unrelated(slot_ns[i], str(i)) for i in sorted(case.occupied())}
        env.create_witness()

        start, created = timed(lambda: env.create_source(case.source, declaration))
        rv = created["metadata"]["resourceVersion"]
        untouched = {ns: env.view(obj, identity=True) for ns, obj in unrelated.items()}
        copies = {slot_ns[i]: env.copy_view(case.source, rv) for i in sorted(case.copies())}
        witness = env.witness_view(case.source, rv)
        env.converge(
            {
                names.source: env.view(created, identity=True),  # the operator never writes the source
                names.witness: witness,
                **untouched,
                **copies,
            },
            description=f"copies of {env.src_key} in exactly {sorted(copies) or 'no namespace'}",
            deadline=start,
            final=True,
            source_rv=rv,
        )
        env.latency("5", "create", copies, start)

        # Copies exist while the source exists: deleting it removes every auto copy and nothing else.
        start = time.monotonic()
        env.delete(names.source)
        env.converge(
            {**env.witness_kept(witness), **untouched},
            description=f"auto copies of {env.src_key} deleted with it; mirror and unrelated objects kept",
            deadline=start,
        )
        env.latency("5", "delete", dict.fromkeys(copies), start)
