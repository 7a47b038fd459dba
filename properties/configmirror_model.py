"""The ConfigMirror model and generators for Properties 5, 6 and 11 in ConfigMirror's terms.

The model is an independent oracle: it decides selection from the generated *references* (which
labels a source was given, which requirement was generated), never by calling the operator's
selector code. Everything here is plain data so a dialect-neutral system interface (issue 14) can
drive the same cases through its own "declare / observe" calls.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from hypothesis import strategies as st

KEYS = ("app", "tier", "team.example.com/owner")
VALUES = ("a", "b", "c")
OPERATORS = ("In", "NotIn", "Exists", "DoesNotExist")


@dataclass(frozen=True)
class Expr:
    key: str
    operator: str
    values: tuple[str, ...] = ()

    def holds(self, labels: Mapping[str, str]) -> bool:
        if self.operator == "Exists":
            return self.key in labels
        if self.operator == "DoesNotExist":
            return self.key not in labels
        if self.operator == "In":
            return labels.get(self.key) in self.values
        return labels.get(self.key) not in self.values  # NotIn: absent or another value

    def spec(self) -> dict[str, Any]:
        out: dict[str, Any] = {"key": self.key, "operator": self.operator}
        if self.values:
            out["values"] = list(self.values)
        return out


@dataclass(frozen=True)
class SelectorCase:
    match_labels: tuple[tuple[str, str], ...] = ()
    expressions: tuple[Expr, ...] = ()

    def selects(self, labels: Mapping[str, str]) -> bool:
        return all(labels.get(k) == v for k, v in self.match_labels) and all(
            e.holds(labels) for e in self.expressions
        )

    def spec(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.match_labels:
            out["matchLabels"] = dict(self.match_labels)
        if self.expressions:
            out["matchExpressions"] = [e.spec() for e in self.expressions]
        return out


@dataclass(frozen=True)
class SourceCase:
    name: str
    labels: tuple[tuple[str, str], ...]
    data: tuple[tuple[str, str], ...]
    binary: tuple[tuple[str, bytes], ...] = ()


@dataclass(frozen=True)
class TargetSlot:
    """One target namespace: created before the CR, after it ("later"), never ("missing"), or
    holding a foreign same-name ConfigMap of source ``occupied_by``."""

    state: str  # exists | later | missing
    occupied_by: int | None = None


@dataclass(frozen=True)
class MirrorCase:
    sources: tuple[SourceCase, ...]
    selector: SelectorCase
    targets: tuple[TargetSlot, ...]
    unlisted_namespace: bool = True  # an existing namespace not in the list: must stay empty

    def selected(self) -> list[SourceCase]:
        return [s for s in self.sources if self.selector.selects(dict(s.labels))]

    def expected(self, target_ns: Mapping[int, str]) -> dict[tuple[str, str], tuple[dict, dict]]:
        """(namespace, name) → (data, binaryData as bytes) of every replica after convergence."""
        out: dict[tuple[str, str], tuple[dict, dict]] = {}
        occupied = {
            (i, self.sources[t.occupied_by].name)
            for i, t in enumerate(self.targets)
            if t.occupied_by is not None
        }
        for i, slot in enumerate(self.targets):
            if slot.state == "missing":
                continue
            for src in self.selected():
                if (i, src.name) not in occupied:
                    out[(target_ns[i], src.name)] = (dict(src.data), dict(src.binary))
        return out


label_sets = st.dictionaries(st.sampled_from(KEYS), st.sampled_from(VALUES), max_size=3).map(
    lambda d: tuple(sorted(d.items()))
)
exprs = st.builds(
    lambda key, op, values: Expr(key, op, tuple(sorted(values)) if op in ("In", "NotIn") else ()),
    st.sampled_from(KEYS),
    st.sampled_from(OPERATORS),
    st.frozensets(st.sampled_from(VALUES), min_size=1, max_size=2),
)
selectors = st.builds(
    SelectorCase,
    st.dictionaries(st.sampled_from(KEYS), st.sampled_from(VALUES), max_size=2).map(
        lambda d: tuple(sorted(d.items()))
    ),
    st.lists(exprs, max_size=3).map(tuple),
)
_text = st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=40)
_keys = st.from_regex(r"[A-Za-z0-9._-]{1,20}", fullmatch=True).filter(lambda k: k not in (".", ".."))


@st.composite
def sources(draw: st.DrawFn) -> tuple[SourceCase, ...]:
    count = draw(st.integers(1, 4))
    out = []
    for i in range(count):
        data = draw(st.dictionaries(_keys, _text, max_size=3))
        binary = draw(
            st.dictionaries(_keys.filter(lambda k, d=data: k not in d), st.binary(max_size=32), max_size=1)
        )
        out.append(
            SourceCase(f"s{i}", draw(label_sets), tuple(sorted(data.items())), tuple(sorted(binary.items())))
        )
    return tuple(out)


@st.composite
def mirror_cases(draw: st.DrawFn, states: tuple[str, ...] = ("exists", "later", "missing")) -> MirrorCase:
    srcs = draw(sources())
    slots = []
    for _ in range(draw(st.integers(1, 4))):
        state = draw(st.sampled_from(states))
        occupied = draw(st.none() | st.integers(0, len(srcs) - 1)) if state == "exists" else None
        slots.append(TargetSlot(state, occupied))
    return MirrorCase(srcs, draw(selectors), tuple(slots), draw(st.booleans()))


@dataclass(frozen=True)
class TargetListCase:
    sources: tuple[SourceCase, ...]
    selector: SelectorCase
    slots: int
    initial: frozenset[int]
    exists: frozenset[int]
    edits: tuple[tuple[str, int], ...] = ()  # (add | remove | create, slot)


@st.composite
def target_list_cases(draw: st.DrawFn) -> TargetListCase:
    srcs = draw(sources())
    # at least one selected source, so every step has a visible effect
    selector = SelectorCase((("replicate", "yes"),))
    srcs = tuple(
        SourceCase(
            s.name,
            (*s.labels, ("replicate", "yes")) if i == 0 or draw(st.booleans()) else s.labels,
            s.data,
            s.binary,
        )
        for i, s in enumerate(srcs)
    )
    slots = draw(st.integers(2, 4))
    initial = draw(st.frozensets(st.integers(0, slots - 1), max_size=slots))
    exists = draw(st.frozensets(st.integers(0, slots - 1), max_size=slots))
    edits = draw(
        st.lists(
            st.tuples(st.sampled_from(("add", "remove", "create")), st.integers(0, slots - 1)),
            min_size=1,
            max_size=5,
        )
    )
    return TargetListCase(srcs, selector, slots, initial, exists, tuple(edits))
