"""The local control plane's audit policy is built from the systems' ServiceAccount namespaces, so an
audit-based check sees a system wherever its profile runs it (not only ``replicheck-system``).

The systems registry names the namespaces (``audited_namespaces``); the pytest plugin hands them to
the clusters layer in the provider choice (the clusters import no system)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from fixtures.clusters.local import audit_policy
from fixtures.clusters.providers import ProviderChoice
from fixtures.systems import registry
from fixtures.systems.packaging import manifest_namespaces
from fixtures.systems.registry import audited_namespaces


def test_every_registered_systems_namespace_is_audited() -> None:
    namespaces = audited_namespaces()
    # the bundled operator, ConfigMirror, the controller a user brings, Reflector's Helm release
    assert {"replicheck-system", "configmirror-system", "kubernetes-replicator", "reflector"} <= set(
        namespaces
    )
    for name in registry.registered():
        assert registry.system(name).service_account_namespaces <= set(namespaces), name
    policy = yaml.safe_load(audit_policy(namespaces))
    assert policy["kind"] == "Policy"
    assert policy["omitStages"] == ["RequestReceived"]
    metadata, rest = policy["rules"]
    assert metadata["level"] == "Metadata"
    assert metadata["userGroups"] == sorted(f"system:serviceaccounts:{ns}" for ns in namespaces)
    assert rest == {"level": "None"}


@pytest.mark.parametrize("name", registry.registered())
def test_a_systems_chaos_namespace_is_among_its_service_account_namespaces(name: str) -> None:
    system = registry.system(name)
    assert system.service_account_namespaces, f"{name}: no namespace for its ServiceAccounts"
    if system.chaos is not None:
        assert system.chaos.namespace in system.service_account_namespaces


def test_the_sessions_provider_choice_audits_every_registered_system(provider_choice: ProviderChoice) -> None:
    """The plugin fills the choice from the registry (pytest_configure), and xdist workers get it whole,
    so the session's plane and every private plane (chaos, oci, private_control_plane) audit them."""
    assert provider_choice.audited_namespaces == tuple(audited_namespaces())


def test_no_namespace_audits_nobody() -> None:
    """An empty userGroups matches every user: with no namespace there is no Metadata rule at all."""
    policy = yaml.safe_load(audit_policy([]))
    assert policy["rules"] == [{"level": "None"}]


def test_manifest_namespaces_reads_the_kustomization_else_the_service_accounts(tmp_path: Path) -> None:
    assert manifest_namespaces(None) == frozenset()
    assert manifest_namespaces(tmp_path / "missing") == frozenset()
    (tmp_path / "sa.yaml").write_text(
        "kind: ServiceAccount\nmetadata: {name: a, namespace: team-a}\n---\n"
        "kind: ServiceAccount\nmetadata: {name: b}\n---\nkind: ConfigMap\nmetadata: {namespace: other}\n"
    )
    assert manifest_namespaces(tmp_path) == {"team-a", "default"}
    (tmp_path / "kustomization.yaml").write_text("namespace: team-b\nresources: [sa.yaml]\n")
    assert manifest_namespaces(tmp_path) == {"team-b"}
