"""The report says how each system ran: one row per system and way, the run's registry left out."""

from __future__ import annotations

from reports import build


def _rec(system: str, runs_as: str, port: int, digest: str = "sha256:ab") -> dict:
    return {
        "kind": "system_deployment",
        "system": system,
        "runs_as": runs_as,
        "provider": "local",
        "nodes": 2 if runs_as == "helm" else 0,
        "image": f"127.0.0.1:{port}/replicheck/{system}@{digest}" if runs_as == "helm" else "",
        "image_digest": digest if runs_as == "helm" else "",
        "chart": f"{system}-0.1.0" if runs_as == "helm" else "",
    }


def test_one_row_per_system_and_way_whatever_registry_each_phase_had() -> None:
    records = [
        _rec("bundled", "helm", 5000),
        _rec("bundled", "helm", 6000),
        _rec("configmirror", "processes", 0),
    ]
    rows = build.Report({}, [], records, 0, []).deployments()
    assert [(r["system"], r["runs_as"], r["image"]) for r in rows] == [
        ("bundled", "helm", "replicheck/bundled@sha256:ab"),
        ("configmirror", "processes", ""),
    ]
    text = "\n".join(build.render_deployments(rows))
    assert "| bundled | Pods (Helm chart) | local | 2 |" in text
    assert "| configmirror | local processes | local | 0 | — | — |" in text


def test_no_deployment_records_no_section() -> None:
    assert build.render_deployments(build.Report({}, [], [], 0, []).deployments()) == []
