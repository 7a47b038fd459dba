"""The chaos side of the system profiles (fixtures/systems/model.py ``ChaosProfile``), on plain data.

Why: the system-neutral chaos experiments deploy and fault each selected system through its
profile (names of its ServiceAccount and RBAC, its Lease, its flags per experiment, what does not
apply to it). A name that does not match the system's deploy manifest would revoke nothing, or
count nobody's requests; an n/a without a reason would be a silent skip.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from chaos.context import BUNDLED_NAMES, ChaosContext
from chaos.journal import EXPERIMENTS
from chaos.probes import PROBE_KEYS
from chaos.scoring import not_failed, probe_state
from fixtures.systems import ChaosProfile, registered, system

NEUTRAL = (
    "kill-operator",
    "namespace-churn",
    "poison-source",
    "rbac-revoked",
    "leader-failover",
    "container-kill",
    "liveness-failure",
    "oom-kill",
    "node-loss",
)
CHAOS_TESTS = Path(__file__).resolve().parents[3] / "chaos"


def _manifest_names(path: Path) -> dict[str, set[str]]:
    names: dict[str, set[str]] = {}
    for doc in yaml.safe_load_all(path.read_text()):
        if doc:
            names.setdefault(doc["kind"], set()).add(doc["metadata"]["name"])
    return names


def test_the_bundled_profile_names_what_the_chaos_context_always_named() -> None:
    chaos = system("bundled").chaos
    assert chaos is not None
    got = (chaos.namespace, chaos.service_account, chaos.rbac, chaos.lease)
    assert got == (
        BUNDLED_NAMES.namespace,
        BUNDLED_NAMES.service_account,
        BUNDLED_NAMES.rbac,
        BUNDLED_NAMES.lease,
    )
    assert chaos.user == "system:serviceaccount:replicheck-system:replicheck-replicator"


def test_the_bundled_profile_keeps_the_flags_each_experiment_used() -> None:
    chaos = system("bundled").chaos
    assert chaos is not None
    assert chaos.args_for("kill-operator") == ["--write-concurrency=1"]
    assert chaos.args_for("rbac-revoked") == [
        "--watch-timeout-seconds=10",
        "--ready-down-threshold-seconds=5",
    ]
    assert chaos.args_for("leader-failover") == [
        "--lease-duration-seconds=6",
        "--renew-deadline-seconds=4",
        "--retry-period-seconds=1",
    ]
    assert chaos.args_for("namespace-churn") == []
    for experiment in NEUTRAL:
        assert chaos.refusal(experiment, replicas=2, provider="local") is None


def test_kubernetes_replicator_chaos_names_are_those_of_its_manifest() -> None:
    profile = system("kubernetes-replicator")
    chaos = profile.chaos
    assert chaos is not None
    assert profile.packaging is not None
    names = _manifest_names(profile.packaging.manifest)
    assert chaos.namespace in names["Namespace"]
    assert chaos.service_account in names["ServiceAccount"]
    assert chaos.rbac in names["ClusterRole"]
    assert chaos.rbac in names["ClusterRoleBinding"]
    assert chaos.lease is None


def test_kubernetes_replicator_leader_failover_and_kind_are_documented_n_a() -> None:
    chaos = system("kubernetes-replicator").chaos
    assert chaos is not None
    assert "leader election" in (chaos.refusal("leader-failover", replicas=2, provider="local") or "")
    assert "kind" in (chaos.refusal("kill-operator", replicas=1, provider="kind") or "")
    for experiment in ("kill-operator", "namespace-churn", "poison-source", "rbac-revoked"):
        assert chaos.refusal(experiment, replicas=1, provider="local") is None


def test_more_replicas_than_the_profile_runs_is_n_a_with_the_reason() -> None:
    chaos = ChaosProfile("ns", "sa", "rbac")
    assert chaos.refusal("anything", replicas=2, provider="local") == (
        "needs 2 replicas; it runs at most 1 (no leader election)"
    )


@pytest.mark.parametrize("name", registered())
def test_every_key_a_profile_names_is_an_experiment_or_a_probe_key(name: str) -> None:
    chaos = system(name).chaos
    if chaos is None:
        return
    experiments = {p.stem for p in EXPERIMENTS.glob("*.yaml")}
    for key in chaos.args:
        assert key in experiments, key
    for key in chaos.not_applicable:
        assert key in experiments or key in PROBE_KEYS or key.startswith("provider:"), key
        assert chaos.not_applicable[key].strip(), f"{key}: n/a without a reason"


def test_an_n_a_probe_says_n_a_with_its_reason() -> None:
    ctx = ChaosContext(cluster=None, operator=None, run_dir=Path("."), system=system("kubernetes-replicator"))  # type: ignore[arg-type]
    out = ctx.not_applicable("logs")
    assert out is not None
    assert probe_state(out) == "n/a"
    assert out["ok"] is not True, "an n/a probe is never read as passed"
    assert not_failed(out), "the steady state carries on past an n/a probe"
    assert out["why"].startswith("n/a for kubernetes-replicator: ")
    assert ctx.operator_user() == "system:serviceaccount:kubernetes-replicator:kubernetes-replicator"
    bundled = ChaosContext(cluster=None, operator=None, run_dir=Path("."), system=system("bundled"))  # type: ignore[arg-type]
    assert bundled.not_applicable("logs") is None


def test_the_neutral_experiments_are_marked_and_the_others_are_not() -> None:
    marked = {p.name for p in CHAOS_TESTS.glob("test_*.py") if "neutral_chaos(" in p.read_text()}
    assert marked == {f"test_{e.replace('-', '_')}.py" for e in NEUTRAL}
