"""The "Authentication Failure" runbook (seed 000, the catalogue's steps, oci/runbook.py) executed for
real: each injected fault is identified by the right step (the first step that finds a problem, and
the one pointing at the injected cause), and Flux's own OCIRepository status agrees that pulls fail."""

from __future__ import annotations

import json
import secrets
import time

import allure
import pytest
from kubernetes import client

from chaos.runbooks.base import CANNOT_CHECK, OK, REMEDY
from fixtures.core.record import record
from fixtures.core.waiting import eventually
from fixtures.services import flux
from oci import runbook
from oci.path import AUTH_FAILURE_WORDS, INTERVAL, GitOpsPath
from oci.stack import OciStack

pytestmark = [pytest.mark.cluster]

FLUX_SEES = 30.0  # an OCIRepository reconciles every INTERVAL s; its verdict follows well inside this


def _fails_with(path: GitOpsPath, namespace: str, words: tuple[str, ...]) -> str:
    def check() -> str:
        obj = path.source(namespace)
        cond = flux.ready_condition(obj)
        assert cond.get("status") == "False", flux.describe(obj)
        assert any(w in cond.get("message", "").lower() for w in words), flux.describe(obj)
        return flux.describe(obj)

    return eventually(check, timeout=FLUX_SEES, description=f"Flux to report {words} in {namespace}")


def _secret(core: client.CoreV1Api, namespace: str, config_text: str) -> None:
    core.create_namespaced_secret(
        namespace,
        client.V1Secret(
            metadata=client.V1ObjectMeta(name="oci-creds"),
            type="kubernetes.io/dockerconfigjson",
            string_data={".dockerconfigjson": config_text},
        ),
    )


@allure.feature("reflector-deployment")
@allure.story("Runbook: Authentication Failure")
def test_runbook_steps_identify_each_injected_fault(oci_stack: OciStack) -> None:
    # Setup: two services through the real path, authenticated; two namespaces outside the list.
    cluster, registry = oci_stack.started()
    services = [cluster.create_namespace(f"rb{i}") for i in range(2)]
    path = GitOpsPath(oci_stack, oci_stack.run_dir / "gitops-runbook")
    version = path.bring_up(services)
    healthy = runbook.run(cluster.core, services[0], registry)
    assert healthy.first_problem_step is None, healthy.summary()
    assert [s["status"] for s in healthy.steps] == [OK, OK, OK, OK, REMEDY], healthy.summary()
    results: dict[str, int | None] = {}
    diagnoses: dict[str, runbook.Diagnosis] = {}

    def diagnose(fault: str, cause: str, namespace: str) -> runbook.Diagnosis:
        diagnosis = diagnoses[fault] = runbook.run(cluster.core, namespace, registry)
        results[fault] = diagnosis.identifying_step(cause)
        return diagnosis

    # Fault: the Secret is missing in one namespace (a service namespace not in the allowed list).
    missing = cluster.create_namespace("rbmissing")
    path.add_source(missing)
    diagnosis = diagnose("secret missing", "missing-copy", missing)
    assert diagnosis.first_problem_step == 1, diagnosis.summary()
    assert results["secret missing"] == 1, diagnosis.summary()
    _fails_with(path, missing, ("not found",))

    # Fault: valid JSON but no usable credentials for this registry (the API server itself rejects
    # a dockerconfigjson Secret that is not JSON at all).
    malformed = cluster.create_namespace("rbmalformed")
    _secret(cluster.core, malformed, json.dumps({"auths": {registry.host: {"auth": "not base64!"}}}))
    path.add_source(malformed)
    diagnosis = diagnose("malformed dockerconfigjson", "corrupt-copy", malformed)
    assert diagnosis.first_problem_step == 2, diagnosis.summary()
    assert results["malformed dockerconfigjson"] == 2, diagnosis.summary()

    # Fault: wrong password (the registry's password changed, the Secret did not).
    good = registry.password
    registry.set_password(secrets.token_urlsafe(18))
    try:
        diagnosis = diagnose("wrong password", "credentials-rejected", services[0])
        assert diagnosis.first_problem_step == 3, diagnosis.summary()
        assert results["wrong password"] == 3, diagnosis.summary()
        flux_line = _fails_with(path, services[0], AUTH_FAILURE_WORDS)
    finally:
        registry.set_password(good)
    allure.attach(flux_line, "Flux on wrong password", allure.attachment_type.TEXT)

    # Fault: the registry is stopped.
    registry.stop()
    try:
        diagnosis = diagnose("registry stopped", "registry-unreachable", services[0])
        assert diagnosis.first_problem_step == 4, diagnosis.summary()
        assert results["registry stopped"] == 4, diagnosis.summary()
        assert diagnosis.status(3) == CANNOT_CHECK, diagnosis.summary()
        _fails_with(path, services[0], ("connection refused", "connect:"))
    finally:
        registry.restart()

    # Recovery: with the fault gone every service authenticates again (a new chart proves a new pull).
    version = path.push_chart()
    path.wait_authenticated(services, version, timeout=60 + 3 * INTERVAL, since=time.monotonic())
    allure.attach(
        "\n\n".join(f"{fault}\n{d.summary()}" for fault, d in diagnoses.items()),
        "runbook: Authentication Failure (no secret values)",
        allure.attachment_type.TEXT,
    )
    record("oci_runbook", runbook=runbook.TITLE, identified=results)
