"""The Pod variants of "kill the operator" (chaosk8s pod deletion, kind and nodes) against a real API
server without nodes.

The local provider without nodes runs no pods, but the API accepts Pod objects: an unscheduled Pod
labelled like the operator's is deleted through exactly the code path the Pod variants use (chaosk8s
with the least-privilege chaos-runner token, never a kubeconfig), and the audit log shows who
deleted it. (The nodes variant deletes real Pods the same way: chaos/test_kill_operator.py.)
"""

from __future__ import annotations

import pytest
from kubernetes import client

from chaos import audit
from chaos.conftest import EnvFactory
from chaos.context import OPERATOR_NAMESPACE
from chaos.faults.pods import CHAOS_RUNNER_NS, CHAOS_RUNNER_SA, delete_pods
from fixtures.core.waiting import eventually
from fixtures.systems.dialects.reflector import ReflectorDialectSystem

pytestmark = [pytest.mark.chaos, pytest.mark.slow]


def test_chaosk8s_pod_deletion_uses_explicit_least_privilege_credentials(
    implementation_under_test: ReflectorDialectSystem, chaos_env: EnvFactory
) -> None:
    ctx = chaos_env()
    pod = client.V1Pod(
        metadata=client.V1ObjectMeta(
            name="decoy-operator-pod", labels={"app.kubernetes.io/name": "replicheck-replicator"}
        ),
        spec=client.V1PodSpec(containers=[client.V1Container(name="c", image="registry.invalid/none:0")]),
    )

    def create() -> None:  # the ServiceAccount admission needs the namespace's default ServiceAccount
        try:
            ctx.cluster.core.create_namespaced_pod(OPERATOR_NAMESPACE, pod)
        except client.ApiException as exc:
            raise AssertionError(f"pod create: {exc.status}") from None

    eventually(create, timeout=30, description="the decoy pod to be created")
    out = delete_pods(ctx, "decoy-operator-pod")
    assert out["deleted_pods"] == ["decoy-operator-pod"]
    names = [p.metadata.name for p in ctx.cluster.core.list_namespaced_pod(OPERATOR_NAMESPACE).items]
    assert "decoy-operator-pod" not in names
    with pytest.raises(AssertionError, match="chaosk8s deleted no pod"):
        delete_pods(ctx, "decoy-operator-pod")  # chaosk8s itself returns [] silently; the action must not
    events = audit.read(ctx.cluster.audit_log)
    deleters = {e.user for e in events if e.verb == "delete" and e.resource == "pods"}
    # The audit policy records the ServiceAccounts of the systems' namespaces only; the runner lives
    # elsewhere, so its requests are not in the log, and the operator's ServiceAccount deleted nothing
    # (of its requests, which the log must show: none seen would prove nothing).
    operator = f"system:serviceaccount:{OPERATOR_NAMESPACE}:replicheck-replicator"
    audit.require_requests(events, "the operator deleted no pod", operator, "of this private cluster")
    assert operator not in deleters
    assert ctx.saved["chaos_runner_secrets"]["KUBERNETES_API_KEY"]
    review = client.AuthorizationV1Api(ctx.cluster.api).create_subject_access_review(
        client.V1SubjectAccessReview(
            spec=client.V1SubjectAccessReviewSpec(
                user=f"system:serviceaccount:{CHAOS_RUNNER_NS}:{CHAOS_RUNNER_SA}",
                resource_attributes=client.V1ResourceAttributes(
                    verb="delete", resource="secrets", namespace="default"
                ),
            )
        )
    )
    assert review.status.allowed is False, "the chaos runner may delete operator pods and nothing else"
