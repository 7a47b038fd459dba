"""Test support for the consolidation tool: layout specs, a layout writer, age keys, tree hashes.

Kept outside the shipped `operator_under_test` package (tests depend on it, never the tool).

Used by ``tests/unit/consolidate`` and ``properties/test_property7_consolidation.py``. The layout
spec classes are plain frozen dataclasses so Hypothesis strategies can build them.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from fixtures.core.encoding import b64
from fixtures.systems.dialects.reflector import replicate_to
from operator_under_test.consolidate import tools

SOPS_RULES = """\
# sops creation rules (Flux convention: only data/stringData are encrypted)
creation_rules:
  - path_regex: .*/never-matches/.*
    age: {pub}
  - path_regex: .*\\.ya?ml$
    encrypted_regex: ^(data|stringData)$
    age: {pub}
"""


@dataclass(frozen=True)
class Registry:
    host: str
    username: str
    password: str

    @property
    def auth(self) -> str:
        return b64(f"{self.username}:{self.password}")


@dataclass(frozen=True)
class DockerConfig:
    """A ``.dockerconfigjson`` payload; ``pretty`` only changes the JSON text, not its meaning."""

    registries: tuple[Registry, ...]
    pretty: bool = True

    def as_dict(self) -> dict:
        return {
            "auths": {
                r.host: {"username": r.username, "password": r.password, "auth": r.auth}
                for r in self.registries
            }
        }

    def text(self) -> str:
        return json.dumps(self.as_dict(), indent=2 if self.pretty else None) + ("\n" if self.pretty else "")

    def secrets(self) -> list[str]:
        """Strings that must never appear in output or plaintext on disk."""
        return [s for r in self.registries for s in (r.password, r.auth)]


@dataclass(frozen=True)
class CredsSpec:
    config: DockerConfig
    form: str = "stringData"  # or "data" (base64)
    encrypted: bool = False
    key_order: tuple[str, ...] = ("apiVersion", "kind", "metadata", "type", "body")
    comment: bool = False


@dataclass(frozen=True)
class ServiceSpec:
    """A directory under the overlay. ``creds=None`` is a service without credentials."""

    path: str  # relative to the overlay, e.g. "cert-manager" or "apps/keycloak"
    namespace: str
    creds: CredsSpec | None = None
    others: tuple[str, ...] = ("helmrelease.yaml",)
    creds_position: int = 0  # index of the oci-creds entry among the resources
    creds_entry: str = "oci-creds.yaml"  # or "./oci-creds.yaml"
    comments: bool = False
    seq_offset: int = 2  # "  - x" (2) or "- x" (0)
    has_kustomization: bool = True  # False: the root kustomization lists the files directly
    decoy_bak: bool = False  # oci-creds.yaml.bak next to the real file
    decoy_secret_file: str | None = None  # a Secret named oci-creds under another file name


@dataclass(frozen=True)
class LayoutSpec:
    customer: str
    cluster: str
    services: tuple[ServiceSpec, ...] = ()
    existing: CredsSpec | None = None  # a pre-existing flux-system/oci-creds.yaml
    existing_namespaces: tuple[str, ...] = ()
    sibling_clusters: tuple[str, ...] = ()  # other overlays (with creds) that must not change
    flux_comments: bool = False

    @property
    def overlay(self) -> str:
        return f"{self.customer}/applications/overlays/{self.cluster}"

    def creds_services(self) -> list[ServiceSpec]:
        return [s for s in self.services if s.creds is not None]

    def expected_namespaces(self) -> list[str]:
        ns = {s.namespace for s in self.creds_services()} | set(self.existing_namespaces)
        ns.discard("flux-system")
        return sorted(ns)

    def all_configs(self) -> list[DockerConfig]:
        out = [s.creds.config for s in self.creds_services() if s.creds]
        if self.existing is not None:
            out.append(self.existing.config)
        return out

    def conflicting(self) -> bool:
        return len({json.dumps(c.as_dict(), sort_keys=True) for c in self.all_configs()}) > 1

    def secrets(self) -> list[str]:
        return sorted({s for c in self.all_configs() for s in c.secrets()})


@dataclass
class WrittenLayout:
    root: Path
    spec: LayoutSpec
    overlay: Path
    kustomization_dirs: list[Path] = field(default_factory=list)


# ---------------------------------------------------------------------------------------------


def generate_age_key(directory: Path) -> tuple[Path, str]:
    """Create an age identity with the real ``age-keygen``; returns (key file, public key)."""
    keygen = str(tools.find_age_dir() / "age-keygen")
    directory.mkdir(parents=True, exist_ok=True)
    key = directory / "age.agekey"
    subprocess.run([keygen, "-o", str(key)], check=True, capture_output=True, timeout=30)
    pub = subprocess.run([keygen, "-y", str(key)], check=True, capture_output=True, text=True, timeout=30)
    return key, pub.stdout.strip()


def secret_yaml(name: str, namespace: str, spec: CredsSpec, annotations: dict[str, str] | None = None) -> str:
    meta = [f"  name: {name}", f"  namespace: {namespace}"]
    if annotations:
        meta.append("  annotations:")
        meta += [f'    {k}: "{v}"' for k, v in annotations.items()]
    if spec.form == "data":
        body = ["data:", f"  .dockerconfigjson: {b64(spec.config.text())}"]
    else:
        text = spec.config.text()
        if "\n" in text.rstrip("\n"):
            body = ["stringData:", "  .dockerconfigjson: |"] + [
                f"    {ln}" for ln in text.rstrip("\n").split("\n")
            ]
        else:
            body = ["stringData:", f"  .dockerconfigjson: '{text.strip()}'"]
    parts = {
        "apiVersion": ["apiVersion: v1"],
        "kind": ["kind: Secret"],
        "metadata": ["metadata:", *meta],
        "type": ["type: kubernetes.io/dockerconfigjson"],
        "body": body,
    }
    lines = ["# OCI registry pull secret"] if spec.comment else []
    for key in spec.key_order:
        lines += parts[key]
    return "\n".join(lines) + "\n"


def kustomization_yaml(
    resources: list[str], *, comments: bool, offset: int, namespace: str | None = None
) -> str:
    pad = " " * offset
    lines = []
    if comments:
        lines.append("# kustomization managed by the platform team")
    lines += ["apiVersion: kustomize.config.k8s.io/v1beta1", "kind: Kustomization"]
    if namespace:
        lines.append(f"namespace: {namespace}" + ("  # service namespace" if comments else ""))
    lines.append("resources:")
    if comments:
        lines.append(f"{pad}# resources of this service")
    for i, r in enumerate(resources):
        eol = "  # pull secret" if comments and "oci-creds" in r else ""
        lines.append(f"{pad}- {r}{eol}")
        if comments and i == len(resources) // 2:
            lines.append(f"{pad}# more below")
    if comments:
        lines.append("# end of resources")
    lines.append("labels:")
    lines.append(f"{pad}- pairs:")
    lines.append(f"{pad}    app.kubernetes.io/managed-by: flux")
    return "\n".join(lines) + "\n"


def configmap_yaml(name: str, namespace: str) -> str:
    return (
        f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n  namespace: {namespace}\n"
        f"data:\n  key: value-{name}\n"
    )


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def _write_secret(root: Path, path: Path, text: str, encrypted: bool) -> None:
    if encrypted:
        text = tools.sops_encrypt(text, path, root / ".sops.yaml")
    _write(path, text)


def write_layout(root: Path, spec: LayoutSpec, age_public_key: str) -> WrittenLayout:
    """Materialise ``spec`` under ``root`` (encrypting with the real sops where asked)."""
    _write(root / ".sops.yaml", SOPS_RULES.format(pub=age_public_key))
    _write(root / "README.md", "gitops repo\n")
    overlay = root / spec.overlay
    out = WrittenLayout(root, spec, overlay)
    root_resources = ["flux-system"]
    for svc in spec.services:
        d = overlay / svc.path
        files = [f"{Path(o).stem}.yaml" for o in svc.others]
        for o in files:
            _write(d / o, configmap_yaml(f"{Path(o).stem}-{svc.namespace}"[:60].rstrip("-"), svc.namespace))
        resources = list(files)
        if svc.decoy_secret_file:
            decoy = CredsSpec(DockerConfig((Registry("decoy.example.com", "decoy", "decoy-not-secret"),)))
            _write(d / svc.decoy_secret_file, secret_yaml("oci-creds", svc.namespace, decoy))
            resources.append(svc.decoy_secret_file)
        if svc.creds is not None:
            _write_secret(
                root,
                d / "oci-creds.yaml",
                secret_yaml("oci-creds", svc.namespace, svc.creds),
                svc.creds.encrypted,
            )
            resources.insert(min(svc.creds_position, len(resources)), svc.creds_entry)
        if svc.decoy_bak:
            _write(d / "oci-creds.yaml.bak", "# old copy, not a resource\nkind: Secret\n")
        if svc.has_kustomization:
            _write(
                d / "kustomization.yaml",
                kustomization_yaml(resources, comments=svc.comments, offset=svc.seq_offset),
            )
            out.kustomization_dirs.append(d)
            root_resources.append(svc.path)
        else:
            root_resources += [f"{svc.path}/{r.removeprefix('./')}" for r in resources]
    flux = overlay / "flux-system"
    flux_resources = ["gotk-sync.yaml"]
    _write(flux / "gotk-sync.yaml", configmap_yaml("gotk-sync", "flux-system"))
    if spec.existing is not None:
        ann = replicate_to(spec.existing_namespaces, auto=False)  # allowed, not auto-enabled
        _write_secret(
            root,
            flux / "oci-creds.yaml",
            secret_yaml("oci-creds", "flux-system", spec.existing, ann),
            spec.existing.encrypted,
        )
        flux_resources.append("oci-creds.yaml")
    _write(
        flux / "kustomization.yaml", kustomization_yaml(flux_resources, comments=spec.flux_comments, offset=2)
    )
    out.kustomization_dirs.append(flux)
    _write(overlay / "kustomization.yaml", kustomization_yaml(root_resources, comments=False, offset=2))
    out.kustomization_dirs.append(overlay)
    for sibling in spec.sibling_clusters:
        sdir = root / spec.customer / "applications" / "overlays" / sibling / "svc"
        creds = CredsSpec(DockerConfig((Registry("ghcr.io", "sibling", "sibling-pass"),)))
        _write(sdir / "oci-creds.yaml", secret_yaml("oci-creds", "svc", creds))
        _write(sdir / "kustomization.yaml", kustomization_yaml(["oci-creds.yaml"], comments=False, offset=2))
    return out


def tree_digest(root: Path, exclude: Path | None = None) -> str:
    """sha256 over every file's relative path, mode and content (``exclude`` subtree skipped)."""
    h = hashlib.sha256()
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        d = Path(dirpath)
        if exclude is not None and (d == exclude or exclude in d.parents):
            dirnames[:] = []
            continue
        for name in sorted(filenames):
            p = d / name
            h.update(str(p.relative_to(root)).encode() + b"\0")
            h.update(oct(p.stat().st_mode & 0o777).encode() + b"\0")
            h.update(p.read_bytes() + b"\0")
    return h.hexdigest()


def files_containing(root: Path, needles: list[str]) -> list[Path]:
    """Files under ``root`` whose bytes contain any of ``needles``."""
    hits = []
    encoded = [n.encode() for n in needles if n]
    for dirpath, _dirs, filenames in os.walk(root):
        for name in filenames:
            p = Path(dirpath) / name
            with contextlib.suppress(OSError):
                data = p.read_bytes()
                if any(n in data for n in encoded):
                    hits.append(p)
    return hits


def run_cli(argv: list[str]) -> tuple[int, str, str]:
    """Run ``consolidate-oci-creds`` in-process; returns (exit code, stdout, stderr)."""
    from operator_under_test.consolidate.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(argv)
        except SystemExit as exc:  # argparse usage errors
            code = int(exc.code or 0)
    return code, out.getvalue(), err.getvalue()


def kustomize_build(directory: Path) -> subprocess.CompletedProcess:
    kubectl = tools.find_program("kubectl")
    return subprocess.run(
        [kubectl, "kustomize", str(directory)], capture_output=True, text=True, timeout=60, check=False
    )


@contextlib.contextmanager
def age_key_env(key_file: Path | None) -> Iterator[None]:
    """Temporarily point ``SOPS_AGE_KEY_FILE`` at ``key_file`` (``None`` removes it)."""
    old = os.environ.get("SOPS_AGE_KEY_FILE")
    if key_file is None:
        os.environ.pop("SOPS_AGE_KEY_FILE", None)
    else:
        os.environ["SOPS_AGE_KEY_FILE"] = str(key_file)
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("SOPS_AGE_KEY_FILE", None)
        else:
            os.environ["SOPS_AGE_KEY_FILE"] = old


def age_identity_fixture(scope: str, prefix: str, *, export: bool = False) -> Callable[..., Any]:
    """The ``age_identity`` fixture: (key file, public key) of a real age key made by ``age-keygen`` once
    per ``scope``, after checking that sops and kubectl are installed (a missing tool fails the test
    with one line naming the fix). With ``export``, ``SOPS_AGE_KEY_FILE`` points at it meanwhile.

    Use: ``age_identity = age_identity_fixture("module", "p7-age-", export=True)`` in a test module.
    """

    @pytest.fixture(scope=scope, name="age_identity")  # type: ignore[call-overload]
    def age_identity() -> Iterator[tuple[Path, str]]:
        try:
            tools.ensure_tools_on_path()
            tools.find_program("sops")
            tools.find_program("kubectl")
        except tools.ToolMissingError as exc:
            pytest.fail(str(exc), pytrace=False)
        with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
            key, pub = generate_age_key(Path(tmp))
            with age_key_env(key) if export else contextlib.nullcontext():
                yield key, pub

    return age_identity
