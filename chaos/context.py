"""What chaostoolkit activities act on: the private cluster, its operator, and the experiment's workload.

chaoslib runs our Python activities in this very process, but it can only hand them plain
configuration values. The pytest wrapper therefore registers one :class:`ChaosContext` per experiment
run and passes its key as the configuration value ``replicheck_context``; every action and probe looks
the context up with :func:`context_of`. Nothing here is shared between experiments: each context
points at its own private cluster and its own operator deployment.
"""

from __future__ import annotations

import secrets
import signal
import threading
import time
import urllib.error
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kubernetes import client
from kubernetes.client.rest import ApiException

from chaos import scoring
from fixtures.clusters.cluster import Cluster
from fixtures.clusters.workloads import Deployment, Replica
from fixtures.systems.model import ChaosProfile

if TYPE_CHECKING:
    from chaos.mirror_workload import MirrorWorkload
    from chaos.workload import Workload
    from fixtures.systems import ReplicationSystem

OPERATOR_NAMESPACE = "replicheck-system"
OPERATOR_LABEL = "app.kubernetes.io/name=replicheck-replicator"
OPERATOR_SA = "replicheck-replicator"
OPERATOR_RBAC = "replicheck-replicator"  # ClusterRole and ClusterRoleBinding
LEASE = "replicheck-replicator"
CONFIG_KEY = "replicheck_context"
#: the bundled operator's names (its profile's ChaosProfile says the same; kept here for contexts
#: without a system and for the kind variant, which runs only the bundled operator's image)
BUNDLED_NAMES = ChaosProfile(OPERATOR_NAMESPACE, OPERATOR_SA, OPERATOR_RBAC, LEASE, max_replicas=2)


# --- the operator, whichever provider runs it ---------------------------------------------------------


@dataclass
class ReplicaView:
    """One operator instance: a supervised process (local) or a pod (kind)."""

    name: str  # also its leader-election identity (the pod name)
    pid: int | None
    restarts: int
    last_exit_codes: list[int] = field(default_factory=list)


class LocalOperator:
    """The operator as supervised local processes (fixtures.clusters.workloads)."""

    #: a killed instance is restarted under the same name (its restart count goes up)
    restarts_in_place = True

    def __init__(self, deployment: Deployment) -> None:
        self.deployment = deployment

    def replica(self, name: str) -> Replica:
        for r in self.deployment.replicas:
            if r.name == name:
                return r
        raise KeyError(f"no replica named {name}; have {[r.name for r in self.deployment.replicas]}")

    def replicas(self) -> list[ReplicaView]:
        out = []
        for r in self.deployment.replicas:
            state = r.state()
            out.append(
                ReplicaView(
                    r.name,
                    state.get("child_pid"),
                    int(state.get("restarts", 0)),
                    list(state.get("last_exit_codes") or []),
                )
            )
        return out

    def ready(self, name: str) -> tuple[bool, str]:
        try:
            status, body = self.replica(name).get("/readyz")
        except (urllib.error.URLError, ConnectionError, TimeoutError) as exc:
            return False, f"no answer: {exc}"
        return status == 200, body.strip()

    def metrics(self, name: str) -> str:
        try:
            status, body = self.replica(name).get("/metrics")
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            return ""
        return body if status == 200 else ""

    def logs(self, name: str) -> str:
        return self.replica(name).logs()

    def running(self, replica: ReplicaView) -> bool:
        return replica.pid is not None

    def healthz(self, name: str) -> int:
        """The HTTP status of /healthz (raises when nothing answers)."""
        status, _ = self.replica(name).get("/healthz")
        return status

    def signal(self, name: str, sig: int) -> int:
        return self.replica(name).kill(sig)


class KindOperator:
    """The operator as pods of its Deployment (kind): everything through the API server."""

    #: a deleted pod is replaced by a new one with a new name
    restarts_in_place = False

    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster

    def _pods(self) -> list[Any]:
        pods = self.cluster.core.list_namespaced_pod(OPERATOR_NAMESPACE, label_selector=OPERATOR_LABEL).items
        return [p for p in pods if p.metadata.deletion_timestamp is None]

    def replicas(self) -> list[ReplicaView]:
        out = []
        for pod in self._pods():
            statuses = pod.status.container_statuses or []
            restarts = sum(s.restart_count or 0 for s in statuses)
            codes = [
                s.last_state.terminated.exit_code
                for s in statuses
                if s.last_state and s.last_state.terminated
            ]
            out.append(ReplicaView(pod.metadata.name, None, restarts, codes))
        return out

    def ready(self, name: str) -> tuple[bool, str]:
        try:
            pod = self.cluster.core.read_namespaced_pod(name, OPERATOR_NAMESPACE)
        except ApiException as exc:
            return False, f"pod {name}: {exc.status}"
        conditions = {c.type: c.status for c in pod.status.conditions or []}
        return conditions.get("Ready") == "True", f"conditions {conditions}"

    def _proxy(self, name: str, path: str) -> str:
        try:
            return self.cluster.core.connect_get_namespaced_pod_proxy_with_path(
                f"{name}:8080", OPERATOR_NAMESPACE, path
            )
        except ApiException:
            return ""

    def metrics(self, name: str) -> str:
        return self._proxy(name, "metrics")

    def logs(self, name: str) -> str:
        try:
            return self.cluster.core.read_namespaced_pod_log(name, OPERATOR_NAMESPACE)
        except ApiException:
            return ""

    def running(self, replica: ReplicaView) -> bool:
        return True  # a listed pod that is not being deleted

    def healthz(self, name: str) -> int:
        """No port of the pod is reachable from here: readiness stands in for /healthz."""
        return 200 if self.ready(name)[0] else 503

    def signal(self, name: str, sig: int) -> int:
        raise NotImplementedError("on kind, faults go through the API (chaosk8s), not signals")


class _DeadlineREST:
    """The client's REST layer with a default (connect, read) timeout on every request.

    The official client sends requests with no timeout unless each call passes ``_request_timeout``;
    chaoslib never enforces an activity timeout either. With this, no activity can block forever on
    an API server that accepts connections but never answers. Explicit timeouts still win.
    """

    def __init__(self, inner: Any, default: tuple[float, float]) -> None:
        self._inner = inner
        self._default = default

    def request(self, *args: Any, _request_timeout: Any = None, **kwargs: Any) -> Any:
        return self._inner.request(*args, _request_timeout=_request_timeout or self._default, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def bound_requests(api: client.ApiClient, default: tuple[float, float] = (5.0, 30.0)) -> client.ApiClient:
    """Give every request of ``api`` a deadline (idempotent)."""
    if not isinstance(api.rest_client, _DeadlineREST):
        api.rest_client = _DeadlineREST(api.rest_client, default)
    return api


# --- the context -------------------------------------------------------------------------------------


@dataclass
class ChaosContext:
    """Everything one experiment run may touch (the cluster's provider says which variant runs)."""

    cluster: Cluster
    operator: LocalOperator | KindOperator
    run_dir: Path
    workload: Workload | MirrorWorkload | None = None  # the bundled operator's or ConfigMirror's
    system: ReplicationSystem | None = None  # the system chaos_env deployed (what a Workload declares with)
    #: added to the journal's and logs' file names (the system's name when a run certifies several)
    journal_suffix: str = ""
    # Set by actions, read by probes and the wrapper: times are time.monotonic() unless named *_wall.
    marks: dict[str, float] = field(default_factory=dict)
    notes: dict[str, Any] = field(default_factory=dict)
    saved: dict[str, Any] = field(default_factory=dict)  # objects a rollback restores (RBAC)
    runbooks: list[dict[str, Any]] = field(default_factory=list)
    recovery: dict[str, float] = field(default_factory=dict)
    leak_canaries: set[str] = field(default_factory=set)  # values that must never show up anywhere
    stop_load: threading.Event = field(default_factory=threading.Event)
    threads: list[threading.Thread] = field(default_factory=list)

    @property
    def provider(self) -> str:
        """The provider's name: which variant of a fault runs (chaos/faults/variants.py), recorded."""
        return self.cluster.provider.name

    def mark(self, name: str) -> float:
        now = time.monotonic()
        self.marks[name] = now
        self.marks[name + "_wall"] = time.time()
        return now

    @property
    def rbac(self) -> client.RbacAuthorizationV1Api:
        return client.RbacAuthorizationV1Api(self.cluster.api)

    @property
    def names(self) -> ChaosProfile:
        """The deployed system's chaos profile: its namespace, ServiceAccount, RBAC and Lease names
        (the bundled operator's when the context has no system, as for the runbook-only tests)."""
        profile = self.system.chaos if self.system is not None else None
        return profile or BUNDLED_NAMES

    def operator_user(self) -> str:
        return self.names.user

    def not_applicable(self, key: str) -> dict[str, Any] | None:
        """A probe's output when ``key`` does not apply to the deployed system (its profile says why):
        n/a (never counted as passed, left out of the score), with the reason. None when it applies."""
        why = self.names.exemption(key)
        if why is None:
            return None
        name = self.system.name if self.system is not None else "-"
        return scoring.not_applicable(f"n/a for {name}: {why}")

    def no_audit_log(self) -> dict[str, Any] | None:
        """A probe's output when this provider keeps no API audit log (kind, an existing cluster): the
        audit-based checks are n/a there. None when the log exists."""
        if self.cluster.audit_log is not None:
            return None
        return scoring.not_applicable(f"no API audit log on the {self.provider} provider")

    def replica_names(self) -> list[str]:
        return [r.name for r in self.operator.replicas()]

    def join_threads(self, timeout: float = 30.0) -> None:
        self.stop_load.set()
        deadline = time.monotonic() + timeout
        for t in self.threads:
            t.join(max(0.0, deadline - time.monotonic()))


_CONTEXTS: dict[str, ChaosContext] = {}


def register(ctx: ChaosContext) -> str:
    key = secrets.token_hex(6)
    _CONTEXTS[key] = ctx
    return key


def unregister(key: str) -> None:
    ctx = _CONTEXTS.pop(key, None)
    if ctx is not None:
        ctx.join_threads()


def context_of(configuration: dict[str, Any] | None) -> ChaosContext:
    """The context of the running experiment (a KeyError names the missing configuration)."""
    key = (configuration or {}).get(CONFIG_KEY)
    if not key or key not in _CONTEXTS:
        raise KeyError(
            f"configuration {CONFIG_KEY!r} does not name a registered chaos context; "
            "run experiments through chaos.journal.run_chaos_experiment"
        )
    return _CONTEXTS[key]


SIGNALS = {"KILL": signal.SIGKILL, "TERM": signal.SIGTERM, "STOP": signal.SIGSTOP, "CONT": signal.SIGCONT}
