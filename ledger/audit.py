"""The audit: replay the whole log into shadow projections, compare, check the invariants.

Replay runs in one REPEATABLE READ transaction, so the live projections and the log it reads
are one consistent snapshot even while commands keep running. The shadow projections are
temporary tables with the live tables' names: PostgreSQL resolves unqualified names to the
session's temporary schema first, so the ordinary projection code fills them, unchanged, and
memory stays flat however long the log is (the state lives in the database, not in Python).

The invariants it checks on the live data are in `ledger.invariants`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import psycopg

from ledger import limits
from ledger.invariants import INVARIANT_CHECKS, Discrepancy, check_invariants
from ledger.projections.objects import ProjectionCache
from ledger.projections.registry import apply_all, projection_tables
from ledger.store.events import iter_visible

__all__ = ["AuditReport", "Discrepancy", "run_audit"]

Progress = Callable[[int, int], None]


@dataclass(frozen=True, slots=True)
class AuditReport:
    """What the audit replayed and found."""

    events_replayed: int
    discrepancies: list[Discrepancy] = field(default_factory=list)
    checks: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.discrepancies


_KEYS: dict[str, str] = {
    "objects": "account_id, id",
    "stripe_events": "account_id, id",
    "postings": "account_id, position, leg",
    "balances": "account_id, currency, bucket, source_type, stripe",
}


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
            total = cur.execute("SELECT count(*) FROM events").fetchone()
            events_total = int(total[0]) if total else 0
            row = cur.execute("SELECT current_schema()").fetchone()
            live = sql_identifier(str(row[0]) if row else "public")
            findings += check_invariants(cur, live)
            tables = projection_tables()
            for table in tables:
                cur.execute(
                    f"CREATE TEMPORARY TABLE {table} (LIKE {live}.{table} "
                    "INCLUDING DEFAULTS INCLUDING INDEXES) ON COMMIT DROP"
                )
            replayed = 0
            for batch in iter_visible(conn, batch_size):
                apply_all(cur, batch, ProjectionCache(platform_account_id))
                replayed += len(batch)
                if progress is not None:
                    progress(replayed, events_total)
            for table in tables:
                findings += _compare(cur, table, live)
    finally:
        conn.isolation_level = psycopg.IsolationLevel.READ_COMMITTED
    checks = ("replay", *INVARIANT_CHECKS)
    return AuditReport(events_replayed=replayed, discrepancies=findings, checks=checks)


def sql_identifier(name: str) -> str:
    """`name` quoted as an SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def _compare(cur: psycopg.Cursor[Any], table: str, live: str) -> list[Discrepancy]:
    """Rows that differ between the live table and its replayed shadow."""
    keys = _KEYS[table]
    rows = cur.execute(
        f"(SELECT 'live only' AS side, {keys} FROM (SELECT * FROM {live}.{table} EXCEPT "
        f"SELECT * FROM pg_temp.{table}) AS l) UNION ALL "
        f"(SELECT 'replay only', {keys} FROM (SELECT * FROM pg_temp.{table} EXCEPT "
        f"SELECT * FROM {live}.{table}) AS r) ORDER BY 2, 3 LIMIT %s",
        (limits.AUDIT_FINDINGS_MAX,),
    ).fetchall()
    return [
        Discrepancy("replay", f"{table}: row {tuple(row[1:])} is {row[0]}", row[1], str(row[2]))
        for row in rows
    ]
