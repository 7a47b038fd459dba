"""Bad input on the GitOps path: each surfaces as one line naming the failing object with Flux's
own message, and nothing is half-applied (the last good credentials stay everywhere)."""

from __future__ import annotations

import base64
import secrets
import time

import allure
import pytest
import yaml
from kubernetes import client

from fixtures import flux
from fixtures.errors import SetupError
from fixtures.flux import FLUX_NS
from fixtures.waiting import eventually
from oci.path import CREDS, INTERVAL, REPO, GitOpsPath
from oci.stack import OciStack
from testing.consolidate import generate_age_key

pytestmark = [pytest.mark.cluster]


def _data(core: client.CoreV1Api, namespace: str) -> dict:
    return core.read_namespaced_secret(CREDS, namespace).data or {}


@allure.feature("reflector-deployment")
@allure.story("OCI credentials end to end: bad input")
def test_undecryptable_or_unencrypted_credentials_change_nothing(oci_stack: OciStack) -> None:
    # Setup: one service authenticated through the path.
    cluster, registry = oci_stack.cluster, oci_stack.registry
    assert cluster is not None
    assert registry is not None
    services = [cluster.create_namespace("bad")]
    path = GitOpsPath(oci_stack, oci_stack.run_dir / "gitops-bad")
    version = path.push_chart()
    path.write_repository(path.simple_layout(services))
    path.bootstrap()
    path.add_source(services[0])
    path.wait_authenticated(services, version, timeout=60 + 3 * INTERVAL, since=time.monotonic())
    before = {ns: _data(cluster.core, ns) for ns in [FLUX_NS, *services]}

    # Bad input 1: the cluster's age key cannot decrypt the committed file (key replaced).
    other_key, _ = generate_age_key(path.work / "other-age")
    cluster.core.patch_namespaced_secret(
        "sops-age", FLUX_NS, {"data": {"age.agekey": base64.b64encode(other_key.read_bytes()).decode()}}
    )
    path.write_credentials(secrets.token_urlsafe(18))
    path.commit("credentials the cluster cannot decrypt")

    def refused() -> str:
        obj = path.kustomization()
        cond = flux.ready_condition(obj)
        assert cond.get("status") == "False", flux.describe(obj)
        assert "decrypt" in cond.get("message", "").lower(), flux.describe(obj)
        return flux.describe(obj)

    line = eventually(refused, timeout=30, description="the Kustomization to fail decryption")
    assert "\n" not in line
    assert "Kustomization flux-system/oci-creds Ready=False" in line
    allure.attach(line, "undecryptable", allure.attachment_type.TEXT)
    assert {ns: _data(cluster.core, ns) for ns in before} == before, "a failed decryption changed a Secret"

    # Bad input 2: a consolidated file committed unencrypted is refused before it reaches git.
    plaintext = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": CREDS, "namespace": FLUX_NS},
        "type": "kubernetes.io/dockerconfigjson",
        "stringData": {".dockerconfigjson": path.credentials("plaintext-" + secrets.token_hex(4)).text()},
    }
    path.creds_file.write_text(yaml.safe_dump(plaintext))
    head = path.stack.git.head(REPO) if path.stack.git else None
    with pytest.raises(SetupError, match=r"flux-system/oci-creds\.yaml: not sops-encrypted"):
        path.commit("plaintext credentials")
    assert path.stack.git is not None
    assert path.stack.git.head(REPO) == head, "the plaintext commit reached the git server"
    assert {ns: _data(cluster.core, ns) for ns in before} == before
