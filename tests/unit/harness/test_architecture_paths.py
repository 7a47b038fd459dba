"""The docs name real files: every path and module ARCHITECTURE.md names exists, every module the
harness's and the tools' READMEs list exists, and every harness or tool module any Markdown file
names (``fixtures/...py``, ``replicheck/...py``, ``fixtures.core.errors``) is still where it says.

Why: the harness was split into subpackages and its tools moved to replicheck/; a page that sends a
reader to a module that moved is worse than no page. These checks fail on the first stale name.
"""

from __future__ import annotations

import importlib
import importlib.util
import re
import subprocess
from pathlib import Path

import pytest

from fixtures.core.paths import REPO_ROOT

ARCHITECTURE = REPO_ROOT / "ARCHITECTURE.md"

BACKTICKED = re.compile(r"`([^`\n]+)`")
FENCE = re.compile(r"^```.*?^```", re.DOTALL | re.MULTILINE)
#: globs and placeholders (`chaos/faults/<name>.py`, `reports/records/*.jsonl`) name no one file
PLACEHOLDER = re.compile(r"[<>*?{}\[\]|]")
PATH_SUFFIXES = (".py", ".md", ".yaml", ".toml")
#: a module of the repository's packages, possibly followed by attributes (`fixtures.core.errors.NoEvidence`)
PACKAGES = (
    "fixtures",
    "replicheck",
    "reports",
    "suites",
    "properties",
    "chaos",
    "oci",
    "testing",
    "operator_under_test",
)
DOTTED = re.compile(rf"(?<![\w./-])(?:{'|'.join(PACKAGES)})(?:\.[A-Za-z_]\w*)+")
#: a harness or tool module named by its path, anywhere in a Markdown file
MODULE_PATH = re.compile(r"(?<![\w./~-])(?:fixtures|replicheck)/[\w./-]*?\.py\b")
#: a folder in a fenced diagram (`fixtures/plugins/      pytest plugins: ...`)
DIAGRAM_DIR = re.compile(r"^[\w./-]+/$")


def _path_like(token: str) -> bool:
    if not token or token.startswith(("/", "~", "-", ".")) or "://" in token:
        return False
    if "/" not in token:
        return token.endswith(PATH_SUFFIXES)
    return "." not in token.split("/", 1)[0]  # `mirror.configmirror.io/v1alpha1` is an API group


def path_tokens(text: str) -> set[str]:
    """Backticked tokens that look like repository paths (a ``/``, or a file suffix), without a
    ``:function`` suffix; URLs, absolute paths, placeholders and globs are left out."""
    found = set()
    for token in BACKTICKED.findall(text):
        token = token.strip().split(":", 1)[0]
        if any(c.isspace() for c in token) or PLACEHOLDER.search(token):
            continue
        if _path_like(token):
            found.add(token)
    return found


def placeholder_dirs(text: str) -> set[str]:
    """For a path with a placeholder or glob (`chaos/faults/<name>.py`), the folder it is in."""
    found = set()
    for token in BACKTICKED.findall(text):
        token = token.strip()
        if any(c.isspace() for c in token) or not _path_like(token):
            continue
        if (hit := PLACEHOLDER.search(token)) is not None and "/" in token[: hit.start()]:
            found.add(token[: hit.start()].rsplit("/", 1)[0] + "/")
    return found


def diagram_dirs(text: str) -> set[str]:
    """Folders that start a line of a fenced block (the layer diagrams)."""
    found = set()
    for block in FENCE.findall(text):
        for line in block.splitlines()[1:-1]:
            words = line.split()
            if words and DIAGRAM_DIR.match(words[0]):
                found.update(w for w in words if DIAGRAM_DIR.match(w))
    return found


#: `chaos.png`, `reports.json`: file names, not modules
FILE_EXTENSIONS = {"png", "json", "jsonl", "md", "yaml", "yml", "py", "html", "j2", "txt", "toml", "log"}


def dotted_names(text: str) -> set[str]:
    """Backticked module names of the repository's packages (with any attributes after them)."""
    return {
        m.group(0)
        for token in BACKTICKED.findall(text)
        for m in DOTTED.finditer(token)
        if m.group(0).rsplit(".", 1)[-1] not in FILE_EXTENSIONS
    }


def resolves(dotted: str) -> bool:
    """``dotted`` is a module, or a module's attribute (``fixtures.core.errors.NoEvidence``)."""
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        name = ".".join(parts[:cut])
        try:
            spec = importlib.util.find_spec(name)
        except (ImportError, AttributeError, ValueError):  # a parent that is not a package
            continue
        if spec is None:
            continue
        obj: object = importlib.import_module(name) if cut < len(parts) else None
        for attr in parts[cut:]:
            if not hasattr(obj, attr):
                return False
            obj = getattr(obj, attr)
        return True
    return False


def markdown_files() -> list[Path]:
    """The repository's Markdown files: tracked, or new and not ignored (generated reports are)."""
    try:
        out = subprocess.run(
            ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z", "--", "*.md"],
            cwd=REPO_ROOT,
            capture_output=True,
            check=True,
        ).stdout.decode()
    except (OSError, subprocess.CalledProcessError):
        # not a git checkout: every Markdown file outside hidden folders
        return sorted(
            p
            for p in REPO_ROOT.rglob("*.md")
            if not any(
                part.startswith(".") or part == "node_modules" for part in p.relative_to(REPO_ROOT).parts
            )
        )
    return sorted(REPO_ROOT / name for name in out.split("\0") if name and (REPO_ROOT / name).is_file())


def test_the_extractors_read_what_the_page_writes() -> None:
    text = (
        "`fixtures/clusters/watch.py` `fixtures/systems/registry.py:selected` `chaos/faults/<name>.py` "
        "`reports/records/*.jsonl` `/readyz` `~/.cache/replicheck/runs/` `pyproject.toml` `--cluster=a|b` "
        "`python -m replicheck.bench.run` `fixtures.core.errors.NoEvidence` `replicheck.<tool>` `chaos.png` "
        "`mirror.configmirror.io/v1alpha1` `reflector.v1.k8s.emberstack.com/*`\n"
        "```\nfixtures/core/         errors, paths\nsuites/ properties/   the kinds (oci/ runs chaos/)\n```\n"
    )
    assert path_tokens(text) == {
        "fixtures/clusters/watch.py",
        "fixtures/systems/registry.py",
        "pyproject.toml",
    }
    assert placeholder_dirs(text) == {"chaos/faults/", "reports/records/"}
    assert dotted_names(text) == {"replicheck.bench.run", "fixtures.core.errors.NoEvidence"}
    assert diagram_dirs(text) == {"fixtures/core/", "suites/", "properties/"}
    assert MODULE_PATH.findall("see fixtures/core/stats.py, ~/.cache/replicheck/x.py, fixtures/<x>.py") == [
        "fixtures/core/stats.py"
    ]
    assert resolves("fixtures.core.errors.NoEvidence")
    assert resolves("replicheck.bench.run")
    assert not resolves("fixtures.core.errors.NoSuchError")
    assert not resolves("fixtures.implementations")


def test_every_path_architecture_names_exists() -> None:
    text = ARCHITECTURE.read_text()
    named = path_tokens(text) | placeholder_dirs(text) | diagram_dirs(text)
    assert len(named) > 50, "the extractor found almost nothing: has the page's format changed?"
    missing = sorted(p for p in named if not (REPO_ROOT / p).exists())
    assert not missing, f"ARCHITECTURE.md names paths that do not exist: {missing}"


def test_every_module_architecture_names_imports() -> None:
    named = dotted_names(ARCHITECTURE.read_text())
    assert len(named) > 3, "ARCHITECTURE.md names almost no module: has the extractor broken?"
    missing = sorted(n for n in named if not resolves(n))
    assert not missing, f"ARCHITECTURE.md names modules that do not exist: {missing}"


HARNESS_READMES = sorted(
    [*(REPO_ROOT / "fixtures").rglob("README.md"), *(REPO_ROOT / "replicheck").rglob("README.md")]
)


@pytest.mark.parametrize("readme", HARNESS_READMES, ids=lambda p: str(p.relative_to(REPO_ROOT)))
def test_every_module_a_harness_readme_lists_exists(readme: Path) -> None:
    """The module lists of fixtures/ and replicheck/ name modules relative to their folder
    (`clusters/watch.py`, `session.py`) or to the repository; a bare file name may be anywhere in
    the folder (`kubernetes-replicator.yaml` in `manifests/`)."""
    here = readme.parent
    text = readme.read_text()
    named = {p for p in path_tokens(text) | placeholder_dirs(text) if p.endswith((*PATH_SUFFIXES, "/"))}

    def exists(path: str) -> bool:
        if "/" not in path.rstrip("/"):
            return (here / path).exists() or any(here.rglob(path)) or (REPO_ROOT / path).exists()
        return (here / path).exists() or (REPO_ROOT / path).exists()

    missing = sorted(p for p in named if not exists(p))
    assert not missing, f"{readme.relative_to(REPO_ROOT)} lists modules that do not exist: {missing}"


@pytest.mark.parametrize("doc", markdown_files(), ids=lambda p: str(p.relative_to(REPO_ROOT)))
def test_every_harness_and_tool_module_a_markdown_file_names_exists(doc: Path) -> None:
    text = doc.read_text(errors="replace")
    missing = sorted({p for p in MODULE_PATH.findall(text) if not (REPO_ROOT / p).is_file()})
    assert not missing, f"{doc.relative_to(REPO_ROOT)} names modules that moved or went: {missing}"
    unresolved = sorted(n for n in dotted_names(text) if not resolves(n))
    assert not unresolved, f"{doc.relative_to(REPO_ROOT)} names modules that do not import: {unresolved}"
