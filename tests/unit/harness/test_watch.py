"""The decisions of the one list-then-watch loop (fixtures.clusters.watch), on plain data: where a
watch resumes (bookmarks included), when it re-lists and what a re-list tells the consumer, when it
retries or gives up, and how a chunked stream becomes events. No API server, no fake of one."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

import pytest
from kubernetes import client

from fixtures.clusters.watch import (
    CONFIGMAPS,
    SECRETS,
    Action,
    Cursor,
    Ending,
    Lines,
    Resource,
    Step,
    key_of,
    next_action,
)


def obj(ns: str, name: str, rv: str, **data: str) -> dict[str, Any]:
    return {"metadata": {"namespace": ns, "name": name, "resourceVersion": rv}, "data": data}


def event(etype: str, body: Mapping[str, Any]) -> dict[str, Any]:
    return {"type": etype, "object": body}


def bookmark(rv: str) -> dict[str, Any]:
    return event("BOOKMARK", {"kind": "Secret", "metadata": {"resourceVersion": rv}})


def gone() -> dict[str, Any]:
    return event("ERROR", {"kind": "Status", "code": 410, "reason": "Expired", "message": "too old"})


def play(cursor: Cursor, events: Iterable[Mapping[str, Any]]) -> tuple[list[tuple[str, str]], Step | None]:
    """What the loop does with one stream: deliver, then advance; stop at a relist or a failure."""
    delivered: list[tuple[str, str]] = []
    for raw in events:
        step = cursor.receive(raw)
        if step.action == "deliver":
            delivered.append((step.type, "/".join(key_of(step.object))))
        elif step.action in ("relist", "fail"):
            return delivered, step
        cursor.advance(step)
    return delivered, None


def test_the_first_list_delivers_every_object_and_the_watch_starts_at_its_version() -> None:
    cursor = Cursor()
    assert cursor.stale  # nothing listed yet: a list comes first
    items = [obj("a", "s", "5"), obj("b", "s", "7")]
    assert [(t, key_of(o)) for t, o in cursor.relist(items)] == [("ADDED", ("a", "s")), ("ADDED", ("b", "s"))]
    assert cursor.resource_version == ""  # relist() only reads: the consumer is told first
    cursor.adopt(items, "9")
    assert (cursor.resource_version, cursor.stale, cursor.known) == ("9", False, {("a", "s"), ("b", "s")})


def test_a_watch_resumes_from_the_last_event_or_bookmark_seen() -> None:
    cursor = Cursor()
    cursor.adopt([], "10")
    delivered, stop = play(
        cursor,
        [
            event("ADDED", obj("a", "s", "11")),
            event("MODIFIED", obj("a", "s", "12")),
            bookmark("20"),
            event("DELETED", obj("a", "s", "21")),
            bookmark(""),  # a bookmark without a version moves nothing
        ],
    )
    assert delivered == [("ADDED", "a/s"), ("MODIFIED", "a/s"), ("DELETED", "a/s")]
    assert stop is None
    assert cursor.resource_version == "21"
    assert cursor.known == set()
    # the stream ended (server timeout, cut connection): resume from there, no list
    assert next_action(Ending.CLOSED, None, 15.0) is Action.RESUME
    assert not cursor.stale


def test_the_resume_point_moves_only_after_the_event_was_delivered() -> None:
    cursor = Cursor()
    cursor.adopt([], "10")
    step = cursor.receive(event("ADDED", obj("a", "s", "11")))
    assert (step.action, cursor.resource_version) == ("deliver", "10")
    cursor.advance(step)
    assert cursor.resource_version == "11"


def test_410_gone_asks_for_a_relist_and_keeps_the_old_resume_point_until_then() -> None:
    cursor = Cursor()
    cursor.adopt([obj("a", "s", "5")], "10")
    delivered, stop = play(cursor, [event("MODIFIED", obj("a", "s", "11")), gone(), bookmark("99")])
    assert delivered == [("MODIFIED", "a/s")]
    assert stop is not None
    assert stop.action == "relist"
    assert "410" in stop.reason
    assert cursor.resource_version == "11"  # the bookmark after the error was never read
    assert next_action(Ending.GONE, None, 15.0) is Action.RELIST
    cursor.advance(stop)
    assert cursor.stale


def test_a_relist_tells_what_changed_and_what_went_while_the_watch_was_gone() -> None:
    cursor = Cursor()
    cursor.adopt([obj("a", "s", "5"), obj("b", "s", "6"), obj("c", "s", "7")], "10")
    listed = [obj("a", "s", "30"), obj("d", "s", "31")]
    events = cursor.relist(listed)
    assert [(t, key_of(o)) for t, o in events] == [
        ("MODIFIED", ("a", "s")),
        ("ADDED", ("d", "s")),
        ("DELETED", ("b", "s")),
        ("DELETED", ("c", "s")),
    ]
    assert events[2][1] == {"metadata": {"namespace": "b", "name": "s"}}  # a tombstone: the key only
    cursor.adopt(listed, "32")
    assert (cursor.resource_version, cursor.known) == ("32", {("a", "s"), ("d", "s")})


def test_a_cluster_scoped_tombstone_has_no_namespace() -> None:
    cursor = Cursor()
    cursor.adopt([{"metadata": {"name": "cr", "resourceVersion": "1"}}], "2")
    assert cursor.relist([]) == [("DELETED", {"metadata": {"name": "cr"}})]


def test_from_now_knows_nothing_so_a_later_relist_adds_without_deleting() -> None:
    cursor = Cursor()
    cursor.start_from("100")
    assert (cursor.resource_version, cursor.stale, cursor.known) == ("100", False, set())
    delivered, _ = play(cursor, [event("MODIFIED", obj("a", "s", "101"))])
    assert delivered == [("MODIFIED", "a/s")]
    cursor.advance(Step("relist"))
    assert [t for t, _ in cursor.relist([obj("a", "s", "150"), obj("b", "s", "120")])] == [
        "MODIFIED",
        "ADDED",
    ]


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (event("ERROR", {"kind": "Status", "code": 500, "reason": "InternalError", "message": "x"}), "500"),
        ({"type": "SURPRISE", "object": {}}, "SURPRISE"),
    ],
)
def test_other_errors_fail_the_attempt_without_moving(raw: dict[str, Any], reason: str) -> None:
    cursor = Cursor()
    cursor.adopt([], "10")
    delivered, stop = play(cursor, [raw])
    assert delivered == []
    assert stop is not None
    assert stop.action == "fail"
    assert reason in stop.reason
    assert (cursor.resource_version, cursor.stale) == ("10", False)


def test_failures_retry_until_they_last_longer_than_allowed() -> None:
    assert next_action(Ending.FAILED, 0.0, 15.0) is Action.RETRY
    assert next_action(Ending.FAILED, 15.0, 15.0) is Action.RETRY
    assert next_action(Ending.FAILED, 15.1, 15.0) is Action.GIVE_UP
    assert next_action(Ending.FAILED, 3600.0, None) is Action.RETRY  # None: until stopped
    # a 410 or a clean end is not a failure, however long failures lasted before
    assert next_action(Ending.GONE, 99.0, 15.0) is Action.RELIST
    assert next_action(Ending.CLOSED, 99.0, 15.0) is Action.RESUME


def test_a_chunked_stream_becomes_whole_events() -> None:
    first, second = json.dumps(event("ADDED", obj("a", "s", "1"))), json.dumps(bookmark("2"))
    stream = (first + "\n\n" + second + "\n").encode()
    lines = Lines()
    got: list[bytes] = []
    # ragged chunk boundaries: inside an event, right after a newline, inside the blank line
    chunks = [stream[:5], stream[5:40], stream[40 : len(first) + 1], stream[len(first) + 1 :]]
    for chunk in chunks:
        got += lines.feed(chunk)
    assert [json.loads(line) for line in got] == [json.loads(first), json.loads(second)]
    assert lines.feed(b'{"type": "ADDED"') == []  # half an event waits for the rest
    assert lines.feed(b', "object": {}}\n') == [b'{"type": "ADDED", "object": {}}']


def test_the_resources_name_their_generated_list_calls() -> None:
    with client.ApiClient(client.Configuration()) as api:  # no request is made
        assert SECRETS.lister(api, None).__name__ == "list_secret_for_all_namespaces"
        namespaced = CONFIGMAPS.lister(api, "ns")
        assert (namespaced.func.__name__, namespaced.args) == ("list_namespaced_config_map", ("ns",))
        custom = Resource("configmirrors", "replicheck.dev", "v1alpha1").lister(api, None)
        assert (custom.func.__name__, custom.args) == (
            "list_cluster_custom_object",
            ("replicheck.dev", "v1alpha1", "configmirrors"),
        )
        with pytest.raises(ValueError, match="pods"):
            Resource("pods").lister(api, None)
