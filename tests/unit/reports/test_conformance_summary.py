"""The closing lines of `make conformance`: one line per phase with its time, then the report paths."""

from __future__ import annotations

import fnmatch
from pathlib import Path

import pytest

from fixtures.core.paths import REPO_ROOT
from replicheck.conformance import summary


def test_summary_names_every_phase_with_its_time_and_the_reports(tmp_path: Path) -> None:
    (tmp_path / "certification.html").write_text("<html>")
    (tmp_path / "certification.json").write_text("{}")
    (tmp_path / "allure-results").mkdir()
    phases = [("harness and operator", 0, 95.2), ("conformance suites", 1, 312.0), ("properties", 5, 3.0)]
    lines = summary("NOT CERTIFIED", phases, 4.4, 414.6, tmp_path, setup_s=601.0)
    assert lines[0] == "replicheck conformance after 16m56s: NOT CERTIFIED"
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
    assert lines[0] == "replicheck conformance after 1m02s: CERTIFIED"
    assert lines[1].split()[:2] == ["phase", "1/1"]


@pytest.fixture
def phases_ran(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """``replicheck.conformance.main`` with every pytest run, the preflight and the report builder
    replaced by recorders (the phases' own tests run elsewhere); records go to ``tmp_path``."""
    from fixtures.conformance import preflight
    from fixtures.core import record
    from replicheck import conformance
    from reports import build, traceability

    ran: list[list[str]] = []

    def run_phase(cmd: list[str]) -> tuple[int, str]:
        ran.append(cmd)
        return conformance.NO_TESTS_COLLECTED, ""

    monkeypatch.setattr(conformance, "_run_phase", run_phase)
    monkeypatch.setattr(conformance, "pods_unusable_reason", lambda: "no nodes in this unit test")
    monkeypatch.delenv("REPLICHECK_RUN_AS", raising=False)
    monkeypatch.setattr(preflight, "run", lambda needs: [])
    monkeypatch.setattr(traceability, "main", lambda: 0)
    monkeypatch.setattr(build, "main", lambda argv: ran.append(["build", *argv]) or 1)
    monkeypatch.setattr(build, "REPORTS", tmp_path)
    monkeypatch.setattr(record, "RECORDS_DIR", tmp_path / "records")
    monkeypatch.delenv("REPLICHECK_IMPLEMENTATION", raising=False)
    return ran


def _tail(cmd: list[str]) -> list[str]:
    from reports import build

    return cmd[cmd.index(f"--alluredir={build.ALLURE_RESULTS}") + 1 :]


def test_each_phase_runs_its_paths_for_the_systems_it_certifies_and_configmirror_runs_once(
    phases_ran: list[list[str]],
) -> None:
    from fixtures.conformance import phases
    from replicheck import conformance

    assert conformance.main(["--cluster=local"]) == 1
    *runs, report = phases_ran
    # exactly the selected systems
    assert report == ["build", "--systems", "bundled,configmirror,external-secrets"]
    assert len(runs) == len(phases.PHASES)
    shared = {"conformance suites", "properties", "chaos experiments and runbooks"}
    for cmd, phase in zip(runs, phases.PHASES, strict=True):
        systems = (
            "configmirror"
            if phase.title == phases.CONFIGMIRROR
            else "bundled,external-secrets"
            if phase.title in shared
            else "bundled"
        )
        assert _tail(cmd) == [*phase.paths, "--cluster=local", f"--implementation={systems}", *phase.options]
    mirror = next(p for p in phases.PHASES if p.title == phases.CONFIGMIRROR).paths
    chaos = [p for p in mirror if p.startswith("chaos/")]
    assert len(chaos) == 4
    assert all((REPO_ROOT / p).is_file() for p in mirror[4:])
    assert all((REPO_ROOT / p).is_dir() for p in mirror[:3])
    # every other phase leaves ConfigMirror's tests to its own phase, and no phase runs the
    # harness's own self-tests (make test does)
    ignored = [o.split("=", 1)[1] for p in phases.PHASES for o in p.options if o.startswith("--ignore")]
    assert ignored == ["suites/unit", "properties/test_configmirror_properties.py", "chaos/test_mirror_*.py"]
    assert all(fnmatch.fnmatch(p, ignored[2]) for p in chaos)
    from fixtures.plugins.verdicts import HARNESS_SELF_TESTS

    assert not any(f"{p}/".startswith(HARNESS_SELF_TESTS) for p in phases.paths())
    # the bundled systems' own unit tests are checks of those systems, run in their phases
    assert {"tests/unit/operator", "tests/unit/consolidate", "tests/unit/configmirror"} <= set(phases.paths())


def test_bring_your_own_runs_only_the_phases_that_apply_to_it(
    phases_ran: list[list[str]], tmp_path: Path
) -> None:
    from fixtures.core.record import read_records
    from replicheck import conformance

    args = ["--implementation=kubernetes-replicator", "--implementation-command=/opt/bin/kr --v=2"]
    assert conformance.main(args) == 1
    *runs, report = phases_ran
    assert report == ["build", "--systems", "kubernetes-replicator"]
    titles = [r["phase"] for r in read_records("phase") if r.get("not_run")]
    assert titles == [
        "bundled operator: runtime and packaging",
        "ConfigMirror (CRD-driven, with PostgreSQL)",
        "OCI credentials end to end",
    ]
    assert len(runs) == 3  # suites, properties, chaos
    for cmd in runs:
        assert "--implementation=kubernetes-replicator" in cmd
        assert "--implementation-command=/opt/bin/kr --v=2" in cmd
        assert not any(
            a.startswith("--implementation=") and a != "--implementation=kubernetes-replicator" for a in cmd
        )


def test_a_failed_preflight_runs_no_phase_and_leaves_its_lines_for_the_report(
    phases_ran: list[list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    from fixtures.conformance import preflight
    from fixtures.core.record import read_records
    from replicheck import conformance

    missing = preflight.Problem("postgres", "not found in /usr/lib/postgresql/*/bin or PATH", "make postgres")
    monkeypatch.setattr(preflight, "run", lambda needs: [missing])
    conformance.main([])
    *runs, _ = phases_ran
    assert runs == []
    (rec,) = read_records("preflight")
    assert (rec["need"], rec["fix"]) == ("postgres", "make postgres")


def test_an_unknown_system_stops_before_anything_runs(phases_ran: list[list[str]]) -> None:
    from replicheck import conformance
    from reports import build

    assert conformance.main(["--implementation=nope"]) == build.EXIT_CODES[build.NO_VERDICT]
    assert phases_ran == []


def test_where_nodes_can_run_every_phase_certifies_the_systems_as_pods(
    phases_ran: list[list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    from replicheck import conformance

    monkeypatch.setattr(conformance, "pods_unusable_reason", lambda: None)
    conformance.main(["--cluster=local"])
    *runs, _report = phases_ran
    assert all("--run-as=pods" in cmd for cmd in runs)


def test_an_explicit_run_as_is_kept(phases_ran: list[list[str]], monkeypatch: pytest.MonkeyPatch) -> None:
    from replicheck import conformance

    monkeypatch.setattr(conformance, "pods_unusable_reason", lambda: None)
    conformance.main(["--cluster=local", "--run-as=processes"])
    *runs, _report = phases_ran
    assert all("--run-as=pods" not in cmd and "--run-as=processes" in cmd for cmd in runs)


def test_no_nodes_asked_for_means_processes(
    phases_ran: list[list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    from replicheck import conformance

    monkeypatch.setattr(conformance, "pods_unusable_reason", lambda: None)
    conformance.main(["--cluster=local", "--nodes=0"])
    *runs, _report = phases_ran
    assert all("--run-as=pods" not in cmd for cmd in runs)


def test_on_kind_the_default_run_leaves_eso_out_and_says_so(phases_ran: list[list[str]]) -> None:
    from fixtures.core.record import read_records
    from replicheck import conformance

    conformance.main(["--cluster=kind"])
    *runs, report = phases_ran
    assert report == ["build", "--systems", "bundled,configmirror"]
    assert not any("external-secrets" in arg for cmd in runs for arg in cmd)
    (rec,) = read_records("scope")
    assert rec["system"] == "external-secrets"
    assert "kind would need its image" in rec["statement"]
