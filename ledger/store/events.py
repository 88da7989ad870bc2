"""Append to and read from the event log.

Ordering. `position` comes from an identity sequence, so it is unique but is handed out at insert
time, not at commit: a transaction that took position 7 may commit after one that took 8. A tail
reader that remembered "8" would then skip 7 forever. The reader therefore orders by
(transaction_id, position) and reads only rows whose transaction id is below the oldest
transaction still running (`pg_snapshot_xmin`). Every transaction below that watermark has ended,
and every transaction that ends later has a larger id, so nothing can ever appear behind the
cursor. Writers never wait for each other (unlike a global append lock); a long-running
transaction only delays readers, it cannot make them skip.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any, NamedTuple

import orjson
import psycopg
from psycopg import errors as pg_errors

from ledger import limits
from ledger.domain.events import DomainEvent, decode

__all__ = [
    "ConcurrencyConflict",
    "LogPosition",
    "NewEvent",
    "RecordedEvent",
    "append",
    "read_all",
    "read_stream",
]


class ConcurrencyConflict(Exception):
    """Another writer appended to the same stream version first; the command must re-run."""


class LogPosition(NamedTuple):
    """A cursor in commit order: events after it are read next."""

    transaction_id: int = 0
    position: int = 0


START = LogPosition(0, 0)


@dataclass(frozen=True, slots=True)
class NewEvent:
    """An event about to be appended to one stream."""

    stream_id: str
    stream_version: int
    event: DomainEvent


@dataclass(frozen=True, slots=True)
class RecordedEvent:
    """An event as the log holds it."""

    position: int
    transaction_id: int
    account_id: str
    stream_id: str
    stream_version: int
    type: str
    schema_version: int
    event: DomainEvent
    metadata: dict[str, Any]
    occurred_at: datetime
    recorded_at: datetime

    @property
    def log_position(self) -> LogPosition:
        return LogPosition(self.transaction_id, self.position)


_INSERT_HEAD = """
INSERT INTO events (account_id, stream_id, stream_version, type, schema_version, data,
                    metadata, occurred_at)
VALUES """
_INSERT_ROW = "(%s, %s, %s, %s, %s, %s::jsonb, %s::jsonb, %s)"
_INSERT_TAIL = " RETURNING position, transaction_id::text::bigint, recorded_at"


@cache
def _insert_sql(rows: int) -> str:
    # One statement per batch size, with plain parameters: JSON travels as text parameters,
    # which psycopg sends as is (an array literal of JSON would have to be escaped).
    return _INSERT_HEAD + ", ".join([_INSERT_ROW] * rows) + _INSERT_TAIL


def append(
    cur: psycopg.Cursor[Any],
    account_id: str,
    new_events: Sequence[NewEvent],
    metadata: dict[str, Any],
    occurred_at: datetime,
) -> list[RecordedEvent]:
    """Append `new_events` in the caller's transaction; raise ConcurrencyConflict on a race.

    A version that is already taken violates the unique (account, stream, version) index; the
    transaction is then aborted and the caller re-runs the whole command.
    """
    assert new_events, "append needs at least one event"
    meta_json = orjson.dumps(metadata).decode()
    rows: list[Any] = []
    step = limits.APPEND_ROWS_PER_STATEMENT
    try:
        for start in range(0, len(new_events), step):
            chunk = new_events[start : start + step]
            params: list[Any] = []
            for new in chunk:
                params += (
                    account_id,
                    new.stream_id,
                    new.stream_version,
                    new.event.event_type,
                    new.event.schema_version,
                    orjson.dumps(new.event.payload()).decode(),
                    meta_json,
                    occurred_at,
                )
            cur.execute(_insert_sql(len(chunk)), params)
            rows += cur.fetchall()
    except pg_errors.UniqueViolation as exc:
        raise ConcurrencyConflict(str(exc)) from exc
    assert len(rows) == len(new_events)
    return [
        RecordedEvent(
            position=position,
            transaction_id=transaction_id,
            account_id=account_id,
            stream_id=new.stream_id,
            stream_version=new.stream_version,
            type=new.event.event_type,
            schema_version=new.event.schema_version,
            event=new.event,
            metadata=metadata,
            occurred_at=occurred_at,
            recorded_at=recorded_at,
        )
        for new, (position, transaction_id, recorded_at) in zip(new_events, rows, strict=True)
    ]


_COLUMNS = """position, transaction_id::text::bigint, account_id, stream_id, stream_version,
type, schema_version, data::text, metadata::text, occurred_at, recorded_at"""

_READ_ALL = f"""
SELECT {_COLUMNS} FROM events
WHERE (transaction_id, position) > (%s::text::xid8, %s)
  AND transaction_id < pg_snapshot_xmin(pg_current_snapshot())
ORDER BY transaction_id, position
LIMIT %s
"""


def _recorded(row: tuple[Any, ...]) -> RecordedEvent:
    (
        position,
        transaction_id,
        account_id,
        stream_id,
        stream_version,
        event_type,
        schema_version,
        data,
        metadata,
        occurred_at,
        recorded_at,
    ) = row
    return RecordedEvent(
        position=position,
        transaction_id=transaction_id,
        account_id=account_id,
        stream_id=stream_id,
        stream_version=stream_version,
        type=event_type,
        schema_version=schema_version,
        event=decode(event_type, schema_version, orjson.loads(data)),
        metadata=orjson.loads(metadata),
        occurred_at=occurred_at,
        recorded_at=recorded_at,
    )


def read_all(
    conn: psycopg.Connection[Any],
    after_position: LogPosition = START,
    limit: int = limits.READ_BATCH_EVENTS,
) -> list[RecordedEvent]:
    """Up to `limit` committed events after `after_position`, in commit-safe order.

    Resume from the last returned event's `log_position`. Only events of transactions that have
    ended are returned, so a cursor never moves past an event that could still commit.
    """
    assert 1 <= limit <= 100_000
    after = LogPosition(*after_position)
    with conn.cursor() as cur:
        cur.execute(_READ_ALL, (str(after.transaction_id), after.position, limit))
        return [_recorded(row) for row in cur.fetchall()]


def iter_visible(conn: psycopg.Connection[Any], batch_size: int) -> Iterator[list[RecordedEvent]]:
    """Every event visible to this transaction, stream by stream, in batches (for replays).

    Ordered by (account, stream, version), not by position: a replay then needs only the state
    of the stream it is on, so its memory does not grow with the log. A stream may continue
    into the next batch. Only for callers that hold the projection tables locked, or that read
    one snapshot, so no writer is mid-command.
    """
    with conn.cursor(name="ledger_replay") as cur:
        cur.itersize = batch_size
        cur.execute(f"SELECT {_COLUMNS} FROM events ORDER BY account_id, stream_id, stream_version")
        while rows := cur.fetchmany(batch_size):
            yield [_recorded(row) for row in rows]


def read_stream(
    conn: psycopg.Connection[Any], account_id: str, stream_id: str
) -> list[RecordedEvent]:
    """Every event of one stream, in version order."""
    with conn.cursor() as cur:
        cur.execute(
            f"SELECT {_COLUMNS} FROM events WHERE account_id = %s AND stream_id = %s "
            "ORDER BY stream_version",
            (account_id, stream_id),
        )
        return [_recorded(row) for row in cur.fetchall()]
