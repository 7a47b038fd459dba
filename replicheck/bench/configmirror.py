"""ConfigMirror figures for `make bench` (issue 15 targets): update → 100 replicas p99 (≤ 1 s),
database rows consistent after the replicas (≤ 2 s), RSS with 1000 replicas (≤ 150 MB),
PostgreSQL ready time (≤ 5 s), on a private local cluster and PostgreSQL.

Latencies run from the client's write of the source to the moment a watch on the replicas sees
the new content (what a user experiences); the rows lag is from the last replica seen to the moment
every row holds the new data (polled every 20 ms).

Run alone: ``python -m replicheck.bench.configmirror`` (BENCH_ROUNDS, BENCH_CM_SIZES=100,1000).
"""

from __future__ import annotations

import os
import secrets
import statistics
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psutil
from kubernetes import client

from fixtures.clusters.cluster import Cluster, new_run_id
from fixtures.clusters.local import LocalControlPlane
from fixtures.clusters.watch import CONFIGMAPS, Event, Watch
from fixtures.core.stats import percentile
from fixtures.services.postgres import PostgresServer
from fixtures.systems.configmirror import SYSTEM, ConfigMirrorDriver, rows_of, start_postgres
from fixtures.systems.dialects.configmirror import OWNER_LABEL
from fixtures.systems.packaging import postgres_of
from fixtures.systems.registry import system as system_named

POOL = 8


class ReplicaWatcher:
    """Records when each namespace's replica (owner label) first shows a given value of key ``v``:
    the replicas that exist when it starts, then every change (fixtures.clusters.watch: resumed
    where it ended, re-listed after 410 Gone)."""

    def __init__(self, cluster: Cluster, uid: str) -> None:
        self.cluster, self.uid = cluster, uid
        self.seen: dict[tuple[str, str], float] = {}
        self.cond = threading.Condition()
        self._watch = Watch(
            cluster.api.configuration,
            CONFIGMAPS,
            self._event,
            label_selector=f"{OWNER_LABEL}={uid}",
            name="replica-watch",
        ).start()

    def _event(self, event: Event) -> None:
        if event.type != "DELETED":
            value = (event.object.get("data") or {}).get("v", "")
            with self.cond:
                self.seen.setdefault((event.metadata.get("namespace", ""), value), event.at)
                self.cond.notify_all()

    def wait(self, namespaces: list[str], value: str, timeout: float = 300) -> list[float]:
        deadline = time.monotonic() + timeout
        with self.cond:
            while not all((ns, value) in self.seen for ns in namespaces):
                if not self.cond.wait(deadline - time.monotonic()):
                    missing = [ns for ns in namespaces if (ns, value) not in self.seen]
                    raise TimeoutError(f"{len(missing)} replicas never showed v={value}")
            return [self.seen[(ns, value)] for ns in namespaces]

    def stop(self) -> None:
        self._watch.stop()


def _namespaces(cluster: Cluster, hint: str, count: int) -> list[str]:
    with ThreadPoolExecutor(POOL) as pool:
        return list(pool.map(lambda i: cluster.create_namespace(f"{hint}{i}"), range(count)))


def _rows_match(
    pg: PostgresServer, ops: str, name: str, targets: list[str], value: str, timeout: float = 120
) -> float:
    t0 = time.monotonic()
    want = {(ns, "cfg"): {"v": value} for ns in targets}
    while time.monotonic() - t0 < timeout:
        try:
            if rows_of(pg, ops, name) == want:
                return time.monotonic()
        except AssertionError:
            pass
        time.sleep(0.02)  # a poll interval: the database has no watch to wait on
    raise TimeoutError(f"rows never matched v={value}")


def _fanout(system: ConfigMirrorDriver, pg: PostgresServer, count: int, updates: int, pid: int) -> dict:
    cluster = system.cluster
    ops, src = cluster.create_namespace("ops"), cluster.create_namespace("src")
    system.credentials_secret(ops, "db", postgres=pg)
    targets = _namespaces(cluster, f"t{count}-", count)
    cluster.core.create_namespaced_config_map(
        src,
        client.V1ConfigMap(
            metadata=client.V1ObjectMeta(name="cfg", labels={"bench": "yes"}), data={"v": "0"}
        ),
    )
    name = f"bench-{count}-{secrets.token_hex(2)}"
    t0 = time.monotonic()
    mirror = system.create(
        system.declare(
            name,
            ops,
            src,
            targets,
            {"matchLabels": {"bench": "yes"}},
            {"enabled": True, "secretRef": {"name": "db"}},
        )
    )
    watcher = ReplicaWatcher(cluster, mirror["metadata"]["uid"])
    create_all = max(watcher.wait(targets, "0")) - t0
    latencies, lasts, lags = [], [], []
    for i in range(1, updates + 1):
        value = str(i)
        t0 = time.monotonic()
        cluster.core.patch_namespaced_config_map("cfg", src, {"data": {"v": value}})
        seen = watcher.wait(targets, value)
        latencies += [t - t0 for t in seen]
        lasts.append(max(seen) - t0)
        lags.append(_rows_match(pg, ops, name, targets, value) - max(seen))
    watcher.stop()
    rss = psutil.Process(pid).memory_info().rss / 2**20
    return {
        f"replicas_{count}_create_all_s": create_all,
        f"replicas_{count}_update_p50_s": statistics.median(latencies),
        f"replicas_{count}_update_p99_s": percentile(latencies, 99),
        f"replicas_{count}_update_last_s_max": max(lasts),
        f"replicas_{count}_rows_after_replicas_s_max": max(lags),
        f"replicas_{count}_operator_rss_mb": rss,
    }


def bench_configmirror(sizes: tuple[int, ...] = (100, 1000), rounds: int = 3, updates: int = 5) -> dict:
    plane = LocalControlPlane(run_id=new_run_id(), owner_pid=os.getpid()).start()
    cluster = plane.cluster()
    servers: list[PostgresServer] = []
    deployment = None
    mirror = system_named(SYSTEM)
    try:
        for i in range(rounds):
            servers.append(start_postgres(cluster, f"bench{i}"))
        figures: dict = {
            "postgres_version": servers[0].version,
            "postgres_ready_s_median": statistics.median(s.timings["ready_s"] for s in servers),
            "postgres_ready_s_max": max(s.timings["ready_s"] for s in servers),
        }
        for server in servers:  # measured; the system deploys its own
            server.stop()
        deployment = mirror.deploy(
            cluster, Path(plane.run_dir) / "configmirror", extra_args=["--no-leader-elect"]
        )
        pid = deployment.replicas[0].child_pid()
        postgres = postgres_of(deployment)
        assert pid is not None
        assert postgres is not None
        system = ConfigMirrorDriver(cluster, postgres)
        for size in sizes:
            figures.update(_fanout(system, postgres, size, updates if size <= 100 else 2, pid))
        return figures
    finally:
        if deployment:
            mirror.undeploy(deployment)  # the operator and its PostgreSQL
        for server in servers:
            server.stop()
        cluster.close()
        plane.stop()


LABELS = {
    "postgres_ready_s_median": "PostgreSQL initdb + start + role/database, median (s; target 5)",
    "replicas_100_update_p99_s": "source update to 100 replicas, p99 (s; target 1)",
    "replicas_100_rows_after_replicas_s_max": "rows consistent after the last of 100 replicas, worst (s; target 2)",  # noqa: E501
    "replicas_1000_operator_rss_mb": "operator RSS with 1000 replicas (MB; target 150)",
}


def main() -> int:
    from rich.console import Console
    from rich.table import Table

    from replicheck.bench.run import merge_bench

    sizes = tuple(int(x) for x in os.environ.get("BENCH_CM_SIZES", "100,1000").split(","))
    figures = bench_configmirror(sizes, int(os.environ.get("BENCH_ROUNDS", "3")))
    table = Table("figure", "value", title="ConfigMirror bench")
    for key, value in figures.items():
        table.add_row(LABELS.get(key, key), f"{value:.3f}" if isinstance(value, float) else str(value))
    Console().print(table)
    merge_bench("configmirror", figures)
    return 0


if __name__ == "__main__":
    sys.exit(main())
