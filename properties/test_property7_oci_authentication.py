"""Property 7 end to end with the real programs: for any generated customer overlay, after
`consolidate-oci-creds`, a git push and Flux's reconciliation, flux-system holds exactly one
`oci-creds`, and every namespace it allows pulls its chart from the registry (Ready=True with the
newest chart), while namespaces of services without credentials get no copy.

Layouts come from Property 7's generator (forms, sops encryption, nesting, decoys, a pre-existing
consolidated file); their credentials are replaced by the real registry's and their namespaces by
run-id-prefixed ones. Few examples in dev/ci (each is a full GitOps round trip), more in nightly.
"""

from __future__ import annotations

import time
from dataclasses import replace

import allure
import pytest
from hypothesis import given, settings

from fixtures.core.record import record
from fixtures.services.flux import FLUX_NS
from oci.path import INTERVAL, GitOpsPath
from oci.stack import OciStack
from properties.strategies import gitops_layouts
from testing.consolidate import CredsSpec, DockerConfig, LayoutSpec

pytestmark = [
    pytest.mark.property,
    pytest.mark.cluster,
    allure.feature("reflector-deployment"),
    allure.story("Property 7: OCI Credentials Consolidation"),
]

EXAMPLES = {"dev": 1, "ci": 2, "nightly": 10}
BOUND = 60.0 + 3 * INTERVAL


def realize(spec: LayoutSpec, config: DockerConfig, names: dict[str, str]) -> LayoutSpec:
    """`spec` with every credential replaced by `config` and namespaces renamed by `names`."""

    def creds(c: CredsSpec | None) -> CredsSpec | None:
        return None if c is None else replace(c, config=config)

    services = tuple(replace(s, namespace=names[s.namespace], creds=creds(s.creds)) for s in spec.services)
    return replace(
        spec,
        services=services,
        existing=creds(spec.existing),
        existing_namespaces=tuple(names[n] for n in spec.existing_namespaces),
    )


@pytest.fixture(scope="module")
def gitops(oci_stack: OciStack) -> GitOpsPath:
    path = GitOpsPath(oci_stack, oci_stack.run_dir / "gitops-p7")
    path.push_chart()
    assert oci_stack.git is not None
    oci_stack.git.create_repo("fleet")
    return path


@settings(max_examples=EXAMPLES.get(settings.get_current_profile_name(), 2))
@given(layout=gitops_layouts(max_services=3, min_creds_services=1))
def test_every_allowed_namespace_authenticates_after_consolidation(
    gitops: GitOpsPath, oci_stack: OciStack, layout: LayoutSpec
) -> None:
    # Setup: real namespaces for the layout's, the registry's credentials in every file.
    cluster = oci_stack.cluster
    assert cluster is not None
    generated = sorted({s.namespace for s in layout.services} | set(layout.existing_namespaces))
    names = {ns: cluster.create_namespace("p7") for ns in generated}
    spec = realize(layout, gitops.credentials(), names)
    try:
        # Act: consolidate, push, point the Kustomization at this overlay, add the services' sources.
        version = gitops.push_chart()
        gitops.write_repository(spec)
        t0 = time.monotonic()
        gitops.commit(f"consolidate {spec.customer}/{spec.cluster}")
        if gitops.kustomization() is None:
            gitops.bootstrap_objects()
        gitops.apply_kustomization()
        allowed = spec.expected_namespaces()
        for ns in allowed:
            gitops.add_source(ns)

        # Assert: every allowed namespace pulls the new chart; one source; no copy elsewhere.
        latencies = gitops.wait_authenticated(allowed, version, timeout=BOUND, since=t0)
        assert gitops.flux_secret_names().count("oci-creds") == 1
        assert gitops.holders([FLUX_NS, *names.values()]) == sorted([FLUX_NS, *allowed])
        record("oci_property7", namespaces=len(allowed), seconds=sorted(latencies.values()))
    finally:
        for ns in names.values():
            cluster.delete_namespace(ns)
