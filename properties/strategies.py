"""Hypothesis strategies shared by the property tests.

Small, named and composable. The GitOps-layout strategies (Property 7) build the frozen specs
from :mod:`testing.consolidate`; they are pure data, nothing touches disk
until a test calls ``write_layout``.
"""

from __future__ import annotations

import random

from hypothesis import strategies as st

from fixtures.core.encoding import b64
from properties.model import (
    DNS1123_LABEL,
    DOCKERCONFIGJSON,
    REQUIRED_KEYS,
    SECRET_SIZE_LIMIT,
    TLS,
    Entry,
    ListOp,
    ListSpec,
    NamespaceReplicationCase,
    Payload,
    ReplicationCase,
    Slot,
    SourceSpec,
    TimelinessCase,
    Update,
)
from testing.consolidate import (
    CredsSpec,
    DockerConfig,
    LayoutSpec,
    Registry,
    ServiceSpec,
)

_ALNUM = "abcdefghijklmnopqrstuvwxyz0123456789"

# --------------------------------------------------------------------------------------------
# Kubernetes names


def dns_labels(min_size: int = 1, max_size: int = 20) -> st.SearchStrategy[str]:
    """RFC 1123 labels: lowercase alphanumerics and '-', starting with a letter, ending alphanumeric."""
    assert 1 <= min_size <= max_size
    labels = st.builds(
        lambda first, mid, last: first + mid + last,
        st.sampled_from(_ALNUM[:26]),
        st.text(alphabet=_ALNUM + "-", min_size=max(0, min_size - 2), max_size=max_size - 2),
        st.sampled_from(_ALNUM),
    )
    if min_size == 1:
        return st.one_of(st.sampled_from(_ALNUM[:26]), labels)
    return labels


REALISTIC_SERVICE_NAMESPACES = (
    "cert-manager",
    "metallb-system",
    "kyverno",
    "istio-system",
    "observability",
    "postgres-operator",
    "rbac-system",
    "vmware-system-csi",
    "gateway-api",
    "headlamp",
    "keycloak",
)


def service_namespaces() -> st.SearchStrategy[str]:
    """Namespaces a service might live in (never ``flux-system``)."""
    return st.one_of(st.sampled_from(REALISTIC_SERVICE_NAMESPACES), dns_labels(3, 30)).filter(
        lambda n: n != "flux-system"
    )


# --------------------------------------------------------------------------------------------
# Credentials


def secret_tokens() -> st.SearchStrategy[str]:
    """Distinctive, high-entropy-looking secret values that are easy to scan for."""
    return st.text(alphabet=_ALNUM, min_size=12, max_size=24).map(lambda s: f"pw-{s}")


def registries() -> st.SearchStrategy[Registry]:
    hosts = st.sampled_from(
        ["ghcr.io", "docker.io", "quay.io", "registry.example.com:5000", "harbor.internal"]
    )
    return st.builds(Registry, host=hosts, username=dns_labels(3, 16), password=secret_tokens())


def docker_config_json() -> st.SearchStrategy[DockerConfig]:
    """A ``.dockerconfigjson`` payload with 1-3 registries (distinct hosts)."""
    return st.builds(
        DockerConfig,
        registries=st.lists(registries(), min_size=1, max_size=3, unique_by=lambda r: r.host).map(tuple),
        pretty=st.booleans(),
    )


_KEY_ORDERS = (
    ("apiVersion", "kind", "metadata", "type", "body"),
    ("apiVersion", "kind", "type", "metadata", "body"),
    ("kind", "apiVersion", "metadata", "body", "type"),
    ("metadata", "apiVersion", "kind", "body", "type"),
)


def creds_files(config: DockerConfig) -> st.SearchStrategy[CredsSpec]:
    """One ``oci-creds.yaml`` carrying ``config``: plain or sops-encrypted, data or stringData."""
    return st.builds(
        CredsSpec,
        config=st.just(config),
        form=st.sampled_from(["stringData", "data"]),
        encrypted=st.booleans(),
        key_order=st.sampled_from(_KEY_ORDERS),
        comment=st.booleans(),
    )


@st.composite
def different_docker_config(draw, config: DockerConfig) -> DockerConfig:
    """A payload that differs from ``config``: a changed password, an extra registry, or a fresh one."""
    how = draw(st.sampled_from(["password", "extra-registry", "fresh"]))
    first = config.registries[0]
    if how == "password":
        changed = Registry(first.host, first.username, first.password + "-rotated")
        return DockerConfig((changed, *config.registries[1:]), config.pretty)
    if how == "extra-registry":
        hosts = {r.host for r in config.registries}
        extra = Registry(f"mirror{len(hosts)}.example.net", "mirror", draw(secret_tokens()))
        return DockerConfig((*config.registries, extra), config.pretty)
    fresh = draw(docker_config_json())
    if fresh.as_dict() == config.as_dict():  # practically never; keep it total without filtering
        return DockerConfig((Registry(first.host, first.username, first.password + "-x"),), fresh.pretty)
    return fresh


# --------------------------------------------------------------------------------------------
# Layouts


@st.composite
def service_dirs(draw, namespace: str, config: DockerConfig | None) -> ServiceSpec:
    """A service directory in ``namespace``; ``config=None`` gives a service without credentials."""
    creds = draw(creds_files(config)) if config is not None else None
    others = draw(
        st.lists(
            st.sampled_from(["helmrelease", "values", "source", "configmap"]),
            unique=True,
            min_size=0 if creds else 1,
            max_size=3,
        )
    )
    prefix = draw(st.sampled_from(["", "services/", "apps/"]))
    decoy_file = None
    if creds is None:
        decoy_file = draw(st.none() | st.sampled_from(["registry-auth.yaml", "pull-secret.yaml"]))
    return ServiceSpec(
        path=prefix + namespace,
        namespace=namespace,
        creds=creds,
        others=tuple(others),
        creds_position=draw(st.integers(0, len(others))),
        creds_entry=draw(st.sampled_from(["oci-creds.yaml", "./oci-creds.yaml"])),
        comments=draw(st.booleans()),
        seq_offset=draw(st.sampled_from([0, 2])),
        has_kustomization=draw(st.booleans()) if creds else True,
        decoy_bak=draw(st.booleans()) if creds else False,
        decoy_secret_file=decoy_file,
    )


@st.composite
def gitops_layouts(
    draw, conflicting: bool = False, max_services: int = 5, min_creds_services: int = 0
) -> LayoutSpec:
    """A customer/cluster overlay with 0-N services (with and without credentials).

    ``min_creds_services`` forces that many services to carry credentials (so few examples still
    exercise consolidation).

    With ``conflicting=True`` at least two credential files (a service's or the pre-existing
    ``flux-system/oci-creds.yaml``) carry different credentials, so consolidation must refuse.
    """
    customer = draw(dns_labels(3, 12))
    cluster = draw(dns_labels(3, 12))
    config = draw(docker_config_json())
    min_size = max(min_creds_services, 2 if conflicting else 0)
    namespaces = draw(st.lists(service_namespaces(), unique=True, min_size=min_size, max_size=max_services))
    has_creds = [i < min_creds_services or draw(st.booleans()) for i in range(len(namespaces))]
    existing = None
    existing_ns: tuple[str, ...] = ()
    if draw(st.booleans()):
        existing = draw(creds_files(config))
        existing_ns = tuple(draw(st.lists(service_namespaces(), unique=True, min_size=1, max_size=3)))
    if conflicting:
        # Make sure two credential files exist, then give one of them different credentials.
        has_creds[0] = True
        if existing is None:
            has_creds[1] = True
    services = [
        draw(service_dirs(ns, config if with_creds else None))
        for ns, with_creds in zip(namespaces, has_creds, strict=True)
    ]
    if conflicting:
        other = draw(different_docker_config(config))
        svc = services[0]
        services[0] = ServiceSpec(
            **{**svc.__dict__, "creds": CredsSpec(**{**svc.creds.__dict__, "config": other})}
        )
    siblings = [c for c in draw(st.lists(dns_labels(3, 12), unique=True, max_size=2)) if c != cluster]
    return LayoutSpec(
        customer=customer,
        cluster=cluster,
        services=tuple(services),
        existing=existing,
        existing_namespaces=existing_ns,
        sibling_clusters=tuple(siblings),
        flux_comments=draw(st.booleans()),
    )


# ============================================================================================
# Replication properties (5, 6, 11 and the stateful machine). Specs are pure data from
# properties.model; physical names, annotation text and bodies are derived per example.

EDGE_NAMESPACE_NAMES = (
    "a",  # 1 character
    "0",  # digits only
    "0123456789",
    "a-b",  # inner hyphen
    "a--b",  # consecutive inner hyphens
    "z" * 63,  # the 63-character maximum
    "0" + "-" * 61 + "9",
    "x" + "y-" * 30 + "z",
)


def namespace_names() -> st.SearchStrategy[str]:
    """Valid DNS-1123 labels (1-63 characters): generated from the grammar, plus pinned extremes."""
    return st.one_of(
        st.from_regex(DNS1123_LABEL, fullmatch=True),
        st.sampled_from(EDGE_NAMESPACE_NAMES),
    )


def data_keys() -> st.SearchStrategy[str]:
    """Secret/ConfigMap data keys (``[-._a-zA-Z0-9]+``; the API server refuses '.' and any key
    starting with '..', as it does for file names in a volume)."""
    return st.from_regex(r"[-._a-zA-Z0-9]{1,24}", fullmatch=True).filter(
        lambda k: k != "." and not k.startswith("..")
    )


def blob(size: int, seed: int) -> bytes:
    """Deterministic pseudo-random bytes: large values without large Hypothesis buffers."""
    return random.Random(seed).randbytes(size)


def binary_values(max_size: int = 48) -> st.SearchStrategy[bytes]:
    """Arbitrary bytes, the empty value, UTF-8 text, and seeded blobs up to a few KiB."""
    return st.one_of(
        st.just(b""),
        st.binary(max_size=max_size),
        st.text(max_size=16).map(lambda t: t.encode()),
        st.builds(blob, st.integers(100, 4096), st.integers(0, 2**32)),
    )


def text_values() -> st.SearchStrategy[bytes]:
    """ConfigMap ``data`` values: any UTF-8 text (stored as bytes in the Payload), empty included."""
    return st.one_of(st.just(b""), st.text(max_size=24).map(lambda t: t.encode()))


def _fake_pem(kind: str, raw: bytes) -> bytes:
    body = b64(raw)
    lines = [body[i : i + 64] for i in range(0, len(body), 64)] or [""]
    return (f"-----BEGIN {kind}-----\n" + "\n".join(lines) + f"\n-----END {kind}-----\n").encode()


def required_values(type_: str) -> st.SearchStrategy[dict[str, bytes]]:
    """The keys a Secret type requires, with values the API server accepts."""
    if type_ == DOCKERCONFIGJSON:
        return docker_config_json().map(lambda c: {".dockerconfigjson": c.text().encode()})
    if type_ == TLS:
        return st.builds(
            lambda a, b: {"tls.crt": _fake_pem("CERTIFICATE", a), "tls.key": _fake_pem("PRIVATE KEY", b)},
            st.binary(min_size=16, max_size=64),
            st.binary(min_size=16, max_size=64),
        )
    return st.just({})


PAYLOAD_SHAPES = ("few", "empty-values", "many", "near-limit", "none")


@st.composite
def payloads(draw, kind: str = "Secret", type_: str | None = "Opaque", shape: str | None = None) -> Payload:
    """Source content: binary bytes, empty values, many keys, or one value near the 1 MiB limit."""
    shape = shape or draw(st.sampled_from(PAYLOAD_SHAPES))
    required = draw(required_values(type_)) if kind == "Secret" and type_ else {}
    values = text_values() if kind == "ConfigMap" else binary_values()
    data: dict[str, bytes] = {}
    binary: dict[str, bytes] = {}
    if shape in ("few", "near-limit"):
        data = draw(st.dictionaries(data_keys(), values, min_size=0 if required else 1, max_size=6))
    elif shape == "empty-values":
        data = dict.fromkeys(draw(st.lists(data_keys(), min_size=1, max_size=5, unique=True)), b"")
    elif shape == "many":
        count, seed = draw(st.integers(30, 150)), draw(st.integers(0, 2**32))
        rnd = random.Random(seed)
        data = {
            f"key-{i:03d}.{rnd.choice('abcxyz')}": rnd.randbytes(rnd.randint(0, 24)) for i in range(count)
        }
        if kind == "ConfigMap":
            data = {k: v.hex().encode() for k, v in data.items()}
    if kind == "ConfigMap":
        binary = draw(
            st.dictionaries(data_keys(), st.binary(max_size=48), max_size=3 if shape != "none" else 0)
        )
        binary = {k: v for k, v in binary.items() if k not in data}
    data.update(required)
    if shape == "near-limit":
        used = sum(map(len, data.values())) + sum(map(len, binary.values()))
        size = SECRET_SIZE_LIMIT - used - draw(st.integers(0, 4096))
        big = blob(max(size, 0), draw(st.integers(0, 2**32)))
        if kind == "ConfigMap":
            binary["big.bin"] = big
            data.pop("big.bin", None)
        else:
            data["big.bin"] = big
    return Payload(data, binary)


SOURCE_LABELS = (
    ("app.kubernetes.io/managed-by", "flux"),
    ("kustomize.toolkit.fluxcd.io/name", "flux-system"),
    ("argocd.argoproj.io/instance", "platform"),
    ("team", "platform"),
)
SOURCE_ANNOTATIONS = (
    ("kustomize.toolkit.fluxcd.io/checksum", "0123abcd"),
    ("meta.helm.sh/release-name", "oci-creds"),
    ("replicheck.io/note", "foreign metadata: copies must not carry it"),
)


@st.composite
def source_objects(
    draw, kinds: tuple[str, ...] = ("Secret", "Secret", "ConfigMap"), shape: str | None = None
) -> SourceSpec:
    """Secrets (Opaque, dockerconfigjson with valid docker config JSON, tls) and ConfigMaps
    (data + binaryData), carrying foreign labels/annotations that copies must not get."""
    kind = draw(st.sampled_from(kinds))
    type_ = draw(st.sampled_from(["Opaque", DOCKERCONFIGJSON, TLS])) if kind == "Secret" else None
    return SourceSpec(
        kind=kind,
        type=type_,
        payload=draw(payloads(kind, type_, shape)),
        labels=tuple(draw(st.lists(st.sampled_from(SOURCE_LABELS), unique=True, max_size=2))),
        annotations=tuple(draw(st.lists(st.sampled_from(SOURCE_ANNOTATIONS), unique=True, max_size=2))),
    )


TRUE_SPELLINGS = ("true", "True", "TRUE", " true ")
SEPARATORS = (",", ", ", " ,", " , ", ",\t")


@st.composite
def slot_lists(
    draw, max_existing: int = 5, max_listed_only: int = 8, occupied: bool = True
) -> tuple[Slot, ...]:
    """Namespaces of one example: some created before the source, some only listed; a few of the
    created ones hold an unrelated same-name object."""
    n_existing = draw(st.integers(0, max_existing))
    n_missing = draw(st.integers(0, max_listed_only))
    logical = draw(
        st.lists(namespace_names(), min_size=n_existing + n_missing, max_size=n_existing + n_missing)
    )
    flags = draw(st.permutations([True] * n_existing + [False] * n_missing))
    out = []
    for name, exists in zip(logical, flags, strict=True):
        occ = exists and occupied and draw(st.integers(0, 3)) == 0
        out.append(Slot(name, exists, occ))
    return tuple(out)


@st.composite
def list_specs(
    draw, n_slots: int, *, witness: bool, max_entries: int = 10, source_entry: bool = True
) -> ListSpec:
    """An annotation list over ``n_slots`` slots: exact names, ``^name$``, regex groups matching several
    slots, near misses that only an unanchored match would accept, blanks, odd separators/padding."""
    forms = ["name", "name", "anchored", "group", "near-prefix", "near-suffix"] if n_slots else []
    if source_entry:
        forms.append("source")
    entries: list[Entry] = []
    for _ in range(draw(st.integers(0, max_entries)) if forms else 0):
        form = draw(st.sampled_from(forms))
        if form == "source":
            entries.append(Entry("source"))
        elif form == "group":
            members = draw(st.sets(st.integers(0, n_slots - 1), min_size=min(2, n_slots), max_size=4))
            entries.append(Entry("group", tuple(sorted(members))))
        else:
            entries.append(Entry(form, (draw(st.integers(0, n_slots - 1)),)))
    if witness:
        entries.insert(draw(st.integers(0, len(entries))), Entry("witness"))
    for _ in range(draw(st.integers(0, 2))):
        blank = Entry("blank", text=draw(st.sampled_from(["", " ", "  "])))
        entries.insert(draw(st.integers(0, len(entries))), blank)
    seps = (
        tuple(
            draw(st.lists(st.sampled_from(SEPARATORS), min_size=len(entries) - 1, max_size=len(entries) - 1))
        )
        if entries
        else ()
    )
    padding = draw(st.tuples(st.sampled_from(["", " "]), st.sampled_from(["", " "])))
    return ListSpec(tuple(entries), seps, padding)


@st.composite
def replication_cases(
    draw,
    max_existing: int = 5,
    max_listed_only: int = 8,
    kinds: tuple[str, ...] = ("Secret", "Secret", "ConfigMap"),
) -> ReplicationCase:
    """Property 5: namespaces, an allowed list (always naming the witness: never empty on a shared
    cluster), an auto list (absent, empty or a list) and a source object."""
    slots = draw(slot_lists(max_existing, max_listed_only))
    allowed = draw(list_specs(len(slots), witness=True))
    auto = draw(st.none() | list_specs(len(slots), witness=False))
    return ReplicationCase(
        slots=slots,
        allowed=allowed,
        auto=auto,
        source=draw(source_objects(kinds)),
        allowed_flag=draw(st.sampled_from(TRUE_SPELLINGS)),
        auto_flag=draw(st.sampled_from(TRUE_SPELLINGS)),
    )


@st.composite
def next_payloads(draw, source: SourceSpec, current: Payload) -> Update:
    """One update of ``current``: set a key, add a key, delete a key, replace everything, set an empty
    value. Keeps the Secret type's required keys valid and the total under the size limit; always
    changes something."""
    what = draw(st.sampled_from(["set", "add", "delete", "replace", "empty-value"]))
    required = set(REQUIRED_KEYS.get(source.type or "", ()))
    cm = source.kind == "ConfigMap"
    values = text_values() if cm else binary_values()
    data, binary = dict(current.data), dict(current.binary)
    if what == "replace":
        fresh = draw(
            payloads(source.kind, source.type, draw(st.sampled_from(["few", "empty-values", "many"])))
        )
        data, binary = dict(fresh.data), dict(fresh.binary)
    elif what == "delete" and set(data) - required:
        data.pop(draw(st.sampled_from(sorted(set(data) - required))))
    elif what in ("set", "empty-value") and data:
        key = draw(st.sampled_from(sorted(data)))
        if key in required:
            data.update(draw(required_values(source.type or "")))
        else:
            data[key] = b"" if what == "empty-value" else draw(values)
    else:
        key = draw(data_keys())
        if cm and draw(st.booleans()):
            binary[key] = draw(st.binary(max_size=48))
            data.pop(key, None)
        elif key not in required:
            data[key] = draw(values)
            binary.pop(key, None)
    if Payload(data, binary) == current:
        data["rotation"] = b"2" if data.get("rotation") == b"1" else b"1"
        binary.pop("rotation", None)
    new = Payload(data, binary)
    if new.size > SECRET_SIZE_LIMIT:  # shrink the biggest value instead of growing past the limit
        pool = max((data, binary), key=lambda d: max(map(len, d.values()), default=-1))
        big = max(pool, key=lambda k: len(pool[k]))
        keep = max(0, len(pool[big]) - (new.size - SECRET_SIZE_LIMIT) - 1024)
        pool[big] = blob(keep, draw(st.integers(0, 2**32)))
        new = Payload(data, binary)
    return Update(what, new)


@st.composite
def timeliness_cases(draw, max_targets: int = 5, max_updates: int = 4) -> TimelinessCase:
    """Property 6: a source with 1-N copies and a sequence of updates (waited on one by one, or burst)."""
    slots = draw(slot_lists(max_existing=max_targets, max_listed_only=0, occupied=False).filter(bool))
    source = draw(source_objects())
    updates: list[Update] = []
    current = source.payload
    for _ in range(draw(st.integers(1, max_updates))):
        update = draw(next_payloads(source, current))
        updates.append(update)
        current = update.payload
    return TimelinessCase(slots, source, tuple(updates), burst=draw(st.booleans()))


LIST_OPS = (
    "allow",
    "allow",
    "allow",
    "disallow",
    "disallow",
    "auto",
    "auto",
    "unauto",
    "unauto",
    "create",
    "create",
)


@st.composite
def namespace_replication_cases(draw, max_slots: int = 5, max_ops: int = 8) -> NamespaceReplicationCase:
    """Property 11: initial lists over a few namespaces (some not created yet), then list edits and
    namespace creations."""
    n = draw(st.integers(1, max_slots))
    logical = draw(st.lists(namespace_names(), min_size=n, max_size=n))
    existing = draw(st.sets(st.integers(0, n - 1), max_size=n))
    slots = tuple(Slot(name, i in existing) for i, name in enumerate(logical))
    allowed = draw(st.frozensets(st.integers(0, n - 1), max_size=n))
    auto = draw(st.none() | st.frozensets(st.integers(0, n - 1), max_size=n))
    ops = draw(
        st.lists(
            st.builds(ListOp, st.sampled_from(LIST_OPS), st.integers(0, n - 1)), min_size=2, max_size=max_ops
        )
    )
    return NamespaceReplicationCase(slots, allowed, auto, tuple(ops), draw(source_objects(shape="few")))
