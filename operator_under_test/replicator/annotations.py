"""Parsing of the Reflector annotation dialect (``reflector.v1.k8s.emberstack.com/*``).

Everything here is pure: strings in, values or a typed :class:`AnnotationError` out. The rules follow
emberstack Reflector (booleans, trimmed comma lists, empty list = all namespaces) with one deliberate
change: every list entry is matched with :func:`re.fullmatch`, so ``a|ab`` matches ``ab`` (Reflector
requires its *first* match to span the name, so ``a|ab`` does not match ``ab`` there).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass

import regex

#: Longest time one namespace name may take to match one entry. Names are at most 63 characters, so
#: an honest pattern needs microseconds; only catastrophic backtracking (e.g. ``(x+)+!``) gets here.
MATCH_TIMEOUT_SECONDS = 0.05

PREFIX = "reflector.v1.k8s.emberstack.com/"

ALLOWED = PREFIX + "reflection-allowed"
ALLOWED_NAMESPACES = PREFIX + "reflection-allowed-namespaces"
AUTO_ENABLED = PREFIX + "reflection-auto-enabled"
AUTO_NAMESPACES = PREFIX + "reflection-auto-namespaces"
ALLOWED_SELECTOR = PREFIX + "reflection-allowed-namespaces-selector"
AUTO_SELECTOR = PREFIX + "reflection-auto-namespaces-selector"

REFLECTS = PREFIX + "reflects"
AUTO_REFLECTS = PREFIX + "auto-reflects"
REFLECTED_VERSION = PREFIX + "reflected-version"
REFLECTED_AT = PREFIX + "reflected-at"

#: Annotations whose presence makes an object a replication source.
SOURCE_KEYS = frozenset(
    {ALLOWED, ALLOWED_NAMESPACES, AUTO_ENABLED, AUTO_NAMESPACES, ALLOWED_SELECTOR, AUTO_SELECTOR}
)
#: The only annotations an auto copy carries.
BOOKKEEPING_KEYS = (REFLECTS, AUTO_REFLECTS, REFLECTED_VERSION, REFLECTED_AT)

_GLOB_STAR = re.compile(r"(?<![.\\\])}])\*")


class AnnotationError(ValueError):
    """A source annotation this operator cannot use; names the annotation, the entry and the fix."""

    def __init__(self, annotation: str, entry: str, problem: str, fix: str) -> None:
        self.annotation = annotation
        self.entry = entry
        self.problem = problem
        self.fix = fix
        super().__init__(f"annotation {annotation}: entry {entry!r} {problem}; fix: {fix}")


def parse_bool(value: str | None) -> bool:
    """.NET ``bool`` semantics: trimmed, case-insensitive ``true``; anything else (``yes``, ``1``) = false."""
    return value is not None and value.strip().lower() == "true"


def prefixed(annotations: Mapping[str, str] | None) -> dict[str, str]:
    """Only the Reflector annotations: the rest of an object's metadata is never needed nor cached."""
    if not annotations:
        return {}
    return {k: v for k, v in annotations.items() if k.startswith(PREFIX)}


def is_source(annotations: Mapping[str, str]) -> bool:
    """True when the object carries any source annotation (then it is never written as a copy)."""
    return any(k in SOURCE_KEYS for k in annotations)


def suggest_fix(entry: str) -> str:
    """Turn a glob-looking entry into the regular expression the user most likely meant."""
    if entry.strip() in {"*", ".*"}:
        return "write '.*' to match every namespace, or leave the list empty"
    fixed = _GLOB_STAR.sub(".*", entry)
    if fixed != entry:
        return f"use '^{fixed}' (a regular expression) not '{entry}' (a glob)"
    return "write a valid Python regular expression, e.g. '^ns-.*'"


def glob_hint(entry: str) -> str | None:
    """A hint for valid-but-suspicious entries such as ``ns-*`` (regex: 'ns' then any number of '-')."""
    if _GLOB_STAR.search(entry):
        return (
            f"'{entry}' is a regular expression, not a glob ('*' repeats the previous character); "
            f"{suggest_fix(entry)}"
        )
    return None


@dataclass(frozen=True)
class Pattern:
    """One list entry, compiled; matching is time-limited and releases the GIL, so a pathological
    pattern poisons only its own source instead of freezing the controller (Reflector H1)."""

    annotation: str
    pattern: str
    compiled: regex.Pattern | None  # None: a plain name, matched by equality (see LITERAL)

    def fullmatch(self, namespace: str) -> bool:
        if self.compiled is None:
            return namespace == self.pattern
        try:
            return self.compiled.fullmatch(namespace, timeout=MATCH_TIMEOUT_SECONDS) is not None
        except TimeoutError:
            raise AnnotationError(
                self.annotation,
                self.pattern,
                f"takes over {MATCH_TIMEOUT_SECONDS:g}s to match '{namespace}' (catastrophic backtracking)",
                "remove nested quantifiers such as '(x+)+'; e.g. '^ns-.*'",
            ) from None


#: An entry of only these characters has no regex metacharacter: its full match is equality.
LITERAL = re.compile(r"[A-Za-z0-9_-]+")


#: Namespace verdicts remembered per parsed list with a regex before the memory is cleared (with at
#: most 256 lists cached, the verdicts stay within a few MB).
MATCH_MEMORY = 4096


class Patterns(tuple[Pattern, ...]):
    """One parsed list. Plain names (the common case: an explicit list of namespaces) are looked up
    in a set, so a source listing 1000 namespaces costs one lookup per namespace, not 1000 matches.
    Lists are parsed once per distinct value (:func:`parse_patterns` is cached) and remember their
    verdict per namespace (``hits``): a regex list over 1000 namespaces costs 1000 time-limited
    matches once, not on every reconcile of every source that uses it."""

    literals: frozenset[str]
    regexes: tuple[Pattern, ...]
    hits: dict[str, bool]

    def __new__(cls, items: tuple[Pattern, ...] = ()) -> Patterns:
        self = super().__new__(cls, items)
        self.literals = frozenset(p.pattern for p in items if p.compiled is None)
        self.regexes = tuple(p for p in items if p.compiled is not None)
        self.hits = {}
        return self

    def remember(self, namespace: str, hit: bool) -> None:
        if len(self.hits) >= MATCH_MEMORY:
            self.hits.clear()
        self.hits[namespace] = hit


@functools.lru_cache(maxsize=256)
def parse_patterns(annotation: str, value: str | None) -> Patterns:
    """Split a comma list, trim, drop empty entries and compile each entry as a full-match regex.

    An empty tuple means "no restriction" (missing or empty list = all namespaces).
    """
    if value is None:
        return Patterns()
    patterns: list[Pattern] = []
    for raw in value.strip().split(","):
        entry = raw.strip()
        if not entry:
            continue
        if LITERAL.fullmatch(entry):
            patterns.append(Pattern(annotation, entry, None))
            continue
        try:
            re.compile(entry)  # Python `re` syntax is the documented dialect
            compiled = regex.compile(entry, flags=regex.VERSION0)
        except (re.error, regex.error) as exc:
            raise AnnotationError(
                annotation, entry, f"is not a valid regular expression ({exc})", suggest_fix(entry)
            ) from None
        patterns.append(Pattern(annotation, entry, compiled))
    return Patterns(tuple(patterns))


def matches(patterns: tuple[Pattern, ...], namespace: str) -> bool:
    """Empty list matches everything; otherwise some entry must match the whole name.

    Raises :class:`AnnotationError` when an entry cannot be matched in time.
    """
    if not patterns:
        return True
    if isinstance(patterns, Patterns):
        if not patterns.regexes:
            return namespace in patterns.literals
        hit = patterns.hits.get(namespace)
        if hit is None:  # a match that times out raises and is never remembered
            hit = namespace in patterns.literals or any(p.fullmatch(namespace) for p in patterns.regexes)
            patterns.remember(namespace, hit)
        return hit
    return any(p.fullmatch(namespace) for p in patterns)


@dataclass(frozen=True)
class ReflectionSpec:
    """What a source asks for, parsed once per reconcile."""

    allowed: bool
    allowed_patterns: tuple[Pattern, ...]
    auto_enabled: bool
    auto_patterns: tuple[Pattern, ...]

    def permits(self, namespace: str) -> bool:
        """Manual mirrors in ``namespace`` may take this source's data."""
        return self.allowed and matches(self.allowed_patterns, namespace)

    def auto_target(self, namespace: str) -> bool:
        """An auto copy belongs in ``namespace`` (the caller excludes the source's own namespace)."""
        return self.permits(namespace) and self.auto_enabled and matches(self.auto_patterns, namespace)

    @property
    def hints(self) -> list[str]:
        """Non-fatal warnings about glob-looking but valid entries."""
        out = []
        for pats in (self.allowed_patterns, self.auto_patterns):
            out.extend(h for p in pats if (h := glob_hint(p.pattern)))
        return out


def parse_spec(annotations: Mapping[str, str]) -> ReflectionSpec:
    """Parse the source annotations; raises :class:`AnnotationError` for anything unusable.

    Namespace label selectors (Reflector 2026) are refused rather than ignored: ignoring one next to an
    empty name list would silently widen replication to every namespace.
    """
    for key in (ALLOWED_SELECTOR, AUTO_SELECTOR):
        if annotations.get(key, "").strip():
            raise AnnotationError(
                key,
                annotations[key].strip(),
                "is a namespace label selector, which this operator does not support",
                "remove it and list namespaces in "
                + (ALLOWED_NAMESPACES if key == ALLOWED_SELECTOR else AUTO_NAMESPACES),
            )
    return ReflectionSpec(
        allowed=parse_bool(annotations.get(ALLOWED)),
        allowed_patterns=parse_patterns(ALLOWED_NAMESPACES, annotations.get(ALLOWED_NAMESPACES)),
        auto_enabled=parse_bool(annotations.get(AUTO_ENABLED)),
        auto_patterns=parse_patterns(AUTO_NAMESPACES, annotations.get(AUTO_NAMESPACES)),
    )


def parse_reflects(value: str | None) -> tuple[str, str] | None:
    """``"ns/name"`` → ``("ns", "name")``; anything malformed → ``None`` (the object is then unrelated)."""
    if value is None:
        return None
    parts = value.strip().strip('"').split("/")
    if len(parts) != 2 or not parts[0].strip() or not parts[1].strip():
        return None
    return parts[0].strip(), parts[1].strip()
