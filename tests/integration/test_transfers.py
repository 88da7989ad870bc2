"""Transfers and reversals on PostgreSQL: both sides of the money, funds timing, refusals.

Every response is checked against Stripe's schema (autouse fixture); after every test the
postings sum to zero and the audit (replay, balances, invariants) passes.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import pytest

from ledger import FrozenClock, InvalidRequestError, Ledger
from ledger.errors import LedgerError
from tests.support.accounts import connected_account, verified_account
from tests.support.connect import available, fund_platform, in_transit, pending
from tests.support.payments import (  # the fixtures are used through pytestmark
    audited,  # noqa: F401
    books_balance,  # noqa: F401
    confirmed,
    event_types,
    refused,
)

pytestmark = pytest.mark.usefixtures("books_balance", "audited")

NOW = 1_732_104_000  # the clock fixture: 2024-11-20 12:00 UTC


@pytest.fixture
def seller(led: Ledger) -> str:
    return verified_account(led)


# -- create ------------------------------------------------------------------------------------


def test_a_transfer_moves_available_funds_to_the_connected_account(
    led: Ledger, seller: str, database_url: str
) -> None:
    net = fund_platform(led)
    transfer = led.transfers.create(
        amount=1500,
        currency="usd",
        destination=seller,
        description="payout share",
        metadata={"order": "42"},
        transfer_group="ORDER42",
    )
    assert transfer.object == "transfer"
    assert (transfer.amount, transfer.amount_reversed, transfer.reversed) == (1500, 0, False)
    assert (transfer.destination, transfer.currency) == (seller, "usd")
    assert transfer.source_transaction is None
    assert (transfer.transfer_group, transfer.description) == ("ORDER42", "payout share")
    assert transfer.metadata == {"order": "42"}
    assert transfer.reversals.total_count == 0
    assert transfer.reversals.url == f"/v1/transfers/{transfer.id}/reversals"

    assert available(led) == net - 1500
    assert available(led, stripe_account=seller) == 1500

    txn = led.balance_transactions.retrieve(transfer.balance_transaction)
    assert (txn.type, txn.amount, txn.net, txn.status) == ("transfer", -1500, -1500, "available")
    assert (txn.source, txn.reporting_category) == (transfer.id, "transfer")

    payment = led.charges.retrieve(transfer.destination_payment, stripe_account=seller)
    assert payment.id.startswith("py_")
    assert (payment.amount, payment.source_transfer, payment.paid) == (1500, transfer.id, True)
    arrived = led.balance_transactions.retrieve(payment.balance_transaction, stripe_account=seller)
    assert (arrived.type, arrived.amount, arrived.status) == ("payment", 1500, "available")
    assert arrived.reporting_category == "charge"

    assert "transfer.created" in event_types(led)
    assert in_transit(database_url) == {}


def test_the_connected_account_and_others_never_see_the_platforms_transfer(
    led: Ledger, seller: str
) -> None:
    fund_platform(led)
    transfer = led.transfers.create(amount=100, currency="usd", destination=seller)
    other = verified_account(led)
    for account in (seller, other):
        with pytest.raises(InvalidRequestError) as caught:
            led.transfers.retrieve(transfer.id, stripe_account=account)
        assert (caught.value.code, caught.value.http_status) == ("resource_missing", 404)
        assert led.transfers.list(stripe_account=account).data == []
    with pytest.raises(InvalidRequestError):
        led.charges.retrieve(transfer.destination_payment, stripe_account=other)
    with pytest.raises(InvalidRequestError):
        led.charges.retrieve(transfer.destination_payment)


def test_a_transfer_beyond_the_available_balance_is_refused(
    led: Ledger, seller: str, database_url: str
) -> None:
    net = fund_platform(led)
    confirmed(led)  # pending funds do not count
    error = refused(
        database_url,
        lambda: led.transfers.create(amount=net + 1, currency="usd", destination=seller),
        InvalidRequestError,
        code="balance_insufficient",
        param="amount",
        http_status=400,
    )
    assert "insufficient available funds" in error.message


@pytest.mark.parametrize(
    ("params", "code", "param"),
    [
        ({"destination": "acct_1NoSuchAccount"}, "resource_missing", "destination"),
        ({"amount": 0}, "parameter_invalid_integer", "amount"),
        ({"amount": -5}, "parameter_invalid_integer", "amount"),
        ({"currency": "xyz"}, None, "currency"),
        ({"source_transaction": "ch_1NoSuchCharge"}, "resource_missing", "source_transaction"),
    ],
)
def test_bad_transfers_are_refused_and_write_nothing(
    led: Ledger,
    seller: str,
    database_url: str,
    params: dict[str, Any],
    code: str | None,
    param: str,
) -> None:
    fund_platform(led)
    body = {"amount": 100, "currency": "usd", "destination": seller} | params
    status = 404 if code == "resource_missing" and param == "source_transaction" else 400
    refused(
        database_url,
        lambda: led.transfers.create(**body),
        InvalidRequestError,
        code=code,
        param=param,
        http_status=status,
    )


def test_amount_is_required(led: Ledger, seller: str, database_url: str) -> None:
    refused(
        database_url,
        lambda: led.transfers.create(currency="usd", destination=seller),
        InvalidRequestError,
        code="parameter_missing",
        param="amount",
        http_status=400,
    )


def test_the_platform_itself_and_connected_callers_have_no_destination(
    led: Ledger, seller: str, database_url: str
) -> None:
    fund_platform(led)
    refused(
        database_url,
        lambda: led.transfers.create(
            amount=100, currency="usd", destination=led.platform_account_id
        ),
        InvalidRequestError,
        code="resource_missing",
        param="destination",
        http_status=400,
    )
    other = verified_account(led)
    refused(
        database_url,
        lambda: led.transfers.create(
            amount=100, currency="usd", destination=other, stripe_account=seller
        ),
        InvalidRequestError,
        code="resource_missing",
        param="destination",
        http_status=400,
    )


def test_an_account_without_the_transfers_capability_cannot_receive(
    led: Ledger, database_url: str
) -> None:
    fund_platform(led)
    # Requested, but nothing submitted: inactive (card_payments alone cannot be requested).
    no_transfers = connected_account(led)
    refused(
        database_url,
        lambda: led.transfers.create(amount=100, currency="usd", destination=no_transfers),
        InvalidRequestError,
        code="insufficient_capabilities_for_transfer",
        param="destination",
        http_status=400,
    )


# -- source_transaction ------------------------------------------------------------------------


def test_a_transfer_of_a_charges_funds_waits_for_them(
    led: Ledger, clock: FrozenClock, seller: str, database_url: str
) -> None:
    intent = confirmed(led, amount=5000, transfer_group="ORDER7")  # pending for 2 business days
    charge = led.charges.retrieve(intent.latest_charge, expand=["balance_transaction"])
    available_on = charge.balance_transaction.available_on
    assert available(led) == 0

    transfer = led.transfers.create(
        amount=4000, currency="usd", destination=seller, source_transaction=charge.id
    )
    assert transfer.source_transaction == charge.id
    assert transfer.transfer_group == "ORDER7"  # taken from the charge
    txn = led.balance_transactions.retrieve(transfer.balance_transaction)
    assert (txn.status, txn.available_on) == ("pending", available_on)
    assert pending(led, stripe_account=seller) == 4000
    assert available(led, stripe_account=seller) == 0

    clock.advance(timedelta(seconds=available_on - NOW))
    led.run_due()
    assert available(led, stripe_account=seller) == 4000
    assert available(led) == charge.balance_transaction.net - 4000
    assert in_transit(database_url) == {}


def test_transfers_from_one_charge_cannot_exceed_it(
    led: Ledger, seller: str, database_url: str
) -> None:
    charge = confirmed(led, amount=3000).latest_charge
    led.transfers.create(amount=2000, currency="usd", destination=seller, source_transaction=charge)
    refused(
        database_url,
        lambda: led.transfers.create(
            amount=1001, currency="usd", destination=seller, source_transaction=charge
        ),
        InvalidRequestError,
        code="amount_too_large",
        param="amount",
        http_status=400,
    )
    led.transfers.create(amount=1000, currency="usd", destination=seller, source_transaction=charge)


def test_a_transfer_of_a_charge_must_be_in_its_currency(
    led: Ledger, seller: str, database_url: str
) -> None:
    charge = confirmed(led, amount=3000).latest_charge
    refused(
        database_url,
        lambda: led.transfers.create(
            amount=100, currency="eur", destination=seller, source_transaction=charge
        ),
        InvalidRequestError,
        code=None,
        param="currency",
        http_status=400,
    )


# -- update and list ---------------------------------------------------------------------------


def test_update_changes_description_and_metadata(led: Ledger, seller: str) -> None:
    fund_platform(led)
    transfer = led.transfers.create(amount=100, currency="usd", destination=seller)
    updated = led.transfers.update(transfer.id, description="share", metadata={"a": "1"})
    assert (updated.description, updated.metadata) == ("share", {"a": "1"})
    event = led.events.list(type="transfer.updated").data[0]
    assert event.data.previous_attributes == {"description": None, "metadata": {"a": None}}


def test_list_filters_by_destination_and_group(led: Ledger, seller: str) -> None:
    fund_platform(led)
    other = verified_account(led)
    first = led.transfers.create(amount=100, currency="usd", destination=seller, transfer_group="g")
    second = led.transfers.create(amount=200, currency="usd", destination=other)
    assert [t.id for t in led.transfers.list().data] == [second.id, first.id]
    assert [t.id for t in led.transfers.list(destination=seller).data] == [first.id]
    assert [t.id for t in led.transfers.list(transfer_group="g").data] == [first.id]


# -- reversals ---------------------------------------------------------------------------------


def test_partial_then_full_reversal(led: Ledger, seller: str, database_url: str) -> None:
    net = fund_platform(led)
    transfer = led.transfers.create(amount=1000, currency="usd", destination=seller)

    first = led.transfers.create_reversal(transfer.id, amount=300, metadata={"why": "partial"})
    assert first.object == "transfer_reversal"
    assert (first.amount, first.transfer, first.currency) == (300, transfer.id, "usd")
    assert first.metadata == {"why": "partial"}
    assert first.source_refund is None
    txn = led.balance_transactions.retrieve(first.balance_transaction)
    assert (txn.type, txn.amount, txn.reporting_category) == (
        "transfer_refund",
        300,
        "transfer_reversal",
    )
    refund = led.refunds.retrieve(first.destination_payment_refund, stripe_account=seller)
    assert (refund.amount, refund.charge, refund.source_transfer_reversal) == (
        300,
        transfer.destination_payment,
        first.id,
    )
    back = led.balance_transactions.retrieve(refund.balance_transaction, stripe_account=seller)
    assert (back.type, back.amount) == ("payment_refund", -300)

    after = led.transfers.retrieve(transfer.id)
    assert (after.amount_reversed, after.reversed) == (300, False)
    assert [r.id for r in after.reversals.data] == [first.id]

    second = led.transfers.create_reversal(transfer.id)  # the rest
    assert second.amount == 700
    after = led.transfers.retrieve(transfer.id)
    assert (after.amount_reversed, after.reversed) == (1000, True)
    assert [r.id for r in after.reversals.data] == [second.id, first.id]
    assert [r.id for r in led.transfers.list_reversals(transfer.id).data] == [second.id, first.id]
    payment = led.charges.retrieve(transfer.destination_payment, stripe_account=seller)
    assert (payment.amount_refunded, payment.refunded) == (1000, True)

    assert available(led) == net
    assert available(led, stripe_account=seller) == 0
    assert event_types(led).count("transfer.reversed") == 2
    assert in_transit(database_url) == {}


def test_reversals_beyond_the_remaining_amount_are_refused(
    led: Ledger, seller: str, database_url: str
) -> None:
    fund_platform(led)
    transfer = led.transfers.create(amount=1000, currency="usd", destination=seller)
    led.transfers.create_reversal(transfer.id, amount=600)
    refused(
        database_url,
        lambda: led.transfers.create_reversal(transfer.id, amount=401),
        InvalidRequestError,
        code=None,
        param="amount",
        http_status=400,
    )
    led.transfers.create_reversal(transfer.id)
    refused(
        database_url,
        lambda: led.transfers.create_reversal(transfer.id),
        InvalidRequestError,
        code=None,
        param=None,
        http_status=400,
    )
    refused(
        database_url,
        lambda: led.transfers.create_reversal("tr_1NoSuchTransfer"),
        InvalidRequestError,
        code="resource_missing",
        param="id",
        http_status=404,
    )


def test_a_reversal_needs_the_connected_accounts_available_funds(
    led: Ledger, seller: str, database_url: str
) -> None:
    fund_platform(led)
    transfer = led.transfers.create(amount=1000, currency="usd", destination=seller)
    # The seller refunds a payment of its own whose funds are still pending: its available
    # balance drops below the transfer.
    own = confirmed(led, amount=800, stripe_account=seller)
    led.refunds.create(payment_intent=own.id, stripe_account=seller)
    assert available(led, stripe_account=seller) == 200
    error = refused(
        database_url,
        lambda: led.transfers.create_reversal(transfer.id, amount=201),
        InvalidRequestError,
        code="balance_insufficient",
        param="amount",
        http_status=400,
    )
    assert "Insufficient funds in the destination account" in error.message
    led.transfers.create_reversal(transfer.id, amount=200)
    assert available(led, stripe_account=seller) == 0


def test_reversal_metadata_updates_show_on_the_transfer(led: Ledger, seller: str) -> None:
    fund_platform(led)
    transfer = led.transfers.create(amount=1000, currency="usd", destination=seller)
    reversal = led.transfers.create_reversal(transfer.id, amount=100)
    updated = led.transfers.update_reversal(transfer.id, reversal.id, metadata={"k": "v"})
    assert updated.metadata == {"k": "v"}
    assert led.transfers.retrieve_reversal(transfer.id, reversal.id).metadata == {"k": "v"}
    assert led.transfers.retrieve(transfer.id).reversals.data[0].metadata == {"k": "v"}


def test_a_reversal_is_found_only_under_its_own_transfer(led: Ledger, seller: str) -> None:
    fund_platform(led)
    first = led.transfers.create(amount=100, currency="usd", destination=seller)
    second = led.transfers.create(amount=100, currency="usd", destination=seller)
    reversal = led.transfers.create_reversal(first.id)
    for call in (
        lambda: led.transfers.retrieve_reversal(second.id, reversal.id),
        lambda: led.transfers.update_reversal(second.id, reversal.id, metadata={"a": "b"}),
        lambda: led.transfers.retrieve_reversal(first.id, reversal.id, stripe_account=seller),
        lambda: led.transfers.list_reversals(first.id, stripe_account=seller),
    ):
        with pytest.raises(InvalidRequestError) as caught:
            call()
        assert caught.value.code == "resource_missing"


def test_a_pending_transfer_is_reversed_from_its_pending_funds(
    led: Ledger, clock: FrozenClock, seller: str
) -> None:
    charge = confirmed(led, amount=5000).latest_charge
    transfer = led.transfers.create(
        amount=4000, currency="usd", destination=seller, source_transaction=charge
    )
    reversal = led.transfers.create_reversal(transfer.id, amount=1000)
    txn = led.balance_transactions.retrieve(reversal.balance_transaction)
    assert txn.status == "pending"
    assert pending(led, stripe_account=seller) == 3000
    clock.advance(timedelta(days=5))
    led.run_due()
    assert (pending(led, stripe_account=seller), available(led, stripe_account=seller)) == (0, 3000)


# -- concurrency -------------------------------------------------------------------------------


def test_racing_transfers_never_overdraw_the_platform(led: Ledger, database_url: str) -> None:
    net = fund_platform(led, amount=1000)  # 941 available
    sellers = [verified_account(led) for _ in range(2)]

    def send(n: int) -> bool:
        try:
            led.transfers.create(amount=200, currency="usd", destination=sellers[n % 2])
        except LedgerError as error:
            assert error.code == "balance_insufficient", error
            return False
        return True

    with ThreadPoolExecutor(8) as pool:
        sent = sum(pool.map(send, range(16)))
    assert sent == net // 200
    assert available(led) == net - 200 * sent >= 0
    assert sum(available(led, stripe_account=s) for s in sellers) == 200 * sent


def test_references_expand_across_the_two_accounts(led: Ledger, seller: str) -> None:
    fund_platform(led)
    transfer = led.transfers.create(
        amount=700, currency="usd", destination=seller, expand=["destination_payment"]
    )
    assert transfer.destination_payment.id.startswith("py_")
    assert transfer.destination_payment.source_transfer == transfer.id
    payment = led.charges.retrieve(
        transfer.destination_payment.id, stripe_account=seller, expand=["source_transfer"]
    )
    assert payment.source_transfer.id == transfer.id
    # Only along those links: another connected account reaches neither.
    other = verified_account(led)
    with pytest.raises(InvalidRequestError):
        led.charges.retrieve(payment.id, stripe_account=other)
