"""`make conformance`: run every phase against fresh ephemeral clusters, then build the reports.

Each phase is one pytest run (its own cluster, torn down at its end), so progress is visible per
phase with its elapsed time, a failing phase does not stop the others, and the reports are built
whatever happened. Exit code 0 only if the run is CERTIFIED.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time

from rich.console import Console
from rich.table import Table

from fixtures.paths import REPO_ROOT
from reports import build

PHASES = [
    ("harness and operator", ["tests"]),
    ("conformance suites", ["suites"]),
    ("properties", ["properties"]),
    ("chaos experiments and runbooks", ["chaos"]),
]
NO_TESTS_COLLECTED = 5


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m reports.conformance")
    parser.add_argument("pytest_args", nargs="*", help="extra pytest arguments for every phase")
    args, extra = parser.parse_known_args(argv)  # options such as --cluster=kind go to pytest
    args.pytest_args += extra
    console = Console()
    rows, worst = [], 0
    started = time.monotonic()
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
    table = Table("phase", "pytest exit", "seconds", title="replicheck conformance")
    for title, code, elapsed in rows:
        table.add_row(title, str(code), f"{elapsed:.0f}")
    console.print(table)
    console.rule("[bold]reports")
    return build.main(["--pytest-exit", str(worst)])


if __name__ == "__main__":
    sys.exit(main())
