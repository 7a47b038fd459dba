"""The harness' PostgreSQL: a real server from Debian's package, password auth on loopback, tmpfs
data, and reaped by the guardian when its owner dies (no cluster needed)."""

from __future__ import annotations

import secrets
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import psycopg
import pytest

from fixtures.clusters.procs import pid_alive, start_guardian, terminate
from fixtures.core.paths import fast_data_root
from fixtures.core.waiting import eventually
from fixtures.services.postgres import PostgresServer, new_server


@pytest.fixture
def server() -> PostgresServer:
    pg = new_server(f"harness-{secrets.token_hex(3)}").start()
    try:
        yield pg  # type: ignore[misc]
    finally:
        pg.stop()


def test_server_accepts_only_the_right_password_and_records_its_version(server: PostgresServer) -> None:
    assert server.version.startswith("postgres (PostgreSQL) ")
    assert server.timings["ready_s"] < 30
    with server.connect() as conn:
        user, version = conn.execute("SELECT current_user, current_setting('server_version_num')").fetchone()
        superuser = conn.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user").fetchone()
    assert user == "configmirror"
    assert int(version) >= 150000
    assert superuser == (False,), "the operator's role is not a superuser"
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(
            host="127.0.0.1",
            port=server.port,
            dbname="configmirror",
            user="configmirror",
            password="nope",  # noqa: S106 (wrong on purpose)
            connect_timeout=5,
        )
    assert str(server.data_dir).startswith(("/dev/shm", tempfile.gettempdir(), str(Path.home())))


def test_kill_and_restart_keep_the_data(server: PostgresServer) -> None:
    with server.connect() as conn:
        conn.execute("CREATE TABLE t (v int)")
        conn.execute("INSERT INTO t VALUES (1)")
    server.kill()
    assert not server.running()
    with pytest.raises(psycopg.OperationalError):
        server.connect(timeout=2)
    server.restart()
    with server.connect() as conn:
        assert conn.execute("SELECT v FROM t").fetchall() == [(1,)]


def test_guardian_reaps_postgres_and_its_files_when_the_owner_is_killed(tmp_path: Path) -> None:
    """Setup: an owner process, a guardian watching it, a server in the guardian's group.
    Assess: SIGKILL of the owner ends the postmaster and every backend, and removes the data."""
    owner = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    root = Path(tempfile.mkdtemp(prefix="replicheck-pgtest-", dir=fast_data_root()))
    root.chmod(0o711)  # the server may run as the postgres user
    guardian = start_guardian(f"pgtest{secrets.token_hex(2)}", owner.pid, [root], tmp_path / "guardian.log")
    pg = new_server(f"reap-{secrets.token_hex(3)}", root, guardian.pid).start()
    try:
        with pg.connect() as conn:  # a backend exists while we kill
            conn.execute("SELECT 1")
            owner.send_signal(signal.SIGKILL)
            owner.wait()
            guardian.wait(timeout=30)
        eventually(pg._no_backends, timeout=15, description="every PostgreSQL process to exit")
        assert not pid_alive(pg.pid or 0)
        assert not root.exists()
        assert not list(Path("/dev/shm").glob("PostgreSQL.*")), "shared memory segments left behind"
    finally:
        if owner.poll() is None:
            owner.kill()
            owner.wait()
        if guardian.poll() is None:
            terminate(guardian.pid)
            guardian.wait()
        pg.stop()
