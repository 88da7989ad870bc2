"""Direct charges with application fees on PostgreSQL: a payment the platform makes in a connected
account (`stripe_account=`) takes `application_fee_amount` out of the charge itself, and the
platform books the ApplicationFee; refunds may refund the fee in proportion.

Every response is checked against Stripe's schema (autouse fixture); after every test the
postings sum to zero, every in-transit account is settled, and the audit (replay, balances,
invariants) passes.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from ledger import FrozenClock, InvalidRequestError, Ledger
from ledger.ids import derived_id
from tests.support.accounts import verified_account
from tests.support.connect import (  # settled is a fixture, used through pytestmark
    books,
    seller_account,
    settled,  # noqa: F401
    txn,
)
from tests.support.payments import (  # the fixtures are used through pytestmark
    all_events,
    audited,  # noqa: F401
    books_balance,  # noqa: F401
    confirmed,
    event_types,
    projection_rows,
    refused,
)

pytestmark = pytest.mark.usefixtures("books_balance", "audited", "settled")

AVAILABLE_ON = 1_732_233_600  # two business days after the clock fixture's time, 00:00 UTC
FEE = 88  # Stripe's fee on $20.00: 2.9% + 30¢
FEE_ON_1000 = 59  # Stripe's fee on $10.00


@pytest.fixture
def seller(led: Ledger) -> str:
    """A connected account whose card_payments capability is active."""
    return seller_account(led)


def direct(led: Ledger, seller: str, **params: Any) -> tuple[Any, Any]:
    """A $20.00 PaymentIntent the platform confirms in `seller`'s account: (intent, charge)."""
    intent = confirmed(led, stripe_account=seller, **params)
    return intent, led.charges.retrieve(intent.latest_charge, stripe_account=seller)


def application(led: Ledger) -> str:
    """The platform's Connect application, as the ledger derives it."""
    return derived_id("ca", led.platform_account_id)


def fee_types(charge_txn: Any) -> list[tuple[str, int]]:
    return [(detail.type, detail.amount) for detail in charge_txn.fee_details]


# -- the capture takes the fee -----------------------------------------------------------------


def test_a_direct_charge_takes_its_application_fee_for_the_platform(
    led: Ledger, seller: str, clock: FrozenClock
) -> None:
    intent, charge = direct(led, seller, application_fee_amount=123)
    assert (intent.application, intent.application_fee_amount) == (application(led), 123)
    assert (charge.application, charge.application_fee_amount) == (application(led), 123)
    assert charge.application_fee.startswith("fee_")
    assert "transfer" not in charge.to_dict() and charge.transfer_data is None

    # The connected account pays Stripe's fee and the application fee out of its charge.
    charge_txn = txn(led, charge.balance_transaction, seller)
    assert (charge_txn.type, charge_txn.amount, charge_txn.fee, charge_txn.net) == (
        "charge",
        2000,
        FEE + 123,
        2000 - FEE - 123,
    )
    assert fee_types(charge_txn) == [("stripe_fee", FEE), ("application_fee", 123)]
    detail = charge_txn.fee_details[1]
    assert (detail.application, detail.currency) == (application(led), "usd")
    assert (charge_txn.status, charge_txn.available_on) == ("pending", AVAILABLE_ON)

    fee = led.application_fees.retrieve(charge.application_fee)
    assert (fee.account, fee.charge, fee.originating_transaction) == (seller, charge.id, None)
    assert (fee.amount, fee.currency, fee.application) == (123, "usd", application(led))
    assert (fee.amount_refunded, fee.refunded, fee.refunds.total_count) == (0, False, 0)
    fee_txn = txn(led, fee.balance_transaction)
    assert (fee_txn.type, fee_txn.reporting_category, fee_txn.source) == (
        "application_fee",
        "platform_earning",
        fee.id,
    )
    assert (fee_txn.amount, fee_txn.fee, fee_txn.net, fee_txn.status) == (123, 0, 123, "pending")
    assert fee_txn.available_on == AVAILABLE_ON

    # The charge is the connected account's alone: the platform has no charge, only the fee.
    assert books(led) == (0, 123)
    assert books(led, seller) == (0, 2000 - FEE - 123)
    assert led.charges.list().data == [] and led.payment_intents.list().data == []
    platform_types = event_types(led)
    assert platform_types.count("application_fee.created") == 1
    assert not [kind for kind in platform_types if kind.startswith(("charge.", "payment_intent."))]
    seller_events = all_events(led, stripe_account=seller)
    (succeeded,) = [event for event in seller_events if event.type == "charge.succeeded"]
    assert succeeded.data.object.application_fee == fee.id
    assert succeeded.account == seller

    clock.advance(timedelta(days=2))
    led.run_due()
    assert books(led) == (123, 0)
    assert books(led, seller) == (2000 - FEE - 123, 0)


def test_a_direct_charge_without_a_fee_takes_none(led: Ledger, seller: str) -> None:
    intent, charge = direct(led, seller)
    # The platform made it, so it still names the platform's application.
    assert intent.application == charge.application == application(led)
    assert (charge.application_fee, charge.application_fee_amount) == (None, None)
    charge_txn = txn(led, charge.balance_transaction, seller)
    assert fee_types(charge_txn) == [("stripe_fee", FEE)]
    assert books(led, seller) == (0, 2000 - FEE)
    assert books(led) == (0, 0)
    assert led.application_fees.list().data == []
    # A fee of 0 takes nothing either.
    _, zero = direct(led, seller, application_fee_amount=0)
    assert (zero.application_fee, zero.application_fee_amount) == (None, 0)
    assert led.application_fees.list().data == []


def test_the_platforms_own_charge_has_no_application(led: Ledger) -> None:
    intent = confirmed(led)
    charge = led.charges.retrieve(intent.latest_charge)
    assert intent.application is None and charge.application is None


def test_a_legacy_direct_charge_takes_its_fee(led: Ledger, seller: str) -> None:
    charge = led.charges.create(
        amount=2000,
        currency="usd",
        source="tok_visa",
        application_fee_amount=200,
        stripe_account=seller,
    )
    assert (charge.application, charge.application_fee_amount) == (application(led), 200)
    charge_txn = txn(led, charge.balance_transaction, seller)
    assert fee_types(charge_txn) == [("stripe_fee", FEE), ("application_fee", 200)]
    fee = led.application_fees.retrieve(charge.application_fee)
    assert (fee.amount, fee.charge, fee.originating_transaction) == (200, charge.id, None)
    assert books(led) == (0, 200)
    assert books(led, seller) == (0, 2000 - FEE - 200)


def test_a_manual_capture_takes_the_fee_given_at_capture(led: Ledger, seller: str) -> None:
    intent, held = direct(led, seller, capture_method="manual", application_fee_amount=300)
    assert intent.status == "requires_capture" and held.application_fee is None
    assert led.application_fees.list().data == []
    assert books(led, seller) == (0, 0)

    captured = led.payment_intents.capture(
        intent.id, amount_to_capture=1000, application_fee_amount=100, stripe_account=seller
    )
    assert captured.application_fee_amount == 100
    charge = led.charges.retrieve(captured.latest_charge, stripe_account=seller)
    assert charge.application_fee_amount == 100
    fee = led.application_fees.retrieve(charge.application_fee)
    assert (fee.amount, fee.charge) == (100, charge.id)
    charge_txn = txn(led, charge.balance_transaction, seller)
    assert fee_types(charge_txn) == [("stripe_fee", FEE_ON_1000), ("application_fee", 100)]
    assert books(led, seller) == (0, 1000 - FEE_ON_1000 - 100)
    assert books(led) == (0, 100)
    (captured_event,) = [
        event for event in all_events(led, stripe_account=seller) if event.type == "charge.captured"
    ]
    assert captured_event.data.object.application_fee == fee.id
    assert captured_event.data.previous_attributes.application_fee is None


def test_a_legacy_capture_caps_the_fee_at_the_captured_amount(led: Ledger, seller: str) -> None:
    held = led.charges.create(
        amount=2000,
        currency="usd",
        source="tok_visa",
        capture=False,
        application_fee_amount=1500,
        stripe_account=seller,
    )
    assert held.application_fee is None
    captured = led.charges.capture(held.id, amount=1000, stripe_account=seller)
    # "The application fee collected is capped at the amount of the charge."
    fee = led.application_fees.retrieve(captured.application_fee)
    assert fee.amount == 1000
    charge_txn = txn(led, captured.balance_transaction, seller)
    assert charge_txn.net == -FEE_ON_1000
    assert books(led, seller) == (0, -FEE_ON_1000)
    assert books(led) == (0, 1000)


def test_a_legacy_capture_can_set_the_fee(led: Ledger, seller: str) -> None:
    held = led.charges.create(
        amount=2000, currency="usd", source="tok_visa", capture=False, stripe_account=seller
    )
    captured = led.charges.capture(
        held.id, amount=1000, application_fee_amount=80, stripe_account=seller
    )
    assert led.application_fees.retrieve(captured.application_fee).amount == 80
    assert books(led, seller) == (0, 1000 - FEE_ON_1000 - 80)


def test_a_3d_secure_direct_payment_takes_the_fee_once_authenticated(
    led: Ledger, seller: str
) -> None:
    intent = confirmed(
        led,
        payment_method="pm_card_threeDSecure2Required",
        application_fee_amount=100,
        stripe_account=seller,
    )
    assert intent.status == "requires_action" and led.application_fees.list().data == []
    done = led.test_helpers.complete_payment_intent_authentication(intent.id, stripe_account=seller)
    charge = led.charges.retrieve(done.latest_charge, stripe_account=seller)
    assert led.application_fees.retrieve(charge.application_fee).amount == 100
    assert books(led, seller) == (0, 2000 - FEE - 100)


def test_a_bypass_pending_direct_charge_is_available_on_both_sides_at_once(
    led: Ledger, seller: str
) -> None:
    direct(led, seller, payment_method="pm_card_bypassPending", application_fee_amount=150)
    assert books(led) == (150, 0)
    assert books(led, seller) == (2000 - FEE - 150, 0)


# -- who sees what -----------------------------------------------------------------------------


def test_only_the_platform_sees_the_fee(led: Ledger, seller: str, database_url: str) -> None:
    _, charge = direct(led, seller, application_fee_amount=123)
    fee_id = charge.application_fee
    assert led.application_fees.list(stripe_account=seller).data == []
    refused(
        database_url,
        lambda: led.application_fees.retrieve(fee_id, stripe_account=seller),
        InvalidRequestError,
        code="resource_missing",
        param="id",
        http_status=404,
    )
    assert [f.id for f in led.application_fees.list().data] == [fee_id]
    assert [f.id for f in led.application_fees.list(charge=charge.id).data] == [fee_id]
    # The charge is the connected account's: the platform expands it through the fee only.
    expanded = led.application_fees.retrieve(fee_id, expand=["charge", "balance_transaction"])
    assert (expanded.charge.id, expanded.charge.application_fee) == (charge.id, fee_id)
    assert expanded.balance_transaction.type == "application_fee"
    refused(
        database_url,
        lambda: led.charges.retrieve(charge.id),
        InvalidRequestError,
        code="resource_missing",
        param="charge",
        http_status=404,
    )


# -- refunds -----------------------------------------------------------------------------------


def test_a_refund_leaves_the_fee_with_the_platform_unless_asked(led: Ledger, seller: str) -> None:
    _, charge = direct(led, seller, application_fee_amount=123)
    led.refunds.create(charge=charge.id, stripe_account=seller)
    # The connected account bears the whole refund; Stripe's and the platform's fees stay.
    assert books(led, seller) == (-2000, 2000 - FEE - 123)
    assert books(led) == (0, 123)
    fee = led.application_fees.retrieve(charge.application_fee)
    assert (fee.amount_refunded, fee.refunded) == (0, False)


def test_refunds_refund_the_fee_in_proportion_to_exactly_all(
    led: Ledger, seller: str, clock: FrozenClock
) -> None:
    _, charge = direct(led, seller, application_fee_amount=123)
    clock.advance(timedelta(days=2))
    led.run_due()
    net = 2000 - FEE - 123
    assert books(led) == (123, 0) and books(led, seller) == (net, 0)

    refunded = []
    for amount in (1000, 999, 1):
        refund = led.refunds.create(
            charge=charge.id, amount=amount, refund_application_fee=True, stripe_account=seller
        )
        assert refund.transfer_reversal is None
        refunded.append(led.application_fees.retrieve(charge.application_fee).amount_refunded)
    # 123 * 1000/2000 = 61.5 → 62; 123 * 1999/2000 = 122.94 → 123, less 62; nothing is left.
    assert refunded == [62, 123, 123]
    fee = led.application_fees.retrieve(charge.application_fee)
    assert fee.refunded and fee.refunds.total_count == 2
    first = fee.refunds.data[1]
    platform_side = txn(led, first.balance_transaction)
    assert (platform_side.type, platform_side.amount, platform_side.status) == (
        "application_fee_refund",
        -62,
        "available",
    )
    seller_side = [
        t
        for t in led.balance_transactions.list(stripe_account=seller).data
        if t.type == "application_fee_refund"
    ]
    assert sorted((t.amount, t.source) for t in seller_side) == sorted(
        [(62, first.id), (61, fee.refunds.data[0].id)]
    )
    # The connected account refunded everything and got the fee back: it is out Stripe's fee.
    assert books(led, seller) == (-FEE, 0)
    assert books(led) == (0, 0)
    assert led.charges.retrieve(charge.id, stripe_account=seller).refunded
    types = event_types(led)
    assert types.count("application_fee.refunded") == 2
    assert "refund.created" in event_types(led, stripe_account=seller)


def test_only_refunds_that_ask_count_for_the_fee(led: Ledger, seller: str) -> None:
    _, charge = direct(led, seller, application_fee_amount=100)
    led.refunds.create(charge=charge.id, amount=500, stripe_account=seller)
    led.refunds.create(charge=charge.id, refund_application_fee=True, stripe_account=seller)
    # The second refund is 1500 of 2000: 75 of the fee; the first asked for nothing.
    fee = led.application_fees.retrieve(charge.application_fee)
    assert fee.amount_refunded == 75
    assert books(led) == (-75, 100)
    assert books(led, seller) == (-2000 + 75, 2000 - FEE - 100)


def test_the_platform_can_refund_a_direct_charges_fee(led: Ledger, seller: str) -> None:
    _, charge = direct(led, seller, application_fee_amount=123)
    fee_refund = led.application_fees.create_refund(charge.application_fee, amount=23)
    assert (fee_refund.amount, fee_refund.fee) == (23, charge.application_fee)
    assert books(led) == (-23, 123)
    assert books(led, seller) == (23, 2000 - FEE - 123)
    # A refund of the charge then refunds what is left of its share, no more.
    led.refunds.create(charge=charge.id, refund_application_fee=True, stripe_account=seller)
    fee = led.application_fees.retrieve(charge.application_fee)
    assert (fee.amount_refunded, fee.refunded) == (123, True)
    assert books(led) == (-123, 123)


def test_a_dispute_on_a_direct_charge_debits_the_connected_account_only(
    led: Ledger, seller: str
) -> None:
    _, charge = direct(
        led, seller, payment_method="pm_card_createDispute", application_fee_amount=123
    )
    led.run_due()
    (dispute,) = led.disputes.list(stripe_account=seller).data
    assert (dispute.charge, dispute.status) == (charge.id, "needs_response")
    # The amount and Stripe's dispute fee leave the connected account; the platform keeps its fee.
    assert books(led, seller) == (-2000 - 1500, 2000 - FEE - 123)
    assert books(led) == (0, 123)
    assert led.application_fees.retrieve(charge.application_fee).amount_refunded == 0


# -- refusals write nothing --------------------------------------------------------------------


def test_a_fee_larger_than_the_amount_is_refused(
    led: Ledger, seller: str, database_url: str
) -> None:
    for fee in (2001, -1):
        refused(
            database_url,
            lambda fee=fee: confirmed(led, application_fee_amount=fee, stripe_account=seller),
            InvalidRequestError,
            code=None,
            param="application_fee_amount",
            http_status=400,
        )
    refused(
        database_url,
        lambda: led.charges.create(
            amount=2000,
            currency="usd",
            source="tok_visa",
            application_fee_amount=2001,
            stripe_account=seller,
        ),
        InvalidRequestError,
        code=None,
        param="application_fee_amount",
        http_status=400,
    )
    intent, _ = direct(led, seller, capture_method="manual")
    refused(
        database_url,
        lambda: led.payment_intents.capture(
            intent.id, amount_to_capture=500, application_fee_amount=501, stripe_account=seller
        ),
        InvalidRequestError,
        code=None,
        param="application_fee_amount",
        http_status=400,
    )
    assert led.application_fees.list().data == []


def test_refund_application_fee_needs_a_fee(led: Ledger, seller: str, database_url: str) -> None:
    _, charge = direct(led, seller)
    refused(
        database_url,
        lambda: led.refunds.create(
            charge=charge.id, refund_application_fee=True, stripe_account=seller
        ),
        InvalidRequestError,
        code=None,
        param="refund_application_fee",
        http_status=400,
    )
    refused(
        database_url,
        lambda: led.refunds.create(charge=charge.id, reverse_transfer=True, stripe_account=seller),
        InvalidRequestError,
        code=None,
        param="reverse_transfer",
        http_status=400,
    )


def test_a_direct_charge_cannot_also_be_a_destination_charge(
    led: Ledger, seller: str, database_url: str
) -> None:
    other = verified_account(led)
    refused(
        database_url,
        lambda: confirmed(
            led,
            transfer_data={"destination": other},
            application_fee_amount=100,
            stripe_account=seller,
        ),
        InvalidRequestError,
        code="resource_missing",
        param="transfer_data[destination]",
        http_status=400,
    )


def test_the_platform_still_needs_a_destination_for_a_fee(led: Ledger, database_url: str) -> None:
    refused(
        database_url,
        lambda: confirmed(led, application_fee_amount=100),
        InvalidRequestError,
        code=None,
        param="application_fee_amount",
        http_status=400,
    )


# -- the log rebuilds the same ---------------------------------------------------------------


def test_rebuilding_reproduces_direct_charges_and_their_fees(
    led: Ledger, seller: str, database_url: str
) -> None:
    _, charge = direct(led, seller, application_fee_amount=123)
    led.refunds.create(
        charge=charge.id, amount=700, refund_application_fee=True, stripe_account=seller
    )
    led.charges.create(
        amount=1500,
        currency="usd",
        source="tok_visa",
        application_fee_amount=50,
        stripe_account=seller,
    )
    led.application_fees.create_refund(charge.application_fee, amount=10)
    live = projection_rows(database_url)
    led.rebuild()
    assert projection_rows(database_url) == live
