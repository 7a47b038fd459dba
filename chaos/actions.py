"""chaostoolkit actions (Python provider). Every function takes ``configuration`` (to find its
:class:`chaos.context.ChaosContext`) and carries its own deadline: chaoslib never enforces an
activity ``timeout`` (tooling.md 1.1). Outputs are JSON-able summaries with names, counts and
timings; Secret data never leaves the cluster (comparisons are by digest).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from kubernetes import client, watch
from kubernetes.client.rest import ApiException

from chaos.context import (
    LEASE,
    OPERATOR_NAMESPACE,
    OPERATOR_RBAC,
    ChaosContext,
    context_of,
    metric_value,
)
from chaos.variants import (
    chaosk8s_explicit_credentials,
    kind_apiserver_restart_commands,
    pod_delete_arguments,
    variant,
)
from chaos.workload import CopyVersionWatcher, b64
from fixtures.dialect import (
    ALLOWED,
    ALLOWED_NAMESPACES,
    AUTO_ENABLED,
    REFLECTED_AT,
    REFLECTED_VERSION,
    REFLECTS,
    replicate_to,
)
from fixtures.waiting import WaitTimeout, eventually

CHAOS_RUNNER_NS = "replicheck-chaos"
CHAOS_RUNNER_SA = "chaos-runner"
POISON_PREFIX = "poison-"


# --- shared helpers -------------------------------------------------------------------------------------


def _ctx(configuration: dict[str, Any] | None) -> ChaosContext:
    return context_of(configuration)


def operator_can(ctx: ChaosContext, verb: str, resource: str, namespace: str | None = None) -> bool:
    """SubjectAccessReview for the operator's ServiceAccount (user and its groups), asked as admin."""
    review = client.V1SubjectAccessReview(
        spec=client.V1SubjectAccessReviewSpec(
            user=ctx.operator_user(),
            groups=[
                "system:serviceaccounts",
                f"system:serviceaccounts:{OPERATOR_NAMESPACE}",
                "system:authenticated",
            ],
            resource_attributes=client.V1ResourceAttributes(
                verb=verb, resource=resource, namespace=namespace, group=""
            ),
        )
    )
    result = client.AuthorizationV1Api(ctx.cluster.api).create_subject_access_review(review)
    return bool(result.status.allowed)


def lease_holder(ctx: ChaosContext) -> dict[str, Any]:
    lease = client.CoordinationV1Api(ctx.cluster.api).read_namespaced_lease(LEASE, OPERATOR_NAMESPACE)
    spec = lease.spec
    return {
        "holder": spec.holder_identity or "",
        "transitions": int(spec.lease_transitions or 0),
        "resource_version": lease.metadata.resource_version,
    }


def _retry_api(fn: Any, timeout_s: float, what: str) -> Any:
    """Call ``fn`` until the API answers (e.g. right after an API server restart); bounded."""

    def attempt() -> Any:
        try:
            return fn()
        except (ApiException, OSError) as exc:
            status = getattr(exc, "status", None)
            if status is not None and 400 <= status < 500 and status != 429:
                raise  # a real answer: not a transient outage
            raise AssertionError(f"{what}: {type(exc).__name__} {status or ''}") from None
        except Exception as exc:  # urllib3 connection errors surface as various types
            if "urllib3" in type(exc).__module__:
                raise AssertionError(f"{what}: {type(exc).__name__}") from None
            raise

    return eventually(attempt, timeout=timeout_s, interval=0.2, description=what)


# --- chaosk8s credentials (kind variants) ----------------------------------------------------------------


def chaos_runner_secrets(ctx: ChaosContext) -> dict[str, str]:
    """Host, token and CA of a least-privilege ServiceAccount for chaosk8s (delete operator pods only).

    Kept out of the experiment document and the journal: it is handed to chaosk8s as the secrets
    of its call only.
    """
    cached = ctx.saved.get("chaos_runner_secrets")
    if cached:
        return cached
    core, rbac = ctx.cluster.core, ctx.rbac
    with contextlib.suppress(ApiException):
        core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=CHAOS_RUNNER_NS)))
    with contextlib.suppress(ApiException):
        core.create_namespaced_service_account(
            CHAOS_RUNNER_NS, client.V1ServiceAccount(metadata=client.V1ObjectMeta(name=CHAOS_RUNNER_SA))
        )
    with contextlib.suppress(ApiException):
        rbac.create_namespaced_role(
            OPERATOR_NAMESPACE,
            client.V1Role(
                metadata=client.V1ObjectMeta(name="replicheck-chaos-pod-killer"),
                rules=[
                    client.V1PolicyRule(api_groups=[""], resources=["pods"], verbs=["get", "list", "delete"])
                ],
            ),
        )
    with contextlib.suppress(ApiException):
        rbac.create_namespaced_role_binding(
            OPERATOR_NAMESPACE,
            client.V1RoleBinding(
                metadata=client.V1ObjectMeta(name="replicheck-chaos-pod-killer"),
                role_ref=client.V1RoleRef(
                    api_group="rbac.authorization.k8s.io", kind="Role", name="replicheck-chaos-pod-killer"
                ),
                subjects=[
                    client.RbacV1Subject(
                        kind="ServiceAccount", name=CHAOS_RUNNER_SA, namespace=CHAOS_RUNNER_NS
                    )
                ],
            ),
        )
    cfg = ctx.cluster.api.configuration
    secrets = {
        "KUBERNETES_HOST": cfg.host,
        "KUBERNETES_API_KEY": ctx.cluster.service_account_token(CHAOS_RUNNER_NS, CHAOS_RUNNER_SA, 3600),
        "KUBERNETES_API_KEY_PREFIX": "Bearer",
        "KUBERNETES_VERIFY_SSL": "true",
        "KUBERNETES_CA_CERT_FILE": str(cfg.ssl_ca_cert or ""),
    }
    ctx.saved["chaos_runner_secrets"] = secrets
    return secrets


# --- fault implementations per provider (chaos.variants picks one) ---------------------------------------


def _local_kill_replica(ctx: ChaosContext, name: str) -> dict[str, Any]:
    pid = ctx.operator.signal(name, signal.SIGKILL)
    return {"replica": name, "pid": pid, "signal": "SIGKILL"}


def _local_freeze_replica(ctx: ChaosContext, name: str) -> dict[str, Any]:
    pid = ctx.operator.signal(name, signal.SIGSTOP)
    ctx.notes.setdefault("frozen_pids", []).append(pid)
    return {"replica": name, "pid": pid, "signal": "SIGSTOP"}


def _local_thaw_replica(ctx: ChaosContext, name: str) -> dict[str, Any]:
    thawed = []
    for pid in ctx.notes.pop("frozen_pids", []):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGCONT)
            thawed.append(pid)
    return {"replica": name, "thawed_pids": thawed, "signal": "SIGCONT"}


def _kind_delete_pods(ctx: ChaosContext, name: str | None) -> dict[str, Any]:
    from chaosk8s.pod.actions import terminate_pods

    secrets = chaos_runner_secrets(ctx)
    with chaosk8s_explicit_credentials():
        deleted = terminate_pods(**pod_delete_arguments(name), secrets=secrets)
    if not deleted:  # chaosk8s returns [] without raising when nothing matched
        raise AssertionError(f"chaosk8s deleted no pod (selector matched nothing; wanted {name or 'any'})")
    return {"replica": name, "deleted_pods": deleted}


def _noop(ctx: ChaosContext, name: str | None) -> dict[str, Any]:
    return {"replica": name, "skipped": "nothing to do on this provider"}


def _local_restart_apiserver(ctx: ChaosContext, name: str | None) -> dict[str, Any]:
    if ctx.plane is None:
        raise AssertionError("the local restart needs the private control plane handle")
    downtime = ctx.plane.restart("kube-apiserver")
    return {"component": "kube-apiserver", "downtime_s": round(downtime, 3)}


def _kind_restart_apiserver(ctx: ChaosContext, name: str | None) -> dict[str, Any]:
    if not ctx.kind_name:
        raise AssertionError("kind cluster name unknown")
    t0 = time.monotonic()
    for cmd in kind_apiserver_restart_commands(ctx.kind_name):
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=False)
        if proc.returncode != 0:
            raise AssertionError(f"`{' '.join(cmd[:3])}` failed: {proc.stderr.strip()[:200]}")
    _retry_api(lambda: client.VersionApi(ctx.cluster.api).get_code(), 120, "kube-apiserver to answer again")
    return {"component": "kube-apiserver", "downtime_s": round(time.monotonic() - t0, 3)}


def inject(ctx: ChaosContext, fault: str, target: str | None = None) -> dict[str, Any]:
    impl, description = variant(fault, ctx.provider)
    out = globals()[impl](ctx, target)
    out.update({"fault": fault, "provider": ctx.provider, "variant": description})
    return out


# --- generic actions ---------------------------------------------------------------------------------------


def ensure_operator_ready(timeout_s: float = 60.0, configuration: dict | None = None) -> dict[str, Any]:
    """Every replica answers /readyz 200 (also the rollback of every experiment that kills it)."""
    ctx = _ctx(configuration)
    _local_thaw_replica(ctx, None)  # a frozen replica would never become ready

    def ready() -> dict[str, Any]:
        states = {r.name: ctx.operator.ready(r.name) for r in ctx.operator.replicas()}
        assert states, "no operator replica found"
        bad = {n: why for n, (ok, why) in states.items() if not ok}
        assert not bad, f"not ready: {bad}"
        return {n: why for n, (_, why) in states.items()}

    t0 = time.monotonic()
    states = eventually(ready, timeout=timeout_s, interval=0.2, description="operator replicas ready")
    return {"ready": states, "waited_s": round(time.monotonic() - t0, 3)}


def update_sources(timeout_s: float = 30.0, configuration: dict | None = None) -> dict[str, Any]:
    """New data on every workload source (retried while the API server is unavailable)."""
    ctx = _ctx(configuration)
    assert ctx.workload is not None
    versions = _retry_api(ctx.workload.update_sources, timeout_s, "the source update to be accepted")
    ctx.mark("updated_at")
    return {"updated": sorted(versions), "generation": ctx.workload.generation}


def kill_operator(configuration: dict | None = None) -> dict[str, Any]:
    """Kill the (first) operator instance; on kind delete its pod."""
    ctx = _ctx(configuration)
    name = ctx.replica_names()[0]
    before = {r.name: r.restarts for r in ctx.operator.replicas()}
    ctx.notes["restarts_before"] = before
    out = inject(ctx, "kill-operator", name if ctx.provider == "local" else None)
    ctx.mark("fault_at")
    return out


def kill_operator_mid_fanout(timeout_s: float = 30.0, configuration: dict | None = None) -> dict[str, Any]:
    """Update every source, and kill the operator as soon as the *first* copy carries the new version.

    A watch from the list's resourceVersion sees every copy write in order, so the kill lands while
    the fan-out is still running; the output says how many copies had been written at that moment.
    """
    ctx = _ctx(configuration)
    wl = ctx.workload
    assert wl is not None
    core = ctx.cluster.core
    watched = wl.sources[0]
    ctx.notes["restarts_before"] = {r.name: r.restarts for r in ctx.operator.replicas()}
    rv0 = core.list_secret_for_all_namespaces(
        field_selector=f"metadata.name={watched}"
    ).metadata.resource_version
    versions = wl.update_sources()
    ctx.mark("updated_at")
    w = watch.Watch()
    stream = w.stream(
        core.list_secret_for_all_namespaces,
        field_selector=f"metadata.name={watched}",
        resource_version=rv0,
        timeout_seconds=max(1, int(timeout_s)),
        _request_timeout=(5, timeout_s + 5),
    )
    killed: dict[str, Any] | None = None
    try:
        for event in stream:
            obj = event["object"]
            version = (obj.metadata.annotations or {}).get(REFLECTED_VERSION)
            if obj.metadata.namespace != wl.source_ns and version == versions[watched]:
                name = ctx.replica_names()[0]
                killed = inject(ctx, "kill-operator", name if ctx.provider == "local" else None)
                ctx.mark("fault_at")
                break
    finally:
        w.stop()
        stream.close()
    if killed is None:
        raise AssertionError(
            f"no copy of {watched} reached the new version within {timeout_s:g}s: nothing killed"
        )
    written, total = 0, 0
    for name in wl.sources:
        expected = set(wl.expected_targets(name))
        total += len(expected)
        for ns, copy in wl.copies_of(name).items():
            if ns in expected and (copy.metadata.annotations or {}).get(REFLECTED_VERSION) == versions[name]:
                written += 1
    ctx.notes["fanout_at_kill"] = {"written": written, "total": total}
    return {**killed, "copies_written_at_kill": written, "copies_total": total}


def restart_apiserver(configuration: dict | None = None) -> dict[str, Any]:
    ctx = _ctx(configuration)
    ctx.notes["pids_before"] = {r.name: r.pid for r in ctx.operator.replicas()}
    ctx.notes["restarts_before"] = {r.name: r.restarts for r in ctx.operator.replicas()}
    ctx.mark("fault_at")
    out = inject(ctx, "restart-apiserver")
    ctx.mark("apiserver_back_at")
    ctx.notes["apiserver_downtime_s"] = out["downtime_s"]
    return out


# --- RBAC -----------------------------------------------------------------------------------------------


def _clean(obj: Any, api: client.ApiClient) -> dict[str, Any]:
    data = api.sanitize_for_serialization(obj)
    meta = data.get("metadata", {})
    data["metadata"] = {k: v for k, v in meta.items() if k in ("name", "labels", "annotations")}
    return data


def _await_access(ctx: ChaosContext, allowed: bool, verb: str, timeout_s: float) -> float:
    ns = ctx.workload.targets[-1] if ctx.workload else "default"
    t0 = time.monotonic()

    def check() -> None:
        now = operator_can(ctx, verb, "secrets", ns)
        assert now == allowed, f"operator may {verb} secrets in {ns}: {now}, want {allowed}"

    eventually(check, timeout=timeout_s, interval=0.1, description="the RBAC change to take effect")
    return time.monotonic() - t0


def snapshot_metrics(ctx: ChaosContext, mark: str) -> None:
    """Counters at a mark, so probes can tell failures *since* then from earlier ones."""
    texts = [ctx.operator.metrics(r) for r in ctx.replica_names()]
    ctx.notes[f"metrics_at_{mark}"] = {
        "forbidden": sum(metric_value(t, "replicator_api_requests_total", code="403") for t in texts),
        "errors": sum(
            metric_value(t, "replicator_reconcile_errors_total", reason="forbidden") for t in texts
        ),
    }


def revoke_cluster_role_binding(
    timeout_s: float = 30.0, mark: str = "fault_at", configuration: dict | None = None
) -> dict[str, Any]:
    """Delete the operator's ClusterRoleBinding (saved for the restore)."""
    ctx = _ctx(configuration)
    crb = ctx.rbac.read_cluster_role_binding(OPERATOR_RBAC)
    ctx.saved.setdefault("cluster_role_binding", _clean(crb, ctx.cluster.api))
    snapshot_metrics(ctx, mark)
    ctx.rbac.delete_cluster_role_binding(OPERATOR_RBAC)
    ctx.mark(mark)
    took = _await_access(ctx, False, "patch", timeout_s)
    return {"deleted": f"clusterrolebinding/{OPERATOR_RBAC}", "effective_after_s": round(took, 3)}


def remove_verb_from_cluster_role(
    verb: str = "patch",
    resource: str = "secrets",
    timeout_s: float = 30.0,
    mark: str = "fault_at",
    configuration: dict | None = None,
) -> dict[str, Any]:
    """Take one verb away from the operator's ClusterRole for one resource (saved for the restore)."""
    ctx = _ctx(configuration)
    role = ctx.rbac.read_cluster_role(OPERATOR_RBAC)
    ctx.saved.setdefault("cluster_role", _clean(role, ctx.cluster.api))
    rules = []
    for rule in role.rules or []:
        if resource in (rule.resources or []) and verb in (rule.verbs or []):
            others = [r for r in rule.resources if r != resource]
            if others:
                rules.append(
                    client.V1PolicyRule(api_groups=rule.api_groups, resources=others, verbs=rule.verbs)
                )
            rules.append(
                client.V1PolicyRule(
                    api_groups=rule.api_groups,
                    resources=[resource],
                    verbs=[v for v in rule.verbs if v != verb],
                )
            )
        else:
            rules.append(rule)
    role.rules = rules
    snapshot_metrics(ctx, mark)
    ctx.rbac.replace_cluster_role(OPERATOR_RBAC, role)
    ctx.mark(mark)
    took = _await_access(ctx, False, verb, timeout_s)
    return {"removed": f"{verb} on {resource}", "effective_after_s": round(took, 3)}


def restore_rbac(
    timeout_s: float = 30.0, mark: str = "restored_at", configuration: dict | None = None
) -> dict[str, Any]:
    """Put back whatever the RBAC actions changed (idempotent: also the rollback)."""
    ctx = _ctx(configuration)
    restored = []
    role = ctx.saved.pop("cluster_role", None)
    if role is not None:
        current = ctx.rbac.read_cluster_role(OPERATOR_RBAC)
        current.rules = [client.V1PolicyRule(**_snake_rule(r)) for r in role.get("rules", [])]
        ctx.rbac.replace_cluster_role(OPERATOR_RBAC, current)
        restored.append(f"clusterrole/{OPERATOR_RBAC}")
    crb = ctx.saved.pop("cluster_role_binding", None)
    if crb is not None:
        try:
            ctx.rbac.create_cluster_role_binding(crb)
        except ApiException as exc:
            if exc.status != 409:
                raise
        restored.append(f"clusterrolebinding/{OPERATOR_RBAC}")
    if restored:
        ctx.mark(mark)
        ctx.mark("restored_at")
        took = _await_access(ctx, True, "patch", timeout_s)
    else:
        took = 0.0
    return {"restored": restored, "effective_after_s": round(took, 3)}


def _snake_rule(rule: dict[str, Any]) -> dict[str, Any]:
    keys = {
        "apiGroups": "api_groups",
        "resourceNames": "resource_names",
        "nonResourceURLs": "non_resource_urls",
    }
    return {keys.get(k, k): v for k, v in rule.items()}


# --- poison sources ----------------------------------------------------------------------------------------


def create_poison_sources(configuration: dict | None = None) -> dict[str, Any]:
    """Sources this operator cannot use, next to the healthy ones, plus malformed bookkeeping.

    * ``poison-regex``: ``*`` in the allowed list (not a regular expression);
    * ``poison-selector``: a namespace label selector (refused by this operator);
    * ``poison-mirror``: a would-be mirror whose ``reflects`` is not ``namespace/name``;
    * a healthy copy whose ``reflected-at`` is garbage (Reflector parses it; H1).
    """
    ctx = _ctx(configuration)
    wl = ctx.workload
    assert wl is not None
    ctx.mark("fault_at")  # before the first write: the operator reacts within milliseconds
    listed = ",".join(wl.targets[:3])
    wl.create_source(f"{POISON_PREFIX}regex", [], annotations=replicate_to([*wl.targets[:3], "*"]))
    wl.create_source(
        f"{POISON_PREFIX}selector",
        [],
        annotations={
            ALLOWED: "true",
            AUTO_ENABLED: "true",
            ALLOWED_NAMESPACES: listed,
            ALLOWED_NAMESPACES + "-selector": "team=payments",
        },
    )
    mirror_ns = wl.targets[1]
    ctx.cluster.core.create_namespaced_secret(
        mirror_ns,
        client.V1Secret(
            metadata=client.V1ObjectMeta(
                name=f"{POISON_PREFIX}mirror",
                annotations={REFLECTS: "not a namespace/name/reference", REFLECTED_AT: "yesterday-ish"},
            ),
            data={"k": b64("placeholder")},
        ),
    )
    copy_ns = wl.expected_targets(wl.sources[0])[0]
    ctx.cluster.core.patch_namespaced_secret(
        wl.sources[0], copy_ns, {"metadata": {"annotations": {REFLECTED_AT: "not-a-timestamp"}}}
    )
    ctx.notes["poison"] = {
        "mirror": f"{mirror_ns}/{POISON_PREFIX}mirror",
        "tampered_copy": f"{copy_ns}/{wl.sources[0]}",
    }
    return {"sources": [f"{POISON_PREFIX}regex", f"{POISON_PREFIX}selector"], **ctx.notes["poison"]}


BACKTRACKING_PATTERN = "(a|a)+"  # exponential in both Python's `re` and the `regex` module


def create_pathological_source(a_count: int = 29, configuration: dict | None = None) -> dict[str, Any]:
    """A *valid* regex with catastrophic backtracking, and a namespace name that triggers it.

    ``(a|a)+`` against ``aaa…ac`` takes exponential time in Python's ``re`` and in ``regex``; it
    compiles, so a syntax check lets it through. A tenant who may annotate one Secret can send it.
    """
    ctx = _ctx(configuration)
    wl = ctx.workload
    assert wl is not None
    ns = "a" * a_count + "c"
    ctx.cluster.create_namespace(name=ns)
    ctx.notes["pathological_namespace"] = ns
    ctx.mark("backtracking_at")
    wl.create_source(
        f"{POISON_PREFIX}backtracking", [], annotations=replicate_to([wl.targets[0], BACKTRACKING_PATTERN])
    )
    return {"source": f"{POISON_PREFIX}backtracking", "pattern": BACKTRACKING_PATTERN, "namespace": ns}


def remove_poison(timeout_s: float = 60.0, configuration: dict | None = None) -> dict[str, Any]:
    """Rollback: delete every poison object (the API answers even when the operator is stuck)."""
    ctx = _ctx(configuration)
    wl = ctx.workload
    removed = []
    if wl is None:
        return {"removed": removed}
    core = ctx.cluster.core
    deadline = time.monotonic() + timeout_s
    for secret in core.list_secret_for_all_namespaces().items:
        if secret.metadata.name.startswith(POISON_PREFIX) and time.monotonic() < deadline:
            with contextlib.suppress(ApiException):
                core.delete_namespaced_secret(secret.metadata.name, secret.metadata.namespace)
                removed.append(f"{secret.metadata.namespace}/{secret.metadata.name}")
    return {"removed": removed}


# --- load during leader failover -------------------------------------------------------------------


def start_source_updates(
    interval_s: float = 0.5, max_updates: int = 60, configuration: dict | None = None
) -> dict[str, Any]:
    """Update the sources at a steady pace in a thread until stopped (or ``max_updates``): the load
    during which the leader is killed. The pacing is the load profile, not a wait for anything."""
    ctx = _ctx(configuration)
    wl = ctx.workload
    assert wl is not None
    ctx.stop_load.clear()
    stats = ctx.notes.setdefault("load", {"updates": 0, "errors": 0})

    def run() -> None:
        for _ in range(max_updates):
            if ctx.stop_load.is_set():
                return
            try:
                wl.update_sources()
                stats["updates"] += 1
            except (ApiException, OSError):
                stats["errors"] += 1
            if ctx.stop_load.wait(interval_s):
                return

    thread = threading.Thread(target=run, name="chaos-load", daemon=True)
    ctx.threads.append(thread)
    ctx.notes["copy_watcher"] = CopyVersionWatcher(wl)
    ctx.mark("load_started_at")
    thread.start()
    return {"interval_s": interval_s, "max_updates": max_updates}


def stop_source_updates(timeout_s: float = 30.0, configuration: dict | None = None) -> dict[str, Any]:
    ctx = _ctx(configuration)
    ctx.join_threads(timeout_s)
    watcher = ctx.notes.get("copy_watcher")
    if watcher is not None:
        watcher.stop()
    alive = [t.name for t in ctx.threads if t.is_alive()]
    ctx.threads = [t for t in ctx.threads if t.is_alive()]
    if alive:
        raise AssertionError(f"load threads still running after {timeout_s:g}s: {alive}")
    ctx.mark("load_stopped_at")
    return dict(ctx.notes.get("load", {}))


def _await_leader(ctx: ChaosContext, timeout_s: float, not_holder: str | None = None) -> dict[str, Any]:
    def check() -> dict[str, Any]:
        info = lease_holder(ctx)
        assert info["holder"], "no leader"
        assert info["holder"] != not_holder, f"{not_holder} still holds the lease"
        return info

    return eventually(check, timeout=timeout_s, interval=0.2, description="a leader")


def kill_leader(timeout_s: float = 30.0, configuration: dict | None = None) -> dict[str, Any]:
    """SIGKILL the Lease holder (local: a container restart, same identity) / delete its pod (kind)."""
    ctx = _ctx(configuration)
    before = _await_leader(ctx, timeout_s)
    ctx.notes["lease_before"] = ctx.notes.get("lease_before") or before
    out = inject(ctx, "kill-leader", before["holder"])
    ctx.mark("fault_at")
    return {**out, "leader": before["holder"], "transitions_before": before["transitions"]}


def freeze_leader(timeout_s: float = 60.0, configuration: dict | None = None) -> dict[str, Any]:
    """Freeze the Lease holder (SIGSTOP: a hung node) until another replica has taken over."""
    ctx = _ctx(configuration)
    before = _await_leader(ctx, timeout_s)
    out = inject(ctx, "freeze-leader", before["holder"])
    ctx.mark("freeze_at")
    after = _await_leader(ctx, timeout_s, not_holder=before["holder"])
    ctx.mark("takeover_at")
    took = ctx.marks["takeover_at"] - ctx.marks["freeze_at"]
    ctx.notes["takeover_s"] = took
    return {
        **out,
        "old_leader": before["holder"],
        "new_leader": after["holder"],
        "takeover_s": round(took, 3),
    }


def thaw_leader(configuration: dict | None = None) -> dict[str, Any]:
    """Let the frozen ex-leader run again: it must notice it lost the Lease and not write."""
    ctx = _ctx(configuration)
    out = inject(ctx, "thaw-leader", None)
    ctx.mark("thaw_at")
    return out


# --- namespace churn ---------------------------------------------------------------------------------------


def churn_namespaces(
    count: int = 30, keep: int = 8, reuse: int = 4, timeout_s: float = 90.0, configuration: dict | None = None
) -> dict[str, Any]:
    """Create ``count`` listed namespaces at once, delete all but ``keep`` right away (many while their
    copies are being written), wait for them to be gone, then re-create ``reuse`` of the deleted names.
    A namespace with a near-miss name (not matching the list) is created for the Missing-Secret runbook.
    """
    ctx = _ctx(configuration)
    wl = ctx.workload
    assert wl is not None
    core = ctx.cluster.core
    prefix = ctx.notes["churn_prefix"]
    names = [f"{prefix}-{i}" for i in range(count)]
    ctx.mark("fault_at")
    source = ctx.notes["churn_source"]
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda n: ctx.cluster.create_namespace("churn", name=n), names))
        doomed = names[keep:]
        deletions = pool.map(lambda n: core.delete_namespace(n), doomed)
        wl.update_sources([source])  # copies are rewritten while their namespaces terminate
        list(deletions)

    def gone() -> None:
        left = [n for n in doomed if _namespace_exists(ctx, n)]
        assert not left, f"{len(left)} deleted namespaces still present, e.g. {left[:3]}"

    t0 = time.monotonic()
    eventually(gone, timeout=timeout_s, interval=0.5, description="the churned namespaces to be deleted")
    deletion_s = time.monotonic() - t0
    reused = doomed[:reuse]
    for n in reused:
        ctx.cluster.create_namespace("churn", name=n)
    typo = f"{prefix.replace('churn', 'chrun')}-x"
    ctx.cluster.create_namespace("typo", name=typo)
    survivors = names[:keep] + reused
    ctx.notes["churn"] = {"survivors": survivors, "deleted": doomed[reuse:], "typo_namespace": typo}
    ctx.mark("churn_done_at")
    return {
        "created": count,
        "deleted": len(doomed),
        "reused_names": len(reused),
        "survivors": len(survivors),
        "deletion_s": round(deletion_s, 3),
        "typo_namespace": typo,
    }


def _namespace_exists(ctx: ChaosContext, name: str) -> bool:
    try:
        ctx.cluster.core.read_namespace(name)
    except ApiException as exc:
        if exc.status == 404:
            return False
        raise
    return True


# --- rollback helpers -------------------------------------------------------------------------------------


def thaw_everything(configuration: dict | None = None) -> dict[str, Any]:
    """Rollback: no process stays frozen and no load thread keeps running."""
    ctx = _ctx(configuration)
    out = _local_thaw_replica(ctx, None) if ctx.provider == "local" else {}
    ctx.join_threads(10)
    watcher = ctx.notes.get("copy_watcher")
    if watcher is not None:
        watcher.stop()
    return {
        "thawed": out.get("thawed_pids", []),
        "threads_alive": [t.name for t in ctx.threads if t.is_alive()],
    }


__all__ = [
    "WaitTimeout",
    "churn_namespaces",
    "create_pathological_source",
    "create_poison_sources",
    "ensure_operator_ready",
    "freeze_leader",
    "kill_leader",
    "kill_operator",
    "kill_operator_mid_fanout",
    "remove_poison",
    "remove_verb_from_cluster_role",
    "restart_apiserver",
    "restore_rbac",
    "revoke_cluster_role_binding",
    "start_source_updates",
    "stop_source_updates",
    "thaw_everything",
    "thaw_leader",
    "update_sources",
]
