"""Pure parts of the ConfigMirror database layer: credentials from a Secret, error classification.

The SQL itself runs against the real PostgreSQL in tests/configmirror/.
"""

from __future__ import annotations

import allure
import psycopg
import pytest

from fixtures.core.encoding import b64
from fixtures.systems.configmirror import SYSTEM
from operator_under_test.configmirror.database import (
    SCHEMA,
    Credentials,
    DatabaseError,
    classify,
    credentials_from_secret,
)

pytestmark = allure.label("system", SYSTEM)  # ConfigMirror's column in the report


def test_credentials_from_data_and_aliases() -> None:
    data = {"host": "db", "database": "d", "user": "u", "password": "s3cr3t-pw"}
    secret = {"data": {k: b64(v) for k, v in data.items()}}
    creds = credentials_from_secret(secret, "ns/s")
    assert (creds.host, creds.port, creds.dbname, creds.user, creds.sslmode) == (
        "db",
        5432,
        "d",
        "u",
        "prefer",
    )
    assert "s3cr3t-pw" not in repr(creds), "the password never appears in a repr"


def test_missing_keys_are_named() -> None:
    with pytest.raises(DatabaseError) as err:
        credentials_from_secret({"data": {"host": b64("db")}}, "ns/s")
    assert err.value.reason == "SecretInvalid"
    assert "password" in str(err.value)
    assert "ns/s" in str(err.value)


def test_bad_port_is_refused() -> None:
    data = {
        k: b64(v)
        for k, v in {"host": "h", "dbname": "d", "username": "u", "password": "p", "port": "x"}.items()
    }
    with pytest.raises(DatabaseError, match="port"):
        credentials_from_secret({"data": data}, "ns/s")


def test_classification_never_leaks_the_password() -> None:
    creds = Credentials("h", 5432, "d", "u", "hunter2")
    auth = classify(psycopg.OperationalError('FATAL:  password authentication failed for user "u"'), creds)
    assert auth.reason == "AuthenticationFailed"
    assert "hunter2" not in str(auth)
    down = classify(psycopg.OperationalError("connection refused"), creds)
    assert down.reason == "DatabaseUnavailable"


def test_schema_is_the_seeds_table() -> None:
    for fragment in (
        "id SERIAL PRIMARY KEY",
        "name VARCHAR(253) NOT NULL",
        "data JSONB NOT NULL",
        "configmirror_namespace VARCHAR(253) NOT NULL",
        "updated_at TIMESTAMP NOT NULL DEFAULT NOW()",
        "UNIQUE(name, namespace, configmirror_namespace, configmirror_name)",
    ):
        assert fragment in SCHEMA
    assert "IF NOT EXISTS" in SCHEMA
