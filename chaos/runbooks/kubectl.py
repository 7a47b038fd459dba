"""The real ``kubectl`` for the runbook steps that name it (``kubectl get pods``, ``kubectl logs``,
and ``kubectl describe`` to tell a crash loop), run against the experiment's cluster with its own
kubeconfig, and what the steps read from its output.

Why the binary and not the API client: the runbook tells an on-call engineer to type these commands;
carrying them out as written is what shows the runbook works (a step that only *resembles* its
command proves less). The commands are plain data (:func:`kubectl_command`) and the readers of their
output are pure (:func:`pod_facts`, :func:`describe_facts`, :func:`started_after`), unit-tested
without a cluster. Nothing here prints a Secret: the commands read Pods and their logs, never Secrets.
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
        out.append(
            PodFacts(
                name=meta.get("name", ""),
                node=spec.get("nodeName", ""),
                created=_epoch(meta.get("creationTimestamp")),
                ready=conditions.get("Ready") == "True",
                restarts=sum(int(s.get("restartCount") or 0) for s in statuses),
                waiting=waiting,
                last_terminated=terminated,
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
