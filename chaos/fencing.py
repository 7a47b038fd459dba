"""Fencing judged from the API server's audit log: did a replica that lost the Lease still write?

Leader election is only as safe as its fencing: a replica frozen mid-reconcile (SIGSTOP, a long GC
pause, a partition) wakes up believing it leads. The property that matters is what reached the API
server, not what the operator says about itself: **no write by a replica that is not the Lease
holder is received by the API server after another replica acquired the Lease**. The operator's
own "reconciled" summary cannot show that: it is logged when a reconcile ends, so writes done before
a freeze, while the Lease was held, look like writes made after the loss (a false positive under
load), and a write sent after the thaw by a thread that passed its lease check before the freeze is
indistinguishable from a legitimate one.

The audit log (``chaos/audit.py``; local provider) has each request's received time on the API
server's clock, its verb and object, and its user agent. The bundled replicator puts its
leader-election identity in the user agent (``replicheck-replicator/0.1 (<identity>)``), so every
request is attributed to a replica, and the Lease's history is read from the same log: a successful
write of the Lease by a replica other than the current holder is a takeover, at the moment the API
server received it (strict: earlier than the moment it committed). Every write of another object
by any other replica received at or after that moment is a violation, whatever its response code (a
rejected write still reached the API server). Lease writes are the election itself and Events are
diagnostics, not state; neither is judged. Pure: plain ``AuditEvent`` lists in, a verdict out.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime

from chaos.audit import AuditEvent

WRITE_VERBS = frozenset({"create", "update", "patch", "delete", "deletecollection"})
NOT_JUDGED = frozenset({"leases", "events"})
_IDENTITY = re.compile(r"\(([^()]+)\)\s*$")


def replica_of(user_agent: str) -> str | None:
    """The identity in a user agent's trailing comment (``product/version (identity)``), else None."""
    match = _IDENTITY.search(user_agent)
    return match.group(1).strip() if match else None


@dataclass(frozen=True)
class Takeover:
    at: float  # when the API server received the acquiring Lease write (epoch seconds)
    holder: str
    previous: str | None


@dataclass(frozen=True)
class LateWrite:
    event: AuditEvent
    writer: str
    holder: Takeover

    def describe(self) -> str:
        e = self.event
        lag = e.received - self.holder.at
        return (
            f"{_clock(e.received)} {self.writer}: {e.verb} {e.resource} {e.namespace}/{e.name} "
            f"(HTTP {e.code}) received {lag:.3f} s after {self.holder.holder} acquired the Lease"
        )


@dataclass
class Verdict:
    takeovers: list[Takeover] = field(default_factory=list)
    late_writes: list[LateWrite] = field(default_factory=list)
    unattributed: list[AuditEvent] = field(default_factory=list)  # no identity in the user agent
    writes_judged: int = 0

    def handovers_since(self, since: float) -> list[Takeover]:
        """Takeovers from another holder (not the first acquisition) at or after ``since``."""
        return [t for t in self.takeovers if t.at >= since and t.previous is not None]


def _clock(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%H:%M:%S.%f")[:-3]


def _is_lease_write(e: AuditEvent, lease: str) -> bool:
    return e.resource == "leases" and e.name == lease and e.verb in WRITE_VERBS


def judge(events: list[AuditEvent], lease: str, since: float = 0.0) -> Verdict:
    """Walk one operator's audited requests in received order; writes before ``since`` are not
    judged, but the Lease's history is read from the start so the holder at ``since`` is known."""
    verdict = Verdict()
    holder: Takeover | None = None
    # On equal timestamps the Lease write goes first: the stricter reading.
    ordered = sorted(events, key=lambda e: (e.received, not _is_lease_write(e, lease)))
    for e in ordered:
        if _is_lease_write(e, lease):
            who = replica_of(e.user_agent)
            if who is None:
                verdict.unattributed.append(e)
            elif 200 <= e.code < 300 and (holder is None or holder.holder != who):
                holder = Takeover(e.received, who, holder.holder if holder else None)
                verdict.takeovers.append(holder)
            continue
        if e.verb not in WRITE_VERBS or e.resource in NOT_JUDGED or e.received < since:
            continue
        verdict.writes_judged += 1
        writer = replica_of(e.user_agent)
        if writer is None:
            verdict.unattributed.append(e)
        elif holder is not None and writer != holder.holder:
            verdict.late_writes.append(LateWrite(e, writer, holder))
    return verdict


# --- a lost node's leader (the node-loss experiment) -----------------------------------------------------


@dataclass
class Silence:
    """What the audit log says about one replica that was frozen while it held the Lease (its node
    lost): who took over and when (API server clock), and every write of the frozen replica received
    after that. Its evidence is the replica's own requests before the freeze (the log does attribute
    requests to it) and the takeover itself."""

    frozen: str
    takeover: Takeover | None
    late_writes: list[LateWrite] = field(default_factory=list)
    requests_before: int = 0  # the frozen replica's requests before the freeze
    requests_after_takeover: int = 0  # any verb: a thawed replica that woke up shows here
    source_ips: tuple[str, ...] = ()  # where the frozen replica's requests came from

    @property
    def evidence(self) -> int:
        return self.requests_before if self.takeover is not None else 0


def judge_silence(events: list[AuditEvent], lease: str, frozen: str, frozen_at: float) -> Silence:
    """Did the replica ``frozen`` (its identity, in its requests' user agent) write anything the API
    server received after another replica took the Lease from it, the first takeover at or after
    ``frozen_at``? Lease writes and Events are not judged (as in :func:`judge`)."""
    verdict = judge(events, lease)
    takeover = next(
        (t for t in verdict.takeovers if t.at >= frozen_at and t.previous == frozen and t.holder != frozen),
        None,
    )
    out = Silence(frozen, takeover)
    ips: set[str] = set()
    for e in events:
        if replica_of(e.user_agent) != frozen:
            continue
        ips.update(e.source_ips)
        if e.received < frozen_at:
            out.requests_before += 1
            continue
        if takeover is None or e.received < takeover.at:
            continue
        out.requests_after_takeover += 1
        if e.verb in WRITE_VERBS and e.resource not in NOT_JUDGED:
            out.late_writes.append(LateWrite(e, frozen, takeover))
    out.source_ips = tuple(sorted(ips))
    return out
