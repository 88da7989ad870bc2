"""A connected account's balance below zero, as Stripe's Connect documents it.

Refunds, disputes and reversals of destination-charge transfers may take a connected account's
available balance below zero; the account then cannot pay out until incoming funds (charges,
transfers) have covered the deficit: the balance is one sum, so they net automatically.
"""

from __future__ import annotations

import pytest

from ledger import InvalidRequestError, Ledger
from tests.support.accounts import verified_account
from tests.support.connect import available, fund_platform
from tests.support.payments import (  # the fixtures are used through pytestmark
    audited,  # noqa: F401
    books_balance,  # noqa: F401
    confirmed,
    counts,
)

pytestmark = pytest.mark.usefixtures("books_balance", "audited")


@pytest.fixture
def seller(led: Ledger) -> str:
    account = verified_account(led)
    led.accounts.external_accounts.create(account, external_account="btok_us_verified")
    return account


def test_a_refund_after_the_seller_was_paid_out_leaves_it_negative(
    led: Ledger, seller: str, database_url: str
) -> None:
    on = {"stripe_account": seller}
    intent = confirmed(
        led, "pm_card_bypassPending", amount=10_000, transfer_data={"destination": seller}
    )
    assert available(led, **on) == 10_000
    led.payouts.create(amount=10_000, currency="usd", **on)
    assert available(led, **on) == 0

    # The platform refunds the buyer and takes the money back from the seller, who has none.
    led.refunds.create(payment_intent=intent.id, reverse_transfer=True)
    assert available(led, **on) == -10_000

    # Negative: no payout, however small; nothing is written by the refusal.
    before = counts(database_url)
    with pytest.raises(InvalidRequestError) as caught:
        led.payouts.create(amount=1, currency="usd", **on)
    assert caught.value.code == "balance_insufficient"
    assert counts(database_url) == before

    # Incoming funds cover the deficit first; only the surplus can be paid out.
    fund_platform(led, amount=20_000)
    led.transfers.create(amount=12_000, currency="usd", destination=seller)
    assert available(led, **on) == 2_000
    with pytest.raises(InvalidRequestError):
        led.payouts.create(amount=2_001, currency="usd", **on)
    led.payouts.create(amount=2_000, currency="usd", **on)
    assert available(led, **on) == 0


def test_a_dispute_on_the_sellers_own_charge_takes_it_below_zero(led: Ledger, seller: str) -> None:
    on = {"stripe_account": seller}
    confirmed(led, "pm_card_createDispute", amount=5_000, **on)
    led.run_due()  # the test card's dispute opens: amount and $15.00 fee withdrawn
    assert available(led, **on) == -5_000 - 1_500
    with pytest.raises(InvalidRequestError) as caught:
        led.payouts.create(amount=100, currency="usd", **on)
    assert caught.value.code == "balance_insufficient"


def test_a_reversal_of_a_plain_transfer_cannot_take_the_seller_below_zero(
    led: Ledger, seller: str
) -> None:
    on = {"stripe_account": seller}
    fund_platform(led)
    transfer = led.transfers.create(amount=3_000, currency="usd", destination=seller)
    led.payouts.create(amount=2_000, currency="usd", **on)
    with pytest.raises(InvalidRequestError) as caught:
        led.transfers.create_reversal(transfer.id)
    assert caught.value.code == "balance_insufficient"
    led.transfers.create_reversal(transfer.id, amount=1_000)
    assert available(led, **on) == 0
