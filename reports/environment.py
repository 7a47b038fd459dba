"""What a run was: implementation and its source digest, provider, Kubernetes, profile, tools.

Written as Allure's environment.properties by the controller at session end, and read back by the
certification report builder, so both always agree.
"""

from __future__ import annotations

import hashlib
import os
import platform
from importlib import metadata
from pathlib import Path

from fixtures.paths import REPO_ROOT

ENV_FILE = "environment.properties"


def source_digest(root: Path) -> str:
    """SHA-256 over the implementation's source files (names and contents), caches excluded."""
    sha = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
        sha.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes() + b"\0")
    return sha.hexdigest()


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "not installed"


def environment(
    implementation: str, provider: str, kubernetes: str, run_id: str, extra: dict[str, str] | None = None
) -> dict[str, str]:
    src = Path(os.environ.get("REPLICHECK_OPERATOR_SRC", REPO_ROOT)) / "operator_under_test"
    return {
        "implementation": implementation,
        "implementation.source_sha256": source_digest(src) if src.exists() else "unknown",
        "provider": provider,
        "kubernetes": kubernetes,
        "run_id": run_id,
        "profile": os.environ.get("HYPOTHESIS_PROFILE", "ci"),
        "hypothesis.seed": "derandomized" if os.environ.get("HYPOTHESIS_PROFILE", "ci") == "ci" else "random",
        "python": platform.python_version(),
        "pytest": _version("pytest"),
        "hypothesis": _version("hypothesis"),
        "kubernetes-client": _version("kubernetes"),
        "chaostoolkit-lib": _version("chaostoolkit-lib"),
        "replicheck": _version("replicheck"),
        **(extra or {}),
    }


def write_properties(directory: Path, env: dict[str, str]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / ENV_FILE
    path.write_text("".join(f"{k}={v}\n" for k, v in env.items()))
    return path


def read_properties(directory: Path) -> dict[str, str]:
    path = directory / ENV_FILE
    if not path.exists():
        return {}
    return dict(line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)
