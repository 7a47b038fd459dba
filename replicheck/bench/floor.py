"""The floor for `make bench`: the same API writes the operator makes, issued by a minimal client.

A propagation figure means little alone on a shared 2-core machine; divided by what the API server
needs for the same writes at the same concurrency, in the same run, it says how much the operator
adds. The client is tools/floor (Go, standard library only: no informer, no planning, warm
HTTP/1.1 keep-alive connections like the operator's pool), built once into the cache keyed by its
source hash, run in the cluster's process group, and authenticated as the operator's
ServiceAccount.
"""

from __future__ import annotations

import json
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fixtures.clusters.binaries import stdlib_go_program
from fixtures.clusters.cluster import Cluster
from fixtures.core.errors import SetupError


def floor_binary() -> Path:
    """tools/floor, built once per source version (seconds: standard library only)."""
    return stdlib_go_program("floor")


@dataclass
class Write:
    method: str
    path: str
    body: dict[str, Any] | list[Any] | None = None
    content_type: str = "application/json"

    def as_json(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "path": self.path,
            "body": self.body,
            "content_type": self.content_type,
        }


class FloorClient:
    """One long-lived floor process: warm connections, then batches of writes on demand."""

    def __init__(self, cluster: Cluster, token: str, concurrency: int) -> None:
        cfg = cluster.api.configuration
        self.proc = subprocess.Popen(
            [str(floor_binary())],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            process_group=cluster.pgid or 0,
        )
        assert self.proc.stdin is not None
        assert self.proc.stdout is not None
        config = {"server": cfg.host, "ca_file": cfg.ssl_ca_cert, "token": token, "concurrency": concurrency}
        self.proc.stdin.write(json.dumps(config) + "\n")
        self.proc.stdin.flush()
        ready = self.proc.stdout.readline().strip()
        if ready != "ready":
            raise SetupError(f"tools/floor did not start (said {ready!r}); see its stderr above")

    def run(self, writes: list[Write]) -> tuple[float, dict[str, Any]]:
        """Send one batch; return (monotonic time just before it was sent, the client's summary)."""
        assert self.proc.stdin is not None
        assert self.proc.stdout is not None
        line = json.dumps({"requests": [w.as_json() for w in writes]}) + "\n"
        t0 = time.monotonic()
        self.proc.stdin.write(line)
        self.proc.stdin.flush()
        result = json.loads(self.proc.stdout.readline())
        bad = {code: n for code, n in result["status"].items() if not code.startswith("2")}
        if bad:
            raise SetupError(f"floor writes failed: {bad} {result.get('errors')}")
        return t0, result

    def close(self) -> None:
        if self.proc.stdin:
            self.proc.stdin.close()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        if self.proc.stdout:
            self.proc.stdout.close()
