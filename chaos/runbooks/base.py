"""What checks and remedies share: the subject a runbook is applied to, a step's outcome in the one
vocabulary every runbook run speaks (the chaos experiments' and the OCI stack's alike), and reading a
Secret with the checks' per-call deadline."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kubernetes import client
from kubernetes.client.rest import ApiException

from chaos.context import ChaosContext

TIMEOUT = 10  # seconds per API call a check makes

# The one outcome vocabulary of a runbook step, wherever it is carried out.
OK = "ok"  # the step was carried out and found nothing wrong
PROBLEM = "problem"  # the step was carried out and found something wrong (its cause says what)
NOT_APPLICABLE = "not-applicable"  # the step names something this setup does not have
CANNOT_CHECK = "cannot-check"  # the step could not be carried out or judged (what it needs failed)
ALERT = "alert"  # an alerting step whose threshold is crossed (it repairs nothing)
REMEDY = "remedy"  # a remedy step: applied after the diagnosis, never as a check
STATUSES = (OK, PROBLEM, NOT_APPLICABLE, CANNOT_CHECK, ALERT, REMEDY)


@dataclass
class Subject:
    """What the runbook is applied to: a source and the namespace that lacks (a current) copy."""

    source_ns: str
    source: str
    target_ns: str


@dataclass
class Outcome:
    status: str  # one of STATUSES
    evidence: str
    cause: str | list[str] | None = None  # what the evidence points at (a log search may point at several)

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"step outcome {self.status!r} is not one of {', '.join(STATUSES)}")

    @property
    def causes(self) -> list[str]:
        if self.cause is None:
            return []
        return [self.cause] if isinstance(self.cause, str) else list(self.cause)


def secret_or_none(core: client.CoreV1Api, name: str, ns: str) -> Any | None:
    """The Secret ``ns/name``, or None when it does not exist (any other API error is raised)."""
    try:
        return core.read_namespaced_secret(name, ns, _request_timeout=TIMEOUT)
    except ApiException as exc:
        if exc.status == 404:
            return None
        raise


def read_secret(ctx: ChaosContext, name: str, ns: str) -> Any | None:
    return secret_or_none(ctx.cluster.core, name, ns)


def list_entries(value: str | None) -> list[str]:
    return [e.strip() for e in (value or "").split(",") if e.strip()]
