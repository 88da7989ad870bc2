"""The audit: replay the whole log into shadow projections, compare, check the invariants.

Replay runs in one REPEATABLE READ transaction, so the live projections and the log it reads
are one consistent snapshot even while commands keep running. The shadow projections are
temporary tables with the live tables' names: PostgreSQL resolves unqualified names to the
session's temporary schema first, so the ordinary projection code fills them, unchanged, and
memory stays flat however long the log is (the state lives in the database, not in Python).

Invariants checked on the live data:
- every money movement's postings sum to zero per currency, and so do all postings;
- per account and currency, available + pending = Σ net of balance transactions, and each
  bucket equals the Σ net of the balance transactions in that status;
- a charge's amount_refunded = Σ of its refunds (plus the uncaptured part it released);
- nothing was captured above what was authorized.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import psycopg

from ledger import limits
from ledger.projections.objects import ProjectionCache
from ledger.projections.registry import apply_all, projection_tables
from ledger.store.events import iter_visible

__all__ = ["AuditReport", "Discrepancy", "run_audit"]

Progress = Callable[[int, int], None]


@dataclass(frozen=True, slots=True)
class Discrepancy:
    """One thing the audit found wrong."""

    check: str
    detail: str
    account_id: str | None = None
    object_id: str | None = None


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
            findings += _check_invariants(cur, live)
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
    checks = (
        "replay",
        "postings_balanced",
        "balances_match_transactions",
        "refunds_match_charges",
        "captured_within_authorized",
    )
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


def _check_invariants(cur: psycopg.Cursor[Any], live: str) -> list[Discrepancy]:
    findings: list[Discrepancy] = []
    for currency, total in cur.execute(
        f"SELECT currency, sum(amount) FROM {live}.postings GROUP BY currency "
        "HAVING sum(amount) <> 0"
    ).fetchall():
        findings.append(
            Discrepancy("postings_balanced", f"all postings in {currency} sum to {total}, not 0")
        )
    for account_id, position, stream_id, currency, total in cur.execute(
        "SELECT account_id, position, min(stream_id), currency, sum(amount) "
        f"FROM {live}.postings GROUP BY account_id, position, currency HAVING sum(amount) <> 0 "
        "ORDER BY position LIMIT %s",
        (limits.AUDIT_FINDINGS_MAX,),
    ).fetchall():
        findings.append(
            Discrepancy(
                "postings_balanced",
                f"the postings of log position {position} in {currency} sum to {total}, not 0",
                account_id,
                stream_id,
            )
        )
    for account_id, currency, bucket, balance, transactions in cur.execute(
        f"""
        WITH b AS (SELECT account_id, currency, bucket, sum(amount) AS amount
                   FROM {live}.balances GROUP BY 1, 2, 3),
             t AS (SELECT account_id, data->>'currency' AS currency,
                          data->>'status' AS bucket, sum((data->>'net')::bigint) AS amount
                   FROM {live}.objects WHERE object = 'balance_transaction' GROUP BY 1, 2, 3)
        SELECT coalesce(b.account_id, t.account_id), coalesce(b.currency, t.currency),
               coalesce(b.bucket, t.bucket), coalesce(b.amount, 0), coalesce(t.amount, 0)
        FROM b FULL JOIN t USING (account_id, currency, bucket)
        WHERE coalesce(b.amount, 0) <> coalesce(t.amount, 0)
        ORDER BY 1, 2, 3 LIMIT %s
        """,
        (limits.AUDIT_FINDINGS_MAX,),
    ).fetchall():
        findings.append(
            Discrepancy(
                "balances_match_transactions",
                f"{bucket} {currency} balance is {balance} but its balance transactions net "
                f"{transactions}",
                account_id,
            )
        )
    for account_id, charge_id, refunded, expected in cur.execute(
        f"""
        SELECT c.account_id, c.id, (c.data->>'amount_refunded')::bigint,
               coalesce(r.amount, 0) + CASE
                   WHEN (c.data->>'captured')::boolean
                   THEN (c.data->>'amount')::bigint - (c.data->>'amount_captured')::bigint
                   WHEN (c.data->>'refunded')::boolean THEN (c.data->>'amount')::bigint
                   ELSE 0 END
        FROM {live}.objects c
        LEFT JOIN (SELECT account_id, data->>'charge' AS charge,
                          sum((data->>'amount')::bigint) AS amount
                   FROM {live}.objects WHERE object = 'refund'
                     AND data->>'status' IN ('succeeded', 'pending', 'requires_action')
                   GROUP BY 1, 2) r ON r.account_id = c.account_id AND r.charge = c.id
        WHERE c.object = 'charge' AND c.data->>'status' = 'succeeded'
          AND (c.data->>'amount_refunded')::bigint <> coalesce(r.amount, 0) + CASE
                   WHEN (c.data->>'captured')::boolean
                   THEN (c.data->>'amount')::bigint - (c.data->>'amount_captured')::bigint
                   WHEN (c.data->>'refunded')::boolean THEN (c.data->>'amount')::bigint
                   ELSE 0 END
        ORDER BY 1, 2 LIMIT %s
        """,
        (limits.AUDIT_FINDINGS_MAX,),
    ).fetchall():
        findings.append(
            Discrepancy(
                "refunds_match_charges",
                f"amount_refunded is {refunded} but its refunds and releases add up to {expected}",
                account_id,
                charge_id,
            )
        )
    for account_id, object_id, object_name, taken, allowed in cur.execute(
        f"""
        SELECT account_id, id, object,
               CASE object WHEN 'charge' THEN (data->>'amount_captured')::bigint
                           ELSE (data->>'amount_received')::bigint END,
               (data->>'amount')::bigint
        FROM {live}.objects
        WHERE (object = 'charge' AND (data->>'amount_captured')::bigint
                                      > (data->>'amount')::bigint)
           OR (object = 'payment_intent' AND (data->>'amount_received')::bigint
                                      > (data->>'amount')::bigint)
        ORDER BY 1, 2 LIMIT %s
        """,
        (limits.AUDIT_FINDINGS_MAX,),
    ).fetchall():
        findings.append(
            Discrepancy(
                "captured_within_authorized",
                f"{object_name} took {taken} of an authorized {allowed}",
                account_id,
                object_id,
            )
        )
    return findings
