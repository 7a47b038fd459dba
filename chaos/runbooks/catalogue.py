"""The five "Error Handling" runbooks of the design as data: each step's text *as written* in the seed,
the check that carries it out, its kind, and the remedy it prescribes or implies (pure data).

This is the one list of each runbook's steps. A step names its check; every setup that carries a
runbook out supplies that check under the same name: the chaos experiments' cluster
(``checks.CHECKS``, every runbook), the OCI stack (``checks.OCI_CHECKS``, "Authentication
Failure" against a real registry and Flux, run by oci/runbook.py) and the operator deployed by a
Flux HelmRelease on real nodes (``checks.RELEASE_CHECKS``, "Pod Not Running" and "Authentication
Failure" against the HelmRelease and its Pods, oci/test_runbook_pod_not_running.py)."""

from __future__ import annotations

from dataclasses import dataclass

SEED = "shared/seeds/000_aefa967825fe900c.txt"


@dataclass(frozen=True)
class Step:
    number: int
    text: str  # verbatim from the seed
    check: str  # name of the function in CHECKS
    kind: str  # query | log-search | access-review | alert | remedy
    remedy: str | None = None  # REMEDIES key: prescribed (kind == "remedy") or implied by a failed check


@dataclass(frozen=True)
class Runbook:
    title: str
    section: str
    trigger: str
    steps: tuple[Step, ...]

    def remedy_step(self) -> Step | None:
        return next((s for s in self.steps if s.kind == "remedy"), None)


RUNBOOKS: dict[str, Runbook] = {
    rb.title: rb
    for rb in (
        Runbook(
            "Pod Not Running",
            "Reflector Failures",
            "If Reflector pod is not running",
            (
                Step(1, "Check pod status: `kubectl get pods -n reflector-system`", "pod_status", "query"),
                Step(
                    2,
                    "Check pod logs: `kubectl logs -n reflector-system deploy/reflector`",
                    "pod_logs",
                    "log-search",
                ),
                Step(
                    3,
                    "Check HelmRelease status: `kubectl get helmrelease -n reflector-system reflector`",
                    "helmrelease_status",
                    "query",
                ),
                Step(4, "Alert platform team if pod is crash-looping", "crash_looping", "alert"),
            ),
        ),
        Runbook(
            "Replication Lag",
            "Reflector Failures",
            "If secret replication takes longer than 60 seconds",
            (
                Step(1, "Check Reflector logs for errors", "logs_for_errors", "log-search"),
                Step(
                    2,
                    "Verify source secret has correct annotations",
                    "annotations_correct",
                    "query",
                    remedy="fix-annotations",
                ),
                Step(3, "Verify target namespace exists", "target_namespace_exists", "query"),
                Step(
                    4,
                    "Verify target namespace is in allowed list",
                    "target_in_allowed_list",
                    "query",
                    remedy="add-namespace",
                ),
                Step(5, "Alert if lag exceeds 5 minutes", "lag_alert", "alert"),
            ),
        ),
        Runbook(
            "Replication Failure",
            "Reflector Failures",
            "If secret is not replicated to target namespace",
            (
                Step(
                    1,
                    "Verify source secret exists: `kubectl get secret oci-creds -n flux-system`",
                    "source_exists",
                    "query",
                ),
                Step(
                    2,
                    "Verify Reflector annotations are correct",
                    "annotations_correct",
                    "query",
                    remedy="fix-annotations",
                ),
                Step(
                    3,
                    "Verify target namespace is in allowed list",
                    "target_in_allowed_list",
                    "query",
                    remedy="add-namespace",
                ),
                Step(
                    4,
                    "Check Reflector RBAC permissions",
                    "operator_rbac",
                    "access-review",
                    remedy="grant-rbac",
                ),
                Step(
                    5,
                    "Check Reflector logs for permission errors",
                    "logs_permission_errors",
                    "log-search",
                    remedy="grant-rbac",
                ),
            ),
        ),
        Runbook(
            "Authentication Failure",
            "OCI Credentials Failures",
            "If HelmRelease fails with authentication error",
            (
                Step(1, "Verify oci-creds secret exists in service namespace", "copy_exists", "query"),
                Step(
                    2, "Verify secret content is valid Docker config JSON", "copy_is_docker_config", "query"
                ),
                Step(3, "Verify credentials are not expired", "credentials_not_expired", "query"),
                Step(4, "Verify OCI registry is accessible", "registry_accessible", "query"),
                Step(5, "Rotate credentials if compromised", "remedy", "remedy", remedy="rotate-credentials"),
            ),
        ),
        Runbook(
            "Missing Secret",
            "OCI Credentials Failures",
            "If oci-creds secret is missing from service namespace",
            (
                Step(1, "Verify source secret exists in flux-system", "source_exists", "query"),
                Step(2, "Verify Reflector is running", "operator_running", "query"),
                Step(
                    3,
                    "Verify namespace is in allowed list",
                    "target_in_allowed_list",
                    "query",
                    remedy="add-namespace",
                ),
                Step(
                    4,
                    "Manually create secret as temporary workaround",
                    "remedy",
                    "remedy",
                    remedy="manual-copy",
                ),
                Step(5, "Investigate Reflector logs", "logs_for_errors", "log-search"),
            ),
        ),
    )
}

# What a reader of each runbook would need to notice a cause it has no step for (used in findings).
MISSING_CHECK = {
    "auto-disabled": "no step checks reflection-auto-enabled (the design's data model omits it, and "
    "without it Reflector creates no copies)",
    "pathological-pattern": "no step evaluates how expensive a pattern is (it is valid, so 'annotations "
    "correct' passes) and no step looks at the controller itself (/healthz, metrics, CPU)",
    "rbac": "no step compares the copy with the source or looks at the replicator and its RBAC",
    "operator-restarted": "no step explains a restart (exit code, last state)",
    "apiserver-unavailable": "no step looks at the API server's availability",
    "invalid-annotation": "no step validates the annotation values",
    "operator-down": "no step checks that the replicator runs",
    "namespace-not-allowed": "no step checks the allowed list",
}
