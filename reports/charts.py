"""The report's plots as PNG files (matplotlib, Agg backend: no display, no network).

Each function takes plain data from the report JSON, writes one PNG and returns its path, or removes
a stale file and returns None when there is nothing to draw (a run without that phase).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fixtures.core.stats import percentile

PASS, FAIL, NEUTRAL, UNJUDGED = "#1a7f37", "#cf222e", "#4c72b0", "#8c959f"


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def latency_plot(values: list[float], path: Path) -> Path | None:
    """Histogram of Property 6 latencies with p50 and p99 marked."""
    if not values:
        path.unlink(missing_ok=True)
        return None
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(8, 3.4), dpi=110)
    ax.hist(values, bins=min(40, max(5, len(values) // 3)), color=NEUTRAL)
    for p, style in ((50, "--"), (99, ":")):
        v = percentile(values, p)
        assert v is not None  # values is not empty
        ax.axvline(v, color="black", linestyle=style, label=f"p{p} {v:.2f} s")
    ax.set_xlabel("source update → last copy matches (s)")
    ax.set_ylabel("updates")
    ax.set_title(f"Property 6 propagation latency ({len(values)} samples)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def latency_systems_plot(by_system: dict[str, list[float]], bound: float, path: Path) -> Path | None:
    """Property 6 latency side by side: one row per system, its distribution as a box over the
    samples (p50 and p99 written next to it), on one logarithmic axis with the bound marked, so
    systems that differ by orders of magnitude stay comparable. Systems without samples are named."""
    if not any(by_system.values()):
        path.unlink(missing_ok=True)
        return None
    import random

    plt = _pyplot()
    names = list(by_system)
    fig, ax = plt.subplots(figsize=(8, 0.9 * len(names) + 1.6), dpi=110)
    measured = [v for values in by_system.values() for v in values if v > 0]
    floor = min(measured) / 2 if measured else 0.001
    jitter = random.Random(6)
    for row, name in enumerate(names):
        values = [max(v, floor) for v in by_system[name]]
        if not values:
            ax.text(floor, row, "  no samples", va="center", fontsize=8, color=FAIL)
            continue
        ax.boxplot(
            values,
            positions=[row],
            orientation="horizontal",
            widths=0.5,
            showfliers=False,
            manage_ticks=False,
        )
        ax.scatter(values, [row + jitter.uniform(-0.18, 0.18) for _ in values], s=6, alpha=0.4, color=NEUTRAL)
        p50, p99 = percentile(values, 50), percentile(values, 99)
        assert p50 is not None  # values is not empty
        assert p99 is not None
        ax.text(
            max(values) * 1.15,
            row,
            f"p50 {p50:.3f} s · p99 {p99:.3f} s · n={len(values)}",
            va="center",
            fontsize=8,
            color=FAIL if p99 > bound else "black",
        )
    ax.axvline(bound, color=FAIL, linestyle=":", label=f"bound {bound:.0f} s")
    ax.set_xscale("log")
    ax.set_xlim(floor, max([bound, *measured]) * 30)
    ax.set_yticks(range(len(names)), names)
    ax.set_ylim(len(names) - 0.4, -0.6)
    ax.set_xlabel("source update → last copy matches (s, log scale)")
    ax.set_title("Property 6 propagation latency per system")
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def _colour(experiment: dict[str, Any]) -> str:
    """Green passed, red failed, grey when it judged nothing (no verdict, n/a: chaos records'
    ``verdict``, chaos/README.md)."""
    if experiment.get("verdict") in ("no verdict", "n/a"):
        return UNJUDGED
    return PASS if experiment.get("passed") else FAIL


def chaos_plot(experiments: list[dict[str, Any]], path: Path) -> Path | None:
    """Horizontal bars: time to recovery per chaos experiment, green if it passed, red if not."""
    if not experiments:
        path.unlink(missing_ok=True)
        return None
    plt = _pyplot()
    rows = sorted(experiments, key=lambda e: (str(e.get("experiment")), str(e.get("system"))))
    several = len({e.get("system") for e in rows}) > 1  # a run of several systems: say whose
    names = [str(e.get("experiment", "?")) + (f" · {e.get('system')}" if several else "") for e in rows]
    values = [float(e["recovery_s"]) if isinstance(e.get("recovery_s"), int | float) else 0.0 for e in rows]
    colors = [_colour(e) for e in rows]
    fig, ax = plt.subplots(figsize=(8, 0.45 * len(rows) + 1.2), dpi=110)
    bars = ax.barh(names, values, color=colors)
    top = max(values) if any(values) else 1.0
    for bar, e, v in zip(bars, rows, values, strict=True):
        label = f"{v:.1f} s" if isinstance(e.get("recovery_s"), int | float) else "no recovery measured"
        verdict = e.get("verdict")
        if verdict in ("no verdict", "n/a"):  # nothing judged: no resilience to show
            label += f"  ·  {verdict}"
        else:
            label += f"  ·  resilience {e.get('resilience', 0):.0f}%"
        ax.text(
            v + top * 0.01,
            bar.get_y() + bar.get_height() / 2,
            label,
            va="center",
            fontsize=8,
            color="black" if e.get("passed") or _colour(e) == UNJUDGED else FAIL,
        )
    ax.invert_yaxis()
    ax.set_xlim(0, top * 1.6)
    ax.set_xlabel("time to recovery (s)")
    ax.set_title("Chaos: time to recovery per experiment (green passed, red failed, grey no verdict or n/a)")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path
