"""The dialect-neutral scenario handle: one test's namespaces, one object name, one system.

It speaks only the system interface (fixtures/systems): "replicate this source to these
namespaces", "which objects are your copies", "what is your bookkeeping". Copies are judged in the
whole cluster by the scenario's unique name, as the Reflector-dialect suite does (suites/support.py).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from fixtures.clusters.cluster import NamespaceFactory
from fixtures.core.record import record
from fixtures.core.waiting import assert_mapping_equal
from fixtures.systems import Declaration, ReplicationSystem, Source
from fixtures.systems.driver import Driver, body
from suites.support import SLO, not_found, timed, unique_name

#: the kinds a neutral scenario prefers, in order (the first one the system replicates)
PREFERRED_KINDS = ("Secret", "ConfigMap")


def kind_for(system: ReplicationSystem) -> str:
    return next(k for k in PREFERRED_KINDS if k in system.kinds)


@dataclass
class NeutralScenario:
    driver: Driver
    namespaces: NamespaceFactory
    kind: str
    slo: float = SLO
    name: str = field(default_factory=unique_name)

    @property
    def system(self) -> ReplicationSystem:
        return self.driver.system

    def ns(self, hint: str) -> str:
        return self.namespaces(hint)

    def later(self, hint: str) -> str:
        """A namespace name reserved now (cleaned up after the test), created by `create_ns`."""
        return self.namespaces.name(hint)

    def create_ns(self, name: str) -> str:
        return self.driver.cluster.create_namespace(name=name)

    def source(self, namespace: str, name: str | None = None) -> Source:
        return Source(self.kind, namespace, name or self.name)

    # -- acts --------------------------------------------------------------------------------------------
    def replicate(
        self,
        namespace: str,
        data: Mapping[str, str | bytes],
        to: Iterable[str],
        *,
        name: str | None = None,
        type_: str | None = None,
    ) -> Any:
        """Create a source in ``namespace`` replicating to exactly the namespaces ``to`` (``type_``:
        the Secret type; ConfigMaps have none)."""
        source = self.source(namespace, name)
        type_ = type_ if self.kind == "Secret" else None
        return self.driver.create_source(source, data, self.system.target_for(to), type_=type_)

    def plain(self, namespace: str, data: Mapping[str, str | bytes], *, name: str | None = None) -> Any:
        """An object of the scenario's kind that someone else owns and that declares nothing (it
        carries that owner's metadata, as objects managed by Helm or Flux do)."""
        owned = Declaration({"example.com/owner": "someone-else"}, {"example.com/managed-by": "someone-else"})
        return self.declared(namespace, data, owned, name=name)

    def declared(
        self,
        namespace: str,
        data: Mapping[str, str | bytes],
        declaration: Declaration,
        *,
        name: str | None = None,
    ) -> Any:
        """An object carrying ``declaration`` as given (e.g. the system's poison), its resources applied."""
        source = self.source(namespace, name)
        created = self.driver.create(source, body(source, data, declaration))
        self.driver.apply_resources(declaration)
        return created

    def update(
        self, namespace: str, data: Mapping[str, str | bytes | None], *, name: str | None = None
    ) -> Any:
        return self.driver.update(self.source(namespace, name), data)

    def read(self, namespace: str, name: str | None = None) -> Any | None:
        return self.driver.read(self.kind, namespace, name or self.name)

    def delete(self, namespace: str, name: str | None = None) -> None:
        self.driver.delete(self.kind, namespace, name or self.name)

    # -- observations ---------------------------------------------------------------------------------------
    def assert_copies(
        self, source_ns: str, expected: Iterable[str], *, ignore: Iterable[str] = (), name: str | None = None
    ) -> None:
        """In the whole cluster, objects with this name are exactly the source, anything in ``ignore``
        (checked by the test itself) and, in each expected namespace, the system's copy equal to the
        source (payload, type, no invented metadata)."""
        skip = {source_ns, *ignore}
        source = self.source(source_ns, name)
        source_obj = self.read(source_ns, name)
        assert source_obj is not None, f"source {source.key} is gone"
        actual: dict[str, Any] = {}
        for ns, obj in self.driver.everywhere(source).items():
            if ns in skip:
                continue
            if not self.system.is_copy(obj.metadata.annotations, obj.metadata.labels, source):
                actual[ns] = "not a copy of the source (no bookkeeping of it)"
                continue
            actual[ns] = self.driver.copy_view(obj, source_obj, self.kind)
        want = self.driver.expected_copy_view(source_obj, self.kind)
        assert_mapping_equal(dict.fromkeys(expected, want), actual, "namespace")

    def expect_copies(
        self,
        source_ns: str,
        expected: Iterable[str],
        *,
        description: str,
        ignore: Iterable[str] = (),
        name: str | None = None,
    ) -> float:
        """Wait until `assert_copies` holds; returns the seconds it took."""
        expected, ignore = list(expected), list(ignore)
        return self.wait(
            lambda: self.assert_copies(source_ns, expected, ignore=ignore, name=name), description
        )

    def expect_only_source(self, source_ns: str, *, description: str, name: str | None = None) -> float:
        """Wait until no object with this name exists outside the source's namespace."""
        source = self.source(source_ns, name)

        def only_source() -> None:
            left = sorted(ns for ns in self.driver.everywhere(source) if ns != source_ns)
            assert not left, f"objects named {source.name} still exist in {left}"

        return self.wait(only_source, description)

    def expect_gone(self, namespace: str, *, description: str, name: str | None = None) -> float:
        return self.wait(
            not_found(lambda: self.read(namespace, name), f"{namespace}/{name or self.name}"), description
        )

    def wait(self, check: Callable[[], object], description: str) -> float:
        return timed(check, description=description, timeout=self.slo)

    def latency(self, check: str, seconds: float, **extra: Any) -> None:
        record(
            "latency",
            scenario=f"neutral.{check}",
            seconds=round(seconds, 3),
            implementation=self.system.name,
            **extra,
        )
