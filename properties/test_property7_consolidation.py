"""Property 7: OCI Credentials Consolidation, on Hypothesis-generated GitOps layouts.

For any cluster overlay, after ``consolidate-oci-creds`` exactly one ``oci-creds.yaml`` exists
under the overlay (in ``flux-system/``) and none in service directories; every kustomization
still builds with the real ``kubectl kustomize``; the decrypted result carries the original
credentials and the service namespaces; nothing outside the overlay changes. Differing
credentials must be refused without changing anything. Real sops + age are used throughout.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import allure
import pytest
from hypothesis import event, example, given

from fixtures.systems.dialects.reflector import ALLOWED, ALLOWED_NAMESPACES, AUTO_ENABLED
from operator_under_test.consolidate import load_secret
from properties.strategies import gitops_layouts
from testing.consolidate import (
    CredsSpec,
    DockerConfig,
    LayoutSpec,
    Registry,
    ServiceSpec,
    age_identity_fixture,
    files_containing,
    kustomize_build,
    run_cli,
    tree_digest,
    write_layout,
)

pytestmark = [
    pytest.mark.property,
    allure.feature("reflector-deployment"),
    allure.story("Property 7: OCI Credentials Consolidation"),
]


# One real age key for the module; ``SOPS_AGE_KEY_FILE`` points at it meanwhile.
age_identity = age_identity_fixture("module", "p7-age-", export=True)


def _oci_files(overlay: Path) -> list[Path]:
    return sorted(p for p in overlay.rglob("oci-creds.yaml") if p.is_file())


def _creds_of(secret: dict) -> dict:
    import base64

    if ".dockerconfigjson" in (secret.get("stringData") or {}):
        return json.loads(secret["stringData"][".dockerconfigjson"])
    return json.loads(base64.b64decode(secret["data"][".dockerconfigjson"]))


def _assert_no_secret_leak(spec: LayoutSpec, *texts: str) -> None:
    for secret in spec.secrets():
        for text in texts:
            assert secret not in text, "a credential value was printed"


_CFG = DockerConfig((Registry("ghcr.io", "bot", "pw-example-000000000000"),))


# Layouts with nothing to consolidate (no service credentials) are pinned as explicit examples, so
# every generated example exercises a real consolidation.
@example(layout=LayoutSpec("acme", "empty"))
@example(
    layout=LayoutSpec(
        "acme",
        "nocreds",
        services=(ServiceSpec("kyverno", "kyverno"),),
        existing=CredsSpec(_CFG, encrypted=True),
        existing_namespaces=("kyverno",),
    )
)
@given(layout=gitops_layouts(min_creds_services=1))
def test_consolidation_yields_one_flux_system_source(layout: LayoutSpec, age_identity) -> None:
    _key, pub = age_identity
    with tempfile.TemporaryDirectory(prefix="p7-") as tmp:
        root = Path(tmp) / "repo"
        written = write_layout(root, layout, pub)
        overlay = written.overlay
        outside = tree_digest(root, exclude=overlay)
        whole = tree_digest(root)
        had_creds = bool(layout.creds_services())
        event(f"services with credentials: {len(layout.creds_services())}")
        event(f"encrypted inputs: {any(s.creds.encrypted for s in layout.creds_services() if s.creds)}")
        event(f"pre-existing flux-system/oci-creds.yaml: {layout.existing is not None}")

        code, out, err = run_cli([layout.customer, layout.cluster, "--repo", str(root)])
        assert code == 0, err
        _assert_no_secret_leak(layout, out, err)
        assert "Traceback" not in err

        # Nothing outside the overlay changed; with nothing to consolidate nothing changed at all.
        assert tree_digest(root, exclude=overlay) == outside
        if not had_creds:
            assert tree_digest(root) == whole

        # Exactly one oci-creds.yaml under the overlay, in flux-system (or none if there were no creds).
        flux_file = overlay / "flux-system" / "oci-creds.yaml"
        expected = [flux_file] if (had_creds or layout.existing is not None) else []
        assert _oci_files(overlay) == expected

        # Decoys are left alone.
        for svc in layout.services:
            if svc.decoy_bak:
                assert (overlay / svc.path / "oci-creds.yaml.bak").is_file()
            if svc.decoy_secret_file:
                assert (overlay / svc.path / svc.decoy_secret_file).is_file()

        # Every overlay kustomization still builds with the real kustomize.
        for d in written.kustomization_dirs:
            result = kustomize_build(d)
            assert result.returncode == 0, f"{d.relative_to(root)}: {result.stderr.strip()[:300]}"

        if had_creds:
            # The result is encrypted on disk: no credential value in plaintext anywhere in the repo.
            assert files_containing(root, layout.secrets()) == []
            secret = load_secret(flux_file)
            assert _creds_of(secret) == layout.all_configs()[0].as_dict()
            ann = secret["metadata"]["annotations"]
            assert ann[ALLOWED] == "true"
            assert ann[AUTO_ENABLED] == "true"
            listed = ann[ALLOWED_NAMESPACES].split(",")
            assert listed == sorted(listed)
            assert listed == layout.expected_namespaces()
            assert "flux-system" not in listed
            assert secret["metadata"]["namespace"] == "flux-system"
            assert secret["type"] == "kubernetes.io/dockerconfigjson"

        # Idempotent: a second run changes nothing.
        before = tree_digest(root)
        code, out, err = run_cli([layout.customer, layout.cluster, "--repo", str(root)])
        assert code == 0, err
        assert tree_digest(root) == before


@given(layout=gitops_layouts(conflicting=True))
def test_differing_credentials_are_refused_and_nothing_changes(layout: LayoutSpec, age_identity) -> None:
    _key, pub = age_identity
    with tempfile.TemporaryDirectory(prefix="p7c-") as tmp:
        root = Path(tmp) / "repo"
        write_layout(root, layout, pub)
        whole = tree_digest(root)
        code, out, err = run_cli([layout.customer, layout.cluster, "--repo", str(root)])
        assert code == 1
        assert tree_digest(root) == whole
        assert "differ" in err
        assert "nothing changed" in err
        assert "Traceback" not in err
        _assert_no_secret_leak(layout, out, err)
        offenders = [s for s in layout.creds_services()]
        for svc in offenders:
            assert svc.namespace in err
            for reg in svc.creds.config.registries:
                assert reg.host in err
        # No staging files were left behind.
        assert not [p for p in root.rglob("*") if p.name.endswith(".consolidate-tmp")]
        assert os.environ.get("SOPS_AGE_KEY_FILE")
