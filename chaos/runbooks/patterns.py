"""Evaluating allowed-list entries the way a reader of a runbook would: each pattern in a child process
with a deadline, because a pattern taken from a Secret may backtrack catastrophically."""

from __future__ import annotations

import json
import subprocess
import sys

_MATCH = """
import json, re, sys
name, patterns = sys.argv[1], json.loads(sys.argv[2])
for pattern in patterns:
    try:
        rx = re.compile(pattern)
    except re.error as exc:
        print("invalid:" + str(exc), flush=True)
        continue
    print("match" if rx.fullmatch(name) else "nomatch", flush=True)
"""


def regex_verdicts(patterns: list[str], name: str, timeout_s: float = 3.0) -> dict[str, str]:
    """Per pattern ``match`` / ``nomatch`` / ``invalid:<why>`` / ``timeout``, evaluated in a child
    process with a deadline: a pattern taken from a Secret may backtrack catastrophically."""
    if not patterns:
        return {}
    cmd = [sys.executable, "-c", _MATCH, name, json.dumps(patterns)]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s)
        lines = proc.stdout.splitlines()
    except subprocess.TimeoutExpired as exc:
        out = exc.stdout or b""
        lines = (out.decode() if isinstance(out, bytes) else out).splitlines()
        lines.append("timeout")  # the pattern after the last answer is the slow one
    verdicts = dict(zip(patterns, lines, strict=False))
    for p in patterns[len(lines) :]:
        verdicts[p] = "not-evaluated"  # after a slow pattern
    return verdicts


def regex_verdict(pattern: str, name: str, timeout_s: float = 3.0) -> str:
    return regex_verdicts([pattern], name, timeout_s)[pattern]
