"""Bring your own controller: how the user's command is found, and the one-line refusals.

Pure parts only (a temporary directory stands in for the user's disk); starting a real controller
is tests/harness/test_byo_controller.py's job.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from fixtures.clusters.providers import ExistingProvider, KindProvider
from fixtures.core.errors import SetupError
from fixtures.systems.packaging import COMMAND_ENV, COMMAND_OPTION, UserBinary, given_command


def _controller(tmp_path: Path, manifest: str = "") -> UserBinary:
    path = tmp_path / "deploy.yaml"
    path.write_text(manifest)
    return UserBinary(program="some-controller", manifest=path, health_arg="--status={port}")


def _executable(path: Path) -> Path:
    path.write_text("#!/bin/sh\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


def test_a_path_with_arguments_is_split_like_a_shell(tmp_path: Path) -> None:
    binary = _executable(tmp_path / "my controller")
    command = _controller(tmp_path).command(f"'{binary}' -v=2 --flag 'a b'")
    assert command == [str(binary.resolve()), "-v=2", "--flag", "a b"]


def test_no_command_means_the_program_on_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _executable(tmp_path / "some-controller")
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    assert _controller(tmp_path).command(None) == [str(tmp_path / "some-controller")]


@pytest.mark.parametrize(
    ("given", "problem"),
    [
        ("/nonexistent/some-controller", "/nonexistent/some-controller does not exist"),
        (None, "some-controller is not on PATH"),
        ("  ", "some-controller is not on PATH"),
    ],
)
def test_a_missing_binary_is_one_line_naming_the_fix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, given: str | None, problem: str
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(SetupError) as err:
        _controller(tmp_path).command(given)
    line = str(err.value)
    assert "\n" not in line
    assert line.startswith(problem)
    assert f"{COMMAND_OPTION}=/path/to/some-controller" in line


def test_a_file_that_is_not_executable_is_refused(tmp_path: Path) -> None:
    plain = tmp_path / "some-controller"
    plain.write_text("not a program")
    with pytest.raises(SetupError, match="is not an executable file"):
        _controller(tmp_path).command(str(plain))


def test_the_option_wins_over_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(COMMAND_ENV, "/from/env")
    assert given_command("/from/option") == "/from/option"
    assert given_command(None) == "/from/env"
    monkeypatch.delenv(COMMAND_ENV)
    assert given_command(None) is None


def test_identity_is_the_deployments_namespace_and_service_account(tmp_path: Path) -> None:
    manifest = """
apiVersion: v1
kind: ServiceAccount
metadata: {name: ctl, namespace: ctl-system}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: ctl, namespace: ctl-system}
spec: {template: {spec: {serviceAccountName: ctl, containers: [{name: c}]}}}
"""
    assert _controller(tmp_path, manifest).identity() == ("ctl-system", "ctl")
    with pytest.raises(SetupError, match="has no Deployment"):
        _controller(tmp_path, "kind: ServiceAccount\n").identity()


def test_an_existing_cluster_is_attached_not_installed(tmp_path: Path) -> None:
    manifest = (
        "kind: Deployment\nmetadata: {namespace: ns}\nspec: {template: {spec: {serviceAccountName: sa}}}\n"
    )
    existing = ExistingProvider("r", str(tmp_path / "kubeconfig"), None).cluster()
    deployment = _controller(tmp_path, manifest).bound("/nonexistent").deploy(existing, tmp_path)
    assert (deployment.namespace, deployment.service_account, deployment.replicas) == ("ns", "sa", [])


def test_kind_is_refused_with_the_way_out(tmp_path: Path) -> None:
    kind = KindProvider("r", None).cluster()
    with pytest.raises(SetupError, match="install it in the cluster and use --cluster=existing"):
        _controller(tmp_path).deploy(kind, tmp_path)
