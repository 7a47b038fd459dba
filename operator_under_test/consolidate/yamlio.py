"""Round-trip YAML helpers (ruamel.yaml): comments, key order, quoting and indentation are kept."""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import CommentMark, YAMLError
from ruamel.yaml.tokens import CommentToken

from .errors import ConsolidationError

_SEQ_ITEM = re.compile(r"^( *)- ")
_KEY_ONLY = re.compile(r"^( *)[^\s#-][^#]*:\s*(#.*)?$")
_NESTED_KEY = re.compile(r"^( +)[^\s#-][^:#]*:")


def detect_indent(text: str) -> tuple[int, int, int]:
    """(mapping, sequence, offset) indentation used by ``text``, for ruamel's ``YAML.indent``."""
    lines = text.splitlines()
    mapping = 0
    offset = None
    for i, line in enumerate(lines):
        m = _NESTED_KEY.match(line)
        if m and mapping == 0:
            prev = next((p for p in reversed(lines[:i]) if p.strip() and not p.lstrip().startswith("#")), "")
            if _KEY_ONLY.match(prev):
                mapping = len(m.group(1)) - (len(prev) - len(prev.lstrip(" ")))
        s = _SEQ_ITEM.match(line)
        if s and offset is None:
            prev = next((p for p in reversed(lines[:i]) if p.strip() and not p.lstrip().startswith("#")), "")
            if _KEY_ONLY.match(prev):
                offset = len(s.group(1)) - (len(prev) - len(prev.lstrip(" ")))
    mapping = mapping if mapping > 0 else 2
    offset = offset if offset is not None and offset >= 0 else 2
    return mapping, offset + 2, offset


def make_yaml(text: str = "") -> YAML:
    y = YAML(typ="rt")
    y.preserve_quotes = True
    y.width = 4096
    mapping, sequence, offset = detect_indent(text)
    y.indent(mapping=mapping, sequence=sequence, offset=offset)
    return y


def problem_line(exc: YAMLError) -> str:
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    where = f" at line {mark.line + 1}" if mark is not None else ""
    return f"{problem}{where}"


def load_all(text: str, display: str) -> list[Any]:
    """All documents of ``text`` (round-trip); an unparseable file raises one clear line."""
    try:
        return [d for d in make_yaml(text).load_all(text) if d is not None]
    except YAMLError as exc:
        raise ConsolidationError(f"{display}: not valid YAML ({problem_line(exc)}); fix the file") from None


def load_one(text: str, display: str) -> Any:
    docs = load_all(text, display)
    if len(docs) != 1:
        raise ConsolidationError(
            f"{display}: expected exactly one YAML document, found {len(docs)}; split or fix the file"
        )
    return docs[0]


def dump(doc: Any, template: str = "") -> str:
    buf = io.StringIO()
    make_yaml(template).dump(doc, buf)
    return buf.getvalue()


def read_text(path: Path, display: str) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConsolidationError(
            f"{display}: cannot read it ({exc.__class__.__name__}); check the file"
        ) from None


def _move_comment_after(seq: CommentedSeq, parent: CommentedMap, key: Any, index: int, text: str) -> None:
    """Attach full-line comment ``text`` so that it renders where item ``index`` used to be."""
    if not text:
        return
    if index > 0:
        prev = seq.ca.items.get(index - 1)
        if prev and prev[0] is not None:
            prev[0].value += text
        else:
            seq.ca.items[index - 1] = [CommentToken("\n" + text, CommentMark(0), None), None, None, None]
        return
    slot = parent.ca.items.setdefault(key, [None, None, None, None])
    if slot[3] is None:
        slot[3] = []
    for line in text.splitlines():
        col = len(line) - len(line.lstrip())
        slot[3].append(CommentToken(line.strip() + "\n", CommentMark(col), None))


def delete_seq_item(parent: CommentedMap, key: Any, index: int) -> None:
    """Delete ``parent[key][index]`` keeping every comment except the item's own end-of-line one."""
    seq = parent[key]
    tok = seq.ca.items.get(index)
    rest = ""
    if tok and tok[0] is not None:
        value = tok[0].value
        # A value that does not start with a newline begins with the item's end-of-line comment.
        rest = value.split("\n", 1)[1] if "\n" in value else ""
    del seq[index]  # ruamel shifts the comment indices of later items itself
    if len(seq) == 0:
        comments = []
        slot = parent.ca.items.get(key)
        if slot and slot[3]:
            comments = [t.value for t in slot[3]]
            slot[3] = None
        empty = CommentedSeq()
        empty.fa.set_flow_style()
        parent[key] = empty
        trailing = "".join("  " + c.lstrip() if c.strip() else c for c in comments) + rest
        if trailing:
            parent.ca.items[key] = [None, None, CommentToken("\n" + trailing, CommentMark(0), None), None]
        return
    _move_comment_after(seq, parent, key, index, rest)


def append_seq_item(parent: CommentedMap, key: Any, value: str) -> None:
    """Append ``value`` to the block sequence ``parent[key]`` (created if missing)."""
    if key not in parent or parent[key] is None:
        seq = CommentedSeq()
        parent[key] = seq
    seq = parent[key]
    last = len(seq) - 1
    tok = seq.ca.items.get(last) if last >= 0 else None
    moved = None
    if tok and tok[0] is not None and "\n" in tok[0].value:
        value_text = tok[0].value
        head, rest = value_text.split("\n", 1)
        if rest:
            tok[0].value = head + "\n"
            moved = rest
    seq.append(value)
    if moved:
        seq.ca.items[last + 1] = [CommentToken("\n" + moved, CommentMark(0), None), None, None, None]
