"""The OCI registry and the git server on their own (no cluster): real processes on loopback,
verified TLS and bcrypt htpasswd auth, rotation by rewriting htpasswd, restart, nothing left behind."""

from __future__ import annotations

import ssl
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from fixtures.clusters.pki import create_pki
from fixtures.clusters.procs import pid_alive
from fixtures.services.gitserver import GitServer, git
from fixtures.services.oci_registry import OciRegistry


def test_registry_checks_credentials_over_verified_tls_and_follows_a_rotation(tmp_path: Path) -> None:
    # Setup: a CA like a cluster run's, and the registry with one user.
    create_pki(tmp_path / "pki")
    registry = OciRegistry(tmp_path / "registry", tmp_path / "pki", None).start()
    try:
        # Assess: right password 200, wrong 401, no password 401.
        old = registry.password
        assert registry.login_status(registry.username, old) == 200
        assert registry.login_status(registry.username, "wrong") == 401
        assert registry.login_status(registry.username, "") == 401
        # A client that does not trust the run's CA is refused at the TLS handshake.
        with pytest.raises(urllib.error.URLError) as untrusted:
            urllib.request.urlopen(
                f"https://{registry.host}/v2/", timeout=5, context=ssl.create_default_context()
            )
        assert isinstance(untrusted.value.reason, ssl.SSLCertVerificationError)
        # Rotation: the running registry takes the new htpasswd at once; the old password is refused.
        registry.set_password("rotated-" + old[:8])
        assert registry.login_status(registry.username, old) == 401
        assert registry.login_status(registry.username, "rotated-" + old[:8]) == 200
        # Restart on the same port keeps the credentials.
        registry.restart()
        assert registry.login_status(registry.username, "rotated-" + old[:8]) == 200
        assert old not in registry.htpasswd.read_text()
    finally:
        registry.stop()
    # Teardown: the process is gone.
    assert registry.process is not None
    assert not pid_alive(registry.process.pid)


def test_git_server_serves_pushes_to_clones(tmp_path: Path) -> None:
    server = GitServer(tmp_path / "git", None).start()
    try:
        server.create_repo("fleet")
        work = tmp_path / "work"
        work.mkdir()
        (work / "a.txt").write_text("one\n")
        server.push(work, "fleet", "first")
        (work / "a.txt").write_text("two\n")
        sha = server.push(work, "fleet", "second")
        git("clone", "--quiet", server.url("fleet"), str(tmp_path / "clone"), cwd=tmp_path)
        assert (tmp_path / "clone" / "a.txt").read_text() == "two\n"
        assert git("rev-parse", "HEAD", cwd=tmp_path / "clone") == sha
    finally:
        server.stop()
    assert server.process is not None
    assert not pid_alive(server.process.pid)
