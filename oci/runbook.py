"""Seed 000's runbooks carried out against the OCI stack, the steps always the runbook catalogue's
(chaos/runbooks/catalogue.py) run by the runbook engine, so they answer in its one vocabulary
(chaos/runbooks/base.py):

* "Authentication Failure" for one service namespace, each step carried out by the OCI stack's check
  (``OCI_CHECKS`` in chaos/runbooks/checks.py): ``ok``, ``problem``, ``cannot-check`` (a login cannot
  be judged when the registry does not answer), ``remedy`` (step 5, applied by the test if at all);
* "Pod Not Running" for the operator deployed by its HelmRelease on the nodes' stack, each step
  carried out with the real kubectl against that HelmRelease and its Pods (``RELEASE_CHECKS``).

This module only adapts: which Secret (``flux-system/oci-creds``'s copy in the service namespace),
which registry, which HelmRelease and Pods, a summary for assertion messages, and the ``runbook``
record the report's runbook findings show. The first step that finds a problem is the diagnosis, so
a stopped registry is blamed on step 4, not on the credentials. Secret values never appear in a
result.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kubernetes import client

from chaos.context import PodOperator
from chaos.runbooks.base import ALERT, PROBLEM, Subject
from chaos.runbooks.checks import OCI_CHECKS, RELEASE_CHECKS, RegistrySite, ReleaseSite
from chaos.runbooks.engine import carry_out, identifying
from fixtures.clusters.cluster import Cluster
from fixtures.clusters.workloads import Deployment
from fixtures.services.flux import FLUX_NS
from fixtures.services.oci_registry import OciRegistry

TITLE = "Authentication Failure"
POD_NOT_RUNNING = "Pod Not Running"
CREDS = "oci-creds"
#: the ``experiment`` of the ``runbook`` records this phase writes (where the runbook was carried out)
EXPERIMENT = "oci-helmrelease"


@dataclass(frozen=True)
class Diagnosis:
    """The catalogue's steps as the engine carried them out for one service namespace."""

    namespace: str
    steps: tuple[dict[str, Any], ...]

    @property
    def first_problem_step(self) -> int | None:
        return next((s["step"] for s in self.steps if s["status"] == PROBLEM), None)

    @property
    def first_noticed(self) -> int | None:
        """The first step that found anything wrong (a problem, or an alert)."""
        return next((s["step"] for s in self.steps if s["status"] in (PROBLEM, ALERT)), None)

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


def release_site(cluster: Cluster, operator: Deployment, *, reconcile_timeout: float = 3.0) -> ReleaseSite:
    """The operator's HelmRelease, Deployment and Pods as the "Pod Not Running" steps address them.
    Take it while its Pods run: their selector is their common labels."""
    pods = PodOperator(cluster, operator.namespace, operator.service_account)
    return ReleaseSite(
        cluster.kubeconfig,
        cluster.context,
        operator.namespace,
        operator.release,
        pods.deployment_name(),
        pods.label_selector(),
        reconcile_timeout=reconcile_timeout,
    )


def pod_not_running(site: ReleaseSite, subject: Subject) -> Diagnosis:
    """Every "Pod Not Running" step carried out against the operator's HelmRelease and its Pods."""
    steps = carry_out(POD_NOT_RUNNING, lambda step: RELEASE_CHECKS[step.check](site, subject))
    return Diagnosis(f"{site.release_ns}/{site.release}", tuple(steps))


def step_outcomes(steps: tuple[dict[str, Any], ...] | list[dict[str, Any]]) -> str:
    """One line: each step's outcome and the causes it points at."""
    return ", ".join(
        f"{s['step']} {s['status']}" + (f" ({', '.join(s['causes'])})" if s["causes"] else "") for s in steps
    )


def finding(
    title: str, fault: str, cause: str, diagnosis: Diagnosis, *, remedy: str, restores: bool, notes: list[str]
) -> dict[str, Any]:
    """The ``runbook`` record of one fault (the report's runbook findings): the step that identifies
    ``cause``, whether the remedy restored service, and the finding: every step's outcome, the first
    step that noticed anything when another identified the cause, and ``notes`` (what the service did
    during the fault, the remedy, what Flux did in its own words)."""
    found = diagnosis.identifying_step(cause)
    parts = [f"steps: {step_outcomes(diagnosis.steps)}"]
    if found is None:
        parts.insert(0, f"'{title}' cannot diagnose {fault}: no step points at {cause}")
    elif diagnosis.first_noticed not in (None, found):
        parts.append(f"step {diagnosis.first_noticed} noticed it first, step {found} names the cause")
    return {
        "experiment": EXPERIMENT,
        "runbook": title,
        "fault": fault,
        "cause": cause,
        "identifying_step": found,
        "remedy": remedy,
        "remedy_restores": restores,
        "finding": "; ".join([*parts, *notes]),
        "steps": [dict(s) for s in diagnosis.steps],
    }
