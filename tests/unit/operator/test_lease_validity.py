"""A leader only writes while its Lease is fresh (chaos experiment 5 found a thawed ex-leader writing)."""

from __future__ import annotations

import time

import pytest
from kubernetes import client

from operator_under_test.replicator.kube import Fenced, Kube
from operator_under_test.replicator.leader import LeaderElector


def _elector() -> LeaderElector:
    return LeaderElector(None, "ns", "lease", "me", lambda _leading: None)  # type: ignore[arg-type]


def test_a_fresh_renewal_holds_the_lease() -> None:
    elector = _elector()
    elector.leading = True
    elector._last_renew = time.monotonic()
    assert elector.holds_lease()


def test_a_renewal_older_than_the_deadline_does_not() -> None:
    elector = _elector()
    elector.leading = True
    elector._last_renew = time.monotonic() - elector.renew_deadline - 0.1  # e.g. thawed after SIGSTOP
    assert not elector.holds_lease()


def test_a_follower_never_holds_it() -> None:
    elector = _elector()
    elector._last_renew = time.monotonic()
    assert not elector.holds_lease()


class _Transport:
    """Stands in for the connection transport: records what would have been sent."""

    def __init__(self) -> None:
        self.sent: list[str] = []

    def request(self, method: str, target: str, headers: str, body: bytes | None) -> object:
        self.sent.append(f"{method} {target}")
        raise AssertionError("the test only checks whether a request leaves the process")


def _kube(gate: bool) -> tuple[Kube, _Transport]:
    cfg = client.Configuration()
    cfg.host = "https://127.0.0.1:1"
    kube = Kube(cfg)
    pool = _Transport()
    kube._transport = pool  # type: ignore[assignment]
    kube.write_gate = lambda: gate
    return kube, pool


def test_a_gated_write_is_not_sent_once_the_gate_says_no() -> None:
    """The check right before sending closes the gap between deciding to write and writing (a
    replica frozen in between is thawed after a takeover with its request still to send)."""
    kube, pool = _kube(gate=False)
    with pytest.raises(Fenced):
        kube.request(
            "PATCH", "/api/v1/namespaces/a/secrets/s", body=[], verb="patch", resource="secrets", gated=True
        )
    assert pool.sent == []


def test_ungated_requests_and_open_gates_are_sent() -> None:
    kube, pool = _kube(gate=False)
    with pytest.raises(AssertionError):
        kube.request("PUT", "/apis/coordination.k8s.io/v1/leases", body={}, verb="update", resource="leases")
    kube.write_gate = lambda: True
    with pytest.raises(AssertionError):
        kube.request(
            "PATCH", "/api/v1/namespaces/a/secrets/s", body=[], verb="patch", resource="secrets", gated=True
        )
    assert len(pool.sent) == 2
