"""Rebuild every projection from the whole log."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from operator import attrgetter
from typing import Any

import psycopg

from ledger import limits
from ledger.projections.registry import projection_tables, replay
from ledger.store.events import LogPosition, RecordedEvent, iter_visible

__all__ = ["RebuildReport", "rebuild"]

CHECKPOINT_NAME = "objects"


@dataclass(frozen=True, slots=True)
class RebuildReport:
    """What a rebuild replayed."""

    events_replayed: int
    last_position: LogPosition


def rebuild(
    conn: psycopg.Connection[Any],
    platform_account_id: str,
    now: datetime,
    batch_size: int = limits.REBUILD_BATCH_EVENTS,
) -> RebuildReport:
    """Empty the projection tables and replay the whole log into them, in one transaction.

    The tables are locked first: a command that has not yet written its projection rows waits
    and applies its events on top of the rebuilt state after we commit; one that has written them
    has committed before the lock is granted, so its events are replayed here.
    """
    last = LogPosition()

    def note_last(batch: Sequence[RecordedEvent]) -> None:
        nonlocal last
        newest = max(batch, key=attrgetter("transaction_id", "position"))
        last = max(last, newest.log_position)

    tables = ", ".join(projection_tables())
    with conn.transaction(), conn.cursor() as cur:
        cur.execute(f"LOCK TABLE {tables} IN ACCESS EXCLUSIVE MODE")
        cur.execute(f"TRUNCATE {tables}")
        batches = iter_visible(conn, batch_size)
        replayed = replay(cur, batches, platform_account_id, note_last)
        cur.execute(
            "INSERT INTO projection_checkpoints (name, transaction_id, position, updated_at) "
            "VALUES (%s, %s, %s, %s) ON CONFLICT (name) DO UPDATE SET "
            "transaction_id = EXCLUDED.transaction_id, position = EXCLUDED.position, "
            "updated_at = EXCLUDED.updated_at",
            (CHECKPOINT_NAME, last.transaction_id, last.position, now),
        )
    return RebuildReport(events_replayed=replayed, last_position=last)
