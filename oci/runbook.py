"""Seed 000's runbook "Authentication Failure" carried out against the OCI stack for one service
namespace: the steps are the runbook catalogue's (chaos/runbooks/catalogue.py), each carried out by the
OCI stack's check of that step (``OCI_CHECKS`` in chaos/runbooks/checks.py) and run by the runbook
engine, so they answer in the engine's one vocabulary (chaos/runbooks/base.py): ``ok``, ``problem``,
``cannot-check`` (a login cannot be judged when the registry does not answer), ``remedy`` (step 5,
not applied here).

This module only adapts: which Secret (``flux-system/oci-creds``'s copy in the service namespace),
which registry, and a summary for assertion messages. The first step that finds a problem is the
diagnosis, so a stopped registry is blamed on step 4, not on the credentials. Secret values never
appear in a result.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kubernetes import client

from chaos.runbooks.base import PROBLEM, Subject
from chaos.runbooks.checks import OCI_CHECKS, RegistrySite
from chaos.runbooks.engine import carry_out, identifying
from fixtures.services.flux import FLUX_NS
from fixtures.services.oci_registry import OciRegistry

TITLE = "Authentication Failure"
CREDS = "oci-creds"


@dataclass(frozen=True)
class Diagnosis:
    """The catalogue's steps as the engine carried them out for one service namespace."""

    namespace: str
    steps: tuple[dict[str, Any], ...]

    @property
    def first_problem_step(self) -> int | None:
        return next((s["step"] for s in self.steps if s["status"] == PROBLEM), None)

    def identifying_step(self, cause: str) -> int | None:
        """The step that identifies ``cause``, as the engine judges a chaos runbook run."""
        found = identifying(list(self.steps), cause)
        return found["step"] if found else None

    def status(self, number: int) -> str:
        return next(s["status"] for s in self.steps if s["step"] == number)

    def summary(self) -> str:
        first = self.first_problem_step
        found = f"step {first} found a problem" if first else "no step found a problem"
        head = f"{self.namespace}: {found}"
        return "\n".join(
            [head, *(f"step {s['step']} ({s['text']}): {s['status']}: {s['evidence']}" for s in self.steps)]
        )


def run(core: client.CoreV1Api, namespace: str, registry: OciRegistry, secret: str = CREDS) -> Diagnosis:
    site = RegistrySite(core, registry)
    subject = Subject(FLUX_NS, secret, namespace)
    return Diagnosis(namespace, tuple(carry_out(TITLE, lambda step: OCI_CHECKS[step.check](site, subject))))
