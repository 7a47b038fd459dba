"""chaostoolkit probes and actions for the OCI end-to-end stack, and the pytest-side runner.

Steady state: every service namespace authenticates (its OCIRepository is Ready=True with the
newest chart, which only a pull accepted by the registry can give). Faults: the registry restarted
during a credential rotation; kustomize-controller SIGKILLed while it applies the rotation. The
journal is judged by chaos.scoring (every run entry, not just chaoslib's status).
"""

from __future__ import annotations

import copy
import json
import secrets
import threading
import time
from pathlib import Path
from typing import Any

import allure
from chaoslib.experiment import ensure_experiment_is_valid, run_experiment
from chaoslib.loader import load_experiment

from chaos.scoring import Score, judged, score, verdict_fields
from fixtures.core.paths import REPO_ROOT
from fixtures.core.record import record
from fixtures.core.waiting import WaitTimeout, eventually
from fixtures.services import flux
from fixtures.services.flux import FLUX_NS
from oci.path import REPO, GitOpsPath

EXPERIMENTS = Path(__file__).resolve().parent / "experiments"
JOURNALS = REPO_ROOT / "reports" / "chaos"
SETTINGS: dict[str, Any] = {"runtime": {"rollbacks": {"strategy": "always"}}}
_LIVE: dict[str, tuple[GitOpsPath, list[str], dict[str, Any]]] = {}


def _ctx(key: str) -> tuple[GitOpsPath, list[str], dict[str, Any]]:
    return _LIVE[key]


# -- probes -------------------------------------------------------------------------------------
def all_authenticate(oci_context: str, timeout_s: float) -> dict[str, Any]:
    """Every service namespace pulled the newest chart (waits up to timeout_s)."""
    path, services, notes = _ctx(oci_context)
    version = f"0.1.{path.chart_version}"
    since = notes.get("fault_at", time.monotonic())
    try:
        seen = path.wait_authenticated(services, version, timeout=float(timeout_s), since=since)
    except WaitTimeout as exc:
        return {"ok": False, "problems": [str(exc).splitlines()[-1]]}
    if not seen:  # no service namespace to pull: nothing was judged
        return judged(True, 0, "no service namespace to authenticate", namespaces=0)
    if "fault_at" in notes:
        notes["recovery_s"] = max(seen.values())
    return judged(True, len(seen), "", namespaces=len(seen), recovery_s=round(max(seen.values()), 3))


def controller_restarted(oci_context: str, name: str, timeout_s: float = 30) -> dict[str, Any]:
    """The supervisor restarted the controller and the new process answers /readyz."""
    path, _, _ = _ctx(oci_context)
    assert path.stack.flux is not None
    replica = path.stack.flux.controller(name).replicas[0]

    def restarted_and_ready() -> int:
        restarts = replica.state().get("restarts", 0)
        assert restarts >= 1, f"{name}: no restart yet"
        try:
            status, _ = replica.get("/readyz")
        except OSError as exc:
            raise AssertionError(f"{name} /readyz: {exc}") from None
        assert status == 200, f"{name} /readyz answered {status}"
        return restarts

    try:
        restarts = eventually(restarted_and_ready, timeout=float(timeout_s), description=f"{name} to restart")
    except WaitTimeout as exc:
        return {"ok": False, "problems": [str(exc).splitlines()[-1]]}
    return {"ok": True, "restarts": restarts}


# -- actions ------------------------------------------------------------------------------------
def _rotate(path: GitOpsPath) -> None:
    password = secrets.token_urlsafe(18)
    path.registry.set_password(password)
    path.push_chart()
    path.write_credentials(password)


def rotate_with_registry_restart(oci_context: str) -> dict[str, Any]:
    """Rotate the credentials, commit, and restart the registry while Flux carries the change."""
    path, _, notes = _ctx(oci_context)
    _rotate(path)
    path.commit("rotate OCI credentials (chaos: registry restart)")
    notes["fault_at"] = time.monotonic()
    downtime = path.registry.restart()
    return {"ok": True, "registry_downtime_s": round(downtime, 3)}


def rotate_and_kill_kustomize_controller(oci_context: str, timeout_s: float = 30) -> dict[str, Any]:
    """Rotate and commit, then SIGKILL kustomize-controller as soon as source-controller has the new
    revision (kustomize-controller is then fetching or applying it)."""
    path, _, notes = _ctx(oci_context)
    assert path.stack.flux is not None
    assert path.stack.git is not None
    _rotate(path)
    sha = path.commit("rotate OCI credentials (chaos: kustomize-controller killed)")
    notes["fault_at"] = time.monotonic()
    deadline = time.monotonic() + float(timeout_s)
    while time.monotonic() < deadline:
        repo = flux.get(path.cluster, "GitRepository", FLUX_NS, REPO) or {}
        revision = ((repo.get("status") or {}).get("artifact") or {}).get("revision", "")
        if revision.endswith(sha):
            break
        time.sleep(0.05)  # polling the API for the moment the new artifact appears
    else:
        return {"ok": False, "problems": [f"source-controller never fetched {sha[:12]}"]}
    killed = path.stack.flux.controller("kustomize-controller").replicas[0].kill()
    return {"ok": True, "killed_pid": killed}


# -- runner -------------------------------------------------------------------------------------
def run(path: GitOpsPath, services: list[str], name: str, weight: int = 6) -> tuple[Score, dict[str, Any]]:
    if threading.current_thread() is not threading.main_thread():
        raise RuntimeError("chaoslib installs signal handlers: run experiments on the main thread")
    exp = load_experiment(str(EXPERIMENTS / f"{name}.yaml"), settings={})
    ensure_experiment_is_valid(exp)
    key = secrets.token_hex(4)
    notes: dict[str, Any] = {}
    _LIVE[key] = (path, services, notes)
    try:
        journal = run_experiment(
            copy.deepcopy(exp), settings=copy.deepcopy(SETTINGS), experiment_vars=({"oci_context": key}, {})
        )
    finally:
        _LIVE.pop(key, None)
    JOURNALS.mkdir(parents=True, exist_ok=True)
    text = json.dumps(journal, indent=2, default=str)
    (JOURNALS / f"{name}.json").write_text(text)
    allure.attach(text, name=f"chaostoolkit journal: {name}", attachment_type=allure.attachment_type.JSON)
    result = score(journal, name, weight)
    record(
        "chaos",
        experiment=name,
        provider=path.cluster.provider.name,
        **verdict_fields(result),
        recovery_s=round(notes["recovery_s"], 3) if "recovery_s" in notes else None,
        resilience=result.resilience,
        weight=result.weight,
        probes_passed=result.probes_passed,
        probes_total=result.probes_total,
        probes_skipped=result.probes_skipped,
        problems=result.problems[:20],
        journal=str((JOURNALS / f"{name}.json").relative_to(REPO_ROOT)),
    )
    return result, notes
