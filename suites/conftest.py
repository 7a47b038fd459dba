"""Conformance suites: per-implementation expectations, outcome records, scenario fixtures.

* A test labelled with a behaviour key (suites/contract.py) that the implementation's profile lists
  as a deviation becomes a strict xfail: reported as "known deviation" when it fails with an
  AssertionError, and as a failure if it passes (the profile is stale) or fails otherwise.
* Every conformance test appends a `conformance` record (id, outcome, implementation, seconds, and
  the profile's `known_failures` text for its key, if any) for the report builder.
* `scenario` works on the shared cluster and operator; `private_operator` deploys the implementation
  on a dedicated control plane, for scenarios that restart it or change its configuration.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from fixtures.clusters.cluster import Cluster, NamespaceFactory, dns_label
from fixtures.clusters.workloads import Deployment
from fixtures.core.errors import SetupError
from fixtures.core.record import record
from fixtures.plugins.session import reflector_dialect_system, system_of
from fixtures.systems import ReplicationSystem, system
from fixtures.systems.dialects.reflector import ReflectorDialectSystem
from suites.contract import contract_of, deviation_marker, outcome_of
from suites.private import PrivateOperator
from suites.support import KNOWN_DEVIATION_SLO, SLO, Scenario


def _system(item: pytest.Item) -> ReplicationSystem | None:
    """The system a contract test judges: its ``system`` parameter or the fixtures it uses, else the
    selected Reflector-dialect system (the C1-C21 suite's)."""
    try:
        name = system_of(item)
        if name is not None:
            return system(name)
        return reflector_dialect_system(item.config)
    except (SetupError, ValueError):
        return None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if "private_operator" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.cluster)
        contract = contract_of(getattr(item, "function", None))
        impl = _system(item) if contract is not None else None
        if contract is None or impl is None:
            continue
        text = impl.deviation(contract.key)
        if text is not None:
            item.add_marker(deviation_marker(impl.name, contract.key, text))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):
    outcome = yield
    report: pytest.TestReport = outcome.get_result()
    contract = contract_of(getattr(item, "function", None))
    if contract is None:
        return
    if report.when == "call" or (report.when == "setup" and not report.passed):
        impl = _system(item)
        record(
            contract.kind,
            id=contract.cid,
            key=contract.key,
            test=item.nodeid,
            outcome=outcome_of(report),
            implementation=impl.name if impl else item.config.getoption("--implementation"),
            system=impl.name if impl else item.config.getoption("--implementation"),
            seconds=round(report.duration, 3),
            # where the profile says this check breaks a seed property (fixtures/systems/byo.py): the reason
            # the certificate gives when it fails
            known_failure=(getattr(impl, "known_failures", None) or {}).get(contract.key),
        )


def _slo(request: pytest.FixtureRequest) -> float:
    """Known deviations fail anyway: they get a shorter deadline than the SLO."""
    return KNOWN_DEVIATION_SLO if request.node.get_closest_marker("xfail") else SLO


@pytest.fixture(scope="session")
def impl(implementation_under_test: ReflectorDialectSystem) -> ReflectorDialectSystem:
    return implementation_under_test


@pytest.fixture
def scenario(
    request: pytest.FixtureRequest,
    cluster: Cluster,
    namespaces: NamespaceFactory,
    impl: ReflectorDialectSystem,
    operator: Deployment,
) -> Scenario:
    """A Secret scenario on the shared cluster (the shared operator is running)."""
    return Scenario(cluster, namespaces, impl, slo=_slo(request))


@pytest.fixture
def private_operator(
    request: pytest.FixtureRequest, impl: ReflectorDialectSystem
) -> Iterator[Callable[..., PrivateOperator]]:
    """Factory: `private_operator(watch_timeout_seconds=2, excluded_namespaces=[...])`."""
    if impl.packaging is None or not impl.packaging.runs_as_processes:
        pytest.skip(f"{impl.name} cannot run as a local process; this scenario needs a private cluster")
    plane = request.getfixturevalue("private_control_plane")
    operators = request.getfixturevalue("private_operators")  # after the plane: stopped before it
    handle = plane.cluster()
    count = 0

    def start(**options: object) -> PrivateOperator:
        nonlocal count
        run_dir = plane.run_dir / f"operator-{count}"
        count += 1
        factory = NamespaceFactory(handle, dns_label(request.node.name, 20))
        deployment = operators.deploy(
            impl,
            handle,
            run_dir,
            namespaces=factory,
            extra_args=impl.private_args(**options),  # type: ignore[arg-type]
        )
        return PrivateOperator(handle, deployment, factory, impl, _slo(request))

    try:
        yield start
    finally:
        handle.close()
