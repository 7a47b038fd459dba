"""A leader only writes while its Lease is fresh (chaos experiment 5 found a thawed ex-leader writing)."""

from __future__ import annotations

import time

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
