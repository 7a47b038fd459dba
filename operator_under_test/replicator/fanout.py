"""The write threads every reconcile shares, handed out round-robin between reconciles.

Why not a plain thread pool: its queue is first-in first-out, so the single write of a new
namespace's copy waited behind every write of a 1000-copy fan-out submitted just before it (seconds).
Here each reconcile's writes form a batch, and the threads take one write from each waiting batch in
turn: a small reconcile finishes after about one write's time whatever else is in flight, while the
total concurrency (and so the load on the API server) stays ``threads``.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import CancelledError
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")


class _Batch(Generic[T, R]):
    def __init__(self, fn: Callable[[T], R], items: Sequence[T]) -> None:
        self.fn, self.items = fn, items
        self.next = 0  # index of the next item to hand out
        self.left = len(items)  # items not finished yet
        self.results: list[R | None] = [None] * len(items)
        self.errors: list[BaseException | None] = [None] * len(items)
        self.done = threading.Event()


class FairPool:
    """``map`` blocks its caller until its items ran; batches are served round-robin."""

    def __init__(self, threads: int, name: str = "write") -> None:
        self._cond = threading.Condition()
        self._ready: deque[_Batch] = deque()  # batches with items not handed out yet
        self._stopping = False
        self._threads = [
            threading.Thread(target=self._serve, name=f"{name}-{i}", daemon=True)
            for i in range(max(1, threads))
        ]
        for thread in self._threads:
            thread.start()

    def map(self, fn: Callable[[T], R], items: Sequence[T]) -> list[R]:
        """Run ``fn`` on every item; results in order. The first exception is re-raised."""
        if not items:
            return []
        batch: _Batch[T, R] = _Batch(fn, items)
        with self._cond:
            if self._stopping:
                raise CancelledError("the write pool is shut down")
            self._ready.append(batch)
            self._cond.notify(len(items))
        batch.done.wait()
        for error in batch.errors:
            if error is not None:
                raise error
        return batch.results  # type: ignore[return-value]  # every slot is filled once done is set

    def _take(self) -> tuple[_Batch, int] | None:
        with self._cond:
            while not self._ready and not self._stopping:
                self._cond.wait()
            if self._stopping:
                return None
            batch = self._ready.popleft()
            index = batch.next
            batch.next += 1
            if batch.next < len(batch.items):
                self._ready.append(batch)  # back of the line: the others get a turn first
            return batch, index

    def _serve(self) -> None:
        while (taken := self._take()) is not None:
            batch, index = taken
            try:
                batch.results[index] = batch.fn(batch.items[index])
            except BaseException as exc:  # handed to the caller of map, like Future.result()
                batch.errors[index] = exc
            with self._cond:
                batch.left -= 1
                if batch.left == 0:
                    batch.done.set()

    def shutdown(self, timeout: float = 10.0) -> None:
        """Stop handing out writes; writes not started fail their batch with CancelledError."""
        with self._cond:
            self._stopping = True
            pending = list(self._ready)
            self._ready.clear()
            self._cond.notify_all()
        for batch in pending:
            with self._cond:
                for index in range(batch.next, len(batch.items)):
                    batch.errors[index] = CancelledError("the write pool is shut down")
                    batch.left -= 1
                batch.next = len(batch.items)
                if batch.left == 0:
                    batch.done.set()
        for thread in self._threads:
            thread.join(timeout)
