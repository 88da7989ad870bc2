"""Rebuild every projection from position 0 of the log."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg

from ledger import limits
from ledger.projections.objects import ProjectionCache
from ledger.projections.registry import apply_all, projection_tables
from ledger.store.events import LogPosition, iter_visible

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
    replayed = 0
    last = LogPosition()
    tables = ", ".join(projection_tables())
    with conn.transaction(), conn.cursor() as cur:
        cur.execute(f"LOCK TABLE {tables} IN ACCESS EXCLUSIVE MODE")
        cur.execute(f"TRUNCATE {tables}")
        for batch in iter_visible(conn, batch_size):
            cache = ProjectionCache(platform_account_id)
            apply_all(cur, batch, cache)
            replayed += len(batch)
            last = max(last, max(e.log_position for e in batch))
        cur.execute(
            "INSERT INTO projection_checkpoints (name, transaction_id, position, updated_at) "
            "VALUES (%s, %s, %s, %s) ON CONFLICT (name) DO UPDATE SET "
            "transaction_id = EXCLUDED.transaction_id, position = EXCLUDED.position, "
            "updated_at = EXCLUDED.updated_at",
            (CHECKPOINT_NAME, last.transaction_id, last.position, now),
        )
    return RebuildReport(events_replayed=replayed, last_position=last)
