"""The money projections: every posting, and each account's balance by bucket.

`postings` keeps every leg of every money movement (for the audit: Σ = 0). `balances` holds the
sum of an account's postings per currency, bucket (available, pending) and source type, spread
over a few stripes chosen by the balance transaction's id: concurrent payments into one busy
account then rarely wait on the same row, and a rebuild lands every amount on the same stripe.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from typing import Any, Final

import psycopg

from ledger.domain.postings import BALANCE_ACCOUNTS, Posting
from ledger.projections.objects import ProjectionCache
from ledger.store.batch import execute_values
from ledger.store.events import RecordedEvent

__all__ = ["BALANCE_STRIPES", "TABLES", "apply_money"]

BALANCE_STRIPES: Final = 8
TABLES: Final = ("postings", "balances")

_POSTINGS = (
    "INSERT INTO postings (account_id, position, leg, stream_id, book, ledger_account, currency, "
    "amount, source_type)",
    "(%s, %s, %s, %s, %s, %s, %s, %s, %s)",
    "",
)
_BALANCES = (
    "INSERT INTO balances (account_id, currency, bucket, source_type, stripe, amount)",
    "(%s, %s, %s, %s, %s, %s)",
    "ON CONFLICT (account_id, currency, bucket, source_type, stripe) "
    "DO UPDATE SET amount = balances.amount + EXCLUDED.amount",
)


def _stripe(stream_id: str) -> int:
    return zlib.crc32(stream_id.encode()) % BALANCE_STRIPES


def apply_money(
    cur: psycopg.Cursor[Any], events: Sequence[RecordedEvent], cache: ProjectionCache
) -> None:
    """Record the postings of `events` and add the balance legs to the account balances."""
    posting_rows: list[tuple[Any, ...]] = []
    balance_deltas: dict[tuple[str, str, str, str, int], int] = {}
    for recorded in events:
        postings: list[Posting] | None = getattr(recorded.event, "postings", None)
        if not postings:
            continue
        for leg, posting in enumerate(postings):
            posting_rows.append(
                (
                    recorded.account_id,
                    recorded.position,
                    leg,
                    recorded.stream_id,
                    posting.book,
                    posting.account,
                    posting.currency,
                    posting.amount,
                    posting.source_type,
                )
            )
            if posting.book == recorded.account_id and posting.account in BALANCE_ACCOUNTS:
                key = (
                    recorded.account_id,
                    posting.currency,
                    posting.account,
                    posting.source_type,
                    _stripe(recorded.stream_id),
                )
                balance_deltas[key] = balance_deltas.get(key, 0) + posting.amount
    if not posting_rows:
        return
    execute_values(cur, *_POSTINGS, posting_rows)
    # Sorted, so two commands touching the same stripes lock them in the same order.
    execute_values(
        cur, *_BALANCES, [(*key, delta) for key, delta in sorted(balance_deltas.items())]
    )
