"""The README's bring-your-own command judges exactly the system it names.

``make conformance PYTEST_ARGS="--implementation=kubernetes-replicator --implementation-command=…"``
runs ``python -m replicheck.conformance`` with those arguments. Here it runs for real (a local control
plane, the report builder), with a stand-in controller binary of our own behind the
kubernetes-replicator profile: a real program that answers the profile's health endpoint and
replicates nothing. What must hold: the phases that do not apply to it (the bundled operator's own
tests, ConfigMirror's phase, the OCI phase) are n/a and name no system; the verdict is NOT
CERTIFIED with reasons that name kubernetes-replicator, the check and its cause; no reason names
a system that was not selected. ``-k`` narrows every phase to one neutral scenario (N1) so the
run takes about a minute; the runner's own reports go to a temporary directory
(REPLICHECK_REPORTS), not over this run's.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

from fixtures.core.paths import REPO_ROOT

#: a controller that starts, says it is healthy and ready on the profile's -status-addr, and does
#: nothing else until it is stopped
STAND_IN = """
import http.server, signal, sys
addr = next(a.split("=", 1)[1] for a in sys.argv[1:] if a.startswith("-status-addr="))
host, port = addr.rsplit(":", 1)
class Health(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200 if self.path in ("/healthz", "/readyz") else 404)
        self.end_headers()
        self.wfile.write(b"ok")
    def log_message(self, *args):
        pass
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
http.server.HTTPServer((host, int(port)), Health).serve_forever()
"""


def test_the_readme_bring_your_own_command_judges_exactly_the_selected_system(tmp_path: Path) -> None:
    binary = tmp_path / "kubernetes-replicator"
    binary.write_text(f"#!{sys.executable}\n{STAND_IN}")
    binary.chmod(binary.stat().st_mode | stat.S_IXUSR)
    reports = tmp_path / "reports"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("REPLICHECK_IMPLEMENTATION", "PYTEST_"))}
    env |= {"REPLICHECK_REPORTS": str(reports), "REPLICHECK_RECORDS": str(reports / "records")}
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "replicheck.conformance",
            "--implementation=kubernetes-replicator",
            f"--implementation-command={binary}",
            "--cluster=local",
            "-k",
            "test_copy_equals_source",
        ],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    out = proc.stdout + proc.stderr
    doc = json.loads((reports / "certification.json").read_text())

    assert proc.returncode == 1, out[-3000:]
    assert doc["verdict"] == "NOT CERTIFIED", doc["reasons"]
    assert doc["headline"].startswith("NOT CERTIFIED: kubernetes-replicator: N1"), doc["headline"]
    reasons = doc["reasons"]
    assert {r["system"] for r in reasons} <= {"kubernetes-replicator", None}, reasons
    assert not any(name in json.dumps(reasons) for name in ("configmirror", "bundled")), reasons
    n1 = next(r for r in reasons if r["check"].startswith("N1"))
    assert n1["outcome"] == "NOT CERTIFIED"
    assert n1["cause"]  # the assertion's own first line
    not_run = [
        json.loads(line)
        for path in (reports / "records").glob("*.jsonl")
        for line in path.read_text().splitlines()
        if '"not_run"' in line
    ]
    assert sorted(r["phase"] for r in not_run) == [
        "ConfigMirror (CRD-driven, with PostgreSQL)",
        "OCI credentials end to end",
        "bundled operator: runtime and packaging",
    ]
    assert out.count("not run: none of the selected systems (kubernetes-replicator)") == 3, out[-3000:]
