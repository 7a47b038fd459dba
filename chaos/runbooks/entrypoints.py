"""The chaostoolkit entry points of the runbooks (``module: chaos.runbooks.entrypoints``)."""

from __future__ import annotations

from typing import Any

from chaos.context import ChaosContext, context_of
from chaos.runbooks.base import Subject
from chaos.runbooks.engine import apply_remedy, diagnose


def _subject(ctx: ChaosContext, source: str | None, target: str | None) -> Subject:
    assert ctx.workload is not None
    name = source or ctx.workload.sources[0]
    if target in (None, "", "first"):
        tgt = ctx.workload.expected_targets(name)[0]
    elif target.startswith("note:"):
        tgt = ctx.notes
        for part in target[5:].split("."):
            tgt = tgt[part]
    else:
        tgt = target
    return Subject(ctx.workload.source_ns, name, str(tgt))


def run_runbook(
    runbook: str,
    fault: str,
    cause: str,
    source: str | None = None,
    target: str | None = None,
    remedy: bool = True,
    slo_s: float = 30.0,
    configuration: dict | None = None,
) -> dict[str, Any]:
    """chaostoolkit action: diagnose ``fault`` with ``runbook`` and (optionally) apply its remedy.

    The output is the runbook record; it never fails the run by itself (findings are results), so it
    is scored by the probe :func:`runbook_identified`.
    """
    ctx = context_of(configuration)
    if (na := ctx.not_applicable("runbooks")) is not None:
        return na
    ctx.notes["configuration"] = configuration
    subject = _subject(ctx, source, target)
    result = diagnose(ctx, runbook, fault, cause, subject)
    if remedy:
        apply_remedy(ctx, result, subject, slo_s)
    return result


def runbook_identified(runbook: str, fault: str, configuration: dict | None = None) -> dict[str, Any]:
    """chaostoolkit probe: the runbook run for ``fault`` identified the injected cause."""
    ctx = context_of(configuration)
    if (na := ctx.not_applicable("runbooks")) is not None:
        return na
    for rb in reversed(ctx.runbooks):
        if rb["runbook"] == runbook and rb["fault"] == fault:
            return {
                "ok": rb["identifying_step"] is not None,
                "identifying_step": rb["identifying_step"],
                "remedy_restores": rb["remedy_restores"],
                "finding": rb["finding"],
            }
    return {"ok": False, "why": f"runbook {runbook!r} was not run for {fault!r}"}
