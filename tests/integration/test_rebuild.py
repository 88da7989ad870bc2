"""Rebuilding the projections from the log reproduces them exactly, even while writers run."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import psycopg
import pytest

from ledger import FrozenClock, Ledger, LogPosition, RecordedEvent
from ledger.projections import rebuild as rebuild_module
from ledger.projections.registry import projection_tables
from ledger.services import runner
from tests.support.accounts import connected_account

WAIT_SECONDS = 20.0  # only reached when something is broken

Snapshot = dict[str, list[tuple[Any, ...]]]


def snapshot(url: str) -> Snapshot:
    """Every row and column of every projection table, in key order; JSON as stored text too."""
    with psycopg.connect(url, autocommit=True) as conn:
        return {
            table: conn.execute(
                f"SELECT t.*, t::text FROM {table} t ORDER BY 1, 2, 3, 4, 5"
            ).fetchall()
            for table in projection_tables()
        }


def event_count(url: str) -> int:
    with psycopg.connect(url, autocommit=True) as conn:
        return int((conn.execute("SELECT count(*) FROM events").fetchone() or (0,))[0])


def wait_for(condition: Any, what: str) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.005)


def lock_waiters(url: str) -> list[str]:
    """The statements of this database's backends that wait for a heavyweight lock."""
    with psycopg.connect(url, autocommit=True) as conn:
        return [
            row[0]
            for row in conn.execute(
                "SELECT query FROM pg_stat_activity "
                "WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
        ]


def read_everything(led: Ledger) -> list[RecordedEvent]:
    seen: list[RecordedEvent] = []
    while batch := led.read_all(seen[-1].log_position if seen else LogPosition()):
        seen.extend(batch)
    return seen


# Account objects (the platform's own, opened with the ledger, and `other`) are events of the
# platform's books that publish no Stripe event.
ACCOUNTS = 2


@pytest.fixture
def other(led: Ledger) -> str:
    """A connected account of the platform."""
    return connected_account(led)


def workload(led: Ledger, clock: FrozenClock, other: str) -> None:
    """Creates, updates (metadata set and unset), deletes, on two accounts."""
    for account in (None, other):
        scope = {"stripe_account": account} if account else {}
        jenny = led.customers.create(
            email="jenny@example.com",
            name="Jenny Rosen",
            metadata={"order": "6735", "tier": "gold", "source": "web"},
            address={"line1": "1 Main St", "city": "Springfield", "country": "US"},
            **scope,
        )
        bob = led.customers.create(description="Bob", idempotency_key="bob", **scope)
        gone = led.customers.create(email="gone@example.com", metadata={"x": "1"}, **scope)
        clock.advance(timedelta(minutes=5))
        led.customers.update(jenny.id, metadata={"tier": "", "vip": "yes"}, **scope)
        led.customers.update(jenny.id, address="", phone="+15555550100", **scope)
        led.customers.update(bob.id, metadata={"a": "1", "b": "2"}, **scope)
        led.customers.update(bob.id, metadata="", name="Robert", **scope)
        led.customers.update(gone.id, description="about to go", **scope)
        clock.advance(timedelta(seconds=1))
        led.customers.delete(gone.id, **scope)
        led.customers.update(
            jenny.id, name="Jenny R.", invoice_settings={"footer": "Thanks"}, **scope
        )


def test_rebuild_reproduces_the_projections_exactly(
    led: Ledger, database_url: str, clock: FrozenClock, other: str
) -> None:
    workload(led, clock, other)
    live = snapshot(database_url)
    events = read_everything(led)
    assert len(events) == event_count(database_url) == 2 * 10 + ACCOUNTS
    # The workload reached both accounts, deletions and metadata unsets.
    objects = live["objects"]
    assert {row[0] for row in objects} == {led.platform_account_id, other}
    assert sum(1 for row in objects if row[6]) == 2  # deleted
    assert len(live["stripe_events"]) == len(events) - ACCOUNTS

    report = led.rebuild()

    assert snapshot(database_url) == live
    assert report.events_replayed == len(events)
    assert report.last_position == max(e.log_position for e in events)
    # Rebuilding again (on rebuilt tables) changes nothing either.
    assert led.rebuild() == report
    assert snapshot(database_url) == live


def test_rebuild_repairs_damaged_projections(
    led: Ledger, database_url: str, clock: FrozenClock, other: str
) -> None:
    workload(led, clock, other)
    live = snapshot(database_url)
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute('UPDATE objects SET data = data || \'{"name": "tampered"}\'')
        conn.execute("DELETE FROM objects WHERE deleted")
        conn.execute("DELETE FROM stripe_events WHERE type = 'customer.updated'")
        conn.execute(
            "INSERT INTO objects (account_id, id, object, created, seq, stream_version, data) "
            """VALUES ('acct_x', 'cus_phantom', 'customer', 0, 0, 1, '{"id": "cus_phantom"}')"""
        )
    assert snapshot(database_url) != live

    led.rebuild()

    assert snapshot(database_url) == live


def test_rebuild_while_writers_run_loses_and_doubles_nothing(
    led: Ledger, database_url: str, other: str
) -> None:
    stop = threading.Event()

    def writer(account: str | None) -> dict[str, dict[str, str]]:
        """Create customers and update them until told to stop; return what was written."""
        scope = {"stripe_account": account} if account else {}
        written: dict[str, dict[str, str]] = {}
        n = 0
        while not stop.is_set() or n < 6:
            customer = led.customers.create(email=f"c{n}@example.com", **scope)
            written[customer.id] = {}
            for key in ("a", "b"):
                led.customers.update(customer.id, metadata={key: str(n)}, **scope)
                written[customer.id][key] = str(n)
            n += 1
        return written

    reports = []
    with ThreadPoolExecutor(2) as pool:
        futures = [pool.submit(writer, account) for account in (None, other)]
        try:
            for _ in range(4):
                # Rebuild only once the writers have moved on, so each rebuild meets them.
                done = reports[-1].events_replayed if reports else 0
                wait_for(
                    lambda: (
                        event_count(database_url) > done  # noqa: B023
                        or any(future.done() for future in futures)
                    ),
                    "the writers",
                )
                for future in futures:
                    if future.done():
                        future.result()  # a writer failed: raise its error
                reports.append(led.rebuild())
        finally:
            stop.set()
        written = [future.result() for future in futures]

    replayed = [report.events_replayed for report in reports]
    assert replayed == sorted(set(replayed)), replayed
    total = event_count(database_url)
    assert total == 3 * sum(len(w) for w in written) + ACCOUNTS

    # Live projections, maintained by the writers around the rebuilds, hold every write once.
    live = snapshot(database_url)
    assert len(live["stripe_events"]) == total - ACCOUNTS
    for account, customers in zip((led.platform_account_id, other), written, strict=True):
        rows = {row[1]: row for row in live["objects"] if (row[0], row[2]) == (account, "customer")}
        assert rows.keys() == customers.keys()
        for customer_id, metadata in customers.items():
            assert rows[customer_id][7]["metadata"] == metadata
            assert rows[customer_id][5] == 3  # stream_version

    report = led.rebuild()
    assert report.events_replayed == total
    assert snapshot(database_url) == live


@pytest.fixture
def paused_projection(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[threading.Event, ...]]:
    """Commands on threads named "paused" stop after appending, before writing projections."""
    appended, release = threading.Event(), threading.Event()
    real_apply_all = runner.apply_all

    def apply_all(*args: Any, **kwargs: Any) -> None:
        if threading.current_thread().name == "paused":
            appended.set()
            assert release.wait(WAIT_SECONDS)
        real_apply_all(*args, **kwargs)

    monkeypatch.setattr(runner, "apply_all", apply_all)
    yield appended, release
    release.set()


def test_command_in_flight_when_rebuild_starts_is_replayed_once(
    led: Ledger, database_url: str, paused_projection: tuple[threading.Event, ...]
) -> None:
    appended, release = paused_projection
    customer = led.customers.create(email="jenny@example.com")
    outcome: dict[str, Any] = {}

    def update() -> None:
        outcome["customer"] = led.customers.update(customer.id, name="Jenny")

    writer = threading.Thread(target=update, name="paused")
    writer.start()
    assert appended.wait(WAIT_SECONDS)
    with ThreadPoolExecutor(1) as pool:
        rebuilt = pool.submit(led.rebuild)
        # The command read the customer, so the rebuild waits for it to end.
        wait_for(
            lambda: any(q.startswith("LOCK TABLE") for q in lock_waiters(database_url)), "lock"
        )
        assert not rebuilt.done()
        release.set()
        writer.join(WAIT_SECONDS)
        report = rebuilt.result(WAIT_SECONDS)
    assert not writer.is_alive()

    assert outcome["customer"].name == "Jenny"
    assert report.events_replayed == event_count(database_url) == 2 + 1  # + the platform's account
    live = snapshot(database_url)
    assert [row[5] for row in live["objects"] if row[2] == "customer"] == [2]  # stream_version
    assert sorted(row[2] for row in live["stripe_events"]) == [
        "customer.created",
        "customer.updated",
    ]
    assert led.customers.retrieve(customer.id).name == "Jenny"
    led.rebuild()
    assert snapshot(database_url) == live


def test_command_arriving_during_a_rebuild_applies_on_top(
    led: Ledger, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    customer = led.customers.create(email="jenny@example.com")
    replaying, release = threading.Event(), threading.Event()
    real_iter_visible = rebuild_module.iter_visible

    def iter_visible(*args: Any, **kwargs: Any) -> Iterator[list[RecordedEvent]]:
        replaying.set()  # the projection tables are locked and emptied by now
        assert release.wait(WAIT_SECONDS)
        yield from real_iter_visible(*args, **kwargs)

    monkeypatch.setattr(rebuild_module, "iter_visible", iter_visible)
    try:
        with ThreadPoolExecutor(2) as pool:
            rebuilt = pool.submit(led.rebuild)
            assert replaying.wait(WAIT_SECONDS)
            updated = pool.submit(led.customers.update, customer.id, metadata={"k": "v"})
            wait_for(lambda: len(lock_waiters(database_url)) == 1, "the command to wait")
            assert not updated.done()
            release.set()
            report = rebuilt.result(WAIT_SECONDS)
            assert updated.result(WAIT_SECONDS).to_dict()["metadata"] == {"k": "v"}
    finally:
        release.set()

    # The command had not appended when the rebuild read (the other event: the platform's account).
    assert report.events_replayed == 2
    assert event_count(database_url) == 3
    live = snapshot(database_url)
    assert [row[5] for row in live["objects"] if row[2] == "customer"] == [2]
    assert sorted(row[2] for row in live["stripe_events"]) == [
        "customer.created",
        "customer.updated",
    ]
    monkeypatch.undo()
    led.rebuild()
    assert snapshot(database_url) == live


def test_open_rebuilds_projections_written_by_another_version(
    led: Ledger, database_url: str
) -> None:
    customer = led.customers.create(email="a@example.com")
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("UPDATE objects SET data = jsonb_set(data, '{email}', '\"stale@x.io\"')")
        conn.execute("DELETE FROM ledger_settings WHERE name = 'projections_version'")
    with Ledger.open(database_url) as reopened:
        assert reopened.customers.retrieve(customer.id).email == "a@example.com"
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("UPDATE objects SET data = jsonb_set(data, '{email}', '\"stale@x.io\"')")
    with Ledger.open(database_url) as reopened:  # same version: nothing is rebuilt
        assert reopened.customers.retrieve(customer.id).email == "stale@x.io"
