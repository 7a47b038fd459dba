"""Seed 000 runbook "Authentication Failure", steps 1-4, executed against the real cluster and
registry for one service namespace:

1. the `oci-creds` Secret exists in the service namespace;
2. its content is valid Docker config JSON with credentials for the registry;
3. the registry accepts those credentials (a login: `GET /v2/` with them over verified TLS);
4. the registry is reachable.

Each step answers pass, fail or "inconclusive" (it could not be judged because something it needs
failed: a login cannot be judged when the registry does not answer). The diagnosis is the first
step that failed; a stopped registry is therefore blamed on step 4, not on the credentials.
Secret values never appear in a result.
"""

from __future__ import annotations

import base64
import json
import socket
import ssl
import urllib.error
from dataclasses import dataclass

from kubernetes import client
from kubernetes.client.rest import ApiException

from fixtures.services.oci_registry import OciRegistry

PASS, FAIL, INCONCLUSIVE = "pass", "fail", "inconclusive"
CREDS = "oci-creds"
STEPS = {
    1: "oci-creds secret exists in the service namespace",
    2: "secret content is valid Docker config JSON for the registry",
    3: "credentials are accepted by the registry (login)",
    4: "OCI registry is reachable",
}


@dataclass(frozen=True)
class StepResult:
    step: int
    outcome: str
    detail: str

    def line(self) -> str:
        return f"step {self.step} ({STEPS[self.step]}): {self.outcome}: {self.detail}"


@dataclass(frozen=True)
class Diagnosis:
    namespace: str
    steps: tuple[StepResult, ...]

    @property
    def failed_step(self) -> int | None:
        return next((s.step for s in self.steps if s.outcome == FAIL), None)

    def summary(self) -> str:
        first = self.failed_step
        head = f"{self.namespace}: " + (f"step {first} failed" if first else "all steps passed")
        return "\n".join([head, *(s.line() for s in self.steps)])


def credentials_for(config_text: str, host: str) -> tuple[str, str]:
    """(username, password) for `host` from a .dockerconfigjson; ValueError naming what is wrong."""
    try:
        doc = json.loads(config_text)
    except ValueError as exc:
        raise ValueError(f"not JSON ({exc.msg} at line {exc.lineno})") from None
    auths = doc.get("auths") if isinstance(doc, dict) else None
    if not isinstance(auths, dict):
        raise ValueError('no "auths" object')
    entry = auths.get(host)
    if not isinstance(entry, dict):
        raise ValueError(f"no entry for registry {host} (entries: {', '.join(sorted(auths)) or 'none'})")
    user, password = entry.get("username"), entry.get("password")
    if not (user and password) and entry.get("auth"):
        try:
            user, _, password = base64.b64decode(entry["auth"]).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            raise ValueError(f'entry for {host}: "auth" is not base64 of user:password') from None
    if not user or not password:
        raise ValueError(f"entry for {host} has no username/password")
    return user, password


def reachable(registry: OciRegistry, timeout: float = 3.0) -> tuple[bool, str]:
    """Step 4: a TLS handshake (verified against the run's CA) and any HTTP answer from /v2/."""
    ctx = ssl.create_default_context(cafile=str(registry.ca_cert))
    try:
        with (
            socket.create_connection(("127.0.0.1", registry.port), timeout=timeout) as sock,
            ctx.wrap_socket(sock, server_hostname="127.0.0.1"),
        ):
            pass
        status = registry.login_status("", "", timeout=timeout)
    except (OSError, urllib.error.URLError) as exc:
        return False, f"{registry.host}: {getattr(exc, 'reason', exc)}"
    return True, f"{registry.host} answered HTTP {status} over verified TLS"


def run(core: client.CoreV1Api, namespace: str, registry: OciRegistry, secret: str = CREDS) -> Diagnosis:
    steps: list[StepResult] = []
    up, up_detail = reachable(registry)
    try:
        obj = core.read_namespaced_secret(secret, namespace)
        steps.append(StepResult(1, PASS, f"{namespace}/{secret} of type {obj.type}"))
    except ApiException as exc:
        if exc.status != 404:
            raise
        obj = None
        steps.append(StepResult(1, FAIL, f"{namespace}/{secret} not found"))
    creds: tuple[str, str] | None = None
    if obj is None:
        steps.append(StepResult(2, INCONCLUSIVE, "no secret to read"))
    else:
        raw = (obj.data or {}).get(".dockerconfigjson")
        if obj.type != "kubernetes.io/dockerconfigjson" or raw is None:
            steps.append(
                StepResult(
                    2, FAIL, f"type {obj.type}, key .dockerconfigjson {'present' if raw else 'missing'}"
                )
            )
        else:
            try:
                creds = credentials_for(base64.b64decode(raw).decode(errors="replace"), registry.host)
                steps.append(StepResult(2, PASS, f"credentials for {registry.host} (user {creds[0]})"))
            except ValueError as exc:
                steps.append(StepResult(2, FAIL, str(exc)))
    if creds is None:
        steps.append(StepResult(3, INCONCLUSIVE, "no credentials to try"))
    elif not up:
        steps.append(StepResult(3, INCONCLUSIVE, "registry did not answer; cannot judge the credentials"))
    else:
        status = registry.login_status(*creds)
        outcome = PASS if status == 200 else FAIL
        steps.append(StepResult(3, outcome, f"login as {creds[0]}: HTTP {status}"))
    steps.append(StepResult(4, PASS if up else FAIL, up_detail))
    return Diagnosis(namespace, tuple(steps))
