"""The certification page: certification.json rendered by Jinja2 into one self-contained HTML file.

Why a template engine: the page is read (and attached) by release managers, so it is laid out as a
document — banner, tables, charts — rather than Markdown pasted into HTML; autoescaping keeps
anything a test printed from becoming markup. The page needs no network: styles are inline and the
plots listed in the JSON's ``plots`` are embedded as data URIs.

Sections are discovered, not listed: every ``templates/sections/NN-<key>.html.j2`` is rendered in
``NN`` order when the JSON has ``<key>`` (``always`` sections render unconditionally). Adding a
section = one key in the JSON (reports/build.py ``to_json``) + one template file; see README.md.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2

TEMPLATES = Path(__file__).with_name("templates")
SECTION_FILE = re.compile(r"^(\d+)-([a-z0-9_]+)\.html\.j2$")
TITLE_COMMENT = re.compile(r"\{#\s*title:\s*(.+?)\s*(?:\|\s*(always))?\s*#\}")
# Allure 3 (awesome report) routes a test result as index.html#<result uuid>.
ALLURE_REPORT = "allure-report/index.html"


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
    env.globals["allure_report"] = ALLURE_REPORT
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
