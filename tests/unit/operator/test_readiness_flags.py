"""Both bundled operators take the /readyz watch-down threshold as a flag.

``--ready-down-threshold-seconds`` (or ``REPLICATOR_``/``CONFIGMIRROR_READY_DOWN_THRESHOLD_SECONDS``)
is one of the shared loop flags (``operator_under_test/replicator/cli.py``). ConfigMirror used to have
no such flag: its threshold was fixed at the 30 s default, so nobody could shorten or lengthen it.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from types import ModuleType

import pytest

from operator_under_test.configmirror import __main__ as configmirror_main
from operator_under_test.replicator import __main__ as replicator_main

#: operator -> (its __main__, its environment prefix)
OPERATORS: dict[str, tuple[ModuleType, str]] = {
    "replicator": (replicator_main, "REPLICATOR"),
    "configmirror": (configmirror_main, "CONFIGMIRROR"),
}


def threshold(module: ModuleType, argv: list[str]) -> float:
    """The threshold the operator's ``main`` would hand its controller for these flags."""
    build: Callable[[], argparse.ArgumentParser] = module.build_parser
    return module.options(build().parse_args(argv)).ready_down_threshold_seconds


@pytest.mark.parametrize("name", sorted(OPERATORS))
def test_the_flag_sets_the_watch_down_threshold(name: str) -> None:
    module, _ = OPERATORS[name]
    assert threshold(module, []) == 30.0
    assert threshold(module, ["--ready-down-threshold-seconds=2.5"]) == 2.5


@pytest.mark.parametrize("name", sorted(OPERATORS))
def test_the_environment_sets_the_watch_down_threshold(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    module, prefix = OPERATORS[name]
    monkeypatch.setenv(f"{prefix}_READY_DOWN_THRESHOLD_SECONDS", "7")
    assert threshold(module, []) == 7.0
    assert threshold(module, ["--ready-down-threshold-seconds=3"]) == 3.0  # the flag wins
