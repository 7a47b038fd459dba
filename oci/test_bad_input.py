"""Bad input on the GitOps path: each surfaces as one line naming the failing object with Flux's
own message, and nothing is half-applied (the last good credentials stay everywhere): a service
namespace the copy cannot reach, an age key that cannot decrypt, a file committed unencrypted."""

from __future__ import annotations

import base64
import secrets
import time

import allure
import pytest
import yaml
from kubernetes import client

from fixtures.clusters.admission import (
    DENIAL,
    allow_creates_of_secrets,
    create_refused,
    deny_creates_of_secrets_in,
)
from fixtures.core.errors import SetupError
from fixtures.core.redact import secret_view
from fixtures.core.waiting import eventually
from fixtures.services import flux
from fixtures.services.flux import FLUX_NS
from fixtures.systems.dialects.reflector import ALLOWED_NAMESPACES
from oci.path import CHART, CREDS, INTERVAL, REPO, GitOpsPath
from oci.stack import OciStack
from testing.consolidate import generate_age_key

pytestmark = [pytest.mark.cluster]


def _data(core: client.CoreV1Api, namespace: str) -> dict:
    """The Secret's type and per-key digests: compared like the data, shown without values."""
    return secret_view(core.read_namespaced_secret(CREDS, namespace))


@allure.feature("reflector-deployment")
@allure.story("OCI credentials end to end: bad input")
def test_bad_input_surfaces_in_one_line_and_changes_nothing(oci_stack: OciStack) -> None:
    # Setup: one service authenticated through the path.
    cluster, _ = oci_stack.started()
    services = [cluster.create_namespace("bad")]
    path = GitOpsPath(oci_stack, oci_stack.run_dir / "gitops-bad")
    path.bring_up(services)

    # Bad input 1: a service namespace the copy cannot reach (every Secret create there is refused).
    walled = cluster.create_namespace("walled")
    path.add_source(walled)  # its registry CA Secret first: the policy refuses every Secret create
    policy = f"{walled}-deny"
    deny_creates_of_secrets_in(cluster.api, walled, policy)
    try:
        unreachable_namespace_is_named(path, services, walled)
    finally:
        allow_creates_of_secrets(cluster.api, policy)
    before = {ns: _data(cluster.core, ns) for ns in [FLUX_NS, *services]}

    # Bad input 2: the cluster's age key cannot decrypt the committed file (key replaced).
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

    # Bad input 3: a consolidated file committed unencrypted is refused before it reaches git.
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


def unreachable_namespace_is_named(path: GitOpsPath, services: list[str], walled: str) -> None:
    """Credentials listing `walled` are applied whole; the copy there fails and one line names the
    namespace, its OCIRepository, the missing Secret, Flux's message and the refusal; the other
    services keep authenticating with fresh pulls."""
    cluster = path.cluster

    def enforced() -> None:
        assert DENIAL in (create_refused(cluster.api, walled) or ""), (
            f"Secret creates in {walled} still allowed"
        )

    eventually(enforced, timeout=30, description="the admission policy to be enforced")
    path.write_repository(path.simple_layout([*services, walled]))
    sha = path.commit("credentials for a namespace the copy cannot reach")
    version = path.push_chart()
    since = time.monotonic()

    def applied() -> None:
        obj = path.kustomization()
        revision = ((obj or {}).get("status") or {}).get("lastAppliedRevision", "")
        assert flux.ready_condition(obj).get("status") == "True", flux.describe(obj)
        assert revision.endswith(sha), f"applied {revision or 'nothing'}, pushed {sha}"

    eventually(applied, timeout=30, description="the Kustomization to apply the new revision")
    path.wait_authenticated(services, version, timeout=60 + 3 * INTERVAL, since=since)

    def diagnosed() -> tuple[str, str]:
        cond = flux.ready_condition(path.source(walled))
        message = " ".join(str(cond.get("message", "")).split())
        assert cond.get("status") == "False", flux.describe(path.source(walled))
        assert f'"{CREDS}" not found' in message, flux.describe(path.source(walled))
        return path.copy_diagnosis(walled), message

    line, message = eventually(
        diagnosed, timeout=30, description=f"Flux to report the missing Secret in {walled}"
    )
    allure.attach(line, "namespace the copy cannot reach", allure.attachment_type.TEXT)
    assert "\n" not in line, line
    for part in (
        f"{walled}: ",
        f"OCIRepository {walled}/{CHART} Ready=False",
        message,
        f"Secret {walled}/{CREDS}",
        "is missing",
        DENIAL,
    ):
        assert part in line, f"{part!r} not in: {line}"

    # Nothing half-applied: flux-system/oci-creds whole (walled listed), every other copy equal to it.
    source = cluster.core.read_namespaced_secret(CREDS, FLUX_NS)
    allowed = (source.metadata.annotations or {}).get(ALLOWED_NAMESPACES, "").split(",")
    assert set(allowed) >= {*services, walled}, f"{FLUX_NS}/{CREDS} allows {allowed}"
    differing = [ns for ns in services if _data(cluster.core, ns)["data"] != secret_view(source)["data"]]
    assert not differing, f"copies differ from {FLUX_NS}/{CREDS} in {differing}"  # no values shown
    assert path.holders([walled]) == [], f"a copy reached {walled} despite the refusal"
