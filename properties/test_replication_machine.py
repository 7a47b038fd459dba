"""A stateful model of replication: any interleaving of user actions converges to the model.

Rules mix what users and other controllers do: create / update / delete the source, edit the
allowed and auto lists, create and delete namespaces, edit or delete a copy by hand, put an
unrelated same-name Secret into a namespace. After every step the whole cluster (every object with
the example's name, in every namespace) must converge, within the 60 s SLO of the step, to the
model: copies exactly in allowed ∩ auto (an empty or absent auto list meaning every allowed
namespace), with the source's content; the witness mirror filled while the source exists and kept
as it was when it goes; unrelated objects untouched (same uid and resourceVersion), always.

When a step should change nothing visible, the source's content is bumped and the step only counts
once every copy has the bump: the operator has then processed everything before it, and only then
is "nothing else changed" asserted (the unrelated object was not adopted, no stray copy appeared).

Copies edited or deleted by hand are expected back without a source change unless the system's
profile documents that it does not repair that drift (``neutral.drift.edit``,
``neutral.drift.delete``: Reflector waits for the next source change); those rules are then off.

The machine talks to the system under test through its interface (fixtures/systems): a system
speaking the Reflector dialect gets the lists as annotation text, any other one the targeted
namespaces; copies and the witness are recognised by the system's own bookkeeping. It drives
Secrets, so a system that replicates only ConfigMaps is not run here (the reason is reported).
"""

from __future__ import annotations

import random
import sys
import time
from dataclasses import dataclass
from typing import Any

import allure
import pytest
from hypothesis import HealthCheck, core, note, settings, target
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from fixtures.clusters.cluster import Cluster
from fixtures.core.encoding import b64
from fixtures.core.errors import NoEvidence
from fixtures.core.record import record
from fixtures.systems import Declaration, ReplicationSystem
from fixtures.systems.dialects.reflector import ALLOWED, ALLOWED_NAMESPACES, AUTO_ENABLED, AUTO_NAMESPACES
from properties import recording
from properties.model import SourceSpec, physical_name
from properties.observe import ExampleEnv, View, timed
from properties.replay import Budget, run_reporting_unreplayed
from properties.strategies import namespace_names, next_payloads, source_objects

pytestmark = [pytest.mark.property, pytest.mark.usefixtures("system_deployment")]

MAX_SLOTS = 8
#: of the test's timeout: no example starts after SOFT_SHARE, no wait after HARD_SHARE (the rest is
#: for the failing example's replay and the teardown)
SOFT_SHARE, HARD_SHARE, DEFAULT_TIMEOUT_S = 0.55, 0.75, 900.0
FAILURE_CHARS = 4000  # of a failed step's assertion kept for a failure Hypothesis cannot replay
BARRIER_KEY = "replicheck-barrier"
PICK = st.integers(0, 2**16)


@dataclass
class MSlot:
    name: str
    state: str  # planned (listed, not created) | active | deleted
    unrelated: View | None = None  # identity view of an unrelated same-name Secret we put there


def _pick(items: list[Any], index: int) -> Any:
    return items[index % len(items)]


class ReplicationMachine(RuleBasedStateMachine):
    cluster: Cluster
    system: ReplicationSystem
    repairs_edit: bool = False  # restores a hand-edited copy without a source change
    repairs_delete: bool = False  # recreates a hand-deleted copy without a source change
    failures: list[str]  # the assertions steps failed with, in order (set per test)
    budget: Budget  # the run's wall-clock budget inside pytest-timeout (set per test)

    def __init__(self) -> None:
        self.budget.start_example()  # past the run's budget no example starts (nothing created)
        super().__init__()
        self.env = ExampleEnv(self.cluster, self.system, "sm", "Secret")
        self.env.__enter__()
        self.names = self.env.names
        self.slots: list[MSlot] = []
        self.allowed: set[int] = set()
        self.auto: set[int] | None = None
        self.spec: SourceSpec | None = None
        self.source: dict[str, Any] | None = None  # last API response for the source
        self.witness: View = {}  # empty: no witness object (before setup; a pushed witness before the source)
        self.ready = False  # setup done
        self.start = time.monotonic()
        self.quiet = False  # the last step should change nothing visible
        self.bumps = 0
        self.max_copies = 0
        self.record_update = False
        self.drifted = False

    # -- model -----------------------------------------------------------------------------------
    def annotations(self) -> dict[str, str]:
        """The lists in the Reflector dialect's grammar."""
        allowed = [self.names.witness, *(self.slots[i].name for i in sorted(self.allowed))]
        ann = {ALLOWED: "true", AUTO_ENABLED: "true", ALLOWED_NAMESPACES: ",".join(allowed)}
        if self.auto is not None:
            ann[AUTO_NAMESPACES] = ",".join(self.slots[i].name for i in sorted(self.auto))
        return ann

    def declaration(self) -> Declaration:
        """The lists for the system under test (targeted namespaces, created or not)."""
        auto = self.auto or None
        targeted = [self.slots[i].name for i in sorted(self.allowed) if auto is None or i in auto]
        return self.env.declaration(self.annotations(), targeted)

    def copies(self) -> set[int]:
        if self.spec is None:
            return set()
        auto = self.auto or None
        return {
            i
            for i, s in enumerate(self.slots)
            if s.state == "active"
            and s.unrelated is None
            and i in self.allowed
            and (auto is None or i in auto)
        }

    def expected(self, version: bool = False) -> dict[str, View]:
        out: dict[str, View] = {self.names.witness: self.witness} if self.witness else {}
        for s in self.slots:
            if s.state == "active" and s.unrelated is not None:
                out[s.name] = s.unrelated
        if self.spec is not None and self.source is not None:
            rv = self.source["metadata"]["resourceVersion"]
            out[self.names.source] = self.env.view(self.source, identity=True)
            for i in self.copies():
                out[self.slots[i].name] = self.env.copy_view(self.spec, rv, version=version)
        return out

    def source_rv(self) -> str | None:
        """The source's current version, for deciding a mismatch early (not while a hand edit is
        pending repair: the edited copy still claims that version)."""
        if self.source is None or self.drifted:
            return None
        return self.source["metadata"]["resourceVersion"]

    def ignored(self) -> set[str]:
        return {s.name for s in self.slots if s.state == "deleted"}

    def _write_source(self, spec: SourceSpec, *, create: bool = False) -> None:
        write = self.env.create_source if create else self.env.replace_source
        self.start, self.source = timed(lambda: write(spec, self.declaration()))
        self.spec = spec
        self.witness = self.env.witness_view(spec, self.source["metadata"]["resourceVersion"], version=False)

    def _lists_changed(self) -> None:
        if self.spec is not None:
            self._write_source(self.spec)
        else:
            self.start = time.monotonic()

    # -- setup -----------------------------------------------------------------------------------
    @initialize(
        logical=st.lists(namespace_names(), max_size=3),
        spec=st.none() | source_objects(kinds=("Secret",), shape="few"),
    )
    def setup(self, logical: list[str], spec: SourceSpec | None) -> None:
        """The source's and the witness' namespaces, up to three listed namespaces, maybe the source:
        most runs start with copies to edit, delete and delist."""
        note(f"object {self.env.name}; source {self.names.source}; witness {self.names.witness}")
        self.env.create_namespace(self.names.source)
        self.env.create_namespace(self.names.witness)
        witness = self.env.create_witness()
        self.witness = self.env.view(witness, version=False) if witness is not None else {}
        for name in logical:
            slot = MSlot(physical_name(self.names.prefix, len(self.slots), name), "active")
            self.env.create_namespace(slot.name)
            self.allowed.add(len(self.slots))
            self.slots.append(slot)
        self.start = time.monotonic()
        self.ready = True
        if spec is not None:
            self._write_source(spec, create=True)

    # -- namespaces ------------------------------------------------------------------------------
    @precondition(lambda self: len(self.slots) < MAX_SLOTS)
    @rule(logical=namespace_names(), create=st.booleans())
    def new_namespace(self, logical: str, create: bool) -> None:
        """A new namespace, created now or only reserved (listed before it exists)."""
        name = physical_name(self.names.prefix, len(self.slots), logical)
        self.slots.append(MSlot(name, "active" if create else "planned"))
        self.start = time.monotonic()
        if create:
            self.env.create_namespace(name)
        self.quiet = True  # a new index is in no list yet

    @precondition(lambda self: any(s.state == "planned" for s in self.slots))
    @rule(pick=PICK)
    def create_listed_namespace(self, pick: int) -> None:
        slot = _pick([s for s in self.slots if s.state == "planned"], pick)
        self.start = time.monotonic()
        self.env.create_namespace(slot.name)
        slot.state = "active"
        self.quiet = self.slots.index(slot) not in self.copies()

    @precondition(lambda self: any(s.state == "active" for s in self.slots))
    @rule(pick=PICK)
    def delete_namespace(self, pick: int) -> None:
        slot = _pick([s for s in self.slots if s.state == "active"], pick)
        self.env.delete_namespace(slot.name)
        slot.state, slot.unrelated = "deleted", None
        self.start = time.monotonic()
        self.quiet = True  # what was in it is gone with it; nothing else may change

    # -- lists -----------------------------------------------------------------------------------
    def _edit(self, change: Any) -> None:
        before = self.copies()
        change()
        self._lists_changed()
        self.quiet = self.copies() == before

    @precondition(lambda self: self.slots)
    @rule(pick=PICK)
    def allow(self, pick: int) -> None:
        self._edit(lambda: self.allowed.add(pick % len(self.slots)))

    @precondition(lambda self: self.allowed)
    @rule(pick=PICK)
    def disallow(self, pick: int) -> None:
        self._edit(lambda: self.allowed.discard(_pick(sorted(self.allowed), pick)))

    @precondition(lambda self: self.slots)
    @rule(pick=PICK)
    def add_to_auto_list(self, pick: int) -> None:
        self._edit(lambda: setattr(self, "auto", {*(self.auto or set()), pick % len(self.slots)}))

    @precondition(lambda self: self.auto)
    @rule(pick=PICK)
    def remove_from_auto_list(self, pick: int) -> None:
        self._edit(lambda: self.auto.discard(_pick(sorted(self.auto), pick)))  # type: ignore[union-attr]

    @precondition(lambda self: self.auto is not None)
    @rule()
    def drop_auto_list(self) -> None:
        self._edit(lambda: setattr(self, "auto", None))

    # -- the source ------------------------------------------------------------------------------
    @precondition(lambda self: self.spec is None)
    @rule(spec=source_objects(kinds=("Secret",), shape="few"))
    def create_source(self, spec: SourceSpec) -> None:
        self._write_source(spec, create=True)
        self.quiet = False

    @precondition(lambda self: self.spec is not None)
    @rule(data=st.data())
    def update_source(self, data: st.DataObject) -> None:
        assert self.spec is not None
        update = data.draw(next_payloads(self.spec, self.spec.payload), label="update")
        self._write_source(self.spec.with_payload(update.payload))
        self.quiet = False
        self.record_update = True

    @precondition(lambda self: self.spec is not None)
    @rule()
    def delete_source(self) -> None:
        self.start = time.monotonic()
        self.env.delete(self.names.source)
        self.spec, self.source = None, None
        # a witness mirror keeps its last content (or is emptied, where the profile documents it);
        # a pushed witness goes with the source
        self.witness = self.env.witness_kept(self.witness).get(self.names.witness, {})
        self.quiet = False

    # -- other actors ----------------------------------------------------------------------------
    @precondition(lambda self: self.repairs_delete and self.copies())
    @rule(pick=PICK)
    def delete_copy_by_hand(self, pick: int) -> None:
        slot = self.slots[_pick(sorted(self.copies()), pick)]
        self.start = time.monotonic()
        self.env.delete(slot.name)
        self.quiet = False

    @precondition(lambda self: self.repairs_edit and self.copies())
    @rule(pick=PICK, value=st.binary(min_size=1, max_size=16))
    def edit_copy_by_hand(self, pick: int, value: bytes) -> None:
        slot = self.slots[_pick(sorted(self.copies()), pick)]
        self.start = time.monotonic()
        self.env.patch(slot.name, {"data": {"hand-edit": b64(value)}})
        self.quiet = False
        self.drifted = True  # the edited copy keeps its version until repaired

    @precondition(
        lambda self: any(
            s.state == "active" and s.unrelated is None and i not in self.copies()
            for i, s in enumerate(self.slots)
        )
    )
    @rule(pick=PICK)
    def add_unrelated_secret(self, pick: int) -> None:
        """A same-name Secret somebody else owns, where no copy is: it must never be touched."""
        free = [
            s
            for i, s in enumerate(self.slots)
            if s.state == "active" and s.unrelated is None and i not in self.copies()
        ]
        slot = _pick(free, pick)
        slot.unrelated = self.env.view(self.env.create_unrelated(slot.name, "sm"), identity=True)
        self.start = time.monotonic()
        self.quiet = True

    # -- the invariant ---------------------------------------------------------------------------
    @invariant(check_during_init=True)
    def converged(self) -> None:
        self.budget.step()  # past the hard limit no further wait starts
        if not self.ready:
            return  # before setup: nothing exists yet
        self.env.converge(
            self.expected(),
            ignore=self.ignored(),
            description="the cluster to match the model",
            deadline=self.start,
            source_rv=self.source_rv(),
        )
        self.drifted = False
        if self.record_update:
            self.record_update = False
            want = self.expected(version=True)
            self.env.latency(
                "6",
                "update",
                {self.slots[i].name: want[self.slots[i].name] for i in self.copies()},
                self.start,
            )
        if self.quiet and self.spec is not None:
            self.bumps += 1
            payload = self.spec.payload.with_data(**{BARRIER_KEY: str(self.bumps).encode()})
            self._write_source(self.spec.with_payload(payload))
            self.env.converge(
                self.expected(version=True),
                ignore=self.ignored(),
                description="content bump after a step that changes nothing else",
                deadline=self.start,
                source_rv=self.source_rv(),
            )
        self.quiet = False
        self.max_copies = max(self.max_copies, len(self.copies()))

    def teardown(self) -> None:
        failure = sys.exc_info()[1]
        if isinstance(failure, AssertionError):  # WaitTimeout is one too
            type(self).failures.append(str(failure)[:FAILURE_CHARS])
        elif failure is None:
            self.budget.finish_example()
        try:
            self.env.__exit__(*sys.exc_info())  # called while a failure propagates: keep its namespaces
        finally:
            recording.count_example()
            target(float(self.max_copies), label="copies alive at once")


def _machine_settings() -> settings:
    """The active profile (examples, steps); health checks off, as for any stateful TestCase."""
    return settings(recording.tuned("machine"), suppress_health_check=list(HealthCheck))


@allure.feature("reflector-deployment")
@allure.story("Property 5: Secret Replication Consistency")
def test_any_sequence_of_actions_converges_to_the_model(
    cluster: Cluster, system: ReplicationSystem, request: pytest.FixtureRequest
) -> None:
    if "Secret" not in system.kinds:
        pytest.skip(f"the state machine drives Secrets; {system.name} replicates only {sorted(system.kinds)}")
    # inside pytest-timeout (which would end the run with no verdict): a slow system runs fewer examples
    timeout = float(request.config.getini("timeout") or DEFAULT_TIMEOUT_S)
    started = getattr(request.node, "replicheck_started", None)  # properties/conftest.py
    budget = Budget(soft=SOFT_SHARE * timeout, hard=HARD_SHARE * timeout, started=started)
    machine = type(
        "ReplicationMachine",
        (ReplicationMachine,),
        {
            "cluster": cluster,
            "system": system,
            "repairs_edit": system.deviation("neutral.drift.edit") is None,
            "repairs_delete": system.deviation("neutral.drift.delete") is None,
            "failures": [],
            "budget": budget,
        },
    )
    profile = _machine_settings()
    factory: Any = lambda: machine()  # noqa: E731 (a function carries the seed attribute)
    if not profile.derandomize:
        seed = core.global_force_seed if core.global_force_seed is not None else random.getrandbits(64)
        factory._hypothesis_internal_use_seed = seed
        request.node.replicheck_machine_seed = str(seed)
    else:
        request.node.replicheck_machine_seed = "derandomized"
    run_reporting_unreplayed(factory, profile, machine.failures, budget)
    if budget.completed == 0:
        raise NoEvidence(
            "the replication state machine",
            f"no example ran to its end within the {budget.soft:.0f}-s budget "
            f"({budget.elapsed():.0f} s spent of the test's {timeout:.0f}-s timeout, setup included)",
        )
    record(
        "machine_budget",
        system=system.name,
        examples_started=budget.examples,
        examples_completed=budget.completed,
        max_examples=profile.max_examples,
        cut_by_budget=budget.cut,
        seconds=round(budget.elapsed(), 1),
        budget_s=budget.soft,
    )
    allure.attach(
        f"{budget.completed} examples ran to their end ({budget.examples} started, "
        f"{profile.max_examples} asked) in {budget.elapsed():.0f} s"
        + (f" (the {budget.soft:.0f}-s budget ended the run)" if budget.cut else ""),
        "examples run",
        allure.attachment_type.TEXT,
    )
