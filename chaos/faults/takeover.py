"""The leader-failover step both leader experiments take (replicator and ConfigMirror): freeze the
Lease holder and wait for another replica to take over. Its own module because it injects through
:mod:`chaos.faults.variants`, which :mod:`chaos.faults.shared` must not import (kind faults use it).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from chaos.context import ChaosContext
from chaos.faults.variants import inject

#: ``(ctx, timeout_s, not_holder=None)`` → the Lease as one experiment reads it, once it has a holder
AwaitHolder = Callable[..., dict[str, Any]]


def freeze_until_takeover(
    ctx: ChaosContext, timeout_s: float, await_holder: AwaitHolder
) -> tuple[dict[str, Any], dict[str, Any], float]:
    """SIGSTOP the Lease holder and wait until another replica holds the Lease (marks ``freeze_at``
    and ``takeover_at``). Returns the step's result (old and new leader, takeover seconds), the Lease
    before, and the takeover time."""
    before = await_holder(ctx, timeout_s)
    out = inject(ctx, "freeze-leader", before["holder"])
    ctx.mark("freeze_at")
    after = await_holder(ctx, timeout_s, not_holder=before["holder"])
    ctx.mark("takeover_at")
    took = ctx.marks["takeover_at"] - ctx.marks["freeze_at"]
    result = {
        **out,
        "old_leader": before["holder"],
        "new_leader": after["holder"],
        "takeover_s": round(took, 3),
    }
    return result, before, took
