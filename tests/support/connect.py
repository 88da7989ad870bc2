"""Shared helpers of the Connect tests: sellers, funding, balances and in-transit accounts."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from ledger import Ledger
from tests.support.accounts import verified_account
from tests.support.payments import balance

# The name tests/property gives a verified account (the integration tests say verified_account,
# as tests.support.accounts.connected_account is an unverified one).
connected_account = verified_account


def seller_account(led: Ledger) -> str:
    """A verified connected account, once the due work that may finish its verification has run:
    its card_payments and transfers capabilities are active."""
    account = verified_account(led)
    led.run_due()  # finishes a verification Stripe's test mode does "shortly after", if any
    capabilities = led.accounts.retrieve(account).capabilities
    assert (capabilities.card_payments, capabilities.transfers) == ("active", "active")
    return account


def fund_platform(led: Ledger, amount: int = 10_000, **params: Any) -> int:
    """Make `amount` available on the platform at once (pm_card_bypassPending); return the net."""
    intent = led.payment_intents.create(
        amount=amount,
        currency="usd",
        payment_method="pm_card_bypassPending",
        payment_method_types=["card"],
        confirm=True,
        **params,
    )
    charge = led.charges.retrieve(intent.latest_charge, expand=["balance_transaction"])
    return int(charge.balance_transaction.net)


def available(led: Ledger, currency: str = "usd", **params: Any) -> int:
    """The available balance in `currency`."""
    found = led.balance.retrieve(**params)
    return sum(entry.amount for entry in found.available if entry.currency == currency)


def pending(led: Ledger, currency: str = "usd", **params: Any) -> int:
    """The pending balance in `currency`."""
    found = led.balance.retrieve(**params)
    return sum(entry.amount for entry in found.pending if entry.currency == currency)


def _as(account: str | None) -> dict[str, str]:
    """Request params acting as `account` (None: the platform)."""
    return {} if account is None else {"stripe_account": account}


def books(led: Ledger, account: str | None = None) -> tuple[int, int]:
    """(available, pending) in usd, of the platform or of `account`."""
    return balance(led, **_as(account))


def txn(led: Ledger, txn_id: str, account: str | None = None) -> Any:
    """A balance transaction of the platform or of `account`."""
    return led.balance_transactions.retrieve(txn_id, **_as(account))


def in_transit(url: str) -> dict[str, int]:
    """Σ of each in-transit (book `connect`) ledger account that is not zero."""
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT ledger_account, sum(amount) FROM postings WHERE book = 'connect' "
            "GROUP BY ledger_account HAVING sum(amount) <> 0"
        ).fetchall()
    return {str(account): int(total) for account, total in rows}


@pytest.fixture
def settled(database_url: str) -> Iterator[None]:
    """After the test, every transfer's and application fee's in-transit account is zero."""
    yield
    assert in_transit(database_url) == {}
