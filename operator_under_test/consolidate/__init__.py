"""Consolidate per-service OCI pull secrets into one Reflector source (Property 7 tool).

Public API::

    from operator_under_test.consolidate import consolidated_secret, consolidate, plan_consolidation

    manifest = consolidated_secret(repo, "acme", "prod-1")  # decrypted Secret dict, nothing written
    plan = consolidate(repo, "acme", "prod-1", dry_run=True)  # plan.diff() is redacted
"""

from .core import (
    ALLOWED,
    ALLOWED_NS,
    AUTO,
    FileChange,
    Plan,
    apply_plan,
    consolidate,
    consolidated_secret,
    load_secret,
    plan_consolidation,
)
from .errors import ConsolidationError, CredentialConflictError, ToolMissingError

__all__ = [
    "ALLOWED",
    "ALLOWED_NS",
    "AUTO",
    "ConsolidationError",
    "CredentialConflictError",
    "FileChange",
    "Plan",
    "ToolMissingError",
    "apply_plan",
    "consolidate",
    "consolidated_secret",
    "load_secret",
    "plan_consolidation",
]
