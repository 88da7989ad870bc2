"""The physical reference: what raw psycopg does on the same server, on the same `events` table.

Rows are the ledger's own event rows (same table, indexes and append-only trigger, same JSON),
written and read with the fewest round trips and no layers: the ceiling our store can approach.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import orjson
import psycopg

from benchmarks.context import Context, run_workers
from benchmarks.fixtures import LogFixture, WriteFixture, customer_payload
from benchmarks.harness import Case, Sample

__all__ = ["raw_insert_batch", "raw_insert_one", "raw_insert_one_workers", "raw_read"]

ACCOUNT = "acct_1BenchReference"
BATCH_ROWS = 100

_INSERT_ONE = """
INSERT INTO events (account_id, stream_id, stream_version, type, schema_version, data,
                    metadata, occurred_at)
VALUES (%s, %s, 1, 'customer.created', 1, %s::jsonb, %s::jsonb, %s)
"""

_INSERT_BATCH = """
INSERT INTO events (account_id, stream_id, stream_version, type, schema_version, data,
                    metadata, occurred_at)
SELECT %s, s, 1, 'customer.created', 1, %s::jsonb, %s::jsonb, %s FROM unnest(%s::text[]) AS s
"""

_READ = """
SELECT position, transaction_id::text::bigint, account_id, stream_id, stream_version, type,
       schema_version, data::text, metadata::text, occurred_at, recorded_at
FROM events ORDER BY position
"""

READ_BATCH_ROWS = 5000
_METADATA = orjson.dumps({"request_id": None, "idempotency_key": None}).decode()


def _connect(url: str) -> psycopg.Connection[Any]:
    conn = psycopg.connect(url, autocommit=True)
    conn.prepare_threshold = 1
    return conn


def raw_insert_one(ctx: Context, case: Case, fx: WriteFixture) -> Sample:
    """BEGIN / INSERT / COMMIT per event (three round trips), one connection."""
    data = customer_payload()
    now = datetime.now(UTC)
    count = case.operations(ctx.options)
    prefix = fx.next_prefix("raw1")
    with _connect(fx.url) as conn:
        started = time.perf_counter()
        for i in range(count):
            with conn.transaction():
                conn.execute(_INSERT_ONE, (ACCOUNT, f"{prefix}{i}", data, _METADATA, now))
        seconds = time.perf_counter() - started
    return Sample(count, seconds)


def raw_insert_one_workers(ctx: Context, case: Case, fx: WriteFixture) -> Sample:
    """BEGIN / INSERT / COMMIT from {workers} connections at once (group commit's ceiling)."""
    data = customer_payload()
    now = datetime.now(UTC)
    workers = ctx.options.workers
    prefix = fx.next_prefix("rawn")
    conns = [_connect(fx.url) for _ in range(workers)]
    try:

        def insert(w: int, i: int) -> None:
            conn = conns[w]
            with conn.transaction():
                conn.execute(_INSERT_ONE, (ACCOUNT, f"{prefix}{w}_{i}", data, _METADATA, now))

        outcome = run_workers(workers, case.operations(ctx.options), insert)
    finally:
        for conn in conns:
            conn.close()
    return Sample(outcome.successes, outcome.seconds)


def raw_insert_batch(ctx: Context, case: Case, fx: WriteFixture) -> Sample:
    """100 rows per transaction in one `INSERT … SELECT unnest(…)`."""
    data = customer_payload()
    now = datetime.now(UTC)
    batches = max(1, case.operations(ctx.options) * 10 // BATCH_ROWS)
    prefix = fx.next_prefix("rawb")
    with _connect(fx.url) as conn:
        started = time.perf_counter()
        for b in range(batches):
            streams = [f"{prefix}{b}_{i}" for i in range(BATCH_ROWS)]
            with conn.transaction():
                conn.execute(_INSERT_BATCH, (ACCOUNT, data, _METADATA, now, streams))
        seconds = time.perf_counter() - started
    return Sample(batches * BATCH_ROWS, seconds)


def raw_read(ctx: Context, case: Case, fx: LogFixture) -> Sample:
    """Every event of the log through a server-side cursor, data and metadata decoded by orjson."""
    loads = orjson.loads
    count = 0
    with psycopg.connect(fx.url) as conn:
        started = time.perf_counter()
        with conn.transaction(), conn.cursor(name="raw_read") as cur:
            cur.itersize = READ_BATCH_ROWS
            cur.execute(_READ)
            while rows := cur.fetchmany(READ_BATCH_ROWS):
                for row in rows:
                    loads(row[7])
                    loads(row[8])
                count += len(rows)
        seconds = time.perf_counter() - started
    assert count == fx.events, f"read {count} events of {fx.events}"
    return Sample(count, seconds)
