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
from collections.abc import Callable
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
#: without a system)
BUNDLED_NAMES = ChaosProfile(OPERATOR_NAMESPACE, OPERATOR_SA, OPERATOR_RBAC, LEASE, max_replicas=2)


# --- the operator, whichever provider runs it ---------------------------------------------------------


@dataclass
class ReplicaView:
    """One operator instance: a supervised process (local) or a Pod (kind, nodes)."""

    name: str  # also its leader-election identity (the pod name)
    pid: int | None
    restarts: int
    last_exit_codes: list[int] = field(default_factory=list)
    #: a Pod's: the node it runs on, its UID (the same Pod after a container restart) and its
    #: container's runtime ID (``containerd://...``; a new one after every restart)
    node: str | None = None
    uid: str | None = None
    container_id: str | None = None

    @property
    def instance(self) -> int | str | None:
        """What changes when it restarts: its process ID, or its container's runtime ID."""
        return self.pid if self.pid is not None else self.container_id


class LocalOperator:
    """The operator as supervised local processes (fixtures.clusters.workloads)."""

    #: a killed instance is restarted under the same name (its restart count goes up)
    restarts_in_place = True
    runs_pods = False

    def __init__(self, deployment: Deployment, system: ReplicationSystem | None = None) -> None:
        self.deployment = deployment
        #: asked what stands in for /readyz and /healthz on a controller without them (ESO)
        self.system = system

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
            if self.system is not None:
                return self.system.replica_ready(self.replica(name))
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
        """The HTTP status of /healthz, or what stands in for it (raises when nothing answers)."""
        if self.system is not None:
            return self.system.replica_alive(self.replica(name))
        status, _ = self.replica(name).get("/healthz")
        return status

    def signal(self, name: str, sig: int) -> int:
        return self.replica(name).kill(sig)


#: a Pod's probe port: the container port of this name (the chart picks a free port per deploy)
HEALTH_PORT_NAME = "http"
#: (connect, read) seconds for a request proxied to a Pod: a frozen Pod must not hold a probe for long
#: (the client retries a timed-out GET three times: at most about 4 x 3 s)
PROXY_TIMEOUT = (2.0, 3.0)


def health_port(pod: Any, port_name: str = HEALTH_PORT_NAME) -> int:
    """The Pod's probe port, from its spec: the container port named ``port_name`` (never a
    hard-coded 8080: on the local nodes the chart is installed with a free port)."""
    ports = [p for c in pod.spec.containers for p in c.ports or []]
    for p in ports:
        if p.name == port_name:
            return int(p.container_port)
    raise AssertionError(
        f"pod {pod.metadata.name} has no container port named {port_name!r} "
        f"(ports: {[(p.name, p.container_port) for p in ports] or 'none'})"
    )


def common_label_selector(labels: list[dict[str, str]]) -> str:
    """A selector of the labels every Pod has (``pod-template-hash`` left out: it changes with every
    rollout), sorted; an AssertionError when they share none."""
    if not labels:
        raise AssertionError("no Pod to take labels from")
    common = set(labels[0].items())
    for more in labels[1:]:
        common &= set(more.items())
    stable = sorted((k, v) for k, v in common if k != "pod-template-hash")
    if not stable:
        raise AssertionError("the Pods share no label")
    return ",".join(f"{k}={v}" for k, v in stable)


class PodOperator:
    """The operator as Pods of its Deployment (kind, the local nodes): everything through the API
    server. Its Pods are those of its namespace running as its ServiceAccount (any Deployment that
    runs the system, whatever it labels them)."""

    #: a deleted Pod is replaced by a new one with a new name (a container restart keeps the name)
    restarts_in_place = False
    runs_pods = True

    def __init__(
        self, cluster: Cluster, namespace: str, service_account: str, system: ReplicationSystem | None = None
    ) -> None:
        self.cluster = cluster
        self.namespace = namespace
        self.service_account = service_account
        #: asked whether a Pod is ready beyond its Ready condition (a chart without a readiness probe)
        self.system = system

    def pods(self) -> list[Any]:
        """Its Pods that are not being deleted, by name."""
        pods = self.cluster.core.list_namespaced_pod(self.namespace).items
        mine = [
            p
            for p in pods
            if p.metadata.deletion_timestamp is None
            and (p.spec.service_account_name or "default") == self.service_account
        ]
        return sorted(mine, key=lambda p: p.metadata.name)

    def pod(self, name: str) -> Any:
        return self.cluster.core.read_namespaced_pod(name, self.namespace)

    def deployment_name(self) -> str:
        """The Deployment whose Pods run as its ServiceAccount."""
        apps = client.AppsV1Api(self.cluster.api)
        for d in apps.list_namespaced_deployment(self.namespace).items:
            if (d.spec.template.spec.service_account_name or "default") == self.service_account:
                return d.metadata.name
        raise AssertionError(f"no Deployment runs {self.service_account} in {self.namespace}")

    def label_selector(self) -> str:
        """A selector matching its Pods (their common labels), for tools that select by label."""
        pods = self.pods()
        if not pods:
            raise AssertionError(f"no Pod of {self.service_account} in {self.namespace}")
        return common_label_selector([p.metadata.labels or {} for p in pods])

    def replicas(self) -> list[ReplicaView]:
        out = []
        for pod in self.pods():
            statuses = pod.status.container_statuses or []
            restarts = sum(s.restart_count or 0 for s in statuses)
            codes = [
                s.last_state.terminated.exit_code
                for s in statuses
                if s.last_state and s.last_state.terminated
            ]
            container = statuses[0].container_id if statuses else None
            out.append(
                ReplicaView(
                    pod.metadata.name,
                    None,
                    restarts,
                    codes,
                    node=pod.spec.node_name,
                    uid=pod.metadata.uid,
                    container_id=container or None,
                )
            )
        return out

    def ready(self, name: str) -> tuple[bool, str]:
        try:
            pod = self.pod(name)
        except ApiException as exc:
            return False, f"pod {name}: {exc.status}"
        conditions = {c.type: c.status for c in pod.status.conditions or []}
        if conditions.get("Ready") != "True":
            return False, f"conditions {conditions}"
        verdict = self.system.pod_ready(self.cluster, pod) if self.system is not None else None
        return verdict if verdict is not None else (True, f"conditions {conditions}")

    def get(self, name: str, path: str) -> tuple[int, str]:
        """GET ``path`` on the Pod's probe port through the API server's Pod proxy: (status, body);
        0 when the proxy got no answer in :data:`PROXY_TIMEOUT` (a frozen or hung Pod)."""
        try:
            pod = self.pod(name)
            port = health_port(pod)
        except ApiException as exc:
            return exc.status or 0, ""
        try:
            body = self.cluster.core.connect_get_namespaced_pod_proxy_with_path(
                f"{name}:{port}", self.namespace, path.lstrip("/"), _request_timeout=PROXY_TIMEOUT
            )
        except ApiException as exc:
            return exc.status or 0, ""
        except Exception as exc:  # urllib3's timeouts and connection errors: no answer
            if "urllib3" in type(exc).__module__:
                return 0, ""
            raise
        return 200, str(body)

    def metrics(self, name: str) -> str:
        status, body = self.get(name, "metrics")
        return body if status == 200 else ""

    def logs(self, name: str, previous: bool = False) -> str:
        try:
            return self.cluster.core.read_namespaced_pod_log(
                name, self.namespace, previous=previous, _request_timeout=(5.0, 30.0)
            )
        except ApiException:
            return ""

    def running(self, replica: ReplicaView) -> bool:
        return True  # a listed pod that is not being deleted

    def healthz(self, name: str) -> int:
        """The HTTP status of /healthz through the Pod proxy (0: no answer, e.g. a frozen Pod)."""
        return self.get(name, "healthz")[0]

    def signal(self, name: str, sig: int) -> int:
        raise NotImplementedError(
            "a Pod is faulted through the API (chaosk8s) or its node's containerd "
            "(chaos/faults/containers.py)"
        )


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
    operator: LocalOperator | PodOperator
    run_dir: Path
    workload: Workload | MirrorWorkload | None = None  # the bundled operator's or ConfigMirror's
    system: ReplicationSystem | None = None  # the system chaos_env deployed (what a Workload declares with)
    #: added to the journal's and logs' file names (the system's name when a run certifies several)
    journal_suffix: str = ""
    #: the experiment's variant (chaos/faults/variants.py: local, kind, nodes); empty: the provider's
    variant_name: str = ""
    #: what a fault left paused (a frozen process, container or node) and how to resume it; every
    #: exit path resumes them all (:meth:`resume_all`: rollbacks, the fixture's teardown)
    held: dict[str, Callable[[], object]] = field(default_factory=dict)
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
        """The cluster provider's name (recorded)."""
        return self.cluster.provider.name

    @property
    def variant(self) -> str:
        """Which implementation of a fault runs (chaos/faults/variants.py): the experiment's variant,
        else the provider's name."""
        return self.variant_name or self.provider

    def hold(self, what: str, resume: Callable[[], object]) -> None:
        """Register how to resume what a fault is about to pause, *before* pausing it."""
        self.held[what] = resume

    def release(self, what: str) -> bool:
        """Resume one held thing now (False: nothing held under that name)."""
        resume = self.held.pop(what, None)
        if resume is None:
            return False
        resume()
        return True

    def resume_all(self) -> list[str]:
        """Resume everything a fault paused (idempotent); every resume is tried, the first error is
        raised after the others ran."""
        resumed, errors = [], []
        for what in list(self.held):
            try:
                self.release(what)
                resumed.append(what)
            except Exception as exc:  # try the others: a paused node must never outlive the test
                errors.append(exc)
        if errors:
            raise errors[0]
        return resumed

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
