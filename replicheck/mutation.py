"""Mutation check: does what certifies the operator catch its bugs? ``python -m replicheck.mutation DIR``
(``make mutation``).

For each ``DIR/*.patch`` (a unified diff against the repository, ``a/operator_under_test/...``; the
free text before the first ``---`` line describes the mutant), copy ``operator_under_test/`` to a
temporary directory, apply the patch there, and run the tests with ``REPLICHECK_OPERATOR_SRC``
pointing at the copy: the deployed operator runs the mutant, and the root conftest puts the copy
first on ``sys.path`` so the unit tests import it too.

The test set is the one ``make conformance`` certifies with (tests, suites, properties, chaos), in
three phases, cheapest first:

1. ``likely``: the operator's unit tests plus the tests the mutant's header names on ``Tests:`` lines
   (the quick tests most likely to kill it), not slow;
2. ``fast``: every test not marked ``slow`` (conformance suites first, then tests, properties, the
   quick chaos experiments);
3. ``slow``: every test marked ``slow`` (chaos experiments, long scenarios).

Phases 2 and 3 partition the whole set by marker. Every phase runs fail-fast (``-x``); a mutant
leaves the pipeline at its first verdict, so only the survivors of a phase pay for the next one.
``--suites`` narrows the test paths of every phase (hints outside them are dropped).

Verdicts (replicheck/junit_verdict.py): *killed* only when a test ran and failed its assertion (a JUnit
``<failure>`` from an AssertionError); a setup or harness error (``<error>``: cluster did not start,
fixture crashed) or a pytest run without a verdict is *error*, and the run says so; *survived* when
every phase passed. Before a phase judges any mutant, the unpatched copy runs it once (the baseline):
if the baseline fails, no verdict of that phase means anything and the check stops.

Results go to ``reports/mutation.json`` (the certification report's "mutation score of the bundled
operator"); the exit code is 0 only if every mutant was killed.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console
from rich.table import Table

from fixtures.conformance.phases import paths as conformance_test_paths
from fixtures.core.paths import REPO_ROOT
from replicheck import junit_verdict

PACKAGE = "operator_under_test"
#: tried first among the paths of `make conformance`: deterministic, quick to fail
FIRST = ("suites",)
RESULT = REPO_ROOT / "reports" / "mutation.json"


def conformance_paths() -> list[str]:
    """Every test path `make conformance` runs (fixtures/conformance/phases.py), suites first."""
    paths = conformance_test_paths()
    first = [p for p in FIRST if p in paths]
    return first + [p for p in dict.fromkeys(paths) if p not in first]


UNIT = "tests/unit/operator"


@dataclass(frozen=True)
class Phase:
    name: str
    marker: str
    timeout: float  # seconds per pytest run
    targeted: bool = False  # paths: the operator unit tests + the mutant's hints, not the whole set


PHASES = (
    Phase("likely", "not slow", 900.0, targeted=True),
    Phase("fast", "not slow", 2400.0),
    Phase("slow", "slow", 2400.0),
)


@dataclass
class Outcome:
    name: str
    description: str
    verdict: str = "survived"  # killed | survived | error
    phase: str = ""  # the phase that decided (empty: survived every phase)
    first_failure: str = ""
    detail: str = ""
    seconds: float = 0.0
    phases_run: list[str] = field(default_factory=list)
    log: str = ""


def describe(patch: Path) -> str:
    """The free text before the diff (first non-empty line), without a leading 'Mutant NAME:'."""
    for line in patch.read_text().splitlines():
        if line.startswith(("--- ", "diff ", "Index:")):
            break
        if line.strip():
            text = line.strip()
            if text.lower().startswith("mutant ") and ":" in text:
                text = text.split(":", 1)[1].strip()
            return text
    return ""


def hints(patch: Path) -> list[str]:
    """Test ids named on ``Tests:`` lines of the header (comma or space separated)."""
    out: list[str] = []
    for line in patch.read_text().splitlines():
        if line.startswith(("--- ", "diff ", "Index:")):
            break
        if line.lower().startswith("tests:"):
            out += [t for t in line.split(":", 1)[1].replace(",", " ").split() if t]
    return out


def within(test: str, paths: list[str]) -> bool:
    file = test.split("::", 1)[0]
    return any(file == p or file.startswith(p.rstrip("/") + "/") for p in paths)


def phase_paths(phase: Phase, paths: list[str], targets: list[str]) -> list[str]:
    """What one phase runs: the whole selection, or the unit tests and hints inside it."""
    if not phase.targeted:
        return paths
    chosen = [UNIT] if within(UNIT, paths) else []
    return chosen + sorted({t for t in targets if within(t, paths)})


def prepare(patch: Path | None, workdir: Path) -> tuple[bool, str]:
    """Copy the operator package into ``workdir`` and apply ``patch`` there (None = baseline)."""
    shutil.copytree(
        REPO_ROOT / PACKAGE, workdir / PACKAGE, ignore=shutil.ignore_patterns("__pycache__", "*.pyc")
    )
    if patch is None:
        return True, ""
    proc = subprocess.run(
        [
            "patch",
            "-p1",
            "--batch",
            "--forward",
            "--no-backup-if-mismatch",
            "-d",
            str(workdir),
            "-i",
            str(patch.resolve()),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    return proc.returncode == 0, (proc.stdout + proc.stderr).strip()


def first_failure(junit: Path) -> tuple[str, str]:
    """The first test that failed its assertion in a JUnit report, and the first line of its message."""
    cases = junit_verdict.read(junit) or []
    for case in cases:
        if case.assertion_failed:
            return case.test, junit_verdict.first_line(case.message, 160)
    return "", ""


def pytest_command(phase: Phase, paths: list[str], workers: str, junit: Path, extra: list[str]) -> list[str]:
    return [
        sys.executable,
        "-m",
        "pytest",
        "-x",
        "-q",
        "-m",
        phase.marker,
        "-n",
        workers,
        f"--junitxml={junit}",
        *extra,
        *paths,
    ]


def run_phase(
    workdir: Path, phase: Phase, paths: list[str], workers: str, profile: str, extra: list[str]
) -> tuple[junit_verdict.Verdict, Path]:
    if not paths:
        return junit_verdict.Verdict("passed", message="nothing to run"), Path(os.devnull)
    junit, log = workdir / f"junit-{phase.name}.xml", workdir / f"pytest-{phase.name}.log"
    junit.unlink(missing_ok=True)
    env = {
        **os.environ,
        "REPLICHECK_OPERATOR_SRC": str(workdir),
        "HYPOTHESIS_PROFILE": profile,
        "REPLICHECK_RECORDS": str(workdir / "records"),
    }
    with open(log, "w") as out:
        try:
            code = subprocess.run(
                pytest_command(phase, paths, workers, junit, extra),
                cwd=REPO_ROOT,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                timeout=phase.timeout,
                check=False,
            ).returncode
        except subprocess.TimeoutExpired:
            code = -1
    return junit_verdict.verdict(junit_verdict.read(junit), code), log


class Workdir:
    """A prepared copy of the operator (baseline or one mutant), kept across phases."""

    def __init__(self, patch: Path | None, keep: bool) -> None:
        self.patch, self.keep = patch, keep
        self.path = Path(tempfile.mkdtemp(prefix="replicheck-mutant-"))
        self.applied, self.output = prepare(patch, self.path)

    def close(self) -> None:
        if self.keep:
            print(f"kept {self.path}", file=sys.stderr)
        else:
            shutil.rmtree(self.path, ignore_errors=True)


def keep_log(name: str, phase: Phase, log: Path) -> str:
    kept = Path(tempfile.gettempdir()) / f"replicheck-mutation-{name}-{phase.name}.log"
    shutil.copyfile(log, kept)
    return str(kept)


def table(outcomes: list[Outcome], total: float) -> Table:
    styles = {"killed": "green", "survived": "bold red", "error": "yellow"}
    t = Table(title=f"Mutation check ({total / 60:.1f} min)")
    t.add_column("mutant")
    t.add_column("verdict")
    t.add_column("phase")
    t.add_column("first failing test / detail", overflow="fold")
    t.add_column("time", justify="right")
    for o in outcomes:
        detail = (
            o.first_failure + (f"\n{o.detail}" if o.detail else "") + (f"\nlog: {o.log}" if o.log else "")
        )
        t.add_row(
            f"{o.name}\n[dim]{o.description}[/dim]",
            f"[{styles.get(o.verdict, '')}]{o.verdict}[/]",
            o.phase or "all",
            detail,
            f"{o.seconds:.0f}s",
        )
    return t


def summary(outcomes: list[Outcome], baselines: dict[str, float], seconds: float, paths: list[str]) -> dict:
    """The JSON the certification report reads (reports/mutation.json)."""
    killed = sum(o.verdict == "killed" for o in outcomes)
    errors = sum(o.verdict == "error" for o in outcomes)
    return {
        "generated": datetime.now(UTC).isoformat(timespec="seconds"),
        "operator": "bundled (operator_under_test)",
        "paths": paths,
        "phases": [{"name": p.name, "marker": p.marker} for p in PHASES],
        "baseline_seconds": {k: round(v, 1) for k, v in baselines.items()},
        "seconds": round(seconds, 1),
        "total": len(outcomes),
        "killed": killed,
        "survived": sum(o.verdict == "survived" for o in outcomes),
        "errors": errors,
        "score": round(killed / len(outcomes), 4) if outcomes else 0.0,
        "mutants": [
            {k: v for k, v in asdict(o).items() if k != "log"} | {"seconds": round(o.seconds, 1)}
            for o in outcomes
        ],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m replicheck.mutation",
        description=(__doc__ or "").splitlines()[0],
        epilog="Extra pytest arguments go after --, e.g. -- --deselect suites/x.py::test_y",
    )
    parser.add_argument("directory", type=Path, help="directory of *.patch mutants")
    parser.add_argument(
        "--suites", nargs="+", default=None, help="test paths (default: those of make conformance)"
    )
    parser.add_argument(
        "--phases", nargs="+", default=[p.name for p in PHASES], choices=[p.name for p in PHASES]
    )
    parser.add_argument("--workers", default="auto", help="pytest-xdist workers per run (default auto)")
    parser.add_argument("--profile", default=os.environ.get("MUTATION_PROFILE", "mutation"))
    parser.add_argument(
        "--only", nargs="+", default=None, help="run only mutants whose name contains one of these"
    )
    parser.add_argument("--no-baseline", action="store_true", help="skip the unpatched baseline runs")
    parser.add_argument("--keep", action="store_true", help="keep work directories and logs")
    parser.add_argument("--output", type=Path, default=RESULT, help=f"result JSON (default {RESULT})")
    argv = list(sys.argv[1:] if argv is None else argv)
    extra = argv[argv.index("--") + 1 :] if "--" in argv else []
    args = parser.parse_args(argv[: argv.index("--")] if "--" in argv else argv)

    console = Console(width=max(140, shutil.get_terminal_size().columns))
    patches = sorted(args.directory.glob("*.patch"))
    if args.only:
        patches = [p for p in patches if any(s in p.stem for s in args.only)]
    if not patches:
        console.print(f"[red]no *.patch mutants in {args.directory}: add one or fix the path[/red]")
        return 2
    paths = args.suites or [s for s in conformance_paths() if (REPO_ROOT / s).exists()]
    phases = [p for p in PHASES if p.name in args.phases]
    started = time.monotonic()
    outcomes = {p.stem: Outcome(p.stem, describe(p)) for p in patches}
    targets = {p.stem: hints(p) for p in patches}
    workdirs: dict[str, Workdir] = {}
    baselines: dict[str, float] = {}
    try:
        for patch in patches:
            work = workdirs[patch.stem] = Workdir(patch, args.keep)
            if not work.applied:
                o = outcomes[patch.stem]
                o.verdict, o.phase, o.detail = "error", "patch", f"patch does not apply: {work.output[:200]}"
        for phase in phases:
            pending = [n for n, o in outcomes.items() if o.verdict == "survived"]
            if not pending:
                break
            console.rule(f"[bold]phase {phase.name}[/bold] ({phase.marker}): {len(pending)} mutant(s)")
            if not args.no_baseline:
                base = Workdir(None, args.keep)
                try:
                    t0 = time.monotonic()
                    every = [t for n in pending for t in targets[n]]
                    chosen = phase_paths(phase, paths, every)
                    result, log = run_phase(base.path, phase, chosen, args.workers, args.profile, extra)
                    baselines[phase.name] = time.monotonic() - t0
                    console.print(f"baseline: {result.verdict} ({baselines[phase.name]:.0f}s) {result.test}")
                    if result.verdict != "passed":
                        kept = keep_log("baseline", phase, log)
                        console.print(
                            f"[red]the unpatched operator does not pass phase {phase.name} "
                            f"({result.test} {result.message}); no mutant verdict is meaningful. "
                            f"Log: {kept}[/red]"
                        )
                        return 2
                finally:
                    base.close()
            for name in pending:
                o, work = outcomes[name], workdirs[name]
                t0 = time.monotonic()
                chosen = phase_paths(phase, paths, targets[name])
                result, log = run_phase(work.path, phase, chosen, args.workers, args.profile, extra)
                o.seconds += time.monotonic() - t0
                o.phases_run.append(phase.name)
                console.print(
                    f"{name}: {phase.name} {result.verdict} ({time.monotonic() - t0:.0f}s) {result.test}"
                )
                if result.verdict in ("killed", "error"):
                    o.verdict, o.phase = result.verdict, phase.name
                    o.first_failure, o.detail = result.test, result.message
                if result.verdict == "error" or args.keep:
                    o.log = keep_log(name, phase, log)
    finally:
        for work in workdirs.values():
            work.close()
    total = time.monotonic() - started
    ordered = [outcomes[p.stem] for p in patches]
    console.print(table(ordered, total))
    result = summary(ordered, baselines, total, paths)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2) + "\n")
    errors = [o.name for o in ordered if o.verdict == "error"]
    console.print(
        f"{result['killed']}/{result['total']} mutants killed, {result['survived']} survived, "
        f"{result['errors']} error(s) (score {result['score']:.0%}); written to {args.output}"
    )
    if errors:
        console.print(f"[yellow]error verdicts are not kills: {', '.join(errors)}[/yellow]")
    return 0 if result["killed"] == result["total"] else 1


if __name__ == "__main__":
    sys.exit(main())
