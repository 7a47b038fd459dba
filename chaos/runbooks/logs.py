"""Classifying the operator's warnings and errors by the cause they point at (pure)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

LOG_CAUSES: list[tuple[str, Callable[[dict[str, Any]], bool]]] = [
    ("rbac", lambda r: "forbidden" in r.get("msg", "")),
    ("pathological-pattern", lambda r: "catastrophic backtracking" in r.get("msg", "")),
    (
        "invalid-annotation",
        lambda r: (
            "invalid annotation" in r.get("msg", "") and "catastrophic backtracking" not in r.get("msg", "")
        ),
    ),
    (
        "apiserver-unavailable",
        lambda r: (
            r.get("msg", "") in ("watch failed; retrying with backoff", "lease request failed")
            and r.get("error") in ("connection", "server_error")
        ),
    ),
]


def classify_logs(records: list[dict[str, Any]]) -> tuple[list[str], list[str]]:
    """Every cause the operator's warnings/errors point at (in order of first appearance), and
    examples (messages only, never data)."""
    noisy = [r for r in records if r.get("level") in ("error", "warning")]
    causes: list[str] = []
    examples: list[str] = []
    for r in sorted(noisy, key=lambda r: r.get("ts", "")):
        for cause, match in LOG_CAUSES:
            if match(r) and cause not in causes:
                causes.append(cause)
                examples.append(f"[{cause}] {r['level']}: {r['msg']} {r.get('error') or ''}".strip()[:200])
    if not causes:
        examples = [f"{r['level']}: {r['msg']}"[:200] for r in noisy[:3]]
    return causes, examples
