"""chaostoolkit probes (Python provider).

Every probe returns a JSON-able dict with ``ok`` (True/False) and the evidence, never raises for "the
condition does not hold" (only for broken plumbing), and polls with its own deadline where waiting
is part of the check. A check that concludes "nothing bad happened" (from the audit log, the
operator's log, a list of objects or replicas) first counts what it saw of the system
(``evidence: N``, :func:`chaos.scoring.judged`): zero is no verdict, never a pass. A check this
provider cannot make (the audit log exists only on the local provider) or that does not apply to
the system (its profile says why) is n/a (:func:`chaos.scoring.not_applicable`), never counted as
passed. In the steady-state hypothesis, use the tolerance :func:`chaos.scoring.not_failed`.
"""

from __future__ import annotations

import json
import re
import time
import urllib.error
from datetime import datetime
from typing import Any

from kubernetes.client.rest import ApiException

from chaos import audit, fencing
from chaos.context import LEASE, ChaosContext, context_of
from chaos.faults.shared import lease_holder
from chaos.scoring import judged, no_evidence
from fixtures.core.metrics import metric_value
from fixtures.core.waiting import report_within

#: the probe keys a ChaosProfile's ``not_applicable`` may name (besides experiments and
#: ``provider:<name>``): each makes the probes that need it report n/a with the profile's reason
PROBE_KEYS = frozenset({"logs", "metrics", "events", "runbooks", "failure-visibility", "backoff"})


def _ctx(configuration: dict[str, Any] | None) -> ChaosContext:
    return context_of(configuration)


def _since(ctx: ChaosContext, mark: str | None) -> float:
    """Wall-clock time of a mark (0 = since the beginning)."""
    if not mark:
        return 0.0
    if mark + "_wall" not in ctx.marks:
        raise AssertionError(f"mark {mark!r} was never set (the action that sets it did not run)")
    return ctx.marks[mark + "_wall"]


def log_records(ctx: ChaosContext, since_wall: float = 0.0) -> list[dict[str, Any]]:
    """The operator's JSON log lines (all replicas) at or after ``since_wall``, plus a ``replica`` key."""
    out = []
    for name in ctx.replica_names():
        for line in ctx.operator.logs(name).splitlines():
            if not line.startswith("{"):
                continue
            try:
                rec = json.loads(line)
                ts = datetime.fromisoformat(rec["ts"]).timestamp()
            except (ValueError, KeyError):
                continue
            if ts >= since_wall:
                rec["replica"] = name
                out.append(rec)
    return out


def metrics_sum(ctx: ChaosContext, name: str, **labels: str) -> float:
    return sum(metric_value(ctx.operator.metrics(r), name, **labels) for r in ctx.replica_names())


# --- replication state ----------------------------------------------------------------------------------


def copies_consistent(
    timeout_s: float = 30.0,
    recovery_from: str | None = None,
    label: str = "recovery",
    configuration: dict | None = None,
) -> dict[str, Any]:
    """All copies equal their sources (and no bystander touched), polled until ``timeout_s``.

    With ``recovery_from`` (a mark such as ``fault_at``) the time from that mark to the first
    consistent observation is stored as the experiment's recovery time ``label``.
    """
    ctx = _ctx(configuration)
    assert ctx.workload is not None
    ok, waited, last = report_within(ctx.workload.consistency, timeout=timeout_s)
    detail = {"waited_s": round(waited, 3), **{k: v for k, v in last.items() if k != "ok"}}
    out = judged(ok, int(last.get("checked", 0)), "the workload expects no copy: nothing compared", **detail)
    if recovery_from:
        start = ctx.marks.get(recovery_from)
        if start is None:
            raise AssertionError(f"mark {recovery_from!r} was never set")
        if out["ok"]:
            ctx.recovery[label] = time.monotonic() - start
            out["recovery_s"] = round(ctx.recovery[label], 3)
    return out


def copies_intact(configuration: dict | None = None) -> dict[str, Any]:
    """While the operator cannot write: nothing deleted, nothing corrupted, no bystander touched."""
    ctx = _ctx(configuration)
    assert ctx.workload is not None
    out = ctx.workload.intact()
    return judged(out.pop("ok"), out["checked"], "the workload expects no copy: nothing checked", **out)


def no_copies_of(
    prefix: str = "poison-", allow: list[str] | None = None, configuration: dict | None = None
) -> dict[str, Any]:
    """No Secret whose name starts with ``prefix`` exists outside the source namespace (except ``allow``)."""
    ctx = _ctx(configuration)
    assert ctx.workload is not None
    allowed = set(allow or [])
    named_so = [
        s
        for s in ctx.cluster.core.list_secret_for_all_namespaces().items
        if s.metadata.name.startswith(prefix)
    ]
    sources = [s.metadata.name for s in named_so if s.metadata.namespace == ctx.workload.source_ns]
    found = [
        f"{s.metadata.namespace}/{s.metadata.name}"
        for s in named_so
        if s.metadata.namespace != ctx.workload.source_ns
    ]
    found = [f for f in found if f not in allowed and f not in ctx.notes.get("poison", {}).values()]
    # evidence: the poison sources themselves (none in the source namespace: nothing was judged)
    cause = f"no source named {prefix}* in {ctx.workload.source_ns}: nothing to refuse"
    return judged(not found, len(sources), cause, unexpected=found[:20], poison_sources=sorted(sources)[:20])


# --- the operator process --------------------------------------------------------------------------------


def operator_ready(configuration: dict | None = None) -> dict[str, Any]:
    ctx = _ctx(configuration)
    states = {r.name: ctx.operator.ready(r.name) for r in ctx.operator.replicas()}
    return {
        "ok": bool(states) and all(ok for ok, _ in states.values()),
        "replicas": {n: why for n, (_, why) in states.items()},
    }


def operator_restarted(timeout_s: float = 60.0, configuration: dict | None = None) -> dict[str, Any]:
    """The killed instance came back and is ready again: restarted in place (its restart count up:
    a supervised process, a container the kubelet restarted) or replaced (a Pod with a new name
    where a deleted one was). Evidence: the replicas recorded before the fault."""
    ctx = _ctx(configuration)
    before: dict[str, int] = ctx.notes.get("restarts_before", {})
    if not before:
        return no_evidence("the replicas were not recorded before the fault: nothing to compare")
    t0 = time.monotonic()

    def check() -> dict[str, Any]:
        now = {r.name: r.restarts for r in ctx.operator.replicas()}
        restarted = [n for n in now if n not in before or now[n] > before[n]]
        ready = {n: ctx.operator.ready(n)[0] for n in now}
        return {
            "ok": bool(restarted) and bool(ready) and all(ready.values()),
            "restarted": restarted,
            "restarts": now,
            "ready": ready,
        }

    ok, waited, last = report_within(check, timeout=timeout_s)
    if ok and "fault_at" in ctx.marks:
        ctx.recovery["operator_ready"] = time.monotonic() - ctx.marks["fault_at"]
    return {**last, "waited_s": round(waited, 3), "since_probe_start_s": round(time.monotonic() - t0, 3)}


def operator_not_restarted(configuration: dict | None = None) -> dict[str, Any]:
    """Same processes and restart counts as before the fault (replication resumed on its own)."""
    ctx = _ctx(configuration)
    pids = {r.name: r.instance for r in ctx.operator.replicas()}  # process or container
    restarts = {r.name: r.restarts for r in ctx.operator.replicas()}
    before_pids, before_restarts = ctx.notes.get("pids_before"), ctx.notes.get("restarts_before")
    detail = {
        "pids": pids,
        "restarts": restarts,
        "pids_before": before_pids,
        "restarts_before": before_restarts,
    }
    if not before_pids or before_restarts is None:
        # comparing the processes with themselves would prove nothing
        return no_evidence("the operator's processes were not recorded before the fault", **detail)
    same = pids == before_pids and restarts == before_restarts
    return judged(same, len(before_pids), "no operator process recorded", **detail)


def operator_responsive(timeout_s: float = 2.0, configuration: dict | None = None) -> dict[str, Any]:
    """/healthz answers on every replica within ``timeout_s`` (a frozen interpreter does not)."""
    ctx = _ctx(configuration)
    answers = {}
    for r in ctx.operator.replicas():
        t0 = time.monotonic()
        try:
            status = ctx.operator.healthz(r.name)
            answers[r.name] = {"status": status, "seconds": round(time.monotonic() - t0, 3)}
        except (urllib.error.URLError, ConnectionError, TimeoutError, OSError) as exc:
            answers[r.name] = {
                "status": None,
                "error": type(exc).__name__,
                "seconds": round(time.monotonic() - t0, 3),
            }
    ok = all(a["status"] == 200 and a["seconds"] <= timeout_s for a in answers.values())
    return judged(ok, len(answers), "no operator replica to ask", healthz=answers)


#: the cause of a run whose fault missed the fan-out (chaos/journal.py runs such an experiment again)
MISSED_FANOUT = "the fault did not land mid-fan-out"


def fault_landed_mid_fanout(configuration: dict | None = None) -> dict[str, Any]:
    """The kill happened with some, but not all, copies written (the experiment did what it says).
    When it did not (every copy already written when it took effect, or none yet) this run did not
    test a kill mid-fan-out at all: that is the harness's timing, not the system's doing (on Pods the
    kubelet stops a deleted Pod's container a moment after the API deleted it, and a fast operator
    finishes the fan-out in between), so it is no evidence, never a failure of the system."""
    ctx = _ctx(configuration)
    info = ctx.notes.get("fanout_at_kill") or {}
    written, total = info.get("written", -1), info.get("total", 0)
    if 0 < written < total:
        return {"ok": True, "evidence": total, **info}
    return no_evidence(
        f"{MISSED_FANOUT}: {written} of {total} copies were written when it took effect", **info
    )


# --- logs, metrics, readiness ----------------------------------------------------------------------------


def logged(
    pattern: str,
    since: str | None = "fault_at",
    level: str | None = None,
    timeout_s: float = 15.0,
    min_count: int = 1,
    configuration: dict | None = None,
) -> dict[str, Any]:
    """The operator logged a line matching ``pattern`` (regex on the message) after the mark."""
    ctx = _ctx(configuration)
    if (na := ctx.not_applicable("logs")) is not None:
        return na
    since_wall = _since(ctx, since)
    rx = re.compile(pattern)

    def check() -> dict[str, Any]:
        hits = [
            r
            for r in log_records(ctx, since_wall)
            if rx.search(r.get("msg", "")) and (level is None or r.get("level") == level)
        ]
        return {
            "ok": len(hits) >= min_count,
            "count": len(hits),
            "examples": [f"{h['level']}: {h['msg']}"[:300] for h in hits[:3]],
        }

    _ok, waited, last = report_within(check, timeout=timeout_s)
    return {**last, "waited_s": round(waited, 3), "pattern": pattern}


def failure_visible(
    verb: str = "patch", since: str = "fault_at", timeout_s: float = 15.0, configuration: dict | None = None
) -> dict[str, Any]:
    """Readiness or metrics show the failure: 403s counted for the verb since the mark, or /readyz 503.
    n/a for a system whose profile says it shows neither (``failure-visibility``: ESO reports on its
    ExternalSecrets' status instead)."""
    ctx = _ctx(configuration)
    if (na := ctx.not_applicable("failure-visibility")) is not None:
        return na
    base = ctx.notes.get(f"metrics_at_{since}", {})

    def check() -> dict[str, Any]:
        forbidden = metrics_sum(ctx, "replicator_api_requests_total", verb=verb, code="403")
        errors = metrics_sum(ctx, "replicator_reconcile_errors_total", reason="forbidden")
        ready = {r: ctx.operator.ready(r)[0] for r in ctx.replica_names()}
        grew = forbidden > base.get("forbidden", 0.0) and errors > base.get("errors", 0.0)
        return {
            "ok": grew or not all(ready.values()),
            "api_403": forbidden,
            "reconcile_errors_forbidden": errors,
            "baseline": base,
            "ready": ready,
        }

    _ok, waited, last = report_within(check, timeout=timeout_s)
    return {**last, "waited_s": round(waited, 3)}


def readiness_reports(
    want_ready: bool = False, timeout_s: float = 30.0, configuration: dict | None = None
) -> dict[str, Any]:
    """/readyz eventually says ``want_ready`` on every replica."""
    ctx = _ctx(configuration)

    def check() -> dict[str, Any]:
        states = {r: ctx.operator.ready(r) for r in ctx.replica_names()}
        return {
            "ok": all(ok == want_ready for ok, _ in states.values()),
            "readyz": {r: why for r, (_, why) in states.items()},
        }

    ok, waited, last = report_within(check, timeout=timeout_s, interval=0.5)
    detail = {k: v for k, v in last.items() if k != "ok"}
    return judged(ok, len(last["readyz"]), "no operator replica to ask", **detail, waited_s=round(waited, 3))


def no_errors_logged(since: str = "fault_at", configuration: dict | None = None) -> dict[str, Any]:
    ctx = _ctx(configuration)
    if (na := ctx.not_applicable("logs")) is not None:
        return na
    records = log_records(ctx, _since(ctx, since))
    errors = [r for r in records if r.get("level") == "error"]
    return judged(
        not errors,
        len(records),
        f"the operator logged no line since {since}: a log scan over no lines proves nothing",
        count=len(errors),
        examples=[e["msg"][:300] for e in errors[:3]],
    )


def work_queue_drained(timeout_s: float = 20.0, configuration: dict | None = None) -> dict[str, Any]:
    """Nothing left to retry: queue depth 0 and the retry counter stops moving."""
    ctx = _ctx(configuration)
    if (na := ctx.not_applicable("metrics")) is not None:
        return na
    state: dict[str, Any] = {}

    def check() -> dict[str, Any]:
        texts = [ctx.operator.metrics(r) for r in ctx.replica_names()]
        # a /metrics that did not answer (or lacks the gauge) reads as 0: count only those that did
        answered = sum(1 for t in texts if "replicator_queue_depth" in t)
        depth = sum(metric_value(t, "replicator_queue_depth") for t in texts)
        retries = sum(metric_value(t, "replicator_reconciles_total", result="retry") for t in texts)
        settled = state.get("retries") == retries
        state["retries"] = retries
        ok = answered > 0 and depth == 0 and settled
        return {"ok": ok, "queue_depth": depth, "retries_total": retries, "metrics_answered": answered}

    ok, waited, last = report_within(check, timeout=timeout_s, interval=6.0)  # gauges refresh every 5 s
    detail = {k: v for k, v in last.items() if k != "ok"}
    cause = "no replica's /metrics answered with the queue gauge"
    return judged(ok, int(last.get("metrics_answered", 0)), cause, **detail, waited_s=round(waited, 3))


def warning_events(
    reason: str, names: list[str] | None = None, timeout_s: float = 15.0, configuration: dict | None = None
) -> dict[str, Any]:
    """Warning Events with ``reason`` exist on the named sources (in the source namespace)."""
    ctx = _ctx(configuration)
    if (na := ctx.not_applicable("events")) is not None:
        return na
    assert ctx.workload is not None
    wanted = set(names or [])

    def check() -> dict[str, Any]:
        events = ctx.cluster.core.list_namespaced_event(ctx.workload.source_ns).items
        hit = {e.involved_object.name for e in events if e.reason == reason and e.type == "Warning"}
        return {
            "ok": wanted <= hit if wanted else bool(hit),
            "found_on": sorted(hit),
            "wanted": sorted(wanted),
        }

    _ok, waited, last = report_within(check, timeout=timeout_s, interval=0.5)
    return {**last, "waited_s": round(waited, 3)}


def no_warning_events(configuration: dict | None = None) -> dict[str, Any]:
    """No Warning Event on the workload's sources. n/a for a system that writes no Events (the list
    would be empty whatever happened); its evidence is the copies the system made of those sources
    (it processed them, so a problem with them would have been reported)."""
    ctx = _ctx(configuration)
    if (na := ctx.not_applicable("events")) is not None:
        return na
    assert ctx.workload is not None
    events = [
        e for e in ctx.cluster.core.list_namespaced_event(ctx.workload.source_ns).items if e.type == "Warning"
    ]
    processed = int(ctx.workload.consistency().get("copies", 0))
    return judged(
        not events,
        processed,
        f"no copy of a source in {ctx.workload.source_ns}: the system processed none of them",
        events=[f"{e.reason} on {e.involved_object.name}" for e in events[:10]],
        copies_seen=processed,
    )


# --- API traffic (audit log) -----------------------------------------------------------------------------


def _audit_window(
    ctx: ChaosContext, since: str, until: str | None = None
) -> tuple[list[audit.AuditEvent], float, float]:
    start = _since(ctx, since)
    end = _since(ctx, until) if until else time.time()
    events = audit.read(ctx.cluster.audit_log)
    return audit.window(events, start, end, ctx.operator_user()), start, end


def _unseen(ctx: ChaosContext, since: str) -> str:
    """Why an audit window holds nothing of the system (the no-verdict cause)."""
    return f"no request of {ctx.operator_user()} in the audit log since {since}"


def no_hot_loop(since: str = "fault_at", configuration: dict | None = None) -> dict[str, Any]:
    """The operator's requests while RBAC is revoked stay within what its documented backoff allows,
    and decline over the window (first third vs last third). Evidence: its requests in the window
    (none seen: no verdict; an audit blind to the system would otherwise read as perfect backoff).
    The budget is the bundled operator's documented backoff: n/a for a system whose profile says its
    backoff is another (``backoff``)."""
    ctx = _ctx(configuration)
    if (na := ctx.not_applicable("backoff")) is not None:
        return na
    if (na := ctx.no_audit_log()) is not None:
        return na
    assert ctx.workload is not None
    events, start, end = _audit_window(ctx, since)
    window_s = end - start
    copies = sum(len(ctx.workload.expected_targets(n)) for n in ctx.workload.sources)
    budget = audit.hot_loop_budget(window_s, writes_per_attempt=copies)
    thirds = audit.buckets(events, start, end, 3)
    detail = {
        "window_s": round(window_s, 2),
        "budget": budget,
        "requests_per_s": round(len(events) / window_s, 2) if window_s else None,
        "thirds": thirds,
        **audit.summary(events),
    }
    ctx.notes.setdefault("hot_loop", []).append(detail)
    ok = len(events) <= budget and thirds[-1] <= max(thirds[0], 10)
    return judged(ok, len(events), _unseen(ctx, since), **detail)


def no_operator_deletes(since: str = "fault_at", configuration: dict | None = None) -> dict[str, Any]:
    """The operator deleted no Secret since the mark (K1: a restart replay deletes nothing it does not
    own, and nothing it owns while the source still lists the namespace). Evidence: its requests in
    the window (no delete among none proves nothing)."""
    ctx = _ctx(configuration)
    if (na := ctx.no_audit_log()) is not None:
        return na
    events, _, _ = _audit_window(ctx, since)
    deletes = [f"{e.namespace}/{e.code}" for e in events if e.verb == "delete" and e.resource == "secrets"]
    return judged(
        not deletes, len(events), _unseen(ctx, since), deletes=deletes[:20], **audit.summary(events)
    )


def write_churn_bounded(
    since: str = "load_started_at", factor: float = 1.5, configuration: dict | None = None
) -> dict[str, Any]:
    """Secret writes during the failover stay near one per copy per source update (no duplicate-write
    storm from two leaders), and precondition conflicts (409: two writers racing) stay rare.
    Evidence: the operator's requests in the window."""
    ctx = _ctx(configuration)
    if (na := ctx.no_audit_log()) is not None:
        return na
    assert ctx.workload is not None
    events, _, _ = _audit_window(ctx, since)
    writes = [e for e in events if e.resource == "secrets" and e.verb in ("create", "update", "patch")]
    conflicts = [e for e in writes if e.code == 409]
    updates = int(ctx.notes.get("load", {}).get("updates", 0))
    copies_per_round = sum(len(ctx.workload.expected_targets(n)) for n in ctx.workload.sources)
    per_source = max(1, len(ctx.workload.sources))
    # each load round updates every source: copies_per_round writes at most, plus one replay
    budget = int(factor * (updates + 2) * copies_per_round)
    # One writer with a warm cache gets no 409 here; a few are tolerated for a cache that lags the
    # takeover. Two writers racing on the same copies produce one per copy they both touch.
    return judged(
        len(writes) <= budget and len(conflicts) <= 3,
        len(events),
        _unseen(ctx, since),
        writes=len(writes),
        budget=budget,
        conflicts_409=len(conflicts),
        source_updates=updates,
        sources=per_source,
        **audit.summary(events),
    )


# --- leadership ------------------------------------------------------------------------------------------


def single_leader(timeout_s: float = 30.0, configuration: dict | None = None) -> dict[str, Any]:
    """Exactly one replica says it leads, and it is the Lease holder."""
    ctx = _ctx(configuration)

    def check() -> dict[str, Any]:
        leaders = [
            r
            for r in ctx.replica_names()
            if metric_value(ctx.operator.metrics(r), "replicator_is_leader") == 1
        ]
        holder = lease_holder(ctx)["holder"]
        return {"ok": leaders == [holder], "leaders": leaders, "holder": holder}

    _ok, waited, last = report_within(check, timeout=timeout_s, interval=0.5)
    return {**last, "waited_s": round(waited, 3)}


def no_leader_flapping(
    max_transitions: int = 2, since: str = "load_started_at", configuration: dict | None = None
) -> dict[str, Any]:
    """Leadership changed hands at most ``max_transitions`` times (Lease) and each replica logged at
    most one 'acquired' per fault it went through (no ping-pong). Evidence: the Lease read before the
    load (else the transitions are counted from now: zero) and the operator's log lines since then."""
    ctx = _ctx(configuration)
    info = lease_holder(ctx)
    before = ctx.notes.get("lease_before", {}).get("transitions")
    acquired: dict[str, int] = {}
    lost: dict[str, int] = {}
    records = log_records(ctx, _since(ctx, since))
    for rec in records:
        if rec.get("msg") == "leadership acquired":
            acquired[rec["replica"]] = acquired.get(rec["replica"], 0) + 1
        elif rec.get("msg") == "leadership lost":
            lost[rec["replica"]] = lost.get(rec["replica"], 0) + 1
    detail = {"acquired": acquired, "lost": lost, "holder": info["holder"], "log_lines": len(records)}
    if before is None:
        return no_evidence("the Lease was not read before the load: no transition count", **detail)
    transitions = info["transitions"] - before
    return judged(
        transitions <= max_transitions and sum(acquired.values()) <= max_transitions + 1,
        len(records),
        f"the operator logged no line since {since}: no acquisition could be counted",
        lease_transitions=transitions,
        **detail,
    )


def no_writes_without_leadership(
    since: str = "load_started_at", min_handovers: int = 1, configuration: dict | None = None
) -> dict[str, Any]:
    """No write by a replica that is not the Lease holder reaches the API server after another replica
    acquired the Lease (chaos/fencing.py): judged from the audit log's received times, user agents
    (each replica's identity) and the Lease's own writes, not from the operator's log. Evidence: the
    writes judged, and at least ``min_handovers`` handovers in the window; without them the probe has
    judged nothing (no verdict, never a pass). A request without an identity in its user agent fails
    it (writers cannot be told apart)."""
    ctx = _ctx(configuration)
    if (na := ctx.no_audit_log()) is not None:
        return na
    start = _since(ctx, since)
    mine = [e for e in audit.read(ctx.cluster.audit_log) if e.user == ctx.operator_user()]
    verdict = fencing.judge(mine, LEASE, since=start)
    handovers = verdict.handovers_since(start)
    detail = {
        "violations": [w.describe() for w in verdict.late_writes[:10]],
        "count": len(verdict.late_writes),
        # accepted: changed a copy; rejected: stopped by the write's own precondition (409), still late
        "accepted": sum(1 for w in verdict.late_writes if 200 <= w.event.code < 300),
        "handovers": [f"{t.previous} -> {t.holder}" for t in handovers],
        "writes_judged": verdict.writes_judged,
        "requests": sum(1 for e in mine if e.received >= start),
        "unattributed": sorted({e.user_agent for e in verdict.unattributed})[:5],
    }
    ok = not verdict.late_writes and not verdict.unattributed
    if ok and len(handovers) < min_handovers:
        cause = (
            f"{len(handovers)} Lease handover(s) in the audit log since {since} (at least {min_handovers})"
        )
        return no_evidence(cause, **detail)
    return judged(
        ok, verdict.writes_judged, f"no write of {ctx.operator_user()} judged since {since}", **detail
    )


def copies_never_regressed(configuration: dict | None = None) -> dict[str, Any]:
    """No copy ever went back to an older source version while the load ran (a stale writer)."""
    ctx = _ctx(configuration)
    watcher = ctx.notes.get("copy_watcher")
    if watcher is None:
        raise AssertionError("the copy watcher was not started (start_source_updates starts it)")
    bad = watcher.regressions()
    seen = sum(len(v) for v in watcher.versions.values())
    return judged(
        not bad,
        seen,
        "the copy watcher saw no version of any copy",
        versions_seen=seen,
        copies_watched=len(watcher.versions),
        regressed={k: v[-6:] for k, v in list(bad.items())[:5]},
        regressed_count=len(bad),
        watch_errors=watcher.errors,
    )


# --- namespace churn -------------------------------------------------------------------------------------


def churn_left_no_leaks(timeout_s: float = 30.0, configuration: dict | None = None) -> dict[str, Any]:
    """After the churn: every surviving listed namespace has a correct copy, no copy exists anywhere
    else, every deleted namespace is really gone, and the near-miss namespace got nothing."""
    ctx = _ctx(configuration)
    assert ctx.workload is not None
    churn = ctx.notes["churn"]
    name = ctx.notes["churn_source"]

    def check() -> dict[str, Any]:
        problems = []
        source = ctx.cluster.core.read_namespaced_secret(name, ctx.workload.source_ns)
        from fixtures.core.redact import secret_view

        want = secret_view(source)
        found = ctx.workload.copies_of(name)
        for ns in churn["survivors"]:
            if ns not in found:
                problems.append(f"{ns}: copy missing")
            elif secret_view(found[ns]) != want:
                problems.append(f"{ns}: copy differs")
        for ns in sorted(set(found) - set(churn["survivors"]) - {ctx.workload.source_ns}):
            problems.append(f"{ns}: leaked copy")
        lingering = []
        for ns in churn["deleted"]:
            try:
                obj = ctx.cluster.core.read_namespace(ns)
                lingering.append(f"{ns} ({obj.status.phase})")
            except ApiException as exc:
                if exc.status != 404:
                    raise
        problems.extend(f"{ns}: not deleted" for ns in lingering)
        return {"ok": not problems, "problems": problems[:20], "survivors": len(churn["survivors"])}

    ok, waited, last = report_within(check, timeout=timeout_s, interval=0.5)
    checked = len(churn["survivors"]) + len(churn["deleted"])
    out = judged(
        ok,
        checked,
        "the churn left no namespace to check",
        **{k: v for k, v in last.items() if k != "ok"},
        waited_s=round(waited, 3),
    )
    if out["ok"] and "churn_done_at" in ctx.marks:
        ctx.recovery["recovery"] = time.monotonic() - ctx.marks["churn_done_at"]
        out["recovery_s"] = round(ctx.recovery["recovery"], 3)
    return out
