"""Bring your own controller, against a real local control plane: a controller that never becomes
ready, or keeps crashing, is one line and leaves nothing running (no process, no RBAC).

The "controller" is a real program that behaves like a broken one: this Python sleeping without a
health endpoint, and this Python exiting at once. Running kubernetes-replicator itself needs the
user's binary (tests/byo/).
"""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException

from fixtures.clusters.local import LocalControlPlane
from fixtures.clusters.procs import pid_alive
from fixtures.core.errors import SetupError
from fixtures.core.waiting import eventually
from fixtures.systems.packaging import UserBinary

MANIFEST = """
apiVersion: v1
kind: Namespace
metadata: {name: broken-controller}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: broken, namespace: broken-controller}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: replicheck-broken-controller}
rules: [{apiGroups: [""], resources: ["namespaces"], verbs: ["list"]}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: broken, namespace: broken-controller}
spec:
  template:
    spec:
      serviceAccountName: broken
      containers: [{name: broken, command: ["broken"], args: []}]
"""


def _python(code: str) -> str:
    return shlex.join([sys.executable, "-c", code])


def test_a_controller_never_ready_or_crashing_is_one_line_and_nothing_is_left(
    private_control_plane: LocalControlPlane, tmp_path: Path
) -> None:
    cluster = private_control_plane.cluster()
    rbac = client.RbacAuthorizationV1Api(cluster.api)
    cases = {
        "silent": (_python("import time; time.sleep(600)"), "not ready within 6s; see "),
        "crashing": (_python("raise SystemExit(3)"), "(restarted "),
    }
    for label, (command, expected) in cases.items():
        manifest = tmp_path / f"{label}.yaml"
        manifest.write_text(MANIFEST.replace("broken-controller", f"broken-{label}"))
        controller = UserBinary(
            program="broken", manifest=manifest, health_arg="--health={port}", ready_timeout=6
        )
        started: list[int] = []
        with pytest.raises(SetupError) as err:
            controller.bound(command).deploy(cluster, tmp_path / label)
        line = str(err.value)
        assert "\n" not in line
        assert expected in line, line
        if label == "crashing":
            assert "last exit codes [3" in line, line
        state_files = sorted((tmp_path / label).glob("*.state.json"))
        assert state_files, "no replica was started"
        for path in state_files:
            state = json.loads(path.read_text())
            started += [state[k] for k in ("supervisor_pid", "child_pid") if state.get(k)]
        assert started
        assert not [pid for pid in started if pid_alive(pid)], f"{label}: still running: {started}"

        def rbac_gone(label: str = label) -> None:
            try:
                rbac.read_cluster_role(f"replicheck-broken-{label}")
            except ApiException as exc:
                assert exc.status == 404
                return
            raise AssertionError("the ClusterRole is still there")

        eventually(rbac_gone, timeout=30, description=f"{label}: the profile's RBAC removed")
    cluster.close()
