"""`make bench`, every system side by side: the same figures for each system it can run, one system
at a time on one local cluster, each next to its floor measured in the same window.

Why a second bench beside ``replicheck/bench/operator.py``: that one measures the bundled operator
in depth (Reflector annotations, its metrics, its write path). A team choosing a controller needs the
same few figures for each candidate, taken the same way: so this one declares through each system's
profile (``fixtures/systems``: ``Driver``) and sees copies by their *content* (a digest of the data
the watch delivers), which every system has, rather than by a version annotation only some write.

Figures, per system (``<system>.<figure>``):

* ``update_100``/``update_1000``: a source update → every one of N copies at the new content
  (p50 and p99 over all copies of ``BENCH_SYSTEM_UPDATES`` updates, and the last copy);
* ``new_namespace``: a namespace the declaration names is created → its copy (p50, p99);
* ``restore``: a copy deleted by hand → back (p50, max);
* ``rss_mb``: the controller's resident memory with 1000 copies; ``cpu_ms_per_copy``: its CPU time
  per copy written during the updates;
* the floor of each, in the same window: the same data written into the same namespaces by the
  minimal client (tools/floor, concurrency ``FLOOR_CONCURRENCY``) and a client creating a namespace
  then writing into it; ``*_x_floor`` is the ratio.

A system the machine cannot run is a row that says why (a controller you bring without its binary).
Latency starts when the write is sent and ends when a watch on the copies' kind sees the content.
"""

from __future__ import annotations

import hashlib
import json
import os
import statistics
import threading
import time
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import psutil
from kubernetes import client

from fixtures.clusters.cluster import Cluster, new_run_id
from fixtures.clusters.local import LocalControlPlane
from fixtures.clusters.watch import CONFIGMAPS, SECRETS, Event, Watch
from fixtures.clusters.workloads import Deployment, main_pid
from fixtures.core.errors import SetupError
from fixtures.core.stats import percentile
from fixtures.systems import Names, ReplicationSystem, Source, registered, system
from fixtures.systems.driver import Driver
from fixtures.systems.packaging import COMMAND_ENV
from replicheck.bench.floor import FloorClient, Write
from reports import bench as report_bench

POOL = 8
FLOOR_CONCURRENCY = 8
Key = tuple[str, str, str]  # namespace, name, content digest


def content_digest(kind: str, obj: Mapping[str, Any]) -> str:
    """A digest of an object's payload (data, and binaryData of a ConfigMap): what "the copy holds
    the source's content" compares, whatever bookkeeping a system writes."""
    payload = {"data": obj.get("data") or {}}
    if kind == "ConfigMap":
        payload["binaryData"] = obj.get("binaryData") or {}
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]


class ContentWatcher:
    """One watch on every object of one kind from now on: the first time each (namespace, name,
    content) was seen (fixtures.clusters.watch: resumed where it ended, re-listed after 410)."""

    def __init__(self, cluster: Cluster, kind: str) -> None:
        self.kind = kind
        self.seen: dict[Key, float] = {}
        self.cond = threading.Condition()
        self._watch = Watch(
            cluster.api.configuration,
            SECRETS if kind == "Secret" else CONFIGMAPS,
            self._event,
            from_now=True,
            timeout_seconds=600,
            name=f"bench-systems-{kind}",
        ).start()

    def _event(self, event: Event) -> None:
        if event.type == "DELETED":
            return
        meta = event.metadata
        key = (str(meta.get("namespace")), str(meta.get("name")), content_digest(self.kind, event.object))
        with self.cond:
            self.seen.setdefault(key, event.at)
            self.cond.notify_all()

    def forget(self, key: Key) -> None:
        with self.cond:
            self.seen.pop(key, None)

    def wait(self, keys: list[Key], timeout: float) -> list[float]:
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                missing = [k for k in keys if k not in self.seen]
                if not missing:
                    return [self.seen[k] for k in keys]
                if not self.cond.wait(max(0.0, deadline - time.monotonic())) and time.monotonic() >= deadline:
                    raise TimeoutError(f"{len(missing)} of {len(keys)} never seen within {timeout:g}s")

    def stop(self) -> None:
        self._watch.stop()


def _encoded(kind: str, data: Mapping[str, str]) -> dict[str, str]:
    import base64

    if kind == "ConfigMap":
        return dict(data)
    return {k: base64.b64encode(v.encode()).decode() for k, v in data.items()}


def _path(kind: str, namespace: str, name: str = "") -> str:
    plural = "secrets" if kind == "Secret" else "configmaps"
    return f"/api/v1/namespaces/{namespace}/{plural}" + (f"/{name}" if name else "")


def _cpu_s(pid: int | None) -> float:
    if not pid:
        return 0.0
    times = psutil.Process(pid).cpu_times()
    return times.user + times.system


def _namespaces(cluster: Cluster, hint: str, count: int) -> list[str]:
    with ThreadPoolExecutor(POOL) as pool:
        return list(pool.map(lambda i: cluster.create_namespace(f"{hint}{i}"), range(count)))


class SystemBench:
    """One system deployed on the shared cluster, measured, and stopped."""

    def __init__(
        self, cluster: Cluster, target: ReplicationSystem, deployment: Deployment, timeout: float
    ) -> None:
        self.cluster = cluster
        self.system = target
        self.deployment = deployment
        self.kind = next(k for k in ("Secret", "ConfigMap") if k in target.kinds)
        self.driver = Driver(target, cluster)
        self.watcher = ContentWatcher(cluster, self.kind)
        self.timeout = timeout
        self.token = cluster.service_account_token(deployment.namespace, deployment.service_account)
        self.created: list[str] = []

    def ns(self, hint: str, count: int) -> list[str]:
        made = _namespaces(self.cluster, f"{self.system.name[:8]}-{hint}", count)
        self.created += made
        return made

    def close(self) -> None:
        self.watcher.stop()
        with ThreadPoolExecutor(POOL) as pool:
            list(pool.map(self.cluster.delete_namespace, self.created))

    def _declare(self, name: str, targets: list[str], data: Mapping[str, str]) -> Source:
        src = self.ns("src", 1)[0]
        source = Source(self.kind, src, name)
        self.driver.create_source(source, data, Names(targets))
        return source

    def _update(self, source: Source, data: Mapping[str, str]) -> float:
        t0 = time.monotonic()
        self.driver.patch(self.kind, source.namespace, source.name, {"data": _encoded(self.kind, data)})
        return t0

    def _keys(self, namespaces: Iterable[str], name: str, data: Mapping[str, str]) -> list[Key]:
        digest = content_digest(self.kind, {"data": _encoded(self.kind, data)})
        return [(ns, name, digest) for ns in namespaces]

    def fanout(self, count: int, updates: int) -> dict[str, Any]:
        targets = self.ns(f"f{count}-", count)
        name = f"fan{count}"
        first = {"v": "0"}
        t0 = time.monotonic()
        source = self._declare(name, targets, first)
        created = max(self.watcher.wait(self._keys(targets, name, first), self.timeout)) - t0
        ours: list[float] = []
        last: list[float] = []
        floors: list[float] = []
        cpu = 0.0
        pid = main_pid(self.cluster, self.deployment)
        floor = FloorClient(self.cluster, self.token, FLOOR_CONCURRENCY)
        try:
            floor_name = f"floor{count}"
            creates = [
                Write(
                    "POST",
                    _path(self.kind, ns),
                    {"metadata": {"name": floor_name}, "data": _encoded(self.kind, first)},
                )
                for ns in targets
            ]
            t_floor, _ = floor.run(creates)
            self.watcher.wait(self._keys(targets, floor_name, first), self.timeout)
            for i in range(1, updates + 1):
                data = {"v": f"{i}-{os.urandom(4).hex()}"}
                cpu0 = _cpu_s(pid)
                t0 = self._update(source, data)
                seen = [t - t0 for t in self.watcher.wait(self._keys(targets, name, data), self.timeout)]
                cpu += _cpu_s(pid) - cpu0
                ours += seen
                last.append(max(seen))
                patch = [{"op": "add", "path": "/data", "value": _encoded(self.kind, data)}]
                writes = [
                    Write("PATCH", _path(self.kind, ns, floor_name), patch, "application/json-patch+json")
                    for ns in targets
                ]
                t_floor, _ = floor.run(writes)
                keys = self._keys(targets, floor_name, data)
                floors += [t - t_floor for t in self.watcher.wait(keys, self.timeout)]
        finally:
            floor.close()
        return {
            f"create_{count}_all_s": created,
            f"update_{count}_p50_s": statistics.median(ours),
            f"update_{count}_p99_s": percentile(ours, 99),
            f"update_{count}_last_s": max(last),
            f"update_{count}_floor_p99_s": percentile(floors, 99),
            **({"cpu_ms_per_copy": 1000 * cpu / (updates * count)} if pid else {}),
            f"update_{count}_load_1m": round(os.getloadavg()[0], 1),
        }

    def new_namespace_and_restore(self, rounds: int) -> dict[str, Any]:
        later = [self.cluster.namespace_name(f"{self.system.name[:8]}-late{i}") for i in range(rounds)]
        data = {"v": "late"}
        source = self._declare("late", later, data)
        ours, floors, restored = [], [], []
        for i, ns in enumerate(later):
            t0 = time.monotonic()
            self.cluster.create_namespace(name=ns)
            self.created.append(ns)
            ours.append(self.watcher.wait(self._keys([ns], source.name, data), self.timeout)[0] - t0)
            floor_ns = self.cluster.namespace_name(f"{self.system.name[:8]}-first{i}")
            t0 = time.monotonic()
            self.cluster.create_namespace(name=floor_ns)
            self.created.append(floor_ns)
            self.driver.create(Source(self.kind, floor_ns, "first"), _object(self.kind, "first", data))
            floors.append(self.watcher.wait(self._keys([floor_ns], "first", data), self.timeout)[0] - t0)
        for ns in later:
            key = self._keys([ns], source.name, data)[0]
            self.watcher.forget(key)
            t0 = time.monotonic()
            self.driver.delete(self.kind, ns, source.name)
            restored.append(self.watcher.wait([key], self.timeout)[0] - t0)
        return {
            "new_namespace_p50_s": statistics.median(ours),
            "new_namespace_p99_s": percentile(ours, 99),
            "new_namespace_floor_p99_s": percentile(floors, 99),
            "restore_p50_s": statistics.median(restored),
            "restore_max_s": max(restored),
        }

    def rss_mb(self) -> float | None:
        pid = main_pid(self.cluster, self.deployment)
        return psutil.Process(pid).memory_info().rss / 2**20 if pid else None


def _object(kind: str, name: str, data: Mapping[str, str]) -> Any:
    meta = client.V1ObjectMeta(name=name)
    if kind == "Secret":
        return client.V1Secret(metadata=meta, data=_encoded(kind, data))
    return client.V1ConfigMap(metadata=meta, data=dict(data))


def with_ratios(figures: dict[str, Any]) -> dict[str, Any]:
    """``<figure>_x_floor`` next to each figure with a floor taken in the same window."""
    out = dict(figures)
    for ours, floor in (
        ("update_100_p99_s", "update_100_floor_p99_s"),
        ("update_1000_p99_s", "update_1000_floor_p99_s"),
        ("new_namespace_p99_s", "new_namespace_floor_p99_s"),
    ):
        if isinstance(out.get(ours), int | float) and out.get(floor):
            out[ours.removesuffix("_s") + "_x_floor"] = out[ours] / out[floor]
    return out


def candidates(names: Iterable[str] | None = None) -> list[tuple[ReplicationSystem | None, str, str]]:
    """(system, name, why not) for every system to measure: those this machine can run as local
    processes; a controller you bring only with its binary (``REPLICHECK_IMPLEMENTATION_COMMAND``)."""
    out: list[tuple[ReplicationSystem | None, str, str]] = []
    for name in names or registered():
        item = system(name)
        if item.packaging is None or not item.packaging.runs_as_processes:
            out.append((None, name, "runs only from its chart (a cluster with Pods): not on this bench"))
        elif item.takes_command:
            command = os.environ.get(COMMAND_ENV)
            if not command:
                out.append((None, name, f"a controller you bring: set {COMMAND_ENV} to measure it"))
            else:
                out.append((item.with_command(command), name, ""))
        else:
            out.append((item, name, ""))
    return out


def bench_systems(
    names: Iterable[str] | None = None,
    sizes: tuple[int, ...] = (100, 1000),
    updates: int = 3,
    rounds: int = 10,
    timeout: float = 600.0,
) -> dict[str, Any]:
    """Every candidate system on one local cluster, one at a time: ``{system: figures}`` (a system
    that could not be measured: ``{"skipped": why}`` or ``{"error": first line}``)."""
    plane = LocalControlPlane(run_id=new_run_id(), owner_pid=os.getpid()).start()
    cluster = plane.cluster()
    results: dict[str, Any] = {}
    try:
        for item, name, why in candidates(names):
            if item is None:
                results[name] = {"skipped": why}
                continue
            run_dir = Path(plane.run_dir) / f"bench-{name}"
            try:
                deployment = item.deploy(cluster, run_dir)
            except SetupError as exc:
                results[name] = {"error": f"did not deploy: {str(exc).splitlines()[0]}"}
                continue
            bench = SystemBench(cluster, item, deployment, timeout)
            figures: dict[str, Any] = {"kind": bench.kind}
            try:
                for size in sizes:
                    figures.update(bench.fanout(size, updates if size <= 100 else 1))
                figures["rss_mb"] = bench.rss_mb()
                figures.update(bench.new_namespace_and_restore(rounds))
            except (TimeoutError, SetupError) as exc:
                figures["error"] = str(exc).splitlines()[0]
            finally:
                bench.close()
                item.undeploy(deployment)
            results[name] = with_ratios(figures)
    finally:
        cluster.close()
        plane.stop()
    return results


def note(sizes: tuple[int, ...], updates: int, rounds: int) -> str:
    """How the figures were taken, for the table's caption."""
    return (
        f"fan-outs of {', '.join(map(str, sizes))} copies ({updates} updates at 100 or fewer, one at more), "
        f"{rounds} new namespaces and restored copies; floor concurrency {FLOOR_CONCURRENCY}; "
        f"load average {os.getloadavg()[0]:.1f} at the end"
    )


def print_table(section: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title="make bench: systems side by side (floor in brackets)")
    table.add_column("system")
    for _, _, title in report_bench.COLUMNS:
        table.add_column(title)
    for row in report_bench.rows(section):
        table.add_row(row["system"], *(row["cells"] if not row["note"] else [row["note"]]))
    Console().print(table)


SECTION = report_bench.SECTION


def measured() -> dict[str, Any]:
    """The side-by-side section from the environment: ``BENCH_SYSTEMS`` (a comma list; default or
    ``1``: every registered system), ``BENCH_SYSTEM_SIZES`` (100,1000), ``BENCH_SYSTEM_UPDATES``
    (3), ``BENCH_SYSTEM_ROUNDS`` (10)."""
    chosen = os.environ.get("BENCH_SYSTEMS", "1")
    names = [n for n in chosen.split(",") if n] if chosen != "1" else None
    sizes = tuple(int(x) for x in os.environ.get("BENCH_SYSTEM_SIZES", "100,1000").split(","))
    updates = int(os.environ.get("BENCH_SYSTEM_UPDATES", "3"))
    rounds = int(os.environ.get("BENCH_SYSTEM_ROUNDS", "10"))
    t0 = time.monotonic()
    results = bench_systems(names, sizes, updates, rounds)
    return {"results": results, "note": note(sizes, updates, rounds), "seconds": round(time.monotonic() - t0)}


def main() -> int:
    """``python -m replicheck.bench.systems``: the side-by-side bench alone, merged into
    reports/bench.json as its ``systems`` section (``make bench`` runs it too)."""
    from replicheck.bench.run import merge_bench

    section = measured()
    print_table(section)
    print(f"written to {merge_bench(SECTION, section)}")
    return 0


if __name__ == "__main__":
    import sys

    sys.exit(main())
