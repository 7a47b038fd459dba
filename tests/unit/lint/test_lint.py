"""Unit tests for ``replicheck lint`` (replicheck/lint.py, replicheck/cli.py)."""

from __future__ import annotations

import json
import shutil
import textwrap
from pathlib import Path

import allure
import pytest

from replicheck.cli import main
from replicheck.lint import lint_path

pytestmark = allure.feature("replicheck-lint")

DATA = Path(__file__).resolve().parents[2] / "data"
P = "reflector.v1.k8s.emberstack.com/"


def source(
    namespaces: str | None = "a,b",
    *,
    auto: str | None = "true",
    ns: str = "flux-system",
    allowed: str = "true",
    extra: str = "",
) -> str:
    ann = [f'    {P}reflection-allowed: "{allowed}"']
    if auto is not None:
        ann.append(f'    {P}reflection-auto-enabled: "{auto}"')
    if namespaces is not None:
        ann.append(f'    {P}reflection-allowed-namespaces: "{namespaces}"')
    return textwrap.dedent("""\
        apiVersion: v1
        kind: ConfigMap
        metadata:
          name: src
          namespace: {ns}
          annotations:
        {ann}
        {extra}data:
          k: v
        """).format(ns=ns, ann="\n".join(ann), extra=extra)


def write(tmp_path: Path, name: str, text: str) -> Path:
    p = tmp_path / name
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(text)
    return p


def codes(tmp_path: Path, **kw) -> list[tuple[str, int, str]]:
    return [(f.path, f.line, f.code) for f in lint_path(tmp_path, **kw)]


def test_seed_example_reports_missing_auto_enabled(capsys):
    """The design doc's own source lacks reflection-auto-enabled: Reflector would create no copies."""
    seed = DATA / "seed_oci_creds.yaml"
    code = main(["lint", str(seed)])
    out = capsys.readouterr().out
    assert code == 1
    line = next(ln for ln in out.splitlines() if " RC001 " in ln)
    assert line.startswith(f"{seed}:9: RC001 source 'flux-system/oci-creds' has reflection-allowed but no ")
    assert "reflection-auto-enabled" in line
    assert " RC007 " in out  # and it is a plaintext Secret
    assert "ghp_" not in out  # values are never printed


def test_clean_tree_exits_zero(tmp_path, capsys):
    write(tmp_path, "src.yaml", source("a,b"))
    assert main(["lint", str(tmp_path)]) == 0
    assert capsys.readouterr().out == ""


def test_manual_mirror_silences_rc001(tmp_path):
    write(tmp_path, "src.yaml", source("a", auto=None))
    assert codes(tmp_path) == [("src.yaml", 7, "RC001")]
    write(
        tmp_path,
        "mirror.yaml",
        f"kind: ConfigMap\nmetadata:\n  name: src\n  namespace: a\n"
        f"  annotations:\n    {P}reflects: flux-system/src\n",
    )
    assert codes(tmp_path) == []


def test_own_namespace_in_lists(tmp_path):
    write(
        tmp_path, "src.yaml", source("a,flux-system", extra=f'    {P}reflection-auto-namespaces: "flux-.*"\n')
    )
    assert codes(tmp_path) == [("src.yaml", 9, "RC002"), ("src.yaml", 10, "RC002")]


@pytest.mark.parametrize("value", [None, "", " , "])
def test_missing_or_empty_allowed_list(tmp_path, value):
    write(tmp_path, "src.yaml", source(value))
    assert [c for _, _, c in codes(tmp_path)] == ["RC003"]


@pytest.mark.parametrize(
    ("entry", "code"),
    [
        ("ns-*", "RC004"),
        ("prod*", "RC004"),
        ("*", "RC005"),
        ("a(b", "RC005"),
        ("^ns-.*", None),
        ("team-[0-9]+", None),
    ],
)
def test_glob_and_invalid_regex_entries(tmp_path, entry, code):
    write(tmp_path, "src.yaml", source(f"a,{entry}"))
    assert [c for _, _, c in codes(tmp_path)] == ([code] if code else [])


def test_glob_message_suggests_regex(tmp_path):
    write(tmp_path, "src.yaml", source("ns-*"))
    (finding,) = lint_path(tmp_path)
    assert "did you mean '^ns-.*'" in finding.message


def test_unknown_namespaces_only_when_tree_has_namespaces_or_flag(tmp_path):
    write(tmp_path, "src.yaml", source("a,b,^team-.*"))
    assert codes(tmp_path) == []
    assert codes(tmp_path, check_namespaces=True) == [("src.yaml", 9, "RC006"), ("src.yaml", 9, "RC006")]
    write(
        tmp_path,
        "ns.yaml",
        "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: a\n---\n"
        "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: other\n",
    )
    (finding,) = lint_path(tmp_path)
    assert (finding.code, finding.line) == ("RC006", 9)
    assert "'b'" in finding.message


def test_plaintext_secret_flagged_but_sops_encrypted_and_empty_not(tmp_path):
    write(
        tmp_path, "plain.yaml", "apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\ndata:\n  k: dmFsdWU=\n"
    )
    write(
        tmp_path,
        "enc.yaml",
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\ndata:\n  k: ENC[AES256_GCM,x]\n"
        "sops:\n  mac: ENC[x]\n",
    )
    write(tmp_path, "empty.yaml", "apiVersion: v1\nkind: Secret\nmetadata:\n  name: e\ntype: Opaque\n")
    assert codes(tmp_path) == [("plain.yaml", 5, "RC007")]


def test_multi_document_lines_and_non_yaml_ignored(tmp_path):
    write(tmp_path, "multi.yaml", "kind: ConfigMap\nmetadata:\n  name: x\n---\n" + source("*"))
    write(tmp_path, "notes.txt", "kind: Secret\ndata: {k: v}\n")
    write(tmp_path, "values.json", "{}")
    assert codes(tmp_path) == [("multi.yaml", 13, "RC005")]


def test_unparseable_yaml_is_a_finding_not_a_crash(tmp_path, capsys):
    write(tmp_path, "bad.yaml", "a: [1,\nb: 2\n  c: {\n")
    write(tmp_path, "chart/templates/t.yaml", "metadata:\n  name: {{ .Values.name }}\n  x: {{ if }}\n")
    write(tmp_path, "src.yaml", source("a"))
    assert main(["lint", str(tmp_path)]) == 1
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 1
    assert out[0].startswith("bad.yaml:")
    assert " RC000 unparseable YAML" in out[0]


def test_non_boolean_values(tmp_path):
    write(tmp_path, "src.yaml", source("a", auto="yes"))
    assert [c for _, _, c in codes(tmp_path)] == ["RC001", "RC008"]
    write(tmp_path, "src.yaml", source("a", allowed="1"))
    assert [c for _, _, c in codes(tmp_path)] == ["RC008"]


def test_json_format_and_exit_codes(tmp_path, capsys):
    write(tmp_path, "src.yaml", source("ns-*"))
    assert main(["lint", "--format", "json", str(tmp_path)]) == 1
    data = json.loads(capsys.readouterr().out)
    assert data == [{"path": "src.yaml", "line": 9, "code": "RC004", "message": data[0]["message"]}]
    assert main(["lint", str(tmp_path / "missing")]) == 2
    assert "no such file" in capsys.readouterr().err
    assert main(["lint"]) == 2
    assert main(["bogus"]) == 2


def test_lint_on_consolidated_overlay_is_clean_except_nothing(tmp_path):
    """The annotations the consolidation tool writes pass the lint's Reflector checks."""
    seed = tmp_path / "seed.yaml"
    shutil.copy(DATA / "seed_oci_creds.yaml", seed)
    text = seed.read_text().replace(
        f'    {P}reflection-allowed: "true"\n',
        f'    {P}reflection-allowed: "true"\n    {P}reflection-auto-enabled: "true"\n',
    )
    seed.write_text(text)
    assert [c for _, _, c in codes(tmp_path)] == ["RC007"]
