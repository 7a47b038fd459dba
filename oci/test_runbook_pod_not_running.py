"""Seed 000's runbooks end to end against HelmReleases (issue 25): "Pod Not Running" against the
operator under test deployed the seed's way, by a Flux HelmRelease of its chart from the run's OCI
registry on real nodes, and "Authentication Failure" where its trigger starts: a service's
HelmRelease failing with an authentication error.

Setup (once for the module): the nodes' OCI stack; the consolidated credentials through git; the
operator's HelmRelease (one replica: RollingUpdate with maxUnavailable 0 keeps the old Pod serving
while a bad upgrade's Pod fails; helm's wait set to ``FAULT_WAIT`` so a failed upgrade is judged,
and remediated by Flux, within the test); a service namespace with its HelmRelease; a workload whose
copy shows the operator serves.

"Pod Not Running": each fault injected, every step carried out with the real kubectl
(``RELEASE_CHECKS``: ``get pods``, ``logs deploy/<release>`` with ``--previous`` where a container
restarted, ``get helmrelease`` with a reconcile requested the Flux way and its Ready condition
judged, ``describe pod`` for the crash-loop alert), the runbook's ``reflector-system/reflector``
applied to the operator's namespace and release, then the remedy applied and service restored (its
HelmRelease Ready, its Pod Ready, a copy propagating):

a) image pull refused: the image registry's password rotated away from the pull secret, a Pod
   restarted with ``imagePullPolicy: Always`` (set through the release's values); remedy: the pull
   secret rotated to the registry's current credentials (the registry's recorded password and the
   harness's pull secret are put back afterwards, so later deliveries to this cluster work; the
   operator keeps ``Always``, so every later Pod's pull shows they are);
b) crash loop: a flag the program does not know, through the release's ``extraArgs``; remedy: revert;
c) OOM: a memory limit the program cannot start under, through the release's ``resources``; remedy:
   revert;
d) a chart version that does not exist: the chart source's tag set to one the registry does not
   hold (then ``flux reconcile`` of the release, as after any chart bump); remedy: revert, and
   ``flux reconcile`` again.

Flux retries and remediates a failed upgrade on its own (rollback): what it did is recorded in its
own words (its Events on the HelmRelease, its Ready line, the release history).

"Authentication Failure": the registry's password rotated, a chart version pushed with it, the
service's chart source bumped to that version before git has the new credentials: its HelmRelease
fails with the registry's 401; the runbook's steps (``OCI_CHECKS``) identify it; the remedy, the
rotation committed through git, gets the HelmRelease Ready at the new version.

Records: ``runbook`` (one per fault, ``experiment`` ``oci-helmrelease``), ``oci_runbook``.
"""

from __future__ import annotations

import dataclasses
import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import allure
import pytest
import yaml

from chaos.journal import find_leaks
from chaos.runbooks.base import OK, REMEDY, Subject
from chaos.runbooks.checks import ReleaseSite
from chaos.workload import Workload
from fixtures.clusters.workloads import Deployment
from fixtures.core.record import record
from fixtures.core.waiting import WaitTimeout, eventually
from fixtures.services import flux
from fixtures.services.flux import FLUX_NS
from fixtures.systems.delivery import PULL_SECRET, cluster_registry, ensure_pull_secret, pull_secret_manifest
from fixtures.systems.helmrelease import is_released, released_version
from fixtures.systems.packaging import PythonPackage
from oci import runbook
from oci.path import AUTH_FAILURE_WORDS, INTERVAL, GitOpsPath
from oci.releases import Releases
from oci.stack import OciStack

pytestmark = [pytest.mark.cluster, pytest.mark.slow]  # about 4 min with its stack: make conformance

#: helm's wait for the operator's Pods in an upgrade (deploy_by_release: 180 s): long enough for a good
#: upgrade on a loaded machine and for the runbook to run before Flux rolls a bad one back (measured
#: on a loaded 2-core machine: a bad upgrade's Pod fails and the steps are carried out within 9-21 s),
#: short enough that the remedy, which Flux applies only once that wait is over, restores service
#: within a minute
FAULT_WAIT = "35s"
SLO = 60.0  # seed: a HelmRelease Ready within 60 s
SHOWS = 60.0  # a fault shows where the runbook looks (a Pod's state, Flux's status)
RESTORES = 120.0  # remedy → service: at most Flux's wait plus a rollback, or the kubelet's pull back-off
DURING = 5.0  # how long a copy may take while a fault is on before the service counts as down (~0.2 s)
BAD_FLAG = "--no-such-flag"
OOM_LIMIT = "20Mi"  # below what the program needs to import its client: killed at every start
TIGHT = {"memory": OOM_LIMIT}  # the request too: a request above the limit is refused by the API
MISSING_TAG = "9.9.9"


@dataclass
class Released:
    """The module's setup: the GitOps path, the operator's HelmRelease, a service's, a workload."""

    path: GitOpsPath
    releases: Releases
    operator: Deployment
    site: ReleaseSite
    baseline: dict[str, Any]
    chart_source: str  # the operator chart's OCIRepository in flux-system
    chart_version: str
    workload: Workload
    service: str
    records: list[dict[str, Any]] = field(default_factory=list)
    #: every password this module sets: none may appear in a record (plain or base64)
    canaries: set[str] = field(default_factory=set)

    def password(self) -> str:
        value = secrets.token_urlsafe(18)
        self.canaries.add(value)
        return value

    @property
    def cluster(self):
        return self.path.cluster

    @property
    def subject(self) -> Subject:
        wl = self.workload
        return Subject(wl.source_ns, wl.sources[0], wl.targets[0])

    def release(self) -> dict | None:
        return self.releases.release(self.operator.namespace, self.operator.release)

    def set_values(self, values: dict[str, Any]) -> None:
        self.releases.set_values(self.operator.namespace, self.operator.release, values)

    def pods(self) -> list[Any]:
        core, site = self.cluster.core, self.site
        items = core.list_namespaced_pod(site.namespace, label_selector=site.selector).items
        return [p for p in items if p.metadata.deletion_timestamp is None]

    def serving(self) -> str:
        """Its HelmRelease Ready (current generation) at the chart version, one Pod, Ready."""
        obj = self.release()
        assert is_released(obj, self.chart_version), flux.describe(obj)
        pods = self.pods()
        ready = [p.metadata.name for p in pods if _ready(p)]
        assert len(pods) == 1, f"Pods {[p.metadata.name for p in pods]}, Ready {ready}"
        assert ready, f"Pods {[p.metadata.name for p in pods]}, Ready {ready}"
        return flux.describe(obj)

    def propagates(self, timeout: float) -> float:
        """A new value on the source reaches the copy (digests compared): seconds, or WaitTimeout."""
        t0 = time.monotonic()
        self.workload.update_sources()

        def current() -> None:
            state = self.workload.consistency()
            assert state["ok"], state

        eventually(current, timeout=timeout, interval=0.2, description="the copy to follow its source")
        return time.monotonic() - t0

    def restored(self, since: float) -> float:
        """Service again: serving, and a copy propagating; seconds since ``since`` (monotonic)."""
        eventually(self.serving, timeout=RESTORES, interval=0.5, description="the operator serving again")
        self.propagates(SLO)
        return time.monotonic() - since

    def during(self) -> str:
        """Does a copy still propagate while the fault is on?"""
        try:
            return f"a copy propagated during the fault ({self.propagates(DURING):.1f} s)"
        except WaitTimeout:
            return f"no copy propagated during the fault within {DURING:g} s (the operator was down)"

    def flux_did(self, before: dict[str, int]) -> str:
        """What Flux did about the operator's HelmRelease since its Events were ``before``, in its own
        words: its Ready line, the release history and its Events."""
        ns, name = self.operator.namespace, self.operator.release
        obj = self.release()
        history = [
            f"{str(h.get('chartVersion', '')).split('+', 1)[0]} {h.get('status', '')}"
            for h in ((obj or {}).get("status") or {}).get("history") or []
        ][:4]
        events = self.releases.events(ns, name, before)
        return (
            f"Flux: {flux.describe(obj)}; history (newest first) {', '.join(history)}; "
            f"its events since the fault: {' | '.join(events) or 'none'}"
        )


def _ready(pod: Any) -> bool:
    return any(c.type == "Ready" and c.status == "True" for c in pod.status.conditions or [])


@pytest.fixture(scope="module")
def released(oci_nodes_stack: OciStack) -> Released:
    stack = oci_nodes_stack
    cluster, _registry = stack.started()
    packaging = stack.impl.packaging
    assert isinstance(packaging, PythonPackage)
    assert packaging.chart is not None
    path = GitOpsPath(stack, stack.run_dir / "gitops-runbooks", with_deployment=True)
    releases = Releases(path)
    releases.push_service_image()
    version = path.push_chart()
    service = cluster.create_namespace("rbsvc")
    path.write_repository(path.simple_layout([service]))
    path.bootstrap()

    def applied() -> None:
        assert path.copy_config(FLUX_NS) is not None, flux.describe(path.kustomization())

    eventually(applied, timeout=SLO, description="Flux to apply flux-system/oci-creds")
    operator = stack.operator = releases.deploy_operator(
        packaging, replicas=1, extra_args=list(stack.impl.private_args())
    )
    releases.set_timeout(operator.namespace, operator.release, FAULT_WAIT)
    chart = yaml.safe_load((packaging.chart / "Chart.yaml").read_text())

    def copied() -> None:
        assert path.copy_config(service) is not None, path.copy_diagnosis(service)

    eventually(copied, timeout=SLO, description=f"the operator to copy oci-creds to {service}")
    releases.add_service(service)
    releases.wait_released([service], version, timeout=SLO, since=time.monotonic())
    workload = Workload.create(cluster, stack.impl, sources=1, targets=1, hint="rbwl", bystander=False)
    setup = Released(
        path=path,
        releases=releases,
        operator=operator,
        site=runbook.release_site(cluster, operator),
        baseline=releases.values(operator.namespace, operator.release),
        chart_source=chart["name"],
        chart_version=chart["version"],
        workload=workload,
        service=service,
    )
    eventually(setup.serving, timeout=SLO, description="the operator's HelmRelease with its new timeout")
    setup.propagates(SLO)
    return setup


def _pod_not_running(
    setup: Released,
    fault: str,
    cause: str,
    inject: Callable[[], None],
    shows: Callable[[], object],
    remedy: Callable[[], str],
) -> dict[str, Any]:
    """Inject, wait until the fault shows, carry out every step, apply the remedy, wait for service."""
    before = setup.releases.event_counts(setup.operator.namespace, setup.operator.release)
    since_wall, t0 = time.time(), time.monotonic()
    inject()
    eventually(shows, timeout=SHOWS, interval=0.5, description=f"{fault} to show")
    during = setup.during()
    site = dataclasses.replace(setup.site, since=since_wall)
    diagnosis = runbook.pod_not_running(site, setup.subject)
    diagnosed_s = time.monotonic() - t0
    flux_then = flux.describe(setup.release())
    t_remedy = time.monotonic()
    applied = remedy()
    try:
        restored_s: float | None = setup.restored(t_remedy)
    except WaitTimeout:
        restored_s = None
    notes = [
        during,
        f"Flux when the runbook ran: {flux_then}",
        "the runbook prescribes no remedy (step 4 only alerts); applied: "
        + applied
        + (f": service restored in {restored_s:.1f} s" if restored_s is not None else ": NOT restored"),
        setup.flux_did(before),
        f"fault shown and diagnosed in {diagnosed_s:.1f} s",
    ]
    result = runbook.finding(
        runbook.POD_NOT_RUNNING,
        fault,
        cause,
        diagnosis,
        remedy=applied,
        restores=restored_s is not None,
        notes=notes,
    )
    _record(setup, result)
    assert restored_s is not None, f"{fault}: the remedy did not restore service\n{diagnosis.summary()}"
    return result


def _record(setup: Released, result: dict[str, Any]) -> None:
    leaks = find_leaks(setup.canaries | setup.workload.canaries, {"record": json.dumps(result, default=str)})
    assert not leaks, f"refusing to record runbook {result['fault']!r}: it contains a secret value"
    setup.records.append(result)
    record("runbook", **result)
    allure.attach(
        json.dumps(result, indent=2, default=str),
        name=f"runbook: {result['runbook']} for {result['fault']}",
        attachment_type=allure.attachment_type.JSON,
    )


def _pod_shows(setup: Released, words: tuple[str, ...]) -> Callable[[], str]:
    """A Pod of the operator whose container state or last termination says one of ``words``."""

    def check() -> str:
        said = []
        for pod in setup.pods():
            for status in pod.status.container_statuses or []:
                waiting = status.state.waiting if status.state else None
                last = status.last_state.terminated if status.last_state else None
                said += [waiting.reason or "" if waiting else "", last.reason or "" if last else ""]
        assert any(w in said for w in words), f"{words} not yet shown: {said}"
        return ", ".join(s for s in said if s)

    return check


def _image_pull_refused(setup: Released) -> dict[str, Any]:
    ns, cluster = setup.operator.namespace, setup.cluster
    registry = cluster_registry(cluster)
    recorded = registry.password
    setup.canaries.add(recorded)
    always = {**setup.baseline, "image": {**setup.baseline["image"], "pullPolicy": "Always"}}

    def inject() -> None:
        setup.set_values(always)
        eventually(setup.serving, timeout=SLO, description="the operator upgraded to imagePullPolicy Always")
        registry.set_password(setup.password())  # the pull secret still holds the old one
        for pod in setup.pods():
            cluster.core.delete_namespaced_pod(pod.metadata.name, ns)

    def remedy() -> str:
        secret = pull_secret_manifest(PULL_SECRET, ns, registry)  # the registry's current credentials
        cluster.core.replace_namespaced_secret(PULL_SECRET, ns, secret)
        return f"pull secret {ns}/{PULL_SECRET} rotated to the registry's current credentials"

    try:
        return _pod_not_running(
            setup,
            "image pull refused (registry password rotated away from the pull secret)",
            "image-pull-refused",
            inject,
            _pod_shows(setup, ("ErrImagePull", "ImagePullBackOff")),
            remedy,
        )
    finally:  # the registry's recorded password and the harness's pull secret
        registry.set_password(recorded)
        ensure_pull_secret(cluster, ns)
        # the operator keeps imagePullPolicy Always: every later Pod pulls with the restored credentials
        setup.baseline = always


def _values_fault(
    setup: Released, fault: str, cause: str, values: dict[str, Any], words: tuple[str, ...]
) -> dict[str, Any]:
    def remedy() -> str:
        setup.set_values(setup.baseline)
        return "the release's values reverted"

    return _pod_not_running(
        setup, fault, cause, lambda: setup.set_values(values), _pod_shows(setup, words), remedy
    )


def _chart_version_missing(setup: Released) -> dict[str, Any]:
    releases, source = setup.releases, setup.chart_source
    ns, name = setup.operator.namespace, setup.operator.release

    def shows() -> None:
        obj = setup.release()
        cond = flux.ready_condition(obj)
        said = cond.get("message", "").lower()
        assert cond.get("status") == "False", flux.describe(obj)
        assert any(w in said for w in ("unknown tag", "manifest unknown")), flux.describe(obj)

    def remedy() -> str:
        releases.set_chart_ref(FLUX_NS, source, {"tag": setup.chart_version})

        def source_ready() -> None:
            obj = flux.get(setup.cluster, "OCIRepository", FLUX_NS, source)
            assert flux.ready_condition(obj).get("status") == "True", flux.describe(obj)

        eventually(source_ready, timeout=SLO, description="the chart source at its version again")
        releases.request_reconcile("HelmRelease", ns, name)
        return (
            f"OCIRepository {FLUX_NS}/{source} reverted to tag {setup.chart_version}, then "
            f"`flux reconcile helmrelease` (annotation) once it was Ready"
        )

    def inject() -> None:  # a chart bump, then `flux reconcile helmrelease --with-source`
        releases.set_chart_ref(FLUX_NS, source, {"tag": MISSING_TAG})

        def source_refused() -> None:
            obj = flux.get(setup.cluster, "OCIRepository", FLUX_NS, source)
            assert flux.ready_condition(obj).get("status") == "False", flux.describe(obj)

        eventually(source_refused, timeout=SLO, description="the chart source to judge the missing tag")
        releases.request_reconcile("HelmRelease", ns, name)

    return _pod_not_running(
        setup,
        f"chart version that does not exist (chart source tag {MISSING_TAG})",
        "chart-version-missing",
        inject,
        shows,
        remedy,
    )


def _authentication_failure(setup: Released) -> dict[str, Any]:
    """The service's HelmRelease fails with an authentication error: the registry's password was
    rotated and a chart pushed with it, the service's source bumped to that chart, git not updated."""
    path, releases, ns = setup.path, setup.releases, setup.service
    registry = path.registry
    before = releases.event_counts(ns, "service")
    setup.canaries.add(registry.password)
    password = setup.password()
    registry.set_password(password)
    version = path.push_chart()
    path.add_source(ns, ref={"tag": version})  # the service's chart bump

    def fails() -> str:
        obj = releases.release(ns)
        cond = flux.ready_condition(obj)
        assert cond.get("status") == "False", flux.describe(obj)
        assert any(w in cond.get("message", "").lower() for w in AUTH_FAILURE_WORDS), flux.describe(obj)
        return flux.describe(obj)

    trigger = eventually(fails, timeout=SHOWS, interval=0.5, description="the HelmRelease to fail on auth")
    diagnosis = runbook.run(setup.cluster.core, ns, registry)
    path.write_credentials(password)
    t_commit = time.monotonic()
    path.commit("rotate OCI credentials (runbook Authentication Failure, step 5)")
    try:
        seen = releases.wait_released([ns], version, timeout=SLO + 3 * INTERVAL, since=t_commit)
        restored_s: float | None = seen[ns]
    except WaitTimeout:
        restored_s = None
    events = releases.events(ns, "service", before)
    result = runbook.finding(
        runbook.TITLE,
        "HelmRelease chart source's credentials rotated away (registry password changed, git not yet)",
        "credentials-rejected",
        diagnosis,
        remedy="step 5: the rotation committed through git (consolidated, replicated)",
        restores=restored_s is not None,
        notes=[
            f"trigger, Flux: {trigger}",
            f"remedy: HelmRelease {ns}/service Ready at chart {version} "
            + (f"{restored_s:.1f} s after the commit" if restored_s is not None else "NOT within the bound")
            + f"; Flux: {flux.describe(releases.release(ns))}",
            f"its events since the fault: {' | '.join(events[-4:]) or 'none'}",
        ],
    )
    _record(setup, result)
    assert restored_s is not None, f"the rotation did not restore {ns}: {releases.diagnosis(ns)}"
    assert released_version(releases.release(ns)) == version
    return result | {"diagnosis": diagnosis}


@allure.feature("reflector-deployment")
@allure.story("Runbooks against HelmReleases: Pod Not Running, Authentication Failure")
def test_runbooks_against_helmreleases(released: Released) -> None:
    setup = released
    healthy = runbook.pod_not_running(dataclasses.replace(setup.site, since=time.time() - 60), setup.subject)
    assert [s["status"] for s in healthy.steps] == [OK] * 4, healthy.summary()
    t0 = time.monotonic()
    timings: dict[str, float] = {}

    def timed(name: str, run: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        start = time.monotonic()
        try:
            return run()
        finally:
            timings[name] = round(time.monotonic() - start, 1)

    pull = timed("image pull refused", lambda: _image_pull_refused(setup))
    loop = timed(
        "crash loop",
        lambda: _values_fault(
            setup,
            f"crash loop (bad flag {BAD_FLAG} through the release's extraArgs)",
            "bad-flag",
            {**setup.baseline, "extraArgs": [*setup.baseline.get("extraArgs", []), BAD_FLAG]},
            ("CrashLoopBackOff",),
        ),
    )
    oom = timed(
        "OOM",
        lambda: _values_fault(
            setup,
            f"OOM (memory limit {OOM_LIMIT} through the release's values)",
            "oom-killed",
            {**setup.baseline, "resources": {"limits": {"memory": OOM_LIMIT}, "requests": TIGHT}},
            ("OOMKilled",),
        ),
    )
    missing = timed("chart version missing", lambda: _chart_version_missing(setup))
    auth = timed("authentication failure", lambda: _authentication_failure(setup))
    diagnosis = auth.pop("diagnosis")
    record(
        "oci_runbook",
        runbook=runbook.TITLE,
        identified={"HelmRelease chart source credentials rotated away": auth["identifying_step"]},
    )
    timings["total"] = round(time.monotonic() - t0, 1)
    findings = [f"{r['fault']}\n{r['finding']}" for r in setup.records]
    allure.attach(
        "\n\n".join([f"seconds per fault: {timings}", *findings]),
        "runbooks against HelmReleases (no secret values)",
        allure.attachment_type.TEXT,
    )
    assert pull["identifying_step"] == 1, pull["finding"]
    assert loop["identifying_step"] == 2, loop["finding"]
    assert oom["identifying_step"] == 1, oom["finding"]
    assert missing["identifying_step"] == 3, missing["finding"]
    assert auth["identifying_step"] == 3, diagnosis.summary()
    assert [s["status"] for s in diagnosis.steps][-1] == REMEDY
    for result in setup.records:
        assert "cannot be carried out" not in result["finding"], result["finding"]
