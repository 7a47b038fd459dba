"""Pure reconcile planning: given one source and what the cache knows, decide every write.

No I/O here, so every rule of the contract (reflector-semantics.md §1.3, §6) is a plain-data unit
test. The controller feeds cache snapshots in and executes the returned :class:`Plan`.

Ownership rules (the heart of the safety story):

* an **auto copy** is a same-name object whose ``reflects`` is this source *and* whose
  ``auto-reflects`` is true: only these are ever deleted;
* a **manual mirror** is any object whose ``reflects`` is this source and that is not an auto copy:
  filled while the source permits its namespace, never deleted;
* anything else is **unrelated**: never written, never deleted (a conflict is reported instead);
* an object carrying source annotations is never written or deleted as a copy, and the source's own
  namespace is never a target (Reflector #672).
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, ParamSpec

from . import annotations as a

P = ParamSpec("P")

HELM_TYPE_PREFIX = "helm.sh"

Action = Literal["create", "update", "recreate", "delete"]


@dataclass(frozen=True)
class ObjectView:
    """What the cache keeps about a (possible) copy: reflector annotations and a content digest."""

    namespace: str
    name: str
    resource_version: str = ""
    uid: str = ""
    annotations: Mapping[str, str] = field(default_factory=dict)
    digest: str | None = None
    type: str | None = None

    @property
    def reflects(self) -> tuple[str, str] | None:
        return a.parse_reflects(self.annotations.get(a.REFLECTS))

    @property
    def is_auto(self) -> bool:
        return a.parse_bool(self.annotations.get(a.AUTO_REFLECTS))

    @property
    def reflected_version(self) -> str | None:
        return self.annotations.get(a.REFLECTED_VERSION)


@dataclass(frozen=True)
class SourceView:
    """A source object with its payload (``data``/``binaryData``), which copies receive verbatim."""

    namespace: str
    name: str
    resource_version: str
    uid: str = ""
    annotations: Mapping[str, str] = field(default_factory=dict)
    type: str | None = None
    payload: Mapping[str, Mapping[str, str]] = field(default_factory=dict)

    @functools.cached_property
    def digest(self) -> str:
        """Computed once per view: a plan compares it with every copy's digest."""
        return payload_digest(self.payload)


@dataclass(frozen=True)
class Write:
    """One API write. ``resource_version``/``uid`` are preconditions so a racing change makes it fail."""

    action: Action
    namespace: str
    name: str
    auto: bool
    reason: str
    resource_version: str = ""
    uid: str = ""


@dataclass(frozen=True)
class Plan:
    """Everything one reconcile of one source does."""

    writes: tuple[Write, ...] = ()
    conflicts: tuple[str, ...] = ()  # namespaces holding an unrelated same-name object
    frozen: tuple[tuple[str, str], ...] = ()  # manual mirrors the source does not (or no longer) permit
    error: a.AnnotationError | None = None
    hints: tuple[str, ...] = ()
    ignored: str | None = None

    def count(self, action: Action) -> int:
        return sum(1 for w in self.writes if w.action == action)


def payload_digest(payload: Mapping[str, Any]) -> str:
    """Content identity of ``data`` + ``binaryData`` (absent and empty are the same)."""
    canon = {"data": payload.get("data") or {}, "binaryData": payload.get("binaryData") or {}}
    return hashlib.sha256(json.dumps(canon, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def _refuse_on_annotation_error(fn: Callable[P, Plan]) -> Callable[P, Plan]:
    """An unusable annotation (bad or too expensive pattern) yields ``Plan(error=...)``: touch
    nothing for this source, never delete."""

    @functools.wraps(fn)
    def planned(*args: P.args, **kwargs: P.kwargs) -> Plan:
        try:
            return fn(*args, **kwargs)
        except a.AnnotationError as exc:
            return Plan(error=exc)

    return planned


@_refuse_on_annotation_error
def plan(
    source_key: tuple[str, str],
    source: SourceView | None,
    namespaces: Collection[str],
    same_name: Mapping[str, ObjectView],
    mirrors: Iterable[ObjectView] = (),
    *,
    terminating: Collection[str] = (),
    excluded_source: bool = False,
) -> Plan:
    """Compute the writes for the source at ``source_key``.

    ``source`` is ``None`` when the object is gone. ``namespaces`` are the active namespaces,
    ``terminating`` those being deleted (no writes there). ``same_name`` maps namespace → object with
    the source's name (any namespace; the source itself is skipped). ``mirrors`` are objects of any name
    whose ``reflects`` points at the source (the manual-mirror index).
    """
    sns, sname = source_key
    if source is not None and source.type and source.type.startswith(HELM_TYPE_PREFIX):
        return Plan(ignored="helm release secret")
    if excluded_source:
        return Plan(ignored="source namespace is excluded")

    spec: a.ReflectionSpec | None = None
    hints: tuple[str, ...] = ()
    if source is not None:
        try:
            spec = a.parse_spec(source.annotations)
        except a.AnnotationError as exc:
            # Poison annotation: touch nothing for this source (no creates, and above all no deletes).
            return Plan(error=exc)
        hints = tuple(spec.hints)

    active = set(namespaces)
    dying = set(terminating)
    writes: list[Write] = []
    conflicts: list[str] = []
    frozen: list[tuple[str, str]] = []
    manual: dict[tuple[str, str], ObjectView] = {}

    def auto_target(ns: str) -> bool:
        return spec is not None and ns != sns and ns in active and spec.auto_target(ns)

    for ns in sorted(same_name):
        obj = same_name[ns]
        if ns == sns:
            continue  # that is the source itself: never a copy, never deleted
        if obj.reflects != source_key or a.is_source(obj.annotations):
            if auto_target(ns):
                conflicts.append(ns)
            continue
        if not obj.is_auto:
            manual[(ns, obj.name)] = obj
            continue
        if ns in dying:
            continue
        if source is not None and auto_target(ns):
            if obj.type != source.type:
                writes.append(Write("recreate", ns, sname, True, "type", obj.resource_version, obj.uid))
            elif obj.digest != source.digest:
                reason = "drift" if obj.reflected_version == source.resource_version else "source-changed"
                writes.append(Write("update", ns, sname, True, reason, obj.resource_version, obj.uid))
            elif obj.reflected_version != source.resource_version:
                writes.append(Write("update", ns, sname, True, "version", obj.resource_version, obj.uid))
        else:
            reason = "source-gone" if source is None else "not-targeted"
            writes.append(Write("delete", ns, sname, True, reason, obj.resource_version, obj.uid))

    for obj in mirrors:
        if obj.reflects == source_key and (obj.namespace, obj.name) != source_key:
            if obj.name == sname and obj.is_auto:
                continue  # an auto copy, handled above
            if not a.is_source(obj.annotations):
                manual[(obj.namespace, obj.name)] = obj

    for key in sorted(manual):
        obj = manual[key]
        ns = obj.namespace
        if source is None or spec is None or not spec.permits(ns) or ns in dying or ns not in active:
            frozen.append(key)
            continue
        if obj.digest != source.digest:
            reason = "drift" if obj.reflected_version == source.resource_version else "source-changed"
            writes.append(Write("update", ns, obj.name, False, reason, obj.resource_version, obj.uid))
        elif obj.reflected_version != source.resource_version:
            writes.append(Write("update", ns, obj.name, False, "version", obj.resource_version, obj.uid))

    if source is not None and spec is not None and spec.allowed and spec.auto_enabled:
        for ns in sorted(active):
            if ns not in same_name and ns not in dying and auto_target(ns):
                writes.append(Write("create", ns, sname, True, "missing"))

    return Plan(tuple(writes), tuple(conflicts), tuple(frozen), None, hints)


# --- request bodies (pure) ---------------------------------------------------------------------------


def bookkeeping(source: SourceView, *, auto: bool, now: str) -> dict[str, str]:
    """The four annotations a copy carries (``auto-reflects`` is ``True``/``False`` like Reflector)."""
    return {
        a.REFLECTS: f"{source.namespace}/{source.name}",
        a.AUTO_REFLECTS: "True" if auto else "False",
        a.REFLECTED_VERSION: source.resource_version,
        a.REFLECTED_AT: now,
    }


def copy_body(kind: str, source: SourceView, namespace: str, *, now: str) -> dict[str, Any]:
    """A new auto copy: same name, payload and type; no labels; only bookkeeping annotations."""
    body: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": kind,
        "metadata": {
            "name": source.name,
            "namespace": namespace,
            "annotations": bookkeeping(source, auto=True, now=now),
        },
    }
    if kind == "Secret":
        body["type"] = source.type or "Opaque"
        body["data"] = dict(source.payload.get("data") or {})
    else:
        body["data"] = dict(source.payload.get("data") or {})
        body["binaryData"] = dict(source.payload.get("binaryData") or {})
    return body


def _pointer(key: str) -> str:
    return key.replace("~", "~0").replace("/", "~1")


def update_patch(kind: str, source: SourceView, write: Write, *, now: str) -> list[dict[str, Any]]:
    """JSON patch replacing the payload and bookkeeping; the ``resourceVersion`` op is a precondition.

    ``add`` replaces an existing member (and creates a missing one), so removed keys disappear and no
    ``test`` op is needed. Manual mirrors keep their own labels, annotations and type.
    """
    ops: list[dict[str, Any]] = [
        {"op": "add", "path": "/metadata/resourceVersion", "value": write.resource_version},
        {"op": "add", "path": "/data", "value": dict(source.payload.get("data") or {})},
    ]
    if kind == "ConfigMap":
        ops.append(
            {"op": "add", "path": "/binaryData", "value": dict(source.payload.get("binaryData") or {})}
        )
    ops.extend(
        {"op": "add", "path": "/metadata/annotations/" + _pointer(k), "value": v}
        for k, v in bookkeeping(source, auto=write.auto, now=now).items()
    )
    return ops


def delete_options(write: Write) -> dict[str, Any]:
    """Delete only the exact object we planned on (a user edit in between turns this into a 409)."""
    pre: dict[str, str] = {}
    if write.uid:
        pre["uid"] = write.uid
    if write.resource_version:
        pre["resourceVersion"] = write.resource_version
    return {"apiVersion": "v1", "kind": "DeleteOptions", "preconditions": pre}
