"""`make bench`: measured figures, printed as a table and merged into reports/bench.json.

Cluster part: build time of the control-plane binaries (from the build record; measured when
they were built on this machine), local cluster start (binaries warm) and teardown. Operator part
(replicheck/bench/operator.py): every propagation figure next to its floor, measured in the same run
by a minimal client making the same writes, and as a ratio to it (`*_x_floor`, with the issue's
target where there is one). Environment: BENCH_ROUNDS, BENCH_SIZES, BENCH_UNRELATED, BENCH_SCALE
(0 skips the scale scenario), BENCH_SCALE_SOURCES / _NAMESPACES / _UNRELATED / _ROTATIONS (3: rounds
of ours and the floor alternating; the medians compare, the worst round's ratio is printed),
BENCH_PODS (0 skips the operator as a Pod of its chart on a real node: the same figures as its
processes, measured where nodes can run), BENCH_SYSTEMS (0 skips every system side by side,
replicheck/bench/systems.py; a comma list measures those), BENCH_SUITES.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from fixtures.clusters.binaries import ControlPlaneBinaries, control_plane_binaries
from fixtures.clusters.cluster import new_run_id
from fixtures.clusters.local import PODS, LocalControlPlane
from fixtures.clusters.nodes.support import nodes_unusable_reason, pods_unusable_reason
from fixtures.core.paths import REPO_ROOT

BENCH_JSON = REPO_ROOT / "reports" / "bench.json"


def merge_bench(section: str, figures: dict) -> Path:
    """Add one section of figures to reports/bench.json (other issues add their own sections)."""
    BENCH_JSON.parent.mkdir(exist_ok=True)
    data = json.loads(BENCH_JSON.read_text()) if BENCH_JSON.exists() else {}
    data[section] = figures
    BENCH_JSON.write_text(json.dumps(data, indent=2, sort_keys=True))
    return BENCH_JSON


def bench_cluster(rounds: int) -> dict:
    binaries = control_plane_binaries()
    build_info = binaries.directory / "BUILD_INFO"
    build_s = None
    if build_info.exists():
        build_s = float(build_info.read_text().split("=", 1)[1])
    ready, control_plane, teardown = [], [], []
    for _ in range(rounds):
        plane = LocalControlPlane(run_id=new_run_id(), owner_pid=os.getpid(), binaries=binaries).start()
        ready.append(plane.timings["ready_s"])
        control_plane.append(plane.timings["control_plane_ready_s"])
        teardown.append(plane.stop())
    return {
        "kubernetes_version": binaries.version(),
        "rounds": rounds,
        "binaries_build_s": build_s,
        "cluster_readyz_s_median": statistics.median(control_plane),
        "cluster_ready_s_median": statistics.median(ready),
        "cluster_ready_s_max": max(ready),
        "cluster_teardown_s_median": statistics.median(teardown),
        **(bench_nodes(rounds, binaries) if nodes_unusable_reason() is None else {}),
    }


def bench_nodes(rounds: int, binaries: ControlPlaneBinaries, nodes: int = 2) -> dict:
    """Real nodes: Ready after the control plane, a first Pod Running after its create (the sandbox
    image, already on the node: no pull), and the teardown that undoes every host change."""
    from kubernetes import client

    from fixtures.clusters.nodes.config import PAUSE_IMAGE
    from fixtures.core.waiting import eventually

    ready, first_pod, teardown = [], [], []
    for _ in range(rounds):
        plane = LocalControlPlane(new_run_id(), os.getpid(), binaries=binaries, nodes=nodes).start()
        ready.append(plane.timings["nodes_ready_s"])
        cluster = plane.cluster()
        try:
            pod = client.V1Pod(
                metadata=client.V1ObjectMeta(name="first"),
                spec=client.V1PodSpec(
                    host_network=True,
                    containers=[client.V1Container(name="c", image=PAUSE_IMAGE, image_pull_policy="Never")],
                ),
            )
            t0 = time.monotonic()
            cluster.core.create_namespaced_pod("default", pod)

            def running(core: client.CoreV1Api = cluster.core) -> None:
                phase = core.read_namespaced_pod("first", "default").status.phase
                assert phase == "Running", phase

            eventually(running, timeout=60, interval=0.05, description="the first Pod Running")
            first_pod.append(time.monotonic() - t0)
        finally:
            cluster.close()
            teardown.append(plane.stop())
    return {
        "nodes": nodes,
        "nodes_ready_after_control_plane_s_median": statistics.median(ready),
        "first_pod_running_s_median": statistics.median(first_pod),
        "first_pod_running_s_max": max(first_pod),
        "cluster_with_nodes_teardown_s_median": statistics.median(teardown),
    }


# Targets of issues 16 and 24 (a figure outside its target is printed in red, never hidden).
TARGETS: dict[str, tuple[str, float]] = {
    "nodes_ready_after_control_plane_s_median": ("<=", 15.0),
    "first_pod_running_s_max": ("<=", 5.0),
    "copies_1000_update_p99_x_floor": ("<=", 1.2),
    "new_namespace_p99_s": ("<=", 0.050),
    "new_namespace_during_fanout_p99_s": ("<=", 0.050),
    "scale_first_convergence_x_floor": ("<=", 1.2),
    "scale_rotation_x_floor": ("<=", 1.2),
    "scale_operator_start_s": ("<=", 10.0),
    "scale_rss_after_rotation_mb": ("<=", 150.0),
    "scale_api_requests_per_resync": ("<=", 0.0),
}


def target_met(key: str, value: object) -> bool | None:
    """Whether a figure meets its target (None: no target, or no number)."""
    if key not in TARGETS or not isinstance(value, int | float):
        return None
    op, bound = TARGETS[key]
    return value <= bound if op == "<=" else value >= bound


def shown(key: str, value: object) -> str:
    if value is None:
        return "n/a"
    text = f"{value:.3f}" if isinstance(value, float) else str(value)
    if key.endswith("_x_floor") and isinstance(value, float):
        text = f"{value:.2f}x floor"
    met = target_met(key, value)
    if met is not None:
        op, bound = TARGETS[key]
        text += f"  (target {op} {bound:g}: {'[green]met[/]' if met else '[red]MISSED[/]'})"
    return text


LABELS = {
    "binaries_build_s": "cold build of etcd + kube-apiserver + kube-controller-manager (s)",
    "cluster_readyz_s_median": "cluster start to /readyz of all components, median (s)",
    "cluster_ready_s_median": "cluster start to default ServiceAccount in a new namespace, median (s)",
    "cluster_ready_s_max": "cluster start to ready, worst (s)",
    "cluster_teardown_s_median": "cluster teardown, median (s)",
}


def bench_suites() -> dict:
    """Wall time of the conformance suites under pytest -n auto (its own ephemeral cluster)."""
    import subprocess

    if not any((REPO_ROOT / "suites").glob("test_*.py")):
        return {}
    t0 = time.monotonic()
    code = subprocess.run(
        [sys.executable, "-m", "pytest", "-n", "auto", "-q", "suites"],
        cwd=REPO_ROOT,
        check=False,
        capture_output=True,
    ).returncode
    return {"suites_wall_s": time.monotonic() - t0, "suites_exit_code": code}


def main() -> int:
    from replicheck.bench.operator import bench_operator, bench_scale

    rounds = int(os.environ.get("BENCH_ROUNDS", "3"))
    sizes = tuple(int(x) for x in os.environ.get("BENCH_SIZES", "10,100,1000").split(","))
    unrelated = int(os.environ.get("BENCH_UNRELATED", "5000"))
    console = Console()
    console.print(
        f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores: figures taken on a busy "
        "machine are slower; the ratios to the floor measured alongside are what compare"
    )
    sections = {}
    with console.status("cluster start/teardown"):
        sections["cluster"] = bench_cluster(rounds)
    with console.status(f"operator: fan-out to {sizes} namespaces with the floor alongside"):
        sections["operator"] = bench_operator(sizes, unrelated)
    why_no_pods = pods_unusable_reason()
    if os.environ.get("BENCH_PODS", "1") == "1" and why_no_pods is None:
        with console.status(
            f"operator as a Pod on a real node: fan-out to {sizes} namespaces, floor alongside"
        ):
            sections["operator_pod"] = bench_operator(sizes, unrelated, run_as=PODS)
    elif why_no_pods:
        console.print(f"operator as a Pod: not measured: {why_no_pods}", markup=False, highlight=False)
    if os.environ.get("BENCH_SCALE", "1") == "1":
        scale = (
            int(os.environ.get("BENCH_SCALE_SOURCES", "100")),
            int(os.environ.get("BENCH_SCALE_NAMESPACES", "100")),
            int(os.environ.get("BENCH_SCALE_UNRELATED", "50000")),
            int(os.environ.get("BENCH_SCALE_ROTATIONS", "3")),
        )
        with console.status(f"scale: {scale[0]} sources x {scale[1]} namespaces among {scale[2]} Secrets"):
            sections["scale"] = bench_scale(*scale)
    if os.environ.get("BENCH_CONFIGMIRROR", "1") == "1":
        from replicheck.bench.configmirror import LABELS as CM_LABELS
        from replicheck.bench.configmirror import bench_configmirror

        LABELS.update(CM_LABELS)
        with console.status("ConfigMirror: 100 and 1000 replicas, PostgreSQL ready time"):
            sections["configmirror"] = bench_configmirror(rounds=rounds)
    side_by_side = None
    if os.environ.get("BENCH_SYSTEMS", "1") != "0":
        from replicheck.bench import systems

        with console.status("every system side by side on one cluster, one at a time"):
            side_by_side = systems.measured()
    if os.environ.get("BENCH_SUITES", "1") == "1":
        with console.status("conformance suites wall time"):
            sections["suites"] = bench_suites()
    table = Table(
        "section", "figure", "value", title="replicheck bench (2-core figures go in the closing note)"
    )
    for section, figures in sections.items():
        for key, value in figures.items():
            table.add_row(section, LABELS.get(key, key), shown(key, value))
        merge_bench(section, {**figures, "load_average_1m": os.getloadavg()[0]})
    console.print(table)
    if side_by_side is not None:
        from replicheck.bench import systems

        systems.print_table(side_by_side)
        merge_bench(systems.SECTION, side_by_side)
    console.print(f"written to {BENCH_JSON.relative_to(REPO_ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
