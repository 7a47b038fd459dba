"""Property 7 feeding Property 5: the consolidated Secret, decrypted and applied with the bundled
operator running, yields copies in exactly the services' namespaces."""

from __future__ import annotations

from pathlib import Path

import allure
import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException

from fixtures.clusters.cluster import Cluster, NamespaceFactory
from fixtures.core.encoding import b64
from fixtures.core.waiting import assert_mapping_equal, eventually
from operator_under_test.consolidate import consolidated_secret
from testing.consolidate import (
    CredsSpec,
    DockerConfig,
    LayoutSpec,
    Registry,
    ServiceSpec,
    age_identity_fixture,
    age_key_env,
    run_cli,
    write_layout,
)

FLUX_NS = "flux-system"
SLO = 60.0  # the design's Property 6 bound


def _to_api_body(manifest: dict) -> client.V1Secret:
    data = {k: b64(v) for k, v in (manifest.get("stringData") or {}).items()}
    data.update(manifest.get("data") or {})
    meta = manifest["metadata"]
    return client.V1Secret(
        metadata=client.V1ObjectMeta(name=meta["name"], annotations=meta["annotations"]),
        type=manifest["type"],
        data=data,
    )


age_identity = age_identity_fixture("function", "p7-e2e-age-")


@allure.feature("reflector-deployment")
@allure.story("Property 7: OCI Credentials Consolidation")
@pytest.mark.property
@pytest.mark.usefixtures("operator")
def test_consolidated_secret_replicates_to_exactly_the_service_namespaces(
    cluster: Cluster, namespaces: NamespaceFactory, tmp_path: Path, age_identity: tuple[Path, str]
) -> None:
    # Setup: three services with credentials (one sops-encrypted), one without, one bystander ns.
    key, pub = age_identity
    svc = [namespaces("svc") for _ in range(3)]
    no_creds, bystander = namespaces("nocreds"), namespaces("bystander")
    config = DockerConfig((Registry("ghcr.io", "opencenter-bot", "e2e-not-a-real-password"),))
    spec = LayoutSpec(
        "acme",
        "e2e",
        (
            ServiceSpec("cert-manager", svc[0], CredsSpec(config)),
            ServiceSpec("apps/keycloak", svc[1], CredsSpec(config, form="data", encrypted=True)),
            ServiceSpec("metallb", svc[2], CredsSpec(config)),
            ServiceSpec("kyverno", no_creds, None),
        ),
    )
    layout = write_layout(tmp_path / "repo", spec, pub)

    # Act: consolidate, decrypt, apply the single source to flux-system.
    with age_key_env(key):
        code, _, err = run_cli(["acme", "e2e", "--repo", str(layout.root)])
        assert code == 0, err
        manifest = consolidated_secret(layout.root, "acme", "e2e")
    if FLUX_NS not in {ns.metadata.name for ns in cluster.core.list_namespace().items}:
        cluster.create_namespace(name=FLUX_NS)
        namespaces.created.append(FLUX_NS)
    source = cluster.core.create_namespaced_secret(FLUX_NS, _to_api_body(manifest))
    try:
        # Assert: copies in exactly the service namespaces, identical data and type.
        def copies() -> None:
            found = {}
            for ns in [*svc, no_creds, bystander]:
                try:
                    found[ns] = cluster.core.read_namespaced_secret("oci-creds", ns)
                except ApiException as exc:
                    if exc.status != 404:
                        raise
            want = {"type": source.type, "data": source.data}
            assert_mapping_equal(
                {ns: want for ns in svc},
                {ns: {"type": s.type, "data": s.data} for ns, s in found.items()},
                "namespace",
            )

        eventually(copies, timeout=SLO, description="copies of oci-creds in the service namespaces")
    finally:
        cluster.core.delete_namespaced_secret("oci-creds", FLUX_NS)
