"""List+watch of ConfigMirrors, ConfigMaps and Namespaces, and the per-ConfigMirror reconcile.

Informers, work queue and backoff are the bundled replicator's (one thread per resource: paginated
list, watch with bookmarks, re-list on 410, capped jittered backoff). Every event enqueues the
ConfigMirrors it concerns (its source namespace, one of its targets, or a replica it owns); a
worker plans one ConfigMirror purely from the cache (:mod:`.planning`), fans the writes out on a
thread pool (creates; full replacements with a resourceVersion precondition; deletes with uid and
resourceVersion preconditions), syncs the database rows (:mod:`.database`), then writes the status
only when it changed. Only the Lease holder writes.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from operator_under_test.replicator.controller import Informer, Loop
from operator_under_test.replicator.controller import Options as _InformerOptions
from operator_under_test.replicator.logs import Once
from operator_under_test.replicator.workqueue import Backoff, WorkQueue

from . import metrics
from .database import Credentials, DatabaseError, Databases, credentials_from_secret
from .events import Recorder
from .kube import CONFIGMAPS, CONFIGMIRRORS, MERGE_PATCH, NAMESPACES, SECRETS, Kube, KubeError
from .planning import (
    FINALIZER,
    Condition,
    Mirror,
    Obj,
    Plan,
    Position,
    SpecError,
    owner_of,
    parse_mirror,
    plan,
    ready_condition,
    row_of,
    status_body,
    status_differs,
)

log = logging.getLogger("configmirror.controller")
Key = tuple[str, str]  # ConfigMirror (namespace, name)


@dataclass
class Options:
    resync_seconds: float = 60.0
    watch_timeout_seconds: int = 300
    workers: int = 4
    write_concurrency: int = 16
    ready_down_threshold_seconds: float = 30.0
    identity: str = "configmirror"
    db_connect_timeout: int = 3
    retry_backoff: Backoff = field(default_factory=lambda: Backoff(base=0.25, cap=5.0))


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _compact(obj: Obj) -> Obj:
    """What the ConfigMap cache keeps: identity, labels, annotations and the payload."""
    meta = obj.get("metadata") or {}
    out: Obj = {
        "metadata": {
            k: meta[k]
            for k in ("name", "namespace", "uid", "resourceVersion", "labels", "annotations")
            if k in meta
        }
    }
    for k in ("data", "binaryData"):
        if obj.get(k):
            out[k] = obj[k]
    return out


def _pos(obj: Obj) -> Position:
    meta = obj["metadata"]
    return meta.get("namespace", ""), meta["name"]


class Controller(Loop):
    opts: Options

    def __init__(self, kube: Kube, opts: Options) -> None:
        super().__init__(opts)
        self.kube = kube
        self.mirrors: dict[Key, Obj] = {}
        self.configmaps: dict[Position, Obj] = {}
        self.by_owner: dict[str, set[Position]] = {}
        self.namespaces: dict[str, str] = {}  # name -> phase
        self.queue: WorkQueue[Key] = WorkQueue(opts.retry_backoff)
        self.pool = ThreadPoolExecutor(max_workers=opts.write_concurrency, thread_name_prefix="write")
        self.recorder = Recorder(kube, opts.identity)
        self.databases = Databases(opts.db_connect_timeout)
        self.once = Once(300.0)
        iopts = _InformerOptions(watch_timeout_seconds=opts.watch_timeout_seconds)
        self.informers = [
            Informer(kube, NAMESPACES, self._on_namespace, self._replace_namespaces, iopts, self.stop_event),
            Informer(kube, CONFIGMAPS, self._on_configmap, self._replace_configmaps, iopts, self.stop_event),
            Informer(kube, CONFIGMIRRORS, self._on_mirror, self._replace_mirrors, iopts, self.stop_event),
        ]

    # --- cache ------------------------------------------------------------------------------------

    def _index_add(self, cm: Obj) -> None:
        uid = owner_of(cm)
        if uid:
            self.by_owner.setdefault(uid, set()).add(_pos(cm))

    def _index_remove(self, cm: Obj) -> None:
        uid = owner_of(cm)
        if uid and uid in self.by_owner:
            self.by_owner[uid].discard(_pos(cm))
            if not self.by_owner[uid]:
                del self.by_owner[uid]

    def _store_cm(self, cm: Obj | None, pos: Position) -> None:
        """Write one ConfigMap into the cache (None = deleted), keeping the owner index."""
        with self.lock:
            old = self.configmaps.pop(pos, None)
            if old is not None:
                self._index_remove(old)
            if cm is not None:
                compact = _compact(cm)
                self.configmaps[pos] = compact
                self._index_add(compact)

    def _concerned(self, namespace: str, owner: str | None = None) -> set[Key]:
        """ConfigMirrors with ``namespace`` as source or target, or with uid ``owner``."""
        out: set[Key] = set()
        with self.lock:
            for key, obj in self.mirrors.items():
                spec = obj.get("spec") or {}
                meta = obj.get("metadata") or {}
                if (
                    spec.get("sourceNamespace") == namespace
                    or namespace in (spec.get("targetNamespaces") or ())
                    or (owner and meta.get("uid") == owner)
                ):
                    out.add(key)
        return out

    def _enqueue(self, keys: set[Key] | list[Key], observed: float | None = None) -> None:
        for key in keys:
            self.queue.add(key, observed_at=observed)

    def _on_configmap(self, etype: str, obj: Obj, observed: float) -> None:
        pos = _pos(obj)
        with self.lock:
            old = self.configmaps.get(pos)
        self._store_cm(None if etype == "DELETED" else obj, pos)
        owners = {owner_of(obj), owner_of(old) if old else None} - {None}
        keys = self._concerned(pos[0])
        for uid in owners:
            keys |= self._concerned("", uid)
        self._enqueue(keys, observed)

    def _replace_configmaps(self, items: list[Obj]) -> None:
        with self.lock:
            self.configmaps.clear()
            self.by_owner.clear()
            for cm in items:
                compact = _compact(cm)
                self.configmaps[_pos(compact)] = compact
                self._index_add(compact)
        self.enqueue_all(time.monotonic())

    def _on_namespace(self, etype: str, obj: Obj, observed: float) -> None:
        name = obj["metadata"]["name"]
        with self.lock:
            if etype == "DELETED":
                self.namespaces.pop(name, None)
            else:
                self.namespaces[name] = (obj.get("status") or {}).get("phase", "Active")
        self._enqueue(self._concerned(name), observed)

    def _replace_namespaces(self, items: list[Obj]) -> None:
        with self.lock:
            self.namespaces = {
                o["metadata"]["name"]: (o.get("status") or {}).get("phase", "Active") for o in items
            }
        self.enqueue_all(time.monotonic())

    def _on_mirror(self, etype: str, obj: Obj, observed: float) -> None:
        key = _pos(obj)
        with self.lock:
            if etype == "DELETED":
                self.mirrors.pop(key, None)
            else:
                self.mirrors[key] = obj
        self.queue.add(key, observed_at=observed)

    def _replace_mirrors(self, items: list[Obj]) -> None:
        with self.lock:
            self.mirrors = {_pos(o): o for o in items}
        self.enqueue_all(time.monotonic())

    def enqueue_all(self, observed: float | None = None) -> None:
        with self.lock:
            keys = list(self.mirrors)
        self._enqueue(keys, observed)

    # --- lifecycle (start, probes, leadership: the replicator's Loop) -----------------------------

    def shutdown(self, timeout: float = 10.0) -> None:
        self.stop_workers(timeout)
        self.pool.shutdown(wait=True, cancel_futures=True)
        self.databases.close()

    def _housekeeping(self) -> None:
        last_resync = last_gauges = time.monotonic()
        while not self.stop_event.wait(0.25):
            now = time.monotonic()
            if self.opts.resync_seconds > 0 and now - last_resync >= self.opts.resync_seconds:
                last_resync = now
                self.enqueue_all()
            if now - last_gauges >= 5.0:
                last_gauges = now
                with self.lock:
                    metrics.REPLICAS.set(sum(len(v) for v in self.by_owner.values()))
                    metrics.MIRRORS.set(len(self.mirrors))
                metrics.QUEUE_DEPTH.set(len(self.queue))

    def _summary(self) -> dict[str, Any]:
        with self.lock:
            return {"mirrors": len(self.mirrors), "configmaps": len(self.configmaps)}

    def may_write(self) -> bool:
        return self.leading.is_set() and self.lease_valid()

    def _worker(self) -> None:
        while not self.stop_event.is_set():
            item = self._next(timeout=0.5)
            if item is None:
                continue
            key, observed = item
            try:
                ok = self.reconcile(key, observed)
            except Exception:  # a bug in one reconcile must not kill the worker
                log.exception("reconcile crashed", extra={"configmirror": "/".join(key)})
                ok = False
            finally:
                self.queue.done(key)
            metrics.RECONCILES.labels(result="ok" if ok else "retry").inc()
            if ok:
                self.queue.forget(key)
            elif not self.stop_event.is_set():
                self.queue.add_rate_limited(key)

    # --- reconcile --------------------------------------------------------------------------------

    def _event(self, m: Mirror | Obj, type_: str, reason: str, message: str) -> None:
        if isinstance(m, Mirror):
            ns, name, uid = m.namespace, m.name, m.uid
        else:
            meta = m.get("metadata") or {}
            ns, name, uid = meta.get("namespace", ""), meta.get("name", ""), meta.get("uid", "")
        self.recorder.record(ns, name, uid, type_, reason, message)

    def reconcile(self, key: Key, observed: float | None = None) -> bool:
        """One ConfigMirror; False means "retry with backoff"."""
        with self.lock:
            obj = self.mirrors.get(key)
        if obj is None or not self.may_write():
            return True
        try:
            m = parse_mirror(obj)
        except SpecError as exc:
            # The CRD schema rejects these; reaching here means the CRD was installed without it.
            cond = Condition("Ready", "False", exc.reason, str(exc))
            self._event(obj, "Warning", exc.reason, str(exc))
            meta = obj.get("metadata") or {}
            self._write_status(key, obj, status_body(_bare(meta), [cond], 0, obj.get("status"), _now()))
            return True
        if m.deleting:
            return self.finalize(key, m, obj)
        if FINALIZER not in m.finalizers:
            patch = {
                "metadata": {"finalizers": [*m.finalizers, FINALIZER], "resourceVersion": m.resource_version}
            }
            if not self._patch_mirror(key, patch):
                return False
        with self.lock:
            snapshot = {
                pos: cm
                for pos, cm in self.configmaps.items()
                if pos[0] == m.source_namespace or pos[0] in m.targets
            }
            owned = [self.configmaps[p] for p in self.by_owner.get(m.uid, ()) if p in self.configmaps]
            active = {ns for ns, phase in self.namespaces.items() if phase != "Terminating"}
        p = plan(m, snapshot, active, owned)
        failed = self._execute(p)
        if observed is not None and not failed and (p.creates or p.updates or p.deletes):
            metrics.PROPAGATION.observe(time.monotonic() - observed)
        placed = [b for b in p.desired if _pos(b) not in failed]
        ready = ready_condition(p, m, len(failed))
        conditions = [ready, self._sync_database(m, placed)]
        self._report(m, p, ready)
        with self.lock:
            current = self.mirrors.get(key) or obj
        new = status_body(m, conditions, len(placed), current.get("status"), _now())
        if status_differs(new, current.get("status")):
            self._write_status(key, current, new)
        return not failed and conditions[1].reason in ("Synced", "Disabled")

    def _report(self, m: Mirror, p: Plan, ready: Condition) -> None:
        if p.conflicts:
            metrics.CONFLICTS.inc(len(p.conflicts))
        if ready.reason in ("ReplicaConflict", "TargetNamespaceMissing", "SourceNamespaceMissing"):
            self._event(m, "Warning", ready.reason, ready.message)
            if self.once((m.uid, ready.reason, ready.message)):
                log.warning(ready.message, extra={"configmirror": m.key, "reason": ready.reason})
        elif ready.reason == "NoMatchingConfigMaps":
            self._event(m, "Normal", ready.reason, ready.message)

    # --- writes -----------------------------------------------------------------------------------

    def _execute(self, p: Plan) -> set[Position]:
        """Run the plan's writes concurrently; return the positions whose write failed."""
        jobs: list[tuple[Position, Callable[[], None]]] = []
        for body in p.creates:
            jobs.append((_pos(body), lambda b=body: self._create(b)))
        for existing, body in p.updates:
            jobs.append((_pos(body), lambda e=existing, b=body: self._update(e, b)))
        for cm in p.deletes:
            jobs.append((_pos(cm), lambda c=cm: self._delete(c)))
        if not jobs:
            return set()
        futures = [(pos, self.pool.submit(job)) for pos, job in jobs]
        failed: set[Position] = set()
        for pos, fut in futures:
            try:
                fut.result()
            except KubeError as exc:
                failed.add(pos)
                if self.once(("write", exc.category, pos[0])):
                    log.warning(
                        "replica write failed; retrying with backoff",
                        extra={
                            "namespace": pos[0],
                            "name": pos[1],
                            "status": exc.status,
                            "error": exc.category,
                        },
                    )
        return failed

    def _create(self, body: Obj) -> None:
        if not self.may_write():
            raise KubeError(0, "NotLeader", "lost leadership", "create", "configmaps")
        ns, name = _pos(body)
        out = self.kube.request(
            "POST", CONFIGMAPS.collection(ns), body=body, verb="create", resource="configmaps"
        )
        self._store_cm(out, (ns, name))
        metrics.WRITES.labels(action="create").inc()

    def _update(self, existing: Obj, body: Obj) -> None:
        if not self.may_write():
            raise KubeError(0, "NotLeader", "lost leadership", "update", "configmaps")
        ns, name = _pos(body)
        meta = existing["metadata"]
        full = {
            **body,
            "metadata": {**body["metadata"], "resourceVersion": meta["resourceVersion"], "uid": meta["uid"]},
        }
        out = self.kube.request(
            "PUT", CONFIGMAPS.item(ns, name), body=full, verb="update", resource="configmaps"
        )
        self._store_cm(out, (ns, name))
        metrics.WRITES.labels(action="update").inc()

    def _delete(self, cm: Obj, *, check_version: bool = True) -> None:
        if not self.may_write():
            raise KubeError(0, "NotLeader", "lost leadership", "delete", "configmaps")
        ns, name = _pos(cm)
        pre = {"uid": cm["metadata"]["uid"]}
        if check_version:
            pre["resourceVersion"] = cm["metadata"]["resourceVersion"]
        body = {"apiVersion": "v1", "kind": "DeleteOptions", "preconditions": pre}
        try:
            self.kube.request(
                "DELETE", CONFIGMAPS.item(ns, name), body=body, verb="delete", resource="configmaps"
            )
        except KubeError as exc:
            if exc.status != 404:
                raise
        self._store_cm(None, (ns, name))
        metrics.WRITES.labels(action="delete").inc()

    def _patch_mirror(self, key: Key, patch: Obj, *, subresource: str = "") -> bool:
        if not self.may_write():
            return False
        path = CONFIGMIRRORS.item(key[0], key[1]) + subresource
        try:
            out = self.kube.request(
                "PATCH", path, body=patch, content_type=MERGE_PATCH, verb="patch", resource="configmirrors"
            )
        except KubeError as exc:
            if exc.status not in (404, 409) and self.once(("patch", exc.category, key)):
                log.warning(
                    "cannot patch ConfigMirror", extra={"configmirror": "/".join(key), "status": exc.status}
                )
            return exc.status == 404
        with self.lock:
            cached = self.mirrors.get(key)
            if cached is not None and _newer(out, cached):
                self.mirrors[key] = out
        return True

    def _write_status(self, key: Key, obj: Obj, status: Obj) -> None:
        self._patch_mirror(key, {"status": status}, subresource="/status")

    # --- database ---------------------------------------------------------------------------------

    def _credentials(self, m: Mirror) -> Credentials:
        where = f"{m.secret_namespace}/{m.secret_name}"
        try:
            secret = self.kube.request(
                "GET", SECRETS.item(m.secret_namespace, m.secret_name), verb="get", resource="secrets"
            )
        except KubeError as exc:
            if exc.status == 404:
                raise DatabaseError(
                    "SecretNotFound",
                    f"Secret {where} named by spec.database.secretRef does not exist; create it with keys "
                    "host, port, dbname, username, password",
                ) from None
            if exc.status == 403:
                raise DatabaseError(
                    "SecretForbidden",
                    f"the operator may not read Secret {where} (RBAC: grant get on secrets)",
                ) from None
            raise DatabaseError("SecretUnavailable", f"cannot read Secret {where}: {exc.category}") from None
        return credentials_from_secret(secret, where)

    def _sync_database(self, m: Mirror, placed: list[Obj]) -> Condition:
        if not m.db_enabled:
            return Condition(
                "DatabaseSynced", "False", "Disabled", "spec.database.enabled is false; nothing is persisted"
            )
        try:
            creds = self._credentials(m)
            result = self.databases.sync(creds, m.namespace, m.name, [row_of(b) for b in placed])
        except DatabaseError as exc:
            metrics.DB_SYNCS.labels(result=exc.reason).inc()
            self._event(
                m, "Warning", exc.reason, str(exc) + "; replication continues, rows catch up when fixed"
            )
            if self.once(("db", m.uid, exc.reason)):
                log.warning(str(exc), extra={"configmirror": m.key, "reason": exc.reason})
            return Condition("DatabaseSynced", "False", exc.reason, str(exc))
        metrics.DB_SYNCS.labels(result="ok").inc()
        metrics.DB_ROWS.labels(action="upsert").inc(result.upserted)
        metrics.DB_ROWS.labels(action="delete").inc(result.deleted)
        return Condition("DatabaseSynced", "True", "Synced", f"{len(placed)} row(s) in {creds.where}")

    # --- finalizer --------------------------------------------------------------------------------

    def finalize(self, key: Key, m: Mirror, obj: Obj) -> bool:
        """Deletion: remove every replica, then the database rows, then the finalizer."""
        if FINALIZER not in m.finalizers:
            return True
        with self.lock:
            owned = [self.configmaps[p] for p in self.by_owner.get(m.uid, ()) if p in self.configmaps]
        failed = self._execute(Plan(deletes=owned))
        if failed:
            return False
        if m.db_enabled:
            try:
                deleted = self.databases.delete_owned(self._credentials(m), m.namespace, m.name)
            except DatabaseError as exc:
                message = f"{exc}; the finalizer stays until the rows can be deleted"
                self._event(m, "Warning", exc.reason, message)
                cond = Condition("DatabaseSynced", "False", exc.reason, message)
                ready = Condition(
                    "Ready", "False", "Finalizing", "replicas removed; waiting to delete the database rows"
                )
                new = status_body(m, [ready, cond], 0, obj.get("status"), _now())
                if status_differs(new, obj.get("status")):
                    self._write_status(key, obj, new)
                return False
            metrics.DB_ROWS.labels(action="delete").inc(deleted)
        remaining = [f for f in m.finalizers if f != FINALIZER]
        ok = self._patch_mirror(
            key, {"metadata": {"finalizers": remaining, "resourceVersion": m.resource_version}}
        )
        if ok:
            log.info("finalized", extra={"configmirror": m.key, "replicas_deleted": len(owned)})
        return ok


def _newer(a: Obj, b: Obj) -> bool:
    """Is a's resourceVersion at least b's? (etcd's are integers; anything else: trust the write)."""
    try:
        return int(a["metadata"]["resourceVersion"]) >= int(b["metadata"].get("resourceVersion") or 0)
    except (KeyError, ValueError):
        return True


def _bare(meta: dict[str, Any]) -> Mirror:
    """A Mirror carrying only identity, for the status of a CR whose spec cannot be parsed."""
    from .selectors import Selector

    return Mirror(
        meta.get("namespace", ""),
        meta.get("name", ""),
        meta.get("uid", ""),
        int(meta.get("generation") or 0),
        meta.get("resourceVersion", ""),
        "",
        (),
        Selector(),
        False,
        "",
        "",
        False,
        (),
    )
