"""The remedies the runbooks prescribe ("Rotate credentials", "Manually create secret") or unambiguously
imply by a failed verification (correct the annotations, add the namespace, grant the RBAC)."""

from __future__ import annotations

from collections.abc import Callable

from kubernetes import client
from kubernetes.client.rest import ApiException

from chaos.context import ChaosContext
from chaos.faults.rbac_revoked import restore_rbac
from chaos.runbooks.base import TIMEOUT, Subject, list_entries, read_secret
from chaos.runbooks.patterns import regex_verdicts
from fixtures.systems.dialects.reflector import ALLOWED_NAMESPACES


def _fix_annotations(ctx: ChaosContext, subject: Subject) -> str:
    source = read_secret(ctx, subject.source, subject.source_ns)
    entries = list_entries((source.metadata.annotations or {}).get(ALLOWED_NAMESPACES))
    verdicts = regex_verdicts(entries, subject.target_ns)
    keep = [e for e in entries if verdicts.get(e) in ("match", "nomatch")]
    if not any(verdicts.get(e) == "match" for e in keep):
        keep.append(subject.target_ns)
    ctx.cluster.core.patch_namespaced_secret(
        subject.source, subject.source_ns, {"metadata": {"annotations": {ALLOWED_NAMESPACES: ",".join(keep)}}}
    )
    return f"removed the invalid entries from {ALLOWED_NAMESPACES} ({len(entries)} -> {len(keep)})"


def _add_namespace(ctx: ChaosContext, subject: Subject) -> str:
    source = read_secret(ctx, subject.source, subject.source_ns)
    entries = list_entries((source.metadata.annotations or {}).get(ALLOWED_NAMESPACES))
    ctx.cluster.core.patch_namespaced_secret(
        subject.source,
        subject.source_ns,
        {"metadata": {"annotations": {ALLOWED_NAMESPACES: ",".join([*entries, subject.target_ns])}}},
    )
    return f"added {subject.target_ns} to {ALLOWED_NAMESPACES}"


def _grant_rbac(ctx: ChaosContext, subject: Subject) -> str:
    out = restore_rbac(configuration=ctx.notes["configuration"], mark="restored_at")
    return f"re-applied the operator's RBAC from its manifests: {out['restored'] or 'nothing to restore'}"


def _rotate(ctx: ChaosContext, subject: Subject) -> str:
    assert ctx.workload is not None
    ctx.workload.update_sources([subject.source])
    return f"rotated {subject.source_ns}/{subject.source}"


def _manual_copy(ctx: ChaosContext, subject: Subject) -> str:
    """Copy the source into the namespace by hand, API to API (the data is never printed)."""
    source = read_secret(ctx, subject.source, subject.source_ns)
    body = client.V1Secret(
        metadata=client.V1ObjectMeta(name=subject.source), data=source.data, type=source.type
    )
    try:
        ctx.cluster.core.create_namespaced_secret(subject.target_ns, body, _request_timeout=TIMEOUT)
    except ApiException as exc:
        if exc.status != 409:
            raise
        ctx.cluster.core.replace_namespaced_secret(
            subject.source, subject.target_ns, body, _request_timeout=TIMEOUT
        )
    return f"created {subject.target_ns}/{subject.source} by hand with the source's current data"


REMEDIES: dict[str, tuple[str, Callable[[ChaosContext, Subject], str]]] = {
    "fix-annotations": ("correct the annotations", _fix_annotations),
    "add-namespace": ("add the namespace to the allowed list", _add_namespace),
    "grant-rbac": ("grant the missing permissions", _grant_rbac),
    "rotate-credentials": ("rotate the credentials", _rotate),
    "manual-copy": ("manually create the secret", _manual_copy),
}
