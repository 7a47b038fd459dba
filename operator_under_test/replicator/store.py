"""The informer cache: a compact index of Secrets or ConfigMaps, and of Namespaces.

Memory is the point of this module (Reflector #108/#447: GBs on big clusters). An object without
any Reflector annotation is stored as ``None`` under its name and namespace: we only need to know it
exists (it blocks an auto copy there). Annotated objects keep their Reflector annotations and a
content digest; only *sources* keep their payload, because copies are written from it. A list is
compacted page by page (:meth:`KindStore.entry`), so a re-list of 50,000 Secrets never holds the raw
objects (with their ``managedFields`` and data) all at once; namespace names are interned, so 50,000
objects in 100 namespaces share 100 strings.

The cache is fed by two writers: the watch, and the write-through of our own requests' responses.
A response can be applied *after* the watch already delivered a later deletion of that object (a
user deleting a copy the moment our create or patch landed): a deletion the watch saw is therefore
remembered for a while (a tombstone with its resourceVersion), and an older version arriving
afterwards is dropped instead of bringing back a copy that no longer exists (planning would see it
current and never recreate it until the next resync).
"""

from __future__ import annotations

import sys
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from . import annotations as a
from .planning import HELM_TYPE_PREFIX, ObjectView, SourceView, payload_digest

SourceKey = tuple[str, str]
#: A payload we wrote and its digest (see :meth:`KindStore.to_record`).
Known = tuple[Mapping[str, Any], str]
#: One listed object, compacted: (namespace, name, record or ``None`` for an unannotated object).
Entry = tuple[str, str, "Record | None"]
#: How long a deletion keeps vetoing older versions of the object (a late write-through response).
TOMBSTONE_SECONDS = 120.0


@dataclass(slots=True)
class Record:
    """An annotated object as cached; ``payload`` is set only for sources."""

    rv: str
    uid: str
    annotations: dict[str, str]
    digest: str
    type: str | None
    payload: dict[str, dict[str, str]] | None

    @property
    def reflects(self) -> SourceKey | None:
        return a.parse_reflects(self.annotations.get(a.REFLECTS))


def _newer_or_equal(new_rv: str, old_rv: str) -> bool:
    """Drop stale events after a write-through; RVs are opaque, so only compare when both are integers."""
    if new_rv.isdigit() and old_rv.isdigit():
        return int(new_rv) >= int(old_rv)
    return True


def _not_after(rv: str, deleted_rv: str) -> bool:
    """Whether version ``rv`` is no newer than a deletion at ``deleted_rv`` (integers only)."""
    return rv.isdigit() and deleted_rv.isdigit() and int(rv) <= int(deleted_rv)


class KindStore:
    """All objects of one kind, indexed by name, by source, and by the source they reflect."""

    def __init__(
        self,
        kind: str,
        excluded: Callable[[str], bool] = lambda ns: False,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.kind = kind
        self.excluded = excluded
        self.clock = clock
        self.objects: dict[str, dict[str, Record | None]] = {}
        self.sources: dict[str, set[str]] = {}
        self.mirrors: dict[SourceKey, set[SourceKey]] = {}
        #: (namespace, name) -> (resourceVersion at deletion, when), oldest first.
        self.tombstones: OrderedDict[SourceKey, tuple[str, float]] = OrderedDict()

    # --- ingest ---------------------------------------------------------------------------------------

    def entry(self, obj: Mapping[str, Any]) -> Entry:
        """What the cache keeps of one listed object (the raw object can be dropped right after)."""
        meta = obj.get("metadata") or {}
        return sys.intern(meta.get("namespace", "")), meta.get("name", ""), self.to_record(obj)

    def to_record(self, obj: Mapping[str, Any], written: Known | None = None) -> Record | None:
        """``written``: the payload we just wrote and its digest; when the object holds exactly that
        payload (a dict comparison), the digest is not computed again."""
        meta = obj.get("metadata") or {}
        ann = a.prefixed(meta.get("annotations"))
        if not ann:
            return None
        payload = {"data": dict(obj.get("data") or {}), "binaryData": dict(obj.get("binaryData") or {})}
        same = written is not None and payload == written[0]
        digest = written[1] if written is not None and same else payload_digest(payload)
        otype = (obj.get("type") or "Opaque") if self.kind == "Secret" else None
        source = (
            a.is_source(ann)
            and not (otype or "").startswith(HELM_TYPE_PREFIX)
            and not self.excluded(meta.get("namespace", ""))
        )
        return Record(
            rv=meta.get("resourceVersion", ""),
            uid=meta.get("uid", ""),
            annotations=ann,
            digest=digest,
            type=otype,
            payload=payload if source else None,
        )

    def _related(self, ns: str, name: str, rec: Record | None) -> set[SourceKey]:
        keys: set[SourceKey] = set()
        if rec is not None:
            if rec.payload is not None:
                keys.add((ns, name))
            if (target := rec.reflects) is not None:
                keys.add(target)
        return keys

    def _unindex(self, ns: str, name: str, rec: Record | None) -> None:
        if rec is None:
            return
        if rec.payload is not None and (s := self.sources.get(name)) is not None:
            s.discard(ns)
            if not s:
                del self.sources[name]
        if (target := rec.reflects) is not None and (m := self.mirrors.get(target)) is not None:
            m.discard((ns, name))
            if not m:
                del self.mirrors[target]

    def _index(self, ns: str, name: str, rec: Record | None) -> None:
        if rec is None:
            return
        if rec.payload is not None:
            self.sources.setdefault(name, set()).add(ns)
        if (target := rec.reflects) is not None:
            self.mirrors.setdefault(target, set()).add((ns, name))

    def apply(self, event_type: str, obj: Mapping[str, Any], written: Known | None = None) -> set[SourceKey]:
        """Apply one watch event (or a write-through, with ``written``: see :meth:`to_record`);
        returns the source keys to reconcile."""
        meta = obj.get("metadata") or {}
        ns, name = sys.intern(meta.get("namespace", "")), meta.get("name", "")
        rv = meta.get("resourceVersion", "")
        if event_type == "DELETED":
            if self.exists(ns, name):
                self._bury(ns, name, rv)
            return self._put(ns, name, None, deleted=True)
        old = (self.objects.get(name) or {}).get(ns)
        if old is not None and old.rv and old.rv == rv:
            return set()  # exactly the version cached (the watch echoing our own write): nothing changed
        if (tomb := self.tombstones.get((ns, name))) is not None and not self.exists(ns, name):
            if _not_after(rv, tomb[0]):
                return set()  # a late write-through of an object already deleted: keep it gone
            del self.tombstones[(ns, name)]
        return self._put(ns, name, self.to_record(obj, written))

    def _bury(self, ns: str, name: str, rv: str) -> None:
        """Remember a deletion at ``rv`` for ``TOMBSTONE_SECONDS``; expired tombstones go first."""
        now = self.clock()
        while self.tombstones:
            oldest = next(iter(self.tombstones.values()))
            if now - oldest[1] < TOMBSTONE_SECONDS:
                break
            self.tombstones.popitem(last=False)
        if rv.isdigit():
            self.tombstones.pop((ns, name), None)
            self.tombstones[(ns, name)] = (rv, now)

    def _put(self, ns: str, name: str, new: Record | None, *, deleted: bool = False) -> set[SourceKey]:
        by_ns = self.objects.get(name)
        present = by_ns is not None and ns in by_ns
        old = by_ns.get(ns) if by_ns is not None else None
        if deleted:
            if not present:
                return set()
            assert by_ns is not None
            del by_ns[ns]
            if not by_ns:
                del self.objects[name]
        else:
            if old is not None and new is not None and not _newer_or_equal(new.rv, old.rv):
                return set()
            self.objects.setdefault(name, {})[ns] = new
        self._unindex(ns, name, old)
        self._index(ns, name, new)
        keys = self._related(ns, name, old) | self._related(ns, name, new)
        # An object appearing/disappearing under a source's name can unblock or block a copy there.
        keys.update((sns, name) for sns in self.sources.get(name, ()))
        return keys

    def forget(self, ns: str, name: str, rv: str) -> None:
        """Write-through of our own delete (only if the cache still holds the version we deleted)."""
        rec = (self.objects.get(name) or {}).get(ns)
        if rec is not None and rec.rv == rv:
            self.apply("DELETED", {"metadata": {"namespace": ns, "name": name, "resourceVersion": rv}})

    def replace(self, entries: Iterable[Entry]) -> set[SourceKey]:
        """Swap in a fresh list (compacted by :meth:`entry`) atomically; returns every key old or new
        state touches."""
        keys = self.all_keys()
        self.objects, self.sources, self.mirrors = {}, {}, {}
        for ns, name, rec in entries:
            self._put(ns, name, rec)
        return keys | self.all_keys()

    # --- views for planning ---------------------------------------------------------------------------

    def all_keys(self) -> set[SourceKey]:
        keys = {(ns, name) for name, nss in self.sources.items() for ns in nss}
        keys.update(self.mirrors)
        return keys

    def source_view(self, key: SourceKey) -> SourceView | None:
        ns, name = key
        rec = (self.objects.get(name) or {}).get(ns)
        if rec is None or rec.payload is None:
            return None
        return SourceView(ns, name, rec.rv, rec.uid, rec.annotations, rec.type, rec.payload)

    def exists(self, ns: str, name: str) -> bool:
        return ns in (self.objects.get(name) or {})

    def same_name(self, name: str) -> dict[str, ObjectView]:
        out: dict[str, ObjectView] = {}
        for ns, rec in (self.objects.get(name) or {}).items():
            if rec is None:
                out[ns] = ObjectView(ns, name)
            else:
                out[ns] = ObjectView(ns, name, rec.rv, rec.uid, rec.annotations, rec.digest, rec.type)
        return out

    def mirrors_of(self, key: SourceKey) -> list[ObjectView]:
        out = []
        for ns, name in self.mirrors.get(key, ()):
            rec = (self.objects.get(name) or {}).get(ns)
            if rec is not None:
                out.append(ObjectView(ns, name, rec.rv, rec.uid, rec.annotations, rec.digest, rec.type))
        return out

    def counts(self) -> dict[str, int]:
        """Objects, sources, auto copies and manual mirrors (for gauges)."""
        auto = manual = 0
        for members in self.mirrors.values():
            for ns, name in members:
                rec = (self.objects.get(name) or {}).get(ns)
                if rec is not None and a.parse_bool(rec.annotations.get(a.AUTO_REFLECTS)):
                    auto += 1
                else:
                    manual += 1
        return {
            "objects": sum(len(v) for v in self.objects.values()),
            "sources": sum(len(v) for v in self.sources.values()),
            "auto": auto,
            "manual": manual,
        }


#: How long a namespace's opening time is kept (far longer than any settle wait).
OPENED_KEEP_SECONDS = 5.0


class NamespaceStore:
    """Namespace name → terminating flag; the only namespace facts planning needs. Also when the
    watch saw each namespace open, for a few seconds (:meth:`settle_wait`)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.items: dict[str, bool] = {}
        self.clock = clock
        self._opened_at: dict[str, float] = {}  # insertion order = time order

    @staticmethod
    def _terminating(obj: Mapping[str, Any]) -> bool:
        meta = obj.get("metadata") or {}
        status = obj.get("status") or {}
        return bool(meta.get("deletionTimestamp")) or status.get("phase") == "Terminating"

    def apply(self, event_type: str, obj: Mapping[str, Any], observed: float | None = None) -> bool:
        """Returns True when a namespace became available for copies (so sources must be re-planned);
        ``observed``: when a watch event arrived (a listed namespace is not new to the API server)."""
        name = (obj.get("metadata") or {}).get("name", "")
        if event_type == "DELETED":
            self.items.pop(name, None)
            self._opened_at.pop(name, None)
            return False
        was = self.items.get(name)
        now = self._terminating(obj)
        self.items[name] = now
        opened = not now and (was is None or was)
        if opened and observed is not None:
            self._remember_opening(name, observed)
        return opened

    def _remember_opening(self, name: str, at: float) -> None:
        opened = self._opened_at
        opened.pop(name, None)
        opened[name] = at
        while opened:
            oldest = next(iter(opened))
            if at - opened[oldest] < OPENED_KEEP_SECONDS:
                break
            del opened[oldest]

    def settle_wait(self, name: str, settle: float) -> float:
        """How long a create into ``name`` should wait: the rest of ``settle`` since its watch event.

        Why: the API server's NamespaceLifecycle admission sleeps 50 ms (``missingNamespaceWait``)
        before a create into a namespace its own namespace cache has not seen yet, and under load
        that cache trails the watch the operator reads by a few milliseconds. Measured during a
        1000-copy fan-out, 4 of 15 first copies sent 2-3 ms after the namespace appeared took
        52-53 ms in the API server instead of 2-5; waiting until 10 ms after the event, 0 of 40.
        """
        at = self._opened_at.get(name)
        return 0.0 if at is None else max(0.0, settle - (self.clock() - at))

    def replace(self, items: Iterable[Mapping[str, Any]]) -> bool:
        self.items = {}
        for obj in items:
            self.apply("ADDED", obj)
        return True

    def active(self) -> set[str]:
        return {n for n, dying in self.items.items() if not dying}

    def terminating(self) -> set[str]:
        return {n for n, dying in self.items.items() if dying}
