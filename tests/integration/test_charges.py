"""Charges on PostgreSQL: the legacy Charges API, capture, expiry, update, list and errors."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from ledger import CardError, FrozenClock, InvalidRequestError, Ledger
from ledger.domain.charge import MESSAGE_CAPTURE_EXPIRED
from ledger.services.charges import MESSAGE_NO_ACTIVE_CARD, MESSAGE_NO_SOURCE
from tests.support.payments import (  # the fixtures are used through pytestmark
    books_balance,  # noqa: F401
    confirmed,
    counts,
    event_types,
    refused,
)
from tests.support.stripe_schema import assert_valid

pytestmark = pytest.mark.usefixtures("books_balance")

NOW = datetime(2024, 11, 20, 12, 0, tzinfo=UTC)
FRIDAY = int(datetime(2024, 11, 22, tzinfo=UTC).timestamp())


def charge(led: Ledger, source: str = "tok_visa", **params: Any) -> Any:
    return led.charges.create(**({"amount": 2000, "currency": "usd", "source": source} | params))


def pending(led: Ledger) -> int:
    return next(b.amount for b in led.balance.retrieve().pending if b.currency == "usd")


# -- creating charges ------------------------------------------------------------------------


def test_a_token_charge_shows_its_card_as_source(led: Ledger) -> None:
    created = charge(led, description="Legacy", metadata={"order": "1"}, receipt_email="a@ex.com")
    assert created.status == "succeeded" and created.paid and created.captured
    assert created.payment_intent is None
    source = created.source
    assert (source.object, source.brand, source.last4, source.funding) == (
        "card",
        "Visa",
        "4242",
        "credit",
    )
    assert created.payment_method == source.id and source.id.startswith("card_")
    assert created.payment_method_details.card.checks.cvc_check == "pass"
    assert created.metadata == {"order": "1"} and created.receipt_email == "a@ex.com"
    txn = led.balance_transactions.retrieve(created.balance_transaction)
    assert (txn.amount, txn.fee, txn.net, txn.available_on) == (2000, 88, 1912, FRIDAY)
    assert (txn.source, txn.description) == (created.id, "Legacy")
    assert pending(led) == 1912
    assert event_types(led) == ["charge.succeeded"]


def test_a_payment_method_can_be_charged_directly(led: Ledger) -> None:
    created = charge(led, "pm_card_mastercard")
    assert created.payment_method.startswith("pm_") and created.source is None
    assert created.payment_method_details.card.brand == "mastercard"


def test_a_customers_charge(led: Ledger, database_url: str) -> None:
    customer = led.customers.create(email="a@example.com")
    for source in ("tok_visa", "pm_card_visa"):
        refused(
            database_url,
            lambda source=source: charge(led, source, customer=customer.id),
            InvalidRequestError,
            code="missing",
            param="source",
            http_status=404,
            message=f"Customer {customer.id} does not have a linked source with ID {source}.",
        )
    saved = led.payment_methods.attach("pm_card_visa", customer=customer.id)
    created = charge(led, saved.id, customer=customer.id)
    assert created.customer == customer.id and created.payment_method == saved.id
    assert [c.id for c in led.charges.list(customer=customer.id).data] == [created.id]
    expanded = led.charges.retrieve(created.id, expand=["customer", "balance_transaction"])
    assert expanded.customer.email == "a@example.com"
    assert expanded.balance_transaction.net == 1912


@pytest.mark.parametrize(
    ("token", "code", "decline_code"),
    [
        ("tok_chargeDeclined", "card_declined", "generic_decline"),
        ("tok_chargeDeclinedInsufficientFunds", "card_declined", "insufficient_funds"),
        ("tok_chargeDeclinedExpiredCard", "expired_card", "expired_card"),
        ("tok_chargeDeclinedIncorrectCvc", "incorrect_cvc", "incorrect_cvc"),
        ("tok_chargeDeclinedProcessingError", "processing_error", "processing_error"),
        ("tok_radarBlock", "card_declined", "fraudulent"),
        ("tok_authenticationRequired", "card_declined", "authentication_required"),
    ],
)
def test_a_declined_charge_is_recorded_and_raised(
    led: Ledger, token: str, code: str, decline_code: str
) -> None:
    with pytest.raises(CardError) as caught:
        charge(led, token)
    error = caught.value
    assert (error.code, error.decline_code, error.http_status) == (code, decline_code, 402)
    assert error.charge is not None and error.payment_intent is None
    failed = led.charges.retrieve(error.charge)
    assert failed.status == "failed" and not failed.paid
    assert (failed.failure_code, failed.failure_message) == (code, error.message)
    assert failed.balance_transaction is None
    assert event_types(led) == ["charge.failed"]


def test_charging_needs_a_source_or_a_customer_with_a_card(led: Ledger, database_url: str) -> None:
    refused(
        database_url,
        lambda: led.charges.create(amount=2000, currency="usd"),
        InvalidRequestError,
        code=None,
        param=None,
        http_status=400,
        message=MESSAGE_NO_SOURCE,
    )
    customer = led.customers.create(email="a@example.com")
    refused(
        database_url,
        lambda: led.charges.create(amount=2000, currency="usd", customer=customer.id),
        CardError,
        code="missing",
        param="card",
        http_status=402,
        message=MESSAGE_NO_ACTIVE_CARD,
    )


# -- capture ---------------------------------------------------------------------------------


def test_an_uncaptured_charge_is_captured_later(led: Ledger, clock: FrozenClock) -> None:
    held = charge(led, capture=False)
    assert held.status == "succeeded" and not held.captured
    assert held.balance_transaction is None and pending(led) == 0
    clock.advance(timedelta(days=1))
    captured = led.charges.capture(held.id)
    assert captured.captured and captured.amount_captured == 2000
    txn = led.balance_transactions.retrieve(captured.balance_transaction)
    assert txn.created == int((NOW + timedelta(days=1)).timestamp())
    assert pending(led) == 1912
    assert event_types(led) == ["charge.succeeded", "charge.captured"]


def test_a_partial_capture(led: Ledger) -> None:
    held = charge(led, capture=False)
    captured = led.charges.capture(held.id, amount=1000, statement_descriptor_suffix="ORDER 9")
    assert (captured.amount_captured, captured.amount_refunded, captured.refunded) == (
        1000,
        1000,
        False,
    )
    assert captured.calculated_statement_descriptor == "LEDGER* ORDER 9"
    txn = led.balance_transactions.retrieve(captured.balance_transaction)
    assert (txn.amount, txn.fee) == (1000, 59)


def test_capture_refusals(led: Ledger, database_url: str) -> None:
    done = charge(led)
    refused(
        database_url,
        lambda: led.charges.capture(done.id),
        InvalidRequestError,
        code="charge_already_captured",
        param=None,
        http_status=400,
        message=f"Charge {done.id} has already been captured.",
    )
    held = charge(led, capture=False)
    refused(
        database_url,
        lambda: led.charges.capture(held.id, amount=2001),
        InvalidRequestError,
        code="amount_too_large",
        param="amount",
        http_status=400,
    )
    refused(
        database_url,
        lambda: led.charges.capture(held.id, amount=10),
        InvalidRequestError,
        code="amount_too_small",
        param="amount",
        http_status=400,
    )
    intent = confirmed(led, capture_method="manual")
    refused(
        database_url,
        lambda: led.charges.capture(intent.latest_charge),
        InvalidRequestError,
        code=None,
        param="charge",
        http_status=400,
    )
    refused(
        database_url,
        lambda: led.charges.capture("ch_nope"),
        InvalidRequestError,
        code="resource_missing",
        param="charge",
        http_status=404,
    )


def test_an_uncaptured_charge_expires_after_seven_days(
    led: Ledger, clock: FrozenClock, database_url: str
) -> None:
    held = charge(led, capture=False)
    clock.advance(timedelta(days=7))
    # Past its expiry the authorization cannot be captured, even before the due work ran.
    refused(
        database_url,
        lambda: led.charges.capture(held.id),
        InvalidRequestError,
        code="charge_expired_for_capture",
        param=None,
        http_status=400,
        message=MESSAGE_CAPTURE_EXPIRED,
    )
    assert led.run_due() == 1
    expired = led.charges.retrieve(held.id)
    assert (expired.refunded, expired.amount_refunded, expired.captured) == (True, 2000, False)
    assert event_types(led) == ["charge.succeeded", "charge.expired"]
    assert led.run_due() == 0


def test_expiry_follows_the_customers_test_clock(led: Ledger, clock: FrozenClock) -> None:
    test_clock = led.test_helpers.test_clocks.create(frozen_time=int(NOW.timestamp()))
    customer = led.customers.create(email="a@example.com", test_clock=test_clock.id)
    saved = led.payment_methods.attach("pm_card_visa", customer=customer.id)
    held = charge(led, saved.id, capture=False, customer=customer.id)
    clock.advance(timedelta(days=8))
    led.run_due()
    assert not led.charges.retrieve(held.id).refunded
    led.test_helpers.test_clocks.advance(
        test_clock.id, frozen_time=int((NOW + timedelta(days=7)).timestamp())
    )
    assert led.charges.retrieve(held.id).refunded


# -- update, list, retrieve ------------------------------------------------------------------


def test_update_emits_charge_updated_with_previous_attributes(led: Ledger) -> None:
    created = charge(led, metadata={"a": "1"})
    updated = led.charges.update(
        created.id,
        description="Refunded later",
        metadata={"a": "", "b": "2"},
        fraud_details={"user_report": "safe"},
        shipping={"name": "Jenny", "address": {"line1": "1 Main St", "country": "US"}},
        transfer_group="group_1",
    )
    assert updated.metadata == {"b": "2"}
    assert updated.fraud_details.to_dict() == {"user_report": "safe"}
    assert updated.shipping.name == "Jenny" and updated.shipping.address.line1 == "1 Main St"
    event = led.events.list(type="charge.updated").data[0]
    assert event.data.previous_attributes.description is None
    assert event.data.previous_attributes.metadata.to_dict() == {"a": "1", "b": None}
    assert_valid(event.data.object)
    led.charges.update(created.id, description="Refunded later")
    assert event_types(led).count("charge.updated") == 1


def test_list_filters(led: Ledger, clock: FrozenClock) -> None:
    first = charge(led, transfer_group="g1")
    clock.advance(timedelta(minutes=1))
    intent = confirmed(led)
    assert [c.id for c in led.charges.list().data] == [intent.latest_charge, first.id]
    assert [c.id for c in led.charges.list(payment_intent=intent.id).data] == [intent.latest_charge]
    assert [c.id for c in led.charges.list(transfer_group="g1").data] == [first.id]
    assert [c.id for c in led.charges.list(created={"lte": first.created}).data] == [first.id]


def test_bad_charges_are_refused_and_write_nothing(led: Ledger, database_url: str) -> None:
    cases: list[tuple[dict[str, Any], str | None, str | None, int]] = [
        ({"currency": "usd", "source": "tok_visa"}, "parameter_missing", "amount", 400),
        ({"amount": 2000, "source": "tok_visa"}, "parameter_missing", "currency", 400),
        (
            {"amount": 10, "currency": "usd", "source": "tok_visa"},
            "amount_too_small",
            "amount",
            400,
        ),
        (
            {"amount": 2000, "currency": "usd", "source": "tok_nope"},
            "resource_missing",
            "source",
            404,
        ),
        (
            {"amount": 2000, "currency": "usd", "source": "pm_nope"},
            "resource_missing",
            "source",
            404,
        ),
        (
            {"amount": 2000, "currency": "usd", "source": "card_nope"},
            "resource_missing",
            "source",
            404,
        ),
        (
            {"amount": 2000, "currency": "usd", "source": "tok_visa", "customer": "cus_nope"},
            "resource_missing",
            "customer",
            404,
        ),
        (
            {
                "amount": 2000,
                "currency": "usd",
                "source": "tok_visa",
                "application_fee_amount": 2001,
            },
            None,
            "application_fee_amount",
            400,
        ),
        (
            {
                "amount": 2000,
                "currency": "usd",
                "card": {"number": "4242424242424242", "exp_month": 1, "exp_year": 2030},
            },
            "parameter_unsupported",
            "card",
            400,
        ),
        (
            {"amount": 2000, "currency": "usd", "source": "tok_visa", "capture": "no"},
            None,
            "capture",
            400,
        ),
    ]
    for params, code, param, status in cases:
        refused(
            database_url,
            lambda params=params: led.charges.create(**params),
            InvalidRequestError,
            code=code,
            param=param,
            http_status=status,
        )
    refused(
        database_url,
        lambda: led.charges.retrieve("ch_nope"),
        InvalidRequestError,
        code="resource_missing",
        param="charge",
        http_status=404,
        message="No such charge: 'ch_nope'",
    )
    created = charge(led)
    refused(
        database_url,
        lambda: led.charges.update(created.id, fraud_details={"user_report": "maybe"}),
        InvalidRequestError,
        code=None,
        param="fraud_details[user_report]",
        http_status=400,
    )


def test_a_replayed_charge_appends_nothing(led: Ledger, database_url: str) -> None:
    first = charge(led, idempotency_key="charge-1")
    before = counts(database_url)
    again = charge(led, idempotency_key="charge-1")
    assert again.to_dict() == first.to_dict() and again.last_response.idempotent_replayed
    assert counts(database_url) == before
