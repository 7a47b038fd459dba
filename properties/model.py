"""Pure model of the replication properties: example specs, annotation renderings and the oracle.

Nothing here talks to a cluster, so every rule is unit-tested (tests/unit/properties/).

Naming. A generated *logical* namespace name is never used as is: each example gets a fresh
run-id-prefixed ``prefix`` (``Cluster.namespace_name``) and slot ``i`` becomes
``{prefix}-{i}-{logical}``, clipped to 63 characters. Names are therefore unique, traceable to the
run, never reused (a namespace deleted a moment ago may still be terminating), and every regular
expression a test writes is anchored to the example's own prefix, so copies can never land in
other tests' namespaces on the shared cluster.

Oracle. A list entry is generated as a *reference* (slot ``i``, a group of slots, a near miss, the
source's namespace, the witness) and rendered to annotation text afterwards. The expected targets
are computed from the references, not by evaluating the regular expressions, so the oracle does not
share the implementation's matching code; unit tests check that every rendering full-matches
exactly the namespaces its reference names.

Secret values never reach output: :class:`Payload` prints key names and sizes only, and views of
objects carry digests (``fixtures.core.redact.digest``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from fixtures.core.encoding import b64
from fixtures.core.redact import digest
from fixtures.systems.dialects.reflector import ALLOWED, ALLOWED_NAMESPACES, AUTO_ENABLED, AUTO_NAMESPACES
from fixtures.systems.model import Declaration, ReplicationSystem, Source

SLO_SECONDS = 60.0  # the design's Property 6 bound, used as the convergence bound everywhere
MAX_NAME = 63
SECRET_SIZE_LIMIT = 1024 * 1024  # apiserver: total size of Secret data / ConfigMap data+binaryData
DNS1123_LABEL = r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?"
DATA_KEY = r"[-._a-zA-Z0-9]+"

Kind = Literal["Secret", "ConfigMap"]
Ref = int | Literal["source", "witness"]  # a slot index, the source's namespace, the witness namespace

DOCKERCONFIGJSON = "kubernetes.io/dockerconfigjson"
TLS = "kubernetes.io/tls"
REQUIRED_KEYS = {DOCKERCONFIGJSON: (".dockerconfigjson",), TLS: ("tls.crt", "tls.key")}


# --------------------------------------------------------------------------------------------
# Payloads (redacted repr)


class Payload:
    """``data`` (and, for ConfigMaps, ``binaryData``) as raw bytes; prints key names and sizes only."""

    __slots__ = ("binary", "data")

    def __init__(self, data: Mapping[str, bytes], binary: Mapping[str, bytes] | None = None) -> None:
        self.data: dict[str, bytes] = dict(sorted(data.items()))
        self.binary: dict[str, bytes] = dict(sorted((binary or {}).items()))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Payload) and (self.data, self.binary) == (other.data, other.binary)

    def __hash__(self) -> int:
        return hash((tuple(self.data.items()), tuple(self.binary.items())))

    def __repr__(self) -> str:
        def sizes(d: dict[str, bytes]) -> str:
            shown = [f"{k!r}: <{len(v)} bytes>" for k, v in list(d.items())[:6]]
            if len(d) > 6:
                shown.append(f"... {len(d) - 6} more keys")
            return "{" + ", ".join(shown) + "}"

        extra = f", binary={sizes(self.binary)}" if self.binary else ""
        return f"Payload(data={sizes(self.data)}{extra})"

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:  # Hypothesis' printer uses this first
        p.text(repr(self))

    @property
    def size(self) -> int:
        return sum(len(v) for v in self.data.values()) + sum(len(v) for v in self.binary.values())

    def all_keys(self) -> set[str]:
        return set(self.data) | set(self.binary)

    def with_data(self, **changes: bytes | None) -> Payload:
        data = dict(self.data)
        for k, v in changes.items():
            if v is None:
                data.pop(k, None)
            else:
                data[k] = v
        return Payload(data, self.binary)


# --------------------------------------------------------------------------------------------
# Source objects


@dataclass(frozen=True)
class SourceSpec:
    """A source Secret or ConfigMap; ``labels``/``annotations`` are foreign metadata copies must not get."""

    kind: Kind = "Secret"
    type: str | None = "Opaque"
    payload: Payload = field(default_factory=lambda: Payload({"k": b"v"}))
    labels: tuple[tuple[str, str], ...] = ()
    annotations: tuple[tuple[str, str], ...] = ()

    def with_payload(self, payload: Payload) -> SourceSpec:
        return replace(self, payload=payload)

    def wire(self) -> dict[str, dict[str, str]]:
        """``data``/``binaryData`` exactly as the API returns them (base64 for Secrets)."""
        if self.kind == "Secret":
            return {"data": {k: b64(v) for k, v in self.payload.data.items()}}
        return {
            "data": {k: v.decode() for k, v in self.payload.data.items()},
            "binaryData": {k: b64(v) for k, v in self.payload.binary.items()},
        }

    def body(self, name: str, declaration: Declaration) -> dict[str, Any]:
        """The source object carrying the system's declaration (its annotations and labels)."""
        declared = declaration.metadata()
        meta: dict[str, Any] = {
            "name": name,
            "annotations": {**dict(self.annotations), **declared["annotations"]},
        }
        if self.labels or declared["labels"]:
            meta["labels"] = {**dict(self.labels), **declared["labels"]}
        body: dict[str, Any] = {"apiVersion": "v1", "kind": self.kind, "metadata": meta, **self.wire()}
        if self.kind == "Secret":
            body["type"] = self.type or "Opaque"
        return body


def content_view(kind: Kind, wire: Mapping[str, Mapping[str, str] | None]) -> dict[str, Any]:
    """Digests of ``data``/``binaryData`` (absent and empty are the same)."""
    view: dict[str, Any] = {"data": {k: digest(v) for k, v in sorted((wire.get("data") or {}).items())}}
    if kind == "ConfigMap":
        view["binaryData"] = {k: digest(v) for k, v in sorted((wire.get("binaryData") or {}).items())}
    return view


def object_view(
    obj: Mapping[str, Any],
    system: ReplicationSystem,
    source: Source,
    *,
    version: bool = True,
    identity: bool = False,
) -> dict[str, Any]:
    """A comparable, value-free view of a Secret/ConfigMap as read from the API (raw JSON).

    The system's bookkeeping is shown by meaning (through the system interface): ``copy`` is
    ``"auto"`` for the system's copy of ``source``, ``"mirror"`` for a pull mirror it filled, else
    None; ``version`` (when asked) the source version the object claims. Every other label or
    annotation is shown by name only. ``identity`` adds uid and resourceVersion (for objects that
    must stay untouched).
    """
    meta = obj.get("metadata") or {}
    ann = meta.get("annotations") or {}
    labels = meta.get("labels") or {}
    kind = obj.get("kind") or ("Secret" if "type" in obj else "ConfigMap")
    view: dict[str, Any] = {**content_view(kind, obj)}
    if kind == "Secret":
        view["type"] = obj.get("type") or "Opaque"
    if system.is_copy(ann, labels, source):
        view["copy"] = "auto"
    elif system.is_pull_mirror(ann, labels, source):
        view["copy"] = "mirror"
    else:
        view["copy"] = None
    if version:
        view["version"] = system.version_of(ann, labels)
    own_annotations, own_labels = system.bookkeeping.strip(ann, labels)
    view["labels"] = sorted(own_labels)
    view["annotations"] = sorted(own_annotations)
    if identity:
        view["uid"] = meta.get("uid")
        view["resourceVersion"] = meta.get("resourceVersion")
    return view


def copy_view(
    source: SourceSpec,
    system: ReplicationSystem,
    rv: str | None,
    *,
    version: bool = True,
    type_: str | None = None,
) -> dict[str, Any]:
    """What the system's copy of ``source`` must look like: same content and type, bookkeeping only
    (and the source version ``rv`` when the system records one)."""
    view: dict[str, Any] = {**content_view(source.kind, source.wire())}
    if source.kind == "Secret":
        view["type"] = type_ or source.type or "Opaque"
    view["copy"] = "auto"
    if version:
        view["version"] = rv if system.records_version else None
    # a system whose profile lists the deviation "copy.labels" copies the source's labels
    view["labels"] = sorted(k for k, _ in source.labels) if system.deviation("copy.labels") else []
    view["annotations"] = []
    return view


def mirror_view(
    source: SourceSpec,
    system: ReplicationSystem,
    rv: str | None,
    *,
    version: bool = True,
    own_type: str = "Opaque",
) -> dict[str, Any]:
    """A pull mirror filled from ``source``: the source's content, its own type."""
    view = copy_view(source, system, rv, version=version, type_=own_type)
    view["copy"] = "mirror"
    view["labels"] = []  # a mirror keeps its own metadata (ours has none)
    return view


# --------------------------------------------------------------------------------------------
# Namespaces and list entries


@dataclass(frozen=True)
class Slot:
    """One generated namespace: created before the source (``exists``) or only listed; ``occupied``
    means it holds an unrelated same-name object that must never be touched."""

    logical: str
    exists: bool = True
    occupied: bool = False


@dataclass(frozen=True)
class Names:
    """Physical names of an example, all under its unique ``prefix``."""

    prefix: str

    def slot(self, index: int, logical: str) -> str:
        return physical_name(self.prefix, index, logical)

    @property
    def source(self) -> str:
        return f"{self.prefix}-s"

    @property
    def witness(self) -> str:
        return f"{self.prefix}-w"


def physical_name(prefix: str, index: int, logical: str) -> str:
    """``{prefix}-{index}-{logical}`` clipped to 63 characters, ending alphanumeric.

    The head ``{prefix}-{index}-`` is never clipped (prefixes are short), so names are unique per
    example and index, whatever the logical part.
    """
    head = f"{prefix}-{index}-"
    assert len(head) < MAX_NAME - 1, "prefix too long"
    return (head + logical)[:MAX_NAME].rstrip("-")


EntryForm = Literal["name", "anchored", "group", "near-prefix", "near-suffix", "source", "witness", "blank"]


@dataclass(frozen=True)
class Entry:
    """One list entry as a reference; :func:`render_entry` turns it into annotation text.

    * ``name``: slot i's exact name; ``anchored``: ``^name$`` (regex anchors are allowed)
    * ``group``: ``{prefix}-(?:i|j)-.*``, a regex matching several slots
    * ``near-prefix`` / ``near-suffix``: a proper prefix / suffix of slot i's name; matches nothing
      under full-match semantics (it would under ``re.search``/``re.match``)
    * ``source`` / ``witness``: the source's own namespace (never a target) / the witness namespace
    * ``blank``: an empty or whitespace-only entry (dropped by the parser)
    """

    form: EntryForm
    slots: tuple[int, ...] = ()
    text: str = ""  # blank entries only: "" or whitespace

    def refs(self) -> set[Ref]:
        if self.form in ("name", "anchored", "group"):
            return set(self.slots)
        if self.form == "source":
            return {"source"}
        if self.form == "witness":
            return {"witness"}
        return set()


@dataclass(frozen=True)
class ListSpec:
    """An annotation list: entries, the separator before each entry after the first, outer padding."""

    entries: tuple[Entry, ...]
    separators: tuple[str, ...] = ()
    padding: tuple[str, str] = ("", "")

    def refs(self) -> set[Ref]:
        out: set[Ref] = set()
        for e in self.entries:
            out |= e.refs()
        return out

    @property
    def effective(self) -> bool:
        """False when the parser sees no entry at all (missing/empty list = no restriction)."""
        return any(e.form != "blank" for e in self.entries)

    def with_entries(self, entries: Iterable[Entry]) -> ListSpec:
        entries = tuple(entries)
        return ListSpec(entries, tuple("," for _ in entries[1:]), ("", ""))


def render_entry(entry: Entry, names: Names, slots: tuple[Slot, ...]) -> str:
    if entry.form == "blank":
        return entry.text
    if entry.form == "source":
        return names.source
    if entry.form == "witness":
        return names.witness
    if entry.form == "group":
        return f"{names.prefix}-(?:{'|'.join(str(i) for i in sorted(entry.slots))})-.*"
    (i,) = entry.slots
    name = names.slot(i, slots[i].logical)
    if entry.form == "name":
        return name
    if entry.form == "anchored":
        return f"^{name}$"
    if entry.form == "near-prefix":
        return f"{names.prefix}-{i}"
    if entry.form == "near-suffix":
        return name[1:]
    raise ValueError(entry.form)


def render_list(spec: ListSpec, names: Names, slots: tuple[Slot, ...]) -> str:
    parts = [render_entry(e, names, slots) for e in spec.entries]
    text = parts[0] if parts else ""
    for sep, part in zip(spec.separators, parts[1:], strict=False):
        text += sep + part
    for part in parts[1 + len(spec.separators) :]:
        text += "," + part
    return spec.padding[0] + text + spec.padding[1]


def ref_name(ref: Ref, names: Names, slots: tuple[Slot, ...]) -> str:
    if ref == "source":
        return names.source
    if ref == "witness":
        return names.witness
    assert isinstance(ref, int)
    return names.slot(ref, slots[ref].logical)


def full_match_any(annotation_value: str, namespace: str) -> bool:
    """Reflector's list semantics (trim, drop empty entries, each entry full-matches): for unit tests."""
    entries = [e.strip() for e in annotation_value.strip().split(",") if e.strip()]
    return not entries or any(re.fullmatch(e, namespace) for e in entries)


# --------------------------------------------------------------------------------------------
# A Property 5 example


@dataclass(frozen=True)
class ReplicationCase:
    """Everything one consistency example creates: namespaces, lists, the source."""

    slots: tuple[Slot, ...]
    allowed: ListSpec  # always contains a witness entry: the allowed list is never empty on a shared cluster
    auto: ListSpec | None  # None: annotation absent (= every allowed namespace)
    source: SourceSpec
    allowed_flag: str = "true"
    auto_flag: str = "true"

    def annotations(self, names: Names) -> dict[str, str]:
        ann = {
            ALLOWED: self.allowed_flag,
            AUTO_ENABLED: self.auto_flag,
            ALLOWED_NAMESPACES: render_list(self.allowed, names, self.slots),
        }
        if self.auto is not None:
            ann[AUTO_NAMESPACES] = render_list(self.auto, names, self.slots)
        return ann

    def targeted(self, names: Names) -> list[str]:
        """The slot namespaces the lists target, created or not (allowed ∩ auto, never the source's):
        the example's declaration for a system that does not speak the Reflector list grammar."""
        every: set[Ref] = set(range(len(self.slots)))
        refs = expected_targets(self.allowed, self.auto, every)
        return [ref_name(r, names, self.slots) for r in sorted(r for r in refs if isinstance(r, int))]

    def existing(self) -> set[Ref]:
        return {i for i, s in enumerate(self.slots) if s.exists} | {"source", "witness"}

    def occupied(self) -> set[int]:
        return {i for i, s in enumerate(self.slots) if s.exists and s.occupied}

    def auto_targets(self) -> set[Ref]:
        """allowed ∩ auto ∩ existing, never the source's namespace (the oracle of Property 5)."""
        return expected_targets(self.allowed, self.auto, self.existing())

    def copies(self) -> set[int]:
        """Namespaces that must hold an auto copy: targets without a same-name object of their own."""
        return {r for r in self.auto_targets() if isinstance(r, int) and r not in self.occupied()}

    def conflicts(self) -> set[int]:
        return {r for r in self.auto_targets() if isinstance(r, int) and r in self.occupied()}


def expected_targets(allowed: ListSpec, auto: ListSpec | None, existing: Iterable[Ref]) -> set[Ref]:
    allowed_refs = allowed.refs()
    auto_refs = auto.refs() if auto is not None and auto.effective else None
    assert allowed.effective, "an empty allowed list means every namespace: never on a shared cluster"
    return {
        r for r in existing if r != "source" and r in allowed_refs and (auto_refs is None or r in auto_refs)
    }


# --------------------------------------------------------------------------------------------
# Property 6 updates


@dataclass(frozen=True)
class Update:
    """One change of the source payload; ``payload`` is the complete new content."""

    what: str  # set / add / delete / replace / rotate (for the report and statistics)
    payload: Payload


@dataclass(frozen=True)
class TimelinessCase:
    slots: tuple[Slot, ...]
    source: SourceSpec
    updates: tuple[Update, ...]
    burst: bool = False  # apply all updates back to back, then wait once

    def targets(self) -> list[int]:
        return [i for i, s in enumerate(self.slots) if s.exists]

    def targeted(self, names: Names) -> list[str]:
        """Every slot namespace (all are listed), for a system that does not speak the list grammar."""
        return [names.slot(i, s.logical) for i, s in enumerate(self.slots)]

    def annotations(self, names: Names) -> dict[str, str]:
        listed = ListSpec(()).with_entries(
            [Entry("witness"), *(Entry("name", (i,)) for i in range(len(self.slots)))]
        )
        return {
            ALLOWED: "true",
            AUTO_ENABLED: "true",
            ALLOWED_NAMESPACES: render_list(listed, names, self.slots),
        }


# --------------------------------------------------------------------------------------------
# Property 11 list edits


ListOpKind = Literal["allow", "disallow", "auto", "unauto", "create"]


@dataclass(frozen=True)
class ListOp:
    op: ListOpKind
    slot: int


@dataclass(frozen=True)
class NamespaceReplicationCase:
    """Property 11: initial lists (slot indices), then edits and namespace creations, in order."""

    slots: tuple[Slot, ...]
    allowed: frozenset[int]
    auto: frozenset[int] | None
    ops: tuple[ListOp, ...]
    source: SourceSpec

    def initial_state(self) -> ListState:
        return ListState(
            set(self.allowed),
            None if self.auto is None else set(self.auto),
            {i for i, s in enumerate(self.slots) if s.exists},
        )


@dataclass
class ListState:
    """Mutable model of a source's lists over slot indices (plus the ever-allowed witness)."""

    allowed: set[int]
    auto: set[int] | None  # None: auto annotation absent; an empty set renders "" (= all allowed)
    existing: set[int]

    def apply(self, op: ListOp) -> bool:
        """Apply ``op``; False when it changes nothing (e.g. creating an existing namespace)."""
        i = op.slot
        if op.op == "create":
            if i in self.existing:
                return False
            self.existing.add(i)
            return True
        if op.op == "allow":
            if i in self.allowed:
                return False
            self.allowed.add(i)
            return True
        if op.op == "disallow":
            if i not in self.allowed:
                return False
            self.allowed.discard(i)
            return True
        if op.op == "auto":
            if self.auto is not None and i in self.auto:
                return False
            self.auto = {*(self.auto or set()), i}
            return True
        if self.auto is None or i not in self.auto:
            return False
        self.auto.discard(i)
        return True

    def copies(self) -> set[int]:
        auto = self.auto if self.auto else None  # empty auto list = every allowed namespace
        return {i for i in self.existing if i in self.allowed and (auto is None or i in auto)}

    def targeted(self, names: Names, slots: tuple[Slot, ...]) -> list[str]:
        """Slot namespaces the lists target, created or not, for a system without the list grammar."""
        auto = self.auto if self.auto else None
        chosen = {i for i in self.allowed if auto is None or i in auto}
        return [names.slot(i, slots[i].logical) for i in sorted(chosen)]

    def annotations(self, names: Names, slots: tuple[Slot, ...]) -> dict[str, str]:
        allowed = ListSpec(()).with_entries(
            [Entry("witness"), *(Entry("name", (i,)) for i in sorted(self.allowed))]
        )
        ann = {
            ALLOWED: "true",
            AUTO_ENABLED: "true",
            ALLOWED_NAMESPACES: render_list(allowed, names, slots),
        }
        if self.auto is not None:
            auto = ListSpec(()).with_entries(Entry("name", (i,)) for i in sorted(self.auto))
            ann[AUTO_NAMESPACES] = render_list(auto, names, slots)
        return ann


# --------------------------------------------------------------------------------------------
# Latency


def first_last(arrivals: Mapping[str, float], start: float) -> tuple[float | None, float | None]:
    """Seconds from ``start`` to the first and the last arrival (None when nothing arrived)."""
    if not arrivals:
        return None, None
    times = [t - start for t in arrivals.values()]
    return max(0.0, min(times)), max(0.0, max(times))
