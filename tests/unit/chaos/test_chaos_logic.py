"""Pure logic of the chaos part: journal judging, scoring, audit counting,
experiment documents and runbook data (no cluster)."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest
import yaml

from chaos import audit
from chaos.journal import EXPERIMENTS, ChaosResult, find_leaks, load, run_chaos_experiment
from chaos.runbooks.base import CANNOT_CHECK, STATUSES, Outcome, Subject
from chaos.runbooks.catalogue import MISSING_CHECK, RUNBOOKS, SEED
from chaos.runbooks.checks import CHECKS
from chaos.runbooks.engine import chosen_remedy, diagnose
from chaos.runbooks.logs import classify_logs
from chaos.runbooks.patterns import regex_verdicts
from chaos.runbooks.remedies import REMEDIES
from chaos.scoring import journal_problems, overall_resilience, probe_outcomes, score
from fixtures.core.encoding import b64
from fixtures.core.paths import REPO_ROOT

# --- judging journals -----------------------------------------------------------------------------------

TOL = {
    "type": "probe",
    "name": "ok",
    "provider": {"type": "python", "module": "chaos.scoring", "func": "not_failed", "arguments": {}},
}


def _probe(name: str) -> dict:
    return {
        "type": "probe",
        "name": name,
        "tolerance": TOL,
        "provider": {"type": "python", "module": "m", "func": "f"},
    }


def _run(name: str, kind: str = "probe", status: str = "succeeded", output=None, exc=None) -> dict:
    run = {"activity": {"name": name, "type": kind}, "status": status, "output": output}
    if exc:
        run["exception"] = exc
    return run


def _journal(**over) -> dict:
    j = {
        "experiment": {
            "steady-state-hypothesis": {"title": "t", "probes": [_probe("ss")]},
            "method": [{"type": "action", "name": "fault"}, {"type": "probe", "name": "check"}],
        },
        "status": "completed",
        "deviated": False,
        "steady_states": {
            "before": {
                "steady_state_met": True,
                "probes": [{**_run("ss", output={"ok": True}), "tolerance_met": True}],
            },
            "after": {
                "steady_state_met": True,
                "probes": [{**_run("ss", output={"ok": True}), "tolerance_met": True}],
            },
            "during": [],
        },
        "run": [_run("fault", "action", output={}), _run("check", output={"ok": True})],
        "rollbacks": [_run("undo", "action")],
    }
    j.update(over)
    return j


def test_a_clean_journal_passes_with_full_score() -> None:
    s = score(_journal(), "x", weight=4)
    assert s.passed
    assert s.problems == []
    assert (s.probes_passed, s.probes_total, s.resilience) == (3, 3, 100.0)


def test_completed_with_a_missed_steady_state_before_is_a_failure() -> None:
    """chaoslib: tolerance missed before the method → method skipped, status still 'completed'."""
    before = {
        "steady_state_met": False,
        "probes": [{**_run("ss", output={"ok": False}), "tolerance_met": False}],
    }
    j = _journal(steady_states={"before": before, "after": None, "during": []}, run=[])
    problems = journal_problems(j)
    assert any("before the method not met" in p for p in problems)
    assert any("after the method was never checked" in p for p in problems)
    s = score(j, "x")
    assert s.probes_passed == 0
    assert s.probes_total == 3


def test_an_action_that_raised_is_a_failure_even_though_status_is_completed() -> None:
    j = _journal(
        run=[
            _run("fault", "action", "failed", exc=["Traceback\n", "AssertionError: boom\n"]),
            _run("check", output={"ok": True}),
        ]
    )
    assert j["status"] == "completed"
    assert journal_problems(j) == ["action fault failed: AssertionError: boom"]


def test_deviated_rollback_failed_and_not_ok_probe_are_each_reported() -> None:
    j = _journal(
        deviated=True,
        rollbacks=[_run("undo", "action", "failed", exc=["x: y"])],
        run=[_run("fault", "action"), _run("check", output={"ok": False, "problems": ["ns/a: missing"]})],
    )
    problems = journal_problems(j)
    assert any(p.startswith("deviated") for p in problems)
    assert any(p.startswith("rollback undo failed") for p in problems)
    assert any(p.startswith("probe check not ok") and "ns/a: missing" in p for p in problems)


def test_interrupted_and_aborted_runs_fail() -> None:
    assert journal_problems(_journal(status="interrupted"))[0] == "status is 'interrupted', not 'completed'"


def test_skipped_probes_of_older_journals_are_n_a_and_left_out_of_the_score() -> None:
    j = _journal(
        run=[_run("fault", "action"), _run("check", output={"ok": True, "skipped": True, "why": "kind"})]
    )
    s = score(j, "x")
    assert (s.probes_total, s.probes_skipped, s.resilience) == (2, 1, 100.0)
    assert s.verdict == "pass"  # the steady state passed with evidence; the n/a probe is listed
    assert s.not_applicable == ["check: kind"]
    outcomes = probe_outcomes(j)
    assert [o.phase for o in outcomes] == ["before", "after", "method"]
    assert [o.state for o in outcomes] == ["pass", "pass", "n/a"]


def test_overall_resilience_is_the_litmus_weighted_mean() -> None:
    # Litmus' worked example: weights 2, 4, 8 with 0 %, 100 %, 75 % → (0 + 400 + 600) / 14
    scores = [
        {"weight": 2, "resilience": 0},
        {"weight": 4, "resilience": 100},
        {"weight": 8, "resilience": 75},
    ]
    assert overall_resilience(scores) == 71.4
    assert overall_resilience([]) is None


def test_leaks_are_found_plain_and_base64_and_never_echoed() -> None:

    canary = "3f9a0c1d2e"
    texts = {
        "journal": "nothing here",
        "log": f"value={b64(canary)}",
        "record": f"x {canary} y",
    }
    assert find_leaks({canary}, texts) == ["log", "record"]
    result = ChaosResult("e", {}, score(_journal(), "e"), Path("j.json"), leaks=["log"])
    assert not result.passed
    assert canary not in result.failure_report()


def test_experiments_must_run_on_the_main_thread() -> None:
    errors = []

    def run() -> None:
        try:
            run_chaos_experiment(None, "kill-operator")  # type: ignore[arg-type]
        except RuntimeError as exc:
            errors.append(str(exc))

    t = threading.Thread(target=run)
    t.start()
    t.join(10)
    assert errors
    assert "main thread" in errors[0]


# --- audit counting -------------------------------------------------------------------------------------


def _audit_line(
    aid: str, verb: str, resource: str, code: int, ts: str, stage: str = "ResponseComplete"
) -> str:
    return json.dumps(
        {
            "auditID": aid,
            "stage": stage,
            "verb": verb,
            "user": {"username": "system:serviceaccount:a:b"},
            "objectRef": {"resource": resource, "namespace": "ns"},
            "responseStatus": {"code": code},
            "requestReceivedTimestamp": ts,
            "userAgent": "ua",
        }
    )


def test_audit_events_are_counted_once_per_request() -> None:
    lines = [
        _audit_line("1", "watch", "secrets", 200, "2026-01-01T00:00:00.000000Z", "ResponseStarted"),
        _audit_line("1", "watch", "secrets", 200, "2026-01-01T00:00:00.000000Z"),
        _audit_line("2", "patch", "secrets", 403, "2026-01-01T00:00:01.500000Z"),
        "{half a line",
        _audit_line("3", "patch", "secrets", 403, "2026-01-01T00:00:05.000000Z"),
    ]
    events = audit.parse(lines)
    assert [e.audit_id for e in events] == ["1", "2", "3"]
    start = events[0].received
    assert audit.summary(events)["by_code"] == {"403": 2, "200": 1}
    assert audit.buckets(events, start, start + 6, 3) == [2, 0, 1]
    assert len(audit.window(events, start + 1, start + 6, "system:serviceaccount:a:b")) == 2
    assert audit.window(events, start, start + 6, "someone-else") == []


def test_hot_loop_budget_allows_backoff_and_rejects_a_tight_loop() -> None:
    # 0.2 s doubling to 15 s with 50 % jitter: at most a handful of attempts in 20 s
    assert audit.max_attempts(20, 0.2, 15.0) == 8
    assert audit.max_attempts(0.05, 0.2, 15.0) == 1
    budget = audit.hot_loop_budget(20, writes_per_attempt=23)
    assert budget < 400
    tight_loop = 20 * 10 * 23  # every copy retried ten times a second
    assert tight_loop > 10 * budget


# --- experiment documents ---------------------------------------------------------------------------------

EXPERIMENT_FILES = sorted(EXPERIMENTS.glob("*.yaml"))


def test_there_are_fourteen_experiments_each_with_a_pytest_wrapper() -> None:
    names = [p.stem for p in EXPERIMENT_FILES]
    # ten on the bundled operator (four of them on Pods only), four on ConfigMirror (mirror-*)
    assert len(names) == 14, names
    wrappers = "\n".join(p.read_text() for p in (REPO_ROOT / "chaos").glob("test_*.py"))
    for name in names:
        assert f'"{name}"' in wrappers, f"no pytest wrapper runs {name}"


@pytest.mark.parametrize("path", EXPERIMENT_FILES, ids=lambda p: p.stem)
def test_experiment_documents_are_valid_and_complete(path: Path) -> None:
    exp = load(path.stem)  # loads and runs chaoslib's validation (imports every Python activity)
    assert exp["configuration"]["replicheck_context"]
    ext = next(e for e in exp["extensions"] if e["name"] == "replicheck")
    assert 1 <= ext["weight"] <= 10
    assert set(ext["runbooks"]) <= set(RUNBOOKS)
    for probe in exp["steady-state-hypothesis"]["probes"]:
        assert probe["tolerance"]["provider"]["func"] == "not_failed"
    assert exp.get("rollbacks"), "every experiment restores what it broke"
    kinds = [a["type"] for a in exp["method"]]
    assert "action" in kinds
    assert "probe" in kinds
    names = [a["name"] for a in exp["method"]]
    assert len(names) == len(set(names)), "probe outcomes are matched by name"
    for activity in exp["method"] + exp["rollbacks"]:
        assert "timeout" not in activity, "chaoslib never enforces an activity timeout: use the function's"
    used = {
        a["provider"]["arguments"].get("runbook")
        for a in exp["method"]
        if a["provider"].get("func") == "run_runbook"
    }
    assert used == set(ext["runbooks"])
    raw = yaml.safe_load(path.read_text())
    assert "secrets" not in raw, "credentials are never written into an experiment document"


# --- runbooks -----------------------------------------------------------------------------------------------


def _seed_text() -> str | None:
    for base in (REPO_ROOT.parent, Path("/work")):
        path = base / SEED
        if path.exists():
            return path.read_text()
    return None


def test_runbook_steps_are_the_seed_steps_as_written() -> None:
    text = _seed_text()
    if text is None:
        pytest.skip(f"seed {SEED} not present next to the repository")
    for rb in RUNBOOKS.values():
        block = text.split(f"**{rb.title}**: {rb.trigger}:", 1)[1].split("\n\n", 1)[0]
        written = [line.split(". ", 1)[1] for line in block.strip().splitlines()]
        assert [s.text for s in rb.steps] == written, rb.title
        assert rb.section in text


def test_every_step_has_a_check_and_every_remedy_exists() -> None:
    for rb in RUNBOOKS.values():
        assert [s.number for s in rb.steps] == list(range(1, len(rb.steps) + 1))
        for step in rb.steps:
            assert step.check in CHECKS
            assert step.kind in {"query", "log-search", "access-review", "alert", "remedy"}
            assert step.remedy is None or step.remedy in REMEDIES
    assert "reflection-auto-enabled" in MISSING_CHECK["auto-disabled"]


def test_a_step_outcome_is_a_word_of_the_one_vocabulary() -> None:
    assert STATUSES == ("ok", "problem", "not-applicable", "cannot-check", "alert", "remedy")
    assert Outcome(CANNOT_CHECK, "the registry did not answer").status == "cannot-check"
    for word in ("pass", "fail", "inconclusive", "OK"):  # the OCI phase's retired words, and a typo
        with pytest.raises(ValueError, match="not one of"):
            Outcome(word, "evidence")


def test_remedy_choice_prefers_the_identifying_steps_implied_fix() -> None:
    assert chosen_remedy("Replication Failure", 4)[0] == "grant-rbac"
    assert chosen_remedy("Replication Failure", None) is None  # no remedy step written
    assert chosen_remedy("Missing Secret", 2)[0] == "manual-copy"  # step 2 implies nothing → step 4
    assert chosen_remedy("Missing Secret", 3)[0] == "add-namespace"
    assert chosen_remedy("Authentication Failure", None)[0] == "rotate-credentials"
    assert chosen_remedy("Pod Not Running", 1) is None  # alert only


def test_log_classification_names_every_cause_in_order() -> None:
    records = [
        {"level": "warning", "msg": "watch failed; retrying with backoff", "error": "connection", "ts": "1"},
        {
            "level": "error",
            "msg": "forbidden: cannot watch secrets at cluster scope (RBAC: grant watch on secrets)",
            "ts": "2",
        },
        {"level": "info", "msg": "reconciled", "ts": "3"},
    ]
    causes, examples = classify_logs(records)
    assert causes == ["apiserver-unavailable", "rbac"]
    assert len(examples) == 2


def test_patterns_from_secrets_are_evaluated_with_a_deadline() -> None:
    verdicts = regex_verdicts(["ns-a", "*", "(a+)+", "late"], "a" * 40 + "c", timeout_s=1.0)
    assert verdicts["ns-a"] == "nomatch"
    assert verdicts["*"].startswith("invalid")
    assert verdicts["(a+)+"] == "timeout"
    assert verdicts["late"] == "not-evaluated"


def test_a_runbook_that_cannot_see_the_cause_is_a_finding(monkeypatch) -> None:
    ctx = type("Ctx", (), {"runbooks": [], "marks": {}})()
    for name in CHECKS:
        monkeypatch.setitem(CHECKS, name, lambda c, s: Outcome("ok", "fine"))
    result = diagnose(
        ctx, "Replication Failure", "auto-enabled missing", "auto-disabled", Subject("s", "n", "t")
    )
    assert result["identifying_step"] is None
    assert "cannot diagnose" in result["finding"]
    assert "reflection-auto-enabled" in result["finding"]
    assert ctx.runbooks == [result]


def test_every_request_of_a_chaos_client_has_a_deadline() -> None:
    from kubernetes import client

    from chaos.context import bound_requests

    seen = []

    api = client.ApiClient(client.Configuration())
    real = api.rest_client

    class Inner:
        def request(self, *args, _request_timeout=None, **kwargs):
            seen.append(_request_timeout)

        def close(self) -> None:
            real.close()

    try:
        api.rest_client = Inner()
        bound_requests(api)
        bound_requests(api)  # idempotent
        api.rest_client.request("GET", "https://127.0.0.1/x")
        api.rest_client.request("GET", "https://127.0.0.1/x", _request_timeout=(1, 2))
    finally:
        api.close()
    assert seen == [(5.0, 30.0), (1, 2)]


def test_a_backtracking_report_is_not_mistaken_for_a_plain_invalid_annotation() -> None:
    msg = (
        "invalid annotation on source; source skipped: annotation reflector.v1.k8s.emberstack.com/"
        "reflection-allowed-namespaces: entry '(a|a)+' takes over 0.05s to match 'aaac' "
        "(catastrophic backtracking)"
    )
    causes, _ = classify_logs([{"level": "error", "msg": msg, "ts": "1"}])
    assert causes == ["pathological-pattern"]
