"""PaymentIntents on PostgreSQL: the whole state machine, money, events, errors and replays.

Every response is checked against Stripe's schema, and after every test the postings of the
whole log sum to zero per currency.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest

from ledger import CardError, FrozenClock, InvalidRequestError, Ledger
from ledger.domain.payment_intent import MESSAGE_RETURN_URL_REQUIRED
from ledger.errors import IdempotencyError, LedgerError
from ledger.errors import PermissionError as AccountError
from tests.support.accounts import connected_account
from tests.support.payments import (  # the fixtures are used through pytestmark
    RETURN_URL,
    all_events,
    balance,
    books_balance,  # noqa: F401
    confirmed,
    counts,
    event_types,
    postings_imbalance,
    refused,
)
from tests.support.stripe_schema import assert_valid

pytestmark = pytest.mark.usefixtures("books_balance")

NOW = datetime(2024, 11, 20, 12, 0, tzinfo=UTC)  # the clock fixture: a Wednesday
FRIDAY = int(datetime(2024, 11, 22, tzinfo=UTC).timestamp())
SEVEN_DAYS = timedelta(days=7)


def charge_of(led: Ledger, intent: Any, **params: Any) -> Any:
    return led.charges.retrieve(intent.latest_charge, **params)


# -- automatic capture -----------------------------------------------------------------------


@pytest.mark.parametrize("capture_method", [None, "automatic", "automatic_async"])
def test_a_card_payment_succeeds_with_its_charge_and_balance_transaction(
    led: Ledger, capture_method: str | None
) -> None:
    params = {} if capture_method is None else {"capture_method": capture_method}
    intent = confirmed(led, description="Order 6735", metadata={"order": "6735"}, **params)
    assert intent.status == "succeeded"
    assert intent.capture_method == (capture_method or "automatic_async")
    assert (intent.amount_received, intent.amount_capturable) == (2000, 0)
    assert intent.last_payment_error is None and intent.next_action is None
    assert intent.client_secret.startswith(f"{intent.id}_secret_")
    assert intent.payment_method.startswith("pm_")

    charge = charge_of(led, intent, expand=["balance_transaction"])
    assert charge.status == "succeeded" and charge.paid and charge.captured
    assert (charge.amount, charge.amount_captured, charge.amount_refunded) == (2000, 2000, 0)
    assert charge.payment_intent == intent.id
    assert charge.payment_method == intent.payment_method
    assert charge.description == "Order 6735" and charge.metadata == {"order": "6735"}
    assert charge.outcome.type == "authorized"
    assert charge.payment_method_details.card.last4 == "4242"
    txn = charge.balance_transaction
    assert (txn.amount, txn.fee, txn.net) == (2000, 88, 1912)
    assert (txn.type, txn.source, txn.status) == ("charge", charge.id, "pending")
    assert txn.available_on == FRIDAY
    assert txn.fee_details[0].description == "Stripe processing fees"
    assert txn.description == "Order 6735"
    assert balance(led) == (0, 1912)

    events = all_events(led)
    assert [e.type for e in events] == [
        "payment_intent.created",
        "charge.succeeded",
        "payment_intent.succeeded",
    ]
    assert events[0].data.object.status == "requires_confirmation"
    assert events[1].data.object.id == charge.id
    assert events[2].data.object.to_dict() == led.payment_intents.retrieve(intent.id).to_dict()


def test_create_update_then_confirm(led: Ledger) -> None:
    intent = led.payment_intents.create(amount=1000, currency="usd", payment_method_types=["card"])
    assert intent.status == "requires_payment_method" and intent.payment_method is None
    updated = led.payment_intents.update(intent.id, payment_method="pm_card_mastercard")
    assert updated.status == "requires_confirmation"
    updated = led.payment_intents.update(intent.id, amount=1500)
    assert (updated.amount, updated.status) == (1500, "requires_confirmation")
    paid = led.payment_intents.confirm(intent.id)
    assert (paid.status, paid.amount_received) == ("succeeded", 1500)
    assert charge_of(led, paid).payment_method_details.card.brand == "mastercard"
    assert event_types(led) == [
        "payment_intent.created",
        "charge.succeeded",
        "payment_intent.succeeded",
    ]


def test_automatic_payment_methods_need_a_return_url_to_confirm(
    led: Ledger, database_url: str
) -> None:
    intent = led.payment_intents.create(amount=1000, currency="usd")
    assert intent.automatic_payment_methods.to_dict() == {
        "allow_redirects": "always",
        "enabled": True,
    }
    error = refused(
        database_url,
        lambda: led.payment_intents.confirm(intent.id, payment_method="pm_card_visa"),
        InvalidRequestError,
        code=None,
        param="return_url",
        http_status=400,
        message=MESSAGE_RETURN_URL_REQUIRED,
    )
    assert error.payment_intent is not None and error.payment_intent["id"] == intent.id
    refused(
        database_url,
        lambda: led.payment_intents.create(
            amount=1000, currency="usd", payment_method="pm_card_visa", confirm=True
        ),
        InvalidRequestError,
        code=None,
        param="return_url",
        http_status=400,
    )
    paid = led.payment_intents.confirm(
        intent.id, payment_method="pm_card_visa", return_url=RETURN_URL
    )
    assert paid.status == "succeeded"
    never = led.payment_intents.create(
        amount=1000,
        currency="usd",
        automatic_payment_methods={"enabled": True, "allow_redirects": "never"},
        payment_method="pm_card_visa",
        confirm=True,
    )
    assert never.status == "succeeded"


# -- manual capture --------------------------------------------------------------------------


def test_manual_capture_authorizes_then_captures(led: Ledger) -> None:
    intent = confirmed(led, capture_method="manual")
    assert intent.status == "requires_capture"
    assert (intent.amount_capturable, intent.amount_received) == (2000, 0)
    charge = charge_of(led, intent)
    assert charge.status == "succeeded" and charge.paid and not charge.captured
    assert charge.balance_transaction is None and charge.amount_captured == 0
    assert balance(led) == (0, 0)

    captured = led.payment_intents.capture(intent.id)
    assert captured.status == "succeeded"
    assert (captured.amount_received, captured.amount_capturable) == (2000, 0)
    charge = charge_of(led, captured, expand=["balance_transaction"])
    assert charge.captured and charge.amount_captured == 2000 and not charge.refunded
    assert (charge.balance_transaction.amount, charge.balance_transaction.net) == (2000, 1912)
    assert balance(led) == (0, 1912)
    assert event_types(led) == [
        "payment_intent.created",
        "charge.succeeded",
        "payment_intent.amount_capturable_updated",
        "charge.captured",
        "payment_intent.succeeded",
    ]


def test_manual_capture_through_payment_method_options(led: Ledger) -> None:
    intent = confirmed(led, payment_method_options={"card": {"capture_method": "manual"}})
    assert intent.status == "requires_capture"
    assert intent.payment_method_options.card.capture_method == "manual"


def test_partial_capture_releases_the_rest(led: Ledger) -> None:
    intent = confirmed(led, capture_method="manual")
    captured = led.payment_intents.capture(intent.id, amount_to_capture=1500, metadata={"k": "v"})
    assert (captured.status, captured.amount_received) == ("succeeded", 1500)
    assert captured.metadata == {"k": "v"}
    charge = charge_of(led, captured, expand=["balance_transaction"])
    assert (charge.amount, charge.amount_captured, charge.amount_refunded) == (2000, 1500, 500)
    assert not charge.refunded
    txn = charge.balance_transaction
    assert (txn.amount, txn.fee, txn.net) == (1500, 74, 1426)  # 43.5 rounds half up to 44
    assert balance(led) == (0, 1426)


def test_capturing_more_than_capturable_is_refused(led: Ledger, database_url: str) -> None:
    intent = confirmed(led, capture_method="manual")
    error = refused(
        database_url,
        lambda: led.payment_intents.capture(intent.id, amount_to_capture=2001),
        InvalidRequestError,
        code="amount_too_large",
        param="amount_to_capture",
        http_status=400,
    )
    assert error.payment_intent is not None and error.payment_intent["status"] == "requires_capture"
    refused(
        database_url,
        lambda: led.payment_intents.capture(
            intent.id, amount_to_capture=1000, application_fee_amount=1001
        ),
        InvalidRequestError,
        code=None,
        param="application_fee_amount",
        http_status=400,
    )


# -- cancel ----------------------------------------------------------------------------------


def requires_payment_method(led: Ledger) -> Any:
    return led.payment_intents.create(amount=2000, currency="usd", payment_method_types=["card"])


def requires_confirmation(led: Ledger) -> Any:
    return led.payment_intents.create(
        amount=2000, currency="usd", payment_method="pm_card_visa", payment_method_types=["card"]
    )


def requires_action(led: Ledger) -> Any:
    return confirmed(led, "pm_card_threeDSecure2Required")


def requires_capture(led: Ledger) -> Any:
    return confirmed(led, capture_method="manual")


CANCELABLE = {
    "requires_payment_method": requires_payment_method,
    "requires_confirmation": requires_confirmation,
    "requires_action": requires_action,
    "requires_capture": requires_capture,
}


@pytest.mark.parametrize("status", sorted(CANCELABLE))
def test_cancel_in_each_cancelable_status(led: Ledger, clock: FrozenClock, status: str) -> None:
    intent = CANCELABLE[status](led)
    assert intent.status == status
    clock.advance(timedelta(minutes=1))
    canceled = led.payment_intents.cancel(intent.id, cancellation_reason="requested_by_customer")
    assert canceled.status == "canceled"
    assert canceled.canceled_at == int(clock.now().timestamp())
    assert canceled.cancellation_reason == "requested_by_customer"
    assert canceled.next_action is None and canceled.amount_capturable == 0
    types = event_types(led)
    assert types[-1] == "payment_intent.canceled"
    if status == "requires_capture":
        charge = charge_of(led, canceled)
        assert (charge.amount_refunded, charge.refunded, charge.captured) == (2000, True, False)
        assert types[-2] == "charge.refunded"
    assert balance(led) == (0, 0)


def test_cancel_without_a_reason(led: Ledger) -> None:
    canceled = led.payment_intents.cancel(requires_payment_method(led).id)
    assert (canceled.status, canceled.cancellation_reason) == ("canceled", None)


# -- forbidden transitions through the API ---------------------------------------------------


def test_forbidden_transitions_are_unexpected_state_and_write_nothing(
    led: Ledger, database_url: str
) -> None:
    paid = confirmed(led)
    open_intent = requires_payment_method(led)
    canceled = led.payment_intents.cancel(requires_payment_method(led).id)

    def unexpected(call: Any, param: str | None = None) -> str:
        error = refused(
            database_url,
            call,
            InvalidRequestError,
            code="payment_intent_unexpected_state",
            param=param,
            http_status=400,
        )
        assert error.payment_intent is not None
        body = error.to_dict()["error"]
        assert body["payment_intent"]["object"] == "payment_intent"
        return error.message

    message = unexpected(lambda: led.payment_intents.confirm(paid.id))
    assert message.endswith("it has already succeeded after being previously confirmed.")
    message = unexpected(lambda: led.payment_intents.capture(open_intent.id))
    assert "has a status of requires_payment_method" in message
    message = unexpected(lambda: led.payment_intents.capture(paid.id))
    assert "has a status of succeeded" in message
    message = unexpected(lambda: led.payment_intents.cancel(paid.id))
    assert message.startswith("You cannot cancel this PaymentIntent because it has a status of")
    unexpected(lambda: led.payment_intents.cancel(canceled.id))
    unexpected(lambda: led.payment_intents.confirm(canceled.id))
    message = unexpected(
        lambda: led.payment_intents.confirm(canceled.id, payment_method="pm_card_visa"),
        "payment_method",
    )
    assert message.startswith("This PaymentIntent's payment_method could not be updated")
    message = unexpected(lambda: led.payment_intents.update(paid.id, amount=5000), "amount")
    assert message.startswith("This PaymentIntent's amount could not be updated")
    unexpected(lambda: led.payment_intents.update(canceled.id, currency="eur"), "currency")
    message = unexpected(lambda: led.payment_intents.confirm(open_intent.id))
    assert message.startswith("You cannot confirm this PaymentIntent because it's missing")
    assert led.test_helpers  # the namespace exists
    unexpected(lambda: led.test_helpers.complete_payment_intent_authentication(paid.id))


def test_details_can_still_change_after_success(led: Ledger) -> None:
    paid = confirmed(led)
    before = event_types(led)
    updated = led.payment_intents.update(
        paid.id, description="shipped", metadata={"tracking": "1Z"}, receipt_email="a@ex.com"
    )
    assert (updated.status, updated.description) == ("succeeded", "shipped")
    assert updated.metadata == {"tracking": "1Z"} and updated.receipt_email == "a@ex.com"
    assert event_types(led) == before  # Stripe has no payment_intent.updated event


# -- declines --------------------------------------------------------------------------------

DECLINES = [
    (
        "pm_card_visa_chargeDeclined",
        "card_declined",
        "generic_decline",
        None,
        "Your card was declined.",
    ),
    (
        "pm_card_chargeDeclinedInsufficientFunds",
        "card_declined",
        "insufficient_funds",
        None,
        "Your card has insufficient funds.",
    ),
    (
        "pm_card_chargeDeclinedLostCard",
        "card_declined",
        "lost_card",
        None,
        "Your card was declined.",
    ),
    (
        "pm_card_chargeDeclinedStolenCard",
        "card_declined",
        "stolen_card",
        None,
        "Your card was declined.",
    ),
    (
        "pm_card_chargeDeclinedExpiredCard",
        "expired_card",
        "expired_card",
        "exp_month",
        "Your card has expired.",
    ),
    (
        "pm_card_chargeDeclinedIncorrectCvc",
        "incorrect_cvc",
        "incorrect_cvc",
        "cvc",
        "Your card's security code is incorrect.",
    ),
    (
        "pm_card_chargeDeclinedProcessingError",
        "processing_error",
        "processing_error",
        None,
        "An error occurred while processing your card. Try again in a little bit.",
    ),
    (
        "pm_card_visa_chargeDeclinedVelocityLimitExceeded",
        "card_declined",
        "card_velocity_exceeded",
        None,
        "Your card was declined for making repeated attempts too frequently or exceeding its "
        "amount limit.",
    ),
    ("pm_card_radarBlock", "card_declined", "fraudulent", None, "Your card was declined."),
    ("pm_card_riskLevelHighest", "card_declined", "fraudulent", None, "Your card was declined."),
    (
        "pm_card_chargeCustomerFail",
        "card_declined",
        "generic_decline",
        None,
        "Your card was declined.",
    ),
]


@pytest.mark.parametrize(
    ("pm_id", "code", "decline_code", "param", "message"), DECLINES, ids=[d[0] for d in DECLINES]
)
def test_a_decline_records_a_failed_charge_and_raises_card_error(
    led: Ledger,
    pm_id: str,
    code: str,
    decline_code: str,
    param: str | None,
    message: str,
) -> None:
    with pytest.raises(CardError) as caught:
        confirmed(led, pm_id)
    error = caught.value
    assert (error.code, error.decline_code, error.param, error.message) == (
        code,
        decline_code,
        param,
        message,
    )
    assert error.http_status == 402 and error.request_id is not None
    assert error.payment_intent is not None and error.payment_method is not None
    assert error.charge is not None
    assert_valid(error.payment_intent)
    intent = led.payment_intents.retrieve(error.payment_intent["id"])
    assert intent.to_dict() == error.payment_intent
    assert intent.status == "requires_payment_method"
    assert intent.payment_method is None and intent.latest_charge == error.charge
    lpe = intent.last_payment_error
    assert (lpe.type, lpe.code, lpe.message, lpe.charge) == (
        "card_error",
        code,
        message,
        error.charge,
    )
    assert lpe.decline_code == decline_code
    assert lpe.doc_url == "https://stripe.com/docs/error-codes/" + code.replace("_", "-")
    assert lpe.payment_method.id == error.payment_method["id"]
    charge = led.charges.retrieve(error.charge)
    assert charge.status == "failed" and not charge.paid and not charge.captured
    assert (charge.failure_code, charge.failure_message) == (code, message)
    assert charge.balance_transaction is None
    assert charge.outcome.type in ("issuer_declined", "blocked")
    assert event_types(led) == [
        "payment_intent.created",
        "charge.failed",
        "payment_intent.payment_failed",
    ]
    assert balance(led) == (0, 0)
    assert error.to_dict()["error"]["payment_intent"]["id"] == intent.id


def test_a_retry_with_another_card_succeeds(led: Ledger) -> None:
    with pytest.raises(CardError) as caught:
        confirmed(led, "pm_card_chargeDeclinedInsufficientFunds")
    assert caught.value.payment_intent is not None
    intent_id = caught.value.payment_intent["id"]
    paid = led.payment_intents.confirm(intent_id, payment_method="pm_card_visa")
    assert paid.status == "succeeded" and paid.last_payment_error is None
    assert paid.latest_charge != caught.value.charge
    charges = led.charges.list(payment_intent=intent_id)
    assert [c.status for c in charges.data] == ["succeeded", "failed"]
    assert balance(led) == (0, 1912)


def test_a_card_that_fails_every_charge_can_still_be_saved(led: Ledger) -> None:
    customer = led.customers.create(email="a@example.com")
    pm = led.payment_methods.attach("pm_card_chargeCustomerFail", customer=customer.id)
    with pytest.raises(CardError) as caught:
        confirmed(led, pm.id, customer=customer.id)
    assert caught.value.decline_code == "generic_decline"


def test_off_session_payments_that_need_authentication_are_declined(led: Ledger) -> None:
    customer = led.customers.create(email="a@example.com")
    pm = led.payment_methods.attach("pm_card_authenticationRequired", customer=customer.id)
    with pytest.raises(CardError) as caught:
        confirmed(led, pm.id, customer=customer.id, off_session=True)
    assert (caught.value.code, caught.value.decline_code) == (
        "authentication_required",
        "authentication_required",
    )
    assert caught.value.payment_intent is not None
    assert caught.value.payment_intent["status"] == "requires_payment_method"


def test_error_on_requires_action_fails_instead_of_waiting(led: Ledger) -> None:
    with pytest.raises(CardError) as caught:
        confirmed(led, "pm_card_threeDSecure2Required", error_on_requires_action=True)
    assert caught.value.code == "authentication_required"


# -- 3D Secure -------------------------------------------------------------------------------


def test_three_d_secure_then_authenticated_succeeds(led: Ledger) -> None:
    intent = requires_action(led)
    assert intent.status == "requires_action" and intent.latest_charge is None
    action = intent.next_action
    assert action.type == "use_stripe_sdk"
    assert action.use_stripe_sdk.type == "three_d_secure_redirect"
    assert action.use_stripe_sdk.stripe_js.startswith("https://hooks.stripe.com/")
    assert led.charges.list().data == []

    paid = led.test_helpers.complete_payment_intent_authentication(intent.id)
    assert paid.status == "succeeded" and paid.next_action is None
    charge = charge_of(led, paid)
    three_d_secure = charge.payment_method_details.card.three_d_secure
    assert (three_d_secure.result, three_d_secure.version) == ("authenticated", "2.2.0")
    assert event_types(led) == [
        "payment_intent.created",
        "payment_intent.requires_action",
        "charge.succeeded",
        "payment_intent.succeeded",
    ]


def test_three_d_secure_with_a_return_url_redirects(led: Ledger) -> None:
    intent = confirmed(led, "pm_card_authenticationRequired", return_url=RETURN_URL)
    assert intent.next_action.type == "redirect_to_url"
    assert intent.next_action.redirect_to_url.return_url == RETURN_URL
    assert intent.next_action.redirect_to_url.url.startswith("https://hooks.stripe.com/")


def test_failed_authentication_asks_for_a_new_payment_method(led: Ledger) -> None:
    intent = requires_action(led)
    failed = led.test_helpers.complete_payment_intent_authentication(intent.id, succeed=False)
    assert failed.status == "requires_payment_method"
    assert failed.payment_method is None and failed.latest_charge is None
    lpe = failed.last_payment_error
    assert (lpe.code, lpe.type) == (
        "payment_intent_authentication_failure",
        "invalid_request_error",
    )
    assert lpe.message.startswith("The provided PaymentMethod has failed authentication.")
    assert lpe.payment_method.id == intent.payment_method
    assert event_types(led)[-1] == "payment_intent.payment_failed"
    assert led.charges.list().data == []
    paid = led.payment_intents.confirm(intent.id, payment_method="pm_card_visa")
    assert paid.status == "succeeded"


def test_a_card_declined_after_authentication(led: Ledger) -> None:
    intent = confirmed(led, "pm_card_threeDSecureRequiredChargeDeclined")
    after = led.test_helpers.complete_payment_intent_authentication(intent.id)
    assert after.status == "requires_payment_method"
    assert after.last_payment_error.code == "card_declined"
    assert led.charges.retrieve(after.latest_charge).status == "failed"


def test_manual_confirmation_confirms_again_after_authentication(led: Ledger) -> None:
    intent = confirmed(led, "pm_card_authenticationRequired", confirmation_method="manual")
    assert intent.status == "requires_action"
    authenticated = led.test_helpers.complete_payment_intent_authentication(intent.id)
    assert authenticated.status == "requires_confirmation"
    assert authenticated.next_action is None and authenticated.latest_charge is None
    paid = led.payment_intents.confirm(intent.id)
    assert paid.status == "succeeded"
    assert charge_of(led, paid).payment_method_details.card.three_d_secure is not None


def test_requested_three_d_secure_challenges_an_ordinary_card(led: Ledger) -> None:
    intent = confirmed(
        led,
        payment_method_options={"card": {"request_three_d_secure": "any"}},
        capture_method="manual",
    )
    assert intent.status == "requires_action"
    authorized = led.test_helpers.complete_payment_intent_authentication(intent.id)
    assert authorized.status == "requires_capture"


# -- expiry ----------------------------------------------------------------------------------


def test_uncaptured_authorizations_expire_after_seven_days(
    led: Ledger, clock: FrozenClock, database_url: str
) -> None:
    intent = requires_capture(led)
    clock.advance(SEVEN_DAYS - timedelta(seconds=1))
    assert led.run_due() == 0
    assert led.payment_intents.retrieve(intent.id).status == "requires_capture"
    clock.advance(timedelta(seconds=1))
    assert led.run_due() == 1
    expired = led.payment_intents.retrieve(intent.id)
    assert (expired.status, expired.cancellation_reason) == ("canceled", "automatic")
    assert expired.canceled_at == int((NOW + SEVEN_DAYS).timestamp())
    charge = charge_of(led, expired)
    assert (charge.refunded, charge.amount_refunded, charge.captured) == (True, 2000, False)
    assert event_types(led)[-2:] == ["charge.expired", "payment_intent.canceled"]
    assert led.run_due() == 0
    refused(
        database_url,
        lambda: led.payment_intents.capture(intent.id),
        InvalidRequestError,
        code="payment_intent_unexpected_state",
        param=None,
        http_status=400,
    )


def test_a_captured_intent_does_not_expire(led: Ledger, clock: FrozenClock) -> None:
    intent = requires_capture(led)
    led.payment_intents.capture(intent.id)
    clock.advance(SEVEN_DAYS * 2)
    led.run_due()  # the funds become available; nothing expires
    assert led.payment_intents.retrieve(intent.id).status == "succeeded"
    assert balance(led) == (1912, 0)


# -- balances --------------------------------------------------------------------------------


def test_funds_become_available_on_the_second_business_day(led: Ledger, clock: FrozenClock) -> None:
    confirmed(led)
    confirmed(led, amount=500)  # fee 14.5 -> 15 + 30
    assert balance(led) == (0, 1912 + 455)
    clock.set(datetime.fromtimestamp(FRIDAY - 1, UTC))
    assert led.run_due() == 0
    clock.set(datetime.fromtimestamp(FRIDAY, UTC))
    assert led.run_due() == 2
    assert balance(led) == (2367, 0)
    txns = led.balance_transactions.list(type="charge")
    assert {t.status for t in txns.data} == {"available"}


def test_bypass_pending_funds_are_available_at_once(led: Ledger) -> None:
    intent = confirmed(led, "pm_card_bypassPending")
    txn = charge_of(led, intent, expand=["balance_transaction"]).balance_transaction
    assert (txn.status, txn.available_on) == ("available", int(NOW.timestamp()))
    assert balance(led) == (1912, 0)


def test_the_books_balance_after_a_mixed_day(led: Ledger, database_url: str) -> None:
    confirmed(led)
    held = requires_capture(led)
    led.payment_intents.capture(held.id, amount_to_capture=999)
    with pytest.raises(CardError):
        confirmed(led, "pm_card_visa_chargeDeclined")
    confirmed(led, "pm_card_bypassPending", amount=12345)
    assert postings_imbalance(database_url) == {}


# -- saving the card, customers, expansion, lists --------------------------------------------


def test_setup_future_usage_saves_the_card_to_the_customer(led: Ledger) -> None:
    customer = led.customers.create(email="a@example.com")
    paid = confirmed(led, customer=customer.id, setup_future_usage="off_session")
    assert paid.setup_future_usage == "off_session"
    assert led.payment_methods.retrieve(paid.payment_method).customer == customer.id
    assert "payment_method.attached" in event_types(led)
    again = confirmed(led, paid.payment_method, customer=customer.id, off_session=True)
    assert again.status == "succeeded"


def test_a_customers_payment_method_pays_only_for_that_customer(
    led: Ledger, database_url: str
) -> None:
    alice = led.customers.create(email="alice@example.com")
    bob = led.customers.create(email="bob@example.com")
    pm = led.payment_methods.attach("pm_card_visa", customer=alice.id)
    error = refused(
        database_url,
        lambda: confirmed(led, pm.id),
        InvalidRequestError,
        code=None,
        param="payment_method",
        http_status=400,
    )
    assert f"belongs to the Customer {alice.id}" in error.message
    error = refused(
        database_url,
        lambda: confirmed(led, pm.id, customer=bob.id),
        InvalidRequestError,
        code=None,
        param="payment_method",
        http_status=400,
    )
    assert error.message.startswith("The customer does not have a payment method with the ID")
    assert confirmed(led, pm.id, customer=alice.id).status == "succeeded"


def test_expand_the_charge_its_balance_transaction_the_customer_and_the_card(
    led: Ledger,
) -> None:
    customer = led.customers.create(email="a@example.com")
    paid = confirmed(led, customer=customer.id)
    # check.py wants every expanded level named; Stripe expands the parents of a path too.
    paths = ["latest_charge", "latest_charge.balance_transaction", "customer", "payment_method"]
    expanded = led.payment_intents.retrieve(paid.id, expand=paths)
    assert_valid(expanded, expand=paths)
    assert expanded.latest_charge.balance_transaction.net == 1912
    assert expanded.customer.email == "a@example.com"
    assert expanded.payment_method.card.last4 == "4242"
    charge = led.charges.retrieve(paid.latest_charge, expand=["payment_intent", "refunds"])
    assert charge.payment_intent.id == paid.id
    assert charge.refunds.to_dict() == {
        "object": "list",
        "data": [],
        "has_more": False,
        "total_count": 0,
        "url": f"/v1/charges/{charge.id}/refunds",
    }
    assert "refunds" not in led.charges.retrieve(paid.latest_charge)


def test_list_filters_by_customer_and_created(led: Ledger, clock: FrozenClock) -> None:
    customer = led.customers.create(email="a@example.com")
    first = confirmed(led, customer=customer.id)
    clock.advance(timedelta(hours=1))
    second = requires_payment_method(led)
    assert [i.id for i in led.payment_intents.list().data] == [second.id, first.id]
    assert [i.id for i in led.payment_intents.list(customer=customer.id).data] == [first.id]
    later = led.payment_intents.list(created={"gt": first.created})
    assert [i.id for i in later.data] == [second.id]
    page = led.payment_intents.list(limit=1)
    assert page.has_more and [i.id for i in page.auto_paging_iter()] == [second.id, first.id]


# -- idempotency, accounts, rebuild ----------------------------------------------------------


def test_a_replayed_confirmation_appends_nothing(led: Ledger, database_url: str) -> None:
    intent = requires_confirmation(led)
    paid = led.payment_intents.confirm(intent.id, idempotency_key="confirm-1")
    before = counts(database_url)
    again = led.payment_intents.confirm(intent.id, idempotency_key="confirm-1")
    assert again.to_dict() == paid.to_dict()
    assert again.last_response.idempotent_replayed
    assert counts(database_url) == before
    with pytest.raises(IdempotencyError):
        led.payment_intents.confirm(
            intent.id, idempotency_key="confirm-1", receipt_email="a@example.com"
        )


def test_a_replayed_decline_raises_the_same_card_error(led: Ledger, database_url: str) -> None:
    intent = led.payment_intents.create(
        amount=2000,
        currency="usd",
        payment_method="pm_card_visa_chargeDeclined",
        payment_method_types=["card"],
    )
    with pytest.raises(CardError) as first:
        led.payment_intents.confirm(intent.id, idempotency_key="decline-1")
    before = counts(database_url)
    with pytest.raises(CardError) as second:
        led.payment_intents.confirm(intent.id, idempotency_key="decline-1")
    # A replay answers with the stored response, which names the original request.
    assert second.value.to_dict() == first.value.to_dict()
    assert second.value.request_id == first.value.request_id
    assert (second.value.charge, second.value.decline_code) == (
        first.value.charge,
        "generic_decline",
    )
    assert counts(database_url) == before
    assert len(led.charges.list(payment_intent=intent.id).data) == 1


def test_connected_accounts_have_their_own_payments(led: Ledger, database_url: str) -> None:
    connected = connected_account(led)
    theirs = confirmed(led, stripe_account=connected)
    assert theirs.status == "succeeded"
    refused(
        database_url,
        lambda: led.payment_intents.retrieve(theirs.id),
        InvalidRequestError,
        code="resource_missing",
        param="intent",
        http_status=404,
        message=f"No such payment_intent: '{theirs.id}'",
    )
    refused(
        database_url,
        lambda: led.charges.retrieve(theirs.latest_charge),
        InvalidRequestError,
        code="resource_missing",
        param="charge",
        http_status=404,
    )
    refused(
        database_url,
        lambda: led.payment_intents.cancel(theirs.id),
        InvalidRequestError,
        code="resource_missing",
        param="intent",
        http_status=404,
    )
    assert led.payment_intents.list().data == []
    assert balance(led) == (0, 0)
    assert balance(led, stripe_account=connected) == (0, 1912)
    events = all_events(led, stripe_account=connected)
    assert {e.account for e in events} == {connected}


def snapshot(url: str) -> dict[str, list[tuple[Any, ...]]]:
    tables = {
        "objects": "SELECT account_id, id, data::text, internal::text FROM objects ORDER BY 1, 2",
        "stripe_events": "SELECT account_id, id, data::text FROM stripe_events ORDER BY 1, 2",
        "postings": "SELECT * FROM postings ORDER BY position, leg",
        "balances": "SELECT account_id, currency, bucket, source_type, sum(amount) FROM balances "
        "GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4",
    }
    with psycopg.connect(url) as conn:
        return {name: conn.execute(sql).fetchall() for name, sql in tables.items()}


def test_rebuild_reproduces_payments_exactly(
    led: Ledger, clock: FrozenClock, database_url: str
) -> None:
    confirmed(led, metadata={"a": "b"})
    held = requires_capture(led)
    led.payment_intents.capture(held.id, amount_to_capture=1000)
    with pytest.raises(CardError):
        confirmed(led, "pm_card_chargeDeclinedInsufficientFunds")
    waiting = requires_action(led)
    led.test_helpers.complete_payment_intent_authentication(waiting.id)
    expiring = requires_capture(led)
    clock.advance(SEVEN_DAYS)
    led.run_due()
    assert led.payment_intents.retrieve(expiring.id).status == "canceled"
    live = snapshot(database_url)
    led.rebuild()
    assert snapshot(database_url) == live
    report = led.audit()
    assert report.ok, report.discrepancies


# -- bad input -------------------------------------------------------------------------------

BAD_CREATE: list[tuple[dict[str, Any], type[LedgerError], str | None, str | None, int]] = [
    ({"currency": "usd"}, InvalidRequestError, "parameter_missing", "amount", 400),
    ({"amount": 2000}, InvalidRequestError, "parameter_missing", "currency", 400),
    (
        {"amount": "2000", "currency": "usd"},
        InvalidRequestError,
        "parameter_invalid_integer",
        "amount",
        400,
    ),
    ({"amount": 49, "currency": "usd"}, InvalidRequestError, "amount_too_small", "amount", 400),
    ({"amount": 10**8, "currency": "usd"}, InvalidRequestError, "amount_too_large", "amount", 400),
    ({"amount": 2000, "currency": "zzz"}, InvalidRequestError, None, "currency", 400),
    (
        {"amount": 2000, "currency": "usd", "capture_method": "later"},
        InvalidRequestError,
        None,
        "capture_method",
        400,
    ),
    (
        {"amount": 2000, "currency": "usd", "customer": "cus_nope"},
        InvalidRequestError,
        "resource_missing",
        "customer",
        404,
    ),
    (
        {"amount": 2000, "currency": "usd", "payment_method": "pm_nope"},
        InvalidRequestError,
        "resource_missing",
        "payment_method",
        404,
    ),
    (
        {"amount": 2000, "currency": "usd", "application_fee_amount": 2001},
        InvalidRequestError,
        None,
        "application_fee_amount",
        400,
    ),
    (
        {"amount": 2000, "currency": "usd", "transfer_data": {"destination": "bank_1"}},
        InvalidRequestError,
        None,
        "transfer_data[destination]",
        400,
    ),
    (
        {"amount": 2000, "currency": "usd", "payment_method_types": ["sepa_debit"]},
        InvalidRequestError,
        "parameter_unsupported",
        "payment_method_types",
        400,
    ),
    (
        {"amount": 2000, "currency": "usd", "mandate": "mandate_1"},
        InvalidRequestError,
        "parameter_unsupported",
        "mandate",
        400,
    ),
    (
        {"amount": 2000, "currency": "usd", "metadata": {"k" * 41: "v"}},
        InvalidRequestError,
        "parameter_invalid_string_too_long",
        "metadata[" + "k" * 41 + "]",
        400,
    ),
    (
        {"amount": 2000, "currency": "usd", "receipt_email": "not-an-email"},
        InvalidRequestError,
        "email_invalid",
        "receipt_email",
        400,
    ),
    (
        {"amount": 2000, "currency": "usd", "cancellation_reason": "abandoned"},
        InvalidRequestError,
        "parameter_unknown",
        "cancellation_reason",
        400,
    ),
    (
        {"amount": 2000, "currency": "usd", "confirm": True, "payment_method_types": ["card"]},
        InvalidRequestError,
        "payment_intent_unexpected_state",
        None,
        400,
    ),
    (
        {"amount": 2000, "currency": "usd", "stripe_account": "acct bad"},
        AccountError,
        "account_invalid",
        "stripe_account",
        403,
    ),
]


@pytest.mark.parametrize(
    ("params", "error", "code", "param", "status"),
    BAD_CREATE,
    ids=[f"{i}-{case[3]}" for i, case in enumerate(BAD_CREATE)],
)
def test_bad_create_is_refused_and_writes_nothing(
    led: Ledger,
    database_url: str,
    params: dict[str, Any],
    error: type[LedgerError],
    code: str | None,
    param: str | None,
    status: int,
) -> None:
    refused(
        database_url,
        lambda: led.payment_intents.create(**params),
        error,
        code=code,
        param=param,
        http_status=status,
    )


def test_bad_requests_on_existing_intents(led: Ledger, database_url: str) -> None:
    intent = requires_capture(led)
    cases: list[tuple[Any, str | None, str | None, int]] = [
        (lambda: led.payment_intents.retrieve("pi_nope"), "resource_missing", "intent", 404),
        (lambda: led.payment_intents.confirm("pi_nope"), "resource_missing", "intent", 404),
        (
            lambda: led.payment_intents.cancel(intent.id, cancellation_reason="bored"),
            None,
            "cancellation_reason",
            400,
        ),
        (
            lambda: led.payment_intents.capture(intent.id, amount_to_capture=0),
            "parameter_invalid_integer",
            "amount_to_capture",
            400,
        ),
        (
            lambda: led.payment_intents.update(intent.id, customer="cus_nope"),
            "resource_missing",
            "customer",
            404,
        ),
        (
            lambda: led.payment_intents.list(customer=3),
            None,
            "customer",
            400,
        ),
        (
            lambda: led.test_helpers.complete_payment_intent_authentication(
                intent.id, surprise=True
            ),
            "parameter_unknown",
            "surprise",
            400,
        ),
    ]
    for call, code, param, status in cases:
        refused(
            database_url,
            call,
            InvalidRequestError,
            code=code,
            param=param,
            http_status=status,
        )


def test_confirmation_options_reach_the_charge(led: Ledger, database_url: str) -> None:
    intent = led.payment_intents.create(amount=2000, currency="usd")
    refused(
        database_url,
        lambda: led.payment_intents.confirm(
            intent.id, payment_method="pm_card_visa", client_secret="pi_x_secret_y"
        ),
        InvalidRequestError,
        code=None,
        param="client_secret",
        http_status=400,
    )
    paid = led.payment_intents.confirm(
        intent.id,
        payment_method="pm_card_visa",
        payment_method_types=["card"],
        client_secret=intent.client_secret,
        radar_options={"session": "rse_123"},
        receipt_email="r@example.com",
        shipping={"name": "Jenny", "address": {"line1": "1 Main St"}},
    )
    assert paid.automatic_payment_methods is None and paid.receipt_email == "r@example.com"
    charge = charge_of(led, paid)
    assert charge.radar_options.to_dict() == {"session": "rse_123"}
    assert charge.receipt_email == "r@example.com" and charge.shipping.name == "Jenny"


def test_use_stripe_sdk_wins_over_the_redirect(led: Ledger) -> None:
    intent = confirmed(
        led, "pm_card_threeDSecure2Required", return_url=RETURN_URL, use_stripe_sdk=True
    )
    assert intent.next_action.type == "use_stripe_sdk"


def test_a_new_payment_method_must_authenticate_again(led: Ledger) -> None:
    intent = confirmed(led, "pm_card_authenticationRequired", confirmation_method="manual")
    led.test_helpers.complete_payment_intent_authentication(intent.id)
    switched = led.payment_intents.update(intent.id, payment_method="pm_card_threeDSecure2Required")
    assert switched.status == "requires_confirmation"
    assert led.payment_intents.confirm(intent.id).status == "requires_action"
