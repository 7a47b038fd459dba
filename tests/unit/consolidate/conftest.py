"""Fixtures for the consolidation tool's unit tests: a real age key and a small fixed layout."""

from __future__ import annotations

from pathlib import Path

import pytest

from testing.consolidate import (
    CredsSpec,
    DockerConfig,
    LayoutSpec,
    Registry,
    ServiceSpec,
    age_identity_fixture,
    age_key_env,
    write_layout,
)

PASSWORD = "pw-unit-s3cr3t-value-42"  # noqa: S105 (test value)
CONFIG = DockerConfig((Registry("ghcr.io", "opencenter-bot", PASSWORD),))
OTHER = DockerConfig(
    (Registry("ghcr.io", "opencenter-bot", "pw-different-9999"), Registry("quay.io", "x", "pw-q-1"))
)


age_identity = age_identity_fixture("session", "consolidate-age-")


@pytest.fixture
def age_key(age_identity, monkeypatch, tmp_path) -> Path:
    """SOPS_AGE_KEY_FILE set; HOME/XDG point at an empty dir so no default key is found."""
    key, _ = age_identity
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "home" / ".config"))
    monkeypatch.delenv("SOPS_AGE_KEY", raising=False)
    with age_key_env(key):
        yield key


def basic_spec(**overrides) -> LayoutSpec:
    services = (
        ServiceSpec(
            "cert-manager",
            "cert-manager",
            CredsSpec(CONFIG),
            comments=True,
            creds_position=1,
            others=("helmrelease", "values"),
        ),
        ServiceSpec(
            "apps/keycloak",
            "keycloak",
            CredsSpec(CONFIG, form="data", encrypted=True),
            seq_offset=0,
            decoy_bak=True,
        ),
        ServiceSpec("kyverno", "kyverno", None, decoy_secret_file="registry-auth.yaml"),  # noqa: S106,
    )
    fields = {
        "customer": "acme",
        "cluster": "prod-1",
        "services": services,
        "sibling_clusters": ("stage",),
        "flux_comments": True,
    }
    fields.update(overrides)
    return LayoutSpec(**fields)


@pytest.fixture
def make_repo(tmp_path, age_identity, age_key):
    """Write a layout (default: :func:`basic_spec`) under ``tmp_path/repo``; returns the WrittenLayout."""
    _, pub = age_identity

    def make(spec: LayoutSpec | None = None):
        return write_layout(tmp_path / "repo", spec or basic_spec(), pub)

    return make
