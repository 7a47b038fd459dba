"""`make bench` arithmetic: percentiles, ratios to the floor, and which figures meet issue 16's targets."""

from __future__ import annotations

import pytest

from fixtures.core.stats import percentile
from replicheck.bench import run as bench
from replicheck.bench.operator import ratio, with_ratios


def test_the_p99_is_an_observed_value() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 50) in values
    assert percentile(values, 99) == 99.0
    assert percentile([0.3], 99) == 0.3


def test_ratio_needs_both_figures() -> None:
    assert ratio(1.2, 1.0) == pytest.approx(1.2)
    assert ratio(None, 1.0) is None
    assert ratio(1.0, 0.0) is None


def test_every_figure_with_a_floor_gets_its_ratio() -> None:
    figures = {
        "copies_1000_update_p99_s": 1.64,
        "copies_1000_update_floor_p99_s": 1.47,
        "copies_1000_update_last_copy_s_max": 1.7,
        "copies_1000_update_floor_last_s_max": 1.5,
        "copies_1000_create_all_s": 2.0,
        "copies_1000_create_floor_s": 1.0,
        "new_namespace_p99_s": 0.04,
        "new_namespace_floor_p99_s": 0.02,
        "scale_rotation_s": 30.0,
        "scale_rotation_floor_s": 25.0,
        "copies_10_update_p99_s": 0.1,  # no floor measured: no ratio
    }
    out = with_ratios(figures)
    assert out["copies_1000_update_p99_x_floor"] == pytest.approx(1.64 / 1.47)
    assert out["copies_1000_update_last_copy_x_floor"] == pytest.approx(1.7 / 1.5)
    assert out["copies_1000_create_all_x_floor"] == pytest.approx(2.0)
    assert out["new_namespace_p99_x_floor"] == pytest.approx(2.0)
    assert out["scale_rotation_x_floor"] == pytest.approx(1.2)
    assert "copies_10_update_p99_x_floor" not in out
    assert all(out[k] == v for k, v in figures.items())


@pytest.mark.parametrize(
    ("key", "value", "met"),
    [
        ("copies_1000_update_p99_x_floor", 1.12, True),
        ("copies_1000_update_p99_x_floor", 1.3, False),
        ("new_namespace_during_fanout_p99_s", 0.051, False),
        ("scale_api_requests_per_resync", 0.0, True),
        ("scale_api_requests_per_resync", 3.0, False),
        ("scale_rss_after_rotation_mb", 149.0, True),
        ("copies_10_update_p99_s", 5.0, None),
        ("scale_operator_start_s", None, None),
    ],
)
def test_targets(key: str, value: float | None, met: bool | None) -> None:
    assert bench.target_met(key, value) is met
    text = bench.shown(key, value)
    if met is not None:
        assert ("met" if met else "MISSED") in text
