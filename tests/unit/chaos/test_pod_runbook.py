"""The real kubectl the "Pod Not Running" runbook runs on Pods (chaos/runbooks/kubectl.py): its
command line and what the runbook's steps read from its output (``get pods -o json``, ``describe
pod``, ``logs``). Why: a step judged from a misread output identifies the wrong cause, or none."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from chaos.runbooks import kubectl


def test_kubectl_runs_against_the_clusters_own_kubeconfig_with_a_deadline() -> None:
    cmd = kubectl.kubectl_command("/usr/bin/kubectl", Path("/runs/rc1/admin.kubeconfig"), None, "get", "pods")
    assert cmd == [
        "/usr/bin/kubectl",
        "--kubeconfig",
        "/runs/rc1/admin.kubeconfig",
        "--request-timeout=30s",
        "get",
        "pods",
    ]
    with_context = kubectl.kubectl_command("kubectl", Path("k"), "kind-x", "logs", "p")
    assert with_context[3:5] == ["--context", "kind-x"]
    assert kubectl.shown(("get", "pods", "-n", "ns")) == "kubectl get pods -n ns"


def _pod(name: str, created: str, restarts: int, **status: object) -> dict:
    container = {"name": "replicator", "restartCount": restarts, **status}
    return {
        "metadata": {"name": name, "creationTimestamp": created},
        "spec": {"nodeName": "rc1-node-1"},
        "status": {"conditions": [{"type": "Ready", "status": "True"}], "containerStatuses": [container]},
    }


def test_get_pods_json_says_restarts_last_termination_waiting_and_age() -> None:
    oom = {"lastState": {"terminated": {"reason": "OOMKilled", "exitCode": 137}}}
    looping = {"state": {"waiting": {"reason": "CrashLoopBackOff"}}}
    gone = _pod("c", "2026-12-07T21:00:00Z", 0)
    gone["metadata"]["deletionTimestamp"] = "2026-12-07T21:01:00Z"
    text = json.dumps(
        {
            "items": [
                _pod("b", "2026-12-07T21:00:05Z", 1, **oom),
                _pod("a", "2026-12-07T21:00:00Z", 4, **looping),
                gone,
            ]
        }
    )
    a, b = kubectl.pod_facts(text)
    assert (a.name, a.restarts, a.waiting, a.ready) == ("a", 4, ["CrashLoopBackOff"], True)
    assert b.last_terminated == ["OOMKilled (exit 137)"]
    assert b.created == datetime(2026, 12, 7, 21, 0, 5, tzinfo=UTC).timestamp()
    assert "last terminated OOMKilled (exit 137)" in b.line()


DESCRIBE = """Name:             replicheck-replicator-abc
Containers:
  replicator:
    State:          Running
      Started:      Mon, 07 Dec 2026 21:27:54 +0000
    Last State:     Terminated
      Reason:       OOMKilled
      Exit Code:    137
    Ready:          True
    Restart Count:  1
Events:
  Type     Reason     Age   From     Message
  Warning  BackOff    2s    kubelet  Back-off restarting failed container replicator in pod x
"""


def test_describe_pod_gives_the_restart_lines_and_counts_back_offs() -> None:
    facts = kubectl.describe_facts(DESCRIBE)
    assert facts.restart_count == 1
    assert facts.back_off == 1
    assert "Reason: OOMKilled" in facts.lines
    assert "Exit Code: 137" in facts.lines
    assert kubectl.describe_facts("State: Running\nRestart Count: 0\n").back_off == 0


def test_a_start_logged_after_the_fault_is_a_restart_in_the_log() -> None:
    log = "\n".join(
        [
            '{"ts":"2026-12-07T21:00:00.000+00:00","level":"info","msg":"starting"}',
            "not json",
            '{"ts":"2026-12-07T21:00:09.500+00:00","level":"info","msg":"reconciled"}',
            '{"ts":"2026-12-07T21:00:10.000+00:00","level":"info","msg":"starting"}',
        ]
    )
    fault = datetime(2026, 12, 7, 21, 0, 5, tzinfo=UTC).timestamp()
    assert kubectl.started_after(log, fault) == ["2026-12-07T21:00:10.000+00:00"]
    assert kubectl.started_after(log, fault + 10) == []
