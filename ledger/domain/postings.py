"""Double-entry postings: every movement of money is a set of postings summing to zero.

A posting moves `amount` (minor units, signed) into one ledger account of one book. The books are
Stripe accounts (`acct_…`: their `available` and `pending` balances) and the parties outside
them: the card networks (`network`) and Stripe itself (`stripe`: its fees). Per currency, the
postings of one balance transaction sum to zero; so does the whole log.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Final

from pydantic import BaseModel, ConfigDict

__all__ = [
    "AVAILABLE",
    "BOOK_BANK",
    "BOOK_CONNECT",
    "BOOK_NETWORK",
    "BOOK_STRIPE",
    "CARD_NETWORK",
    "FEES",
    "PAYOUTS",
    "PENDING",
    "TOPUPS",
    "Posting",
    "assert_balanced",
    "imbalances",
]

# Books outside the Stripe accounts.
BOOK_NETWORK: Final = "network"
BOOK_STRIPE: Final = "stripe"
BOOK_BANK: Final = "bank"  # banks and cards that payouts go to and top-ups come from
# Money in transit between two Stripe accounts (transfers, application fees): each linking
# object (tr_…, fee_…) has its own ledger account in this book, which sums to zero once both
# sides are booked.
BOOK_CONNECT: Final = "connect"

# Ledger accounts.
AVAILABLE: Final = "available"  # an account's available balance
PENDING: Final = "pending"  # an account's pending balance
CARD_NETWORK: Final = "card"  # money in flight to or from the card networks
FEES: Final = "fees"  # Stripe's fee revenue
PAYOUTS: Final = "payouts"  # money paid out to (or returned from) external accounts
TOPUPS: Final = "topups"  # money pulled in from a bank account by a top-up

BALANCE_ACCOUNTS: Final = frozenset({AVAILABLE, PENDING})


class Posting(BaseModel):
    """One leg of a money movement."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    book: str
    account: str
    currency: str
    amount: int
    source_type: str = "card"


def imbalances(postings: Iterable[Posting]) -> dict[str, int]:
    """Σ amount per currency, for the currencies where it is not zero."""
    totals: defaultdict[str, int] = defaultdict(int)
    for posting in postings:
        totals[posting.currency] += posting.amount
    return {currency: total for currency, total in totals.items() if total}


def assert_balanced(postings: Iterable[Posting]) -> None:
    """Our invariant: a money movement that does not sum to zero is a bug."""
    unbalanced = imbalances(postings)
    assert not unbalanced, f"postings do not sum to zero: {unbalanced}"
