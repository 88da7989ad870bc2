"""The audit's invariants, checked on the live projections (see `ledger.audit`).

- every money movement's postings sum to zero per currency, and so do all postings;
- per account and currency, available + pending = Σ net of balance transactions, and each
  bucket equals the Σ net of the balance transactions in that status;
- a charge's amount_refunded = Σ of its refunds (plus the uncaptured part it released);
- nothing was captured above what was authorized.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

import psycopg

from ledger import limits

__all__ = ["INVARIANT_CHECKS", "Discrepancy", "check_invariants"]

INVARIANT_CHECKS: Final = (
    "postings_balanced",
    "balances_match_transactions",
    "refunds_match_charges",
    "captured_within_authorized",
)


@dataclass(frozen=True, slots=True)
class Discrepancy:
    """One thing the audit found wrong."""

    check: str
    detail: str
    account_id: str | None = None
    object_id: str | None = None


def check_invariants(cur: psycopg.Cursor[Any], live: str) -> list[Discrepancy]:
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
