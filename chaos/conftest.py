"""Fixtures for chaos experiments: a private cluster and a private operator deployment per experiment.

Experiments never touch the session cluster or the session operator (other xdist workers use them).
The experiment's variant (``chaos_provider``: local, kind or nodes) names the cluster; it comes from
the factory (`fixtures/clusters/providers.py` `private_cluster`), which also says when there is none
(kind unusable here, nodes unusable here, or `--cluster=existing`) and the test skips with that
reason. A kind cluster takes minutes, one per experiment; a nodes cluster (a local control plane
with two real nodes, the system as Pods from its image and chart) about a minute.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from chaos.context import ChaosContext, LocalOperator, PodOperator, bound_requests
from chaos.faults import variants
from chaos.faults.variants import journal_name
from chaos.mirror_workload import MirrorWorkload
from chaos.scoring import overall_resilience
from fixtures.clusters.cluster import new_run_id
from fixtures.clusters.providers import (
    LOCAL,
    NODES,
    PROCESSES,
    ClusterProvider,
    ProviderChoice,
    private_cluster,
)
from fixtures.core.errors import DidNotStart, NoVerdict, SetupError
from fixtures.core.record import read_records, record
from fixtures.plugins.private import PrivateOperators
from fixtures.plugins.session import selection, started_private
from fixtures.systems import ReplicationSystem
from fixtures.systems import system as system_named
from fixtures.systems.configmirror import SYSTEM, ConfigMirrorDriver
from fixtures.systems.packaging import postgres_of

_LOADED_AT = time.time()

EnvFactory = Callable[..., ChaosContext]
#: marks a system-neutral experiment: ``@pytest.mark.neutral_chaos("kill-operator", replicas=1)``
NEUTRAL_MARK = "neutral_chaos"


def variant_params(*faults: str) -> list[Any]:
    """The variants an experiment runs in (those of all its ``faults``), as ``chaos_provider``
    parameters; a nodes variant (a cluster with two real nodes and an image, about a minute to
    set up) is ``slow``, so `make test` keeps its quick local runs."""
    return [
        pytest.param(p, marks=pytest.mark.slow) if p == NODES else p for p in variants.providers_of(*faults)
    ]


@pytest.fixture
def chaos_provider(request: pytest.FixtureRequest) -> str:
    """The provider variant of a chaos test, parametrized indirectly (default local)."""
    return getattr(request, "param", LOCAL)


@pytest.fixture
def chaos_system(request: pytest.FixtureRequest, chaos_provider: str) -> ReplicationSystem:
    """The system the experiment runs against, decided before its cluster starts.

    A system-neutral experiment (marked ``neutral_chaos(experiment, replicas=N)``; the test asks for
    ``system``, so it runs once per selected system) gets the selected system, and is n/a with its
    profile's reason (``ChaosProfile``: an experiment, a provider or a replica count it does not
    support) instead of starting a cluster for nothing. Any other chaos test is written in the
    Reflector dialect (runbooks, kind plumbing, the API server restart) and gets that system.
    """
    mark = request.node.get_closest_marker(NEUTRAL_MARK)
    if mark is None:
        return system_named(request.getfixturevalue("implementation_under_test").name)
    system: ReplicationSystem = request.getfixturevalue("system")
    experiment, replicas = neutral_experiment(mark)
    if system.chaos is None:
        why = "its profile gives no chaos deployment (ReplicationSystem.chaos)"
    else:
        why = system.chaos.refusal(experiment, replicas=replicas, provider=chaos_provider)
    if why is not None:
        # the report's matrix shows this cell as n/a with the reason (reports/build.py)
        record("chaos_not_applicable", experiment=journal_name(experiment, chaos_provider), reason=why)
        pytest.skip(f"n/a for {system.name}: {experiment}: {why}")
    return system


def neutral_experiment(mark: pytest.Mark) -> tuple[str, int]:
    """(experiment, replicas) of a ``neutral_chaos`` mark."""
    return str(mark.args[0]), int(mark.kwargs.get("replicas", 1))


@pytest.fixture
def chaos_cluster(
    provider_choice: ProviderChoice, chaos_provider: str, chaos_system: ReplicationSystem
) -> Iterator[ClusterProvider]:
    """The experiment's private cluster, started (skipped with the factory's reason when there is none)."""
    with started_private(
        private_cluster(provider_choice, chaos_provider, new_run_id(), os.getpid())
    ) as provider:
        yield provider


class _LiveNamespaces:
    """The namespaces of the experiment's workload, read when diagnostics are collected (the context
    is set once the operator is deployed)."""

    def __init__(self) -> None:
        self.ctx: ChaosContext | None = None

    @property
    def created(self) -> list[str]:
        wl = self.ctx.workload if self.ctx else None
        return [wl.source_ns, *wl.targets] if wl else []


@pytest.fixture
def chaos_env(
    request: pytest.FixtureRequest,
    chaos_system: ReplicationSystem,
    chaos_cluster: ClusterProvider,
    chaos_provider: str,
) -> Iterator[EnvFactory]:
    """Call it once: ``chaos_env(replicas=1, extra_args=[...])`` → a :class:`ChaosContext`.

    For a ``neutral_chaos`` experiment the replicas come from the mark and the flags from the
    system's profile (``ChaosProfile.args_for``; ``extra_args`` are added after them), and with
    several systems selected its journal and logs carry the system's name (the record's experiment
    name does not: the report's matrix has one row per experiment, one cell per system).
    """
    made: list[tuple[ChaosContext, Callable[[], None]]] = []
    operators: PrivateOperators = request.getfixturevalue("private_operators")  # stopped before the cluster
    # the operator as processes beside the control plane, or as pods of its Deployment
    env = _local_env if chaos_cluster.workloads == PROCESSES else _pod_env
    mark = request.node.get_closest_marker(NEUTRAL_MARK)

    def make(*, replicas: int = 1, extra_args: list[str] | None = None) -> ChaosContext:
        if made:
            raise RuntimeError("one chaos environment per test")
        args = list(extra_args or [])
        suffix = ""
        if mark is not None:
            experiment, replicas = neutral_experiment(mark)
            assert chaos_system.chaos is not None  # chaos_system made it n/a otherwise
            args = [*chaos_system.chaos.args_for(experiment), *args]
            if len(selection(request.config).systems) > 1:
                suffix = f".{chaos_system.name}"
        try:
            ctx, cleanup = env(chaos_cluster, operators, chaos_system, replicas, args)
        except NotPods as exc:  # its faults act on Pods: n/a, the matrix cell says why
            if mark is not None:
                name = journal_name(neutral_experiment(mark)[0], chaos_provider)
                record("chaos_not_applicable", experiment=name, reason=str(exc))
            pytest.skip(f"n/a for {chaos_system.name}: {exc}")
        except DidNotStart as exc:  # the system's own failure
            pytest.fail(str(exc), pytrace=False)
        except SetupError as exc:  # the harness could not build the experiment: no verdict
            raise NoVerdict(str(exc)) from None
        ctx.system = chaos_system  # what its Workload declares with
        ctx.journal_suffix = suffix
        ctx.variant_name = chaos_provider
        made.append((ctx, cleanup))
        return ctx

    try:
        yield make
    finally:
        for ctx, cleanup in made:
            ctx.join_threads(10)
            cleanup()


@pytest.fixture
def mirror_chaos_env(request: pytest.FixtureRequest) -> Iterator[EnvFactory]:
    """Call it once: ``mirror_chaos_env(replicas=1, sources=3, targets=3, hint="m1")`` → a
    :class:`ChaosContext` whose workload is a :class:`MirrorWorkload`: a private control plane, a
    private PostgreSQL and a private ConfigMirror operator (supervised local processes), with one
    ConfigMirror replicating to the targets. Local provider only (the database is a host process).
    """
    plane = request.getfixturevalue("private_control_plane")  # set up before us, torn down after us
    undo: list[Callable[[], None]] = []
    made: list[ChaosContext] = []

    def make(
        *,
        replicas: int = 1,
        extra_args: list[str] | None = None,
        sources: int = 3,
        targets: int = 3,
        hint: str = "mirror",
    ) -> ChaosContext:
        if made:
            raise RuntimeError("one chaos environment per test")
        cluster = plane.cluster()
        undo.append(cluster.close)
        run_dir = Path(plane.run_dir) / "configmirror"
        mirror = system_named(SYSTEM)
        try:  # through its profile: the operator and its PostgreSQL, stopped together
            deployment = mirror.deploy(cluster, run_dir, replicas=replicas, extra_args=extra_args)
            undo.append(lambda: mirror.undeploy(deployment))
        except DidNotStart as exc:  # the system's own failure
            pytest.fail(str(exc), pytrace=False)
        except SetupError as exc:  # the harness could not build the experiment: no verdict
            raise NoVerdict(str(exc)) from None
        postgres = postgres_of(deployment)
        assert postgres is not None, "the ConfigMirror profile deploys its PostgreSQL with the operator"
        ctx = ChaosContext(cluster, LocalOperator(deployment), run_dir)
        made.append(ctx)
        system = ConfigMirrorDriver(cluster, postgres)
        ctx.workload = MirrorWorkload.create(system, postgres, sources=sources, targets=targets, hint=hint)
        return ctx

    try:
        yield make
    finally:
        for ctx in made:
            ctx.join_threads(10)
            ctx.resume_all()
        for step in reversed(undo):  # operator, then its database, then the client
            step()


def _local_env(
    provider: ClusterProvider,
    operators: PrivateOperators,
    impl: ReplicationSystem,
    replicas: int,
    extra_args: list[str],
) -> tuple[ChaosContext, Callable[[], None]]:
    """The operator as supervised processes in the private control plane's process group."""
    cluster = provider.cluster()
    run_dir = cluster.run_dir / "operator"
    live = _LiveNamespaces()
    deployment = operators.deploy(
        impl, cluster, run_dir, namespaces=live, label="chaos", replicas=replicas, extra_args=extra_args
    )
    ctx = live.ctx = ChaosContext(cluster, LocalOperator(deployment, impl), run_dir, system=impl)

    def cleanup() -> None:
        ctx.resume_all()  # a stopped process would not see the SIGTERM
        operators.stop(deployment)
        cluster.close()

    return ctx, cleanup


class NotPods(Exception):
    """The system was deployed, but not as Pods: a Pod variant of an experiment does not apply."""


#: how a deployment that runs as Pods says so (fixtures/clusters/workloads.py ``Deployment.runs_as``)
POD_DEPLOYMENTS = ("pods", "helm")


def _pod_env(
    provider: ClusterProvider,
    operators: PrivateOperators,
    impl: ReplicationSystem,
    replicas: int,
    extra_args: list[str],
) -> tuple[ChaosContext, Callable[[], None]]:
    """The operator as its Deployment (scaled and flagged) in a private cluster that runs Pods (kind,
    the local nodes: its image and chart). A system that cannot run as Pods there (its packaging
    runs it as local processes even beside nodes) is n/a: the variant's faults act on Pods."""
    cluster = provider.cluster()
    run_dir = cluster.run_dir
    try:
        bound_requests(cluster.api)
        live = _LiveNamespaces()
        deployment = operators.deploy(
            impl, cluster, run_dir, namespaces=live, label="chaos", replicas=replicas, extra_args=extra_args
        )
    except BaseException:
        cluster.close()
        raise
    if deployment.runs_as not in POD_DEPLOYMENTS:
        cluster.close()
        raise NotPods(f"its packaging runs it as {deployment.runs_as} on this cluster, not as Pods")
    ctx = ChaosContext(
        cluster,
        PodOperator(cluster, deployment.namespace, deployment.service_account, system=impl),
        run_dir,
        system=impl,
    )
    live.ctx = ctx
    ctx.saved["deployment"] = deployment  # the Helm release a fault may upgrade (the OOM experiment)

    def cleanup() -> None:
        try:
            ctx.resume_all()  # a frozen node or a stopped container first: its Pods must stop
        finally:
            cluster.close()

    return ctx, cleanup


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """One line per chaos experiment run in this session, and the overall (Litmus) resilience."""
    chaos = [r for r in read_records("chaos") if r["time"] >= _LOADED_AT]
    runbooks = [r for r in read_records("runbook") if r["time"] >= _LOADED_AT]
    if not chaos and not runbooks:
        return
    tr = terminalreporter
    tr.section("replicheck chaos")
    for r in chaos:
        tr.write_line(
            f"{_verdict_of(r).upper():<10} {r['experiment']:<34} resilience {r['resilience']:5.1f}% "
            f"({r['probes_passed']}/{r['probes_total']} probes, weight {r['weight']}) "
            f"recovery {r['recovery_s'] if r['recovery_s'] is not None else '-'} s"
            + (f"; no evidence: {'; '.join(r['no_evidence'])}" if r.get("no_evidence") else "")
        )
    if chaos:
        tr.write_line(f"overall resilience (Litmus, weighted): {overall_resilience(chaos)}%")
    for r in runbooks:
        tr.write_line(
            f"runbook {r['runbook']!r} for {r['fault']}: identifying step {r['identifying_step']}, "
            f"remedy restores: {r['remedy_restores']}"
            + (f"; finding: {r['finding']}" if r.get("finding") else "")
        )


def _verdict_of(rec: dict[str, object]) -> str:
    """A chaos record's verdict (records written before verdicts existed: from ``passed``)."""
    return str(rec.get("verdict") or ("pass" if rec.get("passed") else "fail"))
