"""The `oci_stack` fixture (imported by the oci/ and properties/ conftests): one private cluster
with registry, git server, Flux and the operator per test module (per xdist worker running it)."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from fixtures.errors import SetupError
from fixtures.implementations import Implementation
from fixtures.record import record
from oci.stack import OciStack


@pytest.fixture(scope="module")
def oci_stack(implementation_under_test: Implementation) -> Iterator[OciStack]:
    stack = OciStack(implementation_under_test, os.getpid())
    try:
        stack.start()
    except SetupError as exc:
        pytest.fail(str(exc), pytrace=False)
    record("oci_stack", timings={k: round(v, 3) for k, v in stack.timings.items()})
    try:
        yield stack
    finally:
        stack.stop()
