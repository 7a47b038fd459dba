"""The fencing verdict (chaos/fencing.py) on plain audit events: the leader-failover experiment's
`no-writes-without-the-lease` probe must flag a write that reached the API server after another
replica took the Lease, and nothing a replica wrote while it held the Lease (no cluster)."""

from __future__ import annotations

from chaos import audit, fencing
from chaos.audit import AuditEvent

LEASE = "replicheck-replicator"
OLD, NEW = "replicheck-replicator-f0727ab4", "replicheck-replicator-b350794e"
T0 = 1_000_000.0
_ids = iter(range(1_000_000))


def ua(identity: str | None) -> str:
    return "replicheck-replicator/0.1" + (f" ({identity})" if identity else "")


def event(verb: str, resource: str, name: str, code: int, at: float, who: str | None) -> AuditEvent:
    return AuditEvent(str(next(_ids)), "sa", verb, resource, "ns", code, T0 + at, ua(who), name)


def lease(at: float, who: str | None, code: int = 200, verb: str = "update") -> AuditEvent:
    return event(verb, "leases", LEASE, code, at, who)


def write(
    at: float, who: str | None, code: int = 200, verb: str = "patch", resource: str = "secrets"
) -> AuditEvent:
    return event(verb, resource, "creds-1", code, at, who)


def freeze_and_thaw(*late: AuditEvent) -> list[AuditEvent]:
    """The K5 timeline: OLD leads and writes, is frozen at 11 s, NEW takes the Lease at 17.2 s, OLD is
    thawed at 17.4 s; its Lease renewal after the thaw is rejected (409)."""
    return [
        lease(0.0, OLD, verb="create"),
        lease(2.0, OLD),
        write(10.9, OLD),
        write(11.0, OLD),
        lease(17.2, NEW),
        write(17.3, NEW),
        lease(17.45, OLD, code=409),
        *late,
        lease(19.2, NEW),
        write(19.3, NEW),
    ]


def test_writes_made_while_holding_the_lease_pass_even_if_logged_after_the_loss() -> None:
    # the operator's "reconciled" line for the writes at 10.9/11.0 s is only logged after the thaw
    verdict = fencing.judge(freeze_and_thaw(), LEASE, since=T0 + 5)
    assert verdict.late_writes == []
    assert verdict.unattributed == []
    assert [(t.previous, t.holder) for t in verdict.handovers_since(T0 + 5)] == [(OLD, NEW)]
    assert verdict.writes_judged == 4


def test_a_write_received_after_the_takeover_fails_whatever_its_response() -> None:
    for code in (200, 409, 403):
        late = write(17.431, OLD, code=code)
        verdict = fencing.judge(freeze_and_thaw(late), LEASE, since=T0 + 5)
        assert [w.event for w in verdict.late_writes] == [late]
        text = verdict.late_writes[0].describe()
        assert f"{OLD}: patch secrets ns/creds-1 (HTTP {code}) received 0.231 s after {NEW}" in text


def test_a_delete_or_create_by_the_old_holder_is_a_write_too() -> None:
    late = [write(18.0, OLD, verb="delete"), write(18.1, OLD, verb="create", resource="configmaps")]
    verdict = fencing.judge(freeze_and_thaw(*late), LEASE, since=T0 + 5)
    assert [w.event for w in verdict.late_writes] == late


def test_reads_events_and_lease_writes_of_the_old_holder_are_not_judged() -> None:
    harmless = [
        write(18.0, OLD, verb="get"),
        write(18.1, OLD, verb="watch"),
        write(18.2, OLD, verb="create", resource="events"),
        lease(18.3, OLD, verb="get"),
    ]
    verdict = fencing.judge(freeze_and_thaw(*harmless), LEASE, since=T0 + 5)
    assert verdict.late_writes == []


def test_a_write_at_the_very_instant_of_the_takeover_counts_as_after_it() -> None:
    late = write(17.2, OLD)
    verdict = fencing.judge(freeze_and_thaw(late), LEASE, since=T0 + 5)
    assert [w.event for w in verdict.late_writes] == [late]


def test_a_restart_with_the_same_identity_is_no_takeover() -> None:
    events = [lease(0, OLD, verb="create"), write(1, OLD), lease(5, OLD), write(6, OLD)]
    verdict = fencing.judge(events, LEASE)
    assert verdict.late_writes == []
    assert verdict.handovers_since(0) == []


def test_a_failed_lease_write_takes_nothing_and_leadership_can_come_back() -> None:
    events = [
        lease(0, OLD, verb="create"),
        lease(1, NEW, code=409),  # NEW tried while OLD still held it
        write(2, OLD),
        lease(5, NEW),
        lease(9, OLD),  # NEW stopped renewing, OLD took it back
        write(10, OLD),
        write(10.5, NEW),
    ]
    verdict = fencing.judge(events, LEASE)
    assert [(w.writer, w.holder.holder) for w in verdict.late_writes] == [(NEW, OLD)]
    assert [(t.previous, t.holder) for t in verdict.handovers_since(0)] == [(OLD, NEW), (NEW, OLD)]


def test_only_the_window_is_judged_but_the_holder_is_known_from_before_it() -> None:
    events = [lease(0, OLD, verb="create"), lease(1, NEW), write(2, OLD), write(8, OLD)]
    verdict = fencing.judge(events, LEASE, since=T0 + 5)
    assert [w.event.received for w in verdict.late_writes] == [T0 + 8]
    assert verdict.handovers_since(T0 + 5) == []


def test_another_lease_does_not_move_the_holder() -> None:
    other = event("update", "leases", "other-lease", 200, 1, NEW)
    verdict = fencing.judge([lease(0, OLD, verb="create"), other, write(2, OLD)], LEASE)
    assert verdict.late_writes == []
    assert verdict.takeovers[-1].holder == OLD


def test_requests_without_an_identity_cannot_be_judged_and_are_reported() -> None:
    verdict = fencing.judge([lease(0, None, verb="create"), write(1, None)], LEASE)
    assert len(verdict.unattributed) == 2
    assert verdict.late_writes == []
    assert verdict.takeovers == []


def test_the_identity_is_the_user_agents_trailing_comment() -> None:
    assert fencing.replica_of("replicheck-replicator/0.1 (pod-a_12)") == "pod-a_12"
    assert fencing.replica_of("replicheck-replicator/0.1") is None
    assert fencing.replica_of("kubectl/v1.31 (linux/amd64) kubernetes/abc") is None


def test_the_audit_parser_keeps_the_object_name() -> None:
    line = (
        '{"auditID":"a","verb":"update","user":{"username":"sa"},"userAgent":"x (id)",'
        '"objectRef":{"resource":"leases","namespace":"ns","name":"l"},"responseStatus":{"code":200},'
        '"requestReceivedTimestamp":"2026-01-01T00:00:00.000000Z","stage":"ResponseComplete"}'
    )
    (event,) = audit.parse([line])
    assert (event.name, fencing.replica_of(event.user_agent)) == ("l", "id")


# --- a lost node's leader (node-loss) -------------------------------------------------------------------

FROZEN_AT = T0 + 11.0


def test_a_lost_leader_that_wrote_nothing_after_the_takeover_is_silent_with_evidence() -> None:
    silence = fencing.judge_silence(freeze_and_thaw(), LEASE, OLD, FROZEN_AT)
    assert silence.takeover is not None
    assert (silence.takeover.previous, silence.takeover.holder) == (OLD, NEW)
    assert silence.late_writes == []
    assert silence.requests_before == 3  # its Lease create and renewal, its write at 10.9 s
    assert silence.evidence == 3
    assert silence.requests_after_takeover == 1  # the rejected renewal: it woke up, it did not write


def test_any_write_of_the_lost_leader_after_the_takeover_is_a_violation() -> None:
    late = [write(17.5, OLD, code=409), write(18.0, OLD, verb="create")]
    silence = fencing.judge_silence(freeze_and_thaw(*late), LEASE, OLD, FROZEN_AT)
    assert [w.event.received - T0 for w in silence.late_writes] == [17.5, 18.0]
    assert "received 0.300 s after" in silence.late_writes[0].describe()


def test_a_write_of_the_new_leader_or_before_the_takeover_is_not_the_lost_leaders() -> None:
    # received after the freeze but before the takeover: sent while it still held the Lease
    silence = fencing.judge_silence(freeze_and_thaw(write(12.0, OLD)), LEASE, OLD, FROZEN_AT)
    assert silence.late_writes == []


def test_no_takeover_from_the_lost_leader_is_no_evidence() -> None:
    events = [lease(0.0, OLD, verb="create"), write(10.9, OLD), write(12.0, OLD)]
    silence = fencing.judge_silence(events, LEASE, OLD, FROZEN_AT)
    assert silence.takeover is None
    assert silence.evidence == 0
    # an earlier handover (before the freeze) is not the one the freeze caused
    earlier = [lease(0.0, NEW, verb="create"), lease(5.0, OLD), write(10.9, OLD)]
    assert fencing.judge_silence(earlier, LEASE, OLD, FROZEN_AT).takeover is None


def test_the_source_addresses_of_the_lost_leaders_requests_are_kept() -> None:
    events = freeze_and_thaw()
    events[2] = AuditEvent("x", "sa", "patch", "secrets", "ns", 200, T0 + 10.9, ua(OLD), "c", ("127.0.0.1",))
    assert fencing.judge_silence(events, LEASE, OLD, FROZEN_AT).source_ips == ("127.0.0.1",)
    line = (
        '{"auditID":"a1","stage":"ResponseComplete","verb":"get","user":{"username":"sa"},'
        '"sourceIPs":["198.18.4.11"],"userAgent":"x","objectRef":{"resource":"leases"},'
        '"responseStatus":{"code":200},"requestReceivedTimestamp":"2026-01-01T00:00:00.000000Z"}'
    )
    assert audit.parse([line])[0].source_ips == ("198.18.4.11",)
