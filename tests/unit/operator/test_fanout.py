"""The shared write threads: a small reconcile is served within a write or two of a big one's."""

from __future__ import annotations

import threading
from concurrent.futures import CancelledError

import pytest

from operator_under_test.replicator.fanout import FairPool, _Batch


def test_results_keep_the_items_order() -> None:
    pool = FairPool(4)
    try:
        assert pool.map(lambda x: x * x, list(range(50))) == [x * x for x in range(50)]
        assert pool.map(lambda x: x, []) == []
    finally:
        pool.shutdown()


def test_a_one_write_reconcile_does_not_wait_behind_a_big_fan_out() -> None:
    # setup: both regular threads busy with a 100-write batch, held at a gate
    pool = FairPool(2)
    log: list[tuple[str, int]] = []
    started, gate = threading.Semaphore(0), threading.Event()

    def big(i: int) -> None:
        log.append(("big", i))
        started.release()
        gate.wait(30)

    fan_out = threading.Thread(target=pool.map, args=(big, list(range(100))))
    fan_out.start()
    for _ in range(2):
        assert started.acquire(timeout=30)
    try:
        # assess: the small reconcile is written while every fan-out write is still held (express
        # thread), then the fan-out goes on
        pool.map(lambda i: log.append(("small", i)), [0])
        assert not gate.is_set()
        assert log == [("big", 0), ("big", 1), ("small", 0)]
        gate.set()
        fan_out.join(30)
        assert not fan_out.is_alive()
        assert len(log) == 101
    finally:
        # teardown
        gate.set()
        pool.shutdown()


def test_an_exception_reaches_the_reconcile_after_the_other_writes_ran() -> None:
    pool = FairPool(3)
    ran: list[int] = []

    def write(i: int) -> int:
        ran.append(i)
        if i == 2:
            raise ValueError("boom")
        return i

    try:
        with pytest.raises(ValueError, match="boom"):
            pool.map(write, list(range(6)))
        assert sorted(ran) == list(range(6))
    finally:
        pool.shutdown()


def test_shutdown_cancels_writes_not_started() -> None:
    pool = FairPool(1)
    gate, started = threading.Event(), threading.Event()
    outcome: list[BaseException] = []

    def write(i: int) -> None:
        started.set()
        gate.wait(30)

    def reconcile() -> None:
        try:
            pool.map(write, list(range(5)))
        except CancelledError as exc:
            outcome.append(exc)

    worker = threading.Thread(target=reconcile)
    worker.start()
    assert started.wait(30)
    stopper = threading.Thread(target=pool.shutdown)
    stopper.start()
    gate.set()
    stopper.join(30)
    worker.join(30)
    assert len(outcome) == 1
    with pytest.raises(CancelledError):
        pool.map(write, [1])


def test_submit_returns_at_once_and_the_last_write_calls_back() -> None:
    # setup: one thread held at a gate, so nothing can finish before submit returns
    pool = FairPool(1)
    gate, called = threading.Event(), threading.Event()
    outcome: list[tuple[list, list]] = []

    def write(i: int) -> int:
        gate.wait(30)
        if i == 1:
            raise ValueError("boom")
        return i

    def done(results: list, errors: list) -> None:
        outcome.append((results, errors))
        called.set()

    try:
        # assess: the caller is free while the writes wait; one callback with every result and error
        pool.submit(write, [0, 1, 2], done)
        assert not called.is_set()
        gate.set()
        assert called.wait(30)
        results, errors = outcome[0]
        assert results == [0, None, 2]
        assert [type(e) for e in errors] == [type(None), ValueError, type(None)]
        nothing: list[tuple[list, list]] = []
        pool.submit(write, [], lambda r, e: nothing.append((r, e)))
        assert nothing == [([], [])]
    finally:
        # teardown
        gate.set()
        pool.shutdown()


def test_a_new_batch_takes_the_next_free_thread() -> None:
    # setup: the only thread (no express thread) busy with the first of 50 writes of a fan-out
    pool = FairPool(1, express=0)
    log: list[str] = []
    started, gate, second_done = threading.Event(), threading.Event(), threading.Event()

    def big(i: int) -> None:
        log.append(f"big{i}")
        started.set()
        gate.wait(30)

    try:
        pool.submit(big, list(range(50)), lambda r, e: None)
        assert started.wait(30)
        pool.submit(lambda i: log.append(f"next{i}"), list(range(10)), lambda r, e: second_done.set())
        # assess: the new batch's first write runs right after the write in progress, then they
        # take turns
        gate.set()
        assert second_done.wait(30)
        assert log[:5] == ["big0", "next0", "big1", "next1", "big2"]
    finally:
        # teardown
        gate.set()
        pool.shutdown()


def test_no_fan_out_write_starts_while_a_small_write_is_in_flight() -> None:
    """The rule each free thread applies (checked under the pool's lock, so no thread moves)."""
    pool = FairPool(1, express=1)
    try:
        with pool._cond:
            big = _Batch(lambda i: i, list(range(10)), lambda r, e: None)
            pool._ready.append(big)
            pool._small_running = 1  # a new namespace's copy is being written
            assert pool._lane(express=False) is None
            assert pool._lane(express=True) is None
            pool._small_running = 0
            assert pool._lane(express=False) is pool._ready
            assert pool._lane(express=True) is None  # express threads never take fan-out writes
            pool._small.append(_Batch(lambda i: i, [0], lambda r, e: None))
            assert pool._lane(express=True) is pool._small
            assert pool._lane(express=False) is pool._small
            pool._ready.clear()
            pool._small.clear()
    finally:
        pool.shutdown()


def test_the_fan_out_resumes_once_the_small_write_is_done() -> None:
    pool = FairPool(2)
    hold, small_started = threading.Event(), threading.Event()

    def small(_: int) -> None:
        small_started.set()
        hold.wait(30)

    try:
        done = threading.Event()
        pool.submit(small, [0], lambda r, e: done.set())
        assert small_started.wait(30)
        fan_out = threading.Thread(target=pool.map, args=(lambda i: i, list(range(50))))
        fan_out.start()
        hold.set()
        fan_out.join(30)
        assert not fan_out.is_alive()
        assert done.wait(30)
    finally:
        hold.set()
        pool.shutdown()
