"""Errors raised by the consolidation tool. Every message is one user-facing line (no values)."""

from __future__ import annotations


class ConsolidationError(Exception):
    """A problem the user must fix; ``str(err)`` names the file and the fix. Nothing was changed."""


class ToolMissingError(ConsolidationError):
    """A required program (sops, age) is not installed or not on PATH."""


class CredentialConflictError(ConsolidationError):
    """Services carry different OCI credentials; the message lists services and registries only."""
