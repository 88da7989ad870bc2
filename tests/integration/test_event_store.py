"""The event store on real PostgreSQL: append-only, optimistic concurrency, commit-safe tailing.

Every test gets a fresh migrated database (`database_url`). Low-level tests drive
`ledger.store.events` on raw psycopg connections, so each transaction's boundaries are explicit.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import psycopg
import pytest
from psycopg import errors as pg_errors

from ledger import Ledger, RateLimitError, limits
from ledger.domain.customer import CustomerCreated, CustomerUpdated, decide_create
from ledger.domain.events import DomainEvent, register_upcaster
from ledger.ids import new_id
from ledger.services import runner
from ledger.store.events import (
    START,
    ConcurrencyConflict,
    LogPosition,
    NewEvent,
    RecordedEvent,
    append,
    read_all,
    read_stream,
)

ACCOUNT = "acct_1EventStoreTest"
NOW = datetime(2024, 11, 20, 12, 0, tzinfo=UTC)
WAIT_SECONDS = 20.0  # only reached when something is broken (or the server is very busy)


# -- helpers ---------------------------------------------------------------------------------


def connect(url: str, *, autocommit: bool = False) -> psycopg.Connection[Any]:
    return psycopg.connect(url, autocommit=autocommit)


def created_event(customer_id: str) -> CustomerCreated:
    (event,) = decide_create(customer_id, int(NOW.timestamp()), "ABCD1234", {})
    assert isinstance(event, CustomerCreated)
    return event


def append_new_customer(cur: psycopg.Cursor[Any], account_id: str = ACCOUNT) -> RecordedEvent:
    customer_id = new_id("cus")
    (recorded,) = append(
        cur, account_id, [NewEvent(customer_id, 1, created_event(customer_id))], {}, NOW
    )
    return recorded


def all_positions(url: str) -> list[int]:
    with connect(url, autocommit=True) as conn:
        return [row[0] for row in conn.execute("SELECT position FROM events ORDER BY position")]


def read_until(
    conn: psycopg.Connection[Any], after: LogPosition, count: int, limit: int = 1000
) -> list[RecordedEvent]:
    """Tail from `after` until `count` events arrived (the watermark may lag a moment)."""
    seen: list[RecordedEvent] = []
    deadline = time.monotonic() + WAIT_SECONDS
    while len(seen) < count:
        batch = read_all(conn, after, limit)
        if batch:
            seen.extend(batch)
            after = batch[-1].log_position
        elif time.monotonic() > deadline:
            pytest.fail(f"read_all delivered {len(seen)} of {count} events")
        else:
            time.sleep(0.005)
    return seen


def wait_until_blocked_on_lock(url: str, backend_pid: int) -> None:
    """Wait until the backend `backend_pid` is waiting for a heavyweight lock."""
    deadline = time.monotonic() + WAIT_SECONDS
    with connect(url, autocommit=True) as conn:
        while True:
            row = conn.execute(
                "SELECT wait_event_type FROM pg_stat_activity WHERE pid = %s", (backend_pid,)
            ).fetchone()
            if row is not None and row[0] == "Lock":
                return
            assert time.monotonic() < deadline, f"backend {backend_pid} never blocked: {row}"
            time.sleep(0.005)


# -- 1. append-only --------------------------------------------------------------------------

CHANGES = [
    ("UPDATE", "UPDATE events SET type = 'customer.deleted' WHERE position = %s"),
    ("DELETE", "DELETE FROM events WHERE position = %s"),
    ("TRUNCATE", "TRUNCATE events"),
    ("TRUNCATE", "TRUNCATE events CASCADE"),
]


@pytest.mark.parametrize(("operation", "sql"), CHANGES, ids=[sql for _, sql in CHANGES])
@pytest.mark.parametrize("autocommit", [True, False], ids=["autocommit", "transaction"])
def test_events_reject_update_delete_truncate(
    database_url: str, operation: str, sql: str, autocommit: bool
) -> None:
    with connect(database_url, autocommit=True) as conn, conn.cursor() as cur:
        recorded = append_new_customer(cur)
    before = all_positions(database_url)
    assert before == [recorded.position]

    with connect(database_url, autocommit=autocommit) as conn:
        params = (recorded.position,) if "%s" in sql else None
        with pytest.raises(pg_errors.InsufficientPrivilege) as raised:
            conn.execute(sql, params)
        if not autocommit:
            conn.rollback()
    assert raised.value.diag.message_primary == f"events is append-only: {operation} is not allowed"
    assert raised.value.sqlstate == "42501"  # insufficient_privilege

    assert all_positions(database_url) == before
    with connect(database_url, autocommit=True) as conn:
        (stored,) = read_stream(conn, ACCOUNT, recorded.stream_id)
    assert stored.type == "customer.created"
    assert stored.event == recorded.event


def test_events_are_append_only_on_a_ledgers_database(led: Ledger, database_url: str) -> None:
    """The trigger guards rows the library wrote, for any client of the database."""
    led.customers.create(email="jenny@example.com")
    with connect(database_url, autocommit=True) as conn:
        for sql in ("UPDATE events SET data = '{}'", "DELETE FROM events", "TRUNCATE events"):
            with pytest.raises(psycopg.Error, match="append-only"):
                conn.execute(sql)
        (count,) = conn.execute("SELECT count(*) FROM events").fetchone() or (0,)
    assert count == 1 + 1  # and the platform's Account object, opened with the ledger


# -- 2. two writers on one stream ------------------------------------------------------------


def _stream_with_one_event(url: str) -> str:
    with connect(url, autocommit=True) as conn, conn.cursor() as cur:
        return append_new_customer(cur).stream_id


def _update(stream_id: str, version: int, marker: str) -> list[NewEvent]:
    return [NewEvent(stream_id, version, CustomerUpdated(changes={"name": marker}))]


def _versions(url: str, stream_id: str) -> list[tuple[int, str]]:
    """(version, name written by the update) of every event of the stream."""
    with connect(url, autocommit=True) as conn:
        return [
            (
                e.stream_version,
                e.event.changes["name"] if isinstance(e.event, CustomerUpdated) else "",
            )
            for e in read_stream(conn, ACCOUNT, stream_id)
        ]


def test_second_writer_of_a_version_waits_then_conflicts(database_url: str) -> None:
    stream_id = _stream_with_one_event(database_url)
    with connect(database_url) as conn_a, connect(database_url) as conn_b:
        append(conn_a.cursor(), ACCOUNT, _update(stream_id, 2, "A"), {}, NOW)

        def writer_b() -> None:
            append(conn_b.cursor(), ACCOUNT, _update(stream_id, 2, "B"), {}, NOW)

        with ThreadPoolExecutor(1) as pool:
            b_done = pool.submit(writer_b)
            # B cannot know who wins until A ends: it waits on A's index entry.
            wait_until_blocked_on_lock(database_url, conn_b.info.backend_pid)
            assert not b_done.done()
            conn_a.commit()
            with pytest.raises(ConcurrencyConflict, match="events_stream_version"):
                b_done.result(timeout=WAIT_SECONDS)
        conn_b.rollback()
    assert _versions(database_url, stream_id) == [(1, ""), (2, "A")]


def test_second_writer_of_a_version_wins_when_the_first_rolls_back(database_url: str) -> None:
    stream_id = _stream_with_one_event(database_url)
    with connect(database_url) as conn_a, connect(database_url) as conn_b:
        append(conn_a.cursor(), ACCOUNT, _update(stream_id, 2, "A"), {}, NOW)
        with ThreadPoolExecutor(1) as pool:
            b_done = pool.submit(
                append, conn_b.cursor(), ACCOUNT, _update(stream_id, 2, "B"), {}, NOW
            )
            wait_until_blocked_on_lock(database_url, conn_b.info.backend_pid)
            conn_a.rollback()
            (recorded,) = b_done.result(timeout=WAIT_SECONDS)
        conn_b.commit()
    assert recorded.stream_version == 2
    assert _versions(database_url, stream_id) == [(1, ""), (2, "B")]


def test_writer_that_read_a_stale_version_conflicts_at_once(database_url: str) -> None:
    stream_id = _stream_with_one_event(database_url)
    with connect(database_url) as conn_a, connect(database_url) as conn_b:
        # Both transactions are open and have seen version 1 before either appends.
        for conn in (conn_a, conn_b):
            (version,) = conn.execute(
                "SELECT max(stream_version) FROM events WHERE stream_id = %s", (stream_id,)
            ).fetchone() or (0,)
            assert version == 1
        append(conn_a.cursor(), ACCOUNT, _update(stream_id, 2, "A"), {}, NOW)
        conn_a.commit()
        with pytest.raises(ConcurrencyConflict):
            append(conn_b.cursor(), ACCOUNT, _update(stream_id, 2, "B"), {}, NOW)
        conn_b.rollback()
        # A batch that collides on any of its events is refused whole.
        batch = _update(stream_id, 3, "B3") + _update(stream_id, 2, "B2")
        with pytest.raises(ConcurrencyConflict):
            append(conn_b.cursor(), ACCOUNT, batch, {}, NOW)
        conn_b.rollback()
    assert _versions(database_url, stream_id) == [(1, ""), (2, "A")]


THREADS = 8
UPDATES_PER_THREAD = 5
assert THREADS * UPDATES_PER_THREAD <= limits.METADATA_KEYS_MAX


@pytest.fixture
def append_calls(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """The thread name of every call the runner makes to `append` (one per attempt)."""
    calls: list[str] = []
    real_append = runner.append

    def counting_append(*args: Any, **kwargs: Any) -> list[RecordedEvent]:
        calls.append(threading.current_thread().name)
        return real_append(*args, **kwargs)

    monkeypatch.setattr(runner, "append", counting_append)
    yield calls


def test_concurrent_updates_of_one_customer_all_land(
    led: Ledger, database_url: str, append_calls: list[str]
) -> None:
    customer = led.customers.create(email="jenny@example.com")
    updates = THREADS * UPDATES_PER_THREAD
    start = threading.Barrier(THREADS)
    attempts_max = 0

    def worker(thread_index: int) -> list[str]:
        nonlocal attempts_max
        name = threading.current_thread().name
        start.wait()
        keys = []
        for n in range(UPDATES_PER_THREAD):
            key = f"k{thread_index * UPDATES_PER_THREAD + n}"
            before = append_calls.count(name)
            updated = led.customers.update(customer.id, metadata={key: "v"})
            attempts_max = max(attempts_max, append_calls.count(name) - before)
            assert updated.metadata[key] == "v"
            keys.append(key)
        return keys

    with ThreadPoolExecutor(THREADS) as pool:
        written = [key for keys in pool.map(worker, range(THREADS)) for key in keys]

    assert len(written) == updates
    final = led.customers.retrieve(customer.id)
    assert final.to_dict()["metadata"] == dict.fromkeys(written, "v")
    with connect(database_url, autocommit=True) as conn:
        versions = [
            row[0]
            for row in conn.execute(
                "SELECT stream_version FROM events WHERE stream_id = %s ORDER BY position",
                (customer.id,),
            )
        ]
        (stripe_updated,) = conn.execute(
            "SELECT count(*) FROM stripe_events WHERE type = 'customer.updated'"
        ).fetchone() or (0,)
        (object_version,) = conn.execute(
            "SELECT stream_version FROM objects WHERE id = %s", (customer.id,)
        ).fetchone() or (0,)
    assert versions == list(range(1, updates + 2))
    assert stripe_updated == updates
    assert object_version == updates + 1
    # A command that lost a race retries holding the stream's lock, so it cannot lose again.
    assert 1 <= attempts_max <= 2
    assert updates <= len(append_calls) - 1 <= 2 * updates


def test_retries_exhausted_raise_lock_timeout(
    led: Ledger, database_url: str, monkeypatch: pytest.MonkeyPatch, append_calls: list[str]
) -> None:
    customer = led.customers.create(email="jenny@example.com", metadata={"a": "1"})
    # Version 2 is taken in the log by a writer the projection never saw: every attempt reads
    # version 1 and collides on the unique (account, stream, version) index.
    with connect(database_url, autocommit=True) as conn, conn.cursor() as cur:
        append(
            cur,
            led.platform_account_id,
            _update(customer.id, 2, "elsewhere"),
            {},
            NOW,
        )
    monkeypatch.setattr(limits, "COMMAND_RETRIES_MAX", 3)
    append_calls.clear()

    with pytest.raises(RateLimitError) as raised:
        led.customers.update(customer.id, metadata={"b": "2"})

    error = raised.value
    assert error.code == "lock_timeout"
    assert error.http_status == 429
    assert error.to_dict()["error"]["type"] == "invalid_request_error"
    assert error.request_id is not None and error.request_id.startswith("req_")
    assert len(append_calls) == 3
    assert led.customers.retrieve(customer.id).to_dict()["metadata"] == {"a": "1"}
    with connect(database_url, autocommit=True) as conn:
        (count,) = conn.execute("SELECT count(*) FROM events").fetchone() or (0,)
    assert count == 2 + 1  # and the platform's Account object, opened with the ledger


# -- 3. tailing read_all while writers commit out of order -----------------------------------


def test_reader_never_passes_an_open_transaction(database_url: str) -> None:
    with (
        connect(database_url, autocommit=True) as setup,
        connect(database_url) as conn_a,
        connect(database_url) as conn_b,
        connect(database_url, autocommit=True) as reader,
    ):
        earlier = [append_new_customer(setup.cursor()) for _ in range(2)]

        event_a = append_new_customer(conn_a.cursor())  # A holds the smaller position, open
        event_b = append_new_customer(conn_b.cursor())
        conn_b.commit()
        assert event_a.position < event_b.position
        assert event_a.transaction_id < event_b.transaction_id

        seen = read_until(reader, START, len(earlier))
        assert [e.position for e in seen] == [e.position for e in earlier]
        # B is committed and visible to plain queries, yet the tail holds it back behind A.
        (visible,) = setup.execute(
            "SELECT count(*) FROM events WHERE position = %s", (event_b.position,)
        ).fetchone() or (0,)
        assert visible == 1
        for _ in range(5):
            assert read_all(reader, seen[-1].log_position) == []
            assert all(e.transaction_id < event_a.transaction_id for e in read_all(reader))

        conn_a.commit()
        rest = read_until(reader, seen[-1].log_position, 2)
        seen += rest
        assert [e.position for e in rest] == [event_a.position, event_b.position]
        assert read_all(reader, seen[-1].log_position) == []
        assert [e.position for e in read_all(reader)] == [e.position for e in seen]

    positions = [e.position for e in seen]
    assert len(positions) == len(set(positions))
    assert sorted(positions) == all_positions(database_url)


def test_reader_resumes_from_a_cursor_past_a_later_position(database_url: str) -> None:
    """Commit order differs from position order: a position cursor would skip A's event."""
    with (
        connect(database_url) as conn_a,
        connect(database_url) as conn_b,
        connect(database_url, autocommit=True) as reader,
    ):
        conn_b.execute("SELECT pg_current_xact_id()")  # B's transaction id is the smaller
        event_a = append_new_customer(conn_a.cursor())
        event_b = append_new_customer(conn_b.cursor())
        conn_b.commit()
        assert event_a.position < event_b.position
        assert event_b.transaction_id < event_a.transaction_id

        (first,) = read_until(reader, START, 1)
        assert first.position == event_b.position
        cursor = first.log_position
        assert read_all(reader, cursor) == []

        conn_a.commit()
        (second,) = read_until(reader, cursor, 1)
        assert second.position == event_a.position < cursor.position
        assert second.log_position > cursor
        assert read_all(reader, second.log_position) == []


def test_reader_tailing_random_writers_sees_every_event_once(database_url: str) -> None:
    writers, transactions_per_writer = 6, 12
    rng = random.Random()
    committed: set[int] = set()
    rolled_back: set[int] = set()
    done = threading.Event()

    def writer(seed: int) -> None:
        local = random.Random(seed)
        with connect(database_url) as conn, conn.cursor() as cur:
            for n in range(transactions_per_writer):
                positions = []
                for _ in range(local.randint(1, 3)):
                    time.sleep(local.uniform(0, 0.004))
                    positions.append(append_new_customer(cur).position)
                time.sleep(local.uniform(0, 0.004))
                if n % 5 == 4:
                    conn.rollback()
                    rolled_back.update(positions)
                else:
                    conn.commit()
                    committed.update(positions)

    def tail() -> list[RecordedEvent]:
        seen: list[RecordedEvent] = []
        after = START
        with connect(database_url, autocommit=True) as conn:
            while True:
                finished = done.is_set()
                batch = read_all(conn, after, limit=5)
                seen += batch
                if batch:
                    after = batch[-1].log_position
                elif finished:
                    return seen
                else:
                    time.sleep(0.001)

    with ThreadPoolExecutor(writers + 1) as pool:
        reader = pool.submit(tail)
        for future in [pool.submit(writer, rng.randrange(2**32)) for _ in range(writers)]:
            future.result()
        # Every writer has ended; let the watermark pass them before the tail may stop.
        with connect(database_url, autocommit=True) as conn:
            read_until(conn, START, len(committed), limit=100_000)
        done.set()
        seen = reader.result(timeout=WAIT_SECONDS)

    positions = [e.position for e in seen]
    assert len(positions) == len(set(positions)), "an event was delivered twice"
    assert set(positions) == committed == set(all_positions(database_url))
    assert not rolled_back & set(positions)
    cursors = [e.log_position for e in seen]
    assert cursors == sorted(cursors)
    assert len(committed) >= writers * transactions_per_writer * 4 // 5
    # The run did commit out of position order: a position cursor would have skipped these.
    overtaken = sum(1 for i, p in enumerate(positions) if i and p < max(positions[:i]))
    assert overtaken > 0


# -- 4. upcasting ------------------------------------------------------------------------------


class WidgetRenamed(DomainEvent):
    """Test-only event: version 1 stored the new name as `title`, version 2 calls it `name`."""

    event_type = "test.widget_renamed"
    schema_version = 2
    widget: str
    name: str


@register_upcaster("test.widget_renamed", 1)
def _widget_renamed_v1_to_v2(data: dict[str, Any]) -> dict[str, Any]:
    return {"widget": data["widget"], "name": data["title"]}


def test_old_event_versions_are_upcast_on_read(database_url: str) -> None:
    with connect(database_url, autocommit=True) as conn, conn.cursor() as cur:
        cur.execute(
            "INSERT INTO events (account_id, stream_id, stream_version, type, schema_version, "
            "data, metadata, occurred_at) VALUES (%s, 'wid_1', 1, 'test.widget_renamed', 1, "
            """'{"widget": "wid_1", "title": "Old name"}', '{}', %s) RETURNING position""",
            (ACCOUNT, NOW),
        )
        (v1_position,) = cur.fetchone() or (0,)
        (v2,) = append(
            cur,
            ACCOUNT,
            [NewEvent("wid_1", 2, WidgetRenamed(widget="wid_1", name="New name"))],
            {},
            NOW,
        )

        old, new = read_until(conn, START, 2)
        stream = read_stream(conn, ACCOUNT, "wid_1")
        (stored,) = conn.execute(
            "SELECT data FROM events WHERE position = %s", (v1_position,)
        ).fetchone() or (None,)

    assert old.position == v1_position
    assert old.event == WidgetRenamed(widget="wid_1", name="Old name")
    assert old.type == "test.widget_renamed"
    assert old.schema_version == 1  # the record keeps the version it was written in
    assert new.position == v2.position
    assert new.event == WidgetRenamed(widget="wid_1", name="New name")
    assert new.schema_version == 2
    assert [e.event for e in stream] == [old.event, new.event]
    # Upcasting happens on read only: the stored v1 row is untouched.
    assert stored == {"widget": "wid_1", "title": "Old name"}
