"""Connected accounts for the Connect tests: verified with Stripe's test values, and funded."""

from __future__ import annotations

from typing import Any

from ledger import Ledger
from tests.support.accounts import verified_account


def connected_account(led: Ledger, **overrides: Any) -> str:
    """A custom US account whose card_payments and transfers capabilities are active at once.

    It carries Stripe's documented test verification values (see tests/support/accounts.py).
    """
    return verified_account(led, **overrides)


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
    balance = led.balance.retrieve(**params)
    return sum(entry.amount for entry in balance.available if entry.currency == currency)


def pending(led: Ledger, currency: str = "usd", **params: Any) -> int:
    """The pending balance in `currency`."""
    balance = led.balance.retrieve(**params)
    return sum(entry.amount for entry in balance.pending if entry.currency == currency)
