"""The pure parts of fixtures/services/images.py: what a Dockerfile copies, the cache keys (they change
when a copied file changes and not otherwise), the buildah and skopeo command lines, the runtime base's
package closure and root, and the one-line errors. No buildah, no network."""

from __future__ import annotations

import base64
import io
import json
import os
import shutil
import stat
import subprocess
import tarfile
from pathlib import Path

import pytest

from fixtures.core.errors import SetupError
from fixtures.services import images
from fixtures.services.images import (
    BUNDLED,
    CONFIGMIRROR,
    PIP_CA_IN_BUILD,
    REPLICATOR,
    BaseRecipe,
    BuiltImage,
    ImageSpec,
    Storage,
    archive_digest,
    assemble_runtime_root,
    bud_command,
    context_files,
    copied_sources,
    image_key,
    instructions,
    pip_cert_from_env,
    push_command,
    runtime_packages,
    trim_root,
    write_authfile,
)

DOCKERFILE = """\
# syntax=docker/dockerfile:1
ARG BUILD_BASE=python:3.11-slim-bookworm
FROM ${BUILD_BASE} AS build
COPY --chown=0:0 app/requirements.txt /src/requirements.txt
RUN pip install \\
    -r /src/requirements.txt
COPY ["app/pkg", "/app/lib/pkg"]
COPY app/top.py \\
     /app/lib/top.py
FROM scratch
COPY --from=build /app/lib /app/lib
"""


@pytest.fixture
def context(tmp_path: Path) -> ImageSpec:
    """A build context: a Dockerfile, the files it copies, and files it does not."""
    root = tmp_path / "ctx"
    (root / "app/pkg/sub").mkdir(parents=True)
    (root / "app/requirements.txt").write_text("orjson==1\n")
    (root / "app/pkg/__init__.py").write_text("")
    (root / "app/pkg/sub/mod.py").write_text("X = 1\n")
    (root / "app/top.py").write_text("print(1)\n")
    (root / "app/unrelated.py").write_text("nothing copies me\n")
    (root / "README.md").write_text("docs\n")
    (root / "Dockerfile").write_text(DOCKERFILE)
    return ImageSpec("demo", Path("Dockerfile"), root)


def test_instructions_join_continuations_and_drop_comments() -> None:
    steps = instructions(DOCKERFILE)
    assert steps[0] == ("ARG", "BUILD_BASE=python:3.11-slim-bookworm")
    assert ("RUN", "pip install -r /src/requirements.txt") in [(w, " ".join(r.split())) for w, r in steps]
    assert [w for w, _ in steps] == ["ARG", "FROM", "COPY", "RUN", "COPY", "COPY", "FROM", "COPY"]


def test_copied_sources_are_the_context_paths_not_other_stages() -> None:
    assert copied_sources(DOCKERFILE) == ["app/requirements.txt", "app/pkg", "app/top.py"]


def test_a_copy_from_the_network_is_refused() -> None:
    with pytest.raises(SetupError, match="network"):
        copied_sources("FROM x\nADD https://example.com/a.tgz /a\n")


def test_context_files_are_what_the_dockerfile_copies_without_bytecode(context: ImageSpec) -> None:
    cache = context.context / "app/pkg/__pycache__"
    cache.mkdir()
    (cache / "mod.cpython-311.pyc").write_bytes(b"\0")
    assert [p.as_posix() for p in context_files(context)] == [
        "app/pkg/__init__.py",
        "app/pkg/sub/mod.py",
        "app/requirements.txt",
        "app/top.py",
    ]


def test_a_missing_copied_path_is_one_line(context: ImageSpec) -> None:
    (context.context / "app/top.py").unlink()
    with pytest.raises(SetupError, match=r"copies app/top.py, which is not in"):
        context_files(context)


def test_the_image_key_changes_with_a_copied_file_and_not_otherwise(context: ImageSpec) -> None:
    base = "b" * 64
    key = image_key(context, base)
    assert key == image_key(context, base)
    # not otherwise: a file nothing copies, byte-code, a touched mtime
    (context.context / "app/unrelated.py").write_text("changed\n")
    (context.context / "README.md").write_text("changed\n")
    (context.context / "app/pkg/__pycache__").mkdir()
    (context.context / "app/pkg/__pycache__/x.cpython-311.pyc").write_bytes(b"1")
    os.utime(context.context / "app/top.py", (1, 1))
    assert image_key(context, base) == key
    # a copied file's content, a new file in a copied folder, an executable bit, the Dockerfile, the bases
    changes = [
        lambda: (context.context / "app/pkg/sub/mod.py").write_text("X = 2\n"),
        lambda: (context.context / "app/pkg/sub/new.py").write_text(""),
        lambda: (context.context / "app/top.py").chmod(0o755),
        lambda: (context.context / "Dockerfile").write_text(DOCKERFILE + "USER 65532\n"),
    ]
    seen = {key}
    for change in changes:
        change()
        new = image_key(context, base)
        assert new not in seen
        seen.add(new)
    assert image_key(context, "c" * 64) not in seen


def test_the_bundled_dockerfiles_take_their_bases_as_arguments_and_copy_only_the_operators() -> None:
    for spec in BUNDLED:
        text = spec.dockerfile_path.read_text()
        steps = instructions(text)
        args = {
            rest.split("=", 1)[0]: rest.split("=", 1)[1]
            for word, rest in steps
            if word == "ARG" and "=" in rest
        }
        assert args["BUILD_BASE"] == "python:3.11-slim-bookworm"  # the public defaults stay
        assert args["RUNTIME_BASE"] == "gcr.io/distroless/python3-debian12:nonroot"
        froms = [rest for word, rest in steps if word == "FROM"]
        assert froms[0].startswith("${BUILD_BASE}")
        assert froms[-1].startswith("${RUNTIME_BASE}")
        final = text.rsplit("\nFROM ", 1)[1]
        assert "\nUSER 65532:65532" in final
        assert "\nRUN " not in final, "the final stage needs no shell"
        assert "ARG PIP_CERT\n" in text.split("\nFROM ")[1], "pip's CA is an argument of the build stage"
        assert all(p.parts[0] == "operator_under_test" for p in context_files(spec))
    replicator = {p.as_posix() for p in context_files(REPLICATOR)}
    assert "operator_under_test/replicator/controller.py" in replicator
    assert not any("configmirror" in p for p in replicator)
    assert "operator_under_test/configmirror/controller.py" in {
        p.as_posix() for p in context_files(CONFIGMIRROR)
    }


def test_the_base_key_follows_the_recipe() -> None:
    recipe = BaseRecipe()
    assert recipe.key() == BaseRecipe().key()
    assert BaseRecipe(include=("python3",)).key() != recipe.key()
    assert BaseRecipe(suite="trixie").key() != recipe.key()
    assert BaseRecipe(runtime_exclude=()).key() != recipe.key()
    build, runtime = recipe.images()
    assert build == f"localhost/replicheck/base-build:{recipe.key()[:16]}"
    assert runtime == f"localhost/replicheck/base-runtime:{recipe.key()[:16]}"


def _storage(tmp_path: Path) -> Storage:
    return Storage(tmp_path / "storage", tmp_path / "run", tmp_path / "config")


def test_bud_uses_its_own_vfs_storage_chroot_and_local_bases_only(tmp_path: Path) -> None:
    storage = _storage(tmp_path)
    bases = ("localhost/replicheck/base-build:k", "localhost/replicheck/base-runtime:k")
    cmd = bud_command(storage, REPLICATOR, tmp_path / "ctx", bases, "localhost/replicheck/replicator:k", None)
    assert cmd[:9] == [
        "buildah",
        "--root",
        str(tmp_path / "storage"),
        "--runroot",
        str(tmp_path / "run"),
        "--storage-driver",
        "vfs",
        "--registries-conf",
        str(tmp_path / "config/registries.conf"),
    ]
    assert cmd[9] == "bud"
    for flag in ("--pull=never", "--layers=false", "--force-rm"):
        assert flag in cmd
    assert cmd[cmd.index("--isolation") + 1] == "chroot"
    assert "BUILD_BASE=localhost/replicheck/base-build:k" in cmd
    assert "RUNTIME_BASE=localhost/replicheck/base-runtime:k" in cmd
    assert not any("PIP_CERT" in a for a in cmd)
    assert "--volume" not in cmd
    assert cmd[-1] == str(tmp_path / "ctx")
    assert cmd[cmd.index("--file") + 1] == str(tmp_path / "ctx" / REPLICATOR.dockerfile)
    # behind a TLS-intercepting proxy: the CA bundle mounted read-only and named to pip
    ca = tmp_path / "ca.crt"
    with_ca = bud_command(storage, REPLICATOR, tmp_path / "ctx", bases, "img", ca)
    assert f"PIP_CERT={PIP_CA_IN_BUILD}" in with_ca
    assert with_ca[with_ca.index("--volume") + 1] == f"{ca}:{PIP_CA_IN_BUILD}:ro"


def test_buildah_reads_our_configuration_not_the_systems(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CONTAINERS_STORAGE_CONF", "/etc/containers/storage.conf")
    monkeypatch.setenv("REGISTRY_AUTH_FILE", "/root/.docker/config.json")
    env = _storage(tmp_path).env(tmp_path / "tmp")
    assert env["CONTAINERS_STORAGE_CONF"] == str(tmp_path / "config/storage.conf")
    assert env["REGISTRY_AUTH_FILE"] == str(tmp_path / "config/auth.json")
    assert env["BUILDAH_ISOLATION"] == "chroot"
    assert env["TMPDIR"] == str(tmp_path / "tmp")
    images.write_config(tmp_path / "config", tmp_path / "storage", tmp_path / "run")
    conf = (tmp_path / "config/storage.conf").read_text()
    assert 'driver = "vfs"' in conf
    assert f'graphroot = "{tmp_path / "storage"}"' in conf
    assert "unqualified-search-registries = []" in (tmp_path / "config/registries.conf").read_text()


def test_push_puts_no_secret_on_the_command_line(tmp_path: Path) -> None:
    built = BuiltImage("replicator", tmp_path / "r.oci.tar", "sha256:" + "a" * 64, "k" * 64, 1.0, False, 1)
    authfile = write_authfile(tmp_path / "auth.json", "127.0.0.1:5000", "replicheck", "s3cret-pw")
    cmd = push_command(
        built,
        "127.0.0.1:5000/replicheck/replicator:t",
        tmp_path,
        tmp_path / "certs",
        authfile,
        tmp_path / "d",
    )
    assert not any("s3cret-pw" in a for a in cmd)
    assert cmd[cmd.index("--dest-authfile") + 1] == str(authfile)
    assert cmd[cmd.index("--dest-cert-dir") + 1] == str(tmp_path / "certs")
    assert cmd[-2:] == [f"oci-archive:{built.archive}", "docker://127.0.0.1:5000/replicheck/replicator:t"]
    assert stat.S_IMODE(authfile.stat().st_mode) == 0o600
    token = json.loads(authfile.read_text())["auths"]["127.0.0.1:5000"]["auth"]
    assert base64.b64decode(token).decode() == "replicheck:s3cret-pw"


def test_a_failed_command_is_one_line_without_the_secret(tmp_path: Path) -> None:
    with pytest.raises(SetupError) as failed:
        images._run(
            ["sh", "-c", "echo 'denied for s3cret-pw' >&2; exit 3"],
            what="skopeo copy",
            log=tmp_path / "log",
            secret="s3cret-pw",  # noqa: S106 (a test value)
        )
    message = str(failed.value)
    assert message.startswith("skopeo copy failed (exit 3): denied for <redacted")
    assert "s3cret-pw" not in message
    assert "\n" not in message
    assert str(tmp_path / "log") in message


def test_pip_cert_comes_from_pip_cert(tmp_path: Path) -> None:
    assert pip_cert_from_env({}) is None
    ca = tmp_path / "ca.crt"
    ca.write_text("x")
    assert pip_cert_from_env({"PIP_CERT": str(ca)}) == ca
    with pytest.raises(SetupError, match=r"PIP_CERT=.* is not a file"):
        pip_cert_from_env({"PIP_CERT": str(tmp_path / "missing")})


def test_missing_programs_and_root_are_one_line_naming_the_fix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REPLICHECK_CACHE", str(tmp_path))
    monkeypatch.setattr(images.os, "geteuid", lambda: 1000)
    with pytest.raises(SetupError, match="needs root"):
        images.build(REPLICATOR)
    monkeypatch.setattr(images.os, "geteuid", lambda: 0)
    monkeypatch.setattr(images.shutil, "which", lambda name: None)
    with pytest.raises(
        SetupError, match=r"buildah not found: install Debian's buildah \(apt-get install -y buildah"
    ):
        images.build(REPLICATOR)
    built = BuiltImage("replicator", tmp_path / "r.oci.tar", "sha256:" + "a" * 64, "k" * 64, 1.0, False, 1)
    with pytest.raises(SetupError, match="skopeo not found"):
        images.push(built, registry=None)  # type: ignore[arg-type]
    assert not (tmp_path / "images/tmp").exists() or not any((tmp_path / "images/tmp").iterdir())


def test_a_cached_archive_is_returned_without_buildah(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REPLICHECK_CACHE", str(tmp_path))
    monkeypatch.setattr(images.shutil, "which", lambda name: None)  # nothing to run: a cache hit needs none
    key = image_key(REPLICATOR, images.DEFAULT_RECIPE.key())
    archive = images._archive_path(REPLICATOR, key)
    archive.parent.mkdir(parents=True)
    archive.write_bytes(b"x" * 10)
    archive.with_suffix(".json").write_text(json.dumps({"digest": "sha256:" + "d" * 64}))
    built = images.build(REPLICATOR)
    assert built.cached
    assert built.digest == "sha256:" + "d" * 64
    assert built.archive == archive
    assert built.build_seconds < 10
    assert built.tag == key[:16]


STATUS = """\
Package: python3
Status: install ok installed
Depends: python3.11 (>= 3.11.2-1~), libpython3-stdlib (= 3.11.2-1+b1)
Pre-Depends: python3-minimal

Package: python3-minimal
Status: install ok installed
Depends: dpkg (>= 1.13.20)

Package: python3.11
Status: install ok installed
Depends: media-types | mime-support, tzdata

Package: libpython3-stdlib
Status: install ok installed
Depends: libc6, awk

Package: libc6
Status: install ok installed
Depends: libgcc-s1

Package: libgcc-s1
Status: install ok installed
Depends: gcc-12-base

Package: gcc-12-base
Status: install ok installed

Package: media-types
Status: install ok installed

Package: tzdata
Status: install ok installed
Depends: debconf (>= 0.5) | debconf-2.0

Package: debconf
Status: install ok installed
Pre-Depends: perl-base (>= 5.20.1-3~)
Provides: debconf-2.0

Package: perl-base
Essential: yes
Status: install ok installed

Package: dpkg
Essential: yes
Status: install ok installed
Depends: tar

Package: mawk
Status: install ok installed
Provides: awk

Package: dash
Essential: yes
Status: install ok installed

Package: removed-one
Status: deinstall ok config-files
"""


def test_the_runtime_closure_leaves_out_essential_packages_and_exclusions() -> None:
    packages = runtime_packages(STATUS, ("python3",), ("debconf", "mawk"))
    assert packages == [
        "gcc-12-base",
        "libc6",
        "libgcc-s1",
        "libpython3-stdlib",
        "media-types",
        "python3",
        "python3-minimal",
        "python3.11",
        "tzdata",
    ]
    # virtual packages through Provides; without the exclusions they come in, Essential ones never
    assert {"debconf", "mawk"} <= set(runtime_packages(STATUS, ("python3",), ()))
    assert not {"dpkg", "perl-base", "dash"} & set(runtime_packages(STATUS, ("python3",), ()))
    with pytest.raises(SetupError, match="lacks removed-one"):
        runtime_packages(STATUS, ("removed-one",), ())


def _fake_debootstrap_root(root: Path) -> None:
    """Merged /usr, python3 and dash with dpkg's lists, docs, apt lists, the host's resolv.conf."""
    for d in (
        "usr/bin",
        "usr/lib/python3.11/__pycache__",
        "usr/share/doc/python3",
        "usr/share/man/man1",
        "var/lib/dpkg/info",
        "var/lib/apt/lists/partial",
        "etc",
        "dev",
        "tmp",
    ):
        (root / d).mkdir(parents=True)
    os.symlink("usr/bin", root / "bin")
    os.symlink("usr/lib", root / "lib")
    (root / "usr/bin/python3.11").write_text("ELF")
    (root / "usr/bin/python3.11").chmod(0o755)
    os.symlink("python3.11", root / "usr/bin/python3")
    (root / "usr/lib/python3.11/os.py").write_text("")
    (root / "usr/lib/python3.11/__pycache__/os.cpython-311.pyc").write_bytes(b"pyc")
    (root / "usr/bin/dash").write_text("ELF")
    os.symlink("dash", root / "usr/bin/sh")
    (root / "usr/share/doc/python3/copyright").write_text("PSF")
    (root / "usr/share/doc/python3/changelog.gz").write_text("log")
    (root / "usr/share/man/man1/python3.1.gz").write_text("man")
    (root / "var/lib/apt/lists/deb.debian.org_Packages").write_text("lists")
    (root / "etc/resolv.conf").write_text("nameserver 10.0.0.1\n")
    (root / "etc/ld.so.cache").write_text("cache")
    (root / "var/lib/dpkg/info/python3:amd64.list").write_text(
        "/.\n/usr\n/usr/bin\n/usr/bin/python3\n/usr/bin/python3.11\n/usr/lib\n/usr/lib/python3.11\n"
        "/usr/lib/python3.11/os.py\n/usr/share/doc/python3/copyright\n/usr/share/doc/python3/changelog.gz\n"
    )
    (root / "var/lib/dpkg/info/dash.list").write_text("/.\n/bin/dash\n/bin/sh\n")
    (root / "var/lib/dpkg/status").write_text(STATUS)
    (root / "usr/lib/x86_64-linux-gnu/gconv").mkdir(parents=True)
    (root / "usr/lib/x86_64-linux-gnu/gconv/UTF-16.so").write_text("ELF")
    (root / "usr/lib/x86_64-linux-gnu/libc.so.6").write_text("ELF")
    (root / "var/lib/dpkg/info/libc6:amd64.list").write_text(
        "/.\n/usr/lib/x86_64-linux-gnu/libc.so.6\n/usr/lib/x86_64-linux-gnu/gconv\n"
        "/usr/lib/x86_64-linux-gnu/gconv/UTF-16.so\n"
    )


def test_trim_keeps_copyright_and_drops_what_a_container_does_not_need(tmp_path: Path) -> None:
    root = tmp_path / "root"
    _fake_debootstrap_root(root)
    trim_root(root)
    assert (root / "usr/share/doc/python3/copyright").exists()
    assert not (root / "usr/share/doc/python3/changelog.gz").exists()
    assert not any((root / "usr/share/man").iterdir())
    assert [p.name for p in (root / "var/lib/apt/lists").iterdir()] == ["partial"]
    assert not (root / "etc/resolv.conf").exists()


def test_the_runtime_root_has_python_and_its_bytecode_no_shell_and_user_65532(tmp_path: Path) -> None:
    source, target = tmp_path / "root", tmp_path / "runtime"
    _fake_debootstrap_root(source)
    trim_root(source)
    assemble_runtime_root(source, target, ["libc6", "python3"])
    assert os.readlink(target / "bin") == "usr/bin"
    assert (target / "bin/python3.11").read_text() == "ELF"  # through the merged-/usr link
    assert os.readlink(target / "usr/bin/python3") == "python3.11"
    assert os.access(target / "usr/bin/python3.11", os.X_OK)
    assert (target / "usr/lib/python3.11/__pycache__/os.cpython-311.pyc").read_bytes() == b"pyc"
    assert (target / "etc/ld.so.cache").exists()
    assert not os.path.lexists(target / "usr/bin/sh")
    assert not os.path.lexists(target / "usr/bin/dash")
    assert "nonroot:x:65532:65532:" in (target / "etc/passwd").read_text()
    assert stat.S_IMODE((target / "tmp").stat().st_mode) == 0o1777
    assert not (target / "usr/share/doc/python3/changelog.gz").exists()
    assert (target / "usr/lib/x86_64-linux-gnu/libc.so.6").exists()
    assert not (target / "usr/lib/x86_64-linux-gnu/gconv").exists()  # CPython has its own codecs
    # what image scanners read: one status paragraph per package, as in the distroless images
    assert sorted(p.name for p in (target / "var/lib/dpkg/status.d").iterdir()) == ["libc6", "python3"]
    assert (target / "var/lib/dpkg/status.d/python3").read_text().startswith("Package: python3\n")


def test_archive_digest_is_the_manifest_digest_of_the_index(tmp_path: Path) -> None:
    archive = tmp_path / "a.oci.tar"
    index = {"schemaVersion": 2, "manifests": [{"digest": "sha256:" + "e" * 64, "size": 1}]}
    with tarfile.open(archive, "w") as tar:
        data = json.dumps(index).encode()
        info = tarfile.TarInfo("index.json")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    assert archive_digest(archive) == "sha256:" + "e" * 64


def test_temporary_directories_are_removed_after_unmounting(tmp_path: Path) -> None:
    tree = tmp_path / "t"
    (tree / "rootfs/proc").mkdir(parents=True)
    images.remove_tree(tree)
    assert not tree.exists()
    images.remove_tree(tree)  # already gone: nothing to do


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("umount"), reason="mounting needs root")
def test_a_mount_left_inside_is_unmounted_not_deleted_through(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep").write_text("precious")
    tree = tmp_path / "t"
    (tree / "rootfs/mnt").mkdir(parents=True)
    subprocess.run(["mount", "--bind", str(outside), str(tree / "rootfs/mnt")], check=True)
    images.remove_tree(tree)
    assert not tree.exists()
    assert (outside / "keep").read_text() == "precious"
