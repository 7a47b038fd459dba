"""The report's plots as PNG files (matplotlib, Agg backend: no display, no network).

Each function takes plain data from the report JSON, writes one PNG and returns its path, or removes
a stale file and returns None when there is nothing to draw (a run without that phase).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

PASS, FAIL, NEUTRAL = "#1a7f37", "#cf222e", "#4c72b0"


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    k = (len(ordered) - 1) * p / 100
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def latency_plot(values: list[float], path: Path) -> Path | None:
    """Histogram of Property 6 latencies with p50 and p99 marked."""
    if not values:
        path.unlink(missing_ok=True)
        return None
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(8, 3.4), dpi=110)
    ax.hist(values, bins=min(40, max(5, len(values) // 3)), color=NEUTRAL)
    for p, style in ((50, "--"), (99, ":")):
        v = _percentile(values, p)
        ax.axvline(v, color="black", linestyle=style, label=f"p{p} {v:.2f} s")
    ax.set_xlabel("source update → last copy matches (s)")
    ax.set_ylabel("updates")
    ax.set_title(f"Property 6 propagation latency ({len(values)} samples)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def chaos_plot(experiments: list[dict[str, Any]], path: Path) -> Path | None:
    """Horizontal bars: time to recovery per chaos experiment, green if it passed, red if not."""
    if not experiments:
        path.unlink(missing_ok=True)
        return None
    plt = _pyplot()
    rows = sorted(experiments, key=lambda e: str(e.get("experiment")))
    names = [str(e.get("experiment", "?")) for e in rows]
    values = [float(e["recovery_s"]) if isinstance(e.get("recovery_s"), int | float) else 0.0 for e in rows]
    colors = [PASS if e.get("passed") else FAIL for e in rows]
    fig, ax = plt.subplots(figsize=(8, 0.45 * len(rows) + 1.2), dpi=110)
    bars = ax.barh(names, values, color=colors)
    top = max(values) if any(values) else 1.0
    for bar, e, v in zip(bars, rows, values, strict=True):
        label = f"{v:.1f} s" if isinstance(e.get("recovery_s"), int | float) else "no recovery measured"
        label += f"  ·  resilience {e.get('resilience', 0):.0f}%"
        ax.text(
            v + top * 0.01,
            bar.get_y() + bar.get_height() / 2,
            label,
            va="center",
            fontsize=8,
            color="black" if e.get("passed") else FAIL,
        )
    ax.invert_yaxis()
    ax.set_xlim(0, top * 1.6)
    ax.set_xlabel("time to recovery (s)")
    ax.set_title("Chaos: time to recovery per experiment (green passed, red failed)")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path
