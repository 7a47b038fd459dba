"""The replicator's image for real: built from its own Dockerfile with buildah on the debootstrap bases
(no public base image), cached, pushed to a real OCI registry (TLS from a run CA, htpasswd), found there
by digest with credentials and refused without; the image runs its Python as 65532 with no shell and
valid byte-code.

Slow when cold (the bases and the build: minutes once per machine), seconds when cached. Needs root,
buildah, debootstrap and skopeo (fixtures/services/images.py says how to install them)."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import pytest

from fixtures.clusters.pki import create_pki
from fixtures.services.images import (
    REPLICATOR,
    Storage,
    build,
    images_dir,
    push,
    remove_tree,
    write_authfile,
    write_config,
)
from fixtures.services.oci_registry import OciRegistry

pytestmark = pytest.mark.slow

#: run inside the image: who it runs as, whether a shell is there, whether every module's byte-code is
#: valid for its source (a read-only root cannot write a fresh one), then import the operator
PROBE = """
import importlib.util, json, os, pathlib, struct, sys
stale = []
for top in ("/app/lib/operator_under_test", "/usr/lib/python3.11/asyncio"):
    for py in pathlib.Path(top).rglob("*.py"):
        try:
            head = open(importlib.util.cache_from_source(str(py)), "rb").read(16)
        except FileNotFoundError:
            stale.append(str(py))
            continue
        flags, mtime, size = struct.unpack("<4xIII", head)
        st = py.stat()
        if flags or mtime != int(st.st_mtime) & 0xFFFFFFFF or size != st.st_size & 0xFFFFFFFF:
            stale.append(str(py))
import operator_under_test.replicator.cli, kubernetes, orjson, regex, httptools
shells = [p for p in ("/bin/sh", "/bin/bash", "/bin/dash", "/usr/bin/busybox") if os.path.lexists(p)]
print(json.dumps({"uid": os.getuid(), "gid": os.getgid(), "python": list(sys.version_info[:2]),
                  "shells": shells, "stale": stale}))
"""


def _skopeo(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["skopeo", *args], capture_output=True, text=True, timeout=120, check=False)


def _run_in_image(archive: Path, scratch: Path, *argv: str) -> str:
    """Run `argv` in a container of the archived image (buildah, chroot isolation, a throwaway storage)."""
    storage = Storage(scratch / "storage", scratch / "run", scratch / "config")
    write_config(storage.config, storage.root, storage.runroot)
    env = storage.env(scratch)
    policy = str(storage.config / "policy.json")
    try:
        subprocess.run(
            storage.buildah(
                "from", "--signature-policy", policy, "--name", "probe", f"oci-archive:{archive}"
            ),
            capture_output=True,
            env=env,
            check=True,
        )
        proc = subprocess.run(
            storage.buildah("run", "--isolation", "chroot", "probe", "--", *argv),
            capture_output=True,
            text=True,
            env=env,
            check=False,
        )
        assert proc.returncode == 0, proc.stderr[-2000:]
        return proc.stdout
    finally:
        subprocess.run(storage.buildah("rm", "--all"), capture_output=True, env=env, check=False)
        subprocess.run(storage.buildah("rmi", "--all", "--force"), capture_output=True, env=env, check=False)
        remove_tree(scratch / "storage")


def test_the_replicator_image_is_built_once_pushed_by_digest_and_refused_without_credentials(
    tmp_path: Path,
) -> None:
    # Setup: the image (cold: debootstrap and buildah, minutes once per machine), then again (cached).
    built = build(REPLICATOR)
    again = build(REPLICATOR)
    assert again.cached
    assert (again.digest, again.archive) == (built.digest, built.archive)
    assert again.build_seconds <= 10, f"a cached build took {again.build_seconds:.1f} s"

    # The image as it runs: user 65532, CPython 3.11, no shell, byte-code valid, the operator imports.
    seen = json.loads(
        _run_in_image(built.archive, tmp_path / "probe", "python3", "-c", PROBE).splitlines()[-1]
    )
    assert seen == {"uid": 65532, "gid": 65532, "python": [3, 11], "shells": [], "stale": []}

    # A real registry with TLS from a run CA and htpasswd, as the cluster's run starts it.
    create_pki(tmp_path / "pki")
    registry = OciRegistry(tmp_path / "registry", tmp_path / "pki", None).start()
    try:
        t0 = time.monotonic()
        pushed = push(built, registry)
        push_s = time.monotonic() - t0
        assert pushed.digest == built.digest
        assert pushed.reference == f"{registry.host}/replicheck/replicator@{built.digest}"
        assert pushed.tagged == f"{registry.host}/replicheck/replicator:{built.tag}"

        # Assess: with credentials the registry serves that digest, by digest and by tag.
        certs = tmp_path / "certs"
        certs.mkdir()
        (certs / "ca.crt").write_bytes(registry.ca_cert.read_bytes())
        auth = write_authfile(tmp_path / "auth.json", registry.host, registry.username, registry.password)
        for reference in (pushed.reference, pushed.tagged):
            found = _skopeo(
                "inspect", "--authfile", str(auth), "--cert-dir", str(certs), f"docker://{reference}"
            )
            assert found.returncode == 0, found.stderr
            assert json.loads(found.stdout)["Digest"] == built.digest
        config = _skopeo(
            "inspect",
            "--config",
            "--authfile",
            str(auth),
            "--cert-dir",
            str(certs),
            f"docker://{pushed.reference}",
        )
        assert config.returncode == 0, config.stderr
        image_config = json.loads(config.stdout)["config"]
        assert image_config["User"] == "65532:65532"
        assert image_config["Entrypoint"] == ["python3", "-m", "operator_under_test.replicator"]

        # Negative control: without credentials the same digest is refused.
        anonymous = _skopeo("inspect", "--no-creds", "--cert-dir", str(certs), f"docker://{pushed.reference}")
        assert anonymous.returncode != 0
        assert "unauthorized" in anonymous.stderr.lower() or "401" in anonymous.stderr
        # The password is in no log the push wrote.
        assert registry.password not in (images_dir() / "logs" / "push.log").read_text()
    finally:
        registry.stop()
    print(
        f"\nreplicator image {built.digest}: {built.size_bytes / 1e6:.1f} MB archive;"
        f" {'cached' if built.cached else 'cold build'} {built.build_seconds:.1f} s,"
        f" cached build {again.build_seconds * 1000:.0f} ms, push {push_s:.2f} s"
    )
