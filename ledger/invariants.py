"""The audit's invariants, checked on the live projections (see `ledger.audit`).

- every money movement's postings sum to zero per currency, and so do all postings;
- per account and currency, available + pending = Σ net of balance transactions, and each
  bucket equals the Σ net of the balance transactions in that status;
- a charge's amount_refunded = Σ of its refunds (plus the uncaptured part it released);
- nothing was captured above what was authorized;
- money between accounts arrives whole: every in-transit account (book `connect`: one per
  transfer and per application fee) sums to zero, and each transfer equals the payment it made
  in the connected account, reversals included;
- no payout took more than the available balance at its time: replayed in log order, the
  available balance is not below zero right after any payout's debit (a payout reversal's
  credit is not a debit).
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
    "in_transit_settled",
    "transfers_match_payments",
    "payouts_within_available",
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
    findings += _check_connect(cur, live)
    return findings


def _check_connect(cur: psycopg.Cursor[Any], live: str) -> list[Discrepancy]:
    findings: list[Discrepancy] = []
    for ledger_account, currency, total in cur.execute(
        f"SELECT ledger_account, currency, sum(amount) FROM {live}.postings "
        "WHERE book = 'connect' GROUP BY 1, 2 HAVING sum(amount) <> 0 ORDER BY 1, 2 LIMIT %s",
        (limits.AUDIT_FINDINGS_MAX,),
    ).fetchall():
        findings.append(
            Discrepancy(
                "in_transit_settled",
                f"{total} {currency} left one account and never arrived in the other",
                None,
                ledger_account,
            )
        )
    for account_id, transfer_id, sent, reversed_amount, arrived, refunded in cur.execute(
        f"""
        SELECT t.account_id, t.id, (t.data->>'amount')::bigint,
               (t.data->>'amount_reversed')::bigint, (p.data->>'amount')::bigint,
               (p.data->>'amount_refunded')::bigint
        FROM {live}.objects t
        LEFT JOIN {live}.objects p ON p.account_id = t.data->>'destination'
                                  AND p.id = t.data->>'destination_payment'
        WHERE t.object = 'transfer'
          AND (p.id IS NULL OR (p.data->>'amount')::bigint <> (t.data->>'amount')::bigint
               OR (p.data->>'amount_refunded')::bigint <> (t.data->>'amount_reversed')::bigint)
        ORDER BY 1, 2 LIMIT %s
        """,
        (limits.AUDIT_FINDINGS_MAX,),
    ).fetchall():
        findings.append(
            Discrepancy(
                "transfers_match_payments",
                f"sent {sent} (reversed {reversed_amount}) but the destination payment shows "
                f"{arrived} (refunded {refunded})",
                account_id,
                transfer_id,
            )
        )
    for account_id, txn_id, currency, running in cur.execute(
        f"""
        WITH running AS (
            SELECT account_id, stream_id, currency, amount,
                   sum(amount) OVER (PARTITION BY account_id, currency
                                     ORDER BY position, leg ROWS UNBOUNDED PRECEDING) AS balance
            FROM {live}.postings
            WHERE book = account_id AND ledger_account = 'available')
        SELECT r.account_id, r.stream_id, r.currency, r.balance
        FROM running r JOIN {live}.objects o ON o.account_id = r.account_id AND o.id = r.stream_id
        WHERE o.object = 'balance_transaction' AND o.data->>'type' = 'payout'
          AND r.amount < 0 AND r.balance < 0
        ORDER BY 1, 2 LIMIT %s
        """,
        (limits.AUDIT_FINDINGS_MAX,),
    ).fetchall():
        findings.append(
            Discrepancy(
                "payouts_within_available",
                f"a payout left the available {currency} balance at {running}",
                account_id,
                txn_id,
            )
        )
    return findings
