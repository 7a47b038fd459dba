"""The workload an experiment disturbs: sources, the namespaces they replicate to, and bystanders.

Values are random per write and remembered only as *canaries*: after a run the wrapper scans the
journal, the operator logs and the records for them (plain and base64), so a leak of Secret data is a
test failure. Every comparison here is by digest (fixtures.core.redact), never by value.
"""

from __future__ import annotations

import secrets
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from kubernetes import client
from kubernetes.client.rest import ApiException

from fixtures.clusters.cluster import Cluster
from fixtures.clusters.watch import SECRETS, Event, Watch
from fixtures.core.encoding import b64
from fixtures.core.lookup import named
from fixtures.core.redact import digest, secret_view
from fixtures.systems import ReplicationSystem, Source, Target
from fixtures.systems.driver import Driver

POOL = 8
DOCKERCONFIG = "kubernetes.io/dockerconfigjson"


def docker_config(password: str, registry: str = "registry.replicheck.invalid") -> str:
    """A Docker config JSON like the seed's oci-creds (the registry host is never contacted)."""
    import json

    auth = b64(f"replicheck-bot:{password}")
    return json.dumps(
        {"auths": {registry: {"username": "replicheck-bot", "password": password, "auth": auth}}}
    )


@dataclass
class Workload:
    """Sources in one namespace, each replicated to every target namespace by ``system`` (declared
    and recognised through the system interface, fixtures/systems)."""

    cluster: Cluster
    system: ReplicationSystem
    source_ns: str
    sources: list[str]
    targets: list[str]
    bystanders: dict[str, dict[str, str]] = field(default_factory=dict)  # ns -> {name, rv}
    canaries: set[str] = field(default_factory=set)
    generation: int = 0
    history: dict[str, list[dict]] = field(default_factory=dict)  # name -> redacted views, oldest first
    types: dict[str, str] = field(default_factory=dict)

    # -- setup ----------------------------------------------------------------------------------------
    @classmethod
    def create(
        cls,
        cluster: Cluster,
        system: ReplicationSystem,
        *,
        sources: int = 2,
        targets: int = 10,
        hint: str = "wl",
        bystander: bool | None = None,
        docker_source: bool = False,
    ) -> Workload:
        """``bystander`` None: one, unless the system's profile documents that it adopts an
        unrelated same-name object (known failure ``neutral.unrelated``, External Secrets Operator):
        that failure is judged once, by N5, and the experiment then judges what it is about instead
        of failing its steady state on it before its fault."""
        if bystander is None:
            bystander = "neutral.unrelated" not in system.known_failures
        source_ns = cluster.create_namespace(f"{hint}-src")
        with ThreadPoolExecutor(POOL) as pool:
            names = list(pool.map(lambda i: cluster.create_namespace(f"{hint}-t{i}"), range(targets)))
        wl = cls(cluster, system, source_ns, [f"creds-{i}" for i in range(sources)], names)
        if bystander and names:
            wl.add_bystander(names[0], wl.sources[0])  # before the source exists: never a copy
        for name in wl.sources:
            wl.create_source(name, names)
        if docker_source:
            wl.sources.append("oci-creds")
            wl.create_source("oci-creds", names, type_=DOCKERCONFIG)
        return wl

    def _payload(self, name: str | None = None, type_: str = "Opaque") -> dict[str, str]:
        value = secrets.token_hex(12)
        self.canaries.add(value)
        data = {"password": b64(value), "username": b64("replicheck")}
        if type_ == DOCKERCONFIG:
            data = {".dockerconfigjson": b64(docker_config(value))}
        self.canaries.update(data[k] for k in data if k != "username")
        if name is not None:
            self.history.setdefault(name, []).append(
                {"type": type_, "data": {k: digest(v) for k, v in data.items()}}
            )
        return data

    def create_source(
        self,
        name: str,
        targets: list[str],
        annotations: dict[str, str] | None = None,
        type_: str = "Opaque",
        *,
        target: Target | None = None,
    ) -> None:
        """A source replicating to exactly ``targets`` (or to ``target``: patterns, a selector);
        ``annotations`` given are used verbatim instead (an experiment's own declaration in the
        system's dialect, e.g. a poison source)."""
        self.types[name] = type_
        source = Source("Secret", self.source_ns, name)
        declaration = None
        if annotations is None:
            declaration = self.system.declare(source, target or self.system.target_for(targets))
        meta = declaration.metadata() if declaration else {"annotations": annotations, "labels": {}}
        self.cluster.core.create_namespaced_secret(
            self.source_ns,
            client.V1Secret(
                metadata=client.V1ObjectMeta(
                    name=name, annotations=meta["annotations"] or None, labels=meta["labels"] or None
                ),
                data=self._payload(name, type_),
                type=type_,
            ),
        )
        if declaration is not None:
            Driver(self.system, self.cluster).apply_resources(declaration)

    def add_bystander(self, namespace: str, source_name: str) -> None:
        """A user's own Secret with the *same name* as a source, in a namespace the source lists.

        It is not a reflection, so the operator must neither overwrite nor delete it (H2, K1); an
        unchanged resourceVersion proves it. That namespace therefore never holds a copy of the source.
        """
        made = self.cluster.core.create_namespaced_secret(
            namespace,
            client.V1Secret(metadata=client.V1ObjectMeta(name=source_name), data=self._payload()),
        )
        self.bystanders[namespace] = {"name": source_name, "rv": made.metadata.resource_version}

    def intact(self) -> dict[str, Any]:
        """Every expected copy exists and holds *some* version its source had (old or new, never
        garbage), and no bystander was touched: what must hold while the operator cannot write.
        ``checked``: the expected copies looked at (the check's evidence)."""
        problems: list[str] = []
        checked = 0
        for name in self.sources:
            known = self.history.get(name, [])
            found = self.copies_of(name)
            for ns in self.expected_targets(name):
                checked += 1
                copy = found.get(ns)
                if copy is None:
                    problems.append(f"{ns}/{name}: missing (deleted?)")
                elif secret_view(copy) not in known:
                    problems.append(f"{ns}/{name}: data matches no version of the source (corrupted)")
        problems.extend(self.bystander_problems())
        return {
            "ok": not problems,
            "problems": problems[:25],
            "problem_count": len(problems),
            "checked": checked,
        }

    def expected_targets(self, name: str) -> list[str]:
        taken = {ns for ns, info in self.bystanders.items() if info["name"] == name}
        return [ns for ns in self.targets if ns not in taken]

    # -- changes --------------------------------------------------------------------------------------
    def update_sources(self, names: list[str] | None = None) -> dict[str, str]:
        """New random data on the given (default: all) sources; returns name -> new resourceVersion."""
        self.generation += 1
        out = {}
        for name in names or self.sources:
            data = self._payload(name, self.types.get(name, "Opaque"))
            patched = self.cluster.core.patch_namespaced_secret(name, self.source_ns, {"data": data})
            out[name] = patched.metadata.resource_version
        return out

    # -- observation ----------------------------------------------------------------------------------
    def copies_of(self, name: str) -> dict[str, Any]:
        """Every Secret called ``name`` in the cluster, by namespace (one list call)."""
        return named(self.cluster.core, name)

    def consistency(self, names: list[str] | None = None) -> dict[str, Any]:
        """Compare every copy with its source (digests only). ``ok`` plus what differs, by namespace;
        ``checked``: the expected copies (source, target) compared (the check's evidence), ``copies``:
        those found."""
        problems: list[str] = []
        copies_total = 0
        checked = 0
        for name in names or self.sources:
            checked += len(self.expected_targets(name))
            try:
                source = self.cluster.core.read_namespaced_secret(name, self.source_ns)
            except ApiException as exc:
                problems.append(f"source {self.source_ns}/{name}: HTTP {exc.status}")
                continue
            want = secret_view(source)
            found = self.copies_of(name)
            expected = self.expected_targets(name)
            for ns in expected:
                copy = found.get(ns)
                if copy is None:
                    problems.append(f"{ns}/{name}: missing")
                    continue
                copies_total += 1
                source_ref = Source("Secret", self.source_ns, name)
                if not self.system.is_copy(copy.metadata.annotations, copy.metadata.labels, source_ref):
                    problems.append(f"{ns}/{name}: not {self.system.name}'s copy of {self.source_ns}/{name}")
                elif secret_view(copy) != want:
                    problems.append(f"{ns}/{name}: data differs from the source")
            extra = sorted(set(found) - set(expected) - {self.source_ns} - set(self.bystanders))
            problems.extend(f"{ns}/{name}: unexpected copy outside the listed namespaces" for ns in extra)
        problems.extend(self.bystander_problems())
        return {
            "ok": not problems,
            "problems": problems[:25],
            "problem_count": len(problems),
            "copies": copies_total,
            "checked": checked,
        }

    def bystander_problems(self) -> list[str]:
        out = []
        for ns, info in self.bystanders.items():
            try:
                obj = self.cluster.core.read_namespaced_secret(info["name"], ns)
            except ApiException as exc:
                out.append(f"bystander {ns}/{info['name']}: HTTP {exc.status} (deleted?)")
                continue
            if obj.metadata.resource_version != info["rv"]:
                out.append(f"bystander {ns}/{info['name']}: modified (resourceVersion changed)")
        return out


class CopyVersionWatcher:
    """Watches the copies of the workload's sources and remembers, per copy, the sequence of source
    versions it carried (the system's ``version_of``; Reflector dialect: ``reflected-version``): a
    copy going *back* to an older version means some writer replayed stale data (a deposed leader).
    Changes from its start on (fixtures.clusters.watch, ``from_now``): every reconnect resumes from
    the last resourceVersion seen, a 410 re-lists (the copies' versions then, appended like events);
    it stops by itself after ``max_seconds``."""

    def __init__(self, wl: Workload, max_seconds: float = 180.0) -> None:
        self.wl = wl
        self.names = set(wl.sources)
        self.versions: dict[str, list[int]] = {}
        self._watch = Watch(
            wl.cluster.api.configuration,
            SECRETS,
            self._event,
            from_now=True,
            lifetime=max_seconds,
            name="copy-version-watcher",
        ).start()

    @property
    def errors(self) -> int:
        """Watch requests that failed (each was retried from where it stood)."""
        return self._watch.errors

    def _event(self, event: Event) -> None:
        meta = event.metadata
        if event.type == "DELETED" or meta.get("name") not in self.names:
            return
        if meta.get("namespace") == self.wl.source_ns:
            return
        version = self.wl.system.version_of(meta.get("annotations"), meta.get("labels")) or ""
        if version.isdigit():
            seq = self.versions.setdefault(f"{meta.get('namespace')}/{meta.get('name')}", [])
            if not seq or seq[-1] != int(version):
                seq.append(int(version))

    def stop(self, timeout: float = 15.0) -> None:
        self._watch.stop(timeout)

    def regressions(self) -> dict[str, list[int]]:
        """Copies whose version sequence went backwards (with the sequence, for the report)."""
        out = {}
        for key, seq in self.versions.items():
            if any(b < max(seq[: i + 1]) for i, b in enumerate(seq[1:])):
                out[key] = seq
        return out
