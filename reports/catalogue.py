"""What the certification promises, in words: the properties' statements and the C1-C21 titles.

The page quotes them so a reader does not need the seed or the reference to know what was checked.
Statements are quoted verbatim from the seed (000, "Correctness Properties"); behaviour titles are
those of reflector-semantics.md §6. Kept here, in the repository, because CI runs on a clean clone
that has neither file.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PropertyText:
    title: str
    statement: str
    validates: str


PROPERTY_TEXT: dict[str, PropertyText] = {
    "5": PropertyText(
        "Secret Replication Consistency",
        "For any namespace in the Reflector allowed list, when the source oci-creds secret exists in "
        "flux-system, a replicated secret with identical content should exist in that namespace with "
        "the same name.",
        "Requirements 7.1, 7.4",
    ),
    "6": PropertyText(
        "Secret Replication Timeliness",
        "For any update to the source oci-creds secret in flux-system, all replicated secrets in "
        "allowed namespaces should be updated to match within 60 seconds.",
        "Requirements 7.2",
    ),
    "7": PropertyText(
        "OCI Credentials Consolidation",
        "For any cluster after OCI consolidation, exactly one oci-creds.yaml file should exist in the "
        "flux-system namespace, and zero oci-creds.yaml files should exist in service directories.",
        "Requirements 6.1, 6.6, 10.2",
    ),
    "11": PropertyText(
        "Reflector Namespace Replication",
        "For any new namespace added to the reflection-allowed-namespaces annotation, the Reflector "
        "should replicate the oci-creds secret to that namespace.",
        "Requirements 7.3",
    ),
}

BEHAVIOUR_TITLES: dict[str, str] = {
    "C1": "allowed-only source (no auto-enabled)",
    "C2": "allowed + auto-enabled, explicit list",
    "C3": "list whitespace, empty entries",
    "C4": "regex semantics",
    "C5": "empty or missing allowed list",
    "C6": "boolean spellings",
    "C7": "source data update",
    "C8": "namespace created after the source",
    "C9": "namespace added to / removed from the allowed list",
    "C10": "auto-enabled toggled off",
    "C11": "source deleted",
    "C12": "copy deleted by hand",
    "C13": "copy data edited by hand",
    "C14": "pre-existing unrelated same-name Secret",
    "C15": "same name used as independent sources in several namespaces",
    "C16": "source namespace inside its own list, then list narrowed",
    "C17": "Secret types",
    "C18": "metadata on copies",
    "C19": "ConfigMaps",
    "C20": "excluded namespaces (configuration)",
    "C21": "Helm release Secrets",
}
