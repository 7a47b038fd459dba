"""Evaluating allowed-list entries the way a reader of a runbook would: each pattern in a child process
with a deadline, because a pattern taken from a Secret may backtrack catastrophically."""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import time

# The child says "ready" once its interpreter runs: the deadline is for the patterns, not for
# starting Python, which on a loaded machine alone can take longer than a pattern's budget.
STARTUP_S = 60.0

_MATCH = """
import json, re, sys
name, patterns = sys.argv[1], json.loads(sys.argv[2])
print("ready", flush=True)
for pattern in patterns:
    try:
        rx = re.compile(pattern)
    except re.error as exc:
        print("invalid:" + str(exc), flush=True)
        continue
    print("match" if rx.fullmatch(name) else "nomatch", flush=True)
"""


class _Lines:
    """Lines of a child's stdout, each awaited until a deadline (select on the raw pipe)."""

    def __init__(self, proc: subprocess.Popen[bytes]) -> None:
        assert proc.stdout is not None
        self.fd = proc.stdout.fileno()
        self.buf = b""

    def next(self, deadline: float) -> str | None:
        while b"\n" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self.fd], [], [], left)[0]:
                return None
            chunk = os.read(self.fd, 4096)
            if not chunk:
                return None  # the child exited
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return line.decode()


def regex_verdicts(patterns: list[str], name: str, timeout_s: float = 3.0) -> dict[str, str]:
    """Per pattern ``match`` / ``nomatch`` / ``invalid:<why>`` / ``timeout``, evaluated in a child
    process with a deadline: a pattern taken from a Secret may backtrack catastrophically."""
    if not patterns:
        return {}
    cmd = [sys.executable, "-c", _MATCH, name, json.dumps(patterns)]
    lines: list[str] = []
    with subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL) as proc:
        try:
            out = _Lines(proc)
            if out.next(time.monotonic() + STARTUP_S) != "ready":
                raise RuntimeError(f"pattern evaluator did not start within {STARTUP_S:.0f}s")
            deadline = time.monotonic() + timeout_s
            while len(lines) < len(patterns):
                line = out.next(deadline)
                if line is None:
                    lines.append("timeout")  # the pattern after the last answer is the slow one
                    break
                lines.append(line)
        finally:
            proc.kill()
    verdicts = dict(zip(patterns, lines, strict=False))
    for p in patterns[len(lines) :]:
        verdicts[p] = "not-evaluated"  # after a slow pattern
    return verdicts


def regex_verdict(pattern: str, name: str, timeout_s: float = 3.0) -> str:
    return regex_verdicts([pattern], name, timeout_s)[pattern]
