"""The implementation away from the world: stopped while objects change, paused while its watch
expires (etcd compacted, API server restarted), restarted with copies in place, and retrying
against a persistent error. Each runs on a private control plane (the shared operator is never
paused), and what the implementation *sent* is read from the API server's audit log, not inferred.

A check that concludes "it sent nothing wrong" from the audit log first shows the log holds the
implementation's requests (the sentinel's create, or any request since the window opened); an audit
log that shows none of them is NO VERDICT (NoEvidence), never a pass and never the system's failure.
"""

from __future__ import annotations

import base64
import itertools
import json
import os
import signal
import time
import urllib.request
from collections.abc import Callable
from typing import NoReturn

from kubernetes import client
from kubernetes.client.rest import ApiException

from chaos import audit
from fixtures.clusters.admission import DENIAL, deny_creates_of_secrets_in
from fixtures.clusters.local import LocalControlPlane
from fixtures.core.errors import NoEvidence
from fixtures.core.metrics import metric_value
from fixtures.core.waiting import WaitTimeout, eventually
from suites.contract import behaviour
from suites.private import PrivateOperator
from suites.support import CONFIGMAP, SLO

DATA = {"user": "app", "password": "s3cr3t"}
TLS = {"tls.crt": "certificate", "tls.key": "key"}
WRITES = ("create", "update", "patch", "delete")
PAYLOADS = ("secrets", "configmaps")


def metric(op: PrivateOperator, name: str, **labels: str) -> float:
    status, body = op.deployment.replicas[0].get("/metrics")
    assert status == 200, f"/metrics answered {status}"
    return metric_value(body, name, **labels)


def operator_user(op: PrivateOperator) -> str:
    """The ServiceAccount the private deployment runs under, as the audit log names its requests."""
    return f"system:serviceaccount:{op.deployment.namespace}:{op.deployment.service_account}"


def requests_since(op: PrivateOperator, since: float) -> list[audit.AuditEvent]:
    """Every request the operator sent since `since` (epoch seconds)."""
    return audit.window(audit.read(op.cluster.audit_log), since, float("inf"), operator_user(op))


def writes_since(op: PrivateOperator, since: float) -> list[audit.AuditEvent]:
    """Writes to Secrets/ConfigMaps the operator sent since `since` (epoch seconds)."""
    return [e for e in requests_since(op, since) if e.verb in WRITES and e.resource in PAYLOADS]


def unaudited(op: PrivateOperator, since: float, check: str, what: str) -> NoReturn:
    """The audit log lacks what the system demonstrably did (``what``): the log, not the system,
    failed, so the check has no evidence. Raises NoEvidence with how many requests it did see."""
    seen = len(requests_since(op, since))
    raise NoEvidence(check, f"{what} is not in the audit log ({seen} requests of {operator_user(op)} seen)")


def compact_etcd(plane: LocalControlPlane) -> int:
    """Compact etcd at its current revision (through its gRPC gateway): older versions are gone."""
    base = f"http://127.0.0.1:{plane.ports['etcd']}/v3/kv"

    def post(path: str, body: dict) -> dict:
        request = urllib.request.Request(  # noqa: S310 (loopback etcd)
            base + path, json.dumps(body).encode(), {"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=10) as resp:  # noqa: S310 (loopback etcd)
            return json.loads(resp.read())

    revision = int(post("/range", {"key": base64.b64encode(b"/").decode()})["header"]["revision"])
    post("/compaction", {"revision": revision, "physical": True})
    return revision


@behaviour("K1", "changes while the implementation is stopped converge when it starts", key="K1.stopped")
def test_changes_while_the_operator_is_stopped_converge_when_it_starts(
    private_operator: Callable[..., PrivateOperator],
) -> None:
    op = private_operator()
    s = op.scenario()
    src, a, b = s.ns("src"), s.ns("a"), s.ns("b")
    gone, retyped = s.another(), s.another()
    s.source(src, DATA, to=[a, b])
    gone.source(src, DATA, to=[a])
    retyped.source(src, DATA, to=[a])
    s.expect_copies(src, [a, b])
    gone.expect_copies(src, [a])
    retyped.expect_copies(src, [a])

    op.deployment.stop()
    # Every kind of change while nobody watches: data, list narrowed, source deleted, and a type
    # change (delete, then create the same name with another type).
    s.update(src, {"password": "rotated-while-stopped"})
    s.redeclare(src, to=[a])
    gone.delete(src)
    retyped.delete(src)
    retyped.source(src, TLS, to=[a], type_="kubernetes.io/tls")
    private_operator()

    s.expect_copies(src, [a], description="copies updated and the copy in b deleted")
    gone.wait(lambda: gone.assert_only_in([]), "copies of the source deleted while stopped gone")
    retyped.expect_copies(src, [a], description="the copy recreated with the new type")


@behaviour("C11", "a source deleted on a quiet cluster takes its auto copies along", key="C11.quiet")
def test_a_source_deleted_on_a_quiet_cluster_takes_its_copies_along(
    private_operator: Callable[..., PrivateOperator],
) -> None:
    """On the shared cluster other tests' namespaces make the implementation re-plan every source,
    which can hide a deletion it never acted on; here nothing else happens after the delete, so the
    copies go only if the DELETED event of the source itself is acted on (well inside a resync)."""
    op = private_operator()
    s = op.scenario()
    src, a, b = s.ns("src"), s.ns("a"), s.ns("b")
    s.source(src, DATA, to=[a, b])
    s.expect_copies(src, [a, b])

    s.delete(src)

    s.wait(lambda: s.assert_only_in([]), "the copies of the deleted source gone")


@behaviour("K2", "watch expired while the implementation was paused: re-list, no ghosts", key="K2.gap")
def test_a_watch_expired_during_a_pause_relists_and_leaves_no_ghosts(
    private_operator: Callable[..., PrivateOperator], private_control_plane: LocalControlPlane
) -> None:
    op = private_operator()
    s = op.scenario()
    src, a, b = s.ns("src"), s.ns("a"), s.ns("b")
    gone = s.another()
    s.source(src, DATA, to=[a, b])
    gone.source(src, DATA, to=[a, b])
    s.expect_copies(src, [a, b])
    gone.expect_copies(src, [a, b])
    relists = metric(op, "replicator_relists_total", resource="secrets")

    pid = op.deployment.replicas[0].kill(signal.SIGSTOP)  # a frozen process: its caches go stale
    try:
        # Cut its watch connections first, so the gap's changes can only be learnt by re-listing.
        private_control_plane.restart("kube-apiserver")
        s.update(src, {"password": "rotated-in-the-gap"})
        s.redeclare(src, to=[a])
        gone.delete(src)
        compact_etcd(private_control_plane)  # the versions it would resume from no longer exist
        private_control_plane.restart("kube-apiserver")  # and its watch cache starts after the gap
    finally:
        os.kill(pid, signal.SIGCONT)

    def relisted() -> None:
        now = metric(op, "replicator_relists_total", resource="secrets")
        assert now > relists, f"no re-list of secrets since the pause ({now:g} re-lists in total)"

    eventually(relisted, timeout=SLO, description="a re-list after the expired watch")
    s.expect_copies(src, [a], description="the gap's update and list change applied")
    gone.wait(lambda: gone.assert_only_in([]), "no ghost copies of the source deleted in the gap")


@behaviour("K1", "a restart with copies present deletes nothing and writes nothing", key="K1.quiet")
def test_a_restart_with_copies_present_deletes_nothing_and_writes_nothing(
    private_operator: Callable[..., PrivateOperator],
) -> None:
    op = private_operator()
    s = op.scenario()
    src, a, b, manual = s.auto_copies_and_a_manual_mirror(DATA)
    if op.cluster.audit_log is None:
        raise NoEvidence("K1.quiet", f"no API audit log on the {op.cluster.provider.name} provider")

    restarted_at = time.time()
    op.restart()

    def replanned() -> None:
        done = metric(op, "replicator_reconciles_total")
        assert done >= 1, "the restarted operator has not reconciled the source yet"

    eventually(replanned, timeout=SLO, description="the restarted operator to re-plan the source")
    # Positive control: a source created now is replicated, and its create is in the audit log, so
    # the log covers everything the restarted operator sent before.
    sentinel = s.another()
    sentinel.source(src, DATA, to=[a])
    sentinel.expect_copies(src, [a], description="a source created after the restart to replicate")

    def audited() -> list[audit.AuditEvent]:
        writes = writes_since(op, restarted_at)
        assert any(e.verb == "create" and e.namespace == a for e in writes), "sentinel create not audited yet"
        return writes

    try:
        writes = eventually(audited, timeout=SLO, description="the sentinel's create in the audit log")
    except WaitTimeout:
        unaudited(op, restarted_at, "K1.quiet", f"the sentinel's copy exists in {a}, but its create")
    others = [f"{e.verb} {e.resource} in {e.namespace} ({e.code})" for e in writes if e.namespace != a]
    extra = [e for e in writes if e.namespace == a and e.verb != "create"]
    assert not others, f"the restarted operator wrote although nothing changed: {others}"
    assert not extra, f"the restarted operator rewrote the copy in {a}: {extra}"
    s.assert_copies(src, [a, b, manual], ignore=[])


@behaviour("K3", "retries under a persistent error back off (intervals from the audit log)", key="K3.backoff")
def test_retries_under_a_persistent_error_back_off(
    private_operator: Callable[..., PrivateOperator],
) -> None:
    op = private_operator()
    s = op.scenario()
    src, fine, full = s.ns("src"), s.ns("fine"), s.ns("full")
    deny_creates_of_secrets_in(s.cluster.api, full, f"{s.name}-deny")

    def enforced() -> None:
        probe = client.V1Secret(metadata=client.V1ObjectMeta(name=f"{s.name}-probe"), data={})
        try:
            s.core.create_namespaced_secret(full, probe)
        except ApiException as exc:
            assert DENIAL in (exc.body or ""), f"creating a Secret in {full} failed otherwise: {exc.status}"
            return
        s.core.delete_namespaced_secret(probe.metadata.name, full)
        raise AssertionError(f"the admission policy does not deny Secrets in {full} yet")

    eventually(enforced, timeout=SLO, description="the admission policy to be enforced")
    started = time.time()
    s.source(src, DATA, to=[fine, full])
    s.expect_copies(src, [fine], description="the copy where creating is allowed")

    def attempts() -> list[float]:
        posts = [e.received for e in writes_since(op, started) if e.namespace == full]
        assert len(posts) >= 8, f"{len(posts)} create attempts in {full} so far"
        return posts

    try:
        posts = eventually(attempts, timeout=60, interval=0.5, description="repeated create attempts")
    except WaitTimeout:
        # fewer than 8 attempts is the system's doing only if the log shows it at all
        if not any(e.namespace == fine for e in writes_since(op, started)):
            unaudited(op, started, "K3.backoff", f"the copy's create in {fine}")
        raise
    gaps = [round(b - a, 3) for a, b in itertools.pairwise(posts)]
    # Early attempts are also triggered by events (the copy written next door); an event-triggered
    # retry leaves a second delayed entry, so the schedule is not strictly monotonic. What must hold:
    # the interval grows well past the 0.2 s base (a constant-rate retry never reaches 0.75 s) and
    # ends at least twice as long as it started.
    first, last = max(gaps[:3]), max(gaps[-3:])
    assert last >= 0.75, f"retry intervals do not grow (capped exponential backoff expected): {gaps}"
    assert last >= 2 * first, f"retry intervals do not grow: {gaps}"


@behaviour("C19", "each copy is written once, complete (audit log)", key="C19.one-write")
def test_each_copy_is_created_complete_in_one_write(
    private_operator: Callable[..., PrivateOperator],
) -> None:
    op = private_operator()
    s = op.scenario().another(CONFIGMAP)
    src, a, b = s.ns("src"), s.ns("a"), s.ns("b")
    started = time.time()
    s.source(src, {"k": "v"}, to=[a, b], binary={"blob": b"\x00\x01binary"})
    s.expect_copies(src, [a, b])
    s.settle(src)  # a sentinel replicated: everything about the source has been written by now

    def audited() -> list[audit.AuditEvent]:
        writes = writes_since(op, started)
        assert any(e.namespace not in (a, b) for e in writes), "the sentinel's create is not audited yet"
        return writes

    try:
        writes = eventually(audited, timeout=SLO, description="the sentinel's create in the audit log")
    except WaitTimeout:
        unaudited(op, started, "C19.one-write", "the settled sentinel's create")
    per_copy = {ns: [e.verb for e in writes if e.namespace == ns] for ns in (a, b)}
    assert per_copy == {a: ["create"], b: ["create"]}, (
        f"copies should be created complete in one write each (README: one write per copy): {per_copy}"
    )
