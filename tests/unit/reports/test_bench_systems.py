"""`make bench`'s systems side by side on plain data: the table's rows (figure with its floor, or why a
system was not measured), its Markdown, the plot, the report section, and the content digest the
bench recognises copies by."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from replicheck.bench.systems import content_digest, with_ratios
from reports import bench, build

SECTION = {
    "note": "fan-outs of 100, 1000 copies",
    "results": {
        "bundled": {
            "update_100_p99_s": 0.2,
            "update_100_floor_p99_s": 0.1,
            "new_namespace_p99_s": 0.02,
            "restore_max_s": 0.015,
            "rss_mb": 52.9,
        },
        "external-secrets": {"update_100_p99_s": 14.8, "update_100_floor_p99_s": 0.1, "rss_mb": 122.6},
        "kubernetes-replicator": {"skipped": "a controller you bring: set REPLICHECK_IMPLEMENTATION_COMMAND"},
    },
}


def test_rows_show_each_figure_with_its_floor_or_why_a_system_was_not_measured() -> None:
    rows = {r["system"]: r for r in bench.rows(SECTION)}
    assert rows["bundled"]["cells"][0] == "0.200 (floor 0.100)"
    assert rows["bundled"]["cells"][1] == "-"  # not measured: never a made-up figure
    assert rows["external-secrets"]["cells"][5] == "123"  # big numbers without decimals
    assert rows["kubernetes-replicator"]["note"].startswith("a controller you bring")
    md = "\n".join(bench.markdown(SECTION))
    assert "| `external-secrets` | 14.800 (floor 0.100) |" in md
    assert bench.markdown(None) == []


def test_the_plot_is_drawn_from_the_measured_systems_and_removed_without_them(tmp_path: Path) -> None:
    path = tmp_path / "bench-systems.png"
    assert bench.plot(SECTION, path) == path
    assert path.read_bytes()[:4] == b"\x89PNG"
    assert bench.plot({"results": {"x": {"skipped": "why"}}}, path) is None
    assert not path.exists()


def test_the_report_shows_the_section_when_make_bench_wrote_it(tmp_path: Path) -> None:
    (tmp_path / bench.BENCH_JSON).write_text(json.dumps({"operator": {}, bench.SECTION: SECTION}))
    evidence = build.evidence(tmp_path)
    assert [r["system"] for r in evidence["bench_systems"]["rows"]] == list(SECTION["results"])
    assert build.evidence(tmp_path / "none").get("bench_systems") is None


def test_copies_are_recognised_by_their_content_whatever_the_bookkeeping() -> None:
    a = content_digest("Secret", {"data": {"k": "djE="}, "metadata": {"annotations": {"x": "1"}}})
    b = content_digest("Secret", {"data": {"k": "djE="}, "metadata": {"labels": {"y": "2"}}})
    assert a == b
    assert a != content_digest("Secret", {"data": {"k": "djI="}})
    assert content_digest("ConfigMap", {"data": {}, "binaryData": {"b": "AA=="}}) != content_digest(
        "ConfigMap", {"data": {}}
    )
    assert with_ratios({"update_100_p99_s": 0.3, "update_100_floor_p99_s": 0.1})[
        "update_100_p99_x_floor"
    ] == pytest.approx(3.0)
