"""The real ``kubectl`` for the runbook steps that name it (``kubectl get pods``, ``kubectl logs``,
``kubectl get helmrelease`` and the reconcile Flux's CLI requests, and ``kubectl describe`` to tell a
crash loop), run against the cluster with its own kubeconfig, and what the steps read from its output.

Why the binary and not the API client: the runbook tells an on-call engineer to type these commands;
carrying them out as written is what shows the runbook works (a step that only *resembles* its
command proves less). The commands are plain data (:func:`kubectl_command`) and the readers of their
output are pure (:func:`pod_facts`, :func:`pod_problems`, :func:`describe_facts`,
:func:`started_after`, :func:`command_line_errors`, :func:`helmrelease_facts`,
:func:`release_causes`), unit-tested without a cluster. Nothing here prints a Secret: the commands read
Pods, their logs and HelmReleases, never Secrets.
"""

from __future__ import annotations

import json
import re
import subprocess
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

#: seconds one kubectl command may take (a step must not hang on a node that does not answer)
KUBECTL_TIMEOUT = 30.0
#: characters of a kubelet's or Flux's message kept in a step's evidence
MESSAGE_LIMIT = 300


def kubectl_command(kubectl: str, kubeconfig: Path, context: str | None, *args: str) -> list[str]:
    """``kubectl`` against one cluster: its kubeconfig (never ``$KUBECONFIG`` or ``~/.kube/config``),
    its context when it names one, a request timeout, then ``args``."""
    cmd = [kubectl, "--kubeconfig", str(kubeconfig)]
    if context:
        cmd += ["--context", context]
    return [*cmd, f"--request-timeout={int(KUBECTL_TIMEOUT)}s", *args]


def shown(args: tuple[str, ...] | list[str]) -> str:
    """The command as the runbook's reader would type it (no kubeconfig path)."""
    return "kubectl " + " ".join(args)


@dataclass
class Ran:
    """One kubectl command carried out: what was typed, its exit code and output."""

    command: str
    returncode: int
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    def failure(self) -> str:
        first = (self.stderr.strip().splitlines() or ["no output"])[-1]
        return f"`{self.command}` failed ({self.returncode}): {first[:200]}"


def run(kubectl: str, kubeconfig: Path, context: str | None, *args: str) -> Ran:
    cmd = kubectl_command(kubectl, kubeconfig, context, *args)
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=KUBECTL_TIMEOUT + 5, check=False)
    except subprocess.TimeoutExpired:
        return Ran(shown(args), -1, "", f"no answer within {KUBECTL_TIMEOUT + 5:g}s")
    return Ran(shown(args), proc.returncode, proc.stdout, proc.stderr)


# --- reading the output (pure) -----------------------------------------------------------------------------


@dataclass
class PodFacts:
    """What ``kubectl get pods -o json`` says about one Pod."""

    name: str
    node: str
    created: float  # epoch seconds
    ready: bool
    restarts: int
    waiting: list[str] = field(default_factory=list)  # e.g. CrashLoopBackOff
    last_terminated: list[str] = field(default_factory=list)  # e.g. "OOMKilled (exit 137)"
    #: the kubelet's message of each waiting container (e.g. the registry's answer to a pull)
    waiting_messages: list[str] = field(default_factory=list)

    def line(self) -> str:
        parts = [f"{self.name} on {self.node or '-'}: ready={self.ready} restarts={self.restarts}"]
        if self.last_terminated:
            parts.append(f"last terminated {', '.join(self.last_terminated)}")
        if self.waiting:
            parts.append(f"waiting {', '.join(self.waiting)}")
        return "; ".join(parts)


def _epoch(ts: str | None) -> float:
    return datetime.fromisoformat(ts.replace("Z", "+00:00")).timestamp() if ts else 0.0


def pod_facts(get_pods_json: str) -> list[PodFacts]:
    """The Pods of ``kubectl get pods -o json`` (those not being deleted), by name."""
    out = []
    for pod in json.loads(get_pods_json).get("items", []):
        meta, spec, status = pod.get("metadata", {}), pod.get("spec", {}), pod.get("status", {})
        if meta.get("deletionTimestamp"):
            continue
        statuses = status.get("containerStatuses") or []
        conditions = {c.get("type"): c.get("status") for c in status.get("conditions") or []}
        waiting = [
            s["state"]["waiting"].get("reason", "Waiting")
            for s in statuses
            if (s.get("state") or {}).get("waiting")
        ]
        terminated = [
            f"{t.get('reason') or 'Terminated'} (exit {t.get('exitCode')})"
            for s in statuses
            if (t := (s.get("lastState") or {}).get("terminated"))
        ]
        messages = [
            " ".join(str(w["message"]).split())[:1000]
            for s in statuses
            if (w := (s.get("state") or {}).get("waiting")) and w.get("message")
        ]
        out.append(
            PodFacts(
                name=meta.get("name", ""),
                node=spec.get("nodeName", ""),
                created=_epoch(meta.get("creationTimestamp")),
                ready=conditions.get("Ready") == "True",
                restarts=sum(int(s.get("restartCount") or 0) for s in statuses),
                waiting=waiting,
                last_terminated=terminated,
                waiting_messages=messages,
            )
        )
    return sorted(out, key=lambda p: p.name)


#: the lines of ``kubectl describe pod`` that tell a restart or a crash loop apart
_DESCRIBE_KEYS = re.compile(r"^\s*(State|Last State|Reason|Exit Code|Restart Count|Ready):\s*(.*)$")
_BACK_OFF = re.compile(r"\bBack-off restarting failed container\b|\bCrashLoopBackOff\b")


@dataclass
class DescribeFacts:
    """What ``kubectl describe pod`` says about restarts: its status lines and back-off events."""

    lines: list[str]
    restart_count: int
    back_off: int  # lines that report a crash-loop back-off (events, the waiting reason)

    def summary(self) -> str:
        return "; ".join(self.lines[:8]) + (f"; {self.back_off} back-off line(s)" if self.back_off else "")


def describe_facts(text: str) -> DescribeFacts:
    """The status lines (``State``, ``Last State``, ``Reason``, ``Exit Code``, ``Restart Count``) and
    the crash-loop back-off lines of one ``kubectl describe pod`` output."""
    lines, restarts, back_off = [], 0, 0
    for raw in text.splitlines():
        m = _DESCRIBE_KEYS.match(raw)
        if m:
            lines.append(f"{m.group(1)}: {m.group(2).strip()}")
            if m.group(1) == "Restart Count" and m.group(2).strip().isdigit():
                restarts += int(m.group(2).strip())
        if _BACK_OFF.search(raw):
            back_off += 1
    return DescribeFacts(lines, restarts, back_off)


def started_after(log_text: str, since_wall: float, message: str = "starting") -> list[str]:
    """The JSON log lines saying ``message`` (a process start) at or after ``since_wall``: a restart
    visible in the log, as their timestamps."""
    out = []
    for line in log_text.splitlines():
        if not line.startswith("{"):
            continue
        try:
            rec = json.loads(line)
            ts = datetime.fromisoformat(rec["ts"]).timestamp()
        except (ValueError, KeyError):
            continue
        if rec.get("msg") == message and ts >= since_wall:
            out.append(rec["ts"])
    return out


# --- a release's Pods, as "Pod Not Running" step 1 judges them (pure) ---------------------------------------


def tail(message: str, limit: int = 200) -> str:
    """The end of a long message (a kubelet's pull error ends with the registry's answer)."""
    return message if len(message) <= limit else "…" + message[-limit:]


#: the waiting reasons of a container whose image the kubelet could not pull
PULL_FAILURES = ("ErrImagePull", "ImagePullBackOff")


def pod_problems(pods: list[PodFacts]) -> tuple[list[str], list[str]]:
    """What ``kubectl get pods -o json`` shows wrong with a workload's Pods: (causes, one line per
    finding). ``image-pull-refused``: a container waiting on a pull (its message is the registry's
    answer); ``oom-killed``: a container last terminated by the kernel's OOM killer;
    ``crash-loop``: a container waiting in CrashLoopBackOff (its last exit says how it ended);
    ``operator-down``: no Pod Ready (nothing serves). Causes in that order, each once."""
    causes: list[str] = []
    lines: list[str] = []

    def found(cause: str, line: str) -> None:
        if cause not in causes:
            causes.append(cause)
        lines.append(line)

    for pod in pods:
        pulls = [w for w in pod.waiting if w in PULL_FAILURES]
        if pulls:
            said = "; ".join(tail(m) for m in pod.waiting_messages) or "no message"
            refused = any(AUTH_WORDS.search(m) for m in pod.waiting_messages)
            why = " (the registry refused the pull secret's credentials)" if refused else ""
            found("image-pull-refused", f"{pod.name}: {'/'.join(pulls)}{why}: {said}")
        if any(t.startswith("OOMKilled") for t in pod.last_terminated):
            found("oom-killed", f"{pod.name}: last terminated {', '.join(pod.last_terminated)}")
        if "CrashLoopBackOff" in pod.waiting:
            last = ", ".join(pod.last_terminated) or "no last state"
            found("crash-loop", f"{pod.name}: CrashLoopBackOff after {pod.restarts} restart(s), last {last}")
    if pods and not any(p.ready for p in pods):
        found("operator-down", "no Pod is Ready")
    order = ("image-pull-refused", "oom-killed", "crash-loop", "operator-down")
    return sorted(causes, key=order.index), lines


def command_line_errors(log_text: str) -> list[str]:
    """A program that refused its command line: its usage error lines (argparse prints ``usage:``
    then ``<prog>: error: ...``), or nothing."""
    lines = [ln.strip() for ln in log_text.splitlines() if not ln.startswith("{")]
    if not any(ln.startswith("usage:") for ln in lines):
        return []
    return [ln[:MESSAGE_LIMIT] for ln in lines if ": error: " in ln]


# --- a Flux HelmRelease, as "Pod Not Running" step 3 reads it (pure) ---------------------------------------

#: the annotation ``flux reconcile`` sets to ask a Flux object to be reconciled now
RECONCILE_ANNOTATION = "reconcile.fluxcd.io/requestedAt"
#: the registry's words for a chart version it does not hold (distribution: MANIFEST_UNKNOWN)
MISSING_VERSION_WORDS = ("unknown tag", "manifest unknown")
#: the registry's words for credentials it refused (401 as a word: never inside a digest)
AUTH_WORDS = re.compile(r"\b401\b|unauthorized|authentication required", re.IGNORECASE)


@dataclass
class ReleaseFacts:
    """What ``kubectl get helmrelease -o json`` says: helm-controller's Ready condition for the
    current generation, the release history and failure counters, the reconcile it last handled."""

    name: str
    ready: str  # True | False | Unknown ("Unknown" also when the condition is for an older generation)
    reason: str
    message: str
    chart_version: str  # the newest history entry's, without helm-controller's +<digest>
    history: list[str]  # newest first: "<version> <status>"
    failures: dict[str, int]
    last_handled: str  # status.lastHandledReconcileAt
    remediated: str  # the Remediated condition's message (a rollback or uninstall Flux did), or ""

    def line(self) -> str:
        counted = ", ".join(f"{k}={v}" for k, v in self.failures.items() if v)
        return (
            f"HelmRelease {self.name} Ready={self.ready} {self.reason}: {self.message}"
            f"; installed chart {self.chart_version or 'none'}"
            + (f"; history (newest first) {', '.join(self.history[:4])}" if self.history else "")
            + (f"; failures {counted}" if counted else "")
            + (f"; remediated: {self.remediated}" if self.remediated else "")
        )


def _condition(status: dict, kind: str) -> dict:
    return next((c for c in status.get("conditions") or [] if c.get("type") == kind), {})


def _version(entry: dict) -> str:
    """A history entry's chart version without the ``+<digest>`` helm-controller adds."""
    return str(entry.get("chartVersion", "")).split("+", 1)[0]


def helmrelease_facts(get_json: str) -> ReleaseFacts:
    """One HelmRelease of ``kubectl get helmrelease <name> -o json``."""
    obj = json.loads(get_json)
    meta, status = obj.get("metadata") or {}, obj.get("status") or {}
    ready = _condition(status, "Ready")
    current = ready.get("observedGeneration", status.get("observedGeneration")) == meta.get("generation")
    history = status.get("history") or []
    remediated = _condition(status, "Remediated")
    return ReleaseFacts(
        name=f"{meta.get('namespace', '')}/{meta.get('name', '')}",
        ready=str(ready.get("status", "Unknown")) if current else "Unknown",
        reason=str(ready.get("reason", "")) if current else "NotObservedYet",
        message=" ".join(str(ready.get("message", "")).split())[:MESSAGE_LIMIT]
        if current
        else "helm-controller has not judged the current generation yet",
        chart_version=_version(history[0]) if history else "",
        history=[f"{_version(h)} {h.get('status', '')}".strip() for h in history],
        failures={k: int(status.get(k) or 0) for k in ("failures", "installFailures", "upgradeFailures")},
        last_handled=str(status.get("lastHandledReconcileAt", "")),
        remediated=" ".join(str(remediated.get("message", "")).split())[:MESSAGE_LIMIT],
    )


def release_causes(facts: ReleaseFacts) -> list[str]:
    """What a HelmRelease that is not Ready points at, from Flux's own message: a chart version the
    registry does not hold (``chart-version-missing``), credentials it refused
    (``credentials-rejected``), and always ``release-not-ready``. Nothing when it is Ready."""
    if facts.ready == "True":
        return []
    text = facts.message.lower()
    causes = []
    if any(w in text for w in MISSING_VERSION_WORDS):
        causes.append("chart-version-missing")
    if AUTH_WORDS.search(text):
        causes.append("credentials-rejected")
    return [*causes, "release-not-ready"]
