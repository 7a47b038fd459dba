"""Retry policy and a deduplicating work queue keyed by source.

The queue has client-go workqueue semantics: a key is queued at most once, a key being processed that
is added again is processed once more afterwards (never concurrently), and failures are re-queued with
capped exponential backoff plus jitter, so a persistent 403 or 5xx never becomes a hot loop (H5).

A key waits at most once (client-go's delaying queue: adding a key that already waits keeps the
earlier of the two times). Without that, every trigger that arrives while a key keeps failing (an
event, a resync, the failed attempt's own status write) starts one more retry chain that lasts as
long as the failure: the chains add up, and a long outage becomes the hot loop the backoff exists to
prevent.

Two lanes: an *urgent* key (one a new namespace needs, handed out before everything else) never
waits behind the keys of a resync, a re-list or a big fan-out's follow-up reconciles. A key queued in
both lanes is still handed out once (the other entry is skipped when it comes up).
"""

from __future__ import annotations

import heapq
import itertools
import random
import threading
import time
from collections import deque
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)


@dataclass(frozen=True)
class Backoff:
    """``min(cap, base * factor**attempt)``, scaled into ``[1 - jitter, 1]`` so it never drops to zero."""

    base: float = 0.2
    cap: float = 10.0
    factor: float = 2.0
    jitter: float = 0.5

    def __post_init__(self) -> None:
        if self.base <= 0 or self.cap < self.base or self.factor < 1 or not 0 <= self.jitter < 1:
            raise ValueError(f"invalid backoff policy {self}")

    def ceiling(self, attempt: int) -> float:
        """The un-jittered delay for the given 0-based attempt."""
        if attempt <= 0:
            return self.base
        # Avoid float overflow for huge attempt counts: the cap is reached long before.
        exp = min(attempt, 64)
        return min(self.cap, self.base * self.factor**exp)

    def delay(self, attempt: int, rng: Callable[[], float] = random.random) -> float:
        """Jittered delay; ``rng`` returns a float in [0, 1) (injectable for tests)."""
        ceiling = self.ceiling(attempt)
        return ceiling * (1.0 - self.jitter * rng())


class WorkQueue(Generic[K]):
    """Thread-safe dedup queue with delayed adds and per-key failure counting."""

    def __init__(self, backoff: Backoff | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        self.backoff = backoff or Backoff()
        self._clock = clock
        self._cond = threading.Condition()
        self._queue: deque[K] = deque()
        self._urgent: deque[K] = deque()
        self._urgent_keys: set[K] = set()  # dirty keys to hand out through the urgent lane
        self._dirty: set[K] = set()
        self._processing: set[K] = set()
        self._waiting: list[tuple[float, int, K]] = []
        self._ready_at: dict[K, float] = {}  # the one live waiting entry of each key (others are stale)
        self._seq = itertools.count()
        self._failures: dict[K, int] = {}
        self._observed: dict[K, float] = {}
        self._shutdown = False

    def __len__(self) -> int:
        with self._cond:
            return sum(1 for k in self._dirty if k not in self._processing) + len(self._ready_at)

    def add(
        self, key: K, delay: float = 0.0, observed_at: float | None = None, *, urgent: bool = False
    ) -> None:
        """Queue ``key`` (now, or after ``delay`` seconds). ``observed_at`` feeds the latency metric;
        ``urgent`` hands it out before every key of the ordinary lane."""
        with self._cond:
            if self._shutdown:
                return
            if observed_at is not None and key not in self._observed:
                self._observed[key] = observed_at
            if delay > 0:
                ready = self._clock() + delay
                if self._ready_at.get(key, float("inf")) <= ready:
                    return  # it already waits, and comes up sooner: no second retry chain
                self._ready_at[key] = ready
                heapq.heappush(self._waiting, (ready, next(self._seq), key))
                self._cond.notify()
                return
            self._add_now(key, urgent)

    def _add_now(self, key: K, urgent: bool = False) -> None:
        if urgent and key not in self._urgent_keys:
            self._urgent_keys.add(key)
            if key not in self._processing:
                self._urgent.append(key)  # also when already queued in the ordinary lane
            self._dirty.add(key)
            self._cond.notify()
            return
        if key in self._dirty:
            return
        self._dirty.add(key)
        if key not in self._processing:
            self._queue.append(key)
            self._cond.notify()

    def _pop(self) -> K | None:
        """The next key to hand out, urgent lane first; entries of keys already handed out are skipped."""
        for lane in (self._urgent, self._queue):
            while lane:
                key = lane.popleft()
                if key in self._dirty and key not in self._processing:
                    return key
        return None

    def add_rate_limited(self, key: K) -> float:
        """Re-queue after a failure with backoff; returns the delay chosen."""
        with self._cond:
            attempt = self._failures.get(key, 0)
            self._failures[key] = attempt + 1
        delay = self.backoff.delay(attempt)
        self.add(key, delay)
        return delay

    def failures(self, key: K) -> int:
        with self._cond:
            return self._failures.get(key, 0)

    def forget(self, key: K) -> None:
        """Reset the failure count after a success."""
        with self._cond:
            self._failures.pop(key, None)

    def _promote(self) -> float | None:
        now = self._clock()
        while self._waiting and self._waiting[0][0] <= now:
            ready, _, key = heapq.heappop(self._waiting)
            if self._ready_at.get(key) != ready:
                continue  # replaced by an earlier entry of the same key, which already came up
            del self._ready_at[key]
            self._add_now(key)
        while self._waiting and self._ready_at.get(self._waiting[0][2]) != self._waiting[0][0]:
            heapq.heappop(self._waiting)  # stale heads would only cause early wake-ups
        return self._waiting[0][0] - now if self._waiting else None

    def get(self, timeout: float | None = None) -> tuple[K, float | None] | None:
        """Next key and the time its oldest pending trigger was observed; ``None`` on timeout/shutdown."""
        deadline = None if timeout is None else self._clock() + timeout
        with self._cond:
            while True:
                if self._shutdown:
                    return None
                wait = self._promote()
                key = self._pop()
                if key is not None:
                    self._dirty.discard(key)
                    self._urgent_keys.discard(key)
                    self._processing.add(key)
                    return key, self._observed.pop(key, None)
                if deadline is not None:
                    left = deadline - self._clock()
                    if left <= 0:
                        return None
                    wait = left if wait is None else min(wait, left)
                self._cond.wait(wait)

    def done(self, key: K) -> None:
        """Mark processing finished; a key added meanwhile is queued again."""
        with self._cond:
            self._processing.discard(key)
            if key in self._dirty:
                (self._urgent if key in self._urgent_keys else self._queue).append(key)
                self._cond.notify()

    def shutdown(self) -> None:
        with self._cond:
            self._shutdown = True
            self._cond.notify_all()
