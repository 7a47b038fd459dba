"""The pure parts of the build's progress display: durations, estimates, steps, the last error line."""

from __future__ import annotations

from pathlib import Path

import pytest

from replicheck import build_progress as bp


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0, "0s"), (41.6, "42s"), (60, "1m00s"), (185, "3m05s"), (3720, "1h02m"), (-3, "0s")],
)
def test_durations_read_compactly(seconds: float, text: str) -> None:
    assert bp.format_duration(seconds) == text


def test_estimate_says_when_a_step_takes_longer_than_usual() -> None:
    assert bp.estimate_text(130, 450) == "2m10s of ~7m30s"
    assert bp.estimate_text(542, 450) == "9m02s (estimate ~7m30s, taking longer)"
    assert bp.estimate_text(12, None) == "12s"


def test_estimates_prefer_this_machines_last_build() -> None:
    est = bp.estimates({"kube-build": 600.0, "unknown": 3.0})
    assert est["kube-build"] == 600.0
    assert est["etcd-build"] == bp.BY_KEY["etcd-build"].typical_s
    assert set(est) == {s.key for s in bp.STEPS}
    assert bp.remaining_s("etcd-download", 5, est) == est["etcd-download"] - 5 + est["etcd-build"]
    assert bp.remaining_s("etcd-build", 10_000, est) == 0


@pytest.mark.parametrize(
    ("cmdline", "cwd", "step"),
    [
        (["go", "mod", "download", "-json", "k8s.io/kubernetes@v1.37.1"], "/repo", "resolve"),
        (["go", "mod", "download"], "/repo/tools/kube", "kube-download"),
        (["/usr/local/go/bin/go", "build", "-trimpath", "-o", "x/"], "/repo/tools/kube", "kube-build"),
        (["go", "mod", "download"], "/repo/tools/etcd", "etcd-download"),
        (["go", "build", "-o", "etcd"], "/repo/tools/etcd/", "etcd-build"),
        (["flock", "9"], "/repo", "wait"),
        (["go", "version"], "/repo", None),
        (["bash", "tools/build-binaries.sh"], "/repo", None),
        ([], "/", None),
    ],
)
def test_the_step_is_read_from_the_scripts_child_processes(
    cmdline: list[str], cwd: str, step: str | None
) -> None:
    assert bp.step_of(cmdline, cwd) == step


def test_last_error_line_of_a_failed_go_build() -> None:
    log = (
        "== 2026-12-02T09:33:00Z go go1.26.8 k8s v1.37.1 etcd v3.6.16\n"
        "go: downloading k8s.io/api v0.37.1\n"
        "# k8s.io/kubernetes/pkg/kubelet\n"
        "../pkg/kubelet/kubelet.go:120:2: undefined: newThing\n"
        "note: module requires Go 1.26\n"
        "\n"
    )
    assert bp.last_error_line(log) == "../pkg/kubelet/kubelet.go:120:2: undefined: newThing"
    assert bp.last_error_line(
        "go: downloading a\ngo: k8s.io/x@v1: verifying module: checksum mismatch\n"
    ) == ("go: k8s.io/x@v1: verifying module: checksum mismatch")
    assert bp.last_error_line("compile: signal: killed\nlast words\n") == "compile: signal: killed"
    assert bp.last_error_line("plain\nlast words\n") == "last words"
    assert bp.last_error_line("") == "(the build log is empty)"


def test_the_log_path_is_found_in_the_scripts_lines() -> None:
    line = "building control-plane binaries v1.37.1 (first time on this machine; log: /c/build-k.log)"
    assert bp.LOG_PATH.search(line).group(1) == "/c/build-k.log"
    failed = "error: building control-plane binaries failed; see the build log /c/build-k.log"
    assert bp.LOG_PATH.search(failed).group(1) == "/c/build-k.log"


def test_a_tools_progress_counts_the_packages_its_last_build_compiled() -> None:
    log = "\n".join(
        [
            "== 2026-12-01T10:00:00Z go go1.26.8 example.com/old v1",
            "example.com/old/pkg",
            "== 2026-12-07T20:30:00Z go go1.26.8 github.com/external-secrets/external-secrets v0.16.2",
            "go: downloading k8s.io/api v0.32.3",
            "internal/goarch",
            "k8s.io/api/core/v1",
            "# k8s.io/broken",
            "broken.go:3:1: syntax error: unexpected }",
            "github.com/external-secrets/external-secrets",
        ]
    )
    assert bp.compiled_packages(log) == 3
    assert bp.compiled_packages("") == 0
    line = bp.tool_line("external-secrets", 130, 420, 812, 2016)
    assert line == "external-secrets: 812 of ~2016 packages · 2m10s of ~7m00s"
    assert bp.tool_line("registry", 5, None, 3, None) == "registry: 3 packages · 5s"


def test_a_tools_estimate_is_this_machines_last_build(tmp_path: Path) -> None:
    assert bp.tool_estimate("external-secrets", tmp_path) == bp.TOOL_TYPICAL_S["external-secrets"]
    built = tmp_path / "bin" / "external-secrets-v0.16.2_go1.26.8_abc" / "BUILD_INFO"
    built.parent.mkdir(parents=True)
    built.write_text("build_seconds=302\n")
    assert bp.tool_estimate("external-secrets", tmp_path) == 302.0
    assert bp.tool_estimate("unknown-tool", tmp_path) is None
