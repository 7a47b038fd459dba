"""Pure parts of the failure-diagnostics plugin (fixtures/plugins/diagnostics.py) and of the suite's
labelling."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from fixtures.core.encoding import b64
from fixtures.core.metrics import metric_value
from fixtures.core.waiting import WaitTimeout, assert_mapping_equal, eventually
from fixtures.plugins.diagnostics import (
    Collected,
    event_line,
    extract_diffs,
    log_offsets,
    object_line,
    read_since,
    redact_object,
    summarize,
)
from fixtures.systems import system
from fixtures.systems.profiles.bundled import SYSTEM as BUNDLED
from fixtures.systems.profiles.reflector import SYSTEM as REFLECTOR
from suites.contract import behaviour, contract_of, outcome_of, reflector_issue

SECRET_VALUE = "hunter2-do-not-print"  # noqa: S105 (a fake value the output must not show)
B64 = b64(SECRET_VALUE)


def test_read_since_returns_only_what_was_appended(tmp_path: Path) -> None:
    log = tmp_path / "op.log"
    log.write_text("before the test\n")
    offsets = log_offsets([str(log), str(tmp_path / "missing.log")])
    assert offsets == {str(log): 16, str(tmp_path / "missing.log"): 0}
    with log.open("a") as fh:
        fh.write('{"msg":"reconciled"}\n')
    assert read_since(str(log), offsets[str(log)]) == '{"msg":"reconciled"}\n'
    assert read_since(str(tmp_path / "missing.log"), 0) == ""


def test_read_since_starts_over_when_the_file_was_replaced_and_caps_the_size(tmp_path: Path) -> None:
    log = tmp_path / "op.log"
    log.write_text("new\n")
    assert read_since(str(log), 1000) == "new\n"
    log.write_text("".join(f"line {i}\n" for i in range(1000)))
    text = read_since(str(log), 0, limit=100)
    assert text.startswith("[... ")
    assert text.endswith("line 999\n")
    assert len(text) < 200


def test_redacted_objects_never_show_values() -> None:
    secret = {
        "kind": "Secret",
        "type": "Opaque",
        "metadata": {
            "name": "creds",
            "namespace": "a",
            "resourceVersion": "42",
            "labels": {"team": "platform"},
            "annotations": {
                "reflector.v1.k8s.emberstack.com/reflects": "src/creds",
                "kubectl.kubernetes.io/last-applied-configuration": f'{{"data":{{"password":"{B64}"}}}}',
            },
        },
        "data": {"password": B64},
        "stringData": {"token": SECRET_VALUE},
    }
    view = redact_object(secret)
    text = repr(view) + object_line(view)
    assert SECRET_VALUE not in text
    assert B64 not in text
    assert view["annotations"]["reflector.v1.k8s.emberstack.com/reflects"] == "src/creds"
    assert view["labels"] == {"team": "platform"}
    assert sorted(view["data"]) == ["password"]
    assert "creds" in object_line(view)
    assert "reflects" in object_line(view)

    configmap = {
        "metadata": {"name": "cm", "namespace": "a"},
        "data": {"k": "v"},
        "binaryData": {"b": "AA=="},
    }
    cm_view = redact_object(configmap)
    assert cm_view["kind"] == "ConfigMap"
    assert set(cm_view) >= {"data", "binaryData"}
    assert "v" not in cm_view["data"].values()


def test_event_lines_are_one_line_each() -> None:
    event = {
        "type": "Warning",
        "reason": "ReflectionConflict",
        "message": "Secret creds already exists\nin namespace taken",
        "count": 3,
        "lastTimestamp": "2026-01-01T00:00:00Z",
        "involvedObject": {"kind": "Secret", "name": "creds"},
    }
    line = event_line(event)
    assert "\n" not in line
    assert line == (
        "2026-01-01T00:00:00Z Warning ReflectionConflict Secret/creds (x3): "
        "Secret creds already exists in namespace taken"
    )


def _failure_text() -> str:
    """What pytest shows for a WaitTimeout raised from an assert_mapping_equal check."""
    try:
        eventually(
            lambda: assert_mapping_equal({"a": {"k": 1}, "b": {"k": 2}}, {"a": {"k": 1}}, "namespace"),
            timeout=0.05,
            interval=0.01,
            description="copies",
        )
    except WaitTimeout as exc:
        body = f"{type(exc).__name__}: {exc}\n\nThe above exception was the direct cause...\n{exc.__cause__}"
        return "\n".join(f"E   {line}" for line in body.splitlines())
    raise AssertionError("expected a timeout")


def test_extract_diffs_finds_each_expected_versus_actual_block_once() -> None:
    diff = extract_diffs(_failure_text())
    assert diff.splitlines()[:3] == ["namespace b:", "--- expected", "+++ actual"]
    assert diff.count("--- expected") == 1  # the chained cause repeats it
    assert '+"<absent>"' in diff
    assert extract_diffs("E   AssertionError: plain") == ""


def test_summary_is_short_and_names_what_was_found() -> None:
    collected = Collected("shared")
    collected.objects["ns-a"] = [
        redact_object({"kind": "Secret", "type": "Opaque", "metadata": {"name": "x"}})
    ]
    collected.objects["ns-b"] = []
    collected.events["ns-a"] = [{"type": "Normal", "reason": "R", "message": "m"}] * 40
    collected.logs["/tmp/op.log"] = "\n".join(f"line {i}" for i in range(100))
    collected.errors.append("namespace gone: 404")
    text = summarize([collected], "--- expected\n+++ actual\n-1\n+2")
    lines = text.splitlines()
    assert lines[0] == "[shared] namespaces: ns-a, ns-b"
    assert "ns-b: no Secrets/ConfigMaps" in text
    assert "events (40, last 15)" in text
    assert "100 lines since the test started, last 25" in text
    assert "line 99" in text
    assert "line 74" not in text
    assert "(diagnostics error: namespace gone: 404)" in text
    assert lines[-1] == "  +2"
    assert len(lines) < 80


def test_metric_values_are_summed_over_matching_labels() -> None:
    text = "\n".join(
        [
            "# HELP replicator_watch_restarts_total watch restarts",
            'replicator_watch_restarts_total{reason="timeout",resource="namespaces"} 3.0',
            'replicator_watch_restarts_total{reason="gone",resource="namespaces"} 1.0',
            'replicator_watch_restarts_total{reason="timeout",resource="secrets"} 2.0',
            "replicator_ready 1.0",
        ]
    )
    assert metric_value(text, "replicator_watch_restarts_total", resource="namespaces", reason="timeout") == 3
    assert metric_value(text, "replicator_watch_restarts_total", resource="namespaces") == 4
    assert metric_value(text, "replicator_ready") == 1
    assert metric_value(text, "replicator_missing") == 0


def test_profiles_list_only_documented_deviations() -> None:
    assert system("bundled") is BUNDLED
    assert set(BUNDLED.deviations) == {"C2.selector"}
    assert {"C12", "C13", "C16", "#672"} <= set(REFLECTOR.deviations)
    assert not set(REFLECTOR.deviations) & set(REFLECTOR.suspected)
    assert BUNDLED.deviation("C7") is None


def test_declaring_replication_in_the_reflector_dialect() -> None:
    prefix = "reflector.v1.k8s.emberstack.com/"
    declared = BUNDLED.annotate(["a", "b"], auto_namespaces=" a ", allowed="TRUE")
    assert declared == {
        prefix + "reflection-allowed": "TRUE",
        prefix + "reflection-allowed-namespaces": "a,b",
        prefix + "reflection-auto-enabled": "true",
        prefix + "reflection-auto-namespaces": " a ",
    }
    assert BUNDLED.annotate(None, auto=False) == {prefix + "reflection-allowed": "true"}
    patch = BUNDLED.vocabulary.redeclare_patch({prefix + "reflection-allowed": "true"})
    assert patch[prefix + "reflection-allowed"] == "true"
    assert patch[prefix + "reflection-auto-enabled"] is None  # removed
    assert BUNDLED.vocabulary.is_auto_copy(
        {prefix + "reflects": "src/x", prefix + "auto-reflects": "True"}, "src", "x"
    )
    assert not BUNDLED.vocabulary.is_auto_copy({prefix + "reflects": "src/x"}, "src", "x")
    assert BUNDLED.private_args(watch_timeout_seconds=2, excluded_namespaces=["a-*", "b"]) == [
        "--no-leader-elect",
        "--watch-timeout-seconds=2",
        "--excluded-namespaces=a-*,b",
    ]


def test_labels_and_outcomes() -> None:
    @behaviour("C7", "source data update")
    def conformance_test() -> None: ...

    @reflector_issue(150, 478, title="later namespaces", key="#150.reconnect")
    def regression_test() -> None: ...

    assert contract_of(conformance_test).key == "C7"
    marks = {m.name for m in conformance_test.pytestmark}
    assert "conformance" in marks
    assert contract_of(regression_test).cid == "#150"
    assert contract_of(regression_test).key == "#150.reconnect"
    assert "regression" in {m.name for m in regression_test.pytestmark}

    def report(outcome: str, **extra: object) -> pytest.TestReport:
        return SimpleNamespace(  # type: ignore[return-value]
            passed=outcome == "passed", skipped=outcome == "skipped", failed=outcome == "failed", **extra
        )

    assert outcome_of(report("passed")) == "pass"
    assert outcome_of(report("skipped", wasxfail="known deviation")) == "known deviation"
    assert outcome_of(report("failed")) == "fail"  # includes XPASS(strict)
    assert outcome_of(report("skipped")) == "skipped"
