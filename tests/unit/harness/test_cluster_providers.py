"""Unit tests of the cluster provider factory and each provider's pure parts (fixtures/clusters/providers.py).

No cluster is started: descriptions, handles, offers and the kind command plan are plain data, and the
kind binary is replaced by a recorder where a test follows its plan (kind cannot run on a machine
without a Docker engine; the plan is what this suite can check).
"""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import asdict
from pathlib import Path

import pytest

from fixtures.clusters import kind
from fixtures.clusters import providers as cp
from fixtures.clusters.local import LocalControlPlane
from fixtures.clusters.procs import RunState
from fixtures.core.errors import SetupError
from fixtures.core.paths import REPO_ROOT, runs_dir


@pytest.fixture(autouse=True)
def _private_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REPLICHECK_CACHE", str(tmp_path))


def _kind_usable(monkeypatch: pytest.MonkeyPatch, reason: str | None) -> None:
    monkeypatch.setattr(cp, "kind_unusable_reason", lambda: reason)


def _choose(option: str, kubeconfig: str | None, context: str | None, allow: str | None) -> cp.ProviderChoice:
    """The factory's choice with no audited namespace (what the audit policy records is tested below)."""
    return cp.choose_provider(option, kubeconfig, context, allow, audited_namespaces=())


def _handle_fields(cluster: object) -> dict[str, object]:
    names = ("kubeconfig", "run_id", "context", "pgid", "audit_log", "run_dir")
    return {n: getattr(cluster, n) for n in names} | {"provider": cluster.provider.name}  # type: ignore[attr-defined]


# --- the factory ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("option", "cls", "runs_pods", "owned", "hosts_processes"),
    [
        ("local", cp.LocalProvider, False, True, True),
        ("kind", cp.KindProvider, True, True, False),
        ("existing", cp.ExistingProvider, True, False, False),
    ],
)
def test_one_factory_hands_out_each_provider_with_its_capabilities(
    monkeypatch: pytest.MonkeyPatch,
    option: str,
    cls: type,
    runs_pods: bool,
    owned: bool,
    hosts_processes: bool,
) -> None:
    _kind_usable(monkeypatch, None)
    provider = cp.provider_for(_choose(option, "kc", "ctx", "ctx"), "rc000001", 42)
    assert type(provider) is cls
    assert (provider.name, provider.run_id) == (option, "rc000001")
    assert (provider.runs_pods, provider.owned, provider.hosts_processes) == (
        runs_pods,
        owned,
        hosts_processes,
    )


def test_an_unusable_choice_gives_no_provider_and_says_why(monkeypatch: pytest.MonkeyPatch) -> None:
    _kind_usable(monkeypatch, "no Docker engine answers `docker info`")
    with pytest.raises(SetupError, match="no Docker engine answers"):
        cp.provider_for(_choose("kind", None, None, None), "rc000001", 42)


def test_a_description_of_no_known_provider_is_refused_with_the_fix() -> None:
    with pytest.raises(SetupError, match=r"provider 'nope'.*remove the stale record"):
        cp.attached({"provider": "nope", "run_id": "rc000001"})


# --- describe, serialise, attach: one round trip per provider ------------------------------------


def test_a_started_local_plane_is_rebuilt_from_its_description_in_another_process() -> None:
    """A worker rebuilds the plane from the JSON the first worker wrote and gets the same handle,
    through LocalControlPlane.cluster() (no handle re-derived from flattened strings)."""
    plane = LocalControlPlane(run_id="rc00000l", owner_pid=4242)
    plane.guardian = subprocess.Popen(["true"])  # stands for the started plane's group leader
    plane.guardian.wait()
    started = cp.LocalProvider(plane)
    text = json.dumps(started.describe())
    assert json.loads(text) == {
        "provider": "local",
        "run_id": "rc00000l",
        "owner_pid": 4242,
        "pgid": plane.pgid,
        "nodes": 0,
        "run_as": "processes",
    }
    again = cp.attached(json.loads(text))
    assert isinstance(again, cp.LocalProvider)
    assert again.describe() == started.describe()
    assert (
        _handle_fields(again.cluster())
        == _handle_fields(started.cluster())
        == {
            "provider": "local",
            "kubeconfig": runs_dir() / "rc00000l" / "admin.kubeconfig",
            "run_id": "rc00000l",
            "context": None,
            "pgid": plane.guardian.pid,
            "audit_log": runs_dir() / "rc00000l" / "logs" / "audit.log",
            "run_dir": runs_dir() / "rc00000l",
        }
    )
    assert again.processes() == []  # an attached plane holds no process handles
    assert started.processes() == [plane.guardian]


def test_a_kind_cluster_is_rebuilt_from_its_description() -> None:
    provider = cp.KindProvider("rc00000k", 4242)
    again = cp.attached(json.loads(json.dumps(provider.describe())))
    assert again == provider
    assert _handle_fields(again.cluster()) == {
        "provider": "kind",
        "kubeconfig": runs_dir() / "rc00000k" / "kubeconfig",
        "run_id": "rc00000k",
        "context": "kind-replicheck-rc00000k",
        "pgid": None,
        "audit_log": None,
        "run_dir": runs_dir() / "rc00000k",
    }
    assert again.kubernetes_version() == kind.NODE_IMAGE.rsplit(":", 1)[-1]


def test_an_existing_cluster_is_rebuilt_from_its_description_without_the_opt_in() -> None:
    provider = cp.ExistingProvider("rc00000e", "/home/me/.kube/config", "staging", "staging", "v1.31.2")
    description = json.loads(json.dumps(provider.describe()))
    assert "allow_destructive_on" not in description  # checked once, at start
    again = cp.attached(description)
    assert (again.describe(), again.kubernetes_version()) == (provider.describe(), "v1.31.2")
    assert _handle_fields(again.cluster()) == {
        "provider": "existing",
        "kubeconfig": Path("/home/me/.kube/config"),
        "run_id": "rc00000e",
        "context": "staging",
        "pgid": None,
        "audit_log": None,
        "run_dir": None,
    }


def test_the_session_record_carries_the_description_and_rebuilds_the_handle_through_the_provider() -> None:
    from fixtures.clusters.session import SessionRecord

    provider = cp.KindProvider("rc00000s", 4242)
    record = SessionRecord(provider.name, provider.run_id, provider.describe(), notes=["n"])
    read = SessionRecord(**json.loads(json.dumps(asdict(record))))
    assert read == record
    assert read.attached() == provider
    assert _handle_fields(read.cluster()) == _handle_fields(provider.cluster())


# --- the kind provider's plan, followed with a recorder in place of the kind binary ----------------


def test_kind_start_runs_its_plan_from_the_repository_with_run_state_first(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _kind_usable(monkeypatch, None)
    provider = cp.KindProvider("rc00000p", 4242)
    seen: list[tuple[list[list[str]], Path, bool]] = []

    def fake_run_plan(commands: list[list[str]], cwd: Path, log: Path) -> None:
        seen.append((commands, cwd, RunState.load(provider.run_dir) is not None))

    monkeypatch.setattr(cp, "run_plan", fake_run_plan)
    cluster = provider.start()
    config = provider.run_dir / "kind.yaml"
    assert seen == [(provider.plan.create_commands(config), REPO_ROOT, True)]  # state saved before kind runs
    assert config.read_text() == provider.plan.config_yaml()
    state = RunState.load(provider.run_dir)
    assert state is not None
    assert (state.owner_pid, state.info) == (4242, {"kind": "replicheck-rc00000p"})
    assert cluster.context == "kind-replicheck-rc00000p"
    assert provider.running()


def test_kind_stop_deletes_the_cluster_its_state_names_and_the_run_files(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _kind_usable(monkeypatch, None)
    monkeypatch.setattr(cp, "run_plan", lambda *a: None)
    ran: list[list[str]] = []
    monkeypatch.setattr(kind.subprocess, "run", lambda cmd, **kw: ran.append(cmd))
    provider = cp.KindProvider("rc00000d", 4242)
    provider.start()
    cp.attached(provider.describe()).stop()  # the controller stops what a worker started
    assert ran == provider.plan.delete_commands()
    assert not provider.run_dir.exists()
    assert not provider.running()


def test_a_failed_kind_start_leaves_no_cluster_and_no_files(monkeypatch: pytest.MonkeyPatch) -> None:
    _kind_usable(monkeypatch, None)
    ran: list[list[str]] = []
    monkeypatch.setattr(kind.subprocess, "run", lambda cmd, **kw: ran.append(cmd))

    def failing_plan(commands: list[list[str]], cwd: Path, log: Path) -> None:
        raise SetupError("`docker build -t` failed; see kind.log")

    monkeypatch.setattr(cp, "run_plan", failing_plan)
    provider = cp.KindProvider("rc00000f", 4242)
    with pytest.raises(SetupError, match="docker build"):
        provider.start()
    assert ran == provider.plan.delete_commands()
    assert not provider.run_dir.exists()


def test_kind_start_where_kind_cannot_run_creates_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    _kind_usable(monkeypatch, "docker is not on PATH (kind needs a container engine)")
    provider = cp.KindProvider("rc00000u", 4242)
    with pytest.raises(SetupError, match="docker is not on PATH"):
        provider.start()
    assert not provider.run_dir.exists()


# --- reaping what killed runs left ---------------------------------------------------------------


def _killed_kind_run(run_id: str) -> Path:
    run_dir = runs_dir() / run_id
    run_dir.mkdir(parents=True)
    RunState(run_id, str(run_dir), str(run_dir), 2**22 + 7, info={"kind": f"replicheck-{run_id}"}).save()
    return run_dir


@pytest.mark.parametrize("option", cp.OWNED)
def test_owned_providers_reap_a_killed_runs_kind_cluster(
    monkeypatch: pytest.MonkeyPatch, option: str
) -> None:
    _kind_usable(monkeypatch, None)
    provider = cp.provider_for(_choose(option, None, None, None), "rc000001", os.getpid())
    ran: list[list[str]] = []
    monkeypatch.setattr(kind.subprocess, "run", lambda cmd, **kw: ran.append(cmd))
    stale = _killed_kind_run("rc0000zz")
    assert provider.reap_stale() == ["removed stale cluster rc0000zz left by a killed run"]
    assert ran == kind.KindPlan("replicheck-rc0000zz", stale / "kubeconfig").delete_commands()
    assert not stale.exists()


def test_the_existing_provider_reaps_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    ran: list[list[str]] = []
    monkeypatch.setattr(kind.subprocess, "run", lambda cmd, **kw: ran.append(cmd))
    stale = _killed_kind_run("rc0000zy")
    assert cp.ExistingProvider("rc000001", "kc", "ctx").reap_stale() == []
    assert (ran, stale.exists()) == ([], True)


def test_a_local_provider_that_never_started_stops_nothing() -> None:
    """A start refused because the run directory exists must not remove that other run."""
    other = runs_dir() / "rc00000o"
    other.mkdir(parents=True)
    RunState("rc00000o", str(other), str(other), os.getpid()).save()
    cp.LocalProvider.new("rc00000o", os.getpid()).stop()
    assert RunState.load(other) is not None


# --- private clusters: one place says when there is none -------------------------------------------


def test_private_clusters_follow_the_session_choice(monkeypatch: pytest.MonkeyPatch) -> None:
    _kind_usable(monkeypatch, None)
    local, kind_choice = (
        _choose("local", None, None, None),
        _choose("kind", None, None, None),
    )
    assert isinstance(cp.private_plane(local, "rc000001", 1).provider, cp.LocalProvider)
    # restarting control-plane processes needs a local plane, also when the session runs on kind
    assert isinstance(cp.private_plane(kind_choice, "rc000001", 1).provider, cp.LocalProvider)
    assert isinstance(cp.private_cluster(local, "kind", "rc000001", 1).provider, cp.KindProvider)
    assert isinstance(cp.private_cluster(kind_choice, "local", "rc000001", 1).provider, cp.LocalProvider)
    with pytest.raises(SetupError, match="no private 'existing' cluster"):
        cp.private_cluster(local, "existing", "rc000001", 1)


def test_no_private_cluster_beside_an_existing_one_and_the_reason_names_the_fix(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _kind_usable(monkeypatch, None)
    existing = _choose("existing", "kc", "ctx", "ctx")
    offers = [cp.private_plane(existing, "rc000001", 1)] + [
        cp.private_cluster(existing, variant, "rc000001", 1) for variant in cp.OWNED
    ]
    assert {o.provider for o in offers} == {None}
    assert {o.unusable for o in offers} == {cp._NO_PRIVATE_ON_EXISTING}
    assert "--cluster=local" in cp._NO_PRIVATE_ON_EXISTING


def test_a_kind_variant_where_kind_cannot_run_is_offered_with_the_reason(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _kind_usable(monkeypatch, "kind is not on PATH")
    offer = cp.private_cluster(_choose("local", None, None, None), "kind", "rc000001", 1)
    assert (offer.provider, offer.unusable) == (None, "kind variant: kind is not on PATH")


# --- the audited namespaces: given by the caller, carried by the choice to every local plane -------


def test_the_choice_carries_the_audited_namespaces_to_session_and_private_planes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The clusters layer knows no system: the caller of choose_provider names the namespaces, and
    every local plane the choice leads to (the session's, a private plane, a chaos experiment's local
    variant) audits exactly those, also after the xdist hand-off (the choice as plain data)."""
    _kind_usable(monkeypatch, None)
    namespaces = ["team-b", "team-a", "team-b"]
    for option in ("local", "kind", "auto"):
        choice = cp.choose_provider(option, None, None, None, audited_namespaces=namespaces)
        assert choice.audited_namespaces == ("team-a", "team-b")
        worker = cp.ProviderChoice(**json.loads(json.dumps(choice.__dict__)))  # pytest_configure_node
        assert worker == choice
        planes = [
            cp.private_plane(worker, "rc000001", 1).provider,
            cp.private_cluster(worker, "local", "rc000001", 1).provider,
        ]
        if worker.provider == "local":
            planes.append(cp.provider_for(worker, "rc000001", 1))
        for provider in planes:
            assert isinstance(provider, cp.LocalProvider)
            assert provider.plane.audited_namespaces == ("team-a", "team-b"), option


def test_a_local_plane_writes_the_audit_policy_of_the_namespaces_it_was_given(tmp_path: Path) -> None:
    from fixtures.clusters.local import audit_policy
    from fixtures.clusters.pki import create_pki

    choice = cp.choose_provider("local", None, None, None, audited_namespaces=["team-a"])
    provider = cp.provider_for(choice, "rc00000a", 1)
    assert isinstance(provider, cp.LocalProvider)
    plane = provider.plane
    plane.run_dir.mkdir(parents=True)
    plane.ports = {"apiserver": 6443}
    plane._write_configs(create_pki(tmp_path / "pki").directory)
    assert (plane.run_dir / "audit-policy.yaml").read_text() == audit_policy(["team-a"])
    assert "system:serviceaccounts:team-a" in audit_policy(["team-a"])


# --- callers ask capabilities, not names -----------------------------------------------------------


def test_deploying_asks_the_cluster_what_it_can_do(tmp_path: Path) -> None:
    """The refusals happen before anything touches a cluster, so plain handles answer them."""
    from fixtures.systems import system

    existing = cp.ExistingProvider("rc000001", str(tmp_path / "kc"), "ctx").cluster()
    local = cp.LocalProvider(LocalControlPlane.attach("rc000001", 1, 2)).cluster()
    on_kind = cp.KindProvider("rc000001", 1).cluster()
    with pytest.raises(SetupError, match="does not install into clusters it does not own"):
        system("bundled").deploy(existing, tmp_path)
    with pytest.raises(SetupError, match="runs only from its container image"):
        system("reflector").deploy(local, tmp_path)
    for cluster in (on_kind, existing):
        with pytest.raises(SetupError, match="only on the local provider"):
            system("configmirror").deploy(cluster, tmp_path)


def test_replicheck_cluster_finds_and_stops_its_cluster_through_the_provider(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """`up` keeps the provider's description; `deploy` refuses a KUBECONFIG naming another cluster;
    `down` stops through the provider (for kind: its delete command, then the run's files)."""
    from replicheck import cluster_cli as cli

    ran: list[list[str]] = []
    monkeypatch.setattr(kind.subprocess, "run", lambda cmd, **kw: ran.append(cmd))
    provider = cp.KindProvider("rc00000i", None)
    provider.run_dir.mkdir(parents=True)
    RunState(
        provider.run_id, str(provider.run_dir), str(provider.run_dir), None, info={"kind": provider.plan.name}
    ).save()
    (runs_dir() / cli.INTERACTIVE).write_text(json.dumps(provider.describe()))
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "elsewhere"))
    with pytest.raises(SetupError, match="not the cluster from `make cluster-up`"):
        cli._interactive_cluster()
    monkeypatch.setenv("KUBECONFIG", str(provider.plan.kubeconfig))
    assert cli._interactive_cluster().context == "kind-replicheck-rc00000i"
    assert cli.down() == 0
    assert ran == provider.plan.delete_commands()
    assert not provider.run_dir.exists()
    assert not (runs_dir() / cli.INTERACTIVE).exists()
