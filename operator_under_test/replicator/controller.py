"""Informer-style list+watch for Secrets, ConfigMaps and Namespaces, and the reconcile loop.

Shape (like client-go, without kopf): one thread per resource lists (paginated) then watches from the
list's resourceVersion with bookmarks, resumes from the newest RV after a timeout, re-lists on 410
Gone and backs off (capped, jittered) on every other error. Events update a compact cache
(:mod:`.store`) and enqueue the affected *source keys* into a dedup work queue; workers plan a source
purely from the cache (:mod:`.planning`) and fan its writes out on write threads shared round-robin
between reconciles (:mod:`.fanout`: a big fan-out never delays a small one). Writes carry
resourceVersion/uid preconditions and are written through to the cache, so one source update costs
one write per copy that actually changes, and never a list.
"""

from __future__ import annotations

import fnmatch
import functools
import gc
import logging
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import CancelledError
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from . import annotations as a
from . import metrics
from .events import EventRecorder
from .fanout import FairPool
from .kube import CONFIGMAPS, JSON_PATCH, NAMESPACES, SECRETS, Fenced, Kube, KubeError, ResourceType
from .logs import Once
from .planning import Plan, SourceView, Write, copy_body, delete_options, plan, update_patch
from .store import Entry, KindStore, NamespaceStore
from .workqueue import Backoff, WorkQueue

log = logging.getLogger("replicator.controller")

Key = tuple[str, str, str]  # (kind, namespace, name)
KINDS: dict[str, ResourceType] = {"Secret": SECRETS, "ConfigMap": CONFIGMAPS}


@dataclass
class Options:
    """Runtime knobs (CLI flags map 1:1)."""

    resync_seconds: float = 300.0
    watch_timeout_seconds: int = 300
    workers: int = 4
    write_concurrency: int = 8
    excluded_namespaces: tuple[str, ...] = ()
    ready_down_threshold_seconds: float = 30.0
    event_interval_seconds: float = 600.0
    #: a first copy into a namespace the watch opened less than this ago waits out the rest (see
    #: NamespaceStore.settle_wait: the API server's own 50 ms wait for a namespace its cache lacks)
    namespace_settle_seconds: float = 0.010
    identity: str = "replicator"
    watch_backoff: Backoff = field(default_factory=lambda: Backoff(base=0.5, cap=5.0))
    retry_backoff: Backoff = field(default_factory=lambda: Backoff(base=0.2, cap=15.0))


#: How long a watch/list must keep being denied before it is reported as missing RBAC.
FORBIDDEN_CONFIRM_SECONDS = 5.0


def rbac_hint(verb: str, resource: str, namespace: str | None = None) -> str:
    """The one line logged when the API says 403 (H5: loud once, then quiet backoff)."""
    where = f"in namespace {namespace}" if namespace else "at cluster scope"
    return f"forbidden: cannot {verb} {resource} {where} (RBAC: grant {verb} on {resource})"


@functools.lru_cache(maxsize=4096)
def cached_spec(annotations: tuple[tuple[str, str], ...]) -> a.ReflectionSpec:
    """``parse_spec`` of a source's (sorted) Reflector annotations, parsed once per distinct value."""
    return a.parse_spec(dict(annotations))


_SECOND: tuple[int, str] = (-1, "")  # the last whole second formatted (one strftime per second)


def now_iso() -> str:
    """UTC now with milliseconds, e.g. ``2026-01-01T12:00:00.123Z`` (once per write: kept cheap)."""
    global _SECOND
    now = time.time()
    second = int(now)
    if _SECOND[0] != second:
        _SECOND = (second, datetime.fromtimestamp(second, UTC).strftime("%Y-%m-%dT%H:%M:%S"))
    return f"{_SECOND[1]}.{int((now - second) * 1000):03d}Z"


class Informer(threading.Thread):
    """List then watch one resource forever; hands events to ``on_event`` and lists to ``on_replace``."""

    def __init__(
        self,
        kube: Kube,
        rtype: ResourceType,
        on_event: Callable[[str, dict[str, Any], float], None],
        on_replace: Callable[[list[Any]], None],
        opts: Options,
        stop: threading.Event,
        compact: Callable[[dict[str, Any]], Any] | None = None,
    ) -> None:
        super().__init__(name=f"informer-{rtype.plural}", daemon=True)
        self.kube, self.rtype, self.opts, self.stop_event = kube, rtype, opts, stop
        self.on_event, self.on_replace = on_event, on_replace
        #: What ``on_replace`` receives per listed object (applied page by page); raw objects if None.
        self.compact = compact
        self.synced = threading.Event()
        self.down_since: float | None = None
        self.resource_version = ""
        self._failures = 0
        self._forbidden = Once(600.0)
        self._forbidden_since: float | None = None
        self._errors = Once(60.0)

    def _up(self) -> None:
        if self.down_since is not None or self._failures:
            log.info(
                "watch recovered",
                extra={"resource": self.rtype.plural, "after_failures": self._failures},
            )
        self.down_since = None
        self._failures = 0
        self._forbidden.reset(self.rtype.plural)
        self._forbidden_since = None
        metrics.WATCH_UP.labels(resource=self.rtype.plural).set(1)

    def _down(self, exc: KubeError) -> None:
        if self.down_since is None:
            self.down_since = time.monotonic()
        metrics.WATCH_UP.labels(resource=self.rtype.plural).set(0)
        metrics.WATCH_RESTARTS.labels(resource=self.rtype.plural, reason=exc.category).inc()
        if exc.status == 403:
            # A freshly (re)started API server answers 403 until its RBAC authorizer has synced:
            # only a denial that persists is reported as an RBAC problem.
            now = time.monotonic()
            if self._forbidden_since is None:
                self._forbidden_since = now
                log.warning(
                    f"API server denied {exc.verb or 'list'} on {self.rtype.plural}; confirming before "
                    "reporting (a restarting API server denies requests until its authorizer is ready)",
                    extra={"status": 403},
                )
            elif now - self._forbidden_since >= FORBIDDEN_CONFIRM_SECONDS and self._forbidden(
                self.rtype.plural
            ):
                log.error(rbac_hint(exc.verb or "list", self.rtype.plural), extra={"status": 403})
        elif self._errors((self.rtype.plural, exc.category)):
            log.warning(
                "watch failed; retrying with backoff",
                extra={
                    "resource": self.rtype.plural,
                    "error": exc.category,
                    "status": exc.status,
                    "detail": exc.message[:200],
                },
            )
        delay = self.opts.watch_backoff.delay(self._failures)
        self._failures += 1
        self.stop_event.wait(delay)

    def relist(self) -> None:
        """List every page; each page is compacted before the next is fetched, so a list of 50,000
        Secrets never holds all their raw objects at once (start-up time and peak memory)."""
        items: list[Any] = []
        rv = ""
        for page, page_rv in self.kube.list_pages(self.rtype):
            items.extend(map(self.compact, page) if self.compact else page)
            rv = page_rv or rv
        metrics.RELISTS.labels(resource=self.rtype.plural).inc()
        self.on_replace(items)
        self.resource_version = rv
        self.synced.set()

    def run(self) -> None:
        while not self.stop_event.is_set():
            try:
                if not self.resource_version:
                    self.relist()
                    self._up()
                stream = self.kube.watch(
                    self.rtype, self.resource_version, timeout_seconds=self.opts.watch_timeout_seconds
                )
                self._up()
                for ev in stream:
                    if self.stop_event.is_set():
                        return
                    etype = ev.get("type", "")
                    obj = ev.get("object") or {}
                    if etype == "ERROR":
                        code = int(obj.get("code") or 0)
                        raise KubeError(
                            code, obj.get("reason", ""), obj.get("message", ""), "watch", self.rtype.plural
                        )
                    rv = (obj.get("metadata") or {}).get("resourceVersion")
                    if etype != "BOOKMARK":
                        self.on_event(etype, obj, time.monotonic())
                    if rv:
                        self.resource_version = rv
                metrics.WATCH_RESTARTS.labels(resource=self.rtype.plural, reason="timeout").inc()
            except KubeError as exc:
                if exc.status == 410:
                    metrics.WATCH_RESTARTS.labels(resource=self.rtype.plural, reason="gone").inc()
                    log.info("watch expired (410); re-listing", extra={"resource": self.rtype.plural})
                    self.resource_version = ""
                    continue
                self._down(exc)
            except Exception:  # never let the thread die: a dead informer is a silent operator
                log.exception("unexpected informer error", extra={"resource": self.rtype.plural})
                self._down(KubeError(0, "internal", "", "watch", self.rtype.plural))


class _LoopOptions(Protocol):
    workers: int
    ready_down_threshold_seconds: float


class Loop:
    """Threads, probes and leadership of a list+watch controller (shared by both bundled operators).

    A subclass calls ``Loop.__init__`` first, then sets ``queue`` and ``informers``, and defines
    ``_worker`` (taking keys with :meth:`_next`), ``_housekeeping`` and ``enqueue_all``.
    """

    queue: WorkQueue[Any]
    informers: list[Informer]

    def __init__(self, opts: _LoopOptions) -> None:
        self.opts = opts
        self.lock = threading.RLock()
        self.stop_event = threading.Event()
        self.leading = threading.Event()
        #: Set by leader election to "is my Lease renewed recently enough"; always true without it.
        self.lease_valid: Callable[[], bool] = lambda: True
        self.workers: list[threading.Thread] = []
        self.synced = threading.Event()
        #: synced and leading: what workers wait for (set and cleared under ``_gate_lock``)
        self._can_work = threading.Event()
        self._gate_lock = threading.Lock()

    def _worker(self) -> None:
        raise NotImplementedError

    def _summary(self) -> dict[str, Any]:
        """What the "initial sync complete" log line reports (object counts)."""
        return {}

    def _update_gate(self) -> None:
        with self._gate_lock:
            if self.synced.is_set() and self.leading.is_set():
                self._can_work.set()
            else:
                self._can_work.clear()

    def _await_initial_sync(self) -> None:
        """Reconcile from the moment the last informer has listed: /readyz turned 200 then, and the
        workers used to wait for a housekeeping tick (0.25 s) and their own poll (0.2 s) after it."""
        for inf in self.informers:
            while not inf.synced.wait(1.0):
                if self.stop_event.is_set():
                    return
        # The listed cache lives as long as the process: out of the collector's way, or every full
        # collection walks it (20-74 ms pauses of every thread, 19 of them in a 10,000-copy scale run
        # among 50,000 Secrets; none after the freeze). Plain records, no cycles: what is replaced
        # later is still freed by reference counting.
        gc.freeze()
        self.synced.set()
        log.info("initial sync complete", extra=self._summary())
        self.enqueue_all(time.monotonic())
        self._update_gate()

    def _housekeeping(self) -> None:
        raise NotImplementedError

    def enqueue_all(self, observed: float | None = None) -> None:
        raise NotImplementedError

    def readiness(self) -> tuple[bool, str]:
        """Ready once every informer listed, and while no watch has been down longer than the threshold."""
        pending = [i.rtype.plural for i in self.informers if not i.synced.is_set()]
        if pending:
            return False, "initial sync pending: " + ",".join(pending)
        now = time.monotonic()
        for inf in self.informers:
            if inf.down_since is not None and now - inf.down_since > self.opts.ready_down_threshold_seconds:
                return False, f"watch on {inf.rtype.plural} down for {now - inf.down_since:.0f}s"
        return True, "ok"

    def liveness(self) -> tuple[bool, str]:
        """Live unless a thread died while the operator was not stopping."""
        dead = [t.name for t in [*self.informers, *self.workers] if not t.is_alive()]
        if dead and not self.stop_event.is_set():
            return False, "dead threads: " + ",".join(dead)
        return True, "ok"

    def start(self) -> None:
        for inf in self.informers:
            inf.start()
        for i in range(self.opts.workers):
            t = threading.Thread(target=self._worker, name=f"worker-{i}", daemon=True)
            t.start()
            self.workers.append(t)
        threading.Thread(target=self._await_initial_sync, name="initial-sync", daemon=True).start()
        threading.Thread(target=self._housekeeping, name="housekeeping", daemon=True).start()

    def set_leading(self, leading: bool) -> None:
        """Leader election hook: followers keep warm caches but never write."""
        if leading:
            self.leading.set()
            self.enqueue_all(time.monotonic())
        else:
            self.leading.clear()
        self._update_gate()

    def _next(self, timeout: float) -> tuple[Any, float | None] | None:
        """The next key to reconcile once caches are synced and this replica leads; None: look again."""
        if not self._can_work.wait(timeout):
            return None
        return self.queue.get(timeout=timeout)

    def stop_workers(self, timeout: float) -> None:
        """Stop taking work and give the workers up to ``timeout`` seconds to finish."""
        self.stop_event.set()
        self.leading.clear()
        self._update_gate()
        self.queue.shutdown()
        deadline = time.monotonic() + timeout
        for t in self.workers:
            t.join(max(0.0, deadline - time.monotonic()))


class Controller(Loop):
    """Owns the caches, the informers, the queue and the workers."""

    opts: Options

    def __init__(self, kube: Kube, opts: Options) -> None:
        super().__init__(opts)
        self.kube = kube
        self.stores = {kind: KindStore(kind, self.excluded) for kind in KINDS}
        self.namespaces = NamespaceStore()
        self.queue: WorkQueue[Key] = WorkQueue(opts.retry_backoff)
        self.pool = FairPool(opts.write_concurrency, name="write")
        self.recorder = EventRecorder(kube, opts.identity, opts.event_interval_seconds)
        self.once = Once(600.0)
        self.informers = [
            Informer(kube, NAMESPACES, self._on_namespace, self._replace_namespaces, opts, self.stop_event),
            *(
                Informer(
                    kube,
                    rtype,
                    self._event_handler(kind),
                    self._replace_handler(kind),
                    opts,
                    self.stop_event,
                    compact=self.stores[kind].entry,
                )
                for kind, rtype in KINDS.items()
            ),
        ]

    # --- configuration helpers ------------------------------------------------------------------------

    def excluded(self, namespace: str) -> bool:
        return any(fnmatch.fnmatchcase(namespace, pat) for pat in self.opts.excluded_namespaces)

    # --- informer callbacks ---------------------------------------------------------------------------

    def _enqueue(self, kind: str, keys: Iterable[tuple[str, str]], observed: float | None = None) -> None:
        for ns, name in keys:
            self.queue.add((kind, ns, name), observed_at=observed)

    def _event_handler(self, kind: str) -> Callable[[str, dict[str, Any], float], None]:
        def handle(etype: str, obj: dict[str, Any], observed: float) -> None:
            with self.lock:
                keys = self.stores[kind].apply(etype, obj)
            self._enqueue(kind, keys, observed)

        return handle

    def _replace_handler(self, kind: str) -> Callable[[list[Entry]], None]:
        def replace(entries: list[Entry]) -> None:
            with self.lock:
                keys = self.stores[kind].replace(entries)
            self._enqueue(kind, keys, time.monotonic())

        return replace

    def _on_namespace(self, etype: str, obj: dict[str, Any], observed: float) -> None:
        with self.lock:
            opened = self.namespaces.apply(etype, obj, observed)
        if opened:
            # The sources that want a copy there go through the urgent lane (ahead of any resync or
            # fan-out follow-up); every source is still re-planned in the ordinary lane, as before.
            namespace = (obj.get("metadata") or {}).get("name", "")
            for key in self.sources_targeting(namespace):
                self.queue.add(key, observed_at=observed, urgent=True)
            self.enqueue_all(observed)

    def sources_targeting(self, namespace: str) -> list[Key]:
        """Sources whose auto copy belongs in ``namespace`` and is missing there.

        A cheap pre-check (cached parse of the annotations, one match per source); the reconcile
        still plans from scratch. A source whose annotation cannot be used is left to the ordinary
        lane, which reports it.
        """
        with self.lock:
            candidates = [
                (kind, sns, name, rec.annotations)
                for kind, store in self.stores.items()
                for name, nss in store.sources.items()
                if not store.exists(namespace, name)
                for sns in nss
                if sns != namespace and (rec := store.objects[name][sns]) is not None
            ]
        out: list[Key] = []
        for kind, sns, name, notes in candidates:
            try:
                spec = cached_spec(tuple(sorted(notes.items())))
                if spec.allowed and spec.auto_enabled and spec.auto_target(namespace):
                    out.append((kind, sns, name))
            except a.AnnotationError:
                continue
        return out

    def _replace_namespaces(self, items: list[dict[str, Any]]) -> None:
        with self.lock:
            self.namespaces.replace(items)
        self.enqueue_all(time.monotonic())

    def enqueue_all(self, observed: float | None = None) -> None:
        with self.lock:
            per_kind = {kind: store.all_keys() for kind, store in self.stores.items()}
        for kind, keys in per_kind.items():
            self._enqueue(kind, keys, observed)

    # --- health ---------------------------------------------------------------------------------------

    def refresh_gauges(self) -> None:
        with self.lock:
            counts = {kind: store.counts() for kind, store in self.stores.items()}
        for kind, c in counts.items():
            metrics.MANAGED_COPIES.labels(kind=kind, mode="auto").set(c["auto"])
            metrics.MANAGED_COPIES.labels(kind=kind, mode="manual").set(c["manual"])
            metrics.SOURCES.labels(kind=kind).set(c["sources"])
        metrics.QUEUE_DEPTH.set(len(self.queue))
        metrics.READY.set(1 if self.readiness()[0] else 0)

    # --- lifecycle ------------------------------------------------------------------------------------

    def set_leading(self, leading: bool) -> None:
        super().set_leading(leading)
        metrics.IS_LEADER.set(1 if leading else 0)

    def shutdown(self, timeout: float = 10.0) -> None:
        self.stop_workers(timeout)
        self.pool.shutdown()

    def _housekeeping(self) -> None:
        last_resync = last_gauges = time.monotonic()
        while not self.stop_event.wait(0.25):
            if self.opts.resync_seconds > 0 and time.monotonic() - last_resync >= self.opts.resync_seconds:
                last_resync = last_gauges = time.monotonic()
                self.enqueue_all()
            if time.monotonic() - last_gauges >= 5.0:
                last_gauges = time.monotonic()
                self.refresh_gauges()

    def _summary(self) -> dict[str, Any]:
        with self.lock:
            out: dict[str, Any] = {"namespaces": len(self.namespaces.items)}
            for kind, store in self.stores.items():
                out[kind.lower() + "s"] = store.counts()
        return out

    def _worker(self) -> None:
        while not self.stop_event.is_set():
            item = self._next(timeout=1.0)
            if item is None:
                continue
            key, observed = item
            try:
                # Returns once the writes are handed to the write threads: the worker plans the next
                # source while they run, and the last write finishes this key (``_finish``).
                self.reconcile(key, observed, lambda ok, key=key: self._finish(key, ok))
            except Exception:
                self._crashed(key)
                self._finish(key, False)

    @staticmethod
    def _crashed(key: Key, error: BaseException | None = None) -> None:
        log.error(
            "reconcile crashed",
            exc_info=error or True,
            extra={"kind": key[0], "namespace": key[1], "object": key[2]},
        )
        metrics.RECONCILE_ERRORS.labels(kind=key[0], reason="internal").inc()

    def _finish(self, key: Key, ok: bool) -> None:
        """A reconcile is over (its last write returned): the key may be handed out again."""
        self.queue.done(key)
        if ok:
            self.queue.forget(key)
            metrics.RECONCILES.labels(kind=key[0], result="ok").inc()
        else:
            metrics.RECONCILES.labels(kind=key[0], result="retry").inc()
            self.queue.add_rate_limited(key)

    # --- reconcile ------------------------------------------------------------------------------------

    def compute(self, key: Key) -> tuple[Plan, SourceView | None]:
        """Plan one source from a snapshot of the cache (taken under the lock, planned outside it, so
        planning a 1000-namespace source never holds up the informers or the write-throughs)."""
        kind, ns, name = key
        with self.lock:
            store = self.stores[kind]
            source = store.source_view((ns, name))
            active, terminating = self.namespaces.active(), self.namespaces.terminating()
            same_name, mirrors = store.same_name(name), store.mirrors_of((ns, name))
        p = plan(
            (ns, name),
            source,
            active,
            same_name,
            mirrors,
            terminating=terminating,
            excluded_source=self.excluded(ns),
        )
        return p, source

    def reconcile(
        self, key: Key, observed: float | None = None, finish: Callable[[bool], None] | None = None
    ) -> bool | None:
        """Plan and execute one source; ``False`` asks for a retry with backoff.

        With ``finish``, returns ``None`` as soon as the writes are handed to the write threads and
        calls ``finish(ok)`` after the last one (right away when there is nothing to write).
        Without it, waits for the writes and returns ``ok``.
        """
        if finish is None:
            finished = threading.Event()
            outcome: list[bool] = []
            self.reconcile(key, observed, lambda ok: (outcome.append(ok), finished.set()))
            finished.wait()
            return outcome[0]
        kind, ns, name = key
        p, source = self.compute(key)
        fields = {"kind": kind, "namespace": ns, "object": name}
        if p.error is not None:
            metrics.RECONCILE_ERRORS.labels(kind=kind, reason="invalid_annotation").inc()
            if self.once(("invalid", key, str(p.error))):
                log.error(f"invalid annotation on source; source skipped: {p.error}", extra=fields)
            if source is not None:
                self.recorder.warn(kind, ns, name, source.uid, "InvalidAnnotation", str(p.error))
            finish(True)  # retrying will not fix it; the next edit of the source triggers a new reconcile
            return None
        for hint in p.hints:
            if self.once(("hint", key, hint)):
                log.warning(hint, extra=fields)
        if p.conflicts and source is not None:
            metrics.CONFLICTS.labels(kind=kind).inc(len(p.conflicts))
            shown = ", ".join(p.conflicts[:20]) + (" ..." if len(p.conflicts) > 20 else "")
            msg = (
                f"{kind} {name} already exists in namespace(s) {shown} and is not a reflection of "
                f"{ns}/{name}; left untouched (delete it or annotate it reflects: {ns}/{name} to adopt)"
            )
            if self.once(("conflict", key, p.conflicts)):
                log.warning(msg, extra=fields)
            self.recorder.warn(kind, ns, name, source.uid, "ReflectionConflict", msg)
        if not p.writes or (source is None and any(w.action != "delete" for w in p.writes)):
            finish(True)  # nothing to write (the second case is unreachable by construction)
            return None

        def written(results: list[bool | None], errors: list[BaseException | None]) -> None:
            error = next((e for e in errors if e is not None), None)
            if error is not None:  # a bug, or the pool shutting down: retry with backoff
                if not isinstance(error, CancelledError):
                    self._crashed(key, error)
                finish(False)
                return
            finish(self._written(fields, p.writes, results))

        self.pool.submit(lambda w: self._execute(kind, source, w, observed), p.writes, written)
        return None

    @staticmethod
    def _written(fields: dict[str, Any], writes: tuple[Write, ...], results: list[bool | None]) -> bool:
        """Log what one reconcile wrote; True when every write succeeded."""
        done = [w for w, ok in zip(writes, results, strict=True) if ok]
        if done:
            summary: dict[str, Any] = {}
            for w in done:
                label = f"{w.action}:{w.reason}" + ("" if w.auto else ":manual")
                summary[label] = summary.get(label, 0) + 1
            targets = sorted(w.namespace for w in done)
            log.info(
                "reconciled",
                extra={
                    **fields,
                    "writes": summary,
                    "namespaces": targets[:20] + (["..."] if len(targets) > 20 else []),
                    "failed": len(writes) - len(done),
                },
            )
        return len(done) == len(writes)

    def may_write(self) -> bool:
        """Only a leader whose Lease is still fresh writes: a leader that was frozen (SIGSTOP, a long
        GC pause, a partition) may have been replaced without noticing yet."""
        return self.leading.is_set() and self.lease_valid()

    def _execute(self, kind: str, source: SourceView | None, w: Write, observed: float | None) -> bool:
        rtype = KINDS[kind]
        store = self.stores[kind]
        if not self.may_write():
            log.debug("skipped write: not holding a fresh lease", extra=self._write_fields(kind, w))
            return False
        try:
            if w.action in ("delete", "recreate"):
                try:
                    self.kube.request(
                        "DELETE",
                        rtype.item(w.namespace, w.name),
                        body=delete_options(w),
                        verb="delete",
                        resource=rtype.plural,
                        gated=True,
                    )
                except KubeError as exc:
                    if exc.status != 404:
                        raise
                with self.lock:
                    store.forget(w.namespace, w.name, w.resource_version)
                self.once.reset(("forbidden", "delete", rtype.plural, w.namespace))
                if w.action == "delete":
                    metrics.WRITES.labels(kind=kind, action="delete").inc()
                    log.debug("deleted copy", extra=self._write_fields(kind, w))
                    return True
            assert source is not None
            if w.action in ("create", "recreate"):
                wait = self.namespaces.settle_wait(w.namespace, self.opts.namespace_settle_seconds)
                if wait > 0:
                    time.sleep(wait)  # ≤ 10 ms now, instead of a likely 50 ms inside the API server
                obj = self.kube.request(
                    "POST",
                    rtype.collection(w.namespace),
                    body=copy_body(kind, source, w.namespace, now=now_iso()),
                    verb="create",
                    resource=rtype.plural,
                    gated=True,
                )
            else:
                obj = self.kube.request(
                    "PATCH",
                    rtype.item(w.namespace, w.name),
                    body=update_patch(kind, source, w, now=now_iso()),
                    content_type=JSON_PATCH,
                    verb="patch",
                    resource=rtype.plural,
                    gated=True,
                )
            with self.lock:
                store.apply("MODIFIED", obj, written=(source.payload, source.digest))
            verb = "create" if w.action in ("create", "recreate") else "patch"
            self.once.reset(("forbidden", verb, rtype.plural, w.namespace))  # a later denial is loud again
            metrics.WRITES.labels(kind=kind, action=w.action).inc()
            if observed is not None:
                metrics.PROPAGATION.labels(kind=kind, action=w.action).observe(time.monotonic() - observed)
            log.debug(f"{w.action} done", extra=self._write_fields(kind, w))
            return True
        except Fenced:
            log.debug(
                "skipped write: the Lease went stale before it was sent", extra=self._write_fields(kind, w)
            )
            return False
        except KubeError as exc:
            return self._write_failed(kind, w, exc)

    @staticmethod
    def _write_fields(kind: str, w: Write) -> dict[str, Any]:
        return {
            "kind": kind,
            "namespace": w.namespace,
            "object": w.name,
            "action": w.action,
            "mode": "auto" if w.auto else "manual",
            "reason": w.reason,
        }

    def _write_failed(self, kind: str, w: Write, exc: KubeError) -> bool:
        metrics.RECONCILE_ERRORS.labels(kind=kind, reason=exc.category).inc()
        resource = KINDS[kind].plural
        fields = {
            "kind": kind,
            "namespace": w.namespace,
            "object": w.name,
            "action": w.action,
            "status": exc.status,
            "error": exc.category,
        }
        if exc.status == 403 and "being terminated" in exc.message:
            return True  # the namespace is going away; its deletion will remove the copy anyway
        if exc.status == 403:
            if self.once(("forbidden", exc.verb, resource, w.namespace)):
                log.error(rbac_hint(exc.verb, resource, w.namespace), extra=fields)
        elif exc.status in (404, 409):
            log.debug("stale cache; will retry", extra=fields)  # the watch delivers the truth shortly
        elif self.once(("write", exc.category, w.namespace, w.name)):
            log.warning(f"write failed: {exc.reason} {exc.message[:200]}", extra=fields)
        return False
