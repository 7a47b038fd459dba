"""Planning and applying the consolidation of per-service ``oci-creds.yaml`` files.

Everything (parsing, decryption, conflict checks, kustomization edits, encryption) is computed
into a :class:`Plan` first; :func:`apply_plan` then stages every new file next to its target and
renames them into place, so a failure before the renames leaves the repository untouched.
"""

from __future__ import annotations

import base64
import binascii
import copy
import difflib
import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ruamel.yaml.comments import CommentedMap
from ruamel.yaml.scalarstring import DoubleQuotedScalarString, LiteralScalarString

from . import tools, yamlio
from .errors import ConsolidationError, CredentialConflictError

PREFIX = "reflector.v1.k8s.emberstack.com/"
ALLOWED = PREFIX + "reflection-allowed"
AUTO = PREFIX + "reflection-auto-enabled"
ALLOWED_NS = PREFIX + "reflection-allowed-namespaces"
CREDS_FILE = "oci-creds.yaml"
SECRET_NAME = "oci-creds"  # noqa: S105 (a name, not a secret)
FLUX_NS = "flux-system"
DOCKER_KEY = ".dockerconfigjson"
DOCKER_TYPE = "kubernetes.io/dockerconfigjson"
KUSTOMIZATION_NAMES = ("kustomization.yaml", "kustomization.yml", "Kustomization")
REDACTED = "<redacted>"


@dataclass
class CredsFile:
    """One parsed (and, if needed, decrypted) ``oci-creds.yaml``."""

    path: Path
    display: str
    text: str  # file content as on disk (ciphertext if encrypted)
    doc: Any  # decrypted round-trip document
    encrypted: bool
    namespace: str
    form: str  # "stringData" or "data"
    raw_value: Any  # the .dockerconfigjson value exactly as written (string or base64)
    config: dict  # parsed docker config JSON

    @property
    def fingerprint(self) -> str:
        return json.dumps(self.config, sort_keys=True, separators=(",", ":"))

    @property
    def registries(self) -> list[str]:
        auths = self.config.get("auths")
        return sorted(auths) if isinstance(auths, dict) else []


@dataclass
class FileChange:
    path: Path
    display: str
    before: str | None  # None: file is created
    after: str | None  # None: file is deleted
    before_view: str | None  # what the diff shows (secret files: decrypted and redacted)
    after_view: str | None
    secret: bool = False


@dataclass
class Plan:
    repo: Path
    overlay: Path
    services: list[CredsFile] = field(default_factory=list)
    namespaces: list[str] = field(default_factory=list)
    changes: list[FileChange] = field(default_factory=list)
    secret_manifest: dict | None = None  # decrypted consolidated Secret (plain dict)
    notes: list[str] = field(default_factory=list)

    @property
    def noop(self) -> bool:
        return not self.changes

    def diff(self) -> str:
        out = []
        for ch in self.changes:
            note = "  (secret: decrypted view, values redacted)" if ch.secret else ""
            a = (ch.before_view or "").splitlines(keepends=True)
            b = (ch.after_view or "").splitlines(keepends=True)
            from_name = f"a/{ch.display}" if ch.before is not None else "/dev/null"
            to_name = f"b/{ch.display}" if ch.after is not None else "/dev/null"
            lines = list(difflib.unified_diff(a, b, fromfile=from_name + note, tofile=to_name + note))
            out.extend(line if line.endswith("\n") else line + "\n" for line in lines)
        return "".join(out)


# --------------------------------------------------------------------------------------------
# helpers


def overlay_dir(repo: Path, customer: str, cluster: str) -> Path:
    return repo / customer / "applications" / "overlays" / cluster


def _rel(repo: Path, path: Path) -> str:
    try:
        return str(path.relative_to(repo))
    except ValueError:
        return str(path)


def _walk(root: Path):
    """(dirpath, filenames) under ``root``; hidden directories and symlinked dirs are skipped."""
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        yield Path(dirpath), sorted(filenames)


def find_kustomization(directory: Path) -> Path | None:
    for name in KUSTOMIZATION_NAMES:
        cand = directory / name
        if cand.is_file():
            return cand
    return None


def to_plain(obj: Any) -> Any:
    """Round-trip YAML objects to plain dict/list/str (ruamel subclasses stripped)."""
    if isinstance(obj, dict):
        return {str(k): to_plain(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [to_plain(v) for v in obj]
    if isinstance(obj, str):
        return str(obj)
    if isinstance(obj, bool) or obj is None:
        return obj
    if isinstance(obj, int):
        return int(obj)
    if isinstance(obj, float):
        return float(obj)
    return obj


def redacted_view(doc: Any) -> str:
    """A YAML rendering of a Secret with every data/stringData value replaced and no sops block."""
    view = copy.deepcopy(doc)
    if isinstance(view, dict):
        view.pop("sops", None)
        for section in ("data", "stringData"):
            values = view.get(section)
            if isinstance(values, dict):
                for key in list(values):
                    values[key] = REDACTED
    return yamlio.dump(view)


def split_namespaces(value: Any) -> list[str]:
    if value is None:
        return []
    return [p.strip() for p in str(value).split(",") if p.strip()]


def _read_creds(path: Path, display: str, *, require_namespace: bool) -> CredsFile:
    text = yamlio.read_text(path, display)
    doc = yamlio.load_one(text, display)
    encrypted = tools.is_sops_document(doc)
    if encrypted:
        plain = tools.sops_decrypt(path, display)
        doc = yamlio.load_one(plain, display + " (decrypted)")
    if not isinstance(doc, dict) or doc.get("kind") != "Secret":
        raise ConsolidationError(f"{display}: is not a Kubernetes Secret manifest; fix or move the file")
    meta = doc.get("metadata")
    namespace = meta.get("namespace") if isinstance(meta, dict) else None
    if require_namespace and not namespace:
        raise ConsolidationError(f"{display}: has no metadata.namespace; set the service's namespace")
    form = raw = None
    for section in ("stringData", "data"):
        values = doc.get(section)
        if isinstance(values, dict) and DOCKER_KEY in values:
            form, raw = section, values[DOCKER_KEY]
            break
    if form is None:
        raise ConsolidationError(
            f"{display}: has no data/stringData '{DOCKER_KEY}'; it is not an OCI pull secret"
        )
    try:
        text_value = str(raw)
        if form == "data":
            text_value = base64.b64decode("".join(text_value.split()), validate=True).decode("utf-8")
        config = json.loads(text_value)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise ConsolidationError(
            f"{display}: '{DOCKER_KEY}' is not valid (base64) Docker config JSON; fix the value"
        ) from None
    if not isinstance(config, dict):
        raise ConsolidationError(f"{display}: '{DOCKER_KEY}' is not a JSON object; fix the value")
    return CredsFile(path, display, text, doc, encrypted, str(namespace or ""), form, raw, config)


def _names_oci_secret(path: Path) -> bool:
    """True when ``path`` (not an oci-creds.yaml) holds a Secret named oci-creds (a decoy)."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return False
    if SECRET_NAME not in text:
        return False
    try:
        docs = yamlio.load_all(text, str(path))
    except ConsolidationError:
        return False
    return any(
        isinstance(d, dict)
        and d.get("kind") == "Secret"
        and isinstance(d.get("metadata"), dict)
        and d["metadata"].get("name") == SECRET_NAME
        for d in docs
    )


def _conflict_message(files: list[CredsFile]) -> str:
    groups: dict[str, list[CredsFile]] = {}
    for f in files:
        groups.setdefault(f.fingerprint, []).append(f)
    parts = []
    for n, members in enumerate(groups.values(), 1):
        who = ", ".join(f"{f.namespace or '?'} ({f.display})" for f in members)
        regs = ", ".join(members[0].registries) or "no registries"
        parts.append(f"  credentials #{n} [registries: {regs}]: {who}")
    return (
        f"OCI credentials differ between {len(files)} files ({len(groups)} distinct sets); "
        "make them identical first; nothing changed\n" + "\n".join(parts)
    )


def _edit_kustomization(path: Path, display: str, remove: set[Path], add: str | None) -> FileChange | None:
    """Remove resource entries pointing at ``remove``; append ``add`` if it is not listed yet."""
    text = yamlio.read_text(path, display)
    doc = yamlio.load_one(text, display)
    if not isinstance(doc, dict):
        raise ConsolidationError(f"{display}: is not a kustomization mapping; fix the file")
    resources = doc.get("resources")
    if resources is not None and not isinstance(resources, list):
        raise ConsolidationError(f"{display}: 'resources' is not a list; fix the file")
    base = path.parent
    changed = False
    if resources:
        for i in reversed(range(len(resources))):
            entry = resources[i]
            if not isinstance(entry, str) or "://" in entry:
                continue
            if Path(os.path.normpath(base / entry)) in remove:
                yamlio.delete_seq_item(doc, "resources", i)
                changed = True
    if add is not None:
        listed = any(
            isinstance(e, str) and Path(os.path.normpath(base / e)) == Path(os.path.normpath(base / add))
            for e in (doc.get("resources") or [])
        )
        if not listed:
            yamlio.append_seq_item(doc, "resources", add)
            changed = True
    if not changed:
        return None
    new_text = yamlio.dump(doc, text)
    return FileChange(path, display, text, new_text, text, new_text)


def _new_secret(template: CredsFile, namespaces: list[str]) -> CommentedMap:
    doc = CommentedMap()
    doc["apiVersion"] = "v1"
    doc["kind"] = "Secret"
    meta = CommentedMap()
    meta["name"] = SECRET_NAME
    meta["namespace"] = FLUX_NS
    doc["metadata"] = meta
    doc["type"] = DOCKER_TYPE
    values = CommentedMap()
    raw = template.raw_value
    if template.form == "stringData" and isinstance(raw, str) and "\n" in raw:
        raw = LiteralScalarString(str(raw))
    values[DOCKER_KEY] = raw
    doc[template.form] = values
    _set_annotations(doc, namespaces)
    return doc


def _set_annotations(doc: CommentedMap, namespaces: list[str]) -> None:
    meta = doc.setdefault("metadata", CommentedMap())
    meta["name"] = SECRET_NAME
    meta["namespace"] = FLUX_NS
    ann = meta.get("annotations")
    if not isinstance(ann, dict):
        ann = CommentedMap()
        meta["annotations"] = ann
    ann[ALLOWED] = DoubleQuotedScalarString("true")
    ann[AUTO] = DoubleQuotedScalarString("true")
    ann[ALLOWED_NS] = DoubleQuotedScalarString(",".join(namespaces))


# --------------------------------------------------------------------------------------------
# planning


def plan_consolidation(repo: str | os.PathLike, customer: str, cluster: str) -> Plan:
    """Compute every change (nothing is written). Raises :class:`ConsolidationError`."""
    repo_path = Path(repo).resolve()
    for part, label in ((customer, "customer"), (cluster, "cluster")):
        if not part or "/" in part or part in (".", ".."):
            raise ConsolidationError(f"invalid {label} name {part!r}; pass a plain directory name")
    overlay = overlay_dir(repo_path, customer, cluster)
    if not overlay.is_dir():
        raise ConsolidationError(
            f"{_rel(repo_path, overlay)}/: overlay not found; check the customer/cluster names "
            f"and --repo (currently {repo_path})"
        )
    plan = Plan(repo=repo_path, overlay=overlay)
    flux_dir = overlay / FLUX_NS
    flux_creds = flux_dir / CREDS_FILE

    service_paths = []
    kustomizations = []
    for dirpath, filenames in _walk(overlay):
        if dirpath == flux_dir or flux_dir in dirpath.parents:
            continue
        if CREDS_FILE in filenames:
            service_paths.append(dirpath / CREDS_FILE)
        for name in filenames:
            if name != CREDS_FILE and name.endswith((".yaml", ".yml")) and name not in KUSTOMIZATION_NAMES:
                decoy = _names_oci_secret(dirpath / name)
                if decoy:
                    plan.notes.append(
                        f"{_rel(repo_path, dirpath / name)}: defines Secret {SECRET_NAME} but is not named "
                        f"{CREDS_FILE}; left unchanged"
                    )
        kust = find_kustomization(dirpath)
        if kust is not None:
            kustomizations.append(kust)

    flux_kust = find_kustomization(flux_dir)
    if flux_kust is None and (service_paths or flux_creds.exists()):
        raise ConsolidationError(
            f"{_rel(repo_path, flux_dir)}/kustomization.yaml: missing; bootstrap Flux for this cluster "
            "or create it (resources: [])"
        )

    services = [_read_creds(p, _rel(repo_path, p), require_namespace=True) for p in service_paths]
    plan.services = services

    if not services:
        # Nothing to consolidate. Only make sure an existing consolidated file is listed.
        if flux_creds.exists() and flux_kust is not None:
            change = _edit_kustomization(flux_kust, _rel(repo_path, flux_kust), set(), CREDS_FILE)
            if change:
                plan.changes.append(change)
        plan.notes.append("no service oci-creds.yaml found; nothing to consolidate")
        return plan

    existing = None
    if flux_creds.exists():
        existing = _read_creds(flux_creds, _rel(repo_path, flux_creds), require_namespace=False)
        if existing.namespace and existing.namespace != FLUX_NS:
            raise ConsolidationError(
                f"{existing.display}: metadata.namespace is {existing.namespace!r}, "
                f"expected {FLUX_NS}; fix it"
            )

    everyone = ([existing] if existing else []) + services
    if len({f.fingerprint for f in everyone}) > 1:
        raise CredentialConflictError(_conflict_message(everyone))

    namespaces = {s.namespace for s in services}
    if existing is not None:
        ann = (existing.doc.get("metadata") or {}).get("annotations") or {}
        namespaces |= set(split_namespaces(ann.get(ALLOWED_NS)))
    namespaces.discard(FLUX_NS)
    plan.namespaces = sorted(namespaces)
    if not plan.namespaces:
        raise ConsolidationError(
            f"{services[0].display}: every service is in {FLUX_NS}; an empty "
            "reflection-allowed-namespaces would allow all namespaces, so nothing was changed"
        )

    # The consolidated Secret: the existing file (comments, extra metadata kept) or a new one.
    if existing is not None:
        new_doc = copy.deepcopy(existing.doc)
        new_doc.pop("sops", None)
        _set_annotations(new_doc, plan.namespaces)
    else:
        new_doc = _new_secret(services[0], plan.namespaces)
    plaintext = yamlio.dump(new_doc)
    plan.secret_manifest = to_plain(new_doc)

    config = tools.find_sops_config(flux_dir, stop=repo_path)
    if config is None:
        raise ConsolidationError(
            f"{_rel(repo_path, flux_creds)}: no .sops.yaml found in {_rel(repo_path, flux_dir)} or above; "
            "add one with an age creation rule"
        )
    ciphertext = tools.sops_encrypt(plaintext, flux_creds, config)
    plan.changes.append(
        FileChange(
            flux_creds,
            _rel(repo_path, flux_creds),
            existing.text if existing else None,
            ciphertext,
            redacted_view(existing.doc) if existing else None,
            redacted_view(new_doc),
            secret=True,
        )
    )

    removed = {Path(os.path.normpath(s.path)) for s in services}
    for s in services:
        plan.changes.append(
            FileChange(s.path, s.display, s.text, None, redacted_view(s.doc), None, secret=True)
        )
    for kust in kustomizations:
        change = _edit_kustomization(kust, _rel(repo_path, kust), removed, None)
        if change:
            plan.changes.append(change)
    assert flux_kust is not None
    change = _edit_kustomization(flux_kust, _rel(repo_path, flux_kust), set(), CREDS_FILE)
    if change:
        plan.changes.append(change)
    return plan


# --------------------------------------------------------------------------------------------
# applying


def apply_plan(plan: Plan) -> None:
    """Stage every new file beside its target, then rename all into place and delete the removed."""
    staged: list[tuple[FileChange, str]] = []
    try:
        for ch in plan.changes:
            if ch.after is None:
                continue
            mode = (ch.path.stat().st_mode & 0o777) if ch.path.exists() else 0o644
            fd, tmp = tempfile.mkstemp(
                prefix=f".{ch.path.name}.", suffix=".consolidate-tmp", dir=ch.path.parent
            )
            staged.append((ch, tmp))
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(ch.after)
                fh.flush()
                os.fsync(fh.fileno())
            os.chmod(tmp, mode)
    except OSError as exc:
        for _, tmp in staged:
            Path(tmp).unlink(missing_ok=True)
        raise ConsolidationError(
            f"cannot write next to {staged[-1][0].display if staged else '?'} ({exc})"
        ) from None

    done: list[FileChange] = []
    try:
        for ch, tmp in staged:
            os.replace(tmp, ch.path)
            done.append(ch)
        for ch in plan.changes:
            if ch.after is None:
                ch.path.unlink()
                done.append(ch)
    except OSError as exc:
        # Best-effort rollback to the original contents.
        for ch in reversed(done):
            if ch.before is None:
                ch.path.unlink(missing_ok=True)
            else:
                ch.path.write_text(ch.before, encoding="utf-8")
        for _, tmp in staged:
            Path(tmp).unlink(missing_ok=True)
        raise ConsolidationError(
            f"writing failed and was rolled back ({exc.__class__.__name__}: {exc})"
        ) from None


def consolidate(repo: str | os.PathLike, customer: str, cluster: str, *, dry_run: bool = False) -> Plan:
    """Plan and (unless ``dry_run``) apply the consolidation; returns the plan."""
    plan = plan_consolidation(repo, customer, cluster)
    if not dry_run and not plan.noop:
        apply_plan(plan)
    return plan


def consolidated_secret(repo: str | os.PathLike, customer: str, cluster: str) -> dict:
    """The decrypted consolidated ``oci-creds`` Secret manifest as a plain dict, ready to apply.

    Before consolidation this is what the tool would write (nothing is written); afterwards it is
    the decrypted ``flux-system/oci-creds.yaml``. Needs ``SOPS_AGE_KEY_FILE`` for encrypted files.
    """
    plan = plan_consolidation(repo, customer, cluster)
    if plan.secret_manifest is not None:
        return plan.secret_manifest
    path = plan.overlay / FLUX_NS / CREDS_FILE
    if not path.exists():
        raise ConsolidationError(
            f"{_rel(plan.repo, path)}: not found and no service credentials to consolidate"
        )
    return load_secret(path)


def load_secret(path: str | os.PathLike) -> dict:
    """Decrypt (if needed) a single-document Secret file and return it as a plain dict."""
    p = Path(path)
    text = yamlio.read_text(p, str(p))
    doc = yamlio.load_one(text, str(p))
    if tools.is_sops_document(doc):
        doc = yamlio.load_one(tools.sops_decrypt(p), str(p))
    return to_plain(doc)
