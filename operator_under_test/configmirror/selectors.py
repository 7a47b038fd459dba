"""Kubernetes ``LabelSelector`` semantics as pure functions (``matchLabels`` AND ``matchExpressions``).

The API server validates the selector's shape (CRD OpenAPI schema + CEL rules); this module still
refuses what it cannot evaluate, so a CRD installed without validation cannot make the operator
guess: an invalid selector matches nothing and is reported, it never widens to "everything".
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

OPERATORS = frozenset({"In", "NotIn", "Exists", "DoesNotExist"})


class SelectorError(ValueError):
    """The selector cannot be evaluated; the message names the field and the fix."""


@dataclass(frozen=True)
class Requirement:
    key: str
    operator: str
    values: frozenset[str] = frozenset()

    def matches(self, labels: Mapping[str, str]) -> bool:
        present = self.key in labels
        if self.operator == "Exists":
            return present
        if self.operator == "DoesNotExist":
            return not present
        if self.operator == "In":
            return present and labels[self.key] in self.values
        return not present or labels[self.key] not in self.values  # NotIn


@dataclass(frozen=True)
class Selector:
    """A parsed selector; an empty one (``{}``) selects every ConfigMap of the source namespace."""

    requirements: tuple[Requirement, ...] = ()

    def matches(self, labels: Mapping[str, str] | None) -> bool:
        labels = labels or {}
        return all(r.matches(labels) for r in self.requirements)


def parse_selector(raw: Any) -> Selector:
    """``spec.selector`` (a ``metav1.LabelSelector`` as JSON) → :class:`Selector`."""
    if raw is None:
        raise SelectorError("spec.selector is missing; set matchLabels and/or matchExpressions")
    if not isinstance(raw, Mapping):
        raise SelectorError("spec.selector must be an object with matchLabels and/or matchExpressions")
    reqs: list[Requirement] = []
    labels = raw.get("matchLabels") or {}
    if not isinstance(labels, Mapping):
        raise SelectorError("spec.selector.matchLabels must be a map of label to value")
    for key, value in sorted(labels.items()):
        if not isinstance(value, str):
            raise SelectorError(f"spec.selector.matchLabels[{key!r}] must be a string")
        reqs.append(Requirement(str(key), "In", frozenset({value})))
    for i, expr in enumerate(raw.get("matchExpressions") or []):
        where = f"spec.selector.matchExpressions[{i}]"
        if not isinstance(expr, Mapping) or not expr.get("key"):
            raise SelectorError(f"{where} needs a key")
        op = expr.get("operator")
        if op not in OPERATORS:
            raise SelectorError(f"{where}.operator {op!r} is not one of {', '.join(sorted(OPERATORS))}")
        values = expr.get("values") or []
        if op in ("In", "NotIn") and not values:
            raise SelectorError(f"{where}: operator {op} needs at least one value")
        if op in ("Exists", "DoesNotExist") and values:
            raise SelectorError(f"{where}: operator {op} takes no values")
        reqs.append(Requirement(str(expr["key"]), op, frozenset(str(v) for v in values)))
    return Selector(tuple(reqs))
