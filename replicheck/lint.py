"""``replicheck lint``: static checks of Reflector source annotations in GitOps repos / manifests.

Findings (``path:line: CODE message``):

* RC000  unparseable YAML (files with Go-template markers ``{{`` are skipped instead)
* RC001  ``reflection-allowed`` without ``reflection-auto-enabled`` and no manual mirror
         (``reflects: <ns>/<name>``) in the scanned tree: Reflector creates no copies
* RC002  the source's own namespace matches its allowed/auto list (Reflector #672: narrowing the
         list later deletes the source and all copies)
* RC003  ``reflection-allowed`` true with a missing or empty allowed list: every namespace may pull
* RC004  glob-looking entry (``ns-*``): entries are anchored regexes, so this means "ns" plus hyphens
* RC005  invalid regex entry (a lone ``*`` breaks Reflector's event loop for that kind)
* RC006  a literal namespace in a list that no ``kind: Namespace`` manifest in the tree creates;
         checked only when the tree has at least one Namespace manifest or with ``--check-namespaces``
* RC007  plaintext ``kind: Secret`` (data/stringData without a ``sops:`` block): encrypt it with sops
* RC008  a boolean annotation whose value Reflector cannot parse (counts as false)
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from fixtures.systems.dialects.reflector import ALLOWED, BOOLEAN_KEYS, LIST_KEYS, REFLECTS
from fixtures.systems.dialects.reflector import ALLOWED_NAMESPACES as ALLOWED_NS
from fixtures.systems.dialects.reflector import AUTO_ENABLED as AUTO
from fixtures.systems.dialects.reflector import short as short_key

YAML_SUFFIXES = (".yaml", ".yml")
SKIP_DIRS = {".git", ".venv", "node_modules", "__pycache__", ".hypothesis"}
_LITERAL_NS = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_GLOB_STAR = re.compile(r"(?:^|[^.\])}\\])\*")


@dataclass(frozen=True, order=True)
class Finding:
    path: str
    line: int
    code: str
    message: str

    def format(self) -> str:
        return f"{self.path}:{self.line}: {self.code} {self.message}"


@dataclass
class _Object:
    path: str
    doc: Any
    line: int  # 1-based line of the document start

    @property
    def kind(self) -> Any:
        return self.doc.get("kind")

    @property
    def meta(self) -> dict:
        m = self.doc.get("metadata")
        return m if isinstance(m, dict) else {}

    @property
    def annotations(self) -> dict:
        a = self.meta.get("annotations")
        return a if isinstance(a, dict) else {}

    def line_of(self, mapping: Any, key: str) -> int:
        try:
            return mapping.lc.key(key)[0] + 1
        except (AttributeError, KeyError, TypeError):
            return self.line


def _parse_bool(value: Any) -> bool | None:
    """Reflector (.NET) boolean parsing: trimmed, case-insensitive true/false; anything else None."""
    text = str(value).strip().lower() if value is not None else ""
    return {"true": True, "false": False}.get(text)


def split_list(value: Any) -> list[str]:
    if value is None:
        return []
    return [p.strip() for p in str(value).strip().split(",") if p.strip()]


def _regex_ok(entry: str) -> bool:
    try:
        re.compile(entry)
    except re.error:
        return False
    return True


def _matches(entry: str, namespace: str) -> bool:
    """Reflector semantics: the entry (a regex) must match the whole namespace name."""
    try:
        return re.fullmatch(entry, namespace) is not None
    except re.error:
        return False


def iter_yaml_files(root: Path) -> Iterator[Path]:
    if root.is_file():
        yield root
        return
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS)
        for name in sorted(filenames):
            if name.endswith(YAML_SUFFIXES):
                yield Path(dirpath) / name


def _load(path: Path, display: str, findings: list[Finding]) -> list[_Object]:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        findings.append(Finding(display, 1, "RC000", "not UTF-8 text; cannot be parsed as YAML"))
        return []
    yaml = YAML(typ="rt")
    try:
        docs = list(yaml.load_all(text))
    except YAMLError as exc:
        if "{{" in text:  # Helm/Go template, not plain YAML: out of scope
            return []
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        line = mark.line + 1 if mark is not None else 1
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        findings.append(Finding(display, line, "RC000", f"unparseable YAML: {problem}"))
        return []
    objs = []
    for doc in docs:
        if isinstance(doc, dict):
            line = doc.lc.line + 1 if hasattr(doc, "lc") and doc.lc.line is not None else 1
            objs.append(_Object(display, doc, line))
    return objs


def _check_list(obj: _Object, key: str, own_ns: str | None, created: set[str] | None) -> Iterable[Finding]:
    ann = obj.annotations
    line = obj.line_of(ann, key)
    short = short_key(key)
    for entry in split_list(ann.get(key)):
        if entry == "*" or not _regex_ok(entry):
            yield Finding(
                obj.path,
                line,
                "RC005",
                f"{short}: '{entry}' is not a valid regex (use '.*' to mean any namespace)",
            )
            continue
        if _GLOB_STAR.search(entry):
            fixed = "^" + re.sub(r"(?<![.\])}\\])\*", ".*", entry).lstrip("^")
            yield Finding(
                obj.path,
                line,
                "RC004",
                f"{short}: '{entry}' looks like a glob; entries are anchored regexes "
                f"(did you mean '{fixed}'?)",
            )
            continue
        if own_ns and _matches(entry, own_ns):
            yield Finding(
                obj.path,
                line,
                "RC002",
                f"{short}: '{entry}' matches the source's own namespace '{own_ns}'; remove it",
            )
        if created is not None and _LITERAL_NS.match(entry) and entry not in created and entry != own_ns:
            yield Finding(
                obj.path,
                line,
                "RC006",
                f"{short}: namespace '{entry}' is not created by any Namespace manifest in the tree",
            )


def lint_objects(objects: list[_Object], *, check_namespaces: bool = False) -> list[Finding]:
    findings: list[Finding] = []
    namespaces = {str(o.meta.get("name")) for o in objects if o.kind == "Namespace" and o.meta.get("name")}
    created = namespaces if (namespaces or check_namespaces) else None
    mirrored = {
        str(o.annotations.get(REFLECTS)).strip() for o in objects if o.annotations.get(REFLECTS) is not None
    }
    for obj in objects:
        ann = obj.annotations
        has_values = any(isinstance(obj.doc.get(k), dict) and obj.doc.get(k) for k in ("data", "stringData"))
        if obj.kind == "Secret" and "sops" not in obj.doc and has_values:
            name = obj.meta.get("name", "?")
            key = "stringData" if obj.doc.get("stringData") else "data"
            findings.append(
                Finding(
                    obj.path,
                    obj.line_of(obj.doc, key),
                    "RC007",
                    f"Secret '{name}' holds plaintext {key}; encrypt the file with sops",
                )
            )
        if obj.kind not in ("Secret", "ConfigMap") or ALLOWED not in ann:
            continue
        for key in BOOLEAN_KEYS:
            if key in ann and _parse_bool(ann.get(key)) is None:
                findings.append(
                    Finding(
                        obj.path,
                        obj.line_of(ann, key),
                        "RC008",
                        f"{short_key(key)}: '{ann.get(key)}' is not true/false; Reflector treats it as false",
                    )
                )
        if _parse_bool(ann.get(ALLOWED)) is not True:
            continue
        name = obj.meta.get("name")
        own_ns = obj.meta.get("namespace")
        allowed_line = obj.line_of(ann, ALLOWED)
        if _parse_bool(ann.get(AUTO)) is not True and f"{own_ns}/{name}" not in mirrored:
            findings.append(
                Finding(
                    obj.path,
                    allowed_line,
                    "RC001",
                    f"source '{own_ns}/{name}' has reflection-allowed but no "
                    'reflection-auto-enabled: "true" and no manual mirror; Reflector creates no copies',
                )
            )
        if not split_list(ann.get(ALLOWED_NS)):
            line = obj.line_of(ann, ALLOWED_NS) if ALLOWED_NS in ann else allowed_line
            findings.append(
                Finding(
                    obj.path,
                    line,
                    "RC003",
                    "reflection-allowed-namespaces is missing or empty: every namespace is allowed; "
                    "list the target namespaces",
                )
            )
        for key in LIST_KEYS:
            if key in ann:
                findings.extend(_check_list(obj, key, str(own_ns) if own_ns else None, created))
    return findings


def lint_path(root: Path, *, check_namespaces: bool = False) -> list[Finding]:
    """Lint every YAML file under ``root`` (or the single file ``root``). Raises OSError if unreadable."""
    if not root.exists():
        raise FileNotFoundError(f"{root}: no such file or directory")
    base = root if root.is_dir() else root.parent
    findings: list[Finding] = []
    objects: list[_Object] = []
    for path in iter_yaml_files(root):
        display = os.path.relpath(path, base) if root.is_dir() else str(root)
        objects.extend(_load(path, display, findings))
    findings.extend(lint_objects(objects, check_namespaces=check_namespaces))
    return sorted(set(findings))


def render(findings: list[Finding], fmt: str = "text") -> str:
    if fmt == "json":
        return json.dumps([asdict(f) for f in findings], indent=2) + "\n"
    return "".join(f.format() + "\n" for f in findings)
