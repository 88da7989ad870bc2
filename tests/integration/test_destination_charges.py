"""Destination charges on PostgreSQL: the transfer and the application fee a capture makes, refunds
that reverse them in proportion, disputes, and Stripe's refusals.

Every response is checked against Stripe's schema (autouse fixture); after every test the
postings sum to zero, every in-transit account is settled, and the audit (replay, balances,
invariants) passes.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from ledger import FrozenClock, InvalidRequestError, Ledger
from tests.support.accounts import connected_account
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

NOW = 1_732_104_000  # the clock fixture: 2024-11-20 12:00 UTC
AVAILABLE_ON = 1_732_233_600  # two business days later, 00:00 UTC
FEE = 88  # Stripe's fee on $20.00: 2.9% + 30¢
MESSAGE_FEE_WITHOUT_DESTINATION = (
    "Can only apply an application_fee_amount when the PaymentIntent is attempting a direct "
    "payment (using an OAuth key or Stripe-Account header) or destination payment (using "
    "`transfer_data[destination]`)."
)


@pytest.fixture
def seller(led: Ledger) -> str:
    """A connected account whose transfers capability is active."""
    return seller_account(led)


def destination(led: Ledger, seller: str, **params: Any) -> tuple[Any, Any]:
    """A $20.00 destination charge to `seller`, confirmed: (intent, charge)."""
    intent = confirmed(led, **({"transfer_data": {"destination": seller}} | params))
    return intent, led.charges.retrieve(intent.latest_charge)


# -- capture books the transfer and the application fee ----------------------------------------


def test_a_destination_charge_transfers_its_funds_and_takes_the_application_fee(
    led: Ledger, seller: str, clock: FrozenClock
) -> None:
    intent, charge = destination(led, seller, application_fee_amount=123)
    group = f"group_{intent.id}"
    assert intent.transfer_group == group
    assert (charge.transfer_group, charge.application_fee_amount) == (group, 123)
    assert charge.application is None  # the platform's own charge
    transfer = led.transfers.retrieve(charge.transfer)
    assert (transfer.amount, transfer.destination, transfer.source_transaction) == (
        2000,
        seller,
        charge.id,
    )
    assert transfer.transfer_group == group
    platform_side = txn(led, transfer.balance_transaction)
    assert (platform_side.type, platform_side.amount, platform_side.status) == (
        "transfer",
        -2000,
        "pending",
    )
    assert platform_side.available_on == AVAILABLE_ON

    payment = led.charges.retrieve(transfer.destination_payment, stripe_account=seller)
    assert payment.id.startswith("py_")
    assert (payment.amount, payment.source_transfer, payment.transfer_group) == (
        2000,
        transfer.id,
        group,
    )
    assert (payment.application_fee, payment.application_fee_amount) == (
        charge.application_fee,
        123,
    )
    payment_txn = txn(led, payment.balance_transaction, seller)
    assert (payment_txn.type, payment_txn.amount, payment_txn.fee, payment_txn.net) == (
        "payment",
        2000,
        123,
        1877,
    )
    (detail,) = payment_txn.fee_details
    assert (detail.type, detail.amount, detail.currency) == ("application_fee", 123, "usd")
    assert detail.application == payment.application and detail.application.startswith("ca_")
    assert (payment_txn.status, payment_txn.available_on) == ("pending", AVAILABLE_ON)

    fee = led.application_fees.retrieve(charge.application_fee)
    assert (fee.amount, fee.currency, fee.account) == (123, "usd", seller)
    assert (fee.charge, fee.originating_transaction) == (payment.id, charge.id)
    assert fee.application == detail.application
    assert (fee.amount_refunded, fee.refunded, fee.refunds.total_count) == (0, False, 0)
    fee_txn = txn(led, fee.balance_transaction)
    assert (fee_txn.type, fee_txn.reporting_category, fee_txn.source) == (
        "application_fee",
        "platform_earning",
        fee.id,
    )
    assert (fee_txn.amount, fee_txn.fee, fee_txn.net, fee_txn.status) == (123, 0, 123, "pending")
    assert fee_txn.available_on == AVAILABLE_ON

    # The platform keeps the fee and pays Stripe's; the seller gets the rest. All pending.
    assert books(led) == (0, 2000 - FEE - 2000 + 123)
    assert books(led, seller) == (0, 1877)
    assert "application_fee.created" in event_types(led)
    assert "transfer.created" in event_types(led)
    assert event_types(led, stripe_account=seller) == []  # Stripe sends none for py_ payments

    clock.advance(timedelta(days=2))
    led.run_due()
    assert books(led) == (35, 0)
    assert books(led, seller) == (1877, 0)


def test_without_an_application_fee_the_whole_amount_is_transferred(
    led: Ledger, seller: str
) -> None:
    _, charge = destination(led, seller)
    assert charge.application_fee is None and charge.application_fee_amount is None
    transfer = led.transfers.retrieve(charge.transfer)
    payment = led.charges.retrieve(transfer.destination_payment, stripe_account=seller)
    assert (payment.application_fee, payment.application_fee_amount) == (None, None)
    payment_txn = txn(led, payment.balance_transaction, seller)
    assert (payment_txn.amount, payment_txn.fee, payment_txn.fee_details) == (2000, 0, [])
    assert books(led) == (0, -FEE)
    assert books(led, seller) == (0, 2000)
    assert led.application_fees.list().data == []


def test_transfer_data_amount_sends_only_that_amount(led: Ledger, seller: str) -> None:
    intent, charge = destination(led, seller, transfer_data={"destination": seller, "amount": 1500})
    assert intent.transfer_data.amount == 1500 and charge.transfer_data.amount == 1500
    assert led.transfers.retrieve(charge.transfer).amount == 1500
    assert books(led) == (0, 500 - FEE)
    assert books(led, seller) == (0, 1500)


def test_a_plain_charge_shows_no_transfer(led: Ledger) -> None:
    charge = led.charges.retrieve(confirmed(led).latest_charge)
    assert "transfer" not in charge.to_dict()
    assert charge.transfer_group is None


def test_nothing_moves_until_a_manual_capture_and_a_partial_capture_sends_its_share(
    led: Ledger, seller: str
) -> None:
    intent, charge = destination(
        led,
        seller,
        capture_method="manual",
        application_fee_amount=300,
        transfer_data={"destination": seller, "amount": 1800},
    )
    assert intent.status == "requires_capture"
    assert "transfer" not in charge.to_dict() and charge.application_fee is None
    assert led.transfers.list().data == [] and led.application_fees.list().data == []

    captured = led.payment_intents.capture(
        intent.id, amount_to_capture=1000, application_fee_amount=100
    )
    charge = led.charges.retrieve(captured.latest_charge)
    # transfer_data[amount] is capped at the captured amount.
    transfer = led.transfers.retrieve(charge.transfer)
    assert transfer.amount == 1000
    fee = led.application_fees.retrieve(charge.application_fee)
    assert fee.amount == 100
    charge_txn = txn(led, charge.balance_transaction)
    assert books(led) == (0, charge_txn.net - 1000 + 100)
    assert books(led, seller) == (0, 900)


def test_the_capture_can_change_the_transferred_amount(led: Ledger, seller: str) -> None:
    intent, _ = destination(
        led, seller, capture_method="manual", transfer_data={"destination": seller, "amount": 500}
    )
    captured = led.payment_intents.capture(intent.id, transfer_data={"amount": 1200})
    charge = led.charges.retrieve(captured.latest_charge)
    assert charge.transfer_data.amount == 1200
    assert led.transfers.retrieve(charge.transfer).amount == 1200
    assert books(led, seller) == (0, 1200)


def test_a_bypass_pending_destination_charge_is_available_on_both_sides_at_once(
    led: Ledger, seller: str
) -> None:
    _, charge = destination(
        led, seller, payment_method="pm_card_bypassPending", application_fee_amount=200
    )
    assert books(led) == (2000 - FEE - 2000 + 200, 0)
    assert books(led, seller) == (1800, 0)
    assert txn(led, charge.balance_transaction).status == "available"


def test_a_legacy_destination_charge_is_grouped_by_the_charge(led: Ledger, seller: str) -> None:
    charge = led.charges.create(
        amount=2000,
        currency="usd",
        source="tok_visa",
        transfer_data={"destination": seller},
        application_fee_amount=150,
    )
    assert charge.transfer_group == f"group_{charge.id}"
    transfer = led.transfers.retrieve(charge.transfer)
    assert (transfer.amount, transfer.transfer_group) == (2000, charge.transfer_group)
    assert led.application_fees.retrieve(charge.application_fee).amount == 150
    assert books(led, seller) == (0, 1850)

    held = led.charges.create(
        amount=1000,
        currency="usd",
        source="tok_visa",
        capture=False,
        transfer_data={"destination": seller},
        transfer_group="ORDER7",
    )
    assert "transfer" not in held.to_dict()
    captured = led.charges.capture(held.id, amount=800, application_fee_amount=80)
    transfer = led.transfers.retrieve(captured.transfer)
    assert (transfer.amount, transfer.transfer_group) == (800, "ORDER7")
    assert led.application_fees.retrieve(captured.application_fee).amount == 80
    assert books(led, seller) == (0, 1850 + 720)


def test_a_3d_secure_destination_payment_transfers_once_authenticated(
    led: Ledger, seller: str
) -> None:
    intent = led.payment_intents.create(
        amount=2000,
        currency="usd",
        payment_method_types=["card"],
        payment_method="pm_card_threeDSecure2Required",
        transfer_data={"destination": seller},
        application_fee_amount=100,
        confirm=True,
    )
    assert intent.status == "requires_action" and led.transfers.list().data == []
    done = led.test_helpers.complete_payment_intent_authentication(intent.id)
    charge = led.charges.retrieve(done.latest_charge)
    assert led.transfers.retrieve(charge.transfer).amount == 2000
    assert books(led, seller) == (0, 1900)


def test_on_behalf_of_is_recorded_on_the_intent_and_its_charge(led: Ledger, seller: str) -> None:
    intent, charge = destination(led, seller, on_behalf_of=seller)
    assert intent.on_behalf_of == seller and charge.on_behalf_of == seller
    # Statement descriptor and pricing stay the platform's (see the README).
    assert charge.calculated_statement_descriptor == "LEDGER"
    assert txn(led, charge.balance_transaction).fee == FEE


def test_the_platform_can_list_a_destination_charges_objects_by_group(
    led: Ledger, seller: str
) -> None:
    intent, charge = destination(led, seller, application_fee_amount=10)
    group = f"group_{intent.id}"
    assert [t.id for t in led.transfers.list(transfer_group=group).data] == [charge.transfer]
    assert [c.id for c in led.charges.list(transfer_group=group).data] == [charge.id]


# -- refusals: Stripe's errors, nothing written ------------------------------------------------


def test_the_destination_must_be_a_connected_account_that_takes_transfers(
    led: Ledger, seller: str, database_url: str
) -> None:
    base = {"amount": 2000, "currency": "usd", "payment_method_types": ["card"]}
    refused(
        database_url,
        lambda: led.payment_intents.create(**base, transfer_data={"destination": "acct_1Unknown"}),
        InvalidRequestError,
        code="resource_missing",
        param="transfer_data[destination]",
        http_status=400,
        message="No such destination: 'acct_1Unknown'",
    )
    refused(
        database_url,
        lambda: led.payment_intents.create(
            **base, transfer_data={"destination": led.platform_account_id}
        ),
        InvalidRequestError,
        code="resource_missing",
        param="transfer_data[destination]",
        http_status=400,
    )
    unverified = connected_account(led)  # transfers requested, not active
    refused(
        database_url,
        lambda: led.payment_intents.create(**base, transfer_data={"destination": unverified}),
        InvalidRequestError,
        code="insufficient_capabilities_for_transfer",
        param="transfer_data[destination]",
        http_status=400,
    )
    # A connected account cannot make destination charges to another.
    refused(
        database_url,
        lambda: led.payment_intents.create(
            **base, transfer_data={"destination": seller}, stripe_account=unverified
        ),
        InvalidRequestError,
        code="resource_missing",
        param="transfer_data[destination]",
        http_status=400,
    )


def test_on_behalf_of_must_be_a_connected_account(led: Ledger, database_url: str) -> None:
    refused(
        database_url,
        lambda: confirmed(led, on_behalf_of="acct_1Nobody"),
        InvalidRequestError,
        code="resource_missing",
        param="on_behalf_of",
        http_status=400,
        message="No such account: 'acct_1Nobody'",
    )


def test_an_application_fee_needs_a_destination(
    led: Ledger, seller: str, database_url: str
) -> None:
    refused(
        database_url,
        lambda: confirmed(led, application_fee_amount=100),
        InvalidRequestError,
        code=None,
        param="application_fee_amount",
        http_status=400,
        message=MESSAGE_FEE_WITHOUT_DESTINATION,
    )
    plain = confirmed(led, capture_method="manual")
    refused(
        database_url,
        lambda: led.payment_intents.capture(plain.id, application_fee_amount=100),
        InvalidRequestError,
        code=None,
        param="application_fee_amount",
        http_status=400,
        message=MESSAGE_FEE_WITHOUT_DESTINATION,
    )
    waiting = led.payment_intents.create(amount=2000, currency="usd", payment_method_types=["card"])
    refused(
        database_url,
        lambda: led.payment_intents.update(waiting.id, application_fee_amount=100),
        InvalidRequestError,
        code=None,
        param="application_fee_amount",
        http_status=400,
        message=MESSAGE_FEE_WITHOUT_DESTINATION,
    )
    refused(
        database_url,
        lambda: led.charges.create(
            amount=2000, currency="usd", source="tok_visa", application_fee_amount=100
        ),
        InvalidRequestError,
        code=None,
        param="application_fee_amount",
        http_status=400,
    )
    # A direct charge (made in the connected account) takes its fee: tests/integration/
    # test_direct_charges.py.


def test_the_fee_cannot_exceed_what_is_transferred(
    led: Ledger, seller: str, database_url: str
) -> None:
    refused(
        database_url,
        lambda: confirmed(
            led,
            transfer_data={"destination": seller, "amount": 500},
            application_fee_amount=501,
        ),
        InvalidRequestError,
        code=None,
        param="application_fee_amount",
        http_status=400,
    )
    intent, _ = destination(
        led,
        seller,
        capture_method="manual",
        transfer_data={"destination": seller, "amount": 500},
        application_fee_amount=400,
    )
    refused(
        database_url,
        lambda: led.payment_intents.capture(intent.id, transfer_data={"amount": 300}),
        InvalidRequestError,
        code=None,
        param="application_fee_amount",
        http_status=400,
    )


def test_accounts_are_checked_again_on_update_and_confirmation(
    led: Ledger, seller: str, database_url: str
) -> None:
    intent = led.payment_intents.create(
        amount=2000,
        currency="usd",
        payment_method_types=["card"],
        payment_method="pm_card_visa",
        transfer_data={"destination": seller},
    )
    # An update cannot change transfer_data[destination] or on_behalf_of (not in Stripe's
    # spec), only the amounts.
    refused(
        database_url,
        lambda: led.payment_intents.update(
            intent.id, transfer_data={"amount": 500}, application_fee_amount=600
        ),
        InvalidRequestError,
        code=None,
        param="application_fee_amount",
        http_status=400,
    )
    refused(
        database_url,
        lambda: led.payment_intents.update(intent.id, transfer_data={"amount": 2001}),
        InvalidRequestError,
        code=None,
        param="transfer_data[amount]",
        http_status=400,
    )
    updated = led.payment_intents.update(intent.id, transfer_data={"amount": 1500})
    assert updated.transfer_data.to_dict() == {"amount": 1500, "destination": seller}
    led.accounts.delete(seller)
    refused(
        database_url,
        lambda: led.payment_intents.confirm(intent.id),
        InvalidRequestError,
        code="resource_missing",
        param="transfer_data[destination]",
        http_status=400,
    )
    assert led.payment_intents.retrieve(intent.id).status == "requires_confirmation"


# -- refunds -----------------------------------------------------------------------------------


def test_a_full_refund_reverses_the_transfer_and_refunds_the_fee_when_asked(
    led: Ledger, seller: str, clock: FrozenClock
) -> None:
    _, charge = destination(led, seller, application_fee_amount=123)
    clock.advance(timedelta(days=2))
    led.run_due()
    assert books(led) == (35, 0) and books(led, seller) == (1877, 0)

    refund = led.refunds.create(
        charge=charge.id, reverse_transfer=True, refund_application_fee=True
    )
    reversal = led.transfers.retrieve_reversal(charge.transfer, refund.transfer_reversal)
    assert (reversal.amount, reversal.source_refund) == (2000, refund.id)
    transfer = led.transfers.retrieve(charge.transfer)
    assert (transfer.amount_reversed, transfer.reversed) == (2000, True)
    fee = led.application_fees.retrieve(charge.application_fee)
    assert (fee.amount_refunded, fee.refunded) == (123, True)
    (fee_refund,) = fee.refunds.data
    platform_side = txn(led, fee_refund.balance_transaction)
    assert (platform_side.type, platform_side.amount, platform_side.reporting_category) == (
        "application_fee_refund",
        -123,
        "platform_earning_refund",
    )
    seller_side = [
        t
        for t in led.balance_transactions.list(stripe_account=seller).data
        if t.type == "application_fee_refund"
    ]
    assert [(t.amount, t.source, t.status) for t in seller_side] == [
        (123, fee_refund.id, "available")
    ]
    # The seller is made whole again at zero; the platform is out Stripe's fee only.
    assert books(led, seller) == (0, 0)
    assert books(led) == (-FEE, 0)
    assert led.charges.retrieve(charge.id).refunded


def test_partial_refunds_reverse_and_refund_in_proportion_to_exactly_all(
    led: Ledger, seller: str
) -> None:
    _, charge = destination(led, seller, application_fee_amount=123)
    shares = []
    for amount in (1000, 999, 1):
        refund = led.refunds.create(
            charge=charge.id, amount=amount, reverse_transfer=True, refund_application_fee=True
        )
        reversal = (
            None
            if refund.transfer_reversal is None
            else led.transfers.retrieve_reversal(charge.transfer, refund.transfer_reversal)
        )
        fee = led.application_fees.retrieve(charge.application_fee)
        shares.append((None if reversal is None else reversal.amount, fee.amount_refunded))
    # 123 * 1000/2000 = 61.5 → 62; 123 * 1999/2000 = 122.94 → 123, less 62; nothing is left.
    assert shares == [(1000, 62), (999, 123), (1, 123)]
    assert len(led.application_fees.list_refunds(charge.application_fee).data) == 2
    assert led.transfers.retrieve(charge.transfer).reversed
    # The reversals take back the pending payment; the fee refunds are available at once.
    assert books(led, seller) == (123, 1877 - 2000)


def test_reversals_follow_transfer_data_amount(led: Ledger, seller: str) -> None:
    _, charge = destination(led, seller, transfer_data={"destination": seller, "amount": 1500})
    refund = led.refunds.create(charge=charge.id, amount=1000, reverse_transfer=True)
    reversal = led.transfers.retrieve_reversal(charge.transfer, refund.transfer_reversal)
    assert reversal.amount == 750  # 1500 * 1000/2000
    assert books(led, seller) == (0, 750)


def test_without_the_options_the_platform_bears_the_refund(led: Ledger, seller: str) -> None:
    _, charge = destination(led, seller, application_fee_amount=123)
    refund = led.refunds.create(charge=charge.id, amount=500)
    assert refund.transfer_reversal is None
    assert led.transfers.retrieve(charge.transfer).amount_reversed == 0
    assert led.application_fees.retrieve(charge.application_fee).amount_refunded == 0
    assert books(led, seller) == (0, 1877)
    assert books(led) == (-500, 35)
    # Only the refunds that ask for it count for the proportion: the next one reverses 1500.
    second = led.refunds.create(charge=charge.id, reverse_transfer=True)
    reversal = led.transfers.retrieve_reversal(charge.transfer, second.transfer_reversal)
    assert reversal.amount == 1500
    assert led.application_fees.retrieve(charge.application_fee).amount_refunded == 0


def test_reversing_an_available_transfer_may_take_the_seller_below_zero(
    led: Ledger, seller: str, clock: FrozenClock
) -> None:
    _, charge = destination(led, seller, application_fee_amount=500)
    clock.advance(timedelta(days=2))
    led.run_due()
    assert books(led, seller) == (1500, 0)
    refund = led.refunds.create(charge=charge.id, reverse_transfer=True)
    reversal = led.transfers.retrieve_reversal(charge.transfer, refund.transfer_reversal)
    assert reversal.amount == 2000
    assert books(led, seller) == (-500, 0)  # the fee was not refunded


def test_a_transfer_reversal_can_refund_the_fee_in_proportion(led: Ledger, seller: str) -> None:
    _, charge = destination(led, seller, application_fee_amount=100)
    led.transfers.create_reversal(charge.transfer, amount=500, refund_application_fee=True)
    assert led.application_fees.retrieve(charge.application_fee).amount_refunded == 25
    led.transfers.create_reversal(charge.transfer, amount=500)
    led.transfers.create_reversal(charge.transfer, refund_application_fee=True)
    # 100 * 2000/2000 less 100 * 1000/2000: the whole fee once the transfer is all reversed.
    assert led.application_fees.retrieve(charge.application_fee).amount_refunded == 75
    # The reversals take back pending funds; the fee refunds are available at once.
    assert books(led, seller) == (75, 1900 - 2000)


def test_refund_options_on_a_destination_charge_without_a_fee(
    led: Ledger, seller: str, database_url: str
) -> None:
    _, charge = destination(led, seller)
    refused(
        database_url,
        lambda: led.refunds.create(charge=charge.id, refund_application_fee=True),
        InvalidRequestError,
        code=None,
        param="refund_application_fee",
        http_status=400,
    )
    refund = led.refunds.create(charge=charge.id, amount=2000, reverse_transfer=True)
    assert refund.transfer_reversal is not None
    assert books(led, seller) == (0, 0)


def test_refund_events(led: Ledger, seller: str) -> None:
    _, charge = destination(led, seller, application_fee_amount=123)
    led.refunds.create(charge=charge.id, reverse_transfer=True, refund_application_fee=True)
    events = all_events(led)
    types = [event.type for event in events]
    assert types.count("application_fee.created") == 1
    assert "transfer.reversed" in types and "refund.created" in types
    (refunded,) = [event for event in events if event.type == "application_fee.refunded"]
    assert refunded.data.object.id == charge.application_fee
    assert refunded.data.object.amount_refunded == 123
    assert refunded.data.previous_attributes.amount_refunded == 0


# -- disputes ----------------------------------------------------------------------------------


def test_a_dispute_on_a_destination_charge_debits_the_platform_only(
    led: Ledger, seller: str
) -> None:
    _, charge = destination(led, seller, payment_method="pm_card_createDispute")
    seller_before = books(led, seller)
    platform_before = books(led)
    led.run_due()
    dispute = led.disputes.list(charge=charge.id).data[0]
    assert dispute.status == "needs_response"
    assert books(led, seller) == seller_before
    assert books(led)[0] == platform_before[0] - 2000 - 1500
    assert led.transfers.retrieve(charge.transfer).amount_reversed == 0


# -- the log rebuilds the same ---------------------------------------------------------------


def test_rebuilding_reproduces_every_connect_object(
    led: Ledger, seller: str, database_url: str
) -> None:
    _, charge = destination(led, seller, application_fee_amount=123)
    led.refunds.create(
        charge=charge.id, amount=700, reverse_transfer=True, refund_application_fee=True
    )
    fee_refund = led.application_fees.create_refund(charge.application_fee, amount=10)
    led.application_fees.update_refund(
        charge.application_fee, fee_refund.id, metadata={"why": "goodwill"}
    )
    live = projection_rows(database_url)
    led.rebuild()
    assert projection_rows(database_url) == live
