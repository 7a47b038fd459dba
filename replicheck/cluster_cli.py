"""`replicheck-cluster up|down|deploy|undeploy`: a cluster and the operator for interactive use.

The cluster comes from the provider factory (`fixtures/clusters/providers.py`), like every other
cluster of the suite: `up --cluster=local` (default) or `--cluster=kind`. Its description is kept in
the runs directory so `down`, `deploy` and `undeploy` find it again.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from pathlib import Path

from fixtures.clusters.cluster import Cluster, new_run_id
from fixtures.clusters.providers import OWNED, ClusterProvider, attached, choose_provider, provider_for
from fixtures.core.errors import SetupError
from fixtures.core.paths import runs_dir
from fixtures.systems.registry import audited_namespaces

INTERACTIVE = "interactive.json"


def _record() -> Path:
    return runs_dir() / INTERACTIVE


def _running() -> ClusterProvider | None:
    """The provider of the cluster from `up`, if it still runs (a stale record is removed)."""
    path = _record()
    if not path.exists():
        return None
    try:
        provider = attached(json.loads(path.read_text()))
    except (SetupError, ValueError, KeyError):
        provider = None
    if provider is None or not provider.running():
        path.unlink(missing_ok=True)  # its processes are gone: a stale record
        return None
    return provider


def up(option: str = OWNED[0]) -> int:
    choice = choose_provider(option, None, None, None, audited_namespaces=audited_namespaces())
    provider = provider_for(choice, new_run_id(), None)
    for note in provider.reap_stale():
        print(note, file=sys.stderr, flush=True)
    running = _running()
    if running:
        print(
            f"a cluster from `make cluster-up` is already running ({running.run_id}); "
            "`make cluster-down` stops it",
            file=sys.stderr,
            flush=True,
        )
        print(f"export KUBECONFIG={running.cluster().kubeconfig}")
        return 0
    cluster = provider.start()
    _record().write_text(json.dumps(provider.describe()))
    ready = provider.timings().get("ready_s")
    print(
        f"{provider.name} cluster {provider.run_id} ready"
        + (f" in {ready:.1f}s" if ready is not None else "")
        + f" (Kubernetes {provider.kubernetes_version()}, API {cluster.server}); files in {cluster.run_dir}",
        file=sys.stderr,
        flush=True,
    )
    print(f"export KUBECONFIG={cluster.kubeconfig}")
    cluster.close()
    return 0


OPERATOR = "operator-interactive.json"


def _interactive_cluster() -> Cluster:
    """The cluster from `up`, through its provider (which says how an operator runs there).

    A KUBECONFIG naming another cluster is refused: replicheck installs only into clusters it started.
    """
    provider = _running()
    if provider is None:
        raise SetupError("no cluster from `make cluster-up` is running; run `make cluster-up` first")
    cluster = provider.cluster()
    kubeconfig = os.environ.get("KUBECONFIG")
    if kubeconfig and Path(kubeconfig).resolve() != cluster.kubeconfig.resolve():
        raise SetupError(
            f"KUBECONFIG is {kubeconfig}, not the cluster from `make cluster-up` ({cluster.kubeconfig}); "
            "export what `make cluster-up` printed, or unset KUBECONFIG"
        )
    return cluster


def deploy() -> int:
    """Deploy the bundled operator into the cluster from `up` (local processes on the local provider,
    its Deployment on kind)."""
    from fixtures.systems.profiles.bundled import BUNDLED

    record = runs_dir() / OPERATOR
    if record.exists():
        print("the operator is already deployed; `make undeploy-operator` removes it", file=sys.stderr)
        return 0
    cluster = _interactive_cluster()
    deployment = BUNDLED.deploy(cluster, runs_dir() / "operator-interactive")
    record.write_text(deployment.to_json())
    for replica in deployment.replicas:
        print(f"operator {replica.name} ready: {replica.health_url}/metrics, log {replica.log_file}")
    return 0


def undeploy() -> int:
    from fixtures.clusters.workloads import LocalDeployment, undeploy_local

    record = runs_dir() / OPERATOR
    if not record.exists():
        print("no operator from `make deploy-operator` is running", file=sys.stderr)
        return 0
    deployment = LocalDeployment.from_json(record.read_text())
    try:
        undeploy_local(_interactive_cluster(), deployment)
    except SetupError:
        deployment.stop()  # the cluster is gone: at least stop the processes
    shutil.rmtree(runs_dir() / "operator-interactive", ignore_errors=True)
    record.unlink()
    print("operator stopped and removed", file=sys.stderr)
    return 0


def down() -> int:
    if (runs_dir() / OPERATOR).exists():
        undeploy()
    path = _record()
    if not path.exists():
        print("no cluster from `make cluster-up` is running", file=sys.stderr, flush=True)
        return 0
    try:
        provider: ClusterProvider | None = attached(json.loads(path.read_text()))
    except (SetupError, ValueError, KeyError):
        provider = None  # an unreadable record: nothing to stop by it
    if provider is not None:
        provider.stop()
    path.unlink(missing_ok=True)
    print(
        f"stopped and removed cluster {provider.run_id if provider else '(already gone)'}",
        file=sys.stderr,
        flush=True,
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="replicheck-cluster", description=__doc__)
    parser.add_argument("command", choices=["up", "down", "deploy", "undeploy"])
    parser.add_argument(
        "--cluster",
        choices=OWNED,
        default=OWNED[0],
        help="the provider of `up` (default: %(default)s; kind needs Docker and the kind binary)",
    )
    args = parser.parse_args(argv)
    commands = {"up": lambda: up(args.cluster), "down": down, "deploy": deploy, "undeploy": undeploy}
    try:
        return commands[args.command]()
    except SetupError as exc:
        print(f"error: {exc}", file=sys.stderr, flush=True)
        return 1


if __name__ == "__main__":
    sys.exit(main())
