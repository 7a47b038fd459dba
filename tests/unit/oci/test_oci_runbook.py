"""The OCI stack's "Authentication Failure" runbook without a cluster: the catalogue's steps carried
out by the OCI checks through the runbook engine, against a fake API and a fake registry, so each
fault's step and the one outcome vocabulary are held here and not only in the slow real-stack test
(oci/test_runbook_auth_failure.py)."""

from __future__ import annotations

import base64
import json
import urllib.error
from types import SimpleNamespace
from typing import Any

import pytest
from kubernetes.client.rest import ApiException

from chaos.runbooks.base import CANNOT_CHECK, OK, PROBLEM, REMEDY, STATUSES
from chaos.runbooks.catalogue import RUNBOOKS
from chaos.runbooks.checks import OCI_CHECKS
from oci import runbook

HOST = "127.0.0.1:5000"
ROTATED = "rotated-password"
PASSWORD = "the-registry-password"  # noqa: S105 (a fake registry's)


class FakeRegistry:
    host = HOST

    def __init__(self) -> None:
        self.password = PASSWORD
        self.up = True

    def login_status(self, username: str, password: str, timeout: float = 5.0) -> int:
        if not self.up:
            raise urllib.error.URLError(ConnectionRefusedError(111, "Connection refused"))
        return 200 if (username, password) == ("bot", self.password) else 401


class FakeCore:
    def __init__(self) -> None:
        self.secrets: dict[tuple[str, str], Any] = {}

    def put(self, ns: str, config: dict[str, Any], type_: str = "kubernetes.io/dockerconfigjson") -> None:
        raw = base64.b64encode(json.dumps(config).encode()).decode()
        self.secrets[(ns, "oci-creds")] = SimpleNamespace(type=type_, data={".dockerconfigjson": raw})

    def read_namespaced_secret(self, name: str, ns: str, **_: Any) -> Any:
        if (ns, name) not in self.secrets:
            raise ApiException(status=404, reason="Not Found")
        return self.secrets[(ns, name)]


def _good(password: str = PASSWORD) -> dict[str, Any]:
    return {"auths": {HOST: {"username": "bot", "password": password}}}


def _stack() -> tuple[FakeCore, FakeRegistry]:
    core, registry = FakeCore(), FakeRegistry()
    core.put("svc", _good())
    return core, registry


def test_every_authentication_failure_step_has_an_oci_check_and_no_other() -> None:
    steps = RUNBOOKS[runbook.TITLE].steps
    assert {s.check for s in steps} == set(OCI_CHECKS)


def test_a_healthy_namespace_passes_every_step_in_the_one_vocabulary() -> None:
    core, registry = _stack()
    diagnosis = runbook.run(core, "svc", registry)  # type: ignore[arg-type]
    assert [s["status"] for s in diagnosis.steps] == [OK, OK, OK, OK, REMEDY], diagnosis.summary()
    assert [s["text"] for s in diagnosis.steps] == [s.text for s in RUNBOOKS[runbook.TITLE].steps]
    assert diagnosis.first_problem_step is None


@pytest.mark.parametrize(
    ("fault", "cause", "step"),
    [
        ("secret missing", "missing-copy", 1),
        ("not a docker config", "corrupt-copy", 2),
        ("malformed dockerconfigjson", "corrupt-copy", 2),
        ("wrong password", "credentials-rejected", 3),
        ("registry stopped", "registry-unreachable", 4),
    ],
)
def test_each_fault_is_identified_by_its_step(fault: str, cause: str, step: int) -> None:
    core, registry = _stack()
    if fault == "secret missing":
        core.secrets.clear()
    elif fault == "not a docker config":
        core.put("svc", _good(), type_="Opaque")
    elif fault == "malformed dockerconfigjson":
        core.put("svc", {"auths": {HOST: {"auth": "not base64!"}}})
    elif fault == "wrong password":
        registry.password = ROTATED
    else:
        registry.up = False
    diagnosis = runbook.run(core, "svc", registry)  # type: ignore[arg-type]
    assert diagnosis.first_problem_step == step, diagnosis.summary()
    assert diagnosis.identifying_step(cause) == step, diagnosis.summary()
    assert all(s["status"] in STATUSES for s in diagnosis.steps)
    assert diagnosis.status(step) == PROBLEM
    assert PASSWORD not in diagnosis.summary()
    assert ROTATED not in diagnosis.summary()
    if fault == "secret missing":
        assert diagnosis.status(2) == CANNOT_CHECK
        assert diagnosis.status(3) == CANNOT_CHECK
    if fault == "registry stopped":
        assert diagnosis.status(3) == CANNOT_CHECK, "a login cannot be judged without an answer"


def test_a_check_that_raises_cannot_check_and_the_others_still_run() -> None:
    core, registry = _stack()

    def broken(*_: Any, **__: Any) -> Any:
        raise ApiException(status=500, reason="Internal Server Error")

    core.read_namespaced_secret = broken  # type: ignore[method-assign]
    diagnosis = runbook.run(core, "svc", registry)  # type: ignore[arg-type]
    assert [s["status"] for s in diagnosis.steps] == [CANNOT_CHECK] * 3 + [OK, REMEDY], diagnosis.summary()


def _step(number: int, status: str, *causes: str) -> dict[str, Any]:
    return {
        "step": number,
        "text": f"step {number}",
        "status": status,
        "causes": list(causes),
        "evidence": "e",
    }


def test_a_finding_names_the_identifying_step_and_the_step_that_noticed_the_fault_first() -> None:
    """The ``runbook`` record the report's runbook findings show for a fault of the HelmRelease phase:
    a crash loop from a bad flag is noticed by step 1 (CrashLoopBackOff) and named by step 2 (the
    program's usage error)."""
    steps = (
        _step(1, PROBLEM, "crash-loop"),
        _step(2, PROBLEM, "bad-flag"),
        _step(3, PROBLEM, "release-not-ready"),
        _step(4, "alert", "crash-loop"),
    )
    diagnosis = runbook.Diagnosis("ops/replicator", steps)
    rec = runbook.finding(
        runbook.POD_NOT_RUNNING,
        "crash loop",
        "bad-flag",
        diagnosis,
        remedy="the release's values reverted",
        restores=True,
        notes=["Flux: HelmRelease ops/replicator Ready=True"],
    )
    assert rec["experiment"] == runbook.EXPERIMENT
    assert (rec["identifying_step"], rec["remedy_restores"], rec["cause"]) == (2, True, "bad-flag")
    assert rec["finding"] == (
        "steps: 1 problem (crash-loop), 2 problem (bad-flag), 3 problem (release-not-ready), 4 alert "
        "(crash-loop); step 1 noticed it first, step 2 names the cause; "
        "Flux: HelmRelease ops/replicator Ready=True"
    )
    assert rec["steps"] == [dict(s) for s in steps]


def test_a_finding_says_when_no_step_points_at_the_cause() -> None:
    diagnosis = runbook.Diagnosis("ops/replicator", (_step(1, OK), _step(2, CANNOT_CHECK)))
    rec = runbook.finding(
        runbook.POD_NOT_RUNNING,
        "chart gone",
        "chart-version-missing",
        diagnosis,
        remedy="",
        restores=False,
        notes=[],
    )
    assert rec["identifying_step"] is None
    assert rec["finding"].startswith("'Pod Not Running' cannot diagnose chart gone: no step points at")
