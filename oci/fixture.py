"""The `oci_stack` fixture (imported by the oci/ and properties/ conftests): one private cluster
with registry, git server, Flux and the operator per test module (per xdist worker running it)."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from fixtures.clusters.cluster import new_run_id
from fixtures.clusters.providers import ProviderChoice, private_plane
from fixtures.core.errors import SetupError
from fixtures.core.record import record
from fixtures.systems.dialects.reflector import ReflectorDialectSystem
from oci.stack import OciStack


@pytest.fixture(scope="module")
def oci_stack(
    implementation_under_test: ReflectorDialectSystem, provider_choice: ProviderChoice
) -> Iterator[OciStack]:
    offer = private_plane(provider_choice, new_run_id(), os.getpid())
    if offer.provider is None:
        pytest.skip(offer.unusable or "no private cluster")
    stack = OciStack(implementation_under_test, offer.provider)
    try:
        stack.start()
    except SetupError as exc:
        pytest.fail(str(exc), pytrace=False)
    record("oci_stack", timings={k: round(v, 3) for k, v in stack.timings.items()})
    try:
        yield stack
    finally:
        stack.stop()
