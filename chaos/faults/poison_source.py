"""Actions of the poison-source experiment (K4, H1): sources this operator cannot use, malformed
bookkeeping, and a valid pattern with catastrophic backtracking.

Reflector-dialect systems get the dialect's own poison (a lone ``*``, a refused selector, malformed
bookkeeping); any other system the declaration its profile names as poison
(``ReplicationSystem.poison``) and the backtracking pattern as a ``Patterns`` target of its own."""

from __future__ import annotations

import contextlib
import re
import time
from typing import Any

from kubernetes import client
from kubernetes.client.rest import ApiException

from chaos.context import ChaosContext, context_of
from fixtures.core.encoding import b64
from fixtures.systems import Patterns, Source
from fixtures.systems.dialects.reflector import (
    ALLOWED,
    ALLOWED_NAMESPACES,
    ALLOWED_SELECTOR,
    AUTO_ENABLED,
    REFLECTED_AT,
    REFLECTS,
    replicate_to,
)
from fixtures.systems.dialects.reflector import NAME as REFLECTOR

POISON_PREFIX = "poison-"


def create_poison_sources(configuration: dict | None = None) -> dict[str, Any]:
    """Sources this operator cannot use, next to the healthy ones, plus malformed bookkeeping.

    * ``poison-regex``: ``*`` in the allowed list (not a regular expression);
    * ``poison-selector``: a namespace label selector (refused by this operator);
    * ``poison-mirror``: a would-be mirror whose ``reflects`` is not ``namespace/name``;
    * a healthy copy whose ``reflected-at`` is garbage (Reflector parses it; H1).
    """
    ctx = context_of(configuration)
    wl = ctx.workload
    assert wl is not None
    if ctx.system is not None and ctx.system.dialect != REFLECTOR:
        return _create_declared_poison(ctx)
    ctx.mark("fault_at")  # before the first write: the operator reacts within milliseconds
    listed = ",".join(wl.targets[:3])
    wl.create_source(f"{POISON_PREFIX}regex", [], annotations=replicate_to([*wl.targets[:3], "*"]))
    wl.create_source(
        f"{POISON_PREFIX}selector",
        [],
        annotations={
            ALLOWED: "true",
            AUTO_ENABLED: "true",
            ALLOWED_NAMESPACES: listed,
            ALLOWED_SELECTOR: "team=payments",
        },
    )
    mirror_ns = wl.targets[1]
    ctx.cluster.core.create_namespaced_secret(
        mirror_ns,
        client.V1Secret(
            metadata=client.V1ObjectMeta(
                name=f"{POISON_PREFIX}mirror",
                annotations={REFLECTS: "not a namespace/name/reference", REFLECTED_AT: "yesterday-ish"},
            ),
            data={"k": b64("placeholder")},
        ),
    )
    copy_ns = wl.expected_targets(wl.sources[0])[0]
    ctx.cluster.core.patch_namespaced_secret(
        wl.sources[0], copy_ns, {"metadata": {"annotations": {REFLECTED_AT: "not-a-timestamp"}}}
    )
    ctx.notes["poison"] = {
        "mirror": f"{mirror_ns}/{POISON_PREFIX}mirror",
        "tampered_copy": f"{copy_ns}/{wl.sources[0]}",
    }
    return {"sources": [f"{POISON_PREFIX}regex", f"{POISON_PREFIX}selector"], **ctx.notes["poison"]}


def _create_declared_poison(ctx: ChaosContext) -> dict[str, Any]:
    """Another dialect's poison: the declaration its profile names as one it must refuse
    (``ReplicationSystem.poison``), under the names the probes expect; the Reflector-only
    bookkeeping cases (malformed ``reflects``/``reflected-at``) have no counterpart."""
    wl, system = ctx.workload, ctx.system
    assert wl is not None
    assert system is not None
    ctx.mark("fault_at")
    created = []
    for name in (f"{POISON_PREFIX}regex", f"{POISON_PREFIX}selector"):
        declaration = system.poison(Source("Secret", wl.source_ns, name))
        wl.create_source(name, [], annotations=declaration.metadata()["annotations"])
        created.append(name)
    ctx.notes["poison"] = {}
    return {"sources": created, "declared_by": system.name}


BACKTRACKING_PATTERN = "(a|a)+"  # exponential in both Python's `re` and the `regex` module


def create_pathological_source(a_count: int = 29, configuration: dict | None = None) -> dict[str, Any]:
    """A *valid* regex with catastrophic backtracking, and a namespace name that triggers it.

    ``(a|a)+`` against ``aaa…ac`` takes exponential time in Python's ``re`` and in ``regex``; it
    compiles, so a syntax check lets it through. A tenant who may annotate one Secret can send it.
    """
    ctx = context_of(configuration)
    wl = ctx.workload
    assert wl is not None
    ns = "a" * a_count + "c"
    ctx.cluster.create_namespace(name=ns)
    ctx.notes["pathological_namespace"] = ns
    ctx.mark("backtracking_at")
    name = f"{POISON_PREFIX}backtracking"
    if ctx.system is not None and ctx.system.dialect != REFLECTOR:
        wl.create_source(name, [], target=Patterns([re.escape(wl.targets[0]), BACKTRACKING_PATTERN]))
    else:
        wl.create_source(name, [], annotations=replicate_to([wl.targets[0], BACKTRACKING_PATTERN]))
    return {"source": f"{POISON_PREFIX}backtracking", "pattern": BACKTRACKING_PATTERN, "namespace": ns}


def remove_poison(timeout_s: float = 60.0, configuration: dict | None = None) -> dict[str, Any]:
    """Rollback: delete every poison object (the API answers even when the operator is stuck)."""
    ctx = context_of(configuration)
    wl = ctx.workload
    removed = []
    if wl is None:
        return {"removed": removed}
    core = ctx.cluster.core
    deadline = time.monotonic() + timeout_s
    for secret in core.list_secret_for_all_namespaces().items:
        if secret.metadata.name.startswith(POISON_PREFIX) and time.monotonic() < deadline:
            with contextlib.suppress(ApiException):
                core.delete_namespaced_secret(secret.metadata.name, secret.metadata.namespace)
                removed.append(f"{secret.metadata.namespace}/{secret.metadata.name}")
    return {"removed": removed}
