"""The money projections: every posting, and each account's balance by bucket.

`postings` keeps every leg of every money movement (for the audit: Σ = 0). `balances` holds the
sum of an account's postings per currency, bucket (available, pending) and source type, spread
over a few stripes chosen by the balance transaction's id: concurrent payments into one busy
account then rarely wait on the same row, and a rebuild lands every amount on the same stripe.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from functools import cache
from typing import Any, Final

import psycopg

from ledger import limits
from ledger.domain.events import DomainEvent
from ledger.domain.postings import BALANCE_ACCOUNTS, Posting
from ledger.projections.bulk import copy_rows
from ledger.projections.objects import ProjectionCache
from ledger.store.batch import execute_values
from ledger.store.events import RecordedEvent

__all__ = [
    "BALANCE_STRIPES",
    "POSTING_COLUMNS",
    "TABLES",
    "MoneyReplay",
    "apply_money",
    "collect_postings",
]

BALANCE_STRIPES: Final = 8
TABLES: Final = ("postings", "balances")

POSTING_COLUMNS = (
    "account_id",
    "position",
    "leg",
    "stream_id",
    "book",
    "ledger_account",
    "currency",
    "amount",
    "source_type",
)

_POSTINGS = (
    f"INSERT INTO postings ({', '.join(POSTING_COLUMNS)})",
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


BalanceKey = tuple[str, str, str, str, int]  # account, currency, bucket, source type, stripe


@cache
def _carries_postings(event_class: type[DomainEvent]) -> bool:
    # Asked once per class: pydantic's __getattr__ is slow for names a model does not have.
    return "postings" in event_class.model_fields or hasattr(event_class, "postings")


def collect_postings(
    events: Sequence[RecordedEvent],
    posting_rows: list[tuple[Any, ...]],
    balance_deltas: dict[BalanceKey, int],
) -> None:
    """Add the posting rows of `events` to `posting_rows` and their balance legs to the deltas."""
    for recorded in events:
        if not _carries_postings(type(recorded.event)):
            continue
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


def _add_to_balances(cur: psycopg.Cursor[Any], balance_deltas: dict[BalanceKey, int]) -> None:
    # Sorted, so two commands touching the same stripes lock them in the same order.
    execute_values(
        cur, *_BALANCES, [(*key, delta) for key, delta in sorted(balance_deltas.items())]
    )


def apply_money(
    cur: psycopg.Cursor[Any], events: Sequence[RecordedEvent], cache: ProjectionCache
) -> None:
    """Record the postings of `events` and add the balance legs to the account balances."""
    posting_rows: list[tuple[Any, ...]] = []
    balance_deltas: dict[BalanceKey, int] = {}
    collect_postings(events, posting_rows, balance_deltas)
    if not posting_rows:
        return
    execute_values(cur, *_POSTINGS, posting_rows)
    _add_to_balances(cur, balance_deltas)


class MoneyReplay:
    """Replays the money projections: postings copied, balances summed before writing.

    Postings are written every `REPLAY_COPY_ROWS` rows; the sums are added to the balances
    when they cover more than `REPLAY_BALANCE_KEYS_MAX` balance rows, so memory stays bounded
    however many accounts the log holds.
    """

    def __init__(self, platform_account_id: str) -> None:
        self._posting_rows: list[tuple[Any, ...]] = []
        self._balance_deltas: dict[BalanceKey, int] = {}

    def feed(self, cur: psycopg.Cursor[Any], events: Sequence[RecordedEvent]) -> None:
        """Replay `events` (any order: postings are keyed by position, balances are sums)."""
        collect_postings(events, self._posting_rows, self._balance_deltas)
        if len(self._posting_rows) >= limits.REPLAY_COPY_ROWS:
            self._write_postings(cur)
        if len(self._balance_deltas) > limits.REPLAY_BALANCE_KEYS_MAX:
            self._write_balances(cur)

    def finish(self, cur: psycopg.Cursor[Any]) -> None:
        """Write the postings and sums held so far."""
        self._write_postings(cur)
        self._write_balances(cur)

    def _write_postings(self, cur: psycopg.Cursor[Any]) -> None:
        if self._posting_rows:
            copy_rows(cur, "postings", POSTING_COLUMNS, self._posting_rows)
        self._posting_rows = []

    def _write_balances(self, cur: psycopg.Cursor[Any]) -> None:
        if self._balance_deltas:
            _add_to_balances(cur, self._balance_deltas)
        self._balance_deltas = {}
