"""ConfigMirror behaviours around failure, deletion and status that no other check pins down
(issue 22, item 8), each on the session's operator and API server:

* a reconcile that keeps failing (a replica create refused at admission) is retried at growing
  intervals, measured from the API server's audit log;
* deleting a ConfigMirror removes its own finalizer only: another controller's stays;
* a replica that cannot be deleted keeps the finalizer, and the delete is retried until it works
  (no replica is orphaned), observed across the operator's refused attempts;
* ``status.observedGeneration`` follows every spec edit, also one that changes nothing else.

Failures are real: a ValidatingAdmissionPolicy refuses the write in the API server (``attempts.py``).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from statistics import mean
from typing import Any

import allure
import pytest
from kubernetes.client.rest import ApiException

from chaos import audit
from fixtures.core.errors import NoEvidence
from fixtures.core.waiting import WaitTimeout, eventually
from fixtures.plugins.configmirror import ConfigMirrorDeployment
from fixtures.systems.configmirror import SYSTEM
from fixtures.systems.dialects.configmirror import FINALIZER, GROUP, PLURAL, VERSION

from .attempts import AuditTrail, Refusal
from .conftest import SLO, MirrorEnv

pytestmark = [pytest.mark.usefixtures("configmirror"), allure.label("system", SYSTEM)]
SELECT = {"matchLabels": {"app": "myapp", "replicate": "true"}}
MATCHING = {"app": "myapp", "replicate": "true"}
#: another controller's finalizer on the same object
FOREIGN_FINALIZER = "example.com/keep"
#: refused creates to collect: enough for the backoff to reach its cap (0.25 s doubling to 5 s)
RETRY_ATTEMPTS = 14
#: refused deletes to watch the finalizer hold across
DELETE_ATTEMPTS = 6
ATTEMPTS_TIMEOUT = 90.0


class _NotYet(Exception):
    """A state a wait keeps polling through (unlike an AssertionError, which fails at once)."""


@pytest.fixture
def trail(env: MirrorEnv, configmirror_deployment: ConfigMirrorDeployment) -> AuditTrail:
    """The operator's requests in the API server's audit log, from now on."""
    if env.cluster.audit_log is None:
        raise NoEvidence("operator attempts", "this cluster provider keeps no API audit log")
    op = configmirror_deployment.operator
    return AuditTrail.from_now(
        env.cluster.audit_log, f"system:serviceaccount:{op.namespace}:{op.service_account}"
    )


@pytest.fixture
def refusals(env: MirrorEnv) -> Iterator[Callable[[str, str, tuple[str, ...]], Refusal]]:
    """Refuse a ConfigMap write in a namespace; every refusal is lifted before the namespaces go
    (this fixture is torn down before ``env``: a refused DELETE would hold a namespace forever)."""
    made: list[Refusal] = []

    def refuse(namespace: str, name: str, operations: tuple[str, ...]) -> Refusal:
        refusal = Refusal(
            env.cluster.api, f"{namespace}-{'-'.join(operations).lower()}", namespace, name, operations
        )
        made.append(refusal)
        refusal.apply()
        refusal.wait_enforced(env.cluster.core, SLO)
        return refusal

    try:
        yield refuse
    finally:
        for refusal in made:
            refusal.lift()


def refused_attempts(
    trail: AuditTrail,
    verb: str,
    namespace: str,
    count: int,
    holds: Callable[[], None] | None = None,
) -> list[audit.AuditEvent]:
    """Wait until the audit log shows ``count`` refused (403) ``verb`` requests of the operator on
    ConfigMaps in ``namespace``; ``holds`` is checked at every look and fails the test at once.
    Fewer attempts by the deadline fail; none at all is no evidence (the audit saw nothing)."""
    seen: list[audit.AuditEvent] = []

    def enough() -> list[audit.AuditEvent]:
        if holds is not None:
            holds()
        seen[:] = [e for e in trail.attempts(verb, namespace) if e.code == 403]
        if len(seen) < count:
            raise _NotYet(f"{len(seen)} refused {verb} attempt(s) in {namespace} audited, {count} wanted")
        return list(seen)

    try:
        return eventually(
            enough,
            timeout=ATTEMPTS_TIMEOUT,
            interval=0.25,
            description=f"{count} refused {verb} attempts",
            retry_on=(_NotYet,),
        )
    except WaitTimeout:
        if seen:
            raise  # it tried, then stopped trying: a failure of the operator
        others = trail.requests()
        raise NoEvidence(
            f"refused {verb} attempts",
            f"no {verb} of a ConfigMap in {namespace} by {trail.user} in {trail.path} within "
            f"{ATTEMPTS_TIMEOUT:g}s; {len(others)} other request(s) of that user audited"
            + ("" if others else " (does the audit policy cover its ServiceAccount?)"),
        ) from None


def wait_replicas(env: MirrorEnv, mirror: dict[str, Any], positions: set[tuple[str, str]]) -> None:
    def placed() -> None:
        found = set(env.system.replicas(mirror))
        assert found == positions, f"replicas {sorted(found)}, expected {sorted(positions)}"

    eventually(placed, timeout=SLO, description=f"replicas at {sorted(positions)}")


def test_a_reconcile_that_keeps_failing_is_retried_at_growing_intervals(
    env: MirrorEnv, trail: AuditTrail, refusals: Callable[[str, str, tuple[str, ...]], Refusal]
) -> None:
    refused = env.namespaces("refused")
    env.configmap("cfg", MATCHING, {"k": "v"})
    refusal = refusals(refused, "cfg", ("CREATE",))
    mirror = env.mirror([refused], SELECT, database=False)

    creates = refused_attempts(trail, "create", refused, RETRY_ATTEMPTS)
    times = [e.received for e in creates]
    gaps = [b - a for a, b in itertools.pairwise(times)]
    k = max(3, len(gaps) // 3)
    early, late = mean(gaps[:k]), mean(gaps[-k:])
    evidence = (
        f"{len(times)} refused creates audited over {times[-1] - times[0]:.1f}s, "
        f"intervals (s): {[round(g, 3) for g in gaps]}"
    )
    print(f"retry intervals: first {k} average {early:.3f}s, last {k} {late:.3f}s; {evidence}")
    assert late >= 3 * early, (
        f"retry intervals do not grow: the first {k} average {early:.3f}s, "
        f"the last {k} {late:.3f}s; {evidence}"
    )
    # The backoff starts at 0.25 s: a retry that never backs off averages at most that per chain.
    assert late >= 0.5, (
        f"retries still come every {late:.3f}s on average after {len(times)} attempts; {evidence}"
    )

    # Once the refusal is lifted the next retry gets through.
    refusal.lift()
    wait_replicas(env, mirror, {(refused, "cfg")})


def test_deleting_a_mirror_removes_only_its_own_finalizer(env: MirrorEnv) -> None:
    target = env.namespaces("t")
    env.configmap("cfg", MATCHING, {"k": "v"})
    mirror = env.mirror([target], SELECT)
    name = mirror["metadata"]["name"]

    def ready() -> dict[str, Any]:
        obj = env.system.get(env.ops, name)
        assert obj is not None
        assert FINALIZER in (obj["metadata"].get("finalizers") or []), "finalizer not added yet"
        assert env.system.rows(env.ops, name) == {(target, "cfg"): {"k": "v"}}, "rows not written yet"
        return obj

    eventually(ready, timeout=SLO, description="the replica, its row and the finalizer")
    add_foreign_finalizer(env, name)
    try:
        env.system.delete(env.ops, name)

        def cleaned_up() -> dict[str, Any]:
            obj = env.system.get(env.ops, name)
            assert obj is not None, (
                f"ConfigMirror {env.ops}/{name} is gone: removing its own finalizer "
                f"also removed {FOREIGN_FINALIZER}"
            )
            left = obj["metadata"].get("finalizers") or []
            assert FOREIGN_FINALIZER in left, f"{FOREIGN_FINALIZER} was removed: finalizers now {left}"
            replicas, rows = env.system.replicas(mirror), env.system.rows(env.ops, name)
            if FINALIZER in left or replicas or rows:
                raise _NotYet(f"finalizers {left}, replicas {sorted(replicas)}, rows {sorted(rows)}")
            return obj

        obj = eventually(
            cleaned_up, timeout=SLO, description="the operator's cleanup and finalizer", retry_on=(_NotYet,)
        )
        assert obj["metadata"].get("deletionTimestamp"), obj["metadata"]
        assert obj["metadata"]["finalizers"] == [FOREIGN_FINALIZER]
    finally:
        release_foreign_finalizer(env, name)
    env.system.wait_gone(env.ops, name, timeout=SLO)


def patch_finalizers(env: MirrorEnv, name: str, finalizers: list[str], resource_version: str) -> None:
    env.system.custom.patch_namespaced_custom_object(
        GROUP,
        VERSION,
        env.ops,
        PLURAL,
        name,
        {"metadata": {"finalizers": finalizers, "resourceVersion": resource_version}},
    )


def add_foreign_finalizer(env: MirrorEnv, name: str) -> None:
    """Put our stand-in for another controller's finalizer beside the operator's, on the latest
    version (the operator may write its status between our read and our patch: a 409 retries)."""

    def added() -> None:
        obj = env.system.get(env.ops, name)
        assert obj is not None, f"ConfigMirror {env.ops}/{name} is gone"
        finalizers = [*(obj["metadata"].get("finalizers") or []), FOREIGN_FINALIZER]
        try:
            patch_finalizers(env, name, finalizers, obj["metadata"]["resourceVersion"])
        except ApiException as exc:
            if exc.status != 409:
                raise
            raise AssertionError(f"{name} changed while {FOREIGN_FINALIZER} was being added") from None

    eventually(added, timeout=SLO, description=f"{FOREIGN_FINALIZER} added")


def release_foreign_finalizer(env: MirrorEnv, name: str) -> None:
    """Take our stand-in for another controller's finalizer off again (a no-op once it is gone)."""

    def released() -> None:
        obj = env.system.get(env.ops, name)
        if obj is None or FOREIGN_FINALIZER not in (obj["metadata"].get("finalizers") or []):
            return
        left = [f for f in obj["metadata"]["finalizers"] if f != FOREIGN_FINALIZER]
        try:
            patch_finalizers(env, name, left, obj["metadata"]["resourceVersion"])
        except ApiException as exc:
            if exc.status != 409:
                raise
            raise AssertionError(f"{name} changed while {FOREIGN_FINALIZER} was being removed") from None

    eventually(released, timeout=SLO, description=f"{FOREIGN_FINALIZER} removed")


def test_a_replica_that_cannot_be_deleted_holds_the_finalizer_until_it_can(
    env: MirrorEnv, trail: AuditTrail, refusals: Callable[[str, str, tuple[str, ...]], Refusal]
) -> None:
    free, held = env.namespaces("free"), env.namespaces("held")
    env.configmap("cfg", MATCHING, {"k": "v"})
    mirror = env.mirror([free, held], SELECT, database=False)
    name = mirror["metadata"]["name"]
    wait_replicas(env, mirror, {(free, "cfg"), (held, "cfg")})
    refusal = refusals(held, "cfg", ("DELETE",))

    env.system.delete(env.ops, name)

    def holds() -> None:
        obj = env.system.get(env.ops, name)
        replicas = sorted(env.system.replicas(mirror))
        assert obj is not None, (
            f"ConfigMirror {env.ops}/{name} is gone while its replica {held}/cfg could not be deleted: "
            f"replicas left behind {replicas}"
        )
        left = obj["metadata"].get("finalizers") or []
        assert FINALIZER in left, f"the finalizer was removed with replicas {replicas} still in place"
        assert (held, "cfg") in replicas, f"the replica {held}/cfg is gone although deleting it is refused"

    deletes = refused_attempts(trail, "delete", held, DELETE_ATTEMPTS, holds)
    holds()
    span = deletes[-1].received - deletes[0].received
    print(f"finalizer held across {len(deletes)} refused deletes of {held}/cfg over {span:.1f}s")

    refusal.lift()

    def finalized() -> None:
        replicas = sorted(env.system.replicas(mirror))
        assert replicas == [], f"replicas still present after the refusal was lifted: {replicas}"
        assert env.system.get(env.ops, name) is None, f"ConfigMirror {env.ops}/{name} still present"

    eventually(finalized, timeout=SLO, description="the replica deleted, then the finalizer and the mirror")


def status_view(status: dict[str, Any]) -> dict[str, Any]:
    """What a status says besides the generation it describes."""
    conditions = {
        c["type"]: (c.get("status"), c.get("reason"), c.get("message"))
        for c in status.get("conditions") or []
    }
    return {"conditions": conditions, "replicatedCount": status.get("replicatedCount")}


def test_observed_generation_follows_a_spec_edit_that_changes_nothing_else(env: MirrorEnv) -> None:
    target = env.namespaces("t")
    env.configmap("cfg", MATCHING, {"k": "v"})
    env.configmap("other", {"app": "other"}, {"k": "o"})
    mirror = env.mirror([target], SELECT, database=False)
    name = mirror["metadata"]["name"]

    def observed(generation: int) -> dict[str, Any]:
        obj = env.system.get(env.ops, name)
        assert obj is not None
        status, meta = obj.get("status") or {}, obj["metadata"]
        assert meta["generation"] >= generation, meta
        assert status.get("observedGeneration") == meta["generation"], (
            f"status.observedGeneration {status.get('observedGeneration')}, "
            f"metadata.generation {meta['generation']}"
        )
        per_condition = {c["type"]: c.get("observedGeneration") for c in status.get("conditions") or []}
        assert per_condition, "no conditions yet"
        assert all(g == meta["generation"] for g in per_condition.values()), (
            f"conditions' observedGeneration {per_condition}, metadata.generation {meta['generation']}"
        )
        return obj

    def replicated() -> dict[str, Any]:
        obj = observed(1)
        ready = env.system.condition(env.ops, name, "Ready")
        assert ready.get("reason") == "Replicated", ready
        return obj

    before = eventually(replicated, timeout=SLO, description="the first status")
    # The same ConfigMaps selected another way, then the way it was: the result is identical.
    edits = [
        {"selector": {**SELECT, "matchExpressions": [{"key": "app", "operator": "Exists"}]}},
        {"selector": {"matchExpressions": None}},
    ]
    generation = before["metadata"]["generation"]
    for edit in edits:
        patched = env.system.patch_spec(env.ops, name, edit)
        assert patched["metadata"]["generation"] > generation, f"the edit {edit} did not change the spec"
        generation = patched["metadata"]["generation"]
        after = eventually(
            lambda g=generation: observed(g), timeout=SLO, description=f"observedGeneration {generation}"
        )
        assert status_view(after["status"]) == status_view(before["status"]), "the edit changed the result"
    assert set(env.system.replicas(mirror)) == {(target, "cfg")}
