"""A system's API requests, counted from the API server's audit log (local provider).

The local control plane audits, at Metadata level, every request of the ServiceAccounts in every
registered system's namespaces (``ReplicationSystem.service_account_namespaces``; fixtures/clusters/local.py
``audit_policy``), so a second system in a namespace of its own is seen too. A request appears once
per stage; long-running requests (watches) have a ``ResponseStarted`` and a ``ResponseComplete``
event, so requests are counted by ``auditID``. Only metadata is logged: no request or response
bodies, hence no Secret data.

A check that concludes "nothing bad happened" from this log first shows it saw the system: it counts
the system's requests in its window (its evidence), and zero is no verdict, never a pass
(:func:`require_requests` for pytest checks; chaos probes report it through chaos.scoring.judged).
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from fixtures.core.errors import NoEvidence


@dataclass(frozen=True)
class AuditEvent:
    audit_id: str
    user: str
    verb: str
    resource: str
    namespace: str
    code: int
    received: float  # epoch seconds
    user_agent: str
    name: str = ""  # the object's name (metadata only; never a value)
    #: where the request came from, as the API server saw it (a Pod on the host network that reaches
    #: the API server on loopback shows 127.0.0.1, not its node's address)
    source_ips: tuple[str, ...] = ()


def _epoch(ts: str | None) -> float:
    if not ts:
        return 0.0
    return datetime.fromisoformat(ts.replace("Z", "+00:00")).timestamp()


def parse(lines: list[str]) -> list[AuditEvent]:
    """One event per request (the latest stage seen wins); malformed lines are skipped."""
    by_id: dict[str, AuditEvent] = {}
    for line in lines:
        line = line.strip()
        if not line:
            continue
        try:
            raw: dict[str, Any] = json.loads(line)
        except ValueError:
            continue  # a line being written while we read
        ref = raw.get("objectRef") or {}
        ev = AuditEvent(
            audit_id=raw.get("auditID", ""),
            user=(raw.get("user") or {}).get("username", ""),
            verb=raw.get("verb", ""),
            resource=ref.get("resource", ""),
            namespace=ref.get("namespace", ""),
            code=int((raw.get("responseStatus") or {}).get("code") or 0),
            received=_epoch(raw.get("requestReceivedTimestamp")),
            user_agent=raw.get("userAgent", ""),
            name=ref.get("name", ""),
            source_ips=tuple(raw.get("sourceIPs") or ()),
        )
        if ev.audit_id:
            by_id[ev.audit_id] = ev
    return sorted(by_id.values(), key=lambda e: e.received)


def read(path: Path | None) -> list[AuditEvent]:
    if path is None or not path.exists():
        return []
    with open(path, errors="replace") as fh:
        return parse(fh.readlines())


def window(
    events: list[AuditEvent], start: float, end: float, user: str, exclude_resources: tuple[str, ...] = ()
) -> list[AuditEvent]:
    return [
        e
        for e in events
        if start <= e.received < end and e.user == user and e.resource not in exclude_resources
    ]


def require_requests(events: list[AuditEvent], check: str, user: str, where: str) -> int:
    """How many of ``user``'s requests ``events`` holds; raises :class:`NoEvidence` when none (the
    check saw nothing of the system ``where``, so it cannot conclude that nothing bad happened)."""
    seen = sum(1 for e in events if e.user == user)
    if seen == 0:
        raise NoEvidence(check, f"no request of {user} in the audit log {where}")
    return seen


def summary(events: list[AuditEvent]) -> dict[str, Any]:
    """Counts by verb/resource/code, JSON-friendly."""
    return {
        "requests": len(events),
        "by_verb_resource": dict(Counter(f"{e.verb} {e.resource}" for e in events).most_common()),
        "by_code": {str(k): v for k, v in Counter(e.code for e in events).most_common()},
    }


def buckets(events: list[AuditEvent], start: float, end: float, count: int) -> list[int]:
    """Requests per equal time slice of [start, end)."""
    width = (end - start) / count
    out = [0] * count
    for e in events:
        if start <= e.received < end:
            out[min(count - 1, int((e.received - start) / width))] += 1
    return out


def max_attempts(window_s: float, base: float, cap: float, factor: float = 2.0, jitter: float = 0.5) -> int:
    """Upper bound on attempts within ``window_s`` under capped exponential backoff with jitter.

    The operator documents ``min(cap, base * factor**n)`` scaled into ``[1 - jitter, 1]``; the fastest
    possible schedule takes the lowest delay every time. The first attempt is immediate.
    """
    attempts, elapsed, n = 1, 0.0, 0
    while attempts < 100_000:
        delay = min(cap, base * factor**n) * (1.0 - jitter)
        if elapsed + delay > window_s:
            break
        elapsed += delay
        attempts += 1
        n += 1
    return attempts


def hot_loop_budget(
    window_s: float,
    *,
    writes_per_attempt: int,
    informers: int = 3,
    lease_period_s: float | None = 2.0,
    slack: int = 20,
) -> int:
    """How many requests a correctly backing-off operator can send in the window, at most.

    Writes: the README's 0.2 s doubling to 15 s (jittered) per source key, each attempt re-sending the
    failing writes; watches: 0.5 s doubling to 5 s per informer; plus Lease renewals (get + update) and
    Events. A hot loop exceeds this by orders of magnitude.
    """
    writes = max_attempts(window_s, 0.2, 15.0) * writes_per_attempt
    watches = max_attempts(window_s, 0.5, 5.0) * informers * 2  # a list may precede a watch
    lease = int(window_s / lease_period_s + 1) * 2 if lease_period_s else 0
    return writes + watches + lease + slack
