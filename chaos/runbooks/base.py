"""What checks and remedies share: the subject a runbook is applied to, a step's outcome, and reading
a Secret with the checks' per-call deadline."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kubernetes.client.rest import ApiException

from chaos.context import ChaosContext

TIMEOUT = 10  # seconds per API call a check makes


@dataclass
class Subject:
    """What the runbook is applied to: a source and the namespace that lacks (a current) copy."""

    source_ns: str
    source: str
    target_ns: str


@dataclass
class Outcome:
    status: str  # ok | problem | not-applicable | cannot-check | alert | remedy
    evidence: str
    cause: str | list[str] | None = None  # what the evidence points at (a log search may point at several)

    @property
    def causes(self) -> list[str]:
        if self.cause is None:
            return []
        return [self.cause] if isinstance(self.cause, str) else list(self.cause)


def read_secret(ctx: ChaosContext, name: str, ns: str) -> Any | None:
    try:
        return ctx.cluster.core.read_namespaced_secret(name, ns, _request_timeout=TIMEOUT)
    except ApiException as exc:
        if exc.status == 404:
            return None
        raise


def list_entries(value: str | None) -> list[str]:
    return [e.strip() for e in (value or "").split(",") if e.strip()]
