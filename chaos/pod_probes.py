"""chaostoolkit probes of the Pod experiments (a container killed in place, a hung container the
liveness probe restarts, an OOM kill under a tight memory limit, a lost node): what the kubelet did
to the faulted Pod, what it reported, how fast another replica took over, and what the lost leader
sent to the API server.

As every probe (chaos/probes.py): a JSON-able ``{"ok": ..., "evidence": N}``, polling with its own
deadline where waiting is the check; a check that saw nothing of the system is no verdict
(:func:`chaos.scoring.judged`), never a pass. The faulted replica and its state before the fault are
what the fault's action recorded (``ctx.notes``: ``faulted_replica``, ``replicas_before``).
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

from chaos import audit, fencing
from chaos.context import ChaosContext, PodOperator, ReplicaView, context_of
from chaos.faults.shared import lease_holder
from chaos.scoring import judged, no_evidence
from fixtures.core.waiting import report_within


def _pods(ctx: ChaosContext) -> PodOperator:
    if not isinstance(ctx.operator, PodOperator):
        raise AssertionError("a Pod probe needs the operator as Pods (the kind or nodes variant)")
    return ctx.operator


def _faulted(ctx: ChaosContext) -> tuple[str, ReplicaView] | None:
    name = ctx.notes.get("faulted_replica")
    before = (ctx.notes.get("replicas_before") or {}).get(name)
    return (name, before) if name and before else None


def last_terminated(ctx: ChaosContext, name: str) -> dict[str, Any]:
    """The Pod's container's last termination (exit code, reason) and current state, as its status says."""
    pod = _pods(ctx).pod(name)
    out: dict[str, Any] = {}
    for s in pod.status.container_statuses or []:
        term = s.last_state.terminated if s.last_state else None
        if term is not None:
            out.update(exit_code=term.exit_code, reason=term.reason, finished=str(term.finished_at))
        if s.state and s.state.waiting:
            out["waiting"] = s.state.waiting.reason
    return out


def restarted_in_place(
    timeout_s: float = 60.0,
    exit_code: int | None = None,
    reason: str | None = None,
    configuration: dict | None = None,
) -> dict[str, Any]:
    """The faulted replica's container was restarted by its kubelet *in the same Pod*: same name and
    UID, restart count up, a new container, the last termination as expected (``exit_code``, e.g. 137
    for SIGKILL; ``reason``, e.g. OOMKilled), and ready again. Evidence: the Pod recorded before."""
    ctx = context_of(configuration)
    faulted = _faulted(ctx)
    if faulted is None:
        return no_evidence("the faulted replica was not recorded before the fault")
    name, before = faulted

    def check() -> dict[str, Any]:
        now = next((r for r in ctx.operator.replicas() if r.name == name), None)
        if now is None:
            return {"ok": False, "pod": f"{name} is gone (replaced, not restarted in place)"}
        last = last_terminated(ctx, name)
        facts = {
            "same_pod": now.uid == before.uid,
            "restarts": f"{before.restarts} -> {now.restarts}",
            "new_container": now.container_id != before.container_id,
            "last_terminated": last,
            "ready": ctx.operator.ready(name)[0],
        }
        ok = (
            facts["same_pod"]
            and now.restarts > before.restarts
            and facts["new_container"]
            and (exit_code is None or last.get("exit_code") == exit_code)
            and (reason is None or last.get("reason") == reason)
            and facts["ready"]
        )
        return {"ok": ok, **facts}

    ok, waited, last = report_within(check, timeout=timeout_s, interval=0.5)
    if ok and "fault_at" in ctx.marks:
        ctx.recovery["operator_ready"] = time.monotonic() - ctx.marks["fault_at"]
    detail = {k: v for k, v in last.items() if k != "ok"}
    expected = {"exit_code": exit_code, "reason": reason}
    return judged(ok, 1, "", replica=name, expected=expected, **detail, waited_s=round(waited, 3))


def not_answering(configuration: dict | None = None) -> dict[str, Any]:
    """The hung replica does not answer /healthz (through the API server's Pod proxy): the fault took.
    Evidence: the one replica asked."""
    ctx = context_of(configuration)
    faulted = _faulted(ctx)
    if faulted is None:
        return no_evidence("the faulted replica was not recorded before the fault")
    name, _ = faulted
    t0 = time.monotonic()
    status = _pods(ctx).healthz(name)
    return judged(status != 200, 1, "", replica=name, healthz=status, seconds=round(time.monotonic() - t0, 3))


def _event_time(event: Any) -> float:
    stamp = event.last_timestamp or event.event_time or event.metadata.creation_timestamp
    return stamp.timestamp() if isinstance(stamp, datetime) else 0.0


def kubelet_reported(
    reason: str,
    contains: str,
    since: str = "fault_at",
    timeout_s: float = 30.0,
    configuration: dict | None = None,
) -> dict[str, Any]:
    """The kubelet recorded an Event ``reason`` whose message contains ``contains`` on the faulted
    Pod, at or after the mark (whole seconds: Events carry no more). Evidence: the Events counted."""
    ctx = context_of(configuration)
    faulted = _faulted(ctx)
    if faulted is None:
        return no_evidence("the faulted replica was not recorded before the fault")
    name, _ = faulted
    op = _pods(ctx)
    since_wall = int(ctx.marks[since + "_wall"])

    def check() -> dict[str, Any]:
        events = [
            e
            for e in ctx.cluster.core.list_namespaced_event(
                op.namespace, field_selector=f"involvedObject.name={name}"
            ).items
            if _event_time(e) >= since_wall
        ]
        hits = [e for e in events if e.reason == reason and contains in (e.message or "")]
        return {
            "ok": bool(hits),
            "events_since": len(events),
            "matching": sum(int(e.count or 1) for e in hits),
            "examples": [f"{e.type} {e.reason}: {(e.message or '')[:160]}" for e in hits[:2]],
        }

    ok, waited, last = report_within(check, timeout=timeout_s, interval=1.0)
    detail = {k: v for k, v in last.items() if k != "ok"}
    cause = f"no Event on {name} since {since}: the kubelet reported nothing"
    return judged(ok, int(last.get("events_since", 0)), cause, **detail, waited_s=round(waited, 3))


# --- node loss -----------------------------------------------------------------------------------------


def replicas_on_distinct_nodes(replicas: int = 2, configuration: dict | None = None) -> dict[str, Any]:
    """``replicas`` replicas, each on a node of its own (else losing one node loses several)."""
    ctx = context_of(configuration)
    where = {r.name: r.node for r in ctx.operator.replicas()}
    nodes = set(where.values())
    ok = len(where) == replicas and len(nodes) == len(where) and None not in nodes
    return judged(ok, len(where), "no replica listed", placement=where)


def takeover_within_lease(slack_s: float = 5.0, configuration: dict | None = None) -> dict[str, Any]:
    """Another replica held the Lease within its duration (``leaseDurationSeconds`` of the Lease
    itself) plus ``slack_s`` after the leader's node was lost. Evidence: the takeover measured."""
    ctx = context_of(configuration)
    took = ctx.notes.get("takeover_s")
    duration = ctx.notes.get("lease_duration_s")
    if took is None or duration is None:
        return no_evidence("no takeover was measured (the freeze did not complete)")
    budget = float(duration) + slack_s
    return judged(
        took <= budget,
        1,
        "",
        takeover_s=round(took, 3),
        lease_duration_s=duration,
        budget_s=budget,
        old_leader=ctx.notes.get("old_leader"),
        new_leader=ctx.notes.get("new_leader"),
    )


def frozen_leader_silent(configuration: dict | None = None) -> dict[str, Any]:
    """No write of the leader whose node was lost reached the API server after another replica took
    the Lease from it (frozen, then thawed: it must step down, not write). Judged from the audit log:
    its requests by the identity in their user agent (its Pod's name; the Pod ran on the lost node),
    the takeover from the Lease's own writes (chaos/fencing.py ``judge_silence``). Evidence: its
    requests before the freeze (the log attributes requests to it) and the takeover seen."""
    ctx = context_of(configuration)
    if (na := ctx.no_audit_log()) is not None:
        return na
    frozen = ctx.notes.get("old_leader")
    frozen_at = ctx.marks.get("freeze_at_wall")
    if not frozen or frozen_at is None:
        return no_evidence("the lost node's leader was not recorded (the freeze did not happen)")
    lease = ctx.names.lease or ""
    mine = [e for e in audit.read(ctx.cluster.audit_log) if e.user == ctx.operator_user()]
    silence = fencing.judge_silence(mine, lease, frozen, frozen_at)
    node_ip = ctx.notes.get("frozen_node_address")
    detail = {
        "frozen_leader": frozen,
        "node": ctx.notes.get("frozen_node"),
        "node_address": node_ip,
        "takeover": (
            f"{silence.takeover.previous} -> {silence.takeover.holder}" if silence.takeover else None
        ),
        "violations": [w.describe() for w in silence.late_writes[:10]],
        "requests_before_freeze": silence.requests_before,
        "requests_after_takeover": silence.requests_after_takeover,
        "source_ips": list(silence.source_ips),
        # a host-network Pod reaches the API server on loopback here: its node is told by its Pod
        "source_ip_is_node": bool(node_ip and node_ip in silence.source_ips),
    }
    if silence.takeover is None:
        return no_evidence(f"no takeover from {frozen} in the audit log after the freeze", **detail)
    return judged(
        not silence.late_writes, silence.evidence, f"no request of {frozen} in the audit log", **detail
    )


def replicas_unchanged(configuration: dict | None = None) -> dict[str, Any]:
    """Nothing duplicated after the node came back: the same Pods as before it was lost (none
    replaced, no extra replica), each on its own node, each ready. Evidence: the Pods recorded."""
    ctx = context_of(configuration)
    before: dict[str, ReplicaView] = ctx.notes.get("pods_before_node_loss") or {}
    if not before:
        return no_evidence("the Pods were not recorded before the node was lost")

    def check() -> dict[str, Any]:
        now = {r.name: r for r in ctx.operator.replicas()}
        same = {n: (n in now and now[n].uid == r.uid) for n, r in before.items()}
        extra = sorted(set(now) - set(before))
        nodes = [r.node for r in now.values()]
        ready = {n: ctx.operator.ready(n)[0] for n in now}
        ok = all(same.values()) and not extra and len(set(nodes)) == len(nodes) and all(ready.values())
        return {
            "ok": ok,
            "same_pods": same,
            "extra_pods": extra,
            "placement": {n: r.node for n, r in now.items()},
            "ready": ready,
            "lease_holder": lease_holder(ctx)["holder"],
        }

    ok, waited, last = report_within(check, timeout=60, interval=1.0)
    detail = {k: v for k, v in last.items() if k != "ok"}
    return judged(ok, len(before), "", **detail, waited_s=round(waited, 3))
