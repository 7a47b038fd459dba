"""PostgreSQL killed and restarted under a ConfigMirror: replication never stops, the rows catch up
with the latest data, no duplicates, and nothing half-written.

Uses its own PostgreSQL server (the session's one is shared by every test of the session).
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator

import allure
import pytest

from fixtures.core.waiting import eventually
from fixtures.services.postgres import PostgresServer
from fixtures.systems.configmirror import SYSTEM, ConfigMirrorDriver, rows_of, start_postgres

from .conftest import SLO, MirrorEnv
from .test_configmirror import MATCHING, SELECT, expect_condition, expect_replicas

pytestmark = allure.label("system", SYSTEM)


@pytest.fixture
def private_postgres(configmirror: ConfigMirrorDriver) -> Iterator[PostgresServer]:
    """Set up before (so torn down after) the test's mirrors: their finalizer needs the database."""
    server = start_postgres(configmirror.cluster, f"outage-{secrets.token_hex(3)}")
    try:
        yield server
    finally:
        server.stop()


def test_database_down_then_back_rows_catch_up_without_duplicates(
    private_postgres: PostgresServer, env: MirrorEnv
) -> None:
    targets = [env.namespaces("a"), env.namespaces("b")]
    env.system.credentials_secret(env.ops, "outage-db", postgres=private_postgres)
    env.configmap("keep", MATCHING, {"v": "1"})
    env.configmap("change", MATCHING, {"v": "1"})
    env.configmap("vanish", MATCHING, {"v": "1"})
    db = {"enabled": True, "secretRef": {"name": "outage-db", "namespace": env.ops}}
    mirror = env.mirror(targets, SELECT, database=db)
    name = mirror["metadata"]["name"]

    def rows() -> dict:
        return rows_of(private_postgres, env.ops, name)

    first = {(t, n): {"v": "1"} for t in targets for n in ("keep", "change", "vanish")}
    eventually(lambda: _equal(rows(), first), timeout=SLO, description="rows before the outage")

    private_postgres.kill()
    env.cluster.core.patch_namespaced_config_map("change", env.source, {"data": {"v": "2"}})
    env.cluster.core.delete_namespaced_config_map("vanish", env.source)
    env.configmap("added", MATCHING, {"v": "new"})
    want = {
        f"{t}/{n}": ({"v": v}, {})
        for t in targets
        for n, v in (("keep", "1"), ("change", "2"), ("added", "new"))
    }
    eventually(
        lambda: expect_replicas(env, mirror, targets, want),
        timeout=SLO,
        description="replication to go on while the database is down",
    )
    cond = expect_condition(env, mirror, "DatabaseSynced", "False", "DatabaseUnavailable")
    assert f"127.0.0.1:{private_postgres.port}" in cond["message"]

    restarted = time.monotonic()
    private_postgres.restart()
    final = {(t, n): {"v": v} for t in targets for n, v in (("keep", "1"), ("change", "2"), ("added", "new"))}
    eventually(lambda: _equal(rows(), final), timeout=SLO, description="rows to catch up")
    caught_up = time.monotonic() - restarted
    expect_condition(env, mirror, "DatabaseSynced", "True", "Synced")
    with private_postgres.connect() as conn:
        dupes = conn.execute(
            "SELECT count(*) FROM (SELECT name, namespace, configmirror_namespace, configmirror_name "
            "FROM configmaps GROUP BY 1, 2, 3, 4 HAVING count(*) > 1) d"
        ).fetchone()
    assert dupes == (0,)
    print(f"rows caught up {caught_up:.2f}s after PostgreSQL was back")

    # Finalizer with the private database: replicas, then rows, then the CR.
    env.system.delete(env.ops, name)
    env.system.wait_gone(env.ops, name, timeout=SLO)
    assert rows() == {}


def _equal(actual: dict, expected: dict) -> None:
    assert actual == expected, f"rows: {sorted(actual.items())} != {sorted(expected.items())}"
