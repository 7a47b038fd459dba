"""`replicheck-cluster up|down|deploy|undeploy`: a cluster and any registered system for interactive use.

The cluster comes from the provider factory (`fixtures/clusters/providers.py`), like every other
cluster of the suite: `up --cluster=local` (default) or `--cluster=kind`. Its description is kept in
the runs directory so `down`, `deploy` and `undeploy` find it again. `deploy --implementation NAME`
deploys any registered system through its profile (the path the tests use), ConfigMirror with its
PostgreSQL; `undeploy` stops exactly that, and `down` whatever is still deployed.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import sys
from pathlib import Path

from fixtures.clusters.cluster import Cluster, new_run_id
from fixtures.clusters.providers import OWNED, ClusterProvider, attached, choose_provider, provider_for
from fixtures.clusters.workloads import Deployment, undeploy_local
from fixtures.core.errors import SetupError
from fixtures.core.paths import runs_dir
from fixtures.systems.packaging import COMMAND_OPTION, postgres_of
from fixtures.systems.registry import DEFAULT, audited_namespaces, registered
from fixtures.systems.registry import system as system_named

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


def up(option: str = OWNED[0], nodes: str = "auto", run_as: str = "processes") -> int:
    choice = choose_provider(
        option, None, None, None, audited_namespaces=audited_namespaces(), nodes=nodes, run_as=run_as
    )
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


def _deployed(name: str) -> Path:
    """The record of the system `deploy` started (one per system name)."""
    return runs_dir() / f"operator-interactive-{name}.json"


def _deploy_dir(name: str) -> Path:
    return runs_dir() / f"operator-interactive-{name}"


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


def deploy(name: str = DEFAULT, command: str | None = None) -> int:
    """Deploy a registered system into the cluster from `up`, through its profile's packaging (as the
    tests do): local processes on the local provider, its Deployment where the cluster runs Pods;
    ConfigMirror with its PostgreSQL. Prints what it started and how to reach it."""
    chosen = system_named(name)
    if chosen.takes_command or command is not None:
        chosen = chosen.with_command(command)  # one line when it is not a controller you bring
    record = _deployed(name)
    if record.exists():
        print(
            f"{name} is already deployed; `make undeploy-operator IMPLEMENTATION={name}` removes it",
            file=sys.stderr,
        )
        return 0
    cluster = _interactive_cluster()
    deployment = chosen.deploy(cluster, _deploy_dir(name))
    record.write_text(deployment.to_json())
    for line in started_lines(name, deployment):
        print(line)
    return 0


def started_lines(name: str, deployment: Deployment) -> list[str]:
    """What `deploy` started and how to reach it (no secret value: a database password is named by
    the file that holds it, never printed)."""
    lines = [
        f"{name}: {deployment.runs_as} in namespace {deployment.namespace} "
        f"as ServiceAccount {deployment.service_account}"
    ]
    for replica in deployment.replicas:
        ports = "".join(f", {flag.lstrip('-')} 127.0.0.1:{port}" for flag, port in replica.ports.items())
        lines.append(f"  {replica.name}: probes {replica.health_url}/readyz{ports}; log {replica.log_file}")
    postgres = postgres_of(deployment)
    if postgres is not None:
        lines.append(
            f"  PostgreSQL {postgres.version or ''} on 127.0.0.1:{postgres.port} (pid {postgres.pid}); "
            f"log {postgres.log_file}"
        )
    return lines


def undeploy(name: str = DEFAULT) -> int:
    """Stop exactly what `deploy` started for ``name`` (its processes, its database, its objects)."""
    record = _deployed(name)
    if not record.exists():
        print(f"no {name} from `make deploy-operator` is running", file=sys.stderr)
        return 0
    deployment = Deployment.from_json(record.read_text())
    try:
        system_named(name).undeploy(deployment)
    finally:
        deployment.stop()  # idempotent: a profile gone since still has its processes stopped
    with contextlib.suppress(SetupError):  # the cluster is gone: nothing left to delete there
        undeploy_local(_interactive_cluster(), deployment)  # its RBAC, CRDs and namespace
    shutil.rmtree(_deploy_dir(name), ignore_errors=True)
    record.unlink()
    print(f"{name} stopped and removed", file=sys.stderr)
    return 0


def deployed_names() -> list[str]:
    return sorted(
        p.name.removeprefix("operator-interactive-").removesuffix(".json")
        for p in runs_dir().glob("operator-interactive-*.json")
    )


def down() -> int:
    for name in deployed_names():
        undeploy(name)
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
    parser.add_argument(
        "--nodes",
        default=os.environ.get("REPLICHECK_NODES", "auto"),
        help="`up`: real nodes of a local cluster, a count or auto (2 where nodes can run)",
    )
    parser.add_argument(
        "--run-as",
        choices=["processes", "pods"],
        default=os.environ.get("REPLICHECK_RUN_AS", "processes"),
        help="`up`: how `deploy` runs the bundled systems on a cluster with nodes",
    )
    parser.add_argument(
        "--implementation",
        default=DEFAULT,
        help=f"the system deploy/undeploy act on: {', '.join(registered())} (default: %(default)s)",
    )
    parser.add_argument(
        COMMAND_OPTION, dest="command_line", default=None, help="the binary of a controller you bring"
    )
    args = parser.parse_args(argv)
    commands = {
        "up": lambda: up(args.cluster, args.nodes, args.run_as),
        "down": down,
        "deploy": lambda: deploy(args.implementation, args.command_line),
        "undeploy": lambda: undeploy(args.implementation),
    }
    try:
        return commands[args.command]()
    except SetupError as exc:
        print(f"error: {exc}", file=sys.stderr, flush=True)
        return 1


if __name__ == "__main__":
    sys.exit(main())
