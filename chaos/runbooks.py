"""The "Error Handling" runbooks of the design (shared/seeds/000_aefa967825fe900c.txt), executable.

Each runbook is data: its steps *as written*, and for each step the check that carries it out against
the cluster (a kubectl-equivalent query, a search of the operator's log, a SubjectAccessReview for the
operator's ServiceAccount) or the remedy it prescribes. The runbooks name Reflector's objects
(``reflector-system``, ``deploy/reflector``, ``oci-creds`` in ``flux-system``); the checks apply each
step to this setup's equivalents (the operator in ``replicheck-system``, the experiment's source and
target) and say so in their evidence.

Running a runbook against a fault records which step identifies the injected cause, and whether the
remedy the runbook prescribes restores service: the target gets the current credential *and keeps
following* a further rotation within the SLO. A runbook that cannot identify the cause is a finding.

Remedies are only what the text prescribes: explicit steps ("Rotate credentials if compromised",
"Manually create secret as temporary workaround") and the unambiguous fix of a failed verification
("Verify target namespace is in allowed list" → add it; "Check Reflector RBAC permissions" → grant
them; "Verify Reflector annotations are correct" → correct them), labelled *implied*. Alerts are not
remedies.
"""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kubernetes import client
from kubernetes.client.rest import ApiException

from chaos.actions import operator_can, restore_rbac
from chaos.context import OPERATOR_NAMESPACE, ChaosContext, context_of
from chaos.probes import log_records
from fixtures.dialect import ALLOWED, ALLOWED_NAMESPACES, AUTO_REFLECTS, REFLECTS
from fixtures.redact import secret_view

SEED = "shared/seeds/000_aefa967825fe900c.txt"
TIMEOUT = 10  # seconds per API call a check makes


@dataclass(frozen=True)
class Step:
    number: int
    text: str  # verbatim from the seed
    check: str  # name of the function in CHECKS
    kind: str  # query | log-search | access-review | alert | remedy
    remedy: str | None = None  # REMEDIES key: prescribed (kind == "remedy") or implied by a failed check


@dataclass(frozen=True)
class Runbook:
    title: str
    section: str
    trigger: str
    steps: tuple[Step, ...]

    def remedy_step(self) -> Step | None:
        return next((s for s in self.steps if s.kind == "remedy"), None)


RUNBOOKS: dict[str, Runbook] = {
    rb.title: rb
    for rb in (
        Runbook(
            "Pod Not Running",
            "Reflector Failures",
            "If Reflector pod is not running",
            (
                Step(1, "Check pod status: `kubectl get pods -n reflector-system`", "pod_status", "query"),
                Step(
                    2,
                    "Check pod logs: `kubectl logs -n reflector-system deploy/reflector`",
                    "pod_logs",
                    "log-search",
                ),
                Step(
                    3,
                    "Check HelmRelease status: `kubectl get helmrelease -n reflector-system reflector`",
                    "helmrelease_status",
                    "query",
                ),
                Step(4, "Alert platform team if pod is crash-looping", "crash_looping", "alert"),
            ),
        ),
        Runbook(
            "Replication Lag",
            "Reflector Failures",
            "If secret replication takes longer than 60 seconds",
            (
                Step(1, "Check Reflector logs for errors", "logs_for_errors", "log-search"),
                Step(
                    2,
                    "Verify source secret has correct annotations",
                    "annotations_correct",
                    "query",
                    remedy="fix-annotations",
                ),
                Step(3, "Verify target namespace exists", "target_namespace_exists", "query"),
                Step(
                    4,
                    "Verify target namespace is in allowed list",
                    "target_in_allowed_list",
                    "query",
                    remedy="add-namespace",
                ),
                Step(5, "Alert if lag exceeds 5 minutes", "lag_alert", "alert"),
            ),
        ),
        Runbook(
            "Replication Failure",
            "Reflector Failures",
            "If secret is not replicated to target namespace",
            (
                Step(
                    1,
                    "Verify source secret exists: `kubectl get secret oci-creds -n flux-system`",
                    "source_exists",
                    "query",
                ),
                Step(
                    2,
                    "Verify Reflector annotations are correct",
                    "annotations_correct",
                    "query",
                    remedy="fix-annotations",
                ),
                Step(
                    3,
                    "Verify target namespace is in allowed list",
                    "target_in_allowed_list",
                    "query",
                    remedy="add-namespace",
                ),
                Step(
                    4,
                    "Check Reflector RBAC permissions",
                    "operator_rbac",
                    "access-review",
                    remedy="grant-rbac",
                ),
                Step(
                    5,
                    "Check Reflector logs for permission errors",
                    "logs_permission_errors",
                    "log-search",
                    remedy="grant-rbac",
                ),
            ),
        ),
        Runbook(
            "Authentication Failure",
            "OCI Credentials Failures",
            "If HelmRelease fails with authentication error",
            (
                Step(1, "Verify oci-creds secret exists in service namespace", "copy_exists", "query"),
                Step(
                    2, "Verify secret content is valid Docker config JSON", "copy_is_docker_config", "query"
                ),
                Step(3, "Verify credentials are not expired", "credentials_not_expired", "query"),
                Step(4, "Verify OCI registry is accessible", "registry_accessible", "query"),
                Step(5, "Rotate credentials if compromised", "remedy", "remedy", remedy="rotate-credentials"),
            ),
        ),
        Runbook(
            "Missing Secret",
            "OCI Credentials Failures",
            "If oci-creds secret is missing from service namespace",
            (
                Step(1, "Verify source secret exists in flux-system", "source_exists", "query"),
                Step(2, "Verify Reflector is running", "operator_running", "query"),
                Step(
                    3,
                    "Verify namespace is in allowed list",
                    "target_in_allowed_list",
                    "query",
                    remedy="add-namespace",
                ),
                Step(
                    4,
                    "Manually create secret as temporary workaround",
                    "remedy",
                    "remedy",
                    remedy="manual-copy",
                ),
                Step(5, "Investigate Reflector logs", "logs_for_errors", "log-search"),
            ),
        ),
    )
}

# What a reader of each runbook would need to notice a cause it has no step for (used in findings).
MISSING_CHECK = {
    "auto-disabled": "no step checks reflection-auto-enabled (the design's data model omits it, and "
    "without it Reflector creates no copies)",
    "pathological-pattern": "no step evaluates how expensive a pattern is (it is valid, so 'annotations "
    "correct' passes) and no step looks at the controller itself (/healthz, metrics, CPU)",
    "rbac": "no step compares the copy with the source or looks at the replicator and its RBAC",
    "operator-restarted": "no step explains a restart (exit code, last state)",
    "apiserver-unavailable": "no step looks at the API server's availability",
    "invalid-annotation": "no step validates the annotation values",
    "operator-down": "no step checks that the replicator runs",
    "namespace-not-allowed": "no step checks the allowed list",
}


@dataclass
class Subject:
    """What the runbook is applied to: a source and the namespace that lacks (a current) copy."""

    source_ns: str
    source: str
    target_ns: str


@dataclass
class Outcome:
    status: str  # ok | problem | not-applicable | cannot-check | alert | remedy
    evidence: str
    cause: str | list[str] | None = None  # what the evidence points at (a log search may point at several)

    @property
    def causes(self) -> list[str]:
        if self.cause is None:
            return []
        return [self.cause] if isinstance(self.cause, str) else list(self.cause)


# --- helpers ---------------------------------------------------------------------------------------


def _read_secret(ctx: ChaosContext, name: str, ns: str) -> Any | None:
    try:
        return ctx.cluster.core.read_namespaced_secret(name, ns, _request_timeout=TIMEOUT)
    except ApiException as exc:
        if exc.status == 404:
            return None
        raise


def _entries(value: str | None) -> list[str]:
    return [e.strip() for e in (value or "").split(",") if e.strip()]


_MATCH = """
import json, re, sys
name, patterns = sys.argv[1], json.loads(sys.argv[2])
for pattern in patterns:
    try:
        rx = re.compile(pattern)
    except re.error as exc:
        print("invalid:" + str(exc), flush=True)
        continue
    print("match" if rx.fullmatch(name) else "nomatch", flush=True)
"""


def regex_verdicts(patterns: list[str], name: str, timeout_s: float = 3.0) -> dict[str, str]:
    """Per pattern ``match`` / ``nomatch`` / ``invalid:<why>`` / ``timeout``, evaluated in a child
    process with a deadline: a pattern taken from a Secret may backtrack catastrophically."""
    if not patterns:
        return {}
    cmd = [sys.executable, "-c", _MATCH, name, json.dumps(patterns)]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s)
        lines = proc.stdout.splitlines()
    except subprocess.TimeoutExpired as exc:
        out = exc.stdout or b""
        lines = (out.decode() if isinstance(out, bytes) else out).splitlines()
        lines.append("timeout")  # the pattern after the last answer is the slow one
    verdicts = dict(zip(patterns, lines, strict=False))
    for p in patterns[len(lines) :]:
        verdicts[p] = "not-evaluated"  # after a slow pattern
    return verdicts


def regex_verdict(pattern: str, name: str, timeout_s: float = 3.0) -> str:
    return regex_verdicts([pattern], name, timeout_s)[pattern]


LOG_CAUSES: list[tuple[str, Callable[[dict[str, Any]], bool]]] = [
    ("rbac", lambda r: "forbidden" in r.get("msg", "")),
    ("pathological-pattern", lambda r: "catastrophic backtracking" in r.get("msg", "")),
    (
        "invalid-annotation",
        lambda r: (
            "invalid annotation" in r.get("msg", "") and "catastrophic backtracking" not in r.get("msg", "")
        ),
    ),
    (
        "apiserver-unavailable",
        lambda r: (
            r.get("msg", "") in ("watch failed; retrying with backoff", "lease request failed")
            and r.get("error") in ("connection", "server_error")
        ),
    ),
]


def classify_logs(records: list[dict[str, Any]]) -> tuple[list[str], list[str]]:
    """Every cause the operator's warnings/errors point at (in order of first appearance), and
    examples (messages only, never data)."""
    noisy = [r for r in records if r.get("level") in ("error", "warning")]
    causes: list[str] = []
    examples: list[str] = []
    for r in sorted(noisy, key=lambda r: r.get("ts", "")):
        for cause, match in LOG_CAUSES:
            if match(r) and cause not in causes:
                causes.append(cause)
                examples.append(f"[{cause}] {r['level']}: {r['msg']} {r.get('error') or ''}".strip()[:200])
    if not causes:
        examples = [f"{r['level']}: {r['msg']}"[:200] for r in noisy[:3]]
    return causes, examples


# --- checks ------------------------------------------------------------------------------------------------


def pod_status(ctx: ChaosContext, subject: Subject) -> Outcome:
    literal = ctx.cluster.core.list_namespaced_pod("reflector-system", _request_timeout=TIMEOUT).items
    note = (
        f"as written the step lists pods in reflector-system ({len(literal)} found: nothing runs there in "
        f"this setup); applied to the operator in {OPERATOR_NAMESPACE}: "
    )
    replicas = ctx.operator.replicas()
    if not replicas or all(r.pid is None and ctx.provider == "local" for r in replicas):
        return Outcome("problem", note + "no operator instance running", "operator-down")
    restarted = [r for r in replicas if r.restarts > 0]
    view = ", ".join(
        f"{r.name}: restarts={r.restarts} last exit={r.last_exit_codes[-1:] or '-'}" for r in replicas
    )
    if restarted:
        return Outcome(
            "problem",
            note + view + " (a restart after being killed: exit -9 / 137 = SIGKILL)",
            "operator-restarted",
        )
    not_ready = [r.name for r in replicas if not ctx.operator.ready(r.name)[0]]
    if not_ready:
        return Outcome("problem", note + view + f"; not ready: {not_ready}", "operator-down")
    return Outcome("ok", note + view)


def pod_logs(ctx: ChaosContext, subject: Subject) -> Outcome:
    text = "\n".join(ctx.operator.logs(n) for n in ctx.replica_names())
    exits = [ln for ln in text.splitlines() if ln.startswith("supervisor: process exited")]
    note = "as written: deploy/reflector in reflector-system; applied to the operator's log: "
    if exits:
        return Outcome(
            "problem", note + f"{len(exits)} exit(s), e.g. {exits[-1][:120]!r}", "operator-restarted"
        )
    causes, examples = classify_logs(log_records(ctx, ctx.marks.get("fault_at_wall", 0.0)))
    if causes:
        return Outcome("problem", note + "; ".join(examples), causes)
    return Outcome("ok", note + ("no warnings or errors" if not examples else "; ".join(examples)))


def helmrelease_status(ctx: ChaosContext, subject: Subject) -> Outcome:
    groups = client.ApisApi(ctx.cluster.api).get_api_versions(_request_timeout=TIMEOUT).groups or []
    if not any(g.name == "helm.toolkit.fluxcd.io" for g in groups):
        return Outcome(
            "not-applicable",
            "the HelmRelease API (helm.toolkit.fluxcd.io, Flux) is not served by this "
            "cluster: the operator is deployed by kustomize/helm CLI, so the step cannot be carried out",
        )
    return Outcome("ok", "HelmRelease API present (status not evaluated: no release named reflector here)")


def crash_looping(ctx: ChaosContext, subject: Subject) -> Outcome:
    replicas = ctx.operator.replicas()
    looping = [r.name for r in replicas if r.restarts >= 3]
    if looping:
        return Outcome(
            "alert",
            f"crash-looping: {looping} (alert only; the runbook prescribes no repair)",
            "operator-down",
        )
    return Outcome("ok", "not crash-looping (restarts < 3); nothing to alert")


def logs_for_errors(ctx: ChaosContext, subject: Subject) -> Outcome:
    causes, examples = classify_logs(log_records(ctx, ctx.marks.get("fault_at_wall", 0.0)))
    if causes:
        return Outcome("problem", "; ".join(examples), causes)
    if examples:
        return Outcome("ok", "warnings/errors not pointing at a cause: " + "; ".join(examples))
    return Outcome("ok", "no warnings or errors logged since the fault")


def annotations_correct(ctx: ChaosContext, subject: Subject) -> Outcome:
    """As the design's Data Models section defines them: reflection-allowed "true" and an explicit
    reflection-allowed-namespaces list (nothing else is described there)."""
    source = _read_secret(ctx, subject.source, subject.source_ns)
    if source is None:
        return Outcome("problem", "source missing", "source-missing")
    ann = source.metadata.annotations or {}
    if ann.get(ALLOWED, "").strip().lower() != "true":
        return Outcome("problem", f"{ALLOWED} is {ann.get(ALLOWED)!r}, not true", "auto-disabled")
    entries = _entries(ann.get(ALLOWED_NAMESPACES))
    if not entries:
        return Outcome("problem", f"{ALLOWED_NAMESPACES} is missing or empty", "namespace-not-allowed")
    verdicts = regex_verdicts(entries, subject.target_ns)
    invalid = [(e, v) for e, v in verdicts.items() if v.startswith("invalid")]
    if invalid:
        return Outcome(
            "problem",
            "; ".join(f"entry {e!r} is not a valid regular expression" for e, _ in invalid),
            "invalid-annotation",
        )
    return Outcome(
        "ok",
        f"{ALLOWED}=true and {len(entries)} valid list entries (the data model mentions no other annotation)",
    )


def target_namespace_exists(ctx: ChaosContext, subject: Subject) -> Outcome:
    try:
        ns = ctx.cluster.core.read_namespace(subject.target_ns, _request_timeout=TIMEOUT)
    except ApiException as exc:
        if exc.status == 404:
            return Outcome("problem", f"namespace {subject.target_ns} does not exist", "namespace-missing")
        raise
    if ns.status.phase != "Active":
        return Outcome("problem", f"namespace {subject.target_ns} is {ns.status.phase}", "namespace-missing")
    return Outcome("ok", f"namespace {subject.target_ns} is Active")


def target_in_allowed_list(ctx: ChaosContext, subject: Subject) -> Outcome:
    source = _read_secret(ctx, subject.source, subject.source_ns)
    if source is None:
        return Outcome("problem", "source missing", "source-missing")
    entries = _entries((source.metadata.annotations or {}).get(ALLOWED_NAMESPACES))
    if not entries:
        return Outcome("ok", "no list: every namespace is allowed")
    verdicts = regex_verdicts(entries, subject.target_ns)
    if any(v == "match" for v in verdicts.values()):
        return Outcome("ok", f"{subject.target_ns} matches the list")
    if any(v == "timeout" for v in verdicts.values()):
        slow = [e for e, v in verdicts.items() if v == "timeout"]
        return Outcome("problem", f"entries {slow} take longer than 3 s to evaluate", "pathological-pattern")
    if any(v.startswith("invalid") for v in verdicts.values()):
        return Outcome("problem", "the list has invalid entries", "invalid-annotation")
    return Outcome(
        "problem", f"{subject.target_ns} matches none of {len(entries)} entries", "namespace-not-allowed"
    )


def lag_alert(ctx: ChaosContext, subject: Subject) -> Outcome:
    source = _read_secret(ctx, subject.source, subject.source_ns)
    copy = _read_secret(ctx, subject.source, subject.target_ns)
    if source is None or copy is None:
        return Outcome("ok", "no copy to measure lag on")
    if secret_view(copy) == secret_view(source):
        return Outcome("ok", "copy is current; no lag")
    changed = max((f.time for f in source.metadata.managed_fields or [] if f.time), default=None)
    lag = time.time() - changed.timestamp() if changed else 0.0
    if lag > 300:
        return Outcome("alert", f"copy behind the source for {lag:.0f} s (> 5 min): alert", "stale-copy")
    return Outcome("ok", f"copy behind the source for {lag:.0f} s: below the 5-minute alert threshold")


def source_exists(ctx: ChaosContext, subject: Subject) -> Outcome:
    note = "as written: oci-creds in flux-system; applied to the experiment's source: "
    if _read_secret(ctx, subject.source, subject.source_ns) is None:
        return Outcome("problem", note + f"{subject.source_ns}/{subject.source} not found", "source-missing")
    return Outcome("ok", note + f"{subject.source_ns}/{subject.source} exists")


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
            "problem",
            "SubjectAccessReview for the operator's ServiceAccount denies: " + ", ".join(missing),
            "rbac",
        )
    return Outcome("ok", "SubjectAccessReview: every verb the operator needs is allowed")


def logs_permission_errors(ctx: ChaosContext, subject: Subject) -> Outcome:
    hits = [
        r for r in log_records(ctx, ctx.marks.get("fault_at_wall", 0.0)) if "forbidden" in r.get("msg", "")
    ]
    if hits:
        return Outcome(
            "problem", f"{len(hits)} permission error line(s), e.g. {hits[-1]['msg'][:160]!r}", "rbac"
        )
    return Outcome("ok", "no permission errors logged since the fault")


def copy_exists(ctx: ChaosContext, subject: Subject) -> Outcome:
    copy = _read_secret(ctx, subject.source, subject.target_ns)
    if copy is None:
        return Outcome("problem", f"{subject.target_ns}/{subject.source} not found", "missing-copy")
    return Outcome("ok", f"{subject.target_ns}/{subject.source} exists")


def copy_is_docker_config(ctx: ChaosContext, subject: Subject) -> Outcome:
    copy = _read_secret(ctx, subject.source, subject.target_ns)
    if copy is None:
        return Outcome("problem", "no copy", "missing-copy")
    if copy.type != "kubernetes.io/dockerconfigjson":
        return Outcome("not-applicable", f"type {copy.type}: not a Docker config")
    try:
        doc = json.loads(base64.b64decode((copy.data or {}).get(".dockerconfigjson", "")))
        registries = len(doc["auths"])
    except (ValueError, KeyError, TypeError):
        return Outcome("problem", "content is not a valid Docker config JSON", "corrupt-copy")
    return Outcome(
        "ok",
        f"valid Docker config JSON with {registries} registry entr{'y' if registries == 1 else 'ies'}"
        " (valid, but not compared with the source)",
    )


def credentials_not_expired(ctx: ChaosContext, subject: Subject) -> Outcome:
    return Outcome("cannot-check", "a Docker config carries no expiry; only the registry can tell (step 4)")


def registry_accessible(ctx: ChaosContext, subject: Subject) -> Outcome:
    return Outcome(
        "cannot-check", "no OCI registry in this setup, and the suite sends traffic to 127.0.0.1 only"
    )


def operator_running(ctx: ChaosContext, subject: Subject) -> Outcome:
    replicas = ctx.operator.replicas()
    ready = {r.name: ctx.operator.ready(r.name)[0] for r in replicas}
    if not ready or not any(ready.values()):
        return Outcome("problem", f"no ready operator instance ({ready or 'none'})", "operator-down")
    return Outcome("ok", f"ready: {ready}")


def remedy(ctx: ChaosContext, subject: Subject) -> Outcome:
    return Outcome("remedy", "a remedy: applied only after diagnosis")


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


# --- remedies ----------------------------------------------------------------------------------------------


def _fix_annotations(ctx: ChaosContext, subject: Subject) -> str:
    source = _read_secret(ctx, subject.source, subject.source_ns)
    entries = _entries((source.metadata.annotations or {}).get(ALLOWED_NAMESPACES))
    verdicts = regex_verdicts(entries, subject.target_ns)
    keep = [e for e in entries if verdicts.get(e) in ("match", "nomatch")]
    if not any(verdicts.get(e) == "match" for e in keep):
        keep.append(subject.target_ns)
    ctx.cluster.core.patch_namespaced_secret(
        subject.source, subject.source_ns, {"metadata": {"annotations": {ALLOWED_NAMESPACES: ",".join(keep)}}}
    )
    return f"removed the invalid entries from {ALLOWED_NAMESPACES} ({len(entries)} -> {len(keep)})"


def _add_namespace(ctx: ChaosContext, subject: Subject) -> str:
    source = _read_secret(ctx, subject.source, subject.source_ns)
    entries = _entries((source.metadata.annotations or {}).get(ALLOWED_NAMESPACES))
    ctx.cluster.core.patch_namespaced_secret(
        subject.source,
        subject.source_ns,
        {"metadata": {"annotations": {ALLOWED_NAMESPACES: ",".join([*entries, subject.target_ns])}}},
    )
    return f"added {subject.target_ns} to {ALLOWED_NAMESPACES}"


def _grant_rbac(ctx: ChaosContext, subject: Subject) -> str:
    out = restore_rbac(configuration=ctx.notes["configuration"], mark="restored_at")
    return f"re-applied the operator's RBAC from its manifests: {out['restored'] or 'nothing to restore'}"


def _rotate(ctx: ChaosContext, subject: Subject) -> str:
    assert ctx.workload is not None
    ctx.workload.update_sources([subject.source])
    return f"rotated {subject.source_ns}/{subject.source}"


def _manual_copy(ctx: ChaosContext, subject: Subject) -> str:
    """Copy the source into the namespace by hand, API to API (the data is never printed)."""
    source = _read_secret(ctx, subject.source, subject.source_ns)
    body = client.V1Secret(
        metadata=client.V1ObjectMeta(name=subject.source), data=source.data, type=source.type
    )
    try:
        ctx.cluster.core.create_namespaced_secret(subject.target_ns, body, _request_timeout=TIMEOUT)
    except ApiException as exc:
        if exc.status != 409:
            raise
        ctx.cluster.core.replace_namespaced_secret(
            subject.source, subject.target_ns, body, _request_timeout=TIMEOUT
        )
    return f"created {subject.target_ns}/{subject.source} by hand with the source's current data"


REMEDIES: dict[str, tuple[str, Callable[[ChaosContext, Subject], str]]] = {
    "fix-annotations": ("correct the annotations", _fix_annotations),
    "add-namespace": ("add the namespace to the allowed list", _add_namespace),
    "grant-rbac": ("grant the missing permissions", _grant_rbac),
    "rotate-credentials": ("rotate the credentials", _rotate),
    "manual-copy": ("manually create the secret", _manual_copy),
}


# --- running a runbook -------------------------------------------------------------------------------------


def diagnose(ctx: ChaosContext, title: str, fault: str, cause: str, subject: Subject) -> dict[str, Any]:
    """Carry out every diagnostic step; which one identifies ``cause``? (remedies are not run here)."""
    rb = RUNBOOKS[title]
    # Is the fault visible where the runbook looks (the subject lacks the current data)? The runbook
    # is run either way; a non-identification of an invisible fault is reported as such.
    try:
        manifest = title == "Pod Not Running" or not service_state(ctx, subject)["ok"]
    except Exception:
        manifest = True
    steps = []
    for step in rb.steps:
        t0 = time.monotonic()
        try:
            outcome = CHECKS[step.check](ctx, subject)
        except Exception as exc:  # a check that cannot run is a finding too, not a crash of the run
            outcome = Outcome("cannot-check", f"check failed: {type(exc).__name__}: {str(exc)[:160]}")
        steps.append(
            {
                "step": step.number,
                "text": step.text,
                "kind": step.kind,
                "status": outcome.status,
                "causes": outcome.causes,
                "evidence": outcome.evidence,
                "seconds": round(time.monotonic() - t0, 3),
            }
        )
    identifying = next(
        (s for s in steps if s["status"] in ("problem", "alert") and cause in s["causes"]), None
    )
    misleading = {
        s["step"]: [c for c in s["causes"] if c != cause]
        for s in steps
        if s["status"] == "problem" and any(c != cause for c in s["causes"])
    }
    findings = []
    if identifying is None:
        blind = [s["step"] for s in steps if s["status"] in ("not-applicable", "cannot-check")]
        findings.append(
            f"'{title}' cannot diagnose {fault}: {MISSING_CHECK.get(cause, 'no step points at ' + cause)}"
            + (f"; steps {blind} cannot be carried out here" if blind else "")
            + ("" if manifest else " (the fault was not visible at the subject when the runbook ran)")
        )
    for s in steps:
        if s["status"] == "not-applicable" and identifying is not None:
            findings.append(f"step {s['step']} cannot be carried out here: {s['evidence']}")
    for number, others in misleading.items():
        findings.append(f"step {number} also points at {', '.join(others)} (misleading for this fault)")
    result = {
        "runbook": title,
        "fault": fault,
        "cause": cause,
        "subject": {"source": f"{subject.source_ns}/{subject.source}", "target_namespace": subject.target_ns},
        "manifest": manifest,
        "identifying_step": identifying["step"] if identifying else None,
        "identifying_text": identifying["text"] if identifying else None,
        "steps": steps,
        "remedy": None,
        "remedy_restores": False,
        "self_healed": None,
        "finding": "; ".join(findings) or None,
    }
    ctx.runbooks.append(result)
    return result


def chosen_remedy(title: str, identifying_step: int | None) -> tuple[str, str] | None:
    """The remedy the runbook prescribes: the identifying check's implied fix, else its remedy step."""
    rb = RUNBOOKS[title]
    if identifying_step is not None:
        step = rb.steps[identifying_step - 1]
        if step.remedy and step.kind != "remedy":
            return step.remedy, f"implied by step {step.number} ({step.text})"
    explicit = rb.remedy_step()
    if explicit and explicit.remedy:
        return explicit.remedy, f"step {explicit.number} as written ({explicit.text})"
    return None


def service_state(ctx: ChaosContext, subject: Subject) -> dict[str, Any]:
    """Does the target hold the source's current data, and is it a managed copy?"""
    source = _read_secret(ctx, subject.source, subject.source_ns)
    copy = _read_secret(ctx, subject.source, subject.target_ns)
    managed = (
        bool(copy)
        and (copy.metadata.annotations or {}).get(REFLECTS) == f"{subject.source_ns}/{subject.source}"
    )
    auto = bool(copy) and (copy.metadata.annotations or {}).get(AUTO_REFLECTS) == "True"
    current = bool(source and copy and secret_view(copy) == secret_view(source))
    return {"ok": current, "present": copy is not None, "managed": managed, "auto": auto}


def _wait_service(ctx: ChaosContext, subject: Subject, timeout_s: float) -> tuple[bool, dict[str, Any]]:
    from chaos.workload import wait_until

    ok, _, last = wait_until(lambda: service_state(ctx, subject), timeout_s, interval=0.3)
    return ok, last


def apply_remedy(ctx: ChaosContext, result: dict[str, Any], subject: Subject, slo_s: float) -> dict[str, Any]:
    """Apply the prescribed remedy; it restores service if the target gets the current credential
    and still follows one further rotation within the SLO."""
    choice = chosen_remedy(result["runbook"], result["identifying_step"])
    if choice is None:
        ok, state = _wait_service(ctx, subject, slo_s)
        result.update(
            remedy="none prescribed (alert only)", remedy_restores=False, self_healed=ok, service_after=state
        )
        note = (
            "service came back on its own (restart policy / retries), not through the runbook"
            if ok
            else "service not restored and the runbook offers no remedy"
        )
        result["finding"] = "; ".join(x for x in (result["finding"], note) if x)
        return result
    key, why = choice
    label, fn = REMEDIES[key]
    done = fn(ctx, subject)
    restored, state = _wait_service(ctx, subject, slo_s)
    durable, later = False, {}
    if restored:
        assert ctx.workload is not None
        ctx.workload.update_sources([subject.source])
        durable, later = _wait_service(ctx, subject, slo_s)
    result.update(
        remedy=f"{label}: {why}; {done}",
        remedy_restores=restored and durable,
        service_after=state,
        service_after_rotation=later,
    )
    if restored and not durable:
        extra = (
            f"the remedy ({label}) restores service only until the next rotation: the target no longer "
            "follows the source"
            + (
                " (a hand-made Secret is not a reflection, so the operator never "
                "updates it; the runbook never says to adopt or remove it)"
                if not later.get("managed")
                else ""
            )
        )
        result["finding"] = "; ".join(x for x in (result["finding"], extra) if x)
    elif not restored:
        extra = f"the remedy ({label}) does not restore service: {state}"
        result["finding"] = "; ".join(x for x in (result["finding"], extra) if x)
    return result


# --- chaostoolkit entry points -----------------------------------------------------------------------------


def _subject(ctx: ChaosContext, source: str | None, target: str | None) -> Subject:
    assert ctx.workload is not None
    name = source or ctx.workload.sources[0]
    if target in (None, "", "first"):
        tgt = ctx.workload.expected_targets(name)[0]
    elif target.startswith("note:"):
        tgt = ctx.notes
        for part in target[5:].split("."):
            tgt = tgt[part]
    else:
        tgt = target
    return Subject(ctx.workload.source_ns, name, str(tgt))


def run_runbook(
    runbook: str,
    fault: str,
    cause: str,
    source: str | None = None,
    target: str | None = None,
    remedy: bool = True,
    slo_s: float = 30.0,
    configuration: dict | None = None,
) -> dict[str, Any]:
    """chaostoolkit action: diagnose ``fault`` with ``runbook`` and (optionally) apply its remedy.

    The output is the runbook record; it never fails the run by itself (findings are results), so it
    is scored by the probe :func:`runbook_identified`.
    """
    ctx = context_of(configuration)
    ctx.notes["configuration"] = configuration
    subject = _subject(ctx, source, target)
    result = diagnose(ctx, runbook, fault, cause, subject)
    if remedy:
        apply_remedy(ctx, result, subject, slo_s)
    return result


def runbook_identified(runbook: str, fault: str, configuration: dict | None = None) -> dict[str, Any]:
    """chaostoolkit probe: the runbook run for ``fault`` identified the injected cause."""
    ctx = context_of(configuration)
    for rb in reversed(ctx.runbooks):
        if rb["runbook"] == runbook and rb["fault"] == fault:
            return {
                "ok": rb["identifying_step"] is not None,
                "identifying_step": rb["identifying_step"],
                "remedy_restores": rb["remedy_restores"],
                "finding": rb["finding"],
            }
    return {"ok": False, "why": f"runbook {runbook!r} was not run for {fault!r}"}
