"""`make conformance`: run every phase against fresh ephemeral clusters, then build the reports.

Each phase is one pytest run (its own cluster, torn down at its end), so progress is visible per
phase with its elapsed time, a failing phase does not stop the others, and the reports are built
whatever happened. The last lines printed are the verdict, one line per phase with its time, and
the paths of the reports. Exit code 0 only if the run is CERTIFIED.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from rich.console import Console

from fixtures.build_progress import format_duration
from fixtures.paths import REPO_ROOT
from fixtures.phases import OPTIONS, PHASES
from reports import build, traceability

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
    phases: list[tuple[str, int, float]],
    reports_s: float,
    total_s: float,
    reports_dir: Path,
    setup_s: float | None = None,
) -> list[str]:
    """The closing lines: verdict and total, one line per phase with its time, the report paths."""
    width = max([len(title) for title, _, _ in phases] + [len("building the reports")])
    lines = [f"replicheck conformance: {verdict} after {format_duration(total_s + (setup_s or 0))}"]
    if setup_s is not None:
        lines.append(f"  setup      {'venv, tools, binaries':<{width}}  {format_duration(setup_s):>7}")
    for index, (title, code, seconds) in enumerate(phases, 1):
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m reports.conformance")
    parser.add_argument("pytest_args", nargs="*", help="extra pytest arguments for every phase")
    args, extra = parser.parse_known_args(argv)  # options such as --cluster=kind go to pytest
    args.pytest_args += extra
    console = Console()
    rows, worst = [], 0
    started = time.monotonic()
    # `make conformance` exports when it started, so the summary can show the setup's time too
    make_started = os.environ.get("REPLICHECK_MAKE_STARTED", "")
    setup_s = time.time() - float(make_started) if make_started.isdigit() else None
    for index, (title, paths) in enumerate(PHASES, 1):
        console.rule(f"[bold]phase {index}/{len(PHASES)}: {title}")
        t0 = time.monotonic()
        cmd = [
            sys.executable,
            "-m",
            "pytest",
            "-n",
            "auto",
            "--alluredir=reports/allure-results",
            *paths,
            *args.pytest_args,
            *OPTIONS.get(
                title, []
            ),  # last: the ConfigMirror phase certifies ConfigMirror whatever else was asked
        ]
        code = subprocess.run(cmd, cwd=REPO_ROOT, check=False).returncode
        elapsed = time.monotonic() - t0
        rows.append((title, code, elapsed))
        if code not in (0, NO_TESTS_COLLECTED):
            worst = worst or code
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
    code = build.main(["--pytest-exit", str(worst)])
    reports_s = time.monotonic() - t0
    out = build.REPORTS / "certification.json"
    verdict = json.loads(out.read_text())["verdict"] if out.exists() else "NO REPORT"
    console.rule("[bold]summary")
    for line in summary(verdict, rows, reports_s, time.monotonic() - started, build.REPORTS, setup_s):
        console.print(line, highlight=False, markup=False, soft_wrap=True)
    return code


if __name__ == "__main__":
    sys.exit(main())
