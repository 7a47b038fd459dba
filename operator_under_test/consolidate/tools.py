"""Locating and running the external programs (sops, age) without ever writing plaintext to disk.

Plaintext goes to and comes from ``sops`` through pipes only (``/dev/stdin`` / stdout), so no
plaintext credential file is ever created by this tool. ``sops`` is always run with its version
check disabled so it never phones home.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import sys
from pathlib import Path

from .errors import ConsolidationError, ToolMissingError

SOPS_TIMEOUT = 60


def _cache_dir() -> Path:
    cache = os.environ.get("REPLICHECK_CACHE")
    if cache:
        return Path(cache)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "replicheck"


def find_age_dir() -> Path:
    """Directory holding ``age`` and ``age-keygen``: PATH first, then ``$REPLICHECK_CACHE/age-v*/``."""
    found = shutil.which("age-keygen")
    if found and shutil.which("age"):
        return Path(found).resolve().parent
    candidates = sorted(glob.glob(str(_cache_dir() / "age-v*")), reverse=True)
    for cand in candidates:
        d = Path(cand)
        if (d / "age").is_file() and (d / "age-keygen").is_file():
            return d
    raise ToolMissingError("age not found; run `make tools`")


def ensure_tools_on_path() -> None:
    """Prepend the age directory and this interpreter's bin dir (sops, kubectl) to ``PATH``."""
    dirs = [str(find_age_dir()), str(Path(sys.executable).parent)]
    current = os.environ.get("PATH", "").split(os.pathsep)
    os.environ["PATH"] = os.pathsep.join([d for d in dirs if d not in current] + current)


def find_program(name: str, hint: str = "run `make setup`") -> str:
    """``name`` from PATH, else next to the running interpreter (the venv's bin dir)."""
    found = shutil.which(name)
    if found:
        return found
    sibling = Path(sys.executable).parent / name
    if sibling.is_file() and os.access(sibling, os.X_OK):
        return str(sibling)
    raise ToolMissingError(f"{name} not found; {hint}")


def sops_env() -> dict[str, str]:
    env = dict(os.environ)
    env["SOPS_DISABLE_VERSION_CHECK"] = "1"
    return env


def is_sops_document(doc: object) -> bool:
    """True when a parsed YAML document carries sops metadata (an encrypted file)."""
    return isinstance(doc, dict) and isinstance(doc.get("sops"), dict) and "mac" in doc["sops"]


def find_sops_config(start: Path, stop: Path | None = None) -> Path | None:
    """Nearest ``.sops.yaml`` from ``start`` upwards (like sops does from its working directory)."""
    here = start.resolve()
    for d in [here, *here.parents]:
        cand = d / ".sops.yaml"
        if cand.is_file():
            return cand
        if stop is not None and d == stop.resolve().parent:
            break
    return None


def _last_line(stderr: str) -> str:
    lines = [ln.strip() for ln in stderr.strip().splitlines() if ln.strip()]
    text = lines[0] if lines else "no output"
    return text[:200]


def sops_encrypt(plaintext: str, target: Path, config: Path) -> str:
    """Encrypt YAML ``plaintext`` as sops would for ``target`` (creation rules of ``config``)."""
    sops = find_program("sops")
    cmd = [
        sops,
        "--disable-version-check",
        "--config",
        str(config),
        "encrypt",
        "--filename-override",
        str(target),
        "--input-type",
        "yaml",
        "--output-type",
        "yaml",
        "/dev/stdin",
    ]
    proc = subprocess.run(
        cmd,
        input=plaintext,
        capture_output=True,
        text=True,
        env=sops_env(),
        timeout=SOPS_TIMEOUT,
        check=False,
    )
    if proc.returncode != 0:
        msg = _last_line(proc.stderr)
        if "no matching creation rules" in proc.stderr:
            raise ConsolidationError(
                f"{config}: no creation_rules entry matches {target}; add a path_regex for it"
            )
        raise ConsolidationError(f"{target}: sops could not encrypt it ({msg}); check {config}")
    return proc.stdout


def sops_decrypt(path: Path, display: str | None = None) -> str:
    """Decrypt a sops YAML file to a string (never to disk), using ``SOPS_AGE_KEY_FILE``."""
    sops = find_program("sops")
    name = display or str(path)
    key_file = os.environ.get("SOPS_AGE_KEY_FILE")
    if key_file and not Path(key_file).is_file():
        raise ConsolidationError(
            f"{name}: cannot decrypt: SOPS_AGE_KEY_FILE={key_file} does not exist; point it at your age key"
        )
    cmd = [
        sops,
        "--disable-version-check",
        "decrypt",
        "--input-type",
        "yaml",
        "--output-type",
        "yaml",
        str(path),
    ]
    proc = subprocess.run(
        cmd, capture_output=True, text=True, env=sops_env(), timeout=SOPS_TIMEOUT, check=False
    )
    if proc.returncode != 0:
        err = proc.stderr
        if "Did not find keys" in err or "failed to load age identities" in err:
            if key_file:
                raise ConsolidationError(
                    f"{name}: cannot decrypt: the age key in SOPS_AGE_KEY_FILE={key_file} is not a "
                    "recipient of this file; use the matching key"
                )
            raise ConsolidationError(
                f"{name}: is sops-encrypted but no age key was found; "
                "set SOPS_AGE_KEY_FILE to your age key file"
            )
        if "no identity matched" in err or "0 successful groups" in err or "FAILED" in err:
            raise ConsolidationError(
                f"{name}: cannot decrypt: none of the available age keys "
                f"({'SOPS_AGE_KEY_FILE=' + key_file if key_file else 'default locations'}) "
                "is a recipient of this file; use the matching key"
            )
        raise ConsolidationError(f"{name}: sops could not decrypt it ({_last_line(err)})")
    return proc.stdout
