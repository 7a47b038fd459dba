"""The closing lines of `make conformance`: one line per phase with its time, then the report paths."""

from __future__ import annotations

import fnmatch
import subprocess
from pathlib import Path

import pytest

from fixtures.paths import REPO_ROOT
from reports.conformance import summary


def test_summary_names_every_phase_with_its_time_and_the_reports(tmp_path: Path) -> None:
    (tmp_path / "certification.html").write_text("<html>")
    (tmp_path / "certification.json").write_text("{}")
    (tmp_path / "allure-results").mkdir()
    phases = [("harness and operator", 0, 95.2), ("conformance suites", 1, 312.0), ("properties", 5, 3.0)]
    lines = summary("NOT CERTIFIED", phases, 4.4, 414.6, tmp_path, setup_s=601.0)
    assert lines[0] == "replicheck conformance: NOT CERTIFIED after 16m56s"
    assert "setup" in lines[1]
    assert lines[1].rstrip().endswith("10m01s")
    assert [ln.split()[:2] for ln in lines[2:5]] == [["phase", "1/3"], ["phase", "2/3"], ["phase", "3/3"]]
    assert lines[2].endswith("1m35s  ok")
    assert lines[3].endswith("5m12s  pytest exit 1")
    assert lines[4].endswith("3s  no tests")
    assert "building the reports" in lines[5]
    assert lines[5].endswith("4s")
    assert lines[6] == "reports:"
    shown = [ln.split()[0] for ln in lines[7:]]
    assert shown == [
        str(tmp_path / "certification.html"),
        str(tmp_path / "certification.json"),
        f"{tmp_path / 'allure-results'}/",
    ]


def test_summary_without_make_start_has_no_setup_line(tmp_path: Path) -> None:
    lines = summary("CERTIFIED", [("chaos", 0, 61.0)], 1.0, 62.0, tmp_path)
    assert lines[0] == "replicheck conformance: CERTIFIED after 1m02s"
    assert lines[1].split()[:2] == ["phase", "1/1"]


def test_each_phase_runs_its_paths_with_its_options_and_configmirror_runs_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from fixtures import phases
    from reports import build, conformance, traceability

    ran: list[list[str]] = []

    def run(cmd: list[str], **_: object) -> subprocess.CompletedProcess:
        ran.append(cmd)
        return subprocess.CompletedProcess(cmd, conformance.NO_TESTS_COLLECTED)

    monkeypatch.setattr(conformance.subprocess, "run", run)
    monkeypatch.setattr(traceability, "main", lambda: 0)
    monkeypatch.setattr(build, "main", lambda argv: 1)
    monkeypatch.setattr(build, "REPORTS", tmp_path)
    assert conformance.main(["--cluster=local"]) == 1

    assert len(ran) == len(phases.PHASES)
    for cmd, (title, paths) in zip(ran, phases.PHASES, strict=True):
        tail = cmd[cmd.index("--alluredir=reports/allure-results") + 1 :]
        assert tail == [*paths, "--cluster=local", *phases.OPTIONS.get(title, [])]  # the phase's win
    mirror = dict(phases.PHASES)[phases.CONFIGMIRROR]
    assert phases.OPTIONS[phases.CONFIGMIRROR] == ["--implementation=configmirror"]
    chaos = [p for p in mirror if p.startswith("chaos/")]
    assert len(chaos) == 4
    assert all((REPO_ROOT / p).is_file() for p in mirror[3:])
    assert all((REPO_ROOT / p).is_dir() for p in mirror[:2])
    # every other phase leaves ConfigMirror's tests to its own phase
    ignored = [
        o.split("=", 1)[1] for opts in phases.OPTIONS.values() for o in opts if o.startswith("--ignore")
    ]
    assert ignored == [
        "tests/configmirror",
        "properties/test_configmirror_properties.py",
        "chaos/test_mirror_*.py",
    ]
    assert all(fnmatch.fnmatch(p, ignored[2]) for p in chaos)
