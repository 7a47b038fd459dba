"""Round-trip kustomization edits: only the removed entry (and its end-of-line comment) goes."""

from __future__ import annotations

import pytest

from operator_under_test.consolidate import yamlio


def edit_remove(text: str, index: int) -> str:
    doc = yamlio.load_one(text, "k.yaml")
    yamlio.delete_seq_item(doc, "resources", index)
    return yamlio.dump(doc, text)


BLOCK = """\
# head
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
namespace: cert-manager   # ns
resources:
  # first
  - helmrelease.yaml
  # about creds
  - ./oci-creds.yaml  # eol creds
  # other stuff
  - source.yaml
  - last.yaml
# trailing
patches: []
"""


@pytest.mark.parametrize(
    ("index", "gone"),
    [
        (0, "  - helmrelease.yaml\n"),
        (1, "  - ./oci-creds.yaml  # eol creds\n"),
        (2, "  - source.yaml\n"),
        (3, "  - last.yaml\n"),
    ],
)
def test_delete_keeps_every_other_line(index, gone):
    assert edit_remove(BLOCK, index) == BLOCK.replace(gone, "", 1)


def test_zero_offset_sequences():
    text = "resources:\n- oci-creds.yaml\n- a.yaml\nlabels:\n- pairs:\n    x: y\n"
    assert edit_remove(text, 0) == "resources:\n- a.yaml\nlabels:\n- pairs:\n    x: y\n"


def test_only_item_becomes_empty_list_and_comments_survive():
    text = "kind: Kustomization\nresources:\n  # before\n  - oci-creds.yaml  # x\n  # after\nother: 1\n"
    out = edit_remove(text, 0)
    doc = yamlio.load_one(out, "k.yaml")
    assert doc["resources"] == []
    assert doc["other"] == 1
    assert "# before" in out
    assert "# after" in out
    assert "# x" not in out


def test_flow_sequence():
    text = "resources: [a.yaml, oci-creds.yaml, b.yaml]  # flow\n"
    out = edit_remove(text, 1)
    assert out.startswith("resources: [a.yaml, b.yaml]")
    assert out.rstrip().endswith("# flow")  # ruamel keeps the comment's original column


def test_append_after_last_item_keeps_trailing_comment_below():
    text = "resources:\n  - gotk-sync.yaml  # eol\n# trailing\nlabels: []\n"
    doc = yamlio.load_one(text, "k.yaml")
    yamlio.append_seq_item(doc, "resources", "oci-creds.yaml")
    assert yamlio.dump(doc, text) == (
        "resources:\n  - gotk-sync.yaml  # eol\n  - oci-creds.yaml\n# trailing\nlabels: []\n"
    )


def test_append_creates_missing_resources():
    text = "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n"
    doc = yamlio.load_one(text, "k.yaml")
    yamlio.append_seq_item(doc, "resources", "oci-creds.yaml")
    assert yamlio.load_one(yamlio.dump(doc, text), "k.yaml")["resources"] == ["oci-creds.yaml"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [("a:\n  b: 1\nl:\n  - x\n", (2, 4, 2)), ("a:\n    b: 1\nl:\n- x\n", (4, 2, 0)), ("a: 1\n", (2, 4, 2))],
)
def test_detect_indent(text, expected):
    assert yamlio.detect_indent(text) == expected


def test_broken_yaml_message_names_file_and_line():
    with pytest.raises(
        yamlio.ConsolidationError, match=r"^x/k\.yaml: not valid YAML \(.* at line \d+\); fix the file$"
    ):
        yamlio.load_one("a: 1\nb: [\nc: 2\n", "x/k.yaml")
