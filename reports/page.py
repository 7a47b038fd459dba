"""The certification page: certification.json rendered by Jinja2 into one self-contained HTML file.

Why a template engine: the page is read (and attached) by release managers, so it is laid out as a
document — banner, tables, charts — rather than Markdown pasted into HTML; autoescaping keeps
anything a test printed from becoming markup. The page needs no network: styles are inline and the
plots listed in the JSON's ``plots`` are embedded as data URIs.

Sections are discovered, not listed: every ``templates/sections/NN-<key>.html.j2`` is rendered in
``NN`` order when the JSON has ``<key>`` (``always`` sections render unconditionally). Adding a
section = one key in the JSON (reports/build.py ``to_json``) + one template file; see README.md.

The page reads both schemas: version 2 (three verdicts, reasons as ``{outcome, system, check,
cause}``, a ``headline``) and version 1 (reasons as plain strings, shown as their cause). It fits
any width down to a laptop's: long unbroken text (pytest node ids, paths, digests) may break
anywhere, node ids preferably at their separators (``breakable``), and wide tables have a fixed
layout, so no cell can push the page sideways whatever the data.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup, escape

TEMPLATES = Path(__file__).with_name("templates")
SECTION_FILE = re.compile(r"^(\d+)-([a-z0-9_]+)\.html\.j2$")
TITLE_COMMENT = re.compile(r"\{#\s*title:\s*(.+?)\s*(?:\|\s*(always))?\s*#\}")
# Allure 3 (awesome report) routes a test result as index.html#<result uuid>.
ALLURE_REPORT = "allure-report/index.html"
CERTIFIED, NOT_CERTIFIED, NO_VERDICT = "CERTIFIED", "NOT CERTIFIED", "NO VERDICT"
#: the banner's and badges' colour class of each verdict (NO VERDICT: neither red nor green)
VERDICT_CLASS = {CERTIFIED: "pass", NOT_CERTIFIED: "fail", NO_VERDICT: "none"}
#: where a node id, path or dotted name may wrap: after these separators
_BREAK_AFTER = re.compile(r"(?<=::)|(?<=[/._\[\]])")
#: the chaos outcomes a record's ``verdict`` may state (reports/build.py ``chaos_verdict``)
CHAOS_OUTCOMES = ("pass", "fail", "no verdict", "n/a")


@dataclass(frozen=True)
class Section:
    order: int
    key: str
    title: str
    always: bool
    template: str


def sections(directory: Path = TEMPLATES / "sections") -> list[Section]:
    """The section templates in page order; the title comes from the file's first `{# title: … #}`."""
    found = []
    for path in directory.iterdir():
        match = SECTION_FILE.match(path.name)
        if not match:
            continue
        header = TITLE_COMMENT.search(path.read_text())
        if header is None:
            raise ValueError(f"{path}: first line must be '{{# title: <Section title> #}}'")
        found.append(
            Section(
                int(match.group(1)),
                match.group(2),
                header.group(1),
                header.group(2) == "always",
                f"sections/{path.name}",
            )
        )
    return sorted(found, key=lambda s: (s.order, s.key))


def data_uri(path: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode()


def _seconds(value: Any, digits: int = 2) -> str:
    if not isinstance(value, int | float):
        return "\u2013"
    return f"{value:.{digits}f} s"


def _number(value: Any, digits: int = 1) -> str:
    if value is None:
        return "\u2013"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def breakable(value: Any) -> Markup:
    """``value`` escaped, with a line-break opportunity (``<wbr>``) after every ``/``, ``::``, ``.``,
    ``_`` and bracket, so a pytest node id or a path wraps at a separator rather than mid-word;
    the text (and a copy of it) stays exactly ``value``."""
    return Markup("<wbr>").join(escape(part) for part in _BREAK_AFTER.split(str(value)) if part)


def reason(value: Any) -> dict[str, Any]:
    """One reason as ``{outcome, system, check, cause}`` (schema 2). A plain string (schema 1) is
    its cause, of a system failure, whose system is unknown (``""``; ``None`` = the run itself)."""
    if isinstance(value, dict):
        return {
            "outcome": value.get("outcome") or NOT_CERTIFIED,
            "system": value.get("system"),
            "check": value.get("check") or "",
            "cause": value.get("cause") or "",
        }
    return {"outcome": NOT_CERTIFIED, "system": "", "check": "", "cause": str(value)}


def reason_groups(reasons: list[Any]) -> list[tuple[str, list[dict[str, Any]]]]:
    """The reasons in the banner's order: failures of a system (NOT CERTIFIED) first, then what
    could not be judged (NO VERDICT); each group in the report's order, empty groups left out."""
    found = [reason(r) for r in reasons or []]
    failures = [r for r in found if r["outcome"] != NO_VERDICT]
    unjudged = [r for r in found if r["outcome"] == NO_VERDICT]
    return [(outcome, rs) for outcome, rs in ((NOT_CERTIFIED, failures), (NO_VERDICT, unjudged)) if rs]


def reason_text(value: Any) -> str:
    """``system: check: cause`` of one reason, as a headline says it."""
    r = reason(value)
    return ": ".join(part for part in (r["system"], r["check"], r["cause"]) if part)


def headline_cause(doc: dict[str, Any]) -> str:
    """What follows the verdict on the banner's first line: the ``headline`` without its verdict,
    else (schema 1) the first reason of the verdict's own kind; nothing for CERTIFIED."""
    verdict = str(doc.get("verdict", ""))
    head = str(doc.get("headline") or "")
    if head:
        rest = head[len(verdict) :] if head.startswith(verdict) else head
        return rest.lstrip(":").strip()
    if verdict == CERTIFIED:
        return ""
    own = [r for r in doc.get("reasons") or [] if reason(r)["outcome"] == verdict] or doc.get("reasons") or []
    return reason_text(own[0]) if own else ""


def chaos_outcome(record: dict[str, Any]) -> str:
    """pass | fail | no verdict | n/a of one chaos record: its ``verdict``, else (older records)
    derived from ``passed``."""
    verdict = str(record.get("verdict") or "").lower()
    if verdict in CHAOS_OUTCOMES:
        return verdict
    return "pass" if record.get("passed") else "fail"


def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["seconds"] = _seconds
    env.filters["number"] = _number
    env.filters["breakable"] = breakable
    env.filters["chaos_outcome"] = chaos_outcome
    env.globals["allure_report"] = ALLURE_REPORT
    env.globals["verdict_class"] = VERDICT_CLASS
    env.globals["reason_groups"] = reason_groups
    env.globals["headline_cause"] = headline_cause
    from reports.build import RAN_AS  # build imports this module lazily: no cycle at import time

    env.globals["ran_as"] = RAN_AS
    return env


def render_html(doc: dict[str, Any], reports_dir: Path) -> str:
    """The page for one certification JSON; plots are read from ``reports_dir``."""
    images = {}
    for key, name in (doc.get("plots") or {}).items():
        path = reports_dir / name
        if path.exists():
            images[key] = data_uri(path)
    shown = [s for s in sections() if s.always or doc.get(s.key) not in (None, [], {})]
    return environment().get_template("certification.html.j2").render(doc=doc, images=images, sections=shown)
