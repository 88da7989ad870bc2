"""The audit: replay the whole log into shadow projections, compare, check the invariants.

Replay runs in one REPEATABLE READ transaction, so the live projections and the log it reads
are one consistent snapshot even while commands keep running. The shadow projections are
temporary tables with the live tables' names: PostgreSQL resolves unqualified names to the
session's temporary schema first, so the projections' own replay (the one `rebuild` runs) fills
them. It reads the log stream by stream and holds only the stream it is on, so memory stays
flat however long the log is. Each shadow is then compared with its live table in one hash join
on the primary key: a row missing on one side, or differing in any column, is reported from the
side(s) that have it.

The invariants it checks on the live data are in `ledger.invariants`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import psycopg

from ledger import limits
from ledger.invariants import INVARIANT_CHECKS, Discrepancy, check_invariants
from ledger.projections.registry import projection_tables, replay, replay_keyed_tables
from ledger.store.events import RecordedEvent, iter_visible

__all__ = ["AuditReport", "Discrepancy", "run_audit"]

Progress = Callable[[int, int], None]

# Server memory for the comparisons' hash joins (this transaction only): with the default 4 MB
# they spill to disk in many batches.
COMPARE_WORK_MEM = "64MB"


@dataclass(frozen=True, slots=True)
class AuditReport:
    """What the audit replayed and found."""

    events_replayed: int
    discrepancies: list[Discrepancy] = field(default_factory=list)
    checks: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.discrepancies


def run_audit(
    conn: psycopg.Connection[Any],
    platform_account_id: str,
    progress: Progress | None = None,
    batch_size: int = limits.REBUILD_BATCH_EVENTS,
) -> AuditReport:
    """Replay, compare and check; read-only (everything it writes is temporary)."""
    findings: list[Discrepancy] = []
    conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
    try:
        with conn.transaction(force_rollback=True), conn.cursor() as cur:
            cur.execute(f"SET LOCAL work_mem = '{COMPARE_WORK_MEM}'")
            events_total = 0
            if progress is not None:
                total = cur.execute("SELECT count(*) FROM events").fetchone()
                events_total = int(total[0]) if total else 0
            row = cur.execute("SELECT current_schema()").fetchone()
            live = sql_identifier(str(row[0]) if row else "public")
            findings += check_invariants(cur, live)
            keyed = replay_keyed_tables()
            for table in projection_tables():
                # COPY and the comparison need no index; tables that replay upserts into keep
                # their unique ones.
                indexes = " INCLUDING INDEXES" if table in keyed else ""
                cur.execute(
                    f"CREATE TEMPORARY TABLE {table} (LIKE {live}.{table} "
                    f"INCLUDING DEFAULTS{indexes}) ON COMMIT DROP"
                )
            done = 0

            def report_progress(batch: Sequence[RecordedEvent]) -> None:
                nonlocal done
                done += len(batch)
                if progress is not None:
                    progress(done, events_total)

            batches = iter_visible(conn, batch_size)
            replayed = replay(cur, batches, platform_account_id, report_progress)
            for table in projection_tables():
                findings += _compare(cur, live, table)
    finally:
        conn.isolation_level = psycopg.IsolationLevel.READ_COMMITTED
    checks = ("replay", *INVARIANT_CHECKS)
    return AuditReport(events_replayed=replayed, discrepancies=findings, checks=checks)


def sql_identifier(name: str) -> str:
    """`name` quoted as an SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def _compare(cur: psycopg.Cursor[Any], live: str, table: str) -> list[Discrepancy]:
    """Rows that differ between the live table and its replayed shadow."""
    keys = _primary_key(cur, live, table)
    order = ", ".join(str(column) for column in range(2, len(keys) + 2))
    rows = cur.execute(_compare_sql(live, table, keys, order), (limits.AUDIT_FINDINGS_MAX,))
    return [
        Discrepancy(
            "replay",
            f"{table}: row {tuple(row[1:])} is {row[0]}",
            row[1],
            str(row[2]) if len(row) > 2 else None,
        )
        for row in rows.fetchall()
    ]


def _primary_key(cur: psycopg.Cursor[Any], live: str, table: str) -> tuple[str, ...]:
    """The primary key columns of the live `table`, in key order."""
    rows = cur.execute(
        "SELECT a.attname FROM pg_index i "
        "JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey) "
        "WHERE i.indrelid = %s::regclass AND i.indisprimary "
        "ORDER BY array_position(i.indkey::int2[], a.attnum)",
        (f"{live}.{table}",),
    ).fetchall()
    assert rows, f"{table} has no primary key to compare by"
    return tuple(str(row[0]) for row in rows)


def _compare_sql(live: str, table: str, keys: tuple[str, ...], order: str) -> str:
    # One hash join on the key, where `EXCEPT` both ways would hash whole rows twice.
    joined = " AND ".join(f"l.{key} = r.{key}" for key in keys)
    return (
        f"WITH d AS (SELECT l, r FROM {live}.{table} l FULL JOIN pg_temp.{table} r "
        f"ON {joined} WHERE l IS DISTINCT FROM r) "
        f"(SELECT 'live only' AS side, {', '.join(f'(l).{key}' for key in keys)} FROM d "
        f"WHERE (l).{keys[0]} IS NOT NULL) UNION ALL "
        f"(SELECT 'replay only', {', '.join(f'(r).{key}' for key in keys)} FROM d "
        f"WHERE (r).{keys[0]} IS NOT NULL) ORDER BY {order} LIMIT %s"
    )
