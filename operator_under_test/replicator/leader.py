"""Leader election on a ``coordination.k8s.io/v1`` Lease (client-go's algorithm, simplified).

Only the holder writes copies; followers keep warm caches so a takeover costs one lease period, not a
full re-list. The lease is released on SIGTERM (holder cleared), so a rolling update hands over at
once; a crashed leader is replaced after ``lease_duration`` seconds. Expiry is judged by how long
*we* have seen the same record unchanged (immune to clock skew), plus a generous wall-clock check so a
fresh process does not wait for a leader that died long ago.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from .kube import LEASES, Kube, KubeError

log = logging.getLogger("replicator.leader")

_FMT = "%Y-%m-%dT%H:%M:%S.%fZ"


def micro_time(dt: datetime) -> str:
    return dt.astimezone(UTC).strftime(_FMT)


def parse_micro_time(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


@dataclass(frozen=True)
class LeaseRecord:
    holder: str
    duration: int
    renew_time: str
    transitions: int

    @classmethod
    def from_lease(cls, lease: dict[str, Any]) -> LeaseRecord:
        spec = lease.get("spec") or {}
        return cls(
            holder=spec.get("holderIdentity") or "",
            duration=int(spec.get("leaseDurationSeconds") or 0),
            renew_time=spec.get("renewTime") or "",
            transitions=int(spec.get("leaseTransitions") or 0),
        )


def can_acquire(
    record: LeaseRecord, me: str, observed_for: float, now: datetime, default_duration: float
) -> bool:
    """May ``me`` take (or keep) the lease given how long the current record has been observed unchanged."""
    if not record.holder or record.holder == me:
        return True
    duration = record.duration or default_duration
    if observed_for > duration:
        return True
    renewed = parse_micro_time(record.renew_time)
    return renewed is not None and renewed + timedelta(seconds=2 * duration) < now


class LeaderElector(threading.Thread):
    """Acquire/renew loop; calls ``on_change(True/False)`` on transitions."""

    def __init__(
        self,
        kube: Kube,
        namespace: str,
        name: str,
        identity: str,
        on_change: Callable[[bool], None],
        *,
        lease_duration: float = 15.0,
        renew_deadline: float = 10.0,
        retry_period: float = 2.0,
    ) -> None:
        super().__init__(name="leader-elector", daemon=True)
        if not retry_period < renew_deadline < lease_duration:
            raise ValueError("need retry_period < renew_deadline < lease_duration")
        self.kube, self.namespace, self.lease_name, self.identity = kube, namespace, name, identity
        self.on_change = on_change
        self.lease_duration, self.renew_deadline, self.retry_period = (
            lease_duration,
            renew_deadline,
            retry_period,
        )
        self.stop_event = threading.Event()
        self.leading = False
        self._observed: LeaseRecord | None = None
        self._observed_at = 0.0
        self._last_renew = 0.0
        self._lock = threading.Lock()

    def _spec(self, old: LeaseRecord | None, lease: dict[str, Any] | None) -> dict[str, Any]:
        now = micro_time(datetime.now(UTC))
        old_spec = (lease or {}).get("spec") or {}
        ours = old is not None and old.holder == self.identity
        return {
            "holderIdentity": self.identity,
            "leaseDurationSeconds": int(self.lease_duration),
            "acquireTime": old_spec.get("acquireTime") if ours and old_spec.get("acquireTime") else now,
            "renewTime": now,
            "leaseTransitions": (old.transitions if old else 0)
            + (0 if ours or old is None or not old.holder else 1),
        }

    def try_acquire_or_renew(self) -> bool:
        path = LEASES.item(self.namespace, self.lease_name)
        try:
            lease = self.kube.request("GET", path, verb="get", resource="leases")
        except KubeError as exc:
            if exc.status != 404:
                raise
            body = {
                "apiVersion": "coordination.k8s.io/v1",
                "kind": "Lease",
                "metadata": {"name": self.lease_name, "namespace": self.namespace},
                "spec": self._spec(None, None),
            }
            try:
                self.kube.request(
                    "POST", LEASES.collection(self.namespace), body=body, verb="create", resource="leases"
                )
            except KubeError as exc2:
                if exc2.status == 409:
                    return False
                raise
            return True
        record = LeaseRecord.from_lease(lease)
        mono = time.monotonic()
        if record != self._observed:
            self._observed, self._observed_at = record, mono
        if not can_acquire(
            record, self.identity, mono - self._observed_at, datetime.now(UTC), self.lease_duration
        ):
            return False
        lease["spec"] = self._spec(record, lease)
        try:
            self.kube.request("PUT", path, body=lease, verb="update", resource="leases")
        except KubeError as exc:
            if exc.status == 409:
                return False
            raise
        return True

    def _set(self, leading: bool) -> None:
        if leading != self.leading:
            self.leading = leading
            log.info(
                "leadership " + ("acquired" if leading else "lost"),
                extra={"identity": self.identity, "lease": f"{self.namespace}/{self.lease_name}"},
            )
            self.on_change(leading)

    def run(self) -> None:
        failures = 0
        while not self.stop_event.is_set():
            with self._lock:
                try:
                    ok = self.try_acquire_or_renew()
                    failures = 0
                except KubeError as exc:
                    ok = False
                    failures += 1
                    if failures == 1 or failures % 30 == 0:
                        log.warning(
                            "lease request failed",
                            extra={"status": exc.status, "error": exc.category, "detail": exc.message[:200]},
                        )
                except Exception:  # never let the elector die: a leader would stop renewing, silently
                    ok = False
                    failures += 1
                    log.exception("unexpected lease error")
                now = time.monotonic()
                if ok:
                    self._last_renew = now
                    self._set(True)
                elif self.leading and now - self._last_renew > self.renew_deadline:
                    self._set(False)
            self.stop_event.wait(self.retry_period)

    def holds_lease(self) -> bool:
        """Leading and renewed within the renew deadline (monotonic time keeps running while the
        process is frozen, so a thawed ex-leader sees at once that its lease is stale)."""
        return self.leading and time.monotonic() - self._last_renew < self.renew_deadline

    def release(self) -> None:
        """Stop renewing and hand the lease over at once (called on SIGTERM)."""
        self.stop_event.set()
        with self._lock:
            if not self.leading:
                return
            self._set(False)
            path = LEASES.item(self.namespace, self.lease_name)
            try:
                lease = self.kube.request("GET", path, verb="get", resource="leases")
                if (lease.get("spec") or {}).get("holderIdentity") == self.identity:
                    lease["spec"]["holderIdentity"] = ""
                    lease["spec"]["leaseDurationSeconds"] = 1
                    lease["spec"]["renewTime"] = micro_time(datetime.now(UTC))
                    self.kube.request("PUT", path, body=lease, verb="update", resource="leases")
                    log.info("lease released", extra={"identity": self.identity})
            except KubeError as exc:
                log.warning("lease release failed", extra={"status": exc.status, "error": exc.category})
