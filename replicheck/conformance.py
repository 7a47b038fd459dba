"""`make conformance`: check what the phases need, run every phase against fresh ephemeral
clusters, then build the reports.

First the preflight (fixtures/conformance/preflight.py): every program and capability the selected
phases and the systems they run need, in seconds; a missing one is a line naming its fix, and the
run stops with NO VERDICT before any cluster starts. Each phase is then one pytest run (its own
cluster, torn down at its end) with ``--implementation`` set to the selected systems it certifies
(fixtures/conformance/phases.py); a phase that certifies none of them is n/a. Progress is visible
per phase with its elapsed time, a failing phase does not stop the others, and the reports are built
whatever happened. Each phase leaves a ``phase`` record (its exit code, and the line that says why
when pytest stopped without judging: a refused option is NO VERDICT with that line). The last lines
printed are the verdict's headline, one line per phase with its time, and the paths of the reports.
Exit code 0 CERTIFIED, 1 NOT CERTIFIED, 2 NO VERDICT.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from rich.console import Console

from fixtures.clusters.nodes.support import pods_unusable_reason
from fixtures.conformance import phases, preflight
from fixtures.core.errors import SetupError
from fixtures.core.paths import REPO_ROOT
from fixtures.core.record import record
from replicheck.build_progress import format_duration
from reports import build, traceability
from reports.build import JUDGED_EXITS

NO_TESTS_COLLECTED = 5
REPORT_FILES = [
    ("certification.html", "the certification page (self-contained; attach this one)"),
    ("certification.json", "the same content as data"),
    ("certification.md", "the same content as Markdown"),
    ("allure-results", "every test's result; `make report` renders allure-report/index.html"),
    ("chaos", "chaostoolkit journals"),
    ("records", "raw measurements"),
]


def summary(
    verdict: str,
    phases: list[tuple[str, int | None, float]],
    reports_s: float,
    total_s: float,
    reports_dir: Path,
    setup_s: float | None = None,
) -> list[str]:
    """The closing lines: total time and the verdict's headline (the verdict and its first reason),
    one line per phase with its time, the report paths."""
    width = max([len(title) for title, _, _ in phases] + [len("building the reports")])
    lines = [f"replicheck conformance after {format_duration(total_s + (setup_s or 0))}: {verdict}"]
    if setup_s is not None:
        lines.append(f"  setup      {'venv, tools, binaries':<{width}}  {format_duration(setup_s):>7}")
    for index, (title, code, seconds) in enumerate(phases, 1):
        if code is None:
            state = "not run"
        else:
            state = "ok" if code == 0 else "no tests" if code == NO_TESTS_COLLECTED else f"pytest exit {code}"
        lines.append(
            f"  phase {index}/{len(phases)}  {title:<{width}}  {format_duration(seconds):>7}  {state}"
        )
    lines.append(f"  reports    {'building the reports':<{width}}  {format_duration(reports_s):>7}")
    lines.append("reports:")
    for name, what in REPORT_FILES:
        path = reports_dir / name
        if path.exists():
            shown = path.relative_to(REPO_ROOT) if path.is_relative_to(REPO_ROOT) else path
            lines.append(f"  {shown}{'/' if path.is_dir() else ''}  {what}")
    return lines


def _run_phase(cmd: list[str]) -> tuple[int, str]:
    """Run one phase's pytest, its output streamed as it comes; return the exit code and, when
    pytest stopped without judging (exit 2-4), the line that says why (a refused option, a
    collection error)."""
    last: list[str] = []
    with subprocess.Popen(
        cmd, cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1
    ) as proc:
        assert proc.stdout is not None
        for line in proc.stdout:
            sys.stdout.write(line)
            if line.strip():
                last = [*last[-40:], line.rstrip()]
        code = proc.wait()
    if code in JUDGED_EXITS:
        return code, ""
    # argparse's own line ("pytest: error: argument -k: ..."), else pytest's ERROR lines, else the last
    usage = [ln for ln in last if ": error: " in ln]
    errors = [ln for ln in last if ln.startswith(("ERROR", "E ", "error:")) and "usage:" not in ln]
    line = (usage or errors or last[-1:] or [f"pytest exited with {code}"])[0]
    return code, f"pytest exited with {code}: {' '.join(line.split())[:300]}"


def _run_as(pytest_args: list[str], console: Console) -> list[str]:
    """The bundled systems are certified as users deploy them: Pods from their images and charts on
    real nodes wherever nodes can run (``--run-as=pods``), else local processes, said in one line.
    An explicit ``--run-as`` (argument or REPLICHECK_RUN_AS) is kept."""
    if any(a == "--run-as" or a.startswith("--run-as=") for a in pytest_args) or os.environ.get(
        "REPLICHECK_RUN_AS"
    ):
        return []
    nodes = os.environ.get("REPLICHECK_NODES", "auto")
    for i, arg in enumerate(pytest_args):
        if arg.startswith("--nodes="):
            nodes = arg.split("=", 1)[1]
        elif arg == "--nodes" and i + 1 < len(pytest_args):
            nodes = pytest_args[i + 1]
    why_not = "--nodes=0" if nodes.strip() == "0" else pods_unusable_reason()
    if why_not is None:
        console.print("systems run as Pods on real nodes (--run-as=pods)")
        return ["--run-as=pods"]
    console.print(f"systems run as local processes: no nodes here ({why_not})", markup=False, highlight=False)
    return []


def main(argv: list[str] | None = None) -> int:
    pytest_args = list(sys.argv[1:] if argv is None else argv)  # every argument goes to pytest, in order
    if {"-h", "--help"} & set(pytest_args):
        print(__doc__)
        print("usage: python -m replicheck.conformance [pytest arguments for every phase ...]")
        return 0
    console = Console()
    started = time.monotonic()
    pytest_args = [*_run_as(pytest_args, console), *pytest_args]
    # `make conformance` exports when it started, so the summary can show the setup's time too
    make_started = os.environ.get("REPLICHECK_MAKE_STARTED", "")
    setup_s = time.time() - float(make_started) if make_started.isdigit() else None
    env_default = os.environ.get("REPLICHECK_IMPLEMENTATION")
    try:
        planned = phases.plan(pytest_args, env_default)
        systems = phases.selected_names(pytest_args, env_default)
    except SetupError as exc:
        console.print(f"replicheck conformance: --implementation: {exc}", markup=False, highlight=False)
        return build.EXIT_CODES[build.NO_VERDICT]
    for name, why in phases.certified(pytest_args, env_default)[1]:
        console.print(f"{name}: not certified on this provider: {why}", markup=False, highlight=False)
        record("scope", system=name, statement=f"not certified in this run: {why}")
    console.rule("[bold]preflight")
    needs = {p.phase.needs for p in planned if p.args}
    needs |= {preflight.system_key(name) for p in planned if p.args for name in p.systems}
    problems = preflight.run(needs)
    for problem in problems:
        record("preflight", need=problem.name, problem=problem.problem, fix=problem.fix)
        console.print(problem.line(), markup=False, highlight=False)
    if not problems:
        console.print(f"preflight: ok ({', '.join(sorted(needs))}) in {time.monotonic() - started:.1f}s")
    rows: list[tuple[str, int | None, float]] = []
    for index, step in enumerate(planned, 1):
        console.rule(f"[bold]phase {index}/{len(planned)}: {step.title}")
        if not step.args or problems:
            why = step.not_applicable or "preflight failed"
            console.print(f"phase {index}: not run: {why}", markup=False, highlight=False)
            record("phase", phase=step.title, exit=None, systems=list(step.systems), not_run=why)
            rows.append((step.title, None, 0.0))
            continue
        t0 = time.monotonic()
        results = f"--alluredir={build.ALLURE_RESULTS}"
        cmd = [sys.executable, "-m", "pytest", "-n", "auto", results, *step.args]
        code, line = _run_phase(cmd)
        elapsed = time.monotonic() - t0
        rows.append((step.title, code, elapsed))
        record("phase", phase=step.title, exit=code, systems=list(step.systems), line=line, seconds=elapsed)
        console.print(
            f"phase {index} finished with exit {code} after {elapsed:.0f}s "
            f"(total {time.monotonic() - started:.0f}s)"
        )
    console.rule("[bold]reports")
    t0 = time.monotonic()
    try:
        traceability.main()  # reports/traceability.{md,json}: read by the certification report
    except RuntimeError as exc:
        console.print(f"[yellow]traceability not generated: {exc}[/yellow]")
    code = build.main(["--systems", ",".join(systems)])
    reports_s = time.monotonic() - t0
    out = build.REPORTS / "certification.json"
    doc = json.loads(out.read_text()) if out.exists() else {}
    console.rule("[bold]summary")
    verdict = doc.get("headline") or doc.get("verdict") or "NO REPORT"
    for line in summary(verdict, rows, reports_s, time.monotonic() - started, build.REPORTS, setup_s):
        console.print(line, highlight=False, markup=False, soft_wrap=True)
    return code


if __name__ == "__main__":
    sys.exit(main())
