"""Replay stream by stream, in batches, with rows copied in chunks (rebuild and audit).

The log is read in (account, stream, version) order and each stream's state is dropped when the
stream ends; rows are copied in chunks and balance sums added in parts. These tests shrink every
batch and bound so that streams, Stripe events, postings and balance sums all cross chunk
boundaries, and check that nothing changes: rebuilt tables are identical to the ones the commands
wrote, and the audit finds exactly what was tampered with.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import psycopg
import pytest

from ledger import FrozenClock, Ledger, limits
from ledger.audit import AuditReport, run_audit
from ledger.projections import registry
from ledger.projections.rebuild import rebuild
from ledger.projections.registry import projection_tables
from tests.support.accounts import connected_account
from tests.support.payments import confirmed

TINY_BATCH_EVENTS = 2

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


def sql(url: str, statement: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    with psycopg.connect(url, autocommit=True) as conn:
        cur = conn.execute(statement, params)
        return cur.fetchall() if cur.description else []


@pytest.fixture
def tiny_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Copy every 3 rows and add balance sums to the table as soon as they cover 2 rows."""
    monkeypatch.setattr(limits, "REPLAY_COPY_ROWS", 3)
    monkeypatch.setattr(limits, "REPLAY_BALANCE_KEYS_MAX", 1)


def workload(led: Ledger, clock: FrozenClock) -> None:
    """Customers on two accounts updated in turns (their streams interleave in the log),
    payments, a refund and funds becoming available (postings and balances)."""
    other = connected_account(led)
    customers = [
        (account, led.customers.create(email=f"c{n}@example.com", **scope).id, scope)
        for n, account in enumerate((None, other, None, other))
        for scope in [{"stripe_account": account} if account else {}]
    ]
    for turn in range(3):
        for _, customer_id, scope in customers:
            led.customers.update(customer_id, metadata={"turn": str(turn)}, **scope)
        intent = confirmed(led, amount=1000 + turn)
        if turn == 1:
            led.refunds.create(charge=intent.latest_charge, amount=300)
    led.customers.delete(customers[0][1])
    clock.advance(timedelta(days=5))
    led.run_due()


def audit(led: Ledger, url: str) -> AuditReport:
    with psycopg.connect(url) as conn:
        return run_audit(conn, led.platform_account_id, batch_size=TINY_BATCH_EVENTS)


def findings(report: AuditReport) -> set[tuple[str, str]]:
    return {(d.check, d.detail) for d in report.discrepancies}


@pytest.fixture
def worked(led: Ledger, clock: FrozenClock, database_url: str) -> Snapshot:
    workload(led, clock)
    return snapshot(database_url)


@pytest.mark.usefixtures("tiny_chunks")
def test_replay_in_tiny_batches_reproduces_every_projection(
    led: Ledger, clock: FrozenClock, database_url: str, worked: Snapshot
) -> None:
    # The workload is what this test needs: interleaved streams, postings, several balances.
    positions = sql(
        database_url,
        "SELECT stream_id, array_agg(position ORDER BY position) FROM events GROUP BY 1",
    )
    assert any(p[-1] - p[0] >= len(p) for _, p in positions), "no stream interleaves"
    assert len(worked["postings"]) > 3 and len(worked["balances"]) > 2
    events = sql(database_url, "SELECT count(*) FROM events")[0][0]

    with psycopg.connect(database_url) as conn:
        report = rebuild(conn, led.platform_account_id, clock.now(), TINY_BATCH_EVENTS)

    assert report.events_replayed == events
    assert snapshot(database_url) == worked
    clean = audit(led, database_url)
    assert clean.ok, clean.discrepancies
    assert clean.events_replayed == events


@pytest.mark.usefixtures("tiny_chunks")
def test_the_audit_finds_each_tampered_row_in_chunked_tables(
    led: Ledger, database_url: str, worked: Snapshot
) -> None:
    customer = next(row for row in worked["objects"] if row[2] == "customer" and not row[6])
    deleted_event = worked["stripe_events"][3]
    posting = worked["postings"][1]
    sql(
        database_url,
        'UPDATE objects SET data = data || \'{"name": "X"}\' WHERE id = %s',
        (customer[1],),
    )
    sql(database_url, "DELETE FROM stripe_events WHERE id = %s", (deleted_event[1],))
    sql(
        database_url,
        "INSERT INTO stripe_events SELECT account_id, 'evt_forged', type, created, seq + 1, "
        "data FROM stripe_events WHERE id = %s",
        (worked["stripe_events"][0][1],),
    )
    sql(
        database_url,
        "UPDATE postings SET source_type = 'forged' WHERE account_id = %s AND position = %s "
        "AND leg = %s",
        posting[:3],
    )

    found = findings(audit(led, database_url))

    def row(table: str, key: tuple[Any, ...], side: str) -> tuple[str, str]:
        return ("replay", f"{table}: row {key} is {side}")

    objects_key, posting_key = tuple(customer[:2]), tuple(posting[:3])
    assert found == {
        row("objects", objects_key, "live only"),
        row("objects", objects_key, "replay only"),
        row("stripe_events", tuple(deleted_event[:2]), "replay only"),
        row("stripe_events", (worked["stripe_events"][0][0], "evt_forged"), "live only"),
        row("postings", posting_key, "live only"),
        row("postings", posting_key, "replay only"),
    }


@pytest.mark.usefixtures("tiny_chunks")
def test_the_audit_finds_a_tampered_balance_summed_in_chunks(
    led: Ledger, database_url: str, worked: Snapshot
) -> None:
    balance = next(row for row in worked["balances"] if row[5] != 0)
    sql(
        database_url,
        "UPDATE balances SET amount = amount + 1 WHERE account_id = %s AND currency = %s "
        "AND bucket = %s AND source_type = %s AND stripe = %s",
        balance[:5],
    )
    report = audit(led, database_url)
    key = tuple(balance[:5])
    replayed = {d.detail for d in report.discrepancies if d.check == "replay"}
    assert replayed == {f"balances: row {key} is live only", f"balances: row {key} is replay only"}
    assert "balances_match_transactions" in {d.check for d in report.discrepancies}


@pytest.mark.usefixtures("tiny_chunks")
def test_a_projection_without_a_bulk_replayer_is_replayed_through_apply(
    led: Ledger,
    clock: FrozenClock,
    database_url: str,
    worked: Snapshot,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    plain = tuple(
        registry.Projection(p.name, p.tables, p.apply) if p.name == "money" else p
        for p in registry.PROJECTIONS
    )
    monkeypatch.setattr(registry, "PROJECTIONS", plain)
    assert registry.replay_keyed_tables() == {"postings", "balances"}

    with psycopg.connect(database_url) as conn:
        rebuild(conn, led.platform_account_id, clock.now(), TINY_BATCH_EVENTS)
    assert snapshot(database_url) == worked
    assert audit(led, database_url).ok

    sql(database_url, "DELETE FROM postings WHERE leg = 0")
    missing = {d.detail for d in audit(led, database_url).discrepancies if d.check == "replay"}
    assert missing and all(
        d.startswith("postings: ") and d.endswith("replay only") for d in missing
    )


def test_a_replay_that_fails_changes_nothing(
    led: Ledger, database_url: str, worked: Snapshot
) -> None:
    # A forged event two versions ahead: evolving it is a bug the replay refuses to hide.
    customer = next(row for row in worked["objects"] if row[2] == "customer" and not row[6])
    sql(
        database_url,
        "INSERT INTO events (account_id, stream_id, stream_version, type, schema_version, data, "
        "metadata, occurred_at) VALUES (%s, %s, %s, 'customer.updated', 1, "
        '\'{"changes": {"name": "Gap"}}\', \'{}\', now())',
        (customer[0], customer[1], customer[5] + 2),
    )

    with pytest.raises(AssertionError, match="version"):
        led.audit()
    with pytest.raises(AssertionError, match="version"):
        led.rebuild()

    assert snapshot(database_url) == worked  # the rebuild's transaction was rolled back
    scope = {"stripe_account": customer[0]} if customer[0] != led.platform_account_id else {}
    assert led.customers.retrieve(customer[1], **scope).email  # the pool's connection still works
