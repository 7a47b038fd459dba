"""Fixtures of the OCI end-to-end tests (see fixture.py)."""

from oci.fixture import oci_nodes_stack, oci_stack

__all__ = ["oci_nodes_stack", "oci_stack"]
