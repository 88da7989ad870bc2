"""Application fees on PostgreSQL: retrieve, list, refunds (create, list, retrieve, update, the
legacy endpoint), the money of a fee refund on both sides, events, and Stripe's refusals.

Every response is checked against Stripe's schema (autouse fixture); after every test the
postings sum to zero, every in-transit account is settled, and the audit passes.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from ledger import FrozenClock, InvalidRequestError, Ledger
from tests.support.connect import (  # settled is a fixture, used through pytestmark
    books,
    seller_account,
    settled,  # noqa: F401
)
from tests.support.payments import (  # the fixtures are used through pytestmark
    all_events,
    audited,  # noqa: F401
    books_balance,  # noqa: F401
    confirmed,
    refused,
)

pytestmark = pytest.mark.usefixtures("books_balance", "audited", "settled")

NOW = 1_732_104_000  # the clock fixture: 2024-11-20 12:00 UTC


@pytest.fixture
def seller(led: Ledger) -> str:
    return seller_account(led)


def fee_of(led: Ledger, seller: str, fee: int = 400, amount: int = 2000, **params: Any) -> Any:
    """The application fee of a destination charge of `amount` to `seller`."""
    intent = confirmed(
        led,
        amount=amount,
        transfer_data={"destination": seller},
        application_fee_amount=fee,
        **params,
    )
    charge = led.charges.retrieve(intent.latest_charge)
    return led.application_fees.retrieve(charge.application_fee)


# -- retrieve and list -------------------------------------------------------------------------


def test_fees_are_listed_newest_first_and_filtered_by_charge_and_created(
    led: Ledger, seller: str, clock: FrozenClock
) -> None:
    first = fee_of(led, seller, fee=100)
    clock.advance(timedelta(minutes=1))
    second = fee_of(led, seller, fee=200)
    assert [f.id for f in led.application_fees.list().data] == [second.id, first.id]
    assert [f.id for f in led.application_fees.list(charge=first.charge).data] == [first.id]
    assert [f.id for f in led.application_fees.list(created={"gt": NOW}).data] == [second.id]
    page = led.application_fees.list(limit=1)
    assert page.has_more and [f.id for f in page.auto_paging_iter()] == [second.id, first.id]
    assert led.application_fees.retrieve(first.id).to_dict() == first.to_dict()


def test_a_fee_expands_its_payment_charge_and_balance_transaction(led: Ledger, seller: str) -> None:
    fee = fee_of(led, seller)
    expanded = led.application_fees.retrieve(
        fee.id, expand=["charge", "originating_transaction", "balance_transaction"]
    )
    assert expanded.charge.id == fee.charge and expanded.charge.application_fee == fee.id
    assert expanded.originating_transaction.transfer_data.destination == seller
    assert expanded.balance_transaction.type == "application_fee"


def test_only_the_platform_sees_application_fees(
    led: Ledger, seller: str, database_url: str
) -> None:
    fee = fee_of(led, seller)
    assert led.application_fees.list(stripe_account=seller).data == []
    for call in (
        lambda: led.application_fees.retrieve(fee.id, stripe_account=seller),
        lambda: led.application_fees.create_refund(fee.id, stripe_account=seller),
        lambda: led.application_fees.list_refunds(fee.id, stripe_account=seller),
        lambda: led.application_fees.refund(fee.id, stripe_account=seller),
    ):
        refused(
            database_url,
            call,
            InvalidRequestError,
            code="resource_missing",
            param="id",
            http_status=404,
            message=f"No such application fee: '{fee.id}'",
        )


def test_unknown_fees_and_refunds_are_missing(led: Ledger, seller: str, database_url: str) -> None:
    fee = fee_of(led, seller)
    other = fee_of(led, seller)
    refund = led.application_fees.create_refund(fee.id, amount=10)
    for call, message in (
        (lambda: led.application_fees.retrieve("fee_missing"), "application fee"),
        (lambda: led.application_fees.create_refund("fee_missing"), "application fee"),
        (lambda: led.application_fees.retrieve_refund(other.id, refund.id), "fee refund"),
        (lambda: led.application_fees.retrieve_refund(fee.id, "fr_missing"), "fee refund"),
        (
            lambda: led.application_fees.update_refund(other.id, refund.id, metadata={"a": "b"}),
            "fee refund",
        ),
    ):
        error = refused(
            database_url,
            call,
            InvalidRequestError,
            code="resource_missing",
            param="id",
            http_status=404,
        )
        assert error.message.startswith(f"No such {message}: ")


# -- refunds -----------------------------------------------------------------------------------


def test_a_fee_refund_moves_money_from_the_platform_to_the_connected_account(
    led: Ledger, seller: str
) -> None:
    fee = fee_of(led, seller, payment_method="pm_card_bypassPending")
    assert books(led) == (2000 - 88 - 2000 + 400, 0)
    assert books(led, seller) == (1600, 0)

    refund = led.application_fees.create_refund(fee.id, amount=150, metadata={"why": "late"})
    assert refund.id.startswith("fr_")
    assert (refund.amount, refund.currency, refund.fee) == (150, "usd", fee.id)
    assert refund.metadata == {"why": "late"} and refund.created == NOW
    platform_side = led.balance_transactions.retrieve(refund.balance_transaction)
    assert (platform_side.type, platform_side.amount, platform_side.net) == (
        "application_fee_refund",
        -150,
        -150,
    )
    assert (platform_side.reporting_category, platform_side.source) == (
        "platform_earning_refund",
        refund.id,
    )
    seller_side = next(
        t
        for t in led.balance_transactions.list(stripe_account=seller).data
        if t.type == "application_fee_refund"
    )
    assert (seller_side.amount, seller_side.status, seller_side.source) == (
        150,
        "available",
        refund.id,
    )
    assert books(led) == (312 - 150, 0)
    assert books(led, seller) == (1750, 0)

    after = led.application_fees.retrieve(fee.id)
    assert (after.amount_refunded, after.refunded) == (150, False)
    assert [r.id for r in after.refunds.data] == [refund.id]
    assert after.refunds.total_count == 1

    # The default is all that is left.
    rest = led.application_fees.create_refund(fee.id)
    assert rest.amount == 250
    after = led.application_fees.retrieve(fee.id)
    assert (after.amount_refunded, after.refunded) == (400, True)
    assert [r.id for r in after.refunds.data] == [rest.id, refund.id]  # newest first
    assert books(led) == (-88, 0)
    assert books(led, seller) == (2000, 0)


def test_a_fee_refund_can_take_the_platform_below_zero(led: Ledger, seller: str) -> None:
    fee = fee_of(led, seller)  # all funds still pending
    led.application_fees.create_refund(fee.id)
    assert books(led)[0] == -400
    assert books(led, seller)[0] == 400


def test_fee_refund_refusals(led: Ledger, seller: str, database_url: str) -> None:
    fee = fee_of(led, seller, fee=100)
    refused(
        database_url,
        lambda: led.application_fees.create_refund(fee.id, amount=101),
        InvalidRequestError,
        code=None,
        param="amount",
        http_status=400,
        message=(
            "Refund amount ($1.01) is greater than unrefunded amount on application fee ($1.00)"
        ),
    )
    refused(
        database_url,
        lambda: led.application_fees.create_refund(fee.id, amount=0),
        InvalidRequestError,
        code="parameter_invalid_integer",
        param="amount",
        http_status=400,
    )
    refused(
        database_url,
        lambda: led.application_fees.create_refund(fee.id, amount="5"),
        InvalidRequestError,
        code="parameter_invalid_integer",
        param="amount",
        http_status=400,
    )
    refused(
        database_url,
        lambda: led.application_fees.create_refund(fee.id, currency="usd"),
        InvalidRequestError,
        code="parameter_unknown",
        param="currency",
        http_status=400,
    )
    led.application_fees.create_refund(fee.id)
    refused(
        database_url,
        lambda: led.application_fees.create_refund(fee.id),
        InvalidRequestError,
        code=None,
        param=None,
        http_status=400,
        message=f"Application fee {fee.id} has already been refunded.",
    )


def test_refunds_are_listed_retrieved_and_updated(led: Ledger, seller: str) -> None:
    fee = fee_of(led, seller)
    refunds = [led.application_fees.create_refund(fee.id, amount=10) for _ in range(12)]
    listed = led.application_fees.list_refunds(fee.id, limit=5)
    assert [r.id for r in listed.data] == [r.id for r in reversed(refunds)][:5]
    assert listed.has_more and listed.url == f"/v1/application_fees/{fee.id}/refunds"
    assert len(list(listed.auto_paging_iter())) == 12
    embedded = led.application_fees.retrieve(fee.id).refunds
    assert (embedded.total_count, embedded.has_more, len(embedded.data)) == (12, True, 10)

    one = led.application_fees.retrieve_refund(fee.id, refunds[0].id)
    assert one.to_dict() == refunds[0].to_dict()
    updated = led.application_fees.update_refund(fee.id, refunds[-1].id, metadata={"order": "42"})
    assert updated.metadata == {"order": "42"}
    assert led.application_fees.retrieve(fee.id).refunds.data[0].metadata == {"order": "42"}
    again = led.application_fees.update_refund(fee.id, refunds[-1].id, metadata={"order": "42"})
    assert again.to_dict() == updated.to_dict()
    expanded = led.application_fees.retrieve_refund(
        fee.id, refunds[0].id, expand=["fee", "balance_transaction"]
    )
    assert expanded.fee.id == fee.id and expanded.balance_transaction.amount == -10


def test_the_legacy_refund_endpoint_returns_the_fee(
    led: Ledger, seller: str, database_url: str
) -> None:
    fee = fee_of(led, seller, fee=300)
    after = led.application_fees.refund(fee.id, amount=100)
    assert after.object == "application_fee"
    assert (after.id, after.amount_refunded) == (fee.id, 100)
    refused(
        database_url,
        lambda: led.application_fees.refund(fee.id, directive="x"),
        InvalidRequestError,
        code="parameter_unsupported",
        param="directive",
        http_status=400,
    )
    assert led.application_fees.refund(fee.id).refunded


def test_fee_events(led: Ledger, seller: str) -> None:
    fee = fee_of(led, seller)
    refund = led.application_fees.create_refund(fee.id, amount=100)
    led.application_fees.update_refund(fee.id, refund.id, metadata={"k": "v"})
    events = [e for e in all_events(led) if e.type.startswith("application_fee.")]
    assert [e.type for e in events] == [
        "application_fee.created",
        "application_fee.refunded",
        "application_fee.refund.updated",
    ]
    created, refunded, updated = events
    assert created.data.object.id == fee.id and created.data.object.amount_refunded == 0
    assert refunded.data.object.amount_refunded == 100
    assert refunded.data.previous_attributes.amount_refunded == 0
    assert updated.data.object.object == "fee_refund" and updated.data.object.id == refund.id
    assert updated.data.previous_attributes.to_dict() == {"metadata": {"k": None}}


def test_idempotent_fee_refunds_refund_once(led: Ledger, seller: str) -> None:
    fee = fee_of(led, seller)
    first = led.application_fees.create_refund(fee.id, amount=50, idempotency_key="fr-1")
    second = led.application_fees.create_refund(fee.id, amount=50, idempotency_key="fr-1")
    assert second.id == first.id and second.last_response.idempotent_replayed
    assert led.application_fees.retrieve(fee.id).amount_refunded == 50
