"""Operator figures for `make bench`, each next to its floor measured in the same run.

The floor is what the API server needs for the same writes issued directly by a minimal client
(tools/floor: same concurrency as the operator's --write-concurrency, same ServiceAccount, warm
connections, the same request shapes: a POST with four annotations, a JSON patch with a
resourceVersion precondition); a figure is then also printed as a ratio to it. Rounds of ours and of the floor
alternate, so a busy shared machine slows both alike.

* fan-out to 10/100/1000 copies: create, and updates → every copy (p50, p99, last copy);
* a new namespace → its copy, against the floor "create the namespace, then write into it" (that
  floor often includes the API server's own 50 ms NamespaceLifecycle wait for a namespace its cache
  has not seen yet, which the operator avoids: see its --namespace-settle-ms);
* the same while a 1000-copy fan-out is in flight (one slow source must not delay another), against
  the same floor taken while the floor client writes the same 1000 updates;
* deleted copy restored; RSS with 1000 copies and N unrelated Secrets;
* scale (``scale_*``), a multi-tenant shape on a fresh cluster: S sources x T namespaces among U
  unrelated Secrets: operator start (initial lists) cold, against the same paginated lists by the
  floor client, and after convergence; first convergence and rotations of every source (3 rounds,
  alternating with the floor; medians, and the worst round's ratio) against the same copy writes by
  the floor client; RSS (now and peak), and the API requests a resync makes.

Next to each figure: the 1-minute load average when it was taken (``*_load_1m``: the machine is
shared, so a ratio to the floor measured alongside is what compares), and the CPU time per copy of
the operator and of the floor client (``*_cpu_ms_per_copy``: a Python operator on a busy machine is
CPU-bound long before the API server is).

Latencies are measured from the moment the write is sent to the moment a watch on Secrets sees the
new content, so they include the API server's watch delay (what a user experiences).
"""

from __future__ import annotations

import base64
import json
import os
import re
import statistics
import threading
import time
import urllib.error
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any

import psutil
from kubernetes import client

from fixtures.clusters.cluster import Cluster, new_run_id
from fixtures.clusters.local import PODS, PROCESSES, LocalControlPlane, LocalProvider
from fixtures.clusters.watch import SECRETS, Event, Watch
from fixtures.clusters.workloads import Deployment, endpoints, main_pid
from fixtures.core.stats import percentile
from fixtures.core.waiting import eventually
from fixtures.systems.dialects.reflector import REFLECTED_VERSION, replicate_to
from fixtures.systems.profiles.bundled import PACKAGE as BUNDLED_PACKAGE
from fixtures.systems.profiles.bundled import SYSTEM as BUNDLED
from replicheck.bench.floor import FloorClient, Write

POOL = 8
LISTED = ("namespaces", "secrets", "configmaps")  # what the operator lists before it is ready
WRITE_CONCURRENCY = 8  # the operator's default --write-concurrency; the floor client uses the same
MARKER = "bench.replicheck.dev/marker"  # what the floor client's writes carry instead of reflected-version
Key = tuple[str, str, str]  # namespace, name, version/marker


def ratio(ours: float | None, floor: float | None) -> float | None:
    """ours / floor, or None when either is missing or the floor is zero."""
    if ours is None or not floor:
        return None
    return ours / floor


def load_1m() -> float:
    """The machine's 1-minute load average, recorded next to each figure (the machine is shared)."""
    return round(os.getloadavg()[0], 1)


def cpu_seconds(pid: int | None) -> float:
    """User + system CPU time of one process so far."""
    assert pid, "the process is not running"
    times = psutil.Process(pid).cpu_times()
    return times.user + times.system


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _metric(
    cluster: Cluster,
    deployment: Deployment,
    name: str,
    exclude: dict[str, str] | None = None,
    only: dict[str, str] | None = None,
) -> float:
    """Sum of a metric's samples, leaving out those with any ``exclude`` label, keeping only those
    with every ``only`` label."""
    _, text = endpoints(cluster, deployment)[0].get("/metrics")
    total = 0.0
    for match in re.finditer(rf"^{name}(?:{{([^}}]*)}})? (\S+)$", text, re.MULTILINE):
        labels = dict(re.findall(r'(\w+)="([^"]*)"', match.group(1) or ""))
        if exclude and any(labels.get(k) == v for k, v in exclude.items()):
            continue
        if only and any(labels.get(k) != v for k, v in only.items()):
            continue
        total += float(match.group(2))
    return total


def _failed_writes(cluster: Cluster, deployment: Deployment) -> float:
    """Write requests the API server refused so far (409 stale version, 5xx, ...): each costs a retry."""
    total = 0.0
    for verb in ("create", "patch", "delete"):
        total += _metric(cluster, deployment, "replicator_api_requests_total", only={"verb": verb})
        for ok in ("200", "201"):
            total -= _metric(
                cluster, deployment, "replicator_api_requests_total", only={"verb": verb, "code": ok}
            )
    return total


class SecretWatcher:
    """One raw watch on every Secret from now on: first time each (namespace, name, version) is seen.

    The version is the copy's reflected-version or the floor client's marker annotation. The watch is
    fixtures.clusters.watch's (raw JSON, no model objects, so tens of thousands of events cost the
    watcher little): the API server ends a watch that falls behind (and at its timeout), and it
    resumes from the last resourceVersion seen, so no event is lost and the times stay first
    sightings; after 410 Gone what exists then counts as seen then (late, never early).
    """

    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster
        self.seen: dict[Key, float] = {}
        self.cond = threading.Condition()
        self._watch = Watch(
            cluster.api.configuration,
            SECRETS,
            self._event,
            from_now=True,
            timeout_seconds=600,
            name="bench-watch",
        ).start()

    @property
    def reconnects(self) -> int:
        """Watch requests after the first (the server ended one, or it fell behind)."""
        return self._watch.reconnects

    def _event(self, event: Event) -> None:
        if event.type != "DELETED":
            self._record(event.metadata, event.at)

    def _record(self, meta: Mapping[str, Any], now: float) -> None:
        notes = meta.get("annotations") or {}
        version = notes.get(REFLECTED_VERSION) or notes.get(MARKER)
        if version:
            with self.cond:
                self.seen.setdefault((meta["namespace"], meta["name"], version), now)
                self.cond.notify_all()

    def forget(self, key: Key) -> None:
        with self.cond:
            self.seen.pop(key, None)

    def count(self, keys: Iterable[Key]) -> int:
        with self.cond:
            return sum(1 for k in keys if k in self.seen)

    def wait(self, keys: list[Key], timeout: float = 300) -> list[float]:
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                missing = [k for k in keys if k not in self.seen]
                if not missing:
                    return [self.seen[k] for k in keys]
                if not self.cond.wait(deadline - time.monotonic()):
                    raise TimeoutError(
                        f"{len(missing)} of {len(keys)} objects never seen, e.g. {missing[:3]}"
                    )

    def stop(self) -> None:
        self._watch.stop()


def _make_namespaces(cluster: Cluster, hint: str, count: int) -> list[str]:
    with ThreadPoolExecutor(POOL) as pool:
        return list(pool.map(lambda i: cluster.create_namespace(f"{hint}{i}"), range(count)))


def _secret_path(ns: str, name: str = "") -> str:
    return f"/api/v1/namespaces/{ns}/secrets" + (f"/{name}" if name else "")


#: On the floor client's Secrets, so their versions can be listed before the floor patches them.
FLOOR_LABEL = "bench.replicheck.dev/floor"


def _floor_notes(marker: str) -> dict[str, str]:
    """Four annotations shaped like a copy's bookkeeping, under a prefix the operator ignores."""
    return {
        "bench.replicheck.dev/reflects": "bench-source/credentials",
        "bench.replicheck.dev/auto-reflects": "True",
        "bench.replicheck.dev/reflected-at": "2026-01-01T00:00:00.000Z",
        MARKER: marker,
    }


def _floor_creates(namespaces: list[str], name: str, marker: str, payload: dict[str, str]) -> list[Write]:
    """What the operator POSTs for a copy: name, four annotations, type, data."""
    body = {
        "metadata": {"name": name, "labels": {FLOOR_LABEL: "1"}, "annotations": _floor_notes(marker)},
        "type": "Opaque",
        "data": payload,
    }
    return [Write("POST", _secret_path(ns), body) for ns in namespaces]


def _floor_versions(cluster: Cluster, name: str | None = None) -> dict[tuple[str, str], str]:
    """resourceVersion of each floor Secret (of one name, or all), listed before a timed batch."""
    listed = cluster.core.list_secret_for_all_namespaces(
        label_selector=FLOOR_LABEL,
        field_selector=f"metadata.name={name}" if name else None,
        _preload_content=False,
    )
    metas = [item["metadata"] for item in json.loads(listed.data)["items"]]
    return {(m["namespace"], m["name"]): m["resourceVersion"] for m in metas}


def _floor_updates(versions: dict[tuple[str, str], str], marker: str, payload: dict[str, str]) -> list[Write]:
    """What the operator sends to update a copy: a JSON patch with a resourceVersion precondition
    that replaces ``data`` and sets four annotations (a merge patch costs the API server less, so
    it would be a lower floor than the operator's own writes have)."""

    def ops(rv: str) -> list[dict[str, Any]]:
        return [
            {"op": "add", "path": "/metadata/resourceVersion", "value": rv},
            {"op": "add", "path": "/data", "value": payload},
            *(
                {"op": "add", "path": "/metadata/annotations/" + key.replace("/", "~1"), "value": value}
                for key, value in _floor_notes(marker).items()
            ),
        ]

    return [
        Write("PATCH", _secret_path(ns, name), ops(rv), "application/json-patch+json")
        for (ns, name), rv in sorted(versions.items())
    ]


def _floor_run(
    floor: FloorClient, watcher: SecretWatcher, writes: list[Write], keys: list[Key]
) -> list[float]:
    t0, _ = floor.run(writes)
    return [t - t0 for t in watcher.wait(keys)]


def _fanout(
    cluster: Cluster,
    deployment: Deployment,
    watcher: SecretWatcher,
    floor: FloorClient,
    count: int,
    updates: int = 3,
) -> tuple[dict, str, list[str]]:
    src = cluster.create_namespace("src")
    targets = _make_namespaces(cluster, f"f{count}-", count)
    name, floor_name = f"fan{count}", f"floor{count}"
    core = cluster.core
    t0 = time.monotonic()
    created = core.create_namespaced_secret(
        src,
        client.V1Secret(
            metadata=client.V1ObjectMeta(name=name, annotations=replicate_to(targets)),
            data={"v": _b64(b"0")},
        ),
    )
    create_last = max(watcher.wait([(ns, name, created.metadata.resource_version) for ns in targets])) - t0
    floor_create = max(
        _floor_run(
            floor,
            watcher,
            _floor_creates(targets, floor_name, "c", {"v": _b64(b"0")}),
            [(ns, floor_name, "c") for ns in targets],
        )
    )
    ours, floors, ours_last, floor_last, writes = [], [], [], [], []
    ours_cpu = floor_cpu = failed = 0.0
    operator_pid = main_pid(cluster, deployment)
    for i in range(1, updates + 1):
        payload = {"v": _b64(str(i).encode())}
        before = _metric(cluster, deployment, "replicator_writes_total")
        cpu0 = cpu_seconds(operator_pid)
        failed0 = _failed_writes(cluster, deployment)
        t0 = time.monotonic()
        updated = core.patch_namespaced_secret(name, src, {"data": payload})
        seen = [
            t - t0 for t in watcher.wait([(ns, name, updated.metadata.resource_version) for ns in targets])
        ]
        ours_cpu += cpu_seconds(operator_pid) - cpu0
        failed += _failed_writes(cluster, deployment) - failed0
        ours += seen
        ours_last.append(max(seen))
        writes.append(_metric(cluster, deployment, "replicator_writes_total") - before)
        marker = f"u{i}"
        floor_writes = _floor_updates(_floor_versions(cluster, floor_name), marker, payload)
        assert len(floor_writes) == count, f"{len(floor_writes)} floor Secrets named {floor_name}"
        cpu0 = cpu_seconds(floor.proc.pid)
        seen = _floor_run(floor, watcher, floor_writes, [(ns, floor_name, marker) for ns in targets])
        floor_cpu += cpu_seconds(floor.proc.pid) - cpu0
        floors += seen
        floor_last.append(max(seen))
    figures = {
        f"copies_{count}_create_all_s": create_last,
        f"copies_{count}_create_floor_s": floor_create,
        f"copies_{count}_update_p50_s": statistics.median(ours),
        f"copies_{count}_update_p99_s": percentile(ours, 99),
        f"copies_{count}_update_last_copy_s_max": max(ours_last),
        f"copies_{count}_update_floor_p99_s": percentile(floors, 99),
        f"copies_{count}_update_floor_last_s_max": max(floor_last),
        f"copies_{count}_writes_per_update": statistics.median(writes) / count,
        f"copies_{count}_failed_writes": failed,
        # CPU per copy written: the operator (watch, plan, write, write-through) vs the floor client
        f"copies_{count}_operator_cpu_ms_per_copy": 1000 * ours_cpu / (updates * count),
        f"copies_{count}_floor_cpu_ms_per_copy": 1000 * floor_cpu / (updates * count),
        f"copies_{count}_load_1m": load_1m(),
    }
    return figures, src, targets


def _late_source(cluster: Cluster, prefix: str) -> tuple[str, str]:
    src = cluster.create_namespace("nsrc")
    source = cluster.core.create_namespaced_secret(
        src,
        client.V1Secret(
            metadata=client.V1ObjectMeta(name="late", annotations=replicate_to([f"^{prefix}-.*"])),
            data={"v": _b64(b"x")},
        ),
    )
    return src, source.metadata.resource_version


def _new_namespace_latency(cluster: Cluster, watcher: SecretWatcher, rounds: int = 20) -> dict:
    prefix = f"{cluster.run_id}-late"
    _, version = _late_source(cluster, prefix)
    ours, floor = [], []
    for i in range(rounds):
        t0 = time.monotonic()
        ns = cluster.create_namespace(name=f"{prefix}-{i}")
        ours.append(watcher.wait([(ns, "late", version)])[0] - t0)
        floor.append(_first_write_into_new_namespace(cluster, watcher, f"{cluster.run_id}-first-{i}")[0])
    deleted = []
    for i in range(rounds):
        ns = f"{prefix}-{i}"
        watcher.forget((ns, "late", version))  # a restored copy carries the same reflected version
        t0 = time.monotonic()
        cluster.core.delete_namespaced_secret("late", ns)
        deleted.append(watcher.wait([(ns, "late", version)])[0] - t0)
    return {
        "new_namespace_p50_s": statistics.median(ours),
        "new_namespace_p99_s": percentile(ours, 99),
        "new_namespace_floor_p50_s": statistics.median(floor),
        "new_namespace_floor_p99_s": percentile(floor, 99),
        "deleted_copy_restored_p50_s": statistics.median(deleted),
        "deleted_copy_restored_max_s": max(deleted),
        "new_namespace_load_1m": load_1m(),
    }


def _first_write_into_new_namespace(
    cluster: Cluster, watcher: SecretWatcher, name: str
) -> tuple[float, float]:
    """The floor of a new namespace's copy: a client creates the namespace, then writes into it.
    Returns the latency and when the write was seen."""
    t0 = time.monotonic()
    ns = cluster.create_namespace(name=name)
    cluster.core.create_namespaced_secret(
        ns, client.V1Secret(metadata=client.V1ObjectMeta(name="first", annotations={MARKER: "f"}))
    )
    seen = watcher.wait([(ns, "first", "f")])[0]
    return seen - t0, seen


def _started(watcher: SecretWatcher, keys: list[Key], what: str) -> None:
    def started() -> None:
        assert watcher.count(keys) >= 20, f"{what} not started yet"

    eventually(started, timeout=60, interval=0.005, description=what + " to start")


def _new_namespace_during_fanout(
    cluster: Cluster,
    watcher: SecretWatcher,
    floor: FloorClient,
    fan_src: str,
    fan_targets: list[str],
    rounds: int = 10,
) -> dict:
    """New namespaces of one source while another source's 1000-copy update is being written; the
    floor: a client's first write into a new namespace while the floor client writes the same 1000
    updates (the API server is as busy in both)."""
    prefix = f"{cluster.run_id}-busy"
    _, version = _late_source(cluster, prefix)
    fan, floor_fan = f"fan{len(fan_targets)}", f"floor{len(fan_targets)}"
    latencies, floors, in_flight, floor_in_flight = [], [], 0, 0
    for i in range(rounds):
        data = {"data": {"v": _b64(f"busy{i}".encode())}}
        updated = cluster.core.patch_namespaced_secret(fan, fan_src, data)
        fan_keys = [(ns, fan, updated.metadata.resource_version) for ns in fan_targets]
        _started(watcher, fan_keys, "the 1000-copy fan-out")
        t0 = time.monotonic()
        ns = cluster.create_namespace(name=f"{prefix}-{i}")
        seen = watcher.wait([(ns, "late", version)])[0]
        latencies.append(seen - t0)
        in_flight += seen < max(watcher.wait(fan_keys))

        marker = f"busy{i}"
        writes = _floor_updates(_floor_versions(cluster, floor_fan), marker, {"v": _b64(marker.encode())})
        floor_keys = [(ns, floor_fan, marker) for ns in fan_targets]
        with ThreadPoolExecutor(1) as background:
            batch = background.submit(floor.run, writes)
            _started(watcher, floor_keys, "the floor client's 1000 updates")
            latency, seen = _first_write_into_new_namespace(cluster, watcher, f"{cluster.run_id}-fbusy-{i}")
            batch.result()
        floors.append(latency)
        floor_in_flight += seen < max(watcher.wait(floor_keys))
    return {
        "new_namespace_during_fanout_p50_s": statistics.median(latencies),
        "new_namespace_during_fanout_p99_s": percentile(latencies, 99),
        "new_namespace_during_fanout_floor_p50_s": statistics.median(floors),
        "new_namespace_during_fanout_floor_p99_s": percentile(floors, 99),
        "new_namespace_during_fanout_rounds_in_flight": f"{in_flight}/{rounds}",
        "new_namespace_during_fanout_floor_rounds_in_flight": f"{floor_in_flight}/{rounds}",
        "new_namespace_during_fanout_load_1m": load_1m(),
    }


def _rss(cluster: Cluster, deployment: Deployment) -> float:
    pid = main_pid(cluster, deployment)
    assert pid, "the operator is not running"
    return psutil.Process(pid).memory_info().rss / 2**20


def _rss_peak(cluster: Cluster, deployment: Deployment) -> float:
    """The operator's peak resident memory so far (VmHWM), e.g. while its initial lists arrived."""
    pid = main_pid(cluster, deployment)
    assert pid, "the operator is not running"
    status = Path(f"/proc/{pid}/status").read_text()
    match = re.search(r"^VmHWM:\s+(\d+) kB", status, re.MULTILINE)
    assert match, "no VmHWM in /proc/<pid>/status"
    return int(match.group(1)) / 1024


def _rss_with_load(cluster: Cluster, deployment: Deployment, unrelated: int) -> dict:
    ns_pool = _make_namespaces(cluster, "junk", 10)

    def junk(i: int) -> None:
        cluster.core.create_namespaced_secret(
            ns_pool[i % 10],
            client.V1Secret(
                metadata=client.V1ObjectMeta(name=f"unrelated-{i}"),
                data={"k": _b64(os.urandom(64))},
            ),
        )

    with ThreadPoolExecutor(POOL) as pool:
        list(pool.map(junk, range(unrelated)))
    return {
        "operator_rss_mb": _rss(cluster, deployment),
        "unrelated_secrets": unrelated,
        "rss_load_1m": load_1m(),
    }


def _token(cluster: Cluster, deployment: Deployment) -> str:
    return cluster.service_account_token(deployment.namespace, deployment.service_account)


def bench_operator(
    sizes: tuple[int, ...] = (10, 100, 1000), unrelated: int = 5000, run_as: str = PROCESSES
) -> dict:
    """The operator's figures next to the floor's, as local processes or (``run_as`` pods) as a Pod
    of its chart on a real node, its image pulled from the run's registry."""
    nodes = 1 if run_as == PODS else 0
    plane = LocalControlPlane(run_id=new_run_id(), owner_pid=os.getpid(), nodes=nodes).start()
    cluster = LocalProvider(plane, run_as=run_as).cluster()
    deployment = watcher = floor = None
    try:
        deployment = BUNDLED.deploy(
            cluster, Path(plane.run_dir) / "operator", extra_args=["--no-leader-elect"]
        )
        watcher = SecretWatcher(cluster)
        floor = FloorClient(cluster, _token(cluster, deployment), WRITE_CONCURRENCY)
        figures: dict = {"write_concurrency": WRITE_CONCURRENCY}
        fan = None
        for size in sizes:
            got, src, targets = _fanout(cluster, deployment, watcher, floor, size)
            figures.update(got)
            fan = (src, targets)
        figures.update(_new_namespace_latency(cluster, watcher))
        if fan and len(fan[1]) >= 1000:
            figures.update(_new_namespace_during_fanout(cluster, watcher, floor, *fan))
        figures.update(_rss_with_load(cluster, deployment, unrelated))
        figures["bench_watch_reconnects"] = watcher.reconnects
        return with_ratios(figures)
    finally:
        for closer in (watcher and watcher.stop, floor and floor.close, deployment and deployment.stop):
            if closer:
                closer()
        cluster.close()
        plane.stop()


def with_ratios(figures: dict) -> dict:
    """Add `<figure>_x_floor` next to every figure that has a floor measured in the same run."""
    pairs = {
        "new_namespace_p99_s": "new_namespace_floor_p99_s",
        "new_namespace_p50_s": "new_namespace_floor_p50_s",
        "new_namespace_during_fanout_p99_s": "new_namespace_during_fanout_floor_p99_s",
        "scale_first_convergence_s": "scale_first_convergence_floor_s",
        "scale_rotation_s": "scale_rotation_floor_s",
        "scale_operator_start_s": "scale_initial_lists_floor_s",
    }
    for key in list(figures):
        match = re.fullmatch(r"copies_(\d+)_(update_p99|update_last_copy|create_all)_s(_max)?", key)
        if match:
            n, what = match.group(1), match.group(2)
            floor_key = {
                "update_p99": f"copies_{n}_update_floor_p99_s",
                "update_last_copy": f"copies_{n}_update_floor_last_s_max",
                "create_all": f"copies_{n}_create_floor_s",
            }[what]
            pairs[key] = floor_key
    out = dict(figures)
    for ours, floor in pairs.items():
        value = ratio(figures.get(ours), figures.get(floor))
        if value is not None:
            out[f"{ours.removesuffix('_s').removesuffix('_s_max')}_x_floor"] = value
    return out


# -- scale -------------------------------------------------------------------------------------


def _batched(items: list[Write], size: int) -> Iterable[list[Write]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _ready_after(deployment: Deployment, since: float, pid_changed_from: int | None = None) -> float:
    replica = deployment.replicas[0]

    def ready() -> None:
        if pid_changed_from is not None:
            assert replica.child_pid() not in (None, pid_changed_from), "not restarted yet"
        try:
            status, body = replica.get("/readyz")
        except (urllib.error.URLError, ConnectionError, TimeoutError) as exc:
            raise AssertionError(f"/readyz: {exc}") from None  # not listening yet
        assert status == 200, f"/readyz {status}: {body.strip()[:120]}"

    eventually(ready, timeout=300, interval=0.05, description="the operator to be ready")
    return time.monotonic() - since


def bench_scale(
    sources: int = 100, namespaces: int = 100, unrelated: int = 50_000, rotations: int = 3
) -> dict:
    """S sources x T namespaces among U unrelated Secrets, on a fresh cluster."""
    plane = LocalControlPlane(run_id=new_run_id(), owner_pid=os.getpid()).start()
    cluster = plane.cluster()
    deployment = watcher = floor = None
    figures: dict[str, Any] = {
        "scale_sources": sources,
        "scale_namespaces": namespaces,
        "scale_copies": sources * namespaces,
        "scale_unrelated_secrets": unrelated,
    }
    try:
        # Namespaces, RBAC and the operator's ServiceAccount first (the operator itself not yet running).
        tenants = _make_namespaces(cluster, "tenant-", namespaces)
        src = cluster.create_namespace("sources")
        # through its packaging with no replica: everything but the running operator
        prepared = BUNDLED.deploy(cluster, Path(plane.run_dir) / "operator", replicas=0)
        floor = FloorClient(cluster, _token(cluster, prepared), WRITE_CONCURRENCY)
        junk = [
            Write(
                "POST",
                _secret_path(tenants[i % namespaces]),
                {"metadata": {"name": f"unrelated-{i}"}, "data": {"k": _b64(os.urandom(48))}},
            )
            for i in range(unrelated)
        ]
        t0 = time.monotonic()
        for part in _batched(junk, 5000):
            floor.run(part)
        figures["scale_unrelated_created_s"] = time.monotonic() - t0

        # The floor of the operator's start: the same three paginated lists by the minimal client.
        _, listed = floor.run([Write("LIST", f"/api/v1/{plural}") for plural in LISTED])
        figures["scale_initial_lists_floor_s"] = listed["elapsed_s"]

        # Operator start with the unrelated Secrets in place: process start → /readyz (initial lists).
        t0 = time.monotonic()
        # the initial lists of thousands of Secrets may take longer than a plain start is given
        deployment = replace(BUNDLED_PACKAGE, ready_timeout=300).deploy(
            cluster, Path(plane.run_dir) / "operator", extra_args=["--no-leader-elect", "--resync-seconds=20"]
        )
        figures["scale_operator_start_s"] = _ready_after(deployment, t0)
        figures["scale_operator_start_load_1m"] = load_1m()
        figures["scale_rss_idle_mb"] = _rss(cluster, deployment)
        figures["scale_rss_peak_after_start_mb"] = _rss_peak(cluster, deployment)
        watcher = SecretWatcher(cluster)

        payload = {
            ".dockerconfigjson": _b64(
                json.dumps({"auths": {"registry.example": {"auth": "x" * 40}}}).encode()
            )
        }
        pattern = f"^{cluster.run_id}-tenant-.*"

        def source(j: int) -> Write:
            notes = replicate_to([pattern])
            return Write(
                "POST",
                _secret_path(src),
                {"metadata": {"name": f"creds-{j}", "annotations": notes}, "data": payload},
            )

        # First convergence: S source creates → SxT copies; floor: the same SxT creates by the client.
        t0, _ = floor.run([source(j) for j in range(sources)])
        created = {
            f"creds-{j}": cluster.core.read_namespaced_secret(f"creds-{j}", src).metadata.resource_version
            for j in range(sources)
        }
        keys = [(ns, name, rv) for name, rv in created.items() for ns in tenants]
        figures["scale_first_convergence_s"] = max(watcher.wait(keys, timeout=900)) - t0
        floor_keys = [(ns, f"floor-{j}", "c") for j in range(sources) for ns in tenants]
        writes = [w for j in range(sources) for w in _floor_creates(tenants, f"floor-{j}", "c", payload)]
        figures["scale_first_convergence_floor_s"] = max(_floor_run(floor, watcher, writes, floor_keys))
        figures["scale_first_convergence_load_1m"] = load_1m()
        figures["scale_rss_converged_mb"] = _rss(cluster, deployment)

        # Rotation of every source; floor: the same SxT copy patches by the client.
        # Rotations of every source, alternating with the floor (the same SxT copy patches by the
        # client), ``rotations`` rounds: the figures are the medians, the worst round is printed too.
        ours_s, floor_s, failed, ours_cpu, floor_cpu = [], [], 0.0, 0.0, 0.0
        operator_pid = main_pid(cluster, deployment)
        for i in range(rotations):
            rotated = {"v": _b64(f"rotated-{i}".encode())}
            patches = [
                Write(
                    "PATCH",
                    _secret_path(src, f"creds-{j}"),
                    {"data": {**payload, **rotated}},
                    "application/merge-patch+json",
                )
                for j in range(sources)
            ]
            cpu0 = cpu_seconds(operator_pid)
            failed0 = _failed_writes(cluster, deployment)
            t0, _ = floor.run(patches)
            versions = {
                f"creds-{j}": cluster.core.read_namespaced_secret(f"creds-{j}", src).metadata.resource_version
                for j in range(sources)
            }
            keys = [(ns, name, rv) for name, rv in versions.items() for ns in tenants]
            ours_s.append(max(watcher.wait(keys, timeout=900)) - t0)
            failed += _failed_writes(cluster, deployment) - failed0
            ours_cpu += cpu_seconds(operator_pid) - cpu0
            marker = f"r{i}"
            floor_keys = [(ns, f"floor-{j}", marker) for j in range(sources) for ns in tenants]
            writes = _floor_updates(_floor_versions(cluster), marker, {**payload, **rotated})
            assert len(writes) == len(floor_keys), f"{len(writes)} floor Secrets, want {len(floor_keys)}"
            cpu0 = cpu_seconds(floor.proc.pid)
            floor_s.append(max(_floor_run(floor, watcher, writes, floor_keys)))
            floor_cpu += cpu_seconds(floor.proc.pid) - cpu0
        copies = rotations * sources * namespaces
        figures["scale_rotations"] = rotations
        figures["scale_rotation_s"] = statistics.median(ours_s)
        figures["scale_rotation_floor_s"] = statistics.median(floor_s)
        rounds = zip(ours_s, floor_s, strict=True)
        figures["scale_rotation_worst_round_x_floor"] = max(o / f for o, f in rounds)
        figures["scale_rotation_failed_writes"] = failed
        figures["scale_rotation_operator_cpu_ms_per_copy"] = 1000 * ours_cpu / copies
        figures["scale_rotation_floor_cpu_ms_per_copy"] = 1000 * floor_cpu / copies
        figures["scale_rotation_load_1m"] = load_1m()
        figures["scale_rss_after_rotation_mb"] = _rss(cluster, deployment)
        figures["scale_rss_peak_mb"] = _rss_peak(cluster, deployment)

        # A resync re-plans every source from the cache: count the API requests it makes.
        def requests() -> float:
            return _metric(cluster, deployment, "replicator_api_requests_total", exclude={"verb": "watch"})

        reconciles0, requests0 = _metric(cluster, deployment, "replicator_reconciles_total"), requests()

        def resynced() -> None:
            done = _metric(cluster, deployment, "replicator_reconciles_total") - reconciles0
            assert done >= sources, f"{done:.0f} reconciles since the rotation, want a resync of {sources}"

        eventually(resynced, timeout=120, interval=0.5, description="a resync")
        figures["scale_api_requests_per_resync"] = requests() - requests0

        # Restart with everything in place (60k+ Secrets): kill → supervisor restarts → ready.
        old = deployment.replicas[0].child_pid()
        t0 = time.monotonic()
        deployment.replicas[0].kill()
        figures["scale_operator_restart_ready_s"] = _ready_after(deployment, t0, pid_changed_from=old)
        figures["scale_operator_restart_load_1m"] = load_1m()
        return with_ratios(figures)
    finally:
        closers: list[Callable[[], None] | None] = [
            watcher and watcher.stop,
            floor and floor.close,
            deployment and deployment.stop,
        ]
        for closer in closers:
            if closer:
                closer()
        cluster.close()
        plane.stop()
