"""The OOM experiment's pure parts: the tight memory limit (the working set plus a headroom, never
below what the operator uses) and the bound of the burst of large sources. Why: a limit below the
working set kills the operator at start (nothing to observe); a burst without a bound would fill the
API server's storage when a system never gets killed (that is no verdict, not a longer wait)."""

from __future__ import annotations

from chaos.faults.oom_kill import burst_plan, memory_limit_for


def test_the_tight_limit_is_the_working_set_plus_the_headroom_and_the_burst_is_bounded() -> None:
    assert memory_limit_for(46137344, 40) == "84Mi"  # 44 MiB used
    assert memory_limit_for(46137345, 40) == "85Mi"  # rounded up: never below what it uses
    assert burst_plan(40, 768, 3.0) == 160  # 120 MiB of sources at most
    assert burst_plan(1, 4096, 0.1) == 1
