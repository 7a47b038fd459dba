"""The one percentile definition (fixtures.core.stats): nearest rank, None without samples."""

from __future__ import annotations

import ast
import math
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fixtures.core import stats
from fixtures.core.stats import percentile, summary


def test_nearest_rank_on_one_to_a_hundred() -> None:
    values = [float(v) for v in range(100, 0, -1)]  # unsorted on purpose
    assert [percentile(values, p) for p in (0, 1, 50, 95, 99, 100)] == [1.0, 1.0, 50.0, 95.0, 99.0, 100.0]


def test_small_samples_give_an_observed_value_never_one_in_between() -> None:
    # two samples: type 7 (linear interpolation) would say p99 = 99.01 and p50 = 50.5
    assert percentile([1.0, 100.0], 99) == 100.0
    assert percentile([1.0, 100.0], 50) == 1.0
    assert percentile([1.0, 2.0, 3.0, 4.0], 50) == 2.0
    assert percentile([1.0, 2.0, 3.0, 4.0], 51) == 3.0
    assert percentile([0.3], 99) == 0.3
    assert percentile(iter([3.0, 1.0, 2.0]), 100) == 3.0  # any iterable, read once


def test_an_exact_rank_is_not_pushed_up_by_floating_point() -> None:
    assert 8.8 * 375 / 100 > 33  # 33.00000000000001: a bare ceil would give rank 34
    assert percentile([float(v) for v in range(1, 376)], 8.8) == 33.0


def test_no_samples_no_figure() -> None:
    assert percentile([], 50) is None
    assert summary([]) == {"p50": None, "p95": None, "p99": None}


@pytest.mark.parametrize("p", [-1, 100.5, math.nan])
def test_a_point_outside_0_to_100_is_refused(p: float) -> None:
    with pytest.raises(ValueError, match="between 0 and 100"):
        percentile([1.0], p)


def test_summary_names_each_point() -> None:
    values = [float(v) for v in range(1, 1001)]
    assert summary(values) == {"p50": 500.0, "p95": 950.0, "p99": 990.0}
    assert summary(values, (99.9, 100)) == {"p99.9": 999.0, "p100": 1000.0}
    assert summary(v for v in values) == summary(values)  # a generator is read once


@given(
    values=st.lists(st.floats(-1e6, 1e6, allow_nan=False), min_size=1, max_size=60),
    p=st.floats(0, 100),
)
def test_the_stated_definition(values: list[float], p: float) -> None:
    """The smallest sample with at least p % of the samples at or below it."""
    got = percentile(values, p)
    assert got in values
    n = len(values)
    at_or_below = sum(v <= got for v in values)
    below = sum(v < got for v in values)
    assert at_or_below >= p / 100 * n - 1e-9
    if p > 0:
        assert below < p / 100 * n + 1e-9  # a smaller sample would not have p % at or below it
    else:
        assert got == min(values)


def test_the_module_imports_nothing_but_the_standard_library() -> None:
    """reports/ imports it, and must not load a Kubernetes client (import-linter contract)."""
    tree = ast.parse(Path(stats.__file__).read_text())
    imported = {
        (node.module or "").split(".")[0] if isinstance(node, ast.ImportFrom) else alias.name.split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in node.names
    }
    assert imported <= set(sys.stdlib_module_names) | {"__future__"}, imported
