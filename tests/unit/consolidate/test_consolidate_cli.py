"""Deterministic tests of ``consolidate-oci-creds`` on fixed layouts (real sops, age, kustomize)."""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import allure
import pytest

from operator_under_test.consolidate import (
    ALLOWED,
    ALLOWED_NS,
    AUTO,
    ConsolidationError,
    consolidated_secret,
    load_secret,
)
from testing.consolidate import (
    CredsSpec,
    ServiceSpec,
    age_key_env,
    files_containing,
    generate_age_key,
    kustomize_build,
    run_cli,
    tree_digest,
)

from .conftest import CONFIG, OTHER, PASSWORD, basic_spec

pytestmark = [
    allure.feature("reflector-deployment"),
    allure.story("Property 7: OCI Credentials Consolidation"),
]

SECRETS = [*CONFIG.secrets(), *OTHER.secrets()]


def run(layout, *extra: str) -> tuple[int, str, str]:
    code, out, err = run_cli([layout.spec.customer, layout.spec.cluster, "--repo", str(layout.root), *extra])
    for s in SECRETS:
        assert s not in out
        assert s not in err, "a credential value was printed"
    assert "Traceback" not in err
    return code, out, err


def refused(layout) -> str:
    """Run on ``layout``: it must exit 1 and leave the tree as it was; returns stderr."""
    before = tree_digest(layout.root)
    code, _, err = run(layout)
    assert code == 1
    assert tree_digest(layout.root) == before
    return err


def creds_of(secret: dict) -> dict:
    if "stringData" in secret:
        return json.loads(secret["stringData"][".dockerconfigjson"])
    return json.loads(base64.b64decode(secret["data"][".dockerconfigjson"]))


def test_happy_path(make_repo):
    lay = make_repo()
    outside = tree_digest(lay.root, exclude=lay.overlay)
    code, out, err = run(lay)
    assert code == 0, err
    assert "reflection-allowed-namespaces: cert-manager,keycloak" in out
    assert "registry-auth.yaml: defines Secret oci-creds" in err  # decoy reported, left alone
    found = sorted(p.relative_to(lay.overlay).as_posix() for p in lay.overlay.rglob("oci-creds.yaml"))
    assert found == ["flux-system/oci-creds.yaml"]
    assert (lay.overlay / "apps/keycloak/oci-creds.yaml.bak").exists()
    assert (lay.overlay / "kyverno/registry-auth.yaml").exists()
    assert tree_digest(lay.root, exclude=lay.overlay) == outside
    flux = lay.overlay / "flux-system/oci-creds.yaml"
    assert "sops:" in flux.read_text()
    assert PASSWORD not in flux.read_text()
    secret = load_secret(flux)
    assert secret["metadata"] == {
        "name": "oci-creds",
        "namespace": "flux-system",
        "annotations": {ALLOWED: "true", AUTO: "true", ALLOWED_NS: "cert-manager,keycloak"},
    }
    assert secret["type"] == "kubernetes.io/dockerconfigjson"
    assert creds_of(secret) == CONFIG.as_dict()
    for d in lay.kustomization_dirs:
        res = kustomize_build(d)
        assert res.returncode == 0, res.stderr


def test_comments_and_order_preserved_in_kustomizations(make_repo):
    lay = make_repo()
    svc = lay.overlay / "cert-manager/kustomization.yaml"
    flux = lay.overlay / "flux-system/kustomization.yaml"
    svc_before, flux_before = svc.read_text(), flux.read_text()
    assert run(lay)[0] == 0
    # Exactly the oci-creds line (with its own end-of-line comment) is gone; all else is byte-identical.
    expected = "".join(ln for ln in svc_before.splitlines(keepends=True) if "oci-creds.yaml" not in ln)
    assert svc.read_text() == expected
    # flux-system: one line added after the last entry, everything else kept.
    after = flux.read_text().splitlines()
    assert [ln for ln in after if ln != "  - oci-creds.yaml"] == flux_before.splitlines()
    assert after.index("  - oci-creds.yaml") == after.index("  - gotk-sync.yaml") + 1
    # block-sequence style without indentation ("- x") is kept too
    keycloak = (lay.overlay / "apps/keycloak/kustomization.yaml").read_text()
    assert "resources:\n- helmrelease.yaml\n" in keycloak


def test_second_run_is_a_noop_and_needs_no_key(make_repo, monkeypatch):
    lay = make_repo()
    assert run(lay)[0] == 0
    before = tree_digest(lay.root)
    with age_key_env(None):
        code, out, _ = run(lay)
    assert code == 0
    assert "nothing to do" in out
    assert tree_digest(lay.root) == before


def test_dry_run_writes_nothing_and_redacts(make_repo):
    lay = make_repo()
    before = tree_digest(lay.root)
    code, out, _ = run(lay, "--dry-run")
    assert code == 0
    assert tree_digest(lay.root) == before
    assert "+++ b/acme/applications/overlays/prod-1/flux-system/oci-creds.yaml" in out
    assert "-  - oci-creds.yaml  # pull secret" in out
    assert "<redacted>" in out
    assert f'{ALLOWED_NS}: "cert-manager,keycloak"' in out
    assert "nothing written" in out


def test_conflicting_credentials_error_and_nothing_changed(make_repo):
    spec = basic_spec()
    services = (*spec.services, ServiceSpec("kro", "kro", CredsSpec(OTHER, encrypted=True)))
    lay = make_repo(basic_spec(services=services))
    err = refused(lay)
    first = err.splitlines()[0]
    assert first.startswith("error: OCI credentials differ between 3 files (2 distinct sets)")
    assert "nothing changed" in first
    groups = err.splitlines()[1:]
    assert len(groups) == 2
    assert groups[0].startswith("  credentials #1 [registries: ghcr.io]: ")
    assert "cert-manager (acme/applications/overlays/prod-1/cert-manager/oci-creds.yaml)" in groups[0]
    assert "keycloak (acme/applications/overlays/prod-1/apps/keycloak/oci-creds.yaml)" in groups[0]
    assert groups[1] == (
        "  credentials #2 [registries: ghcr.io, quay.io]: "
        "kro (acme/applications/overlays/prod-1/kro/oci-creds.yaml)"
    )


def test_broken_yaml_names_the_file(make_repo):
    lay = make_repo()
    bad = lay.overlay / "cert-manager/oci-creds.yaml"
    bad.write_text("apiVersion: v1\nkind: Secret\nmetadata: [unclosed\n")
    err = refused(lay)
    lines = err.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(
        "error: acme/applications/overlays/prod-1/cert-manager/oci-creds.yaml: not valid YAML"
    )
    assert "fix the file" in lines[0]


def test_broken_kustomization_names_the_file(make_repo):
    lay = make_repo()
    (lay.overlay / "kyverno/kustomization.yaml").write_text("resources:\n  - a\n - b: [\n")
    err = refused(lay)
    assert "kyverno/kustomization.yaml: not valid YAML" in err


def test_missing_overlay(tmp_path):
    code, _, err = run_cli(["acme", "nope", "--repo", str(tmp_path)])
    assert code == 1
    assert err.strip() == (
        f"error: acme/applications/overlays/nope/: overlay not found; check the customer/cluster names "
        f"and --repo (currently {tmp_path.resolve()})"
    )


def test_usage_error_exit_code():
    code, _, err = run_cli(["only-one-arg"])
    assert code == 2
    assert "usage:" in err


@pytest.mark.parametrize("key_state", ["unset", "missing-file", "wrong-key"])
def test_missing_or_wrong_age_key_for_encrypted_input(make_repo, tmp_path, key_state):
    lay = make_repo()
    before = tree_digest(lay.root)
    if key_state == "unset":
        key = None
    elif key_state == "missing-file":
        key = tmp_path / "absent.agekey"
    else:
        key, _ = generate_age_key(tmp_path / "other-key")
    with age_key_env(key):
        code, _, err = run(lay)
    assert code == 1
    assert tree_digest(lay.root) == before
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("error: acme/applications/overlays/prod-1/apps/keycloak/oci-creds.yaml: ")
    assert "SOPS_AGE_KEY_FILE" in lines[0]


def test_existing_flux_file_with_equal_credentials_is_merged(make_repo):
    spec = basic_spec(
        existing=CredsSpec(CONFIG, encrypted=True, comment=True),
        existing_namespaces=("observability", "flux-system", "cert-manager"),
    )
    lay = make_repo(spec)
    code, out, err = run(lay)
    assert code == 0, err
    flux = lay.overlay / "flux-system/oci-creds.yaml"
    secret = load_secret(flux)
    assert secret["metadata"]["annotations"][ALLOWED_NS] == "cert-manager,keycloak,observability"
    assert secret["metadata"]["annotations"][AUTO] == "true"
    assert creds_of(secret) == CONFIG.as_dict()
    assert "# OCI registry pull secret" in flux.read_text()  # its comment survives
    # flux-system/kustomization.yaml already listed it: not touched
    assert "updated acme/applications/overlays/prod-1/flux-system/kustomization.yaml" not in out


def test_existing_flux_file_with_different_credentials_is_an_error(make_repo):
    lay = make_repo(basic_spec(existing=CredsSpec(OTHER), existing_namespaces=("a",)))
    err = refused(lay)
    assert "flux-system/oci-creds.yaml" in err
    assert "differ" in err


def test_no_plaintext_left_on_disk(make_repo, tmp_path, monkeypatch):
    scratch = tmp_path / "scratch-tmp"
    scratch.mkdir()
    monkeypatch.setenv("TMPDIR", str(scratch))
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    lay = make_repo()
    assert files_containing(lay.root, [PASSWORD]), "precondition: plaintext input files exist"
    assert run(lay)[0] == 0
    assert files_containing(lay.root, CONFIG.secrets()) == []
    assert files_containing(scratch, CONFIG.secrets()) == []
    assert not list(lay.root.rglob("*.consolidate-tmp"))


def test_service_in_flux_system_namespace_is_not_listed(make_repo):
    spec = basic_spec()
    services = (*spec.services, ServiceSpec("flux-extra", "flux-system", CredsSpec(CONFIG)))
    lay = make_repo(basic_spec(services=services))
    assert run(lay)[0] == 0
    secret = load_secret(lay.overlay / "flux-system/oci-creds.yaml")
    assert secret["metadata"]["annotations"][ALLOWED_NS] == "cert-manager,keycloak"


def test_missing_namespace_and_missing_flux_kustomization(make_repo):
    lay = make_repo()
    p = lay.overlay / "cert-manager/oci-creds.yaml"
    p.write_text(p.read_text().replace("  namespace: cert-manager\n", ""))
    code, _, err = run(lay)
    assert code == 1
    assert "cert-manager/oci-creds.yaml: has no metadata.namespace" in err
    (lay.overlay / "cert-manager/oci-creds.yaml").unlink()
    (lay.overlay / "flux-system/kustomization.yaml").unlink()
    code, _, err = run(lay)
    assert code == 1
    assert "flux-system/kustomization.yaml: missing" in err


def test_missing_sops_config(make_repo):
    lay = make_repo()
    (lay.root / ".sops.yaml").unlink()
    shutil.rmtree(lay.overlay / "apps/keycloak")  # only plaintext inputs: no key needed to read them
    err = refused(lay)
    assert "flux-system/oci-creds.yaml: no .sops.yaml found" in err


def test_consolidated_secret_api_returns_manifest_without_writing(make_repo):
    lay = make_repo()
    before = tree_digest(lay.root)
    manifest = consolidated_secret(lay.root, "acme", "prod-1")
    assert tree_digest(lay.root) == before
    assert manifest["metadata"]["annotations"][ALLOWED_NS] == "cert-manager,keycloak"
    assert creds_of(manifest) == CONFIG.as_dict()
    assert run(lay)[0] == 0
    assert consolidated_secret(lay.root, "acme", "prod-1") == load_secret(
        lay.overlay / "flux-system/oci-creds.yaml"
    )
    with pytest.raises(ConsolidationError, match="overlay not found"):
        consolidated_secret(lay.root, "acme", "missing")


def test_console_script_end_to_end(make_repo):
    lay = make_repo()
    exe = Path(sys.executable).parent / "consolidate-oci-creds"
    if not exe.exists():
        pytest.skip("console script not installed (pip install -e .)")
    env = {**os.environ}

    def console(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(exe), *args], capture_output=True, text=True, env=env, timeout=120, check=False
        )

    proc = console("acme", "prod-1", "--repo", str(lay.root))
    assert proc.returncode == 0, proc.stderr
    assert PASSWORD not in proc.stdout + proc.stderr
    bad = console("acme", "zzz", "--repo", str(lay.root))
    assert bad.returncode == 1
    assert bad.stderr.count("\n") == 1
    assert "Traceback" not in bad.stderr
