""" "Pod Not Running" against an operator deployed by a Flux HelmRelease (chaos/runbooks: the pure
readers in kubectl.py, ``RELEASE_CHECKS`` in checks.py) and where a deployment has no HelmRelease
(the chaos phase): held here on recorded kubectl output, so each fault's step, cause and wording do
not rest on the slow real-nodes test alone (oci/test_runbook_pod_not_running.py). Why: a step judged
from misread output names the wrong cause, and a step reported as impossible everywhere hides that
the OCI phase carries it out."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from chaos.runbooks import checks, kubectl
from chaos.runbooks.base import ALERT, CANNOT_CHECK, NOT_APPLICABLE, OK, PROBLEM, Outcome, Subject
from chaos.runbooks.catalogue import RUNBOOKS
from chaos.runbooks.engine import diagnose, identifying

PULL_401 = (
    'failed to pull and unpack image "127.0.0.1:30906/replicheck/replicator@sha256:19d9510cee62": failed '
    'to resolve reference "127.0.0.1:30906/replicheck/replicator@sha256:19d9510cee62": pulling from host '
    "127.0.0.1:30906 failed with status code [manifests sha256:19d9510cee62]: 401 Unauthorized"
)
USAGE = (
    "usage: python -m operator_under_test.replicator [-h] [--health-port HEALTH_PORT]\n"
    "python -m operator_under_test.replicator: error: unrecognized arguments: --no-such-flag\n"
)


def _pod(name: str, ready: bool, restarts: int = 0, **container: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "creationTimestamp": "2026-12-08T00:29:00Z"},
        "spec": {"nodeName": "rc1-node-1"},
        "status": {
            "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
            "containerStatuses": [{"name": "replicator", "restartCount": restarts, **container}],
        },
    }


def _pods(*pods: dict[str, Any]) -> str:
    return json.dumps({"items": list(pods)})


PULLING = _pod("op-b", False, state={"waiting": {"reason": "ErrImagePull", "message": PULL_401}})
LOOPING = _pod(
    "op-b",
    False,
    1,
    state={"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 10s restarting failed container"}},
    lastState={"terminated": {"reason": "Error", "exitCode": 2}},
)
OOM = _pod(
    "op-b",
    False,
    1,
    state={"waiting": {"reason": "CrashLoopBackOff"}},
    lastState={"terminated": {"reason": "OOMKilled", "exitCode": 137}},
)
SERVING = _pod("op-a", True, state={"running": {}})


# --- the pure readers ---------------------------------------------------------------------------------------


def test_a_refused_pull_is_named_with_the_registrys_answer_and_an_operator_with_no_ready_pod_is_down() -> (
    None
):
    pods = kubectl.pod_facts(_pods(PULLING))
    assert pods[0].waiting_messages == [PULL_401]
    causes, lines = kubectl.pod_problems(pods)
    assert causes == ["image-pull-refused", "operator-down"]
    assert "ErrImagePull (the registry refused the pull secret's credentials)" in lines[0]
    assert lines[0].endswith("401 Unauthorized")  # the tail of the kubelet's message is kept
    assert "no Pod is Ready" in lines


def test_a_crash_loop_and_an_oom_kill_beside_a_serving_pod_are_not_an_operator_down() -> None:
    causes, lines = kubectl.pod_problems(kubectl.pod_facts(_pods(SERVING, LOOPING)))
    assert causes == ["crash-loop"]
    assert lines == ["op-b: CrashLoopBackOff after 1 restart(s), last Error (exit 2)"]
    causes, _ = kubectl.pod_problems(kubectl.pod_facts(_pods(SERVING, OOM)))
    assert causes == ["oom-killed", "crash-loop"]
    assert kubectl.pod_problems(kubectl.pod_facts(_pods(SERVING))) == ([], [])


def test_a_refused_command_line_is_read_from_its_usage_error_and_json_lines_are_not() -> None:
    assert kubectl.command_line_errors(USAGE) == [
        "python -m operator_under_test.replicator: error: unrecognized arguments: --no-such-flag"
    ]
    assert kubectl.command_line_errors('{"msg": "usage: x: error: y"}\nready: error: none') == []


def _release(generation: int = 2, observed: int = 2, **ready: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": "replicator", "namespace": "ops", "generation": generation},
        "status": {
            "conditions": [
                {"type": "Ready", "observedGeneration": observed, **ready},
                {
                    "type": "Remediated",
                    "status": "True",
                    "message": "Helm rollback to previous release succeeded",
                },
            ],
            "history": [
                {"chartVersion": "0.1.0+ce8c161519d0", "status": "deployed"},
                {"chartVersion": "0.1.0+ce8c161519d0", "status": "failed"},
            ],
            "upgradeFailures": 1,
            "lastHandledReconcileAt": "2026-12-08T00:29:16+00:00",
        },
    }


def test_helmrelease_facts_read_its_verdict_history_counters_and_the_reconcile_it_handled() -> None:
    facts = kubectl.helmrelease_facts(json.dumps(_release(status="True", reason="UpgradeSucceeded")))
    assert (facts.name, facts.ready, facts.reason) == ("ops/replicator", "True", "UpgradeSucceeded")
    assert facts.chart_version == "0.1.0"
    assert facts.history == ["0.1.0 deployed", "0.1.0 failed"]
    assert facts.failures == {"failures": 0, "installFailures": 0, "upgradeFailures": 1}
    assert facts.last_handled == "2026-12-08T00:29:16+00:00"
    assert "remediated: Helm rollback to previous release succeeded" in facts.line()
    assert kubectl.release_causes(facts) == []
    stale = kubectl.helmrelease_facts(json.dumps(_release(3, 2, status="True", reason="UpgradeSucceeded")))
    assert (stale.ready, stale.reason) == ("Unknown", "NotObservedYet")  # a verdict on an older spec
    assert kubectl.release_causes(stale) == ["release-not-ready"]


@pytest.mark.parametrize(
    ("message", "causes"),
    [
        (
            "OCIRepository 'flux-system/replicator' is not ready: failed to determine artifact digest: GET "
            "https://127.0.0.1:65058/v2/charts/replicator/manifests/9.9.9: MANIFEST_UNKNOWN: manifest "
            "unknown; unknown tag=9.9.9",
            ["chart-version-missing", "release-not-ready"],
        ),
        (
            "OCIRepository 'svc/service-chart' is not ready: failed to determine artifact digest: GET "
            "https://127.0.0.1:65058/v2/charts/service-chart/manifests/0.1.2: UNAUTHORIZED: authentication "
            "required",
            ["credentials-rejected", "release-not-ready"],
        ),
        ("Running 'upgrade' action with timeout of 40s", ["release-not-ready"]),
        ("chart service-chart@0.1.0+ab401cd4: upgrade failed", ["release-not-ready"]),  # 401 in a digest
    ],
)
def test_a_helmrelease_that_is_not_ready_points_at_what_flux_says(message: str, causes: list[str]) -> None:
    facts = kubectl.helmrelease_facts(
        json.dumps(_release(status="False", reason="SourceNotReady", message=message))
    )
    assert kubectl.release_causes(facts) == causes


# --- the checks on recorded kubectl output ---------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class RecordedSite(checks.ReleaseSite):
    """A release site whose kubectl answers from recorded output: the answer of the longest command
    prefix given ("ERROR ..." for a failed command); the reconcile it is asked for is handled (its
    token reported back in ``lastHandledReconcileAt``) unless ``handles_reconcile`` is off."""

    answers: tuple[tuple[str, str], ...] = ()
    handles_reconcile: bool = True
    asked: dict[str, str] = dataclasses.field(default_factory=dict)

    def run(self, *args: str) -> kubectl.Ran:
        shown = kubectl.shown(args)
        if args[0] == "annotate":
            self.asked["token"] = args[-1].split("=", 1)[1]
            return kubectl.Ran(shown, 0, "annotated", "")
        prefixes = [p for p, _ in self.answers if shown.startswith(p)]
        if not prefixes:
            return kubectl.Ran(shown, 1, "", f"no recorded answer for {shown}")
        text = dict(self.answers)[max(prefixes, key=len)]
        if text.startswith("ERROR "):
            return kubectl.Ran(shown, 1, "", text.removeprefix("ERROR "))
        if self.handles_reconcile and "token" in self.asked and "lastHandledReconcileAt" in text:
            doc = json.loads(text)
            doc["status"]["lastHandledReconcileAt"] = self.asked["token"]
            text = json.dumps(doc)
        return kubectl.Ran(shown, 0, text, "")


def _site(*answers: tuple[str, str], **kw: Any) -> RecordedSite:
    return RecordedSite(
        Path("/runs/rc1/admin.kubeconfig"),
        None,
        "ops",
        "replicator",
        "replicator",
        "app.kubernetes.io/instance=replicator",
        answers=answers,
        **kw,
    )


SUBJECT = Subject("src", "creds-0", "t0")
GET_PODS = "kubectl get pods -n ops -l app.kubernetes.io/instance=replicator -o json"


def test_every_pod_not_running_step_has_a_release_check_and_no_other() -> None:
    assert {s.check for s in RUNBOOKS["Pod Not Running"].steps} == set(checks.RELEASE_CHECKS)


def test_step_1_applies_the_literal_namespace_to_the_releases_pods_and_names_the_refused_pull() -> None:
    site = _site(
        ("kubectl get pods -n reflector-system", "No resources found in reflector-system namespace."),
        ("kubectl get pods -n ops -l app.kubernetes.io/instance=replicator -o wide", "NAME\nop-b"),
        (GET_PODS, _pods(PULLING)),
    )
    outcome = checks.release_pod_status(site, SUBJECT)
    assert outcome.status == PROBLEM
    assert outcome.causes == ["image-pull-refused", "operator-down"]
    assert outcome.evidence.startswith(
        "as written `kubectl get pods -n reflector-system`: 'No resources found"
    )
    assert "applied to the Pods of HelmRelease ops/replicator in ops" in outcome.evidence


def test_step_2_finds_the_bad_flag_in_the_previous_containers_log() -> None:
    site = _site(
        ("kubectl logs -n ops deploy/replicator", '{"ts": "2026-12-08T00:28:00+00:00", "msg": "starting"}'),
        (GET_PODS, _pods(SERVING, LOOPING)),
        ("kubectl logs -n ops op-a", ""),
        ("kubectl logs -n ops op-b", USAGE),
        ("kubectl logs -n ops op-b --previous", USAGE),
    )
    outcome = checks.release_pod_logs(site, SUBJECT)
    assert (outcome.status, outcome.causes) == (PROBLEM, ["bad-flag"])
    assert (
        "op-b --previous: 'python -m operator_under_test.replicator: error: unrecognized" in outcome.evidence
    )
    assert outcome.evidence.startswith("as written: deploy/reflector in reflector-system; applied to")


def test_step_2_cannot_judge_a_log_that_cannot_be_read() -> None:
    waiting = (
        'ERROR Error from server (BadRequest): container "replicator" is waiting to start: '
        "image can't be pulled"
    )
    site = _site(("kubectl logs", waiting), (GET_PODS, _pods(PULLING)))
    outcome = checks.release_pod_logs(site, SUBJECT)
    assert outcome.status == CANNOT_CHECK
    assert "waiting to start: image can't be pulled" in outcome.evidence


def test_step_3_requests_a_reconcile_the_flux_way_and_judges_the_verdict_it_handled() -> None:
    missing = json.dumps(
        _release(
            status="False",
            reason="SourceNotReady",
            message="OCIRepository 'flux-system/replicator' is not ready: MANIFEST_UNKNOWN: "
            "manifest unknown; unknown tag=9.9.9",
        )
    )
    site = _site(
        (
            "kubectl get helmrelease -n reflector-system",
            'ERROR Error from server (NotFound): "reflector" not found',
        ),
        (
            "kubectl get helmrelease -n ops replicator",
            "NAME AGE READY STATUS\nreplicator 3m False OCIRepository",
        ),
        ("kubectl get helmrelease -n ops replicator -o json", missing),
    )
    outcome = checks.release_helmrelease_status(site, SUBJECT)
    assert (outcome.status, outcome.causes) == (PROBLEM, ["chart-version-missing", "release-not-ready"])
    assert "`kubectl annotate --overwrite -n ops helmrelease/replicator reconcile.fluxcd.io/requestedAt=" in (
        outcome.evidence
    )
    assert "and handled in" in outcome.evidence
    assert "applied to the operator's HelmRelease ops/replicator" in outcome.evidence


def test_step_3_says_when_helm_controller_has_not_handled_the_reconcile_yet() -> None:
    busy = json.dumps(_release(status="Unknown", reason="Progressing", message="Running 'upgrade' action"))
    site = _site(
        ("kubectl get helmrelease", "NAME AGE READY STATUS\nreplicator 3m Unknown Running"),
        ("kubectl get helmrelease -n ops replicator -o json", busy),
        handles_reconcile=False,
        reconcile_timeout=0.3,
    )
    outcome = checks.release_helmrelease_status(site, SUBJECT)
    assert (outcome.status, outcome.causes) == (PROBLEM, ["release-not-ready"])
    assert (
        "not handled within 0.3 s (helm-controller finishes the action it is running first)"
        in outcome.evidence
    )


def test_step_4_alerts_on_a_crash_loop_and_not_on_a_pull_back_off() -> None:
    looping = (
        "State: Waiting\n  Reason: CrashLoopBackOff\nRestart Count: 1\n"
        "  Warning BackOff Back-off restarting failed container"
    )
    pulling = (
        "State: Waiting\n  Reason: ImagePullBackOff\nRestart Count: 0\n  Normal BackOff Back-off pulling"
    )
    site = _site(
        (GET_PODS, _pods(SERVING, LOOPING)),
        ("kubectl describe pod -n ops op-b", looping),
        ("kubectl describe pod -n ops op-a", "State: Running\nRestart Count: 0"),
    )
    outcome = checks.release_crash_looping(site, SUBJECT)
    assert (outcome.status, outcome.causes) == (ALERT, ["crash-loop"])
    site = _site((GET_PODS, _pods(PULLING)), ("kubectl describe pod", pulling))
    assert checks.release_crash_looping(site, SUBJECT).status == OK


# --- a deployment without a HelmRelease (the chaos phase) ---------------------------------------------------


def test_without_a_helmrelease_step_3_says_where_it_is_carried_out_instead(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ctx = SimpleNamespace(operator=SimpleNamespace(runs_pods=False), marks={}, runbooks=[])
    outcome = checks.helmrelease_status(ctx, SUBJECT)  # type: ignore[arg-type]
    assert outcome.status == NOT_APPLICABLE
    assert "this deployment has no HelmRelease (the operator runs as local processes" in outcome.evidence
    assert checks.RELEASE_TEST in outcome.evidence
    for name, status, cause in (
        ("pod_status", PROBLEM, "operator-restarted"),
        ("pod_logs", PROBLEM, "operator-restarted"),
        ("crash_looping", OK, None),
    ):
        monkeypatch.setitem(
            checks.CHECKS, name, lambda c, s, st=status, ca=cause: Outcome(st, "recorded", ca)
        )
    result = diagnose(ctx, "Pod Not Running", "operator killed", "operator-restarted", SUBJECT)  # type: ignore[arg-type]
    assert result["identifying_step"] == 1
    assert "step 3 does not apply to this deployment: this deployment has no HelmRelease" in result["finding"]
    assert "oci/test_runbook_pod_not_running.py" in result["finding"]
    assert "cannot be carried out" not in result["finding"]
    assert identifying(result["steps"], "operator-restarted")["step"] == 1


def test_the_chaos_setup_names_where_the_registry_steps_are_carried_out() -> None:
    for check in (checks.credentials_not_expired, checks.registry_accessible):
        outcome = check(None, SUBJECT)  # type: ignore[arg-type]
        assert outcome.status == NOT_APPLICABLE
        assert checks.REGISTRY_TEST in outcome.evidence


def test_pods_installed_with_the_helm_cli_have_no_helmrelease_either(monkeypatch: pytest.MonkeyPatch) -> None:
    from chaos.context import PodOperator

    deployment = SimpleNamespace(
        metadata=SimpleNamespace(
            name="replicheck-replicator",
            labels={"app.kubernetes.io/managed-by": "Helm"},
            annotations={"meta.helm.sh/release-name": "replicheck-replicator"},
        )
    )
    apps = SimpleNamespace(read_namespaced_deployment=lambda name, ns, **_: deployment)
    monkeypatch.setattr(checks.client, "AppsV1Api", lambda api: apps)
    monkeypatch.setattr(PodOperator, "deployment_name", lambda self: "replicheck-replicator")
    operator = PodOperator(SimpleNamespace(api=None), "replicheck-system", "replicheck-replicator")  # type: ignore[arg-type]
    ctx = SimpleNamespace(operator=operator, cluster=SimpleNamespace(api=None), marks={})
    outcome = checks.helmrelease_status(ctx, SUBJECT)  # type: ignore[arg-type]
    assert outcome.status == NOT_APPLICABLE
    assert (
        "the operator runs as Pods of Deployment replicheck-system/replicheck-replicator installed with the "
        "helm CLI (Helm release replicheck-replicator, no Flux)"
    ) in outcome.evidence
