"""Runtime pieces that need no cluster: cache indexing, backoff, work queue, metrics, lease logic, events."""

from __future__ import annotations

import gc
import threading
from datetime import UTC, datetime, timedelta

import pytest

from operator_under_test.replicator import annotations as a
from operator_under_test.replicator import metrics
from operator_under_test.replicator.controller import Loop, Options, rbac_hint
from operator_under_test.replicator.events import event_body
from operator_under_test.replicator.leader import LeaseRecord, can_acquire, micro_time, parse_micro_time
from operator_under_test.replicator.logs import Once
from operator_under_test.replicator.store import (
    OPENED_KEEP_SECONDS,
    TOMBSTONE_SECONDS,
    KindStore,
    NamespaceStore,
)
from operator_under_test.replicator.workqueue import Backoff, WorkQueue


def secret(ns: str, name: str, rv: str = "1", ann: dict[str, str] | None = None, **data: str) -> dict:
    return {
        "metadata": {"namespace": ns, "name": name, "resourceVersion": rv, "uid": f"u-{ns}-{name}",
                     "annotations": ann or {}},
        "type": "Opaque",
        "data": data,
    }  # fmt: skip


SOURCE_ANN = {a.ALLOWED: "true", a.AUTO_ENABLED: "true", "other/annotation": "x"}


# --- store --------------------------------------------------------------------------------------------


def test_store_keeps_no_payload_for_unannotated_or_copies() -> None:
    st = KindStore("Secret")
    st.apply("ADDED", secret("x", "plain", pw="c2VjcmV0"))
    st.apply("ADDED", secret("a", "creds", ann={a.REFLECTS: "src/creds", a.AUTO_REFLECTS: "True"}, pw="eA=="))
    st.apply("ADDED", secret("src", "creds", ann=SOURCE_ANN, pw="eA=="))
    assert st.objects["plain"]["x"] is None
    copy_rec = st.objects["creds"]["a"]
    assert copy_rec is not None
    assert copy_rec.payload is None
    assert copy_rec.digest
    src_rec = st.objects["creds"]["src"]
    assert src_rec is not None
    assert src_rec.payload == {"data": {"pw": "eA=="}, "binaryData": {}}
    assert "other/annotation" not in src_rec.annotations
    assert st.counts() == {"objects": 3, "sources": 1, "auto": 1, "manual": 0}


def test_store_event_keys_cover_source_reflects_and_same_name_sources() -> None:
    st = KindStore("Secret")
    assert st.apply("ADDED", secret("src", "creds", ann=SOURCE_ANN)) == {("src", "creds")}
    # an unrelated same-name object appearing affects the source with that name
    assert st.apply("ADDED", secret("b", "creds")) == {("src", "creds")}
    # a manual mirror of another name points at its source
    keys = st.apply("ADDED", secret("c", "pull", ann={a.REFLECTS: "src/creds"}))
    assert keys == {("src", "creds")}
    assert st.mirrors[("src", "creds")] == {("c", "pull")}
    # deleting a copy enqueues its source (so it is restored)
    assert st.apply("DELETED", secret("c", "pull")) == {("src", "creds")}
    assert ("src", "creds") not in st.mirrors


def test_store_source_losing_annotations_is_reported_then_forgotten() -> None:
    st = KindStore("Secret")
    st.apply("ADDED", secret("src", "creds", ann=SOURCE_ANN))
    assert st.apply("MODIFIED", secret("src", "creds", rv="2")) == {("src", "creds")}
    assert st.source_view(("src", "creds")) is None
    assert st.sources == {}


def test_store_ignores_stale_events_after_write_through() -> None:
    st = KindStore("Secret")
    st.apply("MODIFIED", secret("a", "c", rv="20", ann={a.REFLECTS: "s/c"}))
    assert st.apply("MODIFIED", secret("a", "c", rv="15", ann={a.REFLECTS: "s/x"})) == set()
    rec = st.objects["c"]["a"]
    assert rec is not None
    assert rec.rv == "20"


def test_store_late_write_through_does_not_resurrect_a_copy_the_watch_saw_deleted() -> None:
    """A user deletes a copy the moment our patch lands; the watch delivers that deletion before the
    worker applies the patch response. The copy must stay gone in the cache, or planning sees it
    present and never recreates it (the state machine's missing auto copy, CI run 1)."""
    now = [0.0]
    st = KindStore("Secret", clock=lambda: now[0])
    copy = {a.REFLECTS: "src/creds", a.AUTO_REFLECTS: "True", a.REFLECTED_VERSION: "10"}
    st.apply("ADDED", secret("src", "creds", rv="10", ann=SOURCE_ANN))
    st.apply("ADDED", secret("a", "creds", rv="11", ann=copy))
    st.apply("MODIFIED", secret("a", "creds", rv="12", ann=copy))  # the watch: our patch
    assert st.apply("DELETED", secret("a", "creds", rv="13", ann=copy)) == {("src", "creds")}
    assert st.apply("MODIFIED", secret("a", "creds", rv="12", ann=copy)) == set()  # late write-through
    assert not st.exists("a", "creds")
    assert st.mirrors_of(("src", "creds")) == []
    # a copy created again afterwards (a newer version) is taken, and clears the tombstone
    st.apply("MODIFIED", secret("a", "creds", rv="14", ann=copy))
    assert st.exists("a", "creds")
    assert ("a", "creds") not in st.tombstones


def test_store_own_delete_is_not_undone_by_a_lagging_watch_event() -> None:
    st = KindStore("Secret")
    copy = {a.REFLECTS: "src/creds", a.AUTO_REFLECTS: "True"}
    st.apply("MODIFIED", secret("a", "creds", rv="20", ann=copy))  # write-through of our patch
    st.forget("a", "creds", "20")  # write-through of our delete
    assert st.apply("MODIFIED", secret("a", "creds", rv="20", ann=copy)) == set()  # the watch, late
    assert not st.exists("a", "creds")


def test_store_tombstones_expire() -> None:
    now = [0.0]
    st = KindStore("Secret", clock=lambda: now[0])
    for i in range(3):
        st.apply("ADDED", secret(f"n{i}", "c", rv=str(10 + i), ann={a.REFLECTS: "s/c"}))
        st.apply("DELETED", secret(f"n{i}", "c", rv=str(20 + i)))
    assert len(st.tombstones) == 3
    now[0] = TOMBSTONE_SECONDS + 1
    st.apply("ADDED", secret("x", "c", rv="30", ann={a.REFLECTS: "s/c"}))
    st.apply("DELETED", secret("x", "c", rv="31"))
    assert list(st.tombstones) == [("x", "c")]


def test_store_excluded_and_helm_sources_are_not_sources() -> None:
    st = KindStore("Secret", excluded=lambda ns: ns.startswith("kube-"))
    st.apply("ADDED", secret("kube-system", "creds", ann=SOURCE_ANN))
    helm = secret("src", "sh.helm.release.v1.x.v1", ann=SOURCE_ANN)
    helm["type"] = "helm.sh/release.v1"
    st.apply("ADDED", helm)
    assert st.sources == {}


def test_store_replace_reports_old_and_new_keys() -> None:
    st = KindStore("Secret")
    st.apply("ADDED", secret("src", "gone", ann=SOURCE_ANN))
    keys = st.replace([st.entry(secret("src", "new", ann=SOURCE_ANN))])
    assert keys == {("src", "gone"), ("src", "new")}
    assert st.source_view(("src", "gone")) is None


def test_namespace_store_reports_new_active_namespaces() -> None:
    ns = NamespaceStore()
    assert ns.apply("ADDED", {"metadata": {"name": "a"}, "status": {"phase": "Active"}})
    assert not ns.apply("MODIFIED", {"metadata": {"name": "a", "labels": {"x": "y"}}})
    assert not ns.apply("MODIFIED", {"metadata": {"name": "a", "deletionTimestamp": "t"}})
    assert ns.terminating() == {"a"}
    assert ns.active() == set()
    ns.apply("DELETED", {"metadata": {"name": "a"}})
    assert ns.items == {}


def test_a_first_copy_waits_out_the_settle_time_of_a_namespace_the_watch_just_opened() -> None:
    now = [100.0]
    ns = NamespaceStore(clock=lambda: now[0])
    active = {"status": {"phase": "Active"}}
    ns.replace([{"metadata": {"name": "listed"}, **active}])  # known before the watch: never waits
    assert ns.apply("ADDED", {"metadata": {"name": "new"}, **active}, observed=100.0)
    now[0] = 100.004
    assert ns.settle_wait("new", 0.010) == pytest.approx(0.006)
    assert ns.settle_wait("listed", 0.010) == 0.0
    assert ns.settle_wait("unknown", 0.010) == 0.0
    now[0] = 100.011
    assert ns.settle_wait("new", 0.010) == 0.0
    assert ns.settle_wait("new", 0.0) == 0.0  # --namespace-settle-ms=0


def test_opening_times_are_forgotten_after_a_few_seconds_and_with_the_namespace() -> None:
    ns = NamespaceStore(clock=lambda: 0.0)
    active = {"status": {"phase": "Active"}}
    ns.apply("ADDED", {"metadata": {"name": "old"}, **active}, observed=0.0)
    ns.apply("ADDED", {"metadata": {"name": "gone"}, **active}, observed=1.0)
    ns.apply("DELETED", {"metadata": {"name": "gone"}}, observed=2.0)
    ns.apply("ADDED", {"metadata": {"name": "young"}, **active}, observed=OPENED_KEEP_SECONDS + 0.5)
    assert list(ns._opened_at) == ["young"]


# --- backoff and queue --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("attempt", "ceiling"), [(0, 0.2), (1, 0.4), (2, 0.8), (5, 6.4), (6, 10.0), (50, 10.0), (10_000, 10.0)]
)
def test_backoff_is_exponential_and_capped(attempt: int, ceiling: float) -> None:
    b = Backoff(base=0.2, cap=10.0, factor=2.0, jitter=0.5)
    assert b.ceiling(attempt) == pytest.approx(ceiling)
    assert b.delay(attempt, rng=lambda: 0.0) == pytest.approx(ceiling)
    assert b.delay(attempt, rng=lambda: 0.999999) == pytest.approx(ceiling * 0.5, rel=1e-5)


def test_backoff_never_zero_no_hot_loop() -> None:
    b = Backoff(base=0.5, cap=10.0)
    assert min(b.delay(0, rng=lambda r=r: r / 10) for r in range(10)) > 0.25


@pytest.mark.parametrize("kwargs", [{"base": 0}, {"cap": 0.01}, {"factor": 0.5}, {"jitter": 1.0}])
def test_backoff_rejects_nonsense(kwargs: dict) -> None:
    with pytest.raises(ValueError):
        Backoff(**kwargs)


class FakeClock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def test_queue_dedups_and_reprocesses_keys_added_during_processing() -> None:
    q: WorkQueue[str] = WorkQueue()
    q.add("s1", observed_at=1.0)
    q.add("s1", observed_at=2.0)
    q.add("s2")
    assert len(q) == 2
    assert q.get(timeout=0) == ("s1", 1.0)  # earliest observation kept for the latency metric
    q.add("s1")  # while processing: not handed out concurrently
    assert q.get(timeout=0) == ("s2", None)
    assert q.get(timeout=0) is None
    q.done("s1")
    assert q.get(timeout=0) == ("s1", None)


def test_queue_rate_limited_requeue_uses_backoff_and_forget_resets() -> None:
    clock = FakeClock()
    q: WorkQueue[str] = WorkQueue(Backoff(base=1.0, cap=4.0, jitter=0.0), clock=clock)
    assert q.add_rate_limited("k") == 1.0
    assert q.add_rate_limited("k") == 2.0
    assert q.add_rate_limited("k") == 4.0
    assert q.add_rate_limited("k") == 4.0  # capped
    assert q.get(timeout=0) is None  # nothing ready yet
    clock.t += 1.0
    assert q.get(timeout=0) == ("k", None)
    q.forget("k")
    assert q.failures("k") == 0


def test_a_failing_key_waits_once_however_often_it_is_triggered() -> None:
    """A key that keeps failing while events, resyncs and its own status writes trigger it again
    must not collect one retry chain per trigger (client-go: a key waits at most once, the earlier
    time wins): the chains would add up into the hot loop the backoff exists to prevent."""
    clock = FakeClock()
    q: WorkQueue[str] = WorkQueue(Backoff(base=1.0, cap=8.0, jitter=0.0), clock=clock)
    attempts = 0
    for _ in range(5):  # five rounds: an immediate trigger, a failed attempt, another trigger, ...
        q.add("k")
        got = q.get(timeout=0)
        assert got is not None
        attempts += 1
        q.add_rate_limited("k")
        q.done("k")
    assert len(q) == 1  # one waiting entry, not five
    clock.t += 8.0  # every chain would be due by now
    assert q.get(timeout=0) == ("k", None)
    q.done("k")
    assert q.get(timeout=0) is None  # and only one of them existed
    assert q.failures("k") == attempts


def test_an_earlier_retry_replaces_a_later_one() -> None:
    clock = FakeClock()
    q: WorkQueue[str] = WorkQueue(clock=clock)
    q.add("k", delay=10.0)
    q.add("k", delay=2.0)
    q.add("k", delay=5.0)  # later than the one waiting: ignored
    assert len(q) == 1
    clock.t += 2.0
    assert q.get(timeout=0) == ("k", None)
    q.done("k")
    clock.t += 10.0
    assert q.get(timeout=0) is None


def test_queue_shutdown_releases_getters() -> None:
    q: WorkQueue[str] = WorkQueue()
    q.shutdown()
    assert q.get(timeout=5) is None
    q.add("x")
    assert len(q) == 0


def test_once_rate_limits_and_reset() -> None:
    once = Once(60)
    assert once("k", now=0)
    assert not once("k", now=30)
    assert once("k", now=61)
    assert once.reset("k")
    assert not once.reset("k")


def test_rbac_hint_names_verb_and_resource() -> None:
    assert rbac_hint("list", "secrets") == (
        "forbidden: cannot list secrets at cluster scope (RBAC: grant list on secrets)"
    )
    assert "in namespace team-a" in rbac_hint("create", "configmaps", "team-a")


# --- metrics ------------------------------------------------------------------------------------------


def test_metrics_render_with_expected_names() -> None:
    metrics.PROPAGATION.labels(kind="Secret", action="update").observe(0.05)
    metrics.RECONCILE_ERRORS.labels(kind="Secret", reason="forbidden").inc()
    metrics.MANAGED_COPIES.labels(kind="Secret", mode="auto").set(3)
    metrics.WATCH_RESTARTS.labels(resource="secrets", reason="gone").inc()
    metrics.API_REQUESTS.labels(verb="patch", resource="secrets", code="200").inc()
    text = metrics.render().decode()
    for name in (
        "replicator_propagation_latency_seconds_bucket",
        "replicator_reconcile_errors_total",
        "replicator_managed_copies",
        "replicator_watch_restarts_total",
        "replicator_api_requests_total",
    ):
        assert name in text
    assert 'replicator_managed_copies{kind="Secret",mode="auto"} 3.0' in text


# --- leader election ----------------------------------------------------------------------------------

NOW = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)


def record(holder: str, renewed: datetime = NOW, duration: int = 15) -> LeaseRecord:
    return LeaseRecord(holder, duration, micro_time(renewed), 0)


@pytest.mark.parametrize(
    ("rec", "observed_for", "expected"),
    [
        (record(""), 0, True),  # released lease
        (record("me"), 0, True),  # renew our own
        (record("other"), 5, False),  # live leader
        (record("other"), 16, True),  # unchanged for longer than the lease duration
        (record("other", NOW - timedelta(seconds=31)), 0, True),  # long dead by the wall clock
        (record("other", NOW - timedelta(seconds=20)), 0, False),  # within the skew allowance
    ],
)
def test_can_acquire(rec: LeaseRecord, observed_for: float, expected: bool) -> None:
    assert can_acquire(rec, "me", observed_for, NOW, 15.0) is expected


def test_micro_time_round_trip() -> None:
    text = micro_time(NOW)
    assert text == "2026-01-01T12:00:00.000000Z"
    assert parse_micro_time(text) == NOW
    assert parse_micro_time("garbage") is None
    assert parse_micro_time(None) is None


# --- events -------------------------------------------------------------------------------------------


def test_event_body_points_at_source_and_holds_no_data() -> None:
    body = event_body(
        "Secret", "src", "creds", "uid-1", "InvalidAnnotation", "bad entry", instance="pod-1", now=NOW
    )
    assert body["involvedObject"] == {
        "apiVersion": "v1", "kind": "Secret", "namespace": "src", "name": "creds", "uid": "uid-1",
    }  # fmt: skip
    assert body["type"] == "Warning"
    assert body["metadata"] == {"generateName": "creds.", "namespace": "src"}
    assert body["firstTimestamp"] == "2026-01-01T12:00:00Z"
    assert "data" not in body


def test_queue_urgent_lane_goes_first_and_hands_a_key_out_once() -> None:
    q: WorkQueue[str] = WorkQueue()
    for key in ("resync-1", "resync-2", "late"):
        q.add(key)
    q.add("late", urgent=True)  # already queued in the ordinary lane: moves ahead, once
    q.add("new", urgent=True)
    assert len(q) == 4
    order = [item[0] for _ in range(4) if (item := q.get(timeout=0)) is not None]
    assert order == ["late", "new", "resync-1", "resync-2"]
    assert q.get(timeout=0) is None


def test_queue_urgent_key_added_while_processing_comes_back_urgent() -> None:
    q: WorkQueue[str] = WorkQueue()
    q.add("big")
    assert q.get(timeout=0) == ("big", None)
    q.add("other")
    q.add("big", urgent=True)  # never handed out twice at once
    assert q.get(timeout=0) == ("other", None)
    assert q.get(timeout=0) is None
    q.add("third")
    q.done("big")
    assert q.get(timeout=0) == ("big", None)
    assert q.get(timeout=0) == ("third", None)


def test_sources_targeting_a_new_namespace_are_the_ones_whose_copy_is_missing_there() -> None:
    from operator_under_test.replicator.controller import Controller, Options

    # setup: a controller that is never started (no API calls), its caches filled from plain data
    ctl = Controller(None, Options(write_concurrency=1))  # type: ignore[arg-type]  # never started
    try:
        secrets = ctl.stores["Secret"]
        wants = {**SOURCE_ANN, a.ALLOWED_NAMESPACES: "^team-.*", a.AUTO_NAMESPACES: "team-new"}
        secrets.apply("ADDED", secret("src", "wanted", ann=wants))
        secrets.apply("ADDED", secret("src", "elsewhere", ann={**SOURCE_ANN, a.AUTO_NAMESPACES: "team-x"}))
        secrets.apply("ADDED", secret("src", "manual-only", ann={a.ALLOWED: "true"}))
        secrets.apply("ADDED", secret("src", "broken", ann={**SOURCE_ANN, a.ALLOWED_NAMESPACES: "*"}))
        secrets.apply("ADDED", secret("src", "taken", ann=SOURCE_ANN))
        secrets.apply("ADDED", secret("team-new", "taken"))  # an unrelated object holds the name
        ctl.stores["ConfigMap"].apply("ADDED", secret("src", "settings", ann=SOURCE_ANN))
        # assess
        assert sorted(ctl.sources_targeting("team-new")) == [
            ("ConfigMap", "src", "settings"),
            ("Secret", "src", "wanted"),
        ]
        assert ctl.sources_targeting("src") == []  # never the source's own namespace
    finally:
        # teardown
        ctl.pool.shutdown()


def test_now_iso_is_utc_with_milliseconds_and_follows_the_clock() -> None:
    import re
    import time

    from operator_under_test.replicator.controller import now_iso

    before = datetime.now(UTC).replace(microsecond=0)
    stamp = now_iso()
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", stamp), stamp
    parsed = datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
    assert before <= parsed <= datetime.now(UTC)
    time.sleep(1.01)  # the cached second must roll over
    assert now_iso()[:19] != stamp[:19]


def test_store_write_through_reuses_the_written_digest_and_the_echo_changes_nothing() -> None:
    from operator_under_test.replicator.planning import payload_digest

    st = KindStore("Secret")
    st.apply("ADDED", secret("src", "creds", ann=SOURCE_ANN, pw="eA=="))
    copy = secret("a", "creds", rv="7", ann={a.REFLECTS: "src/creds", a.AUTO_REFLECTS: "True"}, pw="eA==")
    written = ({"data": {"pw": "eA=="}, "binaryData": {}}, "digest-we-computed")
    assert st.apply("MODIFIED", copy, written=written) == {("src", "creds")}
    rec = st.objects["creds"]["a"]
    assert rec is not None
    assert rec.digest == "digest-we-computed"
    # the watch then echoes the same version: nothing changed, nothing to reconcile
    assert st.apply("MODIFIED", copy) == set()
    # a payload other than the one written is digested from what the object holds
    other = secret("b", "creds", rv="8", ann={a.REFLECTS: "src/creds", a.AUTO_REFLECTS: "True"}, pw="eQ==")
    st.apply("MODIFIED", other, written=written)
    rec = st.objects["creds"]["b"]
    assert rec is not None
    assert rec.digest == payload_digest({"data": {"pw": "eQ=="}})


# --- start-up ---------------------------------------------------------------------------------------


class _Listed:
    """An informer as the loop sees it before start-up: only its "listed" flag."""

    def __init__(self) -> None:
        self.synced = threading.Event()


class _Loop(Loop):
    def __init__(self) -> None:
        super().__init__(Options())
        self.informers = [_Listed(), _Listed()]  # type: ignore[list-item]
        self.enqueued: list[float | None] = []

    def enqueue_all(self, observed: float | None = None) -> None:
        self.enqueued.append(observed)


def test_workers_may_start_the_moment_the_last_informer_listed_and_only_while_leading() -> None:
    loop = _Loop()
    waiter = threading.Thread(target=loop._await_initial_sync)
    waiter.start()
    try:
        loop.set_leading(True)
        loop.informers[0].synced.set()
        assert not loop._can_work.is_set()  # one informer still listing
        loop.informers[1].synced.set()
        waiter.join(10)
        assert not waiter.is_alive()
        assert loop._can_work.is_set()  # at once, no housekeeping tick in between
        assert len(loop.enqueued) == 2  # on leading, and once after the initial sync
        loop.set_leading(False)
        assert not loop._can_work.is_set()
        assert loop._next(timeout=0.01) is None
    finally:
        loop.stop_event.set()
        waiter.join(10)
        gc.unfreeze()  # the loop froze this test process's objects at its "initial sync"
