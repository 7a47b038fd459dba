"""Everything the OCI end-to-end tests run against, in one private local cluster: the control
plane, the operator under test, a real OCI registry, a git server and Flux's two controllers.

A private cluster (not the shared session one) because Flux's controllers reconcile cluster-wide
and the chaos experiments restart them; every process joins the cluster's process group, so its
guardian reaps them all if the test process dies, and `stop()` ends them in order otherwise.
"""

from __future__ import annotations

import contextlib
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from fixtures.clusters import workloads as deploy
from fixtures.clusters.cluster import Cluster
from fixtures.clusters.local import LocalControlPlane, LocalProvider
from fixtures.clusters.workloads import Deployment
from fixtures.services.flux import Flux
from fixtures.services.gitserver import GitServer
from fixtures.services.oci_registry import OciRegistry
from fixtures.systems.dialects.reflector import ReflectorDialectSystem


@dataclass
class OciStack:
    impl: ReflectorDialectSystem
    provider: LocalProvider  # the factory's private control plane (fixtures.clusters.providers.private_plane)
    plane: LocalControlPlane | None = None
    cluster: Cluster | None = None
    operator: Deployment | None = None
    registry: OciRegistry | None = None
    git: GitServer | None = None
    flux: Flux | None = None
    timings: dict[str, float] = field(default_factory=dict)
    #: the nodes' stack (oci/releases.py): the registry is trusted by the nodes' containerd, and
    #: the operator is not deployed here but later, by a HelmRelease, once flux-system holds the
    #: consolidated credentials its chart source needs (the seed's order)
    on_nodes: bool = False

    @property
    def run_dir(self) -> Path:
        assert self.plane is not None
        return self.plane.run_dir

    def started(self) -> tuple[Cluster, OciRegistry]:
        """The cluster and the registry of a started stack."""
        assert self.cluster is not None, "the stack is not started"
        assert self.registry is not None, "the stack is not started"
        return self.cluster, self.registry

    def start(self) -> OciStack:
        t0 = time.monotonic()
        self.plane = self.provider.plane
        try:
            self.cluster = self.provider.start()
            self.timings["cluster_ready_s"] = time.monotonic() - t0
            t1 = time.monotonic()
            self.registry = OciRegistry(
                self.run_dir / "registry", self.run_dir / "pki", self.plane.pgid
            ).start()
            self.git = GitServer(self.run_dir / "git", self.plane.pgid).start()
            if self.on_nodes:
                self.provider.trust_registry(self.registry.host, self.registry.ca_cert)
            self.flux = Flux(self.cluster, self.run_dir / "flux").install()
            self.timings["registry_s"] = self.registry.ready_s
            self.timings["git_server_s"] = self.git.ready_s
            self.timings.update({f"flux_{k}": v for k, v in self.flux.timings.items()})
            self.timings["registry_git_flux_ready_s"] = time.monotonic() - t1
            if self.on_nodes:
                return self
            t2 = time.monotonic()
            self.operator = self.impl.deploy(
                self.cluster, self.run_dir / "operator", extra_args=self.impl.private_args()
            )
            self.timings["operator_ready_s"] = time.monotonic() - t2
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """The operator (while helm-controller can still uninstall a HelmRelease of it), the
        controllers, the servers, then the cluster (its guardian ends any straggler)."""
        deployments = [self.operator, *(self.flux.deployments.values() if self.flux else [])]
        for d in deployments:
            if d is not None:
                d.stop()
        _reap_supervisors([d for d in deployments if d is not None])
        for server in (self.git, self.registry):
            if server is not None:
                server.stop()
        if self.cluster is not None:
            self.cluster.close()
        if self.plane is not None:
            self.provider.stop()


def _reap_supervisors(deployments: list[Deployment]) -> None:
    """Collect the stopped supervisors' exit status (no zombies, no ResourceWarning)."""
    pids = {r.supervisor_pid for d in deployments for r in d.replicas}
    for proc in list(deploy.SPAWNED):
        if proc.pid in pids:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=5)
            if proc.returncode is not None:
                deploy.SPAWNED.remove(proc)
