"""PostgreSQL persistence with the seed's exact ``configmaps`` table (psycopg 3).

Each ConfigMirror names its database through a Secret (``spec.database.secretRef``). A sync is one
transaction that makes the CR's rows equal to the replicas in place: upserts keyed by the seed's
UNIQUE constraint ``(name, namespace, configmirror_namespace, configmirror_name)`` for rows that are
new or changed, deletes for rows whose replica is gone. So a sync after an outage catches up with
no duplicates and no lost updates, and a failure mid-way leaves the table as it was (no half-written
table). Errors are classified into condition reasons; passwords never reach a message.
"""

from __future__ import annotations

import base64
import contextlib
import logging
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import psycopg
from psycopg.types.json import Jsonb

from .planning import ConditionError, Row

log = logging.getLogger("configmirror.database")

#: The seed's schema, verbatim (README "Database Schema"), made idempotent.
SCHEMA = """
CREATE TABLE IF NOT EXISTS configmaps (
    id SERIAL PRIMARY KEY,
    name VARCHAR(253) NOT NULL,
    namespace VARCHAR(253) NOT NULL,
    data JSONB NOT NULL,
    labels JSONB,
    annotations JSONB,
    configmirror_name VARCHAR(253) NOT NULL,
    configmirror_namespace VARCHAR(253) NOT NULL,
    created_at TIMESTAMP NOT NULL DEFAULT NOW(),
    updated_at TIMESTAMP NOT NULL DEFAULT NOW(),
    UNIQUE(name, namespace, configmirror_namespace, configmirror_name)
)
"""
#: Lookups by owner (sync, finalizer) would otherwise scan: the UNIQUE index leads with name.
OWNER_INDEX = (
    "CREATE INDEX IF NOT EXISTS configmaps_configmirror_idx "
    "ON configmaps (configmirror_namespace, configmirror_name)"
)
SCHEMA_LOCK = 0x636D6972  # advisory lock id: two replicas creating the schema at once

UPSERT = """
INSERT INTO configmaps (name, namespace, data, labels, annotations, configmirror_name, configmirror_namespace)
VALUES (%s, %s, %s, %s, %s, %s, %s)
ON CONFLICT (name, namespace, configmirror_namespace, configmirror_name)
DO UPDATE SET data = EXCLUDED.data, labels = EXCLUDED.labels, annotations = EXCLUDED.annotations,
              updated_at = NOW()
"""
SELECT_OWNED = """
SELECT name, namespace, data, labels, annotations FROM configmaps
WHERE configmirror_namespace = %s AND configmirror_name = %s FOR UPDATE
"""
DELETE_ONE = """
DELETE FROM configmaps
WHERE configmirror_namespace = %s AND configmirror_name = %s AND namespace = %s AND name = %s
"""
DELETE_OWNED = "DELETE FROM configmaps WHERE configmirror_namespace = %s AND configmirror_name = %s"


class DatabaseError(ConditionError):
    """A database step failed; ``reason`` becomes the DatabaseSynced condition reason."""


@dataclass(frozen=True)
class Credentials:
    host: str
    port: int
    dbname: str
    user: str
    password: str = field(repr=False)
    sslmode: str = "prefer"

    @property
    def where(self) -> str:
        return f"{self.user}@{self.host}:{self.port}/{self.dbname}"


def _first(data: Mapping[str, str], *keys: str) -> str | None:
    for key in keys:
        if data.get(key):
            return data[key]
    return None


def credentials_from_secret(secret: Mapping[str, object], where: str) -> Credentials:
    """Secret keys: host, port (5432), dbname|database, username|user, password, sslmode (prefer)."""
    raw = secret.get("data") or {}
    assert isinstance(raw, Mapping)
    data: dict[str, str] = {}
    for key, value in raw.items():
        try:
            data[key] = base64.b64decode(value).decode()
        except (ValueError, UnicodeDecodeError):
            raise DatabaseError("SecretInvalid", f"Secret {where} key {key!r} is not UTF-8 text") from None
    for key, value in (secret.get("stringData") or {}).items():  # type: ignore[union-attr]
        data.setdefault(key, str(value))
    missing = [
        label
        for label, keys in (
            ("host", ("host",)),
            ("dbname (or database)", ("dbname", "database")),
            ("username (or user)", ("username", "user")),
            ("password", ("password",)),
        )
        if not _first(data, *keys)
    ]
    if missing:
        raise DatabaseError("SecretInvalid", f"Secret {where} lacks key(s) {', '.join(missing)}")
    port = data.get("port") or "5432"
    if not port.isdigit():
        raise DatabaseError("SecretInvalid", f"Secret {where} key 'port' is not a number")
    return Credentials(
        host=data["host"],
        port=int(port),
        dbname=_first(data, "dbname", "database") or "",
        user=_first(data, "username", "user") or "",
        password=data["password"],
        sslmode=data.get("sslmode") or "prefer",
    )


def classify(exc: psycopg.Error, creds: Credentials) -> DatabaseError:
    """A psycopg error → reason + one line (libpq messages never contain the password)."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    state = getattr(exc, "sqlstate", None) or ""
    low = text.lower()
    if state in ("28P01", "28000") or "password authentication failed" in low or "no password" in low:
        return DatabaseError(
            "AuthenticationFailed",
            f"database {creds.where} rejected the credentials; fix the password in the secretRef Secret",
        )
    if state == "3D000" or ("database" in low and "does not exist" in low):
        return DatabaseError("DatabaseNotFound", f"database {creds.where} does not exist; create it")
    if isinstance(exc, psycopg.OperationalError):
        return DatabaseError("DatabaseUnavailable", f"database {creds.where} unreachable: {text[:200]}")
    return DatabaseError("SyncFailed", f"database {creds.where}: {text[:200]}")


class _Connection:
    """One connection per credentials, used under a lock; reconnects after any error."""

    def __init__(self, creds: Credentials, connect_timeout: int) -> None:
        self.creds, self.connect_timeout = creds, connect_timeout
        self.lock = threading.Lock()
        self.conn: psycopg.Connection | None = None

    def get(self) -> psycopg.Connection:
        if self.conn is None or self.conn.closed:
            c = self.creds
            self.conn = psycopg.connect(
                host=c.host,
                port=c.port,
                dbname=c.dbname,
                user=c.user,
                password=c.password,
                sslmode=c.sslmode,
                connect_timeout=self.connect_timeout,
                application_name="configmirror-operator",
                autocommit=True,
                options="-c statement_timeout=15000 -c lock_timeout=10000",
            )
            with self.conn.transaction():
                self.conn.execute("SELECT pg_advisory_xact_lock(%s)", (SCHEMA_LOCK,))
                self.conn.execute(SCHEMA)
                self.conn.execute(OWNER_INDEX)
            log.info("database connected; schema ensured", extra={"database": c.where})
        return self.conn

    def drop(self) -> None:
        if self.conn is not None:
            with contextlib.suppress(psycopg.Error):
                self.conn.close()
            self.conn = None


@dataclass(frozen=True)
class SyncResult:
    upserted: int
    deleted: int


class Databases:
    """Connections by credentials; ``sync`` and ``delete_owned`` are what the controller calls."""

    def __init__(self, connect_timeout: int = 3) -> None:
        self.connect_timeout = connect_timeout
        self._lock = threading.Lock()
        self._conns: dict[Credentials, _Connection] = {}

    def _conn(self, creds: Credentials) -> _Connection:
        with self._lock:
            conn = self._conns.get(creds)
            if conn is None:
                conn = self._conns[creds] = _Connection(creds, self.connect_timeout)
            return conn

    def close(self) -> None:
        with self._lock:
            for conn in self._conns.values():
                with conn.lock:
                    conn.drop()
            self._conns.clear()

    def sync(self, creds: Credentials, mirror_ns: str, mirror_name: str, rows: Iterable[Row]) -> SyncResult:
        """Make the CR's rows equal ``rows`` in one transaction (changed rows only)."""
        want = {(r.namespace, r.name): r for r in rows}
        holder = self._conn(creds)
        with holder.lock:
            try:
                conn = holder.get()
                with conn.transaction():
                    have = {
                        (ns, name): (data, labels, annotations)
                        for name, ns, data, labels, annotations in conn.execute(
                            SELECT_OWNED, (mirror_ns, mirror_name)
                        ).fetchall()
                    }
                    changed = [
                        r
                        for pos, r in sorted(want.items())
                        if have.get(pos) != (dict(r.data), dict(r.labels), dict(r.annotations))
                    ]
                    gone = sorted(set(have) - set(want))
                    if changed:
                        with conn.cursor() as cur:
                            cur.executemany(
                                UPSERT,
                                [
                                    (
                                        r.name,
                                        r.namespace,
                                        Jsonb(dict(r.data)),
                                        Jsonb(dict(r.labels)),
                                        Jsonb(dict(r.annotations)),
                                        mirror_name,
                                        mirror_ns,
                                    )
                                    for r in changed
                                ],
                            )
                    if gone:
                        with conn.cursor() as cur:
                            cur.executemany(DELETE_ONE, [(mirror_ns, mirror_name, ns, n) for ns, n in gone])
            except psycopg.Error as exc:
                holder.drop()
                raise classify(exc, creds) from None
        return SyncResult(len(changed), len(gone))

    def delete_owned(self, creds: Credentials, mirror_ns: str, mirror_name: str) -> int:
        """Delete every row of one ConfigMirror (finalizer)."""
        holder = self._conn(creds)
        with holder.lock:
            try:
                conn = holder.get()
                with conn.transaction():
                    cur = conn.execute(DELETE_OWNED, (mirror_ns, mirror_name))
                    return cur.rowcount
            except psycopg.Error as exc:
                holder.drop()
                raise classify(exc, creds) from None
