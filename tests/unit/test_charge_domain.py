"""Charges and the simulated processor, without a database."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from ledger.domain import charge as domain
from ledger.domain.balance_transaction import BalanceTransactionCreated
from ledger.domain.postings import imbalances
from ledger.errors import InvalidRequestError
from ledger.money import DEFAULT_PRICING
from tests.support.charge_states import attempt, authorize, created
from tests.support.stripe_schema import assert_valid

NOW = datetime(2024, 11, 20, 12, 0, tzinfo=UTC)  # a Wednesday
CREATED = int(NOW.timestamp())
FRIDAY = int(datetime(2024, 11, 22, tzinfo=UTC).timestamp())


# -- the processor ---------------------------------------------------------------------------


def test_an_ordinary_card_is_approved_with_a_network_transaction_id() -> None:
    answer = authorize("pm_card_visa")
    assert answer.approved and answer.decline is None
    assert answer.outcome == {
        "network_status": "approved_by_network",
        "reason": None,
        "risk_level": "normal",
        "risk_score": 20,
        "seller_message": "Payment complete.",
        "type": "authorized",
    }
    assert answer.network_transaction_id is not None
    assert answer.network_transaction_id.isdigit()
    assert answer.three_d_secure is None


@pytest.mark.parametrize(
    ("pm_id", "code", "decline_code", "outcome_type"),
    [
        ("pm_card_visa_chargeDeclined", "card_declined", "generic_decline", "issuer_declined"),
        (
            "pm_card_chargeDeclinedInsufficientFunds",
            "card_declined",
            "insufficient_funds",
            "issuer_declined",
        ),
        ("pm_card_chargeDeclinedExpiredCard", "expired_card", "expired_card", "issuer_declined"),
        ("pm_card_radarBlock", "card_declined", "fraudulent", "blocked"),
    ],
)
def test_decline_cards_are_declined_with_their_reason(
    pm_id: str, code: str, decline_code: str, outcome_type: str
) -> None:
    answer = authorize(pm_id)
    assert answer.declined and answer.decline is not None
    assert (answer.decline.error_code, answer.decline.decline_code) == (code, decline_code)
    assert answer.outcome is not None and answer.outcome["type"] == outcome_type
    assert answer.network_transaction_id is None


def test_three_d_secure_cards_ask_for_authentication_then_approve() -> None:
    assert authorize("pm_card_threeDSecure2Required").requires_action
    after = authorize("pm_card_threeDSecure2Required", authenticated=True)
    assert after.approved
    assert after.three_d_secure is not None
    assert after.three_d_secure["result"] == "authenticated"


def test_off_session_payments_cannot_authenticate() -> None:
    answer = authorize("pm_card_authenticationRequired", off_session=True)
    assert answer.declined and answer.decline is not None
    assert answer.decline.error_code == "authentication_required"
    # Cards that want 3D Secure only on session pass off session.
    assert authorize("pm_card_authenticationRequiredSetupForOffSession", off_session=True).approved
    assert authorize("pm_card_authenticationRequiredSetupForOffSession").requires_action


def test_requested_three_d_secure_challenges_any_card_that_supports_it() -> None:
    assert authorize("pm_card_visa", three_d_secure_requested=True).requires_action
    assert authorize(
        "pm_card_amex_threeDSecureNotSupported", three_d_secure_requested=True
    ).approved


def test_three_d_secure_then_decline_declines_after_authentication() -> None:
    answer = authorize("pm_card_threeDSecureRequiredChargeDeclined", authenticated=True)
    assert answer.declined and answer.three_d_secure is not None


# -- creating charges ------------------------------------------------------------------------


def test_a_captured_charge_is_paid_with_its_balance_transaction() -> None:
    state = created(attempt(description="Order 1", metadata={"order": "1"}))
    charge = state.data
    assert charge["status"] == "succeeded" and charge["paid"] and charge["captured"]
    assert (charge["amount_captured"], charge["amount_refunded"]) == (2000, 0)
    assert charge["balance_transaction"] == "txn_test"
    assert charge["description"] == "Order 1" and charge["metadata"] == {"order": "1"}
    assert charge["receipt_url"].startswith("https://pay.stripe.com/receipts/payment/")
    assert charge["calculated_statement_descriptor"] == domain.DEFAULT_STATEMENT_DESCRIPTOR
    details = charge["payment_method_details"]
    assert details["type"] == "card"
    assert details["card"]["amount_authorized"] == 2000
    assert details["card"]["checks"]["cvc_check"] == "pass"
    assert state.internal["expires_at"] is None
    assert_valid(charge)


def test_an_uncaptured_charge_expires_in_seven_days() -> None:
    state = created(attempt(capture=False))
    charge = state.data
    assert charge["status"] == "succeeded" and charge["paid"] and not charge["captured"]
    assert (charge["amount_captured"], charge["balance_transaction"]) == (0, None)
    assert state.internal["expires_at"] == CREATED + 7 * 24 * 3600
    assert_valid(charge)


def test_a_declined_charge_records_the_decline() -> None:
    state = created(attempt("pm_card_chargeDeclinedInsufficientFunds"))
    charge = state.data
    assert charge["status"] == "failed" and not charge["paid"] and not charge["captured"]
    assert charge["failure_code"] == "card_declined"
    assert charge["failure_message"] == "Your card has insufficient funds."
    assert charge["balance_transaction"] is None and charge["receipt_url"] is None
    assert charge["outcome"]["reason"] == "insufficient_funds"
    assert charge["payment_method_details"]["card"]["amount_authorized"] is None
    assert_valid(charge)


def test_test_card_behaviours_are_kept_for_later() -> None:
    dispute = created(attempt("pm_card_createDispute"))
    assert dispute.internal["dispute"] == "fraudulent" and dispute.internal["dispute_due"]
    held = created(attempt("pm_card_createDispute", capture=False))
    assert held.internal["dispute"] == "fraudulent" and not held.internal["dispute_due"]
    assert created(attempt("pm_card_bypassPending")).internal["bypass_pending"]
    assert created(attempt("pm_card_refundFail")).internal["refund_behaviour"] == "fails"


@pytest.mark.parametrize(
    ("descriptor", "suffix", "expected"),
    [
        (None, None, "LEDGER"),
        ("MY SHOP", None, "MY SHOP"),
        (None, "ORDER 42", "LEDGER* ORDER 42"),
        (None, "A VERY LONG SUFFIX FOR THIS", "LEDGER* A VERY LONG SU"),
    ],
)
def test_calculated_statement_descriptor(
    descriptor: str | None, suffix: str | None, expected: str
) -> None:
    assert domain.calculated_statement_descriptor(descriptor, suffix) == expected


# -- balance transactions --------------------------------------------------------------------


def bt(amount: int, *, bypass_pending: bool = False) -> BalanceTransactionCreated:
    charge = created(attempt(amount=amount)).data
    return domain.charge_balance_transaction(
        txn_id="txn_test",
        account_id="acct_test",
        charge=charge,
        amount=amount,
        at=NOW,
        pricing=DEFAULT_PRICING,
        bypass_pending=bypass_pending,
    )


@pytest.mark.parametrize(
    ("amount", "fee"),
    [(2000, 88), (500, 45), (1050, 60), (50, 31), (99_999_999, 2_900_030)],
)
def test_the_fee_is_2_9_percent_plus_30_cents_rounded_half_up(amount: int, fee: int) -> None:
    event = bt(amount)
    txn = event.balance_transaction
    assert (txn["amount"], txn["fee"], txn["net"]) == (amount, fee, amount - fee)
    assert txn["fee_details"][0]["type"] == "stripe_fee"
    assert imbalances(event.postings) == {}
    assert_valid(txn)


def test_funds_are_pending_for_two_business_days() -> None:
    txn = bt(2000).balance_transaction
    assert (txn["status"], txn["available_on"]) == ("pending", FRIDAY)
    assert (txn["type"], txn["reporting_category"], txn["source"]) == (
        "charge",
        "charge",
        "ch_test",
    )


def test_bypass_pending_cards_are_available_at_once() -> None:
    txn = bt(2000, bypass_pending=True).balance_transaction
    assert (txn["status"], txn["available_on"]) == ("available", CREATED)


# -- capture, release, update ----------------------------------------------------------------


def test_partial_capture_releases_the_rest() -> None:
    state = created(attempt(capture=False))
    (event,) = domain.decide_capture(state, 1500, "txn_cap", {"application_fee_amount": 10})
    after = domain.evolve(state, event)
    charge = after.data
    assert charge["captured"] and charge["amount_captured"] == 1500
    assert (charge["amount_refunded"], charge["refunded"]) == (500, False)
    assert charge["balance_transaction"] == "txn_cap"
    assert charge["application_fee_amount"] == 10
    assert after.internal["expires_at"] is None
    (spec,) = domain.stripe_events(state, after, event)
    assert spec.type == "charge.captured"
    assert spec.previous_attributes is not None
    assert spec.previous_attributes["captured"] is False
    assert_valid(charge)


@pytest.mark.parametrize(
    ("expired", "kind"), [(False, "charge.refunded"), (True, "charge.expired")]
)
def test_a_released_authorization_shows_as_refunded(expired: bool, kind: str) -> None:
    state = created(attempt(capture=False))
    (event,) = domain.decide_release(state, expired=expired)
    after = domain.evolve(state, event)
    assert (after.data["amount_refunded"], after.data["refunded"]) == (2000, True)
    assert not after.data["captured"]
    assert [spec.type for spec in domain.stripe_events(state, after, event)] == [kind]


def test_capture_refusals() -> None:
    captured = created(attempt())
    with pytest.raises(InvalidRequestError) as caught:
        domain.check_capturable(captured, CREATED)
    assert caught.value.code == "charge_already_captured"
    assert caught.value.message == "Charge ch_test has already been captured."
    held = created(attempt(capture=False))
    domain.check_capturable(held, CREATED + 7 * 24 * 3600 - 1)
    with pytest.raises(InvalidRequestError) as caught:
        domain.check_capturable(held, CREATED + 7 * 24 * 3600)
    assert caught.value.code == "charge_expired_for_capture"
    failed = created(attempt("pm_card_visa_chargeDeclined", capture=False))
    with pytest.raises(InvalidRequestError):
        domain.check_capturable(failed, CREATED)


def test_update_changes_only_what_differs() -> None:
    state = created(attempt())
    (event,) = domain.decide_update(
        state,
        {
            "description": "new",
            "metadata": {"a": "1"},
            "fraud_details": {"user_report": "safe"},
            "receipt_email": "a@example.com",
        },
    )
    after = domain.evolve(state, event)
    assert after.data["fraud_details"] == {"user_report": "safe"}
    (spec,) = domain.stripe_events(state, after, event)
    assert spec.type == "charge.updated"
    assert spec.previous_attributes == {
        "description": None,
        "metadata": {"a": None},
        "fraud_details": {"user_report": None},
        "receipt_email": None,
    }
    assert domain.decide_update(after, {"description": "new"}) == []
    with pytest.raises(InvalidRequestError) as caught:
        domain.decide_update(state, {"fraud_details": {"user_report": "maybe"}})
    assert caught.value.param == "fraud_details[user_report]"


def test_stripe_events_of_creation() -> None:
    ok = created(attempt())
    failed = created(attempt("pm_card_visa_chargeDeclined"))
    assert [s.type for s in domain.stripe_events(None, ok, domain.decide_create(attempt())[0])] == [
        "charge.succeeded"
    ]
    event = domain.decide_create(attempt("pm_card_visa_chargeDeclined"))[0]
    assert [s.type for s in domain.stripe_events(None, failed, event)] == ["charge.failed"]
