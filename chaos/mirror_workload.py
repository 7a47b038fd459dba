"""The ConfigMirror chaos workload: one ConfigMirror (with its PostgreSQL) replicating labelled
ConfigMaps from a source namespace to target namespaces, and the steady-state check the
ConfigMirror experiments share: every matching ConfigMap is replicated to every target, and the
database rows equal the replicated set.

It has the two members the generic chaos plumbing asks of a workload (``consistency`` for
``chaos.probes.copies_consistent``, ``canaries`` for the leak check), so the ConfigMirror
experiments reuse the generic probes and journal checks; the database-specific checks are here.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Any

import psycopg
from kubernetes import client

from fixtures.clusters.cluster import Cluster
from fixtures.services.postgres import PostgresServer
from fixtures.systems.configmirror import ConfigMirrorDriver, rows_of

LABELS = {"replicheck.io/chaos": "mirror"}
SELECTOR = {"matchLabels": LABELS}
CREDENTIALS = "chaos-db"  # the Secret the ConfigMirror's secretRef names


@dataclass
class MirrorWorkload:
    system: ConfigMirrorDriver
    postgres: PostgresServer
    ops: str
    source_ns: str
    targets: list[str]
    mirror: dict[str, Any]
    sources: list[str]
    version: int = 1
    bystander: str = "not-selected"
    canaries: set[str] = field(default_factory=set)

    @property
    def cluster(self) -> Cluster:
        return self.system.cluster

    @property
    def name(self) -> str:
        return self.mirror["metadata"]["name"]

    @classmethod
    def create(
        cls, system: ConfigMirrorDriver, postgres: PostgresServer, *, sources: int, targets: int, hint: str
    ) -> MirrorWorkload:
        """Namespaces, credentials Secret, ``sources`` matching ConfigMaps + one bystander, the CR."""
        run = f"{hint}-{secrets.token_hex(3)}"
        core = system.cluster.core
        ops, source = f"{run}-ops", f"{run}-src"
        target_ns = [f"{run}-t{i}" for i in range(targets)]
        for ns in [ops, source, *target_ns]:
            core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=ns)))
        system.credentials_secret(ops, CREDENTIALS, postgres=postgres)
        names = [f"cfg-{i}" for i in range(sources)]
        wl = cls(system, postgres, ops, source, target_ns, {}, names)
        wl.canaries = {postgres.password, postgres.superuser_password} - {""}
        for name in names:
            wl._put(name, LABELS, create=True)
        wl._put(wl.bystander, {"replicheck.io/chaos": "other"}, create=True)
        db = {"enabled": True, "secretRef": {"name": CREDENTIALS, "namespace": ops}}
        wl.mirror = system.create(system.declare(f"{run}-mirror", ops, source, target_ns, SELECTOR, db))
        return wl

    def _put(self, name: str, labels: dict[str, str], *, create: bool = False) -> None:
        data = {"version": str(self.version), "payload": f"{name}-v{self.version}"}
        core = self.cluster.core
        if create:
            body = client.V1ConfigMap(metadata=client.V1ObjectMeta(name=name, labels=labels), data=data)
            core.create_namespaced_config_map(self.source_ns, body)
        else:
            core.patch_namespaced_config_map(name, self.source_ns, {"data": data})

    def update_sources(self) -> int:
        """New data on every matching source; returns the new version."""
        self.version += 1
        for name in self.sources:
            self._put(name, LABELS)
        return self.version

    def add_source(self, name: str) -> None:
        """A new matching ConfigMap (e.g. created while the database is down)."""
        self._put(name, LABELS, create=True)
        self.sources.append(name)

    # --- observation ---------------------------------------------------------------------------

    def expected(self) -> dict[tuple[str, str], dict[str, str]]:
        """(target namespace, name) → data: what every target should hold, read from the sources."""
        items = self.cluster.core.list_namespaced_config_map(
            self.source_ns, label_selector=",".join(f"{k}={v}" for k, v in LABELS.items())
        ).items
        return {(t, cm.metadata.name): dict(cm.data or {}) for t in self.targets for cm in items}

    def replicated(self) -> dict[tuple[str, str], dict[str, str]]:
        return {k: dict(cm.data or {}) for k, cm in self.system.replicas(self.mirror, self.targets).items()}

    def rows(self) -> dict[tuple[str, str], Any]:
        return rows_of(self.postgres, self.ops, self.name)

    def replicas_consistent(self) -> dict[str, Any]:
        """Every matching ConfigMap replicated to every target with its data, nothing else replicated.
        ``checked``: the expected replicas compared (none: the check has no evidence, see
        chaos.scoring.judged)."""
        want, have = self.expected(), self.replicated()
        missing = sorted(f"{ns}/{n}" for ns, n in want.keys() - have.keys())
        extra = sorted(f"{ns}/{n}" for ns, n in have.keys() - want.keys())
        stale = sorted(f"{ns}/{n}" for (ns, n) in want.keys() & have.keys() if have[(ns, n)] != want[(ns, n)])
        bystander = not any(n == self.bystander for _, n in have)
        ok = not (missing or extra or stale) and bystander
        return {
            "ok": ok,
            "checked": len(want),
            "bystander_untouched": bystander,
            "replicas": len(have),
            "expected": len(want),
            "missing": missing[:10],
            "extra": extra[:10],
            "stale": stale[:10],
        }

    def consistency(self) -> dict[str, Any]:
        """The steady state: replicas consistent, and the database rows equal the replicated set."""
        out = self.replicas_consistent()
        try:
            rows = self.rows()
        except (psycopg.OperationalError, AssertionError) as exc:
            return {**out, "ok": False, "rows": f"unreadable: {type(exc).__name__}"}
        have = self.replicated()
        rows_missing = sorted(f"{ns}/{n}" for ns, n in have.keys() - rows.keys())
        rows_extra = sorted(f"{ns}/{n}" for ns, n in rows.keys() - have.keys())
        rows_stale = sorted(
            f"{ns}/{n}" for (ns, n) in have.keys() & rows.keys() if rows[(ns, n)] != have[(ns, n)]
        )
        rows_ok = not (rows_missing or rows_extra or rows_stale)
        return {
            **out,
            "ok": out["ok"] and rows_ok,
            "rows": len(rows),
            "rows_missing": rows_missing[:10],
            "rows_extra": rows_extra[:10],
            "rows_stale": rows_stale[:10],
        }

    def row_count(self) -> int:
        """Rows in the configmaps table (what :meth:`duplicate_rows` looked at)."""
        with self.postgres.connect() as conn:
            row = conn.execute("SELECT count(*) FROM configmaps").fetchone()
        return int(row[0]) if row else 0

    def duplicate_rows(self) -> int:
        """Rows sharing the seed's UNIQUE key (there must be none, whatever happened)."""
        with self.postgres.connect() as conn:
            row = conn.execute(
                "SELECT count(*) FROM (SELECT name, namespace, configmirror_namespace, configmirror_name "
                "FROM configmaps GROUP BY 1, 2, 3, 4 HAVING count(*) > 1) d"
            ).fetchone()
        return int(row[0]) if row else 0
