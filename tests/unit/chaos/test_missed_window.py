"""A chaos run whose fault missed the window its experiment is about is no evidence, and is run again
(chaos/probes.py fault_landed_mid_fanout, chaos/journal.py missed_its_window; pure)."""

from __future__ import annotations

from pathlib import Path

from chaos.journal import ChaosResult, missed_its_window
from chaos.probes import MISSED_FANOUT
from chaos.scoring import Score


def _result(verdict: str, no_evidence: list[str], problems: list[str] = ()) -> ChaosResult:
    score = Score(
        "kill-operator",
        8,
        8,
        8,
        0,
        100.0,
        verdict == "pass",
        list(problems),
        [],
        verdict,
        len(no_evidence),
        no_evidence,
    )
    return ChaosResult("kill-operator", {}, score, Path("journal.json"))


def test_only_a_run_whose_fault_missed_its_window_is_run_again() -> None:
    missed = f"probe fault-landed-mid-fan-out: {MISSED_FANOUT}: 59 of 59 copies were written"
    assert missed_its_window(_result("no verdict", [missed]))
    # a failure of the system, a pass, or another cause of no evidence is never run again
    assert not missed_its_window(_result("fail", [missed], ["copies-converge-within-slo not ok"]))
    assert not missed_its_window(_result("pass", []))
    assert not missed_its_window(_result("no verdict", [missed, "probe operator-logged: no log lines"]))
