"""Zero evidence is no verdict, never a pass; n/a is never counted as passed (chaos/scoring.py), and the
audit-based probes count the system's requests before concluding that nothing bad happened.

Pure: journals are built by hand, and the probes read a hand-written audit log through a context whose
cluster is a stand-in with only the attributes they read (no API server).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from chaos import audit, probes
from chaos.context import BUNDLED_NAMES, CONFIG_KEY, ChaosContext, register, unregister
from chaos.journal import ChaosResult
from chaos.scoring import (
    judged,
    no_evidence,
    not_applicable,
    not_failed,
    overall_resilience,
    probe_state,
    score,
    verdict_fields,
)
from fixtures.core.errors import NoEvidence, NoVerdict

TOL = {
    "type": "probe",
    "name": "ok",
    "provider": {"type": "python", "module": "chaos.scoring", "func": "not_failed", "arguments": {}},
}


def _run(
    name: str, kind: str = "probe", status: str = "succeeded", output: Any = None, exc: Any = None
) -> dict:
    run: dict[str, Any] = {"activity": {"name": name, "type": kind}, "status": status, "output": output}
    if exc:
        run["exception"] = exc
    return run


def _journal(*method_outputs: Any, steady: Any = None, before: dict | None = None) -> dict:
    """One steady-state probe ``ss`` (before and after), one action, and one method probe per output."""
    steady = {"ok": True} if steady is None else steady
    names = [f"check{i}" for i in range(len(method_outputs))]
    state = {"steady_state_met": True, "probes": [{**_run("ss", output=steady), "tolerance_met": True}]}
    return {
        "experiment": {
            "steady-state-hypothesis": {
                "title": "t",
                "probes": [{"type": "probe", "name": "ss", "tolerance": TOL}],
            },
            "method": [{"type": "action", "name": "fault"}, *({"type": "probe", "name": n} for n in names)],
        },
        "status": "completed",
        "deviated": False,
        "steady_states": {"before": before or state, "after": None if before else state, "during": []},
        "run": []
        if before
        else [
            _run("fault", "action", output={}),
            *map(_run, names, ["probe"] * len(names), ["succeeded"] * len(names), method_outputs),
        ],
        "rollbacks": [_run("undo", "action")],
    }


# --- probe outputs ------------------------------------------------------------------------------------


def test_zero_evidence_is_no_verdict_and_evidence_is_judged() -> None:
    nothing = judged(True, 0, "no request of the operator in the window", deletes=[])
    assert nothing["ok"] is None
    assert nothing["evidence"] == 0
    assert nothing["no_evidence"] == "no request of the operator in the window"
    assert probe_state(nothing) == "no verdict"
    assert probe_state(judged(True, 12, "unused")) == "pass"
    assert judged(True, 12, "unused")["evidence"] == 12
    assert probe_state(judged(False, 3, "unused")) == "fail"
    assert probe_state(judged(False, 0, "saw nothing")) == "no verdict", "a failure needs evidence too"


def test_n_a_is_never_a_pass_and_both_let_the_steady_state_carry_on() -> None:
    na = not_applicable("no API audit log on the kind provider")
    assert probe_state(na) == "n/a"
    assert na["ok"] is not True
    assert probe_state({"ok": True, "skipped": True}) == "n/a", "older journals' skipped probes"
    for output in (na, no_evidence("nothing"), {"ok": True}):
        assert not_failed(output)
    for output in ({"ok": False}, None, "text", {}):
        assert not not_failed(output)


# --- experiment verdicts ------------------------------------------------------------------------------


def test_a_probe_without_evidence_makes_the_experiment_no_verdict_never_a_pass() -> None:
    s = score(_journal({"ok": True, "evidence": 4}, no_evidence("no request of sa in the audit log")), "x")
    assert s.verdict == "no verdict"
    assert s.passed is False
    assert s.problems == []
    assert s.no_evidence == ["check1: no request of sa in the audit log"]
    assert (s.probes_total, s.probes_passed, s.probes_no_evidence) == (3, 3, 1)  # left out of the score
    fields = verdict_fields(s)
    assert fields["verdict"] == "no verdict"
    assert fields["passed"] is False
    assert fields["no_evidence"] == ["check1: no request of sa in the audit log"]


def test_a_failure_with_evidence_wins_over_no_evidence() -> None:
    s = score(_journal({"ok": False, "evidence": 2, "deletes": ["a/200"]}, no_evidence("nothing")), "x")
    assert s.verdict == "fail"
    assert not s.passed
    assert any(p.startswith("probe check0 not ok") for p in s.problems)


def test_every_check_n_a_is_n_a_and_a_mix_with_evidence_passes() -> None:
    na = not_applicable("no API audit log on the kind provider")
    all_na = score(_journal(na, steady=na), "x")
    assert all_na.verdict == "n/a"
    assert not all_na.passed
    assert all_na.not_applicable == [
        "check0: no API audit log on the kind provider",
        "ss: no API audit log on the kind provider",
    ]
    mixed = score(_journal(na, {"ok": True, "evidence": 7}), "x")
    assert mixed.verdict == "pass"
    assert mixed.passed
    assert mixed.not_applicable == ["check0: no API audit log on the kind provider"]
    assert (mixed.probes_total, mixed.probes_skipped) == (3, 1)


def test_a_steady_state_probe_without_evidence_is_labelled_by_phase() -> None:
    s = score(_journal({"ok": True}, steady=no_evidence("the workload expects no copy")), "x")
    assert s.verdict == "no verdict"
    assert s.no_evidence == [
        "ss (before): the workload expects no copy",
        "ss (after): the workload expects no copy",
    ]


def test_an_activity_that_raised_no_verdict_is_no_verdict_not_a_problem() -> None:
    j = _journal({"ok": True})
    j["run"][1] = _run(
        "check0", status="failed", exc=["Traceback\n", "fixtures.core.errors.NoEvidence: x: no evidence: y\n"]
    )
    s = score(j, "x")
    assert s.problems == []
    assert s.verdict == "no verdict"
    assert s.no_evidence == ["check0: fixtures.core.errors.NoEvidence: x: no evidence: y"]


def test_a_steady_state_blocked_by_no_verdict_leaves_the_method_unjudged_not_failed() -> None:
    before = {
        "steady_state_met": False,
        "probes": [{**_run("ss", status="failed", exc=["NoVerdict: harness broke"]), "tolerance_met": False}],
    }
    s = score(_journal({"ok": True}, before=before), "x")
    assert s.problems == []
    assert s.verdict == "no verdict"
    assert {o.state for o in s.outcomes} == {"no verdict"}


def test_an_empty_journal_judged_nothing() -> None:
    s = score({"status": "completed", "experiment": {}}, "x")
    assert s.verdict == "no verdict"
    assert not s.passed


def test_a_leak_fails_whatever_the_probes_said_and_conclude_ends_each_verdict_its_way() -> None:
    unjudged = ChaosResult("e", {}, score(_journal(no_evidence("nothing")), "e"), Path("j.json"))
    assert unjudged.verdict == "no verdict"
    with pytest.raises(NoEvidence, match="nothing") as caught:
        unjudged.conclude()
    assert isinstance(caught.value, NoVerdict)
    leaked = ChaosResult("e", {}, score(_journal(no_evidence("nothing")), "e"), Path("j.json"), leaks=["log"])
    assert leaked.verdict == "fail"
    assert not leaked.passed
    with pytest.raises(AssertionError, match="secret value leaked"):
        leaked.conclude()
    na = not_applicable("no audit log")
    with pytest.raises(pytest.skip.Exception, match="n/a: e: "):
        ChaosResult("e", {}, score(_journal(na, steady=na), "e"), Path("j.json")).conclude()
    ChaosResult("e", {}, score(_journal({"ok": True}), "e"), Path("j.json")).conclude()


def test_overall_resilience_leaves_out_experiments_that_judged_no_probe() -> None:
    records = [
        {"weight": 2, "resilience": 100.0, "probes_total": 4},
        {"weight": 8, "resilience": 0.0, "probes_total": 0, "verdict": "n/a"},
    ]
    assert overall_resilience(records) == 100.0
    assert overall_resilience(records[1:]) is None


# --- the audit-based probes over a hand-written audit log -------------------------------------------


def _line(audit_id: str, user: str, verb: str, resource: str, at: float, code: int = 200) -> str:
    ts = datetime.fromtimestamp(at, UTC).isoformat().replace("+00:00", "Z")
    return json.dumps(
        {
            "auditID": audit_id,
            "user": {"username": user},
            "verb": verb,
            "objectRef": {"resource": resource, "namespace": "ns", "name": "creds"},
            "responseStatus": {"code": code},
            "requestReceivedTimestamp": ts,
            "userAgent": "replicheck-replicator/0.1 (r0)",
        }
    )


@pytest.fixture
def audited(tmp_path: Path) -> Any:
    """(write the audit log's lines, the probe configuration of a context whose mark is at t=1000)."""
    log = tmp_path / "audit.log"
    log.write_text("")
    cluster = SimpleNamespace(audit_log=log, provider=SimpleNamespace(name="local"))
    ctx = ChaosContext(cluster=cluster, operator=None, run_dir=tmp_path)  # type: ignore[arg-type]
    ctx.marks.update({"fault_at": 0.0, "fault_at_wall": 1000.0})
    key = register(ctx)
    yield (lambda *lines: log.write_text("\n".join(lines) + "\n")), {CONFIG_KEY: key}, ctx
    unregister(key)


def test_no_operator_deletes_needs_the_operators_requests_in_the_window(audited: Any) -> None:
    write, config, _ctx = audited
    me, other = BUNDLED_NAMES.user, "system:serviceaccount:elsewhere:someone"
    # only another user's requests, and the operator's before the mark: it saw nothing of the system
    write(_line("1", other, "delete", "secrets", 1001.0), _line("2", me, "get", "secrets", 999.0))
    out = probes.no_operator_deletes(since="fault_at", configuration=config)
    assert probe_state(out) == "no verdict", out
    assert me in out["no_evidence"]
    write(_line("3", me, "get", "secrets", 1001.0), _line("4", me, "patch", "secrets", 1002.0))
    out = probes.no_operator_deletes(since="fault_at", configuration=config)
    assert (probe_state(out), out["evidence"]) == ("pass", 2)
    write(_line("5", me, "delete", "secrets", 1001.0))
    out = probes.no_operator_deletes(since="fault_at", configuration=config)
    assert (probe_state(out), out["deletes"]) == ("fail", ["ns/200"])


def test_audit_probes_are_n_a_without_an_audit_log(audited: Any) -> None:
    _write, config, ctx = audited
    ctx.cluster.audit_log = None
    ctx.cluster.provider.name = "kind"
    for probe in (probes.no_operator_deletes, probes.no_writes_without_leadership):
        out = probe(configuration=config)
        assert probe_state(out) == "n/a", out
        assert "kind" in out["why"]


def test_fencing_without_a_handover_or_a_write_is_no_verdict(audited: Any) -> None:
    write, config, ctx = audited
    ctx.marks["load_started_at_wall"] = 1000.0
    write(_line("1", BUNDLED_NAMES.user, "get", "secrets", 1001.0))
    out = probes.no_writes_without_leadership(configuration=config)
    assert probe_state(out) == "no verdict", out
    assert "handover" in out["no_evidence"]


def test_require_requests_counts_the_users_requests_or_raises_no_evidence() -> None:
    events = audit.parse([_line("1", "u", "get", "secrets", 1.0), _line("2", "v", "get", "secrets", 2.0)])
    assert audit.require_requests(events, "check", "u", "in the window") == 1
    with pytest.raises(
        NoEvidence, match="check: no evidence: no request of w in the audit log in the window"
    ):
        audit.require_requests(events, "check", "w", "in the window")
