"""`make bench`'s systems side by side in the report: the table and the plot of the ``systems``
section of ``reports/bench.json`` (written by ``replicheck/bench/systems.py``).

Why here: the report builder reads what the runs left (records, bench.json) after the clusters are
gone; the columns are defined once, here, for the page, the Markdown and the bench's own printout.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from reports.charts import NEUTRAL, UNJUDGED, _pyplot

BENCH_JSON = "bench.json"
SECTION = "systems"
#: (figure, its floor or None, what it is): the table's columns and the plot's groups, in order
COLUMNS: tuple[tuple[str, str | None, str], ...] = (
    ("update_100_p99_s", "update_100_floor_p99_s", "update → 100 copies, p99 (s)"),
    ("update_1000_p99_s", "update_1000_floor_p99_s", "update → 1000 copies, p99 (s)"),
    ("update_1000_last_s", None, "update → last of 1000 copies (s)"),
    ("new_namespace_p99_s", "new_namespace_floor_p99_s", "new namespace → copy, p99 (s)"),
    ("restore_max_s", None, "deleted copy restored, max (s)"),
    ("rss_mb", None, "RSS with 1000 copies (MB)"),
    ("cpu_ms_per_copy", None, "CPU per copy written (ms)"),
)
#: the latency figures the plot draws (seconds, one logarithmic axis)
PLOTTED = ("update_100_p99_s", "update_1000_p99_s", "new_namespace_p99_s", "restore_max_s")


def load(reports: Path) -> dict[str, Any] | None:
    """The ``systems`` section of ``reports/bench.json`` (None when ``make bench`` did not write one)."""
    try:
        data = json.loads((reports / BENCH_JSON).read_text())
    except (OSError, ValueError):
        return None
    section = data.get(SECTION)
    return section if isinstance(section, dict) and section.get("results") else None


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3f}" if value < 100 else f"{value:.0f}"
    return "-" if value is None else str(value)


def rows(section: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per system: each column's figure with its floor, or why it was not measured."""
    out = []
    for name, figures in section["results"].items():
        why = figures.get("skipped") or figures.get("error")
        cells = []
        for key, floor, _ in COLUMNS:
            value = figures.get(key)
            text = _cell(value)
            if floor and isinstance(figures.get(floor), int | float):
                text += f" (floor {_cell(figures[floor])})"
            cells.append(text)
        out.append({"system": name, "cells": cells, "note": why or ""})
    return out


def markdown(section: dict[str, Any] | None) -> list[str]:
    """The table in Markdown (empty without a section)."""
    if not section:
        return []
    head = ["system", *(title for _, _, title in COLUMNS)]
    out = [
        "## Systems side by side (`make bench`)",
        "",
        f"One local cluster, one system at a time; {section.get('note', '')}".rstrip(),
        "",
        "| " + " | ".join(head) + " |",
        "|" + "---|" * len(head),
    ]
    for row in rows(section):
        cells = row["cells"] if not row["note"] else [row["note"], *([""] * (len(COLUMNS) - 1))]
        out.append("| " + " | ".join([f"`{row['system']}`", *cells]) + " |")
    return [*out, ""]


def plot(section: dict[str, Any] | None, path: Path) -> Path | None:
    """The latency figures side by side: a group per figure, a bar per system and one for its
    floor (hatched), on one logarithmic axis (systems differ by orders of magnitude)."""
    measured = {
        name: f for name, f in (section or {}).get("results", {}).items() if any(k in f for k in PLOTTED)
    }
    if not measured:
        path.unlink(missing_ok=True)
        return None
    plt = _pyplot()
    names = list(measured)
    width = 0.8 / (len(names) + 1)
    fig, ax = plt.subplots(figsize=(9, 3.8), dpi=110)
    colors = plt.get_cmap("tab10")
    for i, key in enumerate(PLOTTED):
        floor_key = next((f for k, f, _ in COLUMNS if k == key), None)
        floors = [
            measured[n][floor_key]
            for n in names
            if floor_key and isinstance(measured[n].get(floor_key), float)
        ]
        for j, name in enumerate(names):
            value = measured[name].get(key)
            if isinstance(value, int | float) and value > 0:
                ax.bar(i + j * width, value, width, color=colors(j), label=name if i == 0 else None)
        if floors:
            ax.bar(
                i + len(names) * width,
                min(floors),
                width,
                color=UNJUDGED,
                hatch="//",
                edgecolor=NEUTRAL,
                label="floor (same writes, minimal client)" if i == 0 else None,
            )
    ax.set_xticks([i + 0.4 - width / 2 for i in range(len(PLOTTED))])
    ax.set_xticklabels([next(t for k, _, t in COLUMNS if k == key).split(",")[0] for key in PLOTTED])
    ax.set_yscale("log")
    ax.set_ylabel("seconds (log)")
    ax.set_title("make bench: every system on one cluster, next to the floor")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path
