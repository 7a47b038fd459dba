"""A ConfigMap write the API server refuses for real, and the operator's attempts at it as the API
server's audit log records them.

The refusal is a ValidatingAdmissionPolicy (CEL) with its binding, enforced by the API server itself
for every client: one ConfigMap name, some operations, in one namespace (bound by the namespace's
``kubernetes.io/metadata.name`` label, so nothing else in the cluster is touched). A policy takes a
moment to reach the API server's admission chain; :meth:`Refusal.wait_enforced` asks with a
server-side dry run (nothing is written) until it bites.

The attempts are read from the local control plane's audit log (metadata only: who, verb, resource,
namespace, name, response code and the time the API server received the request; fixtures/clusters/local.py
``AUDIT_POLICY``), from the offset it had when the :class:`AuditTrail` was opened, for one user (the
operator's ServiceAccount).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from kubernetes import client
from kubernetes.client.rest import ApiException

from chaos import audit
from fixtures.core.waiting import eventually

DENIAL = "replicheck: this ConfigMap write is refused on purpose"


@dataclass
class Refusal:
    """Refuse ``operations`` (CREATE, UPDATE, DELETE) of ConfigMap ``name`` in ``namespace``."""

    api: client.ApiClient
    policy: str  # name of the cluster-scoped policy and binding
    namespace: str
    name: str
    operations: tuple[str, ...]
    active: bool = field(default=False, init=False)

    @property
    def admission(self) -> client.AdmissionregistrationV1Api:
        return client.AdmissionregistrationV1Api(self.api)

    def apply(self) -> None:
        rule = {
            "apiGroups": [""],
            "apiVersions": ["v1"],
            "operations": list(self.operations),
            "resources": ["configmaps"],
        }
        # DELETE has no `object`, only `oldObject`; CREATE has only `object`.
        target = "request.operation == 'DELETE' ? oldObject.metadata.name : object.metadata.name"
        self.active = True  # from here on, lift() has something to remove
        self.admission.create_validating_admission_policy(
            {
                "apiVersion": "admissionregistration.k8s.io/v1",
                "kind": "ValidatingAdmissionPolicy",
                "metadata": {"name": self.policy},
                "spec": {
                    "failurePolicy": "Fail",
                    "matchConstraints": {"resourceRules": [rule]},
                    "validations": [
                        {
                            "expression": f"({target}) != '{self.name}'",
                            "message": DENIAL,
                            "reason": "Forbidden",
                        }
                    ],
                },
            }
        )
        self.admission.create_validating_admission_policy_binding(
            {
                "apiVersion": "admissionregistration.k8s.io/v1",
                "kind": "ValidatingAdmissionPolicyBinding",
                "metadata": {"name": self.policy},
                "spec": {
                    "policyName": self.policy,
                    "validationActions": ["Deny"],
                    "matchResources": {
                        "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": self.namespace}}
                    },
                },
            }
        )

    def lift(self) -> None:
        """Remove the binding and the policy (idempotent)."""
        if not self.active:
            return
        for delete in (
            self.admission.delete_validating_admission_policy_binding,
            self.admission.delete_validating_admission_policy,
        ):
            try:
                delete(self.policy)
            except ApiException as exc:
                if exc.status != 404:
                    raise
        self.active = False

    def probe(self, core: client.CoreV1Api) -> str | None:
        """Why a dry-run write of the refused kind is refused now (None: it is allowed)."""
        try:
            if "DELETE" in self.operations:
                core.delete_namespaced_config_map(self.name, self.namespace, dry_run="All")
            else:
                body = client.V1ConfigMap(metadata=client.V1ObjectMeta(name=self.name))
                core.create_namespaced_config_map(self.namespace, body, dry_run="All")
        except ApiException as exc:
            if exc.status == 403 and DENIAL in (exc.body or ""):
                return DENIAL
            raise
        return None

    def wait_enforced(self, core: client.CoreV1Api, timeout: float) -> None:
        def enforced() -> None:
            assert self.probe(core), f"the policy {self.policy} does not refuse writes yet"

        where = f"{self.namespace}/{self.name}"
        eventually(enforced, timeout=timeout, description=f"the policy refusing {self.operations} of {where}")


@dataclass
class AuditTrail:
    """The audit log's requests of one user, written after the trail was opened."""

    path: Path
    user: str
    offset: int = 0

    @classmethod
    def from_now(cls, path: Path, user: str) -> AuditTrail:
        return cls(path, user, path.stat().st_size if path.exists() else 0)

    def requests(self) -> list[audit.AuditEvent]:
        """Every request of the user since the trail was opened, oldest first (complete lines only;
        the log is not expected to rotate within a test: it rotates at 200 MB)."""
        if not self.path.exists():
            return []
        with open(self.path, "rb") as fh:
            fh.seek(self.offset)
            text = fh.read().decode(errors="replace")
        lines = text.split("\n")[:-1]  # the last piece is empty or a line being written
        return [e for e in audit.parse(lines) if e.user == self.user]

    def attempts(self, verb: str, namespace: str) -> list[audit.AuditEvent]:
        """The user's ``verb`` requests on ConfigMaps in ``namespace``."""
        return [
            e
            for e in self.requests()
            if e.verb == verb and e.resource == "configmaps" and e.namespace == namespace
        ]
