"""Cluster side of the property tests: a watch on every copy of one object, and per-example setup.

:class:`NameWatch` keeps a value-free view of every Secret (or ConfigMap) with one name, in *all*
namespaces, current through one watch. Checks poll that local view (no API round trip per poll),
and every change is stamped with its arrival time, so latencies are the moments the API server
reported the copies, not the next poll. Watching cluster-wide is what lets "nowhere else" mean
nowhere: an object with the example's unique name in any namespace it did not expect is a stray.

:class:`ExampleEnv` is one Hypothesis example: fresh run-id-prefixed namespaces, the source, a
witness mirror, unrelated objects; everything it created is removed on exit, pass or fail.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from fixtures.clusters.cluster import Cluster
from fixtures.clusters.watch import CONFIGMAPS, SECRETS, Event, Watch
from fixtures.core.encoding import b64
from fixtures.core.record import record
from fixtures.core.waiting import assert_mapping_equal, eventually
from fixtures.systems import Declaration, ReplicationSystem, Source
from fixtures.systems.dialects import reflector as reflector_dialect
from fixtures.systems.driver import Driver
from properties import recording
from properties.model import (
    SLO_SECONDS,
    Kind,
    Names,
    SourceSpec,
    copy_view,
    first_last,
    mirror_view,
    object_view,
)

EXAMPLE_LABEL = "replicheck.io/example"
POLL = 0.02  # the local view is in memory: polling it is cheap
GIVE_UP_AFTER = 15.0  # seconds of failing watch requests before the watch counts as broken
View = dict[str, Any]


class WatchBroken(RuntimeError):
    """The watch could not be kept open; not an AssertionError, so waits stop at once."""


class NameWatch:
    """Views of every ``kind`` object called ``name`` in the cluster, kept current by one watch
    (fixtures.clusters.watch: resumed where it ended, re-listed after 410 Gone)."""

    def __init__(
        self, cluster: Cluster, kind: Kind, name: str, viewer: Callable[[Mapping[str, Any]], View]
    ) -> None:
        self.kind, self.name, self.viewer = kind, name, viewer
        self.views: dict[str, View] = {}
        self.history: list[tuple[float, str, View | None]] = []  # (arrival, namespace, view or deleted)
        self._lock = threading.Lock()
        self._watch = Watch(
            cluster.api.configuration,
            SECRETS if kind == "Secret" else CONFIGMAPS,
            self._apply,
            field_selector=f"metadata.name={name}",
            give_up_after=GIVE_UP_AFTER,
            name=f"watch-{name}",
        )

    # -- lifecycle -----------------------------------------------------------------------------
    def __enter__(self) -> NameWatch:
        self._watch.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._watch.stop()

    # -- reading -------------------------------------------------------------------------------
    def seen(self) -> int:
        """The newest resourceVersion the watch has delivered (events arrive in resourceVersion order)."""
        rv = self._watch.resource_version
        return int(rv) if rv.isdigit() else 0

    def wait_for(self, rv: str | None) -> None:
        """Read your writes: block until the watch has delivered the event of a write that returned
        ``rv``, so a check right after our own write never passes on the state before it."""
        if not rv or not rv.isdigit():
            return

        def delivered() -> None:
            self.snapshot()  # raises if the watch broke
            assert self.seen() >= int(rv), f"watch at {self.seen()}, write at {rv}"

        eventually(delivered, timeout=30, interval=0.005, description=f"the watch to deliver our write {rv}")

    def snapshot(self) -> dict[str, View]:
        if self._watch.broken:
            raise WatchBroken(f"watch on {self.kind} {self.name} broke: {self._watch.broken}")
        with self._lock:
            return dict(self.views)

    def arrivals(self, expected: Mapping[str, View | None], since: float) -> dict[str, float]:
        """For each namespace, when it first reached its expected view (None = deleted) after ``since``.

        Views are compared on the expected view's keys only.
        """
        out: dict[str, float] = {}
        with self._lock:
            history = list(self.history)
        for t, ns, view in history:
            if t < since or ns in out or ns not in expected:
                continue
            want = expected[ns]
            if (want is None and view is None) or (
                want is not None and view is not None and project(view, want) == want
            ):
                out[ns] = t
        return out

    # -- the watch's events (on its thread) ----------------------------------------------------
    def _apply(self, event: Event) -> None:
        ns = event.metadata.get("namespace", "")
        with self._lock:
            if event.type == "DELETED":
                self.views.pop(ns, None)
                self.history.append((event.at, ns, None))
            else:
                view = self.viewer({"kind": self.kind, **event.object})
                self.views[ns] = view
                self.history.append((event.at, ns, view))


def _newer(a: str | None, b: str | None) -> bool:
    """resourceVersions are opaque; compare them only when both are integers (etcd's are)."""
    return bool(a and b and a.isdigit() and b.isdigit() and int(a) > int(b))


def decided(
    expected: Mapping[str, View],
    snapshot: Mapping[str, View],
    *,
    final: bool = False,
    source_rv: str | None = None,
) -> str | None:
    """Why a mismatch can no longer resolve itself within the wait, if it cannot.

    * an object expected untouched (its view pins uid/resourceVersion) was replaced or written;
    * an object claims the source's current version (the system's ``version_of``) but not the
      expected content, or is a copy where none belongs (the system already processed this version);
    * ``final``: every expected namespace matches (the positive signal) yet objects exist elsewhere.
    """
    for ns, view in expected.items():
        got = snapshot.get(ns)
        if got is None:
            continue
        if "uid" in view and got.get("uid") != view["uid"]:
            return f"{ns}: the object expected untouched was replaced (uid {view['uid']} -> {got.get('uid')})"
        if "resourceVersion" in view and _newer(got.get("resourceVersion"), view["resourceVersion"]):
            return (
                f"{ns}: the object expected untouched was written "
                f"(resourceVersion {view['resourceVersion']} -> {got.get('resourceVersion')})"
            )
        rv = view.get("version") or source_rv
        if rv is not None and got.get("version") == rv and project(got, view) != view:
            return f"{ns} claims source version {rv} but differs from that version"
    strays = sorted(set(snapshot) - set(expected))
    for ns in strays:
        got = snapshot[ns]
        if source_rv is not None and got.get("copy") is not None and got.get("version") == source_rv:
            return f"{ns} holds a copy of the current source version {source_rv} where none belongs"
    if final and strays and all(project(snapshot.get(ns) or {}, v) == v for ns, v in expected.items()):
        return f"every expected namespace matches, yet objects exist in {strays}"
    return None


def project(view: View, like: View) -> View:
    """``view`` restricted to the keys of ``like`` (what an expectation cares about)."""
    return {k: view.get(k) for k in like}


def _strip_identity(view: View) -> View:
    return {k: v for k, v in view.items() if k not in ("uid", "resourceVersion")}


#: deviation key: a pull mirror whose source is deleted stays, with its data removed
EMPTIED_MIRROR = "neutral.pull.source-deleted"


def emptied(view: View) -> View:
    """``view`` with no payload (and no claimed version: what is left claims nothing)."""
    out = {k: v for k, v in view.items() if k != "version"}
    out["data"] = {}
    if "binaryData" in view:
        out["binaryData"] = {}
    return out


class ExampleEnv:
    """One example's namespaces and objects. Use as a context manager: everything is removed on exit."""

    def __init__(self, cluster: Cluster, system: ReplicationSystem, hint: str, kind: Kind = "Secret") -> None:
        self.cluster = cluster
        self.system = system
        self.hint = hint
        self.core = cluster.core
        self.kind: Kind = kind
        self.names = Names(cluster.namespace_name(hint))
        self.name = f"oci-creds-{secrets.token_hex(4)}"
        self.created: list[str] = []
        self.deleted: set[str] = set()
        self.watch = NameWatch(cluster, kind, self.name, lambda obj: self.view(obj, identity=True))

    @property
    def src_key(self) -> str:
        return f"{self.names.source}/{self.name}"

    @property
    def source(self) -> Source:
        return Source(self.kind, self.names.source, self.name)

    # -- the system's vocabulary, through its interface -----------------------------------------
    @property
    def pulls(self) -> bool:
        """Whether the witness is a pull mirror (else it is one more pushed copy)."""
        return bool(self.system.pull_targets)

    def view(self, obj: Mapping[str, Any], *, version: bool = True, identity: bool = False) -> View:
        return object_view(obj, self.system, self.source, version=version, identity=identity)

    def copy_view(self, spec: SourceSpec, rv: str | None, *, version: bool = True) -> View:
        return copy_view(spec, self.system, rv, version=version)

    def witness_view(self, spec: SourceSpec, rv: str | None, *, version: bool = True) -> View:
        """The witness filled with ``spec``: a pull mirror (its own type), or a copy."""
        if self.pulls:
            return mirror_view(spec, self.system, rv, version=version)
        return copy_view(spec, self.system, rv, version=version)

    def witness_kept(self, view: View) -> dict[str, View]:
        """After the source is deleted: a pull mirror stays as it was; a pushed witness copy goes.
        A profile documenting ``EMPTIED_MIRROR`` (kubernetes-replicator: the mirror stays, its data
        removed) is held to that instead: a documented difference, not a failure."""
        if not self.pulls:
            return {}
        if self.system.deviation(EMPTIED_MIRROR) is None:
            return {self.names.witness: view}
        return {self.names.witness: emptied(view)}

    def declaration(self, reflector: Mapping[str, str], targeted: list[str]) -> Declaration:
        """The example's declaration for the system under test. A system speaking the Reflector
        dialect gets the generated list text itself (its grammar is part of what Properties 5 and
        11 generate); any other system is told, through its interface, to push to the same targeted
        namespaces (and to the witness namespace, or to let the witness pull)."""
        if self.system.dialect == reflector_dialect.NAME:
            return Declaration(dict(reflector))
        if self.pulls:
            witness = self.system.target_for([self.names.witness], pull=True)
            return self.system.declare_with_pull(self.source, self.system.target_for(targeted), witness)
        return self.system.declare(self.source, self.system.target_for([self.names.witness, *targeted]))

    def __enter__(self) -> ExampleEnv:
        self.watch.__enter__()
        return self

    def __exit__(self, exc_type: object, *exc: object) -> None:
        try:
            self.watch.close()
        finally:
            alive = [ns for ns in self.created if ns not in self.deleted]
            if exc_type is None or not recording.keep_for_diagnostics(self.cluster, alive):
                for ns in alive:
                    self.cluster.delete_namespace(ns)

    # -- namespaces ------------------------------------------------------------------------------
    def create_namespace(self, name: str) -> str:
        self.cluster.create_namespace(
            hint=self.hint,
            labels={EXAMPLE_LABEL: self.names.prefix},
            name=name,
        )
        self.created.append(name)
        return name

    def delete_namespace(self, name: str) -> None:
        self.cluster.delete_namespace(name)
        self.deleted.add(name)

    # -- objects (raw JSON both ways: no model conversion of MiB payloads) ---------------------------
    def _written(self, response: Any) -> dict[str, Any]:
        obj = json.loads(response.data)
        self.watch.wait_for((obj.get("metadata") or {}).get("resourceVersion"))
        return obj

    def create(self, namespace: str, body: dict[str, Any]) -> dict[str, Any]:
        fn = (
            self.core.create_namespaced_secret
            if self.kind == "Secret"
            else self.core.create_namespaced_config_map
        )
        return self._written(fn(namespace, body, _preload_content=False))

    def replace(self, namespace: str, body: dict[str, Any]) -> dict[str, Any]:
        fn = (
            self.core.replace_namespaced_secret
            if self.kind == "Secret"
            else self.core.replace_namespaced_config_map
        )
        return self._written(fn(body["metadata"]["name"], namespace, body, _preload_content=False))

    def patch(self, namespace: str, patch: dict[str, Any]) -> dict[str, Any]:
        fn = (
            self.core.patch_namespaced_secret
            if self.kind == "Secret"
            else self.core.patch_namespaced_config_map
        )
        return self._written(fn(self.name, namespace, patch, _preload_content=False))

    def delete(self, namespace: str) -> None:
        """Delete the object in ``namespace``; returns once the watch no longer shows that object
        (a DELETE answers with a Status, no resourceVersion to wait for)."""
        fn = (
            self.core.delete_namespaced_secret
            if self.kind == "Secret"
            else self.core.delete_namespaced_config_map
        )
        before = self.watch.snapshot().get(namespace, {}).get("uid")
        _ = fn(self.name, namespace, _preload_content=False).data  # read fully: returns the connection

        def gone() -> None:
            now = self.watch.snapshot().get(namespace)
            assert now is None or now.get("uid") != before, f"{namespace}: the watch still shows {before}"

        what = f"the watch to deliver our delete in {namespace}"
        eventually(gone, timeout=30, interval=0.005, description=what)

    def create_source(self, spec: SourceSpec, declaration: Declaration) -> dict[str, Any]:
        created = self.create(self.names.source, spec.body(self.name, declaration))
        Driver(self.system, self.cluster).apply_resources(declaration)
        return created

    def replace_source(self, spec: SourceSpec, declaration: Declaration) -> dict[str, Any]:
        replaced = self.replace(self.names.source, spec.body(self.name, declaration))
        Driver(self.system, self.cluster).apply_resources(declaration)
        return replaced

    def create_witness(self) -> dict[str, Any] | None:
        """A same-name pull mirror (Opaque, empty) in the witness namespace, when the system has
        pull mirrors (None otherwise: the witness namespace then gets a pushed copy).

        The declaration always targets the witness, so every reconcile of a new source version fills
        it: its version is the positive signal that the system processed that version, before any
        "nowhere else" assertion.
        """
        if not self.pulls:
            return None
        meta = self.system.pull_mirror(self.source).metadata()
        body: dict[str, Any] = {"apiVersion": "v1", "kind": self.kind, "metadata": {"name": self.name}}
        body["metadata"]["annotations"] = meta["annotations"]
        if meta["labels"]:
            body["metadata"]["labels"] = meta["labels"]
        if self.kind == "Secret":
            body["type"] = "Opaque"
        return self.create(self.names.witness, body)

    def create_unrelated(self, namespace: str, tag: str) -> dict[str, Any]:
        """A same-name object nobody replicates: it must never be written or deleted."""
        body: dict[str, Any] = {
            "apiVersion": "v1",
            "kind": self.kind,
            "metadata": {
                "name": self.name,
                "labels": {"owner": "someone-else"},
                "annotations": {"owner": "someone-else"},
            },
        }
        if self.kind == "Secret":
            body["type"] = "Opaque"
            body["data"] = {"mine": b64(f"keep-{tag}".encode())}
        else:
            body["data"] = {"mine": f"keep-{tag}"}
        return self.create(namespace, body)

    # -- expectations ----------------------------------------------------------------------------
    def converge(
        self,
        expected: Mapping[str, View],
        *,
        description: str,
        ignore: Iterable[str] = (),
        deadline: float | None = None,
        final: bool = False,
        source_rv: str | None = None,
    ) -> None:
        """Wait until the objects called ``name`` in the whole cluster are exactly ``expected``
        (namespace → view; every other namespace must have none), namespaces in ``ignore`` aside.

        ``deadline`` is the monotonic time the awaited change was requested: the bound is then
        ``SLO_SECONDS`` from that moment, not from the call.

        The wait stops early, failing, once the outcome is decided (see :func:`decided`):
        ``source_rv`` is the source's current resourceVersion, ``final`` says that no deletion is
        pending (so an object where none is expected cannot go away by itself any more).
        """
        skip = set(ignore)
        timeout = SLO_SECONDS if deadline is None else max(0.0, deadline + SLO_SECONDS - time.monotonic())
        verdict: list[str] = []
        started = time.monotonic()

        def check() -> None:
            snapshot = {ns: v for ns, v in self.watch.snapshot().items() if ns not in skip}
            actual = {
                ns: project(v, expected[ns]) if ns in expected else _strip_identity(v)
                for ns, v in snapshot.items()
            }
            try:
                assert_mapping_equal(expected, actual, "namespace")
            except AssertionError as exc:
                if reason := decided(expected, snapshot, final=final, source_rv=source_rv):
                    # decided early: the other differences shown were the cluster at that moment,
                    # and may still have been on their way
                    when = (
                        f"decided {time.monotonic() - started:.1f} s into the {timeout:.0f}-s wait; "
                        "other namespaces as they were then"
                    )
                    verdict.append(f"{reason} ({when}):\n{exc}")
                    return
                raise

        eventually(check, timeout=timeout, interval=POLL, description=description)
        if verdict:
            raise AssertionError(f"{description}: {verdict[0]}")

    def latency(
        self,
        prop: str,
        event: str,
        expected: Mapping[str, View | None],
        since: float,
        **extra: Any,
    ) -> tuple[float | None, float | None]:
        """Record first/last arrival of ``expected`` after ``since`` (seconds) for the report."""
        arrivals = self.watch.arrivals(expected, since)
        first, last = first_last(arrivals, since)
        if first is not None:
            record(
                "latency",
                property=prop,
                event=event,
                object_kind=self.kind,
                first_copy_s=round(first, 4),
                last_copy_s=round(last or first, 4),
                copies=len(arrivals),
                **extra,
            )
        return first, last


def timed(action: Callable[[], Any]) -> tuple[float, Any]:
    """Run an API write; return the monotonic time just before it was sent, and its result."""
    start = time.monotonic()
    return start, action()
