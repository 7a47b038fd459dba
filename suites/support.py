"""Building blocks of the scenarios: objects of either kind, cluster-wide views by name, and the
`Scenario` handle a test uses to declare sources and mirrors and to state what it expects.

Every object a scenario creates has a name unique to the test (``creds-<hex>``), so "where does an
object of that name exist in the whole cluster" is a cheap and exact check of "nowhere else": it
also covers the namespaces of other tests running in parallel against the shared operator.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypedDict, TypeVar, Unpack

from kubernetes import client
from kubernetes.client.rest import ApiException

from fixtures.clusters.cluster import Cluster, NamespaceFactory
from fixtures.core import lookup
from fixtures.core.encoding import b64
from fixtures.core.record import record
from fixtures.core.waiting import assert_mapping_equal, eventually
from fixtures.systems.dialects.reflector import ReflectorDialect, ReflectorDialectSystem

SLO = 30.0  # seconds; generous for a 2-core machine running tests in parallel
#: deadline in tests the implementation is known to fail (a strict xfail): no need to wait the full SLO
KNOWN_DEVIATION_SLO = 10.0
T = TypeVar("T")


class Extras(TypedDict, total=False):
    """What an object may carry besides name, data and annotations (keyword arguments of
    :meth:`Kind.body`, :meth:`Scenario.create` and :meth:`Scenario.source`)."""

    labels: Mapping[str, str] | None
    type_: str | None  # a Secret's type (Opaque when absent)
    binary: Mapping[str, bytes] | None  # a ConfigMap's binaryData


@dataclass(frozen=True)
class Kind:
    """Secret or ConfigMap, behind one interface (C19: the same contract for both)."""

    name: str

    @property
    def is_secret(self) -> bool:
        return self.name == "Secret"

    def body(
        self,
        name: str,
        data: Mapping[str, str | bytes],
        annotations: Mapping[str, str] | None = None,
        **extras: Unpack[Extras],
    ) -> Any:
        if unknown := extras.keys() - Extras.__optional_keys__:
            raise TypeError(f"unexpected keyword arguments: {sorted(unknown)}")
        labels, type_, binary = extras.get("labels"), extras.get("type_"), extras.get("binary")
        meta = client.V1ObjectMeta(
            name=name, annotations=dict(annotations or {}) or None, labels=dict(labels or {}) or None
        )
        if self.is_secret:
            return client.V1Secret(
                metadata=meta, data={k: b64(v) for k, v in data.items()}, type=type_ or "Opaque"
            )
        return client.V1ConfigMap(
            metadata=meta,
            data={k: v if isinstance(v, str) else v.decode() for k, v in data.items()} or None,
            binary_data={k: b64(v) for k, v in (binary or {}).items()} or None,
        )

    def encode(self, data: Mapping[str, str | bytes | None]) -> dict[str, str | None]:
        """`data` values as the API stores them (None removes a key in a merge patch)."""
        if self.is_secret:
            return {k: None if v is None else b64(v) for k, v in data.items()}
        return {k: v if v is None or isinstance(v, str) else v.decode() for k, v in data.items()}

    def create(self, core: client.CoreV1Api, namespace: str, body: Any) -> Any:
        if self.is_secret:
            return core.create_namespaced_secret(namespace, body)
        return core.create_namespaced_config_map(namespace, body)

    def read(self, core: client.CoreV1Api, namespace: str, name: str) -> Any | None:
        try:
            if self.is_secret:
                return core.read_namespaced_secret(name, namespace)
            return core.read_namespaced_config_map(name, namespace)
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise

    def patch(self, core: client.CoreV1Api, namespace: str, name: str, body: Any) -> Any:
        if self.is_secret:
            return core.patch_namespaced_secret(name, namespace, body)
        return core.patch_namespaced_config_map(name, namespace, body)

    def delete(self, core: client.CoreV1Api, namespace: str, name: str) -> None:
        if self.is_secret:
            core.delete_namespaced_secret(name, namespace)
        else:
            core.delete_namespaced_config_map(name, namespace)

    def named(self, core: client.CoreV1Api, name: str) -> dict[str, Any]:
        """Every object of this kind called `name`, in the whole cluster, by namespace."""
        return lookup.named(core, name, self.name)

    def view(self, obj: Any) -> dict[str, Any]:
        """Comparable and redacted: equal views mean equal payload (and type); a diff names the key."""
        return lookup.view(obj, self.name)


SECRET = Kind("Secret")
CONFIGMAP = Kind("ConfigMap")
KINDS = (SECRET, CONFIGMAP)


def timed(check: Callable[[], T], *, description: str, timeout: float = SLO) -> float:
    """`eventually(check)`, returning how long it took (for latency records)."""
    t0 = time.monotonic()
    eventually(check, timeout=timeout, description=description)
    return time.monotonic() - t0


def unique_name(prefix: str = "creds") -> str:
    return f"{prefix}-{secrets.token_hex(4)}"


@dataclass
class Scenario:
    """One test's view of the implementation: its namespaces, its object name, its kind."""

    cluster: Cluster
    namespaces: NamespaceFactory
    impl: ReflectorDialectSystem
    kind: Kind = SECRET
    name: str = field(default_factory=unique_name)
    slo: float = SLO
    _sentinel_ns: str | None = field(default=None, init=False)
    _sentinels: int = field(default=0, init=False)

    @property
    def core(self) -> client.CoreV1Api:
        return self.cluster.core

    @property
    def dialect(self) -> ReflectorDialect:
        return self.impl.vocabulary

    def ns(self, hint: str, labels: dict[str, str] | None = None) -> str:
        return self.namespaces(hint, labels)

    def later(self, hint: str) -> str:
        """A namespace name reserved now (cleaned up after the test) and created by `create_ns`."""
        return self.namespaces.name(hint)

    def create_ns(self, name: str) -> str:
        return self.cluster.create_namespace(name=name)

    def another(self, kind: Kind | None = None) -> Scenario:
        """A sibling scenario (same namespaces and implementation) for a second object name or kind."""
        return Scenario(self.cluster, self.namespaces, self.impl, kind or self.kind, slo=self.slo)

    def _declare(
        self,
        to: Iterable[str] | str | None,
        auto: bool | str,
        auto_to: Iterable[str] | str | None,
        allowed: bool | str,
    ) -> dict[str, str]:
        """The implementation's annotations for "replicate to `to`, auto to `auto_to`"."""
        return self.impl.annotate(
            to if to is None or isinstance(to, str) else list(to),
            auto=auto,
            auto_namespaces=auto_to if auto_to is None or isinstance(auto_to, str) else list(auto_to),
            allowed=allowed,
        )

    # -- setup -----------------------------------------------------------------------------------
    def source(
        self,
        namespace: str,
        data: Mapping[str, str | bytes],
        *,
        to: Iterable[str] | str | None,
        auto: bool | str = True,
        auto_to: Iterable[str] | str | None = None,
        allowed: bool | str = True,
        annotations: Mapping[str, str] | None = None,
        name: str | None = None,
        **extras: Unpack[Extras],
    ) -> Any:
        """Create a source replicating to `to` (the dialect's allowed list; None = absent)."""
        declared = self._declare(to, auto, auto_to, allowed)
        return self.create(namespace, data, {**(annotations or {}), **declared}, name=name, **extras)

    def create(
        self,
        namespace: str,
        data: Mapping[str, str | bytes],
        annotations: Mapping[str, str] | None = None,
        *,
        name: str | None = None,
        **extras: Unpack[Extras],
    ) -> Any:
        """Create any object of the scenario's kind (by default with the scenario's name)."""
        body = self.kind.body(name or self.name, data, annotations, **extras)
        return self.kind.create(self.core, namespace, body)

    def mirror(
        self,
        namespace: str,
        of: str,
        *,
        name: str | None = None,
        data: Mapping[str, str | bytes] | None = None,
        type_: str | None = None,
    ) -> Any:
        """A manual mirror in `namespace` pulling from `of`/<scenario name>."""
        return self.create(
            namespace, data or {}, self.impl.mirror(of, self.name), name=name or self.name, type_=type_
        )

    def auto_copies_and_a_manual_mirror(self, data: Mapping[str, str | bytes]) -> tuple[str, str, str, str]:
        """Given a source allowed to a, b and manual, auto-copied to a and b, and a manual mirror in
        manual, once all three hold the source. Returns the namespaces (src, a, b, manual)."""
        src, a, b, manual = self.ns("src"), self.ns("a"), self.ns("b"), self.ns("manual")
        self.source(src, data, to=[a, b, manual], auto_to=[a, b])
        self.mirror(manual, of=src)
        self.expect_copies(src, [a, b, manual])
        return src, a, b, manual

    # -- acts ------------------------------------------------------------------------------------
    def redeclare(
        self,
        namespace: str,
        *,
        to: Iterable[str] | str | None,
        auto: bool | str = True,
        auto_to: Iterable[str] | str | None = None,
        allowed: bool | str = True,
    ) -> Any:
        """Replace the source's replication annotations (the rest of its metadata is kept)."""
        declared = self._declare(to, auto, auto_to, allowed)
        patch = {"metadata": {"annotations": self.dialect.redeclare_patch(declared)}}
        return self.kind.patch(self.core, namespace, self.name, patch)

    def update(
        self,
        namespace: str,
        data: Mapping[str, str | bytes | None],
        *,
        binary: Mapping[str, bytes | None] | None = None,
        name: str | None = None,
    ) -> Any:
        """Merge-patch payload keys (None removes a key)."""
        body: dict[str, Any] = {"data": self.kind.encode(data)}
        if binary is not None:
            body["binaryData"] = {k: None if v is None else b64(v) for k, v in binary.items()}
        return self.kind.patch(self.core, namespace, name or self.name, body)

    def delete(self, namespace: str, name: str | None = None) -> None:
        self.kind.delete(self.core, namespace, name or self.name)

    def read(self, namespace: str, name: str | None = None) -> Any | None:
        return self.kind.read(self.core, namespace, name or self.name)

    # -- observations ------------------------------------------------------------------------------
    def everywhere(self) -> dict[str, Any]:
        """Objects with the scenario's name in the whole cluster, by namespace."""
        return self.kind.named(self.core, self.name)

    def assert_copies(self, source_ns: str, expected: Iterable[str], *, ignore: Iterable[str] = ()) -> None:
        """In the whole cluster, objects with this name are exactly: the source, anything in `ignore`
        (checked separately by the test) and a copy equal to the source in each `expected` namespace."""
        source = self.read(source_ns)
        assert source is not None, f"source {source_ns}/{self.name} is gone"
        skip = {source_ns, *ignore}
        actual = {ns: self.kind.view(obj) for ns, obj in self.everywhere().items() if ns not in skip}
        want = self.kind.view(source)
        assert_mapping_equal({ns: want for ns in expected}, actual, "namespace")

    def expect_copies(
        self,
        source_ns: str,
        expected: Iterable[str],
        *,
        ignore: Iterable[str] = (),
        description: str = "copies",
    ) -> float:
        """Wait until `assert_copies` holds; returns the seconds it took."""
        expected, ignore = list(expected), list(ignore)
        return self.wait(lambda: self.assert_copies(source_ns, expected, ignore=ignore), description)

    def wait(self, check: Callable[[], object], description: str) -> float:
        return timed(check, description=description, timeout=self.slo)

    def assert_only_in(self, namespaces: Iterable[str]) -> None:
        """Objects with the scenario's name exist in exactly these namespaces (whole cluster)."""
        left, want = sorted(self.everywhere()), sorted(namespaces)
        assert left == want, f"objects named {self.name} exist in {left}, expected only in {want}"

    def assert_holds(self, namespace: str, source_ns: str, name: str | None = None) -> None:
        """The object namespace/name carries the source's current payload."""
        source, obj = self.read(source_ns), self.read(namespace, name)
        assert source is not None, f"source {source_ns}/{self.name} is gone"
        assert obj is not None, f"{namespace}/{name or self.name} does not exist"
        assert self.kind.view(obj)["data"] == self.kind.view(source)["data"], (
            f"{namespace}/{name or self.name} payload differs from the source:\n"
            f"{self.kind.view(obj)} != {self.kind.view(source)}"
        )

    def settle(self, source_ns: str) -> float:
        """A positive signal that the implementation has handled everything done so far in
        `source_ns`: a new sentinel source there replicates. Implementations handle a namespace's
        events in order (Reflector: one sequential consumer per kind; the bundled operator: a FIFO
        queue fed by the watch), so what the test did before has been seen by then."""
        if self._sentinel_ns is None:
            self._sentinel_ns = self.ns("sentinel")
        self._sentinels += 1
        name = f"{self.name}-sentinel{self._sentinels}"
        self.create(source_ns, {"k": "sentinel"}, self.impl.annotate([self._sentinel_ns]), name=name)

        def replicated() -> None:
            copy = self.kind.read(self.core, self._sentinel_ns, name)
            assert copy is not None, f"sentinel {source_ns}/{name} not replicated yet"

        return timed(replicated, description=f"sentinel {name} to replicate", timeout=SLO)

    def latency(self, scenario: str, seconds: float, **extra: Any) -> None:
        record(
            "latency", scenario=scenario, seconds=round(seconds, 3), implementation=self.impl.name, **extra
        )


def annotations_of(obj: Any) -> dict[str, str]:
    return dict(obj.metadata.annotations or {})


def not_found(read: Callable[[], Any | None], what: str) -> Callable[[], None]:
    """A check for `eventually`: the object is gone."""

    def check() -> None:
        obj = read()
        assert obj is None, f"{what} still exists (resourceVersion {obj.metadata.resource_version})"

    return check
