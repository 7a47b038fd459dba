"""One check per diagnostic step of the runbooks, for each setup a runbook is carried out in.

``CHECKS``: the chaos experiments' cluster (a :class:`~chaos.context.ChaosContext`): a
kubectl-equivalent query, a search of the operator's log, or a SubjectAccessReview for its
ServiceAccount, applied to this setup's equivalents of the objects the runbooks name (and saying so
in the evidence).

``OCI_CHECKS``: the OCI stack (oci/: a real registry, Flux and the operator), which can carry out
the "Authentication Failure" steps the chaos cluster cannot (a login, the registry's reachability).

``RELEASE_CHECKS``: the operator deployed by a Flux HelmRelease (the nodes' OCI stack, a
:class:`ReleaseSite`): "Pod Not Running", every step with the real kubectl, step 3 against its
HelmRelease (where a deployment has no HelmRelease, ``CHECKS``' step 3 says so and names
``RELEASE_TEST``, where it is carried out).

Each setup's checks are keyed by the same step check names: the catalogue holds the steps once,
each setup supplies how to carry them out, and all answer in the one vocabulary of
:mod:`chaos.runbooks.base`.

A log search that read no line of the operator since the fault found nothing because it saw nothing:
it reports ``cannot-check`` (a step that cannot be carried out), never ``ok``. Secret values (a
password, a token, a username) never appear in evidence."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from kubernetes import client
from kubernetes.client.rest import ApiException

from chaos.context import OPERATOR_NAMESPACE, ChaosContext, PodOperator
from chaos.faults.shared import operator_can
from chaos.probes import log_records
from chaos.runbooks import kubectl
from chaos.runbooks.base import (
    ALERT,
    CANNOT_CHECK,
    NOT_APPLICABLE,
    OK,
    PROBLEM,
    REMEDY,
    TIMEOUT,
    Outcome,
    Subject,
    list_entries,
    read_secret,
    secret_or_none,
)
from chaos.runbooks.logs import classify_logs
from chaos.runbooks.patterns import regex_verdicts
from fixtures.clusters.binaries import find_tool
from fixtures.core.redact import secret_view
from fixtures.core.waiting import WaitTimeout, eventually
from fixtures.services.oci_registry import OciRegistry
from fixtures.systems.dialects.reflector import ALLOWED, ALLOWED_NAMESPACES

NO_LOG_LINES = "no log line of the operator since the fault: a search of no lines proves nothing"


# --- "Pod Not Running" on Pods: the real kubectl ------------------------------------------------------

#: the namespace and Deployment the runbook's commands name, as written
RUNBOOK_NAMESPACE, RUNBOOK_DEPLOYMENT = "reflector-system", "reflector"


def _kubectl(ctx: ChaosContext, *args: str) -> kubectl.Ran:
    return kubectl.run(str(find_tool("kubectl")), ctx.cluster.kubeconfig, ctx.cluster.context, *args)


def _pods_of(ctx: ChaosContext) -> PodOperator:
    assert isinstance(ctx.operator, PodOperator)
    return ctx.operator


def pod_status_kubectl(ctx: ChaosContext, subject: Subject) -> Outcome:
    """Step 1 with kubectl: as written (``kubectl get pods -n reflector-system``), then applied to the
    operator's namespace and Pods; judged from ``-o json``: a container restarted (restart count up)
    or a Pod created after the fault (a replacement) is a restart; a crash loop or an unready Pod is
    an operator that is down."""
    op = _pods_of(ctx)
    literal = _kubectl(ctx, "get", "pods", "-n", RUNBOOK_NAMESPACE)
    said = ((literal.stdout or literal.stderr).strip().splitlines() or ["no output"])[-1][:100]
    note = f"as written `{literal.command}`: {said!r}; applied: "
    selector = op.label_selector()
    table = _kubectl(ctx, "get", "pods", "-n", op.namespace, "-l", selector, "-o", "wide")
    listed = _kubectl(ctx, "get", "pods", "-n", op.namespace, "-l", selector, "-o", "json")
    if not listed.ok:
        return Outcome(CANNOT_CHECK, note + listed.failure())
    pods = kubectl.pod_facts(listed.stdout)
    rows = [ln.split() for ln in table.stdout.strip().splitlines()[1:]] if table.ok else []
    view = f"`{table.command}` ({len(rows)} row(s)): " + "; ".join(p.line() for p in pods)
    if not pods:
        return Outcome(PROBLEM, note + view + " no Pod of the operator", "operator-down")
    fault_at = ctx.marks.get("fault_at_wall")
    # creationTimestamp has whole seconds: a Pod made in the fault's second counts as made after it
    replaced = [p.name for p in pods if fault_at is not None and p.created >= int(fault_at)]
    restarted = [p.name for p in pods if p.restarts > 0]
    looping = [p.name for p in pods if "CrashLoopBackOff" in p.waiting]
    if restarted or replaced:
        why = []
        if restarted:
            why.append(f"container restarted in {restarted} (exit 137 = SIGKILL; OOMKilled = memory limit)")
        if replaced:
            why.append(f"Pod(s) {replaced} created after the fault (replaced)")
        causes = ["operator-restarted"] + (["operator-down"] if looping else [])
        return Outcome(PROBLEM, note + view + "; " + "; ".join(why), causes)
    not_ready = [p.name for p in pods if not p.ready]
    if looping or not_ready:
        return Outcome(PROBLEM, note + view + f"; not ready: {not_ready}", "operator-down")
    return Outcome(OK, note + view)


def pod_logs_kubectl(ctx: ChaosContext, subject: Subject) -> Outcome:
    """Step 2 with kubectl: ``kubectl logs deploy/<its Deployment>`` in its namespace, each of its
    Pods' logs (and the previous container's, where one restarted): a start logged after the fault is
    a restart; otherwise the warnings and errors since the fault, classified."""
    op = _pods_of(ctx)
    written = f"as written: deploy/{RUNBOOK_DEPLOYMENT} in {RUNBOOK_NAMESPACE}; applied: "
    deploy = _kubectl(ctx, "logs", "-n", op.namespace, f"deploy/{op.deployment_name()}")
    if not deploy.ok:
        return Outcome(CANNOT_CHECK, written + deploy.failure())
    since = ctx.marks.get("fault_at_wall", 0.0)
    texts = {"deploy": deploy.stdout}
    previous: list[str] = []
    for replica in ctx.operator.replicas():
        current = _kubectl(ctx, "logs", "-n", op.namespace, replica.name)
        if current.ok:
            texts[replica.name] = current.stdout
        if replica.restarts > 0:
            before = _kubectl(ctx, "logs", "-n", op.namespace, replica.name, "--previous")
            if before.ok:
                previous.append(
                    f"{replica.name}: {len(before.stdout.splitlines())} line(s) before the restart"
                )
    starts = {name: kubectl.started_after(text, since) for name, text in texts.items() if name != "deploy"}
    started = {name: ts for name, ts in starts.items() if ts}
    lines = sum(len(t.splitlines()) for t in texts.values())
    note = written + f"`{deploy.command}` and {len(texts) - 1} Pod log(s), {lines} line(s)"
    if started:
        detail = "; ".join(f"{n} started at {ts[-1]}" for n, ts in started.items())
        before = f"; {'; '.join(previous)}" if previous else ""
        return Outcome(
            PROBLEM, note + f": a start logged after the fault ({detail}){before}", "operator-restarted"
        )
    records = [
        rec
        for text in texts.values()
        for line in text.splitlines()
        if (rec := _json_line(line)) is not None and _at_or_after(rec, since)
    ]
    if not records:
        return Outcome(CANNOT_CHECK, note + ": " + NO_LOG_LINES)
    causes, examples = classify_logs(records)
    if causes:
        return Outcome(PROBLEM, note + ": " + "; ".join(examples), causes)
    return Outcome(OK, note + ": " + ("no warnings or errors" if not examples else "; ".join(examples)))


def crash_looping_kubectl(ctx: ChaosContext, subject: Subject) -> Outcome:
    """Step 4 with kubectl: ``kubectl describe pod`` of each Pod: a crash loop is three restarts or
    more, or a back-off restarting the container (the describe's waiting reason and events)."""
    op = _pods_of(ctx)
    looping, seen = [], []
    for replica in ctx.operator.replicas():
        described = _kubectl(ctx, "describe", "pod", "-n", op.namespace, replica.name)
        if not described.ok:
            return Outcome(CANNOT_CHECK, described.failure())
        facts = kubectl.describe_facts(described.stdout)
        seen.append(f"`{described.command}`: {facts.summary()}")
        if facts.restart_count >= 3 or facts.back_off:
            looping.append(replica.name)
    if looping:
        return Outcome(
            ALERT,
            f"crash-looping: {looping} (alert only; the runbook prescribes no repair); " + " | ".join(seen),
            "operator-down",
        )
    return Outcome(OK, "not crash-looping (restarts < 3, no back-off); nothing to alert; " + " | ".join(seen))


# --- "Pod Not Running" against the operator's HelmRelease (the OCI phase on real nodes) ------------------

#: where step 3 is carried out for a deployment that has no HelmRelease (the chaos phase)
RELEASE_TEST = "oci/test_runbook_pod_not_running.py"
#: the labels helm-controller puts on every object a HelmRelease installs
HELMRELEASE_NAME_LABEL = "helm.toolkit.fluxcd.io/name"
HELMRELEASE_NS_LABEL = "helm.toolkit.fluxcd.io/namespace"


@dataclass(frozen=True)
class ReleaseSite:
    """The operator deployed by a Flux HelmRelease: its cluster (through its own kubeconfig), the
    namespace of its Pods, its HelmRelease (``release_namespace``: where the HelmRelease lives, by
    default with its Pods), the Deployment it installs, a selector of its Pods, and the fault's wall
    time (log lines before it are no evidence of it)."""

    kubeconfig: Path
    context: str | None
    namespace: str
    release: str
    deployment: str
    selector: str
    since: float = 0.0
    release_namespace: str = ""
    #: how long step 3 waits for helm-controller to handle the reconcile it requests
    reconcile_timeout: float = 10.0

    @property
    def release_ns(self) -> str:
        return self.release_namespace or self.namespace

    def run(self, *args: str) -> kubectl.Ran:
        return kubectl.run(str(find_tool("kubectl")), self.kubeconfig, self.context, *args)

    def pods(self) -> tuple[list[kubectl.PodFacts] | None, kubectl.Ran]:
        listed = self.run("get", "pods", "-n", self.namespace, "-l", self.selector, "-o", "json")
        return (kubectl.pod_facts(listed.stdout) if listed.ok else None), listed


def _said(ran: kubectl.Ran) -> str:
    return ((ran.stdout or ran.stderr).strip().splitlines() or ["no output"])[-1][:160]


def release_pod_status(site: ReleaseSite, subject: Subject) -> Outcome:
    """Step 1: as written (``kubectl get pods -n reflector-system``), then in the operator's namespace:
    what its Pods' container states say (:func:`kubectl.pod_problems`)."""
    literal = site.run("get", "pods", "-n", RUNBOOK_NAMESPACE)
    note = (
        f"as written `{literal.command}`: {_said(literal)!r}; applied to the Pods of HelmRelease "
        f"{site.release_ns}/{site.release} in {site.namespace}: "
    )
    table = site.run("get", "pods", "-n", site.namespace, "-l", site.selector, "-o", "wide")
    pods, listed = site.pods()
    if pods is None:
        return Outcome(CANNOT_CHECK, note + listed.failure())
    rows = len(table.stdout.strip().splitlines()[1:]) if table.ok else 0
    view = f"`{table.command}` ({rows} row(s)): " + "; ".join(p.line() for p in pods)
    if not pods:
        return Outcome(PROBLEM, note + view + " no Pod of the operator", "operator-down")
    causes, lines = kubectl.pod_problems(pods)
    if causes:
        return Outcome(PROBLEM, note + view + "; " + "; ".join(lines), causes)
    not_ready = [p.name for p in pods if not p.ready]
    if not_ready:
        return Outcome(PROBLEM, note + view + f"; not ready: {not_ready}", "pod-not-ready")
    return Outcome(OK, note + view)


def release_pod_logs(site: ReleaseSite, subject: Subject) -> Outcome:
    """Step 2: ``kubectl logs deploy/<its Deployment>`` in its namespace, each Pod's log and the
    previous container's where one restarted: a command line the program refused (its usage error)
    is a bad flag; otherwise its warnings and errors since the fault, classified."""
    written = (
        f"as written: deploy/{RUNBOOK_DEPLOYMENT} in {RUNBOOK_NAMESPACE}; applied to "
        f"deploy/{site.deployment} in {site.namespace}: "
    )
    texts: dict[str, str] = {}
    failed: list[str] = []
    deploy = site.run("logs", "-n", site.namespace, f"deploy/{site.deployment}")
    if deploy.ok:
        texts["deploy"] = deploy.stdout
    else:
        failed.append(deploy.failure())
    pods, listed = site.pods()
    for pod in pods or []:
        current = site.run("logs", "-n", site.namespace, pod.name)
        if current.ok:
            texts[pod.name] = current.stdout
        else:
            failed.append(current.failure())
        if pod.restarts > 0:
            before = site.run("logs", "-n", site.namespace, pod.name, "--previous")
            if before.ok:
                texts[f"{pod.name} --previous"] = before.stdout
            else:
                failed.append(before.failure())
    if pods is None:
        failed.append(listed.failure())
    lines = sum(len(t.splitlines()) for t in texts.values())
    note = written + f"`{deploy.command}` and {len(texts) - ('deploy' in texts)} Pod log(s), {lines} line(s)"
    refused = {name: errs for name, text in texts.items() if (errs := kubectl.command_line_errors(text))}
    if refused:
        said = "; ".join(f"{name}: {errs[-1]!r}" for name, errs in refused.items())
        return Outcome(PROBLEM, note + f": the program refused its command line: {said}", "bad-flag")
    if not texts:
        return Outcome(CANNOT_CHECK, written + "no log could be read: " + "; ".join(failed[:2]))
    records = [
        rec
        for text in texts.values()
        for line in text.splitlines()
        if (rec := _json_line(line)) is not None and _at_or_after(rec, site.since)
    ]
    unread = f"; not read: {'; '.join(failed[:2])}" if failed else ""
    if not records:
        return Outcome(CANNOT_CHECK, note + ": " + NO_LOG_LINES + unread)
    causes, examples = classify_logs(records)
    if causes:
        return Outcome(PROBLEM, note + ": " + "; ".join(examples) + unread, causes)
    said = "no warnings or errors" if not examples else "; ".join(examples)
    return Outcome(OK, note + f", {len(records)} since the fault: {said}{unread}")


def release_helmrelease_status(site: ReleaseSite, subject: Subject) -> Outcome:
    """Step 3: as written (``kubectl get helmrelease -n reflector-system reflector``), then the
    operator's HelmRelease: its row, a reconcile requested the Flux way (the annotation
    ``flux reconcile helmrelease`` sets) and, once helm-controller handled it (or after
    ``reconcile_timeout``: it finishes the action it is running first), its Ready condition, history
    and failure counters in Flux's own words (:func:`kubectl.release_causes` judges them)."""
    literal = site.run("get", "helmrelease", "-n", RUNBOOK_NAMESPACE, RUNBOOK_DEPLOYMENT)
    ns, name = site.release_ns, site.release
    note = (
        f"as written `{literal.command}`: {_said(literal)!r}; "
        f"applied to the operator's HelmRelease {ns}/{name}: "
    )
    table = site.run("get", "helmrelease", "-n", ns, name)
    if not table.ok:
        return Outcome(CANNOT_CHECK, note + table.failure())
    token = datetime.now(UTC).isoformat()
    asked = site.run(
        "annotate", "--overwrite", "-n", ns, f"helmrelease/{name}", f"{kubectl.RECONCILE_ANNOTATION}={token}"
    )

    def read() -> kubectl.ReleaseFacts:
        got = site.run("get", "helmrelease", "-n", ns, name, "-o", "json")
        assert got.ok, got.failure()
        return kubectl.helmrelease_facts(got.stdout)

    def handled() -> kubectl.ReleaseFacts:
        facts = read()
        assert facts.last_handled == token, f"reconcile not handled yet: {facts.line()}"
        return facts

    t0 = time.monotonic()
    if not asked.ok:
        reconcile = f"reconcile not requested: {asked.failure()}"
        facts = read()
    else:
        try:
            facts = eventually(
                handled, timeout=site.reconcile_timeout, interval=0.5, description="the reconcile requested"
            )
            took = time.monotonic() - t0
            reconcile = f"reconcile requested (`{asked.command}`) and handled in {took:.1f} s"
        except WaitTimeout:
            facts = read()
            reconcile = (
                f"reconcile requested (`{asked.command}`), not handled within {site.reconcile_timeout:g} s "
                "(helm-controller finishes the action it is running first)"
            )
    view = f"`{table.command}`: {_said(table)!r}; {reconcile}; {facts.line()}"
    causes = kubectl.release_causes(facts)
    if causes:
        return Outcome(PROBLEM, note + view, causes)
    return Outcome(OK, note + view)


def release_crash_looping(site: ReleaseSite, subject: Subject) -> Outcome:
    """Step 4: ``kubectl describe pod`` of each of its Pods: a crash loop is three restarts or more,
    or a back-off restarting the container (an image pull back-off is not a crash loop)."""
    pods, listed = site.pods()
    if pods is None:
        return Outcome(CANNOT_CHECK, listed.failure())
    looping, seen = [], []
    for pod in pods:
        described = site.run("describe", "pod", "-n", site.namespace, pod.name)
        if not described.ok:
            return Outcome(CANNOT_CHECK, described.failure())
        facts = kubectl.describe_facts(described.stdout)
        seen.append(f"`{described.command}`: {facts.summary()}")
        if facts.restart_count >= 3 or facts.back_off:
            looping.append(pod.name)
    if looping:
        return Outcome(
            ALERT,
            f"crash-looping: {looping} (alert only; the runbook prescribes no repair); " + " | ".join(seen),
            "crash-loop",
        )
    return Outcome(OK, "not crash-looping (restarts < 3, no back-off); nothing to alert; " + " | ".join(seen))


RELEASE_CHECKS: dict[str, Callable[[ReleaseSite, Subject], Outcome]] = {
    "pod_status": release_pod_status,
    "pod_logs": release_pod_logs,
    "helmrelease_status": release_helmrelease_status,
    "crash_looping": release_crash_looping,
}


def _json_line(line: str) -> dict[str, Any] | None:
    if not line.startswith("{"):
        return None
    try:
        rec = json.loads(line)
    except ValueError:
        return None
    return rec if isinstance(rec, dict) else None


def _at_or_after(rec: dict[str, Any], since_wall: float) -> bool:
    try:
        return datetime.fromisoformat(rec["ts"]).timestamp() >= since_wall
    except (KeyError, TypeError, ValueError):
        return False


# --- the other checks ---------------------------------------------------------------------------------------


def pod_status(ctx: ChaosContext, subject: Subject) -> Outcome:
    if ctx.operator.runs_pods:
        return pod_status_kubectl(ctx, subject)
    literal = ctx.cluster.core.list_namespaced_pod("reflector-system", _request_timeout=TIMEOUT).items
    note = (
        f"as written the step lists pods in reflector-system ({len(literal)} found: nothing runs there in "
        f"this setup); applied to the operator in {OPERATOR_NAMESPACE}: "
    )
    replicas = ctx.operator.replicas()
    if not replicas or all(not ctx.operator.running(r) for r in replicas):
        return Outcome(PROBLEM, note + "no operator instance running", "operator-down")
    restarted = [r for r in replicas if r.restarts > 0]
    view = ", ".join(
        f"{r.name}: restarts={r.restarts} last exit={r.last_exit_codes[-1:] or '-'}" for r in replicas
    )
    if restarted:
        return Outcome(
            PROBLEM,
            note + view + " (a restart after being killed: exit -9 / 137 = SIGKILL)",
            "operator-restarted",
        )
    not_ready = [r.name for r in replicas if not ctx.operator.ready(r.name)[0]]
    if not_ready:
        return Outcome(PROBLEM, note + view + f"; not ready: {not_ready}", "operator-down")
    return Outcome(OK, note + view)


def pod_logs(ctx: ChaosContext, subject: Subject) -> Outcome:
    if ctx.operator.runs_pods:
        return pod_logs_kubectl(ctx, subject)
    text = "\n".join(ctx.operator.logs(n) for n in ctx.replica_names())
    exits = [ln for ln in text.splitlines() if ln.startswith("supervisor: process exited")]
    note = "as written: deploy/reflector in reflector-system; applied to the operator's log: "
    if exits:
        return Outcome(
            PROBLEM, note + f"{len(exits)} exit(s), e.g. {exits[-1][:120]!r}", "operator-restarted"
        )
    records = log_records(ctx, ctx.marks.get("fault_at_wall", 0.0))
    if not records:
        return Outcome(CANNOT_CHECK, note + NO_LOG_LINES)
    causes, examples = classify_logs(records)
    if causes:
        return Outcome(PROBLEM, note + "; ".join(examples), causes)
    return Outcome(OK, note + ("no warnings or errors" if not examples else "; ".join(examples)))


def helmrelease_status(ctx: ChaosContext, subject: Subject) -> Outcome:
    """Step 3 where the chaos experiments deployed the operator: against its HelmRelease when Flux
    installed it (helm-controller's labels on its Deployment), otherwise not applicable to this
    deployment, saying how it runs and where the step is carried out instead (``RELEASE_TEST``)."""
    if ctx.operator.runs_pods:
        op = _pods_of(ctx)
        apps = client.AppsV1Api(ctx.cluster.api)
        deployment = apps.read_namespaced_deployment(
            op.deployment_name(), op.namespace, _request_timeout=TIMEOUT
        )
        labels = deployment.metadata.labels or {}
        if HELMRELEASE_NAME_LABEL in labels:
            site = ReleaseSite(
                ctx.cluster.kubeconfig,
                ctx.cluster.context,
                op.namespace,
                labels[HELMRELEASE_NAME_LABEL],
                deployment.metadata.name,
                op.label_selector(),
                since=ctx.marks.get("fault_at_wall", 0.0),
                release_namespace=labels.get(HELMRELEASE_NS_LABEL, ""),
            )
            return release_helmrelease_status(site, subject)
        helm = (deployment.metadata.annotations or {}).get("meta.helm.sh/release-name")
        where = f"Pods of Deployment {op.namespace}/{deployment.metadata.name}"
        how = f"{where} installed with the helm CLI (Helm release {helm}, no Flux)" if helm else where
    else:
        how = "local processes (no Deployment, no Helm release)"
    return Outcome(
        NOT_APPLICABLE,
        f"this deployment has no HelmRelease (the operator runs as {how}); step 3 is carried out "
        f"against the operator's HelmRelease in the OCI phase ({RELEASE_TEST})",
    )


def crash_looping(ctx: ChaosContext, subject: Subject) -> Outcome:
    if ctx.operator.runs_pods:
        return crash_looping_kubectl(ctx, subject)
    replicas = ctx.operator.replicas()
    looping = [r.name for r in replicas if r.restarts >= 3]
    if looping:
        return Outcome(
            ALERT,
            f"crash-looping: {looping} (alert only; the runbook prescribes no repair)",
            "operator-down",
        )
    return Outcome(OK, "not crash-looping (restarts < 3); nothing to alert")


def logs_for_errors(ctx: ChaosContext, subject: Subject) -> Outcome:
    records = log_records(ctx, ctx.marks.get("fault_at_wall", 0.0))
    if not records:
        return Outcome(CANNOT_CHECK, NO_LOG_LINES)
    causes, examples = classify_logs(records)
    if causes:
        return Outcome(PROBLEM, "; ".join(examples), causes)
    if examples:
        return Outcome(OK, "warnings/errors not pointing at a cause: " + "; ".join(examples))
    return Outcome(OK, f"no warnings or errors in {len(records)} log lines since the fault")


def annotations_correct(ctx: ChaosContext, subject: Subject) -> Outcome:
    """As the design's Data Models section defines them: reflection-allowed "true" and an explicit
    reflection-allowed-namespaces list (nothing else is described there)."""
    source = read_secret(ctx, subject.source, subject.source_ns)
    if source is None:
        return Outcome(PROBLEM, "source missing", "source-missing")
    ann = source.metadata.annotations or {}
    if ann.get(ALLOWED, "").strip().lower() != "true":
        return Outcome(PROBLEM, f"{ALLOWED} is {ann.get(ALLOWED)!r}, not true", "auto-disabled")
    entries = list_entries(ann.get(ALLOWED_NAMESPACES))
    if not entries:
        return Outcome(PROBLEM, f"{ALLOWED_NAMESPACES} is missing or empty", "namespace-not-allowed")
    verdicts = regex_verdicts(entries, subject.target_ns)
    invalid = [(e, v) for e, v in verdicts.items() if v.startswith("invalid")]
    if invalid:
        return Outcome(
            PROBLEM,
            "; ".join(f"entry {e!r} is not a valid regular expression" for e, _ in invalid),
            "invalid-annotation",
        )
    return Outcome(
        OK,
        f"{ALLOWED}=true and {len(entries)} valid list entries (the data model mentions no other annotation)",
    )


def target_namespace_exists(ctx: ChaosContext, subject: Subject) -> Outcome:
    try:
        ns = ctx.cluster.core.read_namespace(subject.target_ns, _request_timeout=TIMEOUT)
    except ApiException as exc:
        if exc.status == 404:
            return Outcome(PROBLEM, f"namespace {subject.target_ns} does not exist", "namespace-missing")
        raise
    if ns.status.phase != "Active":
        return Outcome(PROBLEM, f"namespace {subject.target_ns} is {ns.status.phase}", "namespace-missing")
    return Outcome(OK, f"namespace {subject.target_ns} is Active")


def target_in_allowed_list(ctx: ChaosContext, subject: Subject) -> Outcome:
    source = read_secret(ctx, subject.source, subject.source_ns)
    if source is None:
        return Outcome(PROBLEM, "source missing", "source-missing")
    entries = list_entries((source.metadata.annotations or {}).get(ALLOWED_NAMESPACES))
    if not entries:
        return Outcome(OK, "no list: every namespace is allowed")
    verdicts = regex_verdicts(entries, subject.target_ns)
    if any(v == "match" for v in verdicts.values()):
        return Outcome(OK, f"{subject.target_ns} matches the list")
    if any(v == "timeout" for v in verdicts.values()):
        slow = [e for e, v in verdicts.items() if v == "timeout"]
        return Outcome(PROBLEM, f"entries {slow} take longer than 3 s to evaluate", "pathological-pattern")
    if any(v.startswith("invalid") for v in verdicts.values()):
        return Outcome(PROBLEM, "the list has invalid entries", "invalid-annotation")
    return Outcome(
        PROBLEM, f"{subject.target_ns} matches none of {len(entries)} entries", "namespace-not-allowed"
    )


def lag_alert(ctx: ChaosContext, subject: Subject) -> Outcome:
    source = read_secret(ctx, subject.source, subject.source_ns)
    copy = read_secret(ctx, subject.source, subject.target_ns)
    if source is None or copy is None:
        return Outcome(OK, "no copy to measure lag on")
    if secret_view(copy) == secret_view(source):
        return Outcome(OK, "copy is current; no lag")
    changed = max((f.time for f in source.metadata.managed_fields or [] if f.time), default=None)
    lag = time.time() - changed.timestamp() if changed else 0.0
    if lag > 300:
        return Outcome(ALERT, f"copy behind the source for {lag:.0f} s (> 5 min): alert", "stale-copy")
    return Outcome(OK, f"copy behind the source for {lag:.0f} s: below the 5-minute alert threshold")


def source_exists(ctx: ChaosContext, subject: Subject) -> Outcome:
    note = "as written: oci-creds in flux-system; applied to the experiment's source: "
    if read_secret(ctx, subject.source, subject.source_ns) is None:
        return Outcome(PROBLEM, note + f"{subject.source_ns}/{subject.source} not found", "source-missing")
    return Outcome(OK, note + f"{subject.source_ns}/{subject.source} exists")


RBAC_NEEDS = [
    ("get", True),
    ("create", True),
    ("update", True),
    ("patch", True),
    ("delete", True),
    ("list", False),
    ("watch", False),
]


def operator_rbac(ctx: ChaosContext, subject: Subject) -> Outcome:
    missing = []
    for verb, namespaced in RBAC_NEEDS:
        if not operator_can(ctx, verb, "secrets", subject.target_ns if namespaced else None):
            missing.append(f"{verb} secrets" + (f" in {subject.target_ns}" if namespaced else " (cluster)"))
    for verb in ("list", "watch"):
        if not operator_can(ctx, verb, "namespaces"):
            missing.append(f"{verb} namespaces")
    if missing:
        return Outcome(
            PROBLEM,
            "SubjectAccessReview for the operator's ServiceAccount denies: " + ", ".join(missing),
            "rbac",
        )
    return Outcome(OK, "SubjectAccessReview: every verb the operator needs is allowed")


def logs_permission_errors(ctx: ChaosContext, subject: Subject) -> Outcome:
    records = log_records(ctx, ctx.marks.get("fault_at_wall", 0.0))
    if not records:
        return Outcome(CANNOT_CHECK, NO_LOG_LINES)
    hits = [r for r in records if "forbidden" in r.get("msg", "")]
    if hits:
        return Outcome(
            PROBLEM, f"{len(hits)} permission error line(s), e.g. {hits[-1]['msg'][:160]!r}", "rbac"
        )
    return Outcome(OK, f"no permission errors in {len(records)} log lines since the fault")


def copy_exists(ctx: ChaosContext, subject: Subject) -> Outcome:
    copy = read_secret(ctx, subject.source, subject.target_ns)
    if copy is None:
        return Outcome(PROBLEM, f"{subject.target_ns}/{subject.source} not found", "missing-copy")
    return Outcome(OK, f"{subject.target_ns}/{subject.source} exists")


def copy_is_docker_config(ctx: ChaosContext, subject: Subject) -> Outcome:
    copy = read_secret(ctx, subject.source, subject.target_ns)
    if copy is None:
        return Outcome(PROBLEM, "no copy", "missing-copy")
    if copy.type != "kubernetes.io/dockerconfigjson":
        return Outcome(NOT_APPLICABLE, f"type {copy.type}: not a Docker config")
    try:
        doc = json.loads(base64.b64decode((copy.data or {}).get(".dockerconfigjson", "")))
        registries = len(doc["auths"])
    except (ValueError, KeyError, TypeError):
        return Outcome(PROBLEM, "content is not a valid Docker config JSON", "corrupt-copy")
    return Outcome(
        OK,
        f"valid Docker config JSON with {registries} registry entr{'y' if registries == 1 else 'ies'}"
        " (valid, but not compared with the source)",
    )


#: where the registry steps of "Authentication Failure" are carried out against a real registry
REGISTRY_TEST = "oci/test_runbook_auth_failure.py"


def credentials_not_expired(ctx: ChaosContext, subject: Subject) -> Outcome:
    return Outcome(
        NOT_APPLICABLE,
        "this setup has no OCI registry to judge the credentials (a Docker config carries no expiry; "
        f"only the registry can tell): step 3 is carried out as a login in the OCI phase ({REGISTRY_TEST})",
    )


def registry_accessible(ctx: ChaosContext, subject: Subject) -> Outcome:
    return Outcome(
        NOT_APPLICABLE,
        "this setup has no OCI registry (the suite sends traffic to 127.0.0.1 only): step 4 is carried "
        f"out against a real registry in the OCI phase ({REGISTRY_TEST})",
    )


def operator_running(ctx: ChaosContext, subject: Subject) -> Outcome:
    replicas = ctx.operator.replicas()
    ready = {r.name: ctx.operator.ready(r.name)[0] for r in replicas}
    if not ready or not any(ready.values()):
        return Outcome(PROBLEM, f"no ready operator instance ({ready or 'none'})", "operator-down")
    return Outcome(OK, f"ready: {ready}")


def remedy(ctx: object, subject: Subject) -> Outcome:
    """A remedy step in any setup: it is not a check."""
    return Outcome(REMEDY, "a remedy: applied only after diagnosis")


CHECKS: dict[str, Callable[[ChaosContext, Subject], Outcome]] = {
    f.__name__: f
    for f in (
        pod_status,
        pod_logs,
        helmrelease_status,
        crash_looping,
        logs_for_errors,
        annotations_correct,
        target_namespace_exists,
        target_in_allowed_list,
        lag_alert,
        source_exists,
        operator_rbac,
        logs_permission_errors,
        copy_exists,
        copy_is_docker_config,
        credentials_not_expired,
        registry_accessible,
        operator_running,
        remedy,
    )
}


# --- the OCI stack: "Authentication Failure" against a real registry ----------------------------------


@dataclass(frozen=True)
class RegistrySite:
    """The OCI stack a runbook is applied to: its cluster's API and the registry the Docker config
    is for. The subject names the source (``flux-system/oci-creds``) and the service namespace."""

    core: client.CoreV1Api
    registry: OciRegistry


DOCKER_CONFIG = "kubernetes.io/dockerconfigjson"


def credentials_for(config_text: str, host: str) -> tuple[str, str]:
    """(username, password) for ``host`` from a .dockerconfigjson; ValueError naming what is wrong
    (never a value)."""
    try:
        doc = json.loads(config_text)
    except ValueError as exc:
        raise ValueError(f"not JSON ({exc.msg} at line {exc.lineno})") from None
    auths = doc.get("auths") if isinstance(doc, dict) else None
    if not isinstance(auths, dict):
        raise ValueError('no "auths" object')
    entry = auths.get(host)
    if not isinstance(entry, dict):
        raise ValueError(f"no entry for registry {host} (entries: {', '.join(sorted(auths)) or 'none'})")
    user, password = entry.get("username"), entry.get("password")
    if not (user and password) and entry.get("auth"):
        try:
            user, _, password = base64.b64decode(entry["auth"]).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            raise ValueError(f'entry for {host}: "auth" is not base64 of user:password') from None
    if not user or not password:
        raise ValueError(f"entry for {host} has no username/password")
    return user, password


def _registry_credentials(site: RegistrySite, subject: Subject) -> tuple[tuple[str, str] | None, str]:
    """The credentials the service namespace's Secret holds for the registry, or None and why not."""
    obj = secret_or_none(site.core, subject.source, subject.target_ns)
    if obj is None:
        return None, "no secret to read"
    raw = (obj.data or {}).get(".dockerconfigjson")
    if obj.type != DOCKER_CONFIG or raw is None:
        return None, f"type {obj.type}, key .dockerconfigjson {'present' if raw else 'missing'}"
    try:
        text = base64.b64decode(raw).decode(errors="replace")
        return credentials_for(text, site.registry.host), ""
    except ValueError as exc:
        return None, str(exc)


def oci_copy_exists(site: RegistrySite, subject: Subject) -> Outcome:
    obj = secret_or_none(site.core, subject.source, subject.target_ns)
    if obj is None:
        return Outcome(PROBLEM, f"{subject.target_ns}/{subject.source} not found", "missing-copy")
    return Outcome(OK, f"{subject.target_ns}/{subject.source} of type {obj.type}")


def oci_copy_is_docker_config(site: RegistrySite, subject: Subject) -> Outcome:
    if secret_or_none(site.core, subject.source, subject.target_ns) is None:
        return Outcome(CANNOT_CHECK, "no secret to read")
    creds, why = _registry_credentials(site, subject)
    if creds is None:
        return Outcome(PROBLEM, why, "corrupt-copy")
    return Outcome(OK, f"a username and password for {site.registry.host}")


def oci_credentials_not_expired(site: RegistrySite, subject: Subject) -> Outcome:
    """A Docker config carries no expiry: the registry's answer to a login with it is the test."""
    creds, why = _registry_credentials(site, subject)
    if creds is None:
        return Outcome(CANNOT_CHECK, f"no credentials to try ({why})")
    try:
        status = site.registry.login_status(*creds)
    except OSError as exc:  # URLError included: no answer, or no verified TLS
        return Outcome(
            CANNOT_CHECK,
            f"registry did not answer ({getattr(exc, 'reason', exc)}); cannot judge the credentials",
        )
    applied = "a Docker config carries no expiry; applied as a login (GET /v2/ over verified TLS): "
    if status == 200:
        return Outcome(OK, applied + "HTTP 200")
    return Outcome(PROBLEM, applied + f"HTTP {status}", "credentials-rejected")


def reachable(registry: OciRegistry, timeout: float = 3.0) -> tuple[bool, str]:
    """A verified TLS handshake and any HTTP answer from /v2/ (an anonymous request)."""
    try:
        status = registry.login_status("", "", timeout=timeout)
    except OSError as exc:  # URLError included
        return False, f"{registry.host}: {getattr(exc, 'reason', exc)}"
    return True, f"{registry.host} answered HTTP {status} over verified TLS"


def oci_registry_accessible(site: RegistrySite, subject: Subject) -> Outcome:
    up, detail = reachable(site.registry)
    return Outcome(OK, detail) if up else Outcome(PROBLEM, detail, "registry-unreachable")


OCI_CHECKS: dict[str, Callable[[RegistrySite, Subject], Outcome]] = {
    "copy_exists": oci_copy_exists,
    "copy_is_docker_config": oci_copy_is_docker_config,
    "credentials_not_expired": oci_credentials_not_expired,
    "registry_accessible": oci_registry_accessible,
    "remedy": remedy,
}
