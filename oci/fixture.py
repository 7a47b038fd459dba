"""The OCI stacks (imported by the oci/ and properties/ conftests): one private cluster with
registry, git server, Flux and the operator per test module (per xdist worker running it).

``oci_stack``: the control plane alone, the operator as local processes. ``oci_nodes_stack``: two
real nodes, the registry trusted by them, and the operator left to be deployed by a HelmRelease
(oci/releases.py); where nodes or the image tools cannot run here, it skips with the one line that
says why and names the fix (``make nodes``)."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from fixtures.clusters.cluster import new_run_id
from fixtures.clusters.local import LocalProvider
from fixtures.clusters.nodes.support import pods_unusable_reason
from fixtures.clusters.providers import NODES, ProviderChoice, private_cluster, private_plane
from fixtures.core.errors import SetupError
from fixtures.core.record import record
from fixtures.systems.dialects.reflector import ReflectorDialectSystem
from fixtures.systems.packaging import PythonPackage
from oci.stack import OciStack


def _started(stack: OciStack, what: str) -> Iterator[OciStack]:
    try:
        stack.start()
    except SetupError as exc:
        pytest.fail(str(exc), pytrace=False)
    record(what, timings={k: round(v, 3) for k, v in stack.timings.items()})
    try:
        yield stack
    finally:
        stack.stop()


@pytest.fixture(scope="module")
def oci_stack(
    implementation_under_test: ReflectorDialectSystem, provider_choice: ProviderChoice
) -> Iterator[OciStack]:
    offer = private_plane(provider_choice, new_run_id(), os.getpid())
    if offer.provider is None:
        pytest.skip(offer.unusable or "no private cluster")
    yield from _started(OciStack(implementation_under_test, offer.provider), "oci_stack")


@pytest.fixture(scope="module")
def oci_nodes_stack(
    implementation_under_test: ReflectorDialectSystem, provider_choice: ProviderChoice
) -> Iterator[OciStack]:
    packaging = implementation_under_test.packaging
    if not isinstance(packaging, PythonPackage) or packaging.chart is None or packaging.image_spec is None:
        pytest.skip(
            f"{implementation_under_test.name} has no image and Helm chart of its own to deploy by a "
            "HelmRelease (a controller you bring runs from your binary)"
        )
    reason = pods_unusable_reason()
    if reason:
        pytest.skip(f"HelmReleases need Pods on real nodes: {reason}")
    offer = private_cluster(provider_choice, NODES, new_run_id(), os.getpid())
    if offer.provider is None:
        pytest.skip(offer.unusable or "no private cluster with nodes")
    assert isinstance(offer.provider, LocalProvider)
    stack = OciStack(implementation_under_test, offer.provider, on_nodes=True)
    yield from _started(stack, "oci_nodes_stack")
