"""The preflight (fixtures/conformance/preflight.py): a missing program is one line naming its fix, and every
program the code of the phases starts or locates is in its list."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from fixtures.conformance import phases, preflight
from fixtures.core.paths import REPO_ROOT
from fixtures.systems import registered

#: code a certification runs: the phases' tests and everything they use
SCANNED = (
    "fixtures",
    "testing",
    "suites",
    "properties",
    "chaos",
    "oci",
    "tests/operator",
    "tests/configmirror",
    "tests/byo",
    "tests/eso",
    "operator_under_test/consolidate",
)
#: calls whose first literal argument names a program
LOCATORS = {"which", "find_tool", "built_tool", "find_program", "resolve_program"}
#: calls whose first argument is an argv list
RUNNERS = {"run", "Popen", "check_output", "check_call", "call"}
#: started by the interpreter or the shell themselves, only by the kind provider (checked by it),
#: or only by `make mutation` (patch), never by a phase
NOT_PROGRAMS_OF_A_PHASE = {
    "bash",
    "python",
    "python3",
    "patch",
    *preflight.KIND_PROGRAMS,
    *preflight.NODE_PROGRAMS,
}


def _programs_in(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if not isinstance(node, ast.Call) or not node.args:
            continue
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
        first = node.args[0]
        if name in LOCATORS and isinstance(first, ast.Constant) and isinstance(first.value, str):
            found.add(first.value)
        if name in RUNNERS and isinstance(first, ast.List) and first.elts:
            head = first.elts[0]
            if isinstance(head, ast.Constant) and isinstance(head.value, str):
                found.add(Path(head.value).name)
    return found


def _programs() -> dict[str, list[str]]:
    used: dict[str, list[str]] = {}
    for root in SCANNED:
        for path in sorted((REPO_ROOT / root).rglob("*.py")):
            for program in _programs_in(path):
                used.setdefault(program, []).append(str(path.relative_to(REPO_ROOT)))
    return used


def test_every_program_a_phase_uses_is_in_the_preflight_list() -> None:
    used = _programs()
    missing = {p: where for p, where in used.items() if p not in preflight.PROGRAMS}
    missing = {p: w for p, w in missing.items() if p not in NOT_PROGRAMS_OF_A_PHASE}
    assert not missing, f"programs the phases use but the preflight does not check: {missing}"
    assert {"helm", "kubectl", "git", "go", "postgres", "registry"} <= set(used)  # the scan sees them


def test_every_need_belongs_to_a_phase_or_a_system_that_exists() -> None:
    keys = {phase.needs for phase in phases.PHASES} | {preflight.system_key(n) for n in registered()}
    for need in [*preflight.PROGRAMS.values(), *preflight.CAPABILITIES]:
        assert need.phases <= keys | {preflight.PAGE}, need.name


def test_a_missing_program_is_one_line_naming_its_fix(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("REPLICHECK_CHROMIUM", str(tmp_path / "chromium"))
    (problem,) = preflight.run({preflight.PAGE})
    line = problem.line()
    assert line == f"preflight: chromium: {tmp_path / 'chromium'} is missing; run `make browser`"
    assert "\n" not in line


def test_a_postgres_server_that_is_not_there_names_make_postgres(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("REPLICHECK_PG_BIN", str(tmp_path))
    need = preflight.PROGRAMS["postgres"]
    problem = need.problem()
    assert problem is not None
    assert need.fix == "make postgres"


def test_a_certification_never_needs_the_browser() -> None:
    assert all(preflight.PAGE not in preflight.PROGRAMS["chromium"].phases & {p.needs} for p in phases.PHASES)
