"""Pure planning: one ConfigMirror + a cache snapshot → the writes, the rows and the status.

Nothing here talks to the API or the database, so the rules are unit-tested on plain dicts:

* desired replicas = every ConfigMap of ``sourceNamespace`` matching the selector x every target
  namespace that exists and is not terminating (never the source namespace itself);
* a replica is *ours* only when it carries our owner label (the CR's uid); anything else at a
  desired position is a conflict: reported, never written, never deleted;
* our replicas that are no longer desired (source deleted or no longer matching, target removed
  from the list) are deleted;
* the database rows are exactly the replicas that are in place after the writes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .selectors import Selector, SelectorError, parse_selector

GROUP = "mirror.configmirror.io"
VERSION = "v1alpha1"
FINALIZER = f"{GROUP}/finalizer"
OWNER_LABEL = f"{GROUP}/owner-uid"
MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"
MANAGED_BY = "configmirror-operator"
MIRROR_ANNOTATION = f"{GROUP}/mirror"
#: Published into every namespace by kube-controller-manager: never a source (a replica would race
#: with the publisher in a new namespace, and is a conflict everywhere else).
SYSTEM_CONFIGMAPS = frozenset({"kube-root-ca.crt"})
SOURCE_ANNOTATION = f"{GROUP}/source"

Obj = dict[str, Any]
Position = tuple[str, str]  # (namespace, name)


class ConditionError(Exception):
    """A step failed for a reason a status condition names (``reason``); the message says why."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


class SpecError(ConditionError, ValueError):
    """The CR's spec cannot be acted on; ``reason`` is the Ready condition's reason."""


@dataclass(frozen=True)
class Mirror:
    """The fields of a ConfigMirror the operator acts on."""

    namespace: str
    name: str
    uid: str
    generation: int
    resource_version: str
    source_namespace: str
    targets: tuple[str, ...]
    selector: Selector
    db_enabled: bool
    secret_namespace: str
    secret_name: str
    deleting: bool
    finalizers: tuple[str, ...]

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"


def parse_mirror(obj: Mapping[str, Any]) -> Mirror:
    """A ConfigMirror object → :class:`Mirror`; raises :class:`SpecError` with a reason."""
    meta = obj.get("metadata") or {}
    spec = obj.get("spec") or {}
    source = spec.get("sourceNamespace")
    if not source or not isinstance(source, str):
        raise SpecError("InvalidSpec", "spec.sourceNamespace is required")
    targets = spec.get("targetNamespaces") or []
    if not isinstance(targets, list) or not all(isinstance(t, str) and t for t in targets):
        raise SpecError("InvalidSpec", "spec.targetNamespaces must be a list of namespace names")
    try:
        selector = parse_selector(spec.get("selector"))
    except SelectorError as exc:
        raise SpecError("InvalidSelector", str(exc)) from None
    db = spec.get("database") or {}
    ref = db.get("secretRef") or {}
    enabled = bool(db.get("enabled", False))
    if enabled and not ref.get("name"):
        raise SpecError(
            "InvalidSpec", "spec.database.enabled is true but spec.database.secretRef.name is empty"
        )
    return Mirror(
        namespace=meta.get("namespace", ""),
        name=meta.get("name", ""),
        uid=meta.get("uid", ""),
        generation=int(meta.get("generation") or 0),
        resource_version=meta.get("resourceVersion", ""),
        source_namespace=source,
        targets=tuple(dict.fromkeys(targets)),
        selector=selector,
        db_enabled=enabled,
        secret_namespace=ref.get("namespace") or meta.get("namespace", ""),
        secret_name=ref.get("name") or "",
        deleting=bool(meta.get("deletionTimestamp")),
        finalizers=tuple(meta.get("finalizers") or ()),
    )


def owner_of(cm: Mapping[str, Any]) -> str | None:
    """The owner uid label of a ConfigMap (None when it is not a replica of any ConfigMirror)."""
    return ((cm.get("metadata") or {}).get("labels") or {}).get(OWNER_LABEL)


def replica_body(mirror: Mirror, source: Mapping[str, Any], namespace: str) -> Obj:
    """The full replica of ``source`` in ``namespace``: data, binaryData and ownership metadata."""
    name = source["metadata"]["name"]
    body: Obj = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": {MANAGED_BY_LABEL: MANAGED_BY, OWNER_LABEL: mirror.uid},
            "annotations": {
                MIRROR_ANNOTATION: mirror.key,
                SOURCE_ANNOTATION: f"{mirror.source_namespace}/{name}",
            },
        },
    }
    if source.get("data"):
        body["data"] = dict(source["data"])
    if source.get("binaryData"):
        body["binaryData"] = dict(source["binaryData"])
    return body


def content(cm: Mapping[str, Any]) -> tuple[Any, ...]:
    """What must be equal between a replica and its desired body."""
    meta = cm.get("metadata") or {}
    return (
        cm.get("data") or {},
        cm.get("binaryData") or {},
        meta.get("labels") or {},
        meta.get("annotations") or {},
    )


@dataclass(frozen=True)
class Row:
    """One ``configmaps`` row: a replica as persisted."""

    name: str
    namespace: str
    data: Mapping[str, str]
    labels: Mapping[str, str]
    annotations: Mapping[str, str]


def row_of(body: Mapping[str, Any]) -> Row:
    meta = body["metadata"]
    return Row(
        meta["name"],
        meta["namespace"],
        dict(body.get("data") or {}),
        dict(meta.get("labels") or {}),
        dict(meta.get("annotations") or {}),
    )


@dataclass
class Plan:
    creates: list[Obj] = field(default_factory=list)
    updates: list[tuple[Obj, Obj]] = field(default_factory=list)  # (existing, desired)
    deletes: list[Obj] = field(default_factory=list)
    unchanged: list[Obj] = field(default_factory=list)  # desired bodies already in place
    conflicts: list[Position] = field(default_factory=list)
    missing_targets: list[str] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)
    source_namespace_missing: bool = False

    @property
    def desired(self) -> list[Obj]:
        """Bodies that should exist after the writes (creates + updates + unchanged)."""
        return [*self.creates, *(d for _, d in self.updates), *self.unchanged]


def plan(
    mirror: Mirror,
    configmaps: Mapping[Position, Obj],
    active_namespaces: Iterable[str],
    owned: Iterable[Obj],
) -> Plan:
    """Plan one ConfigMirror from the cache.

    ``configmaps``: every cached ConfigMap by (namespace, name) (only the source namespace and the
    targets are read); ``active_namespaces``: namespaces that exist and are not terminating;
    ``owned``: every cached ConfigMap carrying this mirror's owner label, wherever it is.
    """
    active = set(active_namespaces)
    out = Plan()
    desired: dict[Position, Obj] = {}
    if mirror.source_namespace not in active:
        out.source_namespace_missing = True
    sources = [
        cm
        for (ns, _), cm in sorted(configmaps.items())
        if ns == mirror.source_namespace
        and owner_of(cm) is None  # a replica is never a source (no chains, no loops)
        and cm["metadata"]["name"] not in SYSTEM_CONFIGMAPS
        and mirror.selector.matches((cm.get("metadata") or {}).get("labels"))
    ]
    out.sources = [cm["metadata"]["name"] for cm in sources]
    if not mirror.deleting:
        for target in mirror.targets:
            if target == mirror.source_namespace:
                continue
            if target not in active:
                out.missing_targets.append(target)
                continue
            for src in sources:
                desired[(target, src["metadata"]["name"])] = replica_body(mirror, src, target)
    for pos, body in desired.items():
        existing = configmaps.get(pos)
        if existing is None:
            out.creates.append(body)
        elif owner_of(existing) != mirror.uid:
            out.conflicts.append(pos)
        elif content(existing) != content(body):
            out.updates.append((existing, body))
        else:
            out.unchanged.append(body)
    for cm in owned:
        meta = cm["metadata"]
        if owner_of(cm) == mirror.uid and (meta["namespace"], meta["name"]) not in desired:
            out.deletes.append(cm)
    out.deletes.sort(key=lambda c: (c["metadata"]["namespace"], c["metadata"]["name"]))
    return out


# --- status ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Condition:
    type: str
    status: str  # "True" | "False" | "Unknown"
    reason: str
    message: str


def ready_condition(p: Plan, mirror: Mirror, failed_writes: int) -> Condition:
    """Ready: every desired replica is in place; otherwise the first blocking reason."""
    if p.source_namespace_missing:
        return Condition(
            "Ready",
            "False",
            "SourceNamespaceMissing",
            f"source namespace {mirror.source_namespace} does not exist; "
            "create it or fix spec.sourceNamespace",
        )
    if failed_writes:
        return Condition(
            "Ready", "False", "ReplicationFailed", f"{failed_writes} replica write(s) failed; retrying"
        )
    if p.conflicts:
        where = ", ".join(f"{ns}/{name}" for ns, name in p.conflicts[:10])
        return Condition(
            "Ready",
            "False",
            "ReplicaConflict",
            f"ConfigMap(s) not owned by this ConfigMirror already exist at {where}; they are left "
            "untouched: delete or rename them to let the replicas be created",
        )
    if p.missing_targets:
        return Condition(
            "Ready",
            "False",
            "TargetNamespaceMissing",
            "target namespace(s) do not exist yet: "
            + ", ".join(p.missing_targets[:10])
            + "; replicas are created as soon as they do",
        )
    if not p.sources:
        return Condition(
            "Ready",
            "True",
            "NoMatchingConfigMaps",
            f"the selector matches no ConfigMap in {mirror.source_namespace}; nothing to replicate",
        )
    return Condition(
        "Ready",
        "True",
        "Replicated",
        f"{len(p.sources)} ConfigMap(s) replicated to {len(p.desired)} replica(s)",
    )


def status_body(
    mirror: Mirror,
    conditions: list[Condition],
    replicated: int,
    previous: Mapping[str, Any] | None,
    now: str,
) -> dict[str, Any]:
    """The new ``status``; a condition keeps its lastTransitionTime while its status is unchanged."""
    old = {c.get("type"): c for c in (previous or {}).get("conditions") or []}
    out = []
    for c in conditions:
        prev = old.get(c.type)
        ltt = prev.get("lastTransitionTime") if prev and prev.get("status") == c.status else None
        out.append(
            {
                "type": c.type,
                "status": c.status,
                "reason": c.reason,
                "message": c.message[:1000],
                "lastTransitionTime": ltt or now,
                "observedGeneration": mirror.generation,
            }
        )
    return {"conditions": out, "replicatedCount": replicated, "observedGeneration": mirror.generation}


def status_differs(new: Mapping[str, Any], old: Mapping[str, Any] | None) -> bool:
    """Compare ignoring lastTransitionTime (which only changes with the status anyway)."""

    def strip(s: Mapping[str, Any] | None) -> Any:
        s = s or {}
        conds = [{k: v for k, v in c.items() if k != "lastTransitionTime"} for c in s.get("conditions") or []]
        return (conds, s.get("replicatedCount"), s.get("observedGeneration"))

    return strip(new) != strip(old)
