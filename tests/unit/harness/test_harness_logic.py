"""Pure logic of the harness: provider choice, kind plan, opt-in, names, waiting, errors."""

from __future__ import annotations

import json
import os
import signal
import socket
import stat
import subprocess
import time
from pathlib import Path

import pytest
import yaml

from fixtures.clusters.cluster import dns_label, new_run_id
from fixtures.clusters.existing import resolve_existing
from fixtures.clusters.kind import KindPlan
from fixtures.clusters.pki import create_pki
from fixtures.clusters.ports import ensure_port_free, ephemeral_range, free_port, listen_ranges
from fixtures.core.encoding import b64
from fixtures.core.errors import SetupError
from fixtures.core.lookup import view
from fixtures.core.paths import REPO_ROOT
from fixtures.core.waiting import WaitTimeout, assert_mapping_equal, eventually, report_within


def test_run_ids_are_short_and_dns_safe() -> None:
    rid = new_run_id()
    assert len(rid) == 8
    assert rid == dns_label(rid)
    assert new_run_id("abcdef0123") == "rcabcdef"


@pytest.mark.parametrize(
    ("text", "expected"),
    [("test_foo[param-1]", "test-foo-param-1"), ("--A__B--", "a-b"), ("", "x"), ("a" * 80, "a" * 63)],
)
def test_dns_label(text: str, expected: str) -> None:
    assert dns_label(text) == expected


def test_kind_plan_creates_loads_and_deletes_the_named_cluster(tmp_path: Path) -> None:
    plan = KindPlan(name="replicheck-rc123456", kubeconfig=tmp_path / "kubeconfig")
    config = yaml.safe_load(plan.config_yaml())
    assert config["kind"] == "Cluster"
    assert [n["role"] for n in config["nodes"]] == ["control-plane"]
    create, build, load = plan.create_commands(tmp_path / "kind.yaml")
    assert create[:3] == ["kind", "create", "cluster"]
    assert create[create.index("--name") + 1] == "replicheck-rc123456"
    assert create[create.index("--kubeconfig") + 1] == str(tmp_path / "kubeconfig")
    assert build[:2] == ["docker", "build"]
    assert plan.operator_image in build
    assert not plan.operator_image.endswith(":latest"), "kind would pull :latest images"
    assert load == ["kind", "load", "docker-image", "--name", "replicheck-rc123456", plan.operator_image]
    assert plan.delete_commands()[0][:4] == ["kind", "delete", "cluster", "--name"]


def _kubeconfig(tmp_path: Path, contexts: list[str], current: str) -> Path:
    path = tmp_path / "config"
    path.write_text(
        yaml.safe_dump(
            {
                "contexts": [{"name": c, "context": {"cluster": c, "user": c}} for c in contexts],
                "current-context": current,
            }
        )
    )
    return path


def test_existing_cluster_requires_explicit_opt_in(tmp_path: Path) -> None:
    cfg = _kubeconfig(tmp_path, ["prod", "scratch"], "prod")
    with pytest.raises(SetupError, match="--allow-destructive-on prod"):
        resolve_existing(str(cfg), None, None)
    with pytest.raises(SetupError, match="--allow-destructive-on scratch"):
        resolve_existing(str(cfg), "scratch", "prod")  # opting in for another context does not count
    assert resolve_existing(str(cfg), "scratch", "scratch") == (cfg, "scratch")


def test_existing_cluster_errors_are_one_line(tmp_path: Path) -> None:
    with pytest.raises(SetupError) as missing:
        resolve_existing(None, None, None)
    with pytest.raises(SetupError) as unknown:
        resolve_existing(str(_kubeconfig(tmp_path, ["a"], "a")), "b", "b")
    for exc in (missing.value, unknown.value):
        assert "\n" not in str(exc)


def test_port_in_use_is_reported_with_the_fix() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        with pytest.raises(SetupError, match=f"port {port} for etcd is in use"):
            ensure_port_free(port, "etcd")


def test_listen_ports_stay_out_of_the_kernels_ephemeral_range() -> None:
    """Outgoing connections take ephemeral ports; a listener chosen there can be taken before it listens."""
    assert ephemeral_range("32768\t60999\n") == (32768, 60999)
    assert listen_ranges((32768, 60999)) == [(10000, 32767), (61000, 65535)]
    assert listen_ranges((1024, 65535)) == []  # no room: free_port falls back to the kernel's choice
    low, high = ephemeral_range()
    ports = [free_port() for _ in range(50)]
    assert len(set(ports)) == len(ports), "a port was handed out twice"
    assert not [p for p in ports if low <= p <= high]
    for port in ports:
        ensure_port_free(port, "a listener")


def test_eventually_reports_the_last_mismatch() -> None:
    calls = iter(range(1000))

    def check() -> None:
        raise AssertionError(f"attempt {next(calls)}")

    with pytest.raises(WaitTimeout) as exc:
        eventually(check, timeout=0.3, interval=0.05, description="the impossible")
    text = str(exc.value)
    assert "waiting for the impossible" in text
    last = int(text.rsplit("attempt ", 1)[1])
    assert last >= 2


def test_eventually_returns_once_the_check_passes() -> None:
    seen = []

    def check() -> str:
        seen.append(1)
        assert len(seen) >= 3, "not yet"
        return "done"

    assert eventually(check, timeout=5, interval=0.01) == "done"
    assert len(seen) == 3


def test_a_reporting_check_is_polled_until_ok_and_its_last_report_kept() -> None:
    seen = []

    def check() -> dict:
        seen.append(1)
        return {"ok": len(seen) >= 3, "seen": len(seen)}

    ok, waited, last = report_within(check, timeout=5, interval=0.01)
    assert ok
    assert last == {"ok": True, "seen": 3}
    assert waited < 5
    ok, waited, last = report_within(lambda: {"ok": False, "why": "never"}, timeout=0.2, interval=0.05)
    assert not ok
    assert last == {"ok": False, "why": "never"}
    assert waited >= 0.2


def test_a_reporting_check_that_breaks_is_not_retried() -> None:
    def check() -> dict:
        raise AssertionError("broken plumbing")

    with pytest.raises(AssertionError, match="broken plumbing"):
        report_within(check, timeout=5, interval=0.01)


def test_one_base64_and_one_redacted_view_for_both_kinds() -> None:
    assert b64("v") == b64(b"v") == "dg=="

    class Obj:
        type = "Opaque"
        data = {"k": b64("v")}
        binary_data = None

    secret, config_map = view(Obj()), view(Obj(), "ConfigMap")
    assert secret["type"] == "Opaque"
    assert "dg==" not in str(secret)
    assert config_map == {"data": secret["data"], "binaryData": {}}


def test_mapping_diff_names_only_the_differing_keys() -> None:
    with pytest.raises(AssertionError) as exc:
        assert_mapping_equal({"ns-a": {"k": "1"}, "ns-b": {"k": "2"}}, {"ns-a": {"k": "1"}}, "namespace")
    assert "namespace ns-b" in str(exc.value)
    assert "namespace ns-a" not in str(exc.value)
    assert "<absent>" in str(exc.value)


def test_pki_keys_are_private_and_certs_chain(tmp_path: Path) -> None:
    from cryptography import x509

    pki = create_pki(tmp_path / "pki")
    for key in ("ca.key", "apiserver.key", "admin.key", "kcm.key", "sa.key"):
        assert stat.S_IMODE(os.stat(pki.path(key)).st_mode) == 0o600
    ca = x509.load_pem_x509_certificate(pki.path("ca.crt").read_bytes())
    admin = x509.load_pem_x509_certificate(pki.path("admin.crt").read_bytes())
    admin.verify_directly_issued_by(ca)
    orgs = [a.value for a in admin.subject.get_attributes_for_oid(x509.NameOID.ORGANIZATION_NAME)]
    assert orgs == ["system:masters"]


def _fake_go(tmp_path: Path, version: str) -> dict[str, str]:
    bindir = tmp_path / "bin"
    bindir.mkdir()
    go = bindir / "go"
    go.write_text(f'#!/bin/sh\n[ "$1 $2" = "env GOVERSION" ] && echo {version} && exit 0\nexit 1\n')
    go.chmod(0o755)
    return {**os.environ, "PATH": f"{bindir}:/usr/bin:/bin", "REPLICHECK_CACHE": str(tmp_path / "cache")}


def _build(env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["bash", str(REPO_ROOT / "tools" / "build-binaries.sh")],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def test_build_script_names_the_fix_when_go_is_too_old(tmp_path: Path) -> None:
    proc = _build(_fake_go(tmp_path, "go1.19.8"))
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines() == [
        "error: Go go1.19.8 is too old: k8s.io/kubernetes 1.37 needs Go >= 1.26; upgrade Go and retry"
    ]


def test_build_script_names_the_fix_when_go_is_missing(tmp_path: Path) -> None:
    env = {**os.environ, "PATH": "/usr/bin:/bin", "REPLICHECK_CACHE": str(tmp_path)}
    proc = _build(env)
    assert proc.returncode == 1
    assert proc.stderr.strip().startswith("error: Go is not installed; install Go >= 1.26")


def test_build_script_names_the_fix_for_an_unwritable_cache(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    cache.write_text("a file, not a directory")
    env = {**os.environ, "REPLICHECK_CACHE": str(cache)}
    proc = _build(env)
    assert proc.returncode == 1
    assert f"cache directory {cache} is not writable; set REPLICHECK_CACHE" in proc.stderr


def _operator_dir(runs: Path, run_id: str, supervisor_pid: int | None, age: float) -> Path:
    path = runs / f"operator-{run_id}"
    path.mkdir(parents=True)
    if supervisor_pid is not None:
        (path / "replicheck-replicator-0.state.json").write_text(
            json.dumps({"supervisor_pid": supervisor_pid, "child_pid": None})
        )
    then = time.time() - age
    os.utime(path, (then, then))
    return path


def test_stale_cleanup_removes_operator_dirs_of_killed_runs_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A killed session leaves operator-<run> next to its (already reaped) cluster: remove it, but
    never one whose cluster still exists, whose supervisor lives, that is brand new or not local."""
    from fixtures.clusters.reaping import clean_stale_runs
    from fixtures.core.paths import runs_dir

    monkeypatch.setenv("REPLICHECK_CACHE", str(tmp_path))
    runs = runs_dir()
    gone = _operator_dir(runs, "rc000001", 2**22 + 7, age=120)  # pid above pid_max: not alive
    alive = _operator_dir(runs, "rc000002", os.getpid(), age=120)
    fresh = _operator_dir(runs, "rc000003", 2**22 + 7, age=0)
    kind = _operator_dir(runs, "rc000004", None, age=120)
    with_cluster = _operator_dir(runs, "rc000005", 2**22 + 7, age=120)
    (runs / "rc000005").mkdir()
    # the session deploy path's names: operator-<run>-<system>, and its records per system
    gone_system = _operator_dir(runs, "rc000006-configmirror", 2**22 + 7, age=120)
    kept_system = _operator_dir(runs, "rc000005-configmirror", 2**22 + 7, age=120)  # its cluster exists
    dead_record = runs / f".system-{2**22 + 7}-configmirror.json"
    live_record = runs / f".system-{os.getpid()}-configmirror.json"
    for record in (dead_record, live_record):
        record.write_text("{}")
    clean_stale_runs()
    assert not gone.exists()
    assert not gone_system.exists()
    assert not dead_record.exists()
    survivors = {p.name: p.exists() for p in (alive, fresh, kind, with_cluster, kept_system, live_record)}
    assert survivors == dict.fromkeys(survivors, True)


def test_a_killed_runs_kind_cluster_is_deleted_like_a_local_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A kind run records its cluster in its state file; when its owner is gone the next start deletes
    the cluster (kind's own delete command) and the run's files. A live owner's run is left alone."""
    from fixtures.clusters import kind
    from fixtures.clusters.procs import RunState
    from fixtures.clusters.reaping import clean_stale_runs
    from fixtures.core.paths import runs_dir

    monkeypatch.setenv("REPLICHECK_CACHE", str(tmp_path))
    ran: list[list[str]] = []
    monkeypatch.setattr(kind.subprocess, "run", lambda cmd, **kw: ran.append(cmd))
    runs = runs_dir()
    for run_id, owner in (("rc00000a", 2**22 + 7), ("rc00000b", os.getpid())):
        (runs / run_id).mkdir(parents=True)
        RunState(
            run_id, str(runs / run_id), str(runs / run_id), owner, info={"kind": f"replicheck-{run_id}"}
        ).save()
    removed = clean_stale_runs()
    assert removed == ["rc00000a"]
    assert ran == [
        [
            "kind",
            "delete",
            "cluster",
            "--name",
            "replicheck-rc00000a",
            "--kubeconfig",
            str(runs / "rc00000a" / "kubeconfig"),
        ]
    ]
    assert not (runs / "rc00000a").exists()
    assert (runs / "rc00000b").exists()


def test_only_an_explicitly_requested_unusable_kind_is_skipped(monkeypatch: pytest.MonkeyPatch) -> None:
    from fixtures.clusters import providers

    monkeypatch.setattr(providers, "kind_unusable_reason", lambda: "no Docker engine answers")
    requested = providers.choose_provider("kind", None, None, None, audited_namespaces=())
    assert (requested.provider, requested.unusable) == ("kind", "no Docker engine answers")
    auto = providers.choose_provider("auto", None, None, None, audited_namespaces=())
    assert (auto.provider, auto.unusable) == ("local", None)
    assert auto.reason == "auto: no Docker engine answers"
    assert providers.choose_provider("local", None, None, None, audited_namespaces=()).unusable is None


def test_reap_collects_finished_children_and_reports_running_ones(monkeypatch: pytest.MonkeyPatch) -> None:
    """Teardown stops processes by PID; reaping then waits for each handle (no zombie, no
    ResourceWarning) and names any process that is still running instead of hiding it."""
    from fixtures.clusters import session as providers
    from fixtures.clusters import workloads as deploy

    monkeypatch.setattr(deploy, "SPAWNED", [])
    monkeypatch.setattr(providers, "_STARTED", [])
    finished = subprocess.Popen(["true"])
    running = subprocess.Popen(["sleep", "60"])
    deploy.SPAWNED.extend([finished, running])
    try:
        leaked = providers.reap_started(timeout=0.5)
        assert leaked == [running.pid]
        assert finished.returncode == 0
        assert deploy.SPAWNED == []
    finally:
        os.kill(running.pid, signal.SIGKILL)  # the handle is marked finished: Popen.kill() is a no-op
        os.waitpid(running.pid, 0)
