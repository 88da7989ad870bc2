"""Stripe's documented test cards and what each one does (`ledger.domain.cards`)."""

from __future__ import annotations

import string

import pytest
import stripe

from ledger.domain import cards
from ledger.domain.cards import (
    AUTHENTICATION_REQUIRED,
    CARD_NUMBERS,
    PAYMENT_METHOD_IDS,
    TOKENS,
    CardOutcome,
    brand_for_number,
    lookup_test_card,
    luhn_valid,
    resolve_card_number,
)
from ledger.errors import CardError
from tests.support.stripe_schema import assert_valid

ALL_CARDS = sorted(CARD_NUMBERS.values(), key=lambda card: card.number)


def pm(pm_id: str) -> CardOutcome:
    return PAYMENT_METHOD_IDS[pm_id].outcome


def with_check_digit(prefix: str, length: int = 16) -> str:
    """`prefix` padded with zeros to `length - 1` digits, plus the Luhn check digit."""
    body = prefix.ljust(length - 1, "0")
    return next(body + d for d in string.digits if luhn_valid(body + d))


# --- the catalogs ------------------------------------------------------------------------------


def test_catalog_sizes() -> None:
    assert len(CARD_NUMBERS) == 121
    assert len(PAYMENT_METHOD_IDS) == 116
    assert len(TOKENS) == len(PAYMENT_METHOD_IDS)


@pytest.mark.parametrize("card", ALL_CARDS, ids=lambda card: card.number)
def test_every_catalog_number_is_consistent(card: cards.TestCard) -> None:
    assert luhn_valid(card.number)
    assert 12 <= len(card.number) <= 19
    assert card.last4 == card.number[-4:]
    assert card.brand == brand_for_number(card.number)
    assert card.funding in ("credit", "debit", "prepaid")
    assert card.country is None or (len(card.country) == 2 and card.country.isupper())
    assert (card.exp_month, card.exp_year) == (12, 2034)
    assert lookup_test_card(card.number) is card


def test_payment_methods_and_tokens_point_into_the_number_catalog() -> None:
    for pm_id, card in PAYMENT_METHOD_IDS.items():
        assert pm_id.startswith("pm_card_")
        assert CARD_NUMBERS[card.number] is card
        assert TOKENS["tok_" + pm_id.removeprefix("pm_card_")] is card
    assert set(TOKENS.values()) <= set(CARD_NUMBERS.values())


REQUIRED_NUMBERS = [
    "4242424242424242",
    "4000056655665556",
    "5555555555554444",
    "378282246310005",
    "4000000000000002",
    "4000000000009995",
    "4000000000009987",
    "4000000000009979",
    "4000000000000069",
    "4000000000000127",
    "4000000000000119",
    "4000000000000259",
    "4000000000000077",
    "4000003720000278",
    "4000002500003155",
    "4000002760003184",
    "4000000000000341",
    "4100000000000019",
    "4000000000009235",
    "4000000000000101",
]


@pytest.mark.parametrize("number", REQUIRED_NUMBERS)
def test_documented_numbers_are_known(number: str) -> None:
    assert number in CARD_NUMBERS


REQUIRED_PAYMENT_METHODS = [
    "pm_card_visa",
    "pm_card_visa_debit",
    "pm_card_mastercard",
    "pm_card_mastercard_debit",
    "pm_card_mastercard_prepaid",
    "pm_card_amex",
    "pm_card_discover",
    "pm_card_diners",
    "pm_card_jcb",
    "pm_card_unionpay",
    "pm_card_visa_chargeDeclined",
    "pm_card_chargeDeclined",
    "pm_card_chargeDeclinedInsufficientFunds",
    "pm_card_chargeDeclinedLostCard",
    "pm_card_chargeDeclinedStolenCard",
    "pm_card_chargeDeclinedExpiredCard",
    "pm_card_chargeDeclinedIncorrectCvc",
    "pm_card_chargeDeclinedProcessingError",
    "pm_card_chargeDeclinedFraudulent",
    "pm_card_visa_chargeDeclinedVelocityLimitExceeded",
    "pm_card_chargeCustomerFail",
    "pm_card_createDispute",
    "pm_card_createDisputeProductNotReceived",
    "pm_card_createDisputeInquiry",
    "pm_card_bypassPending",
    "pm_card_authenticationRequired",
    "pm_card_threeDSecure2Required",
    "pm_card_riskLevelElevated",
    "pm_card_riskLevelHighest",
    "pm_card_cvcCheckFail",
    "pm_card_avsFail",
    "pm_card_us",
    "pm_card_gb",
    "pm_card_radarBlock",
]


@pytest.mark.parametrize("pm_id", REQUIRED_PAYMENT_METHODS)
def test_documented_payment_methods_and_tokens_are_known(pm_id: str) -> None:
    assert pm_id in PAYMENT_METHOD_IDS
    assert "tok_" + pm_id.removeprefix("pm_card_") in TOKENS


@pytest.mark.parametrize(
    ("pm_id", "number", "brand", "funding", "country"),
    [
        ("pm_card_visa", "4242424242424242", "visa", "credit", "US"),
        ("pm_card_visa_debit", "4000056655665556", "visa", "debit", "US"),
        ("pm_card_mastercard", "5555555555554444", "mastercard", "credit", "US"),
        ("pm_card_mastercard_debit", "5200828282828210", "mastercard", "debit", "US"),
        ("pm_card_mastercard_prepaid", "5105105105105100", "mastercard", "prepaid", "US"),
        ("pm_card_amex", "378282246310005", "amex", "credit", "US"),
        ("pm_card_discover", "6011111111111117", "discover", "credit", "US"),
        ("pm_card_diners", "3056930009020004", "diners", "credit", "US"),
        ("pm_card_jcb", "3566002020360505", "jcb", "credit", "JP"),
        ("pm_card_unionpay", "6200000000000005", "unionpay", "credit", "CN"),
        ("pm_card_gb", "4000008260000000", "visa", "credit", "GB"),
        ("pm_card_gb_mastercard", "5555558265554449", "mastercard", "credit", "GB"),
        ("pm_card_th_debit", "4000057640000008", "visa", "debit", "TH"),
        ("pm_card_bypassPendingInternational", "4000003720000278", "visa", "credit", "IE"),
    ],
)
def test_payment_method_ids(
    pm_id: str, number: str, brand: str, funding: str, country: str
) -> None:
    card = PAYMENT_METHOD_IDS[pm_id]
    assert (card.number, card.brand, card.funding, card.country) == (
        number,
        brand,
        funding,
        country,
    )


def test_tokens_mirror_payment_method_ids() -> None:
    assert TOKENS["tok_visa"] is PAYMENT_METHOD_IDS["pm_card_visa"]
    assert TOKENS["tok_chargeDeclined"].number == "4000000000000002"
    assert TOKENS["tok_visa_chargeDeclined"].number == "4000000000000002"
    assert TOKENS["tok_chargeDeclinedInsufficientFunds"].number == "4000000000009995"
    assert TOKENS["tok_createDispute"].number == "4000000000000259"
    assert TOKENS["tok_bypassPending"].number == "4000000000000077"


def test_legacy_and_current_names_are_the_same_card() -> None:
    pairs = [
        ("pm_card_chargeDeclined", "pm_card_visa_chargeDeclined"),
        ("pm_card_chargeDeclinedInsufficientFunds", "pm_card_visa_chargeDeclinedInsufficientFunds"),
        ("pm_card_chargeDeclinedLostCard", "pm_card_visa_chargeDeclinedLostCard"),
        ("pm_card_chargeDeclinedStolenCard", "pm_card_visa_chargeDeclinedStolenCard"),
        ("pm_card_chargeDeclinedFraudulent", "pm_card_radarBlock"),
        ("pm_card_us", "pm_card_visa"),
    ]
    for legacy, current in pairs:
        assert PAYMENT_METHOD_IDS[legacy] is PAYMENT_METHOD_IDS[current]


# --- decline outcomes --------------------------------------------------------------------------

GENERIC_SELLER = "The bank did not return any further details with this decline."


@pytest.mark.parametrize(
    ("pm_id", "error_code", "decline_code", "message", "seller_message"),
    [
        (
            "pm_card_visa_chargeDeclined",
            "card_declined",
            "generic_decline",
            "Your card was declined.",
            GENERIC_SELLER,
        ),
        (
            "pm_card_visa_chargeDeclinedInsufficientFunds",
            "card_declined",
            "insufficient_funds",
            "Your card has insufficient funds.",
            "The bank returned the decline code `insufficient_funds`.",
        ),
        (
            "pm_card_visa_chargeDeclinedLostCard",
            "card_declined",
            "lost_card",
            "Your card was declined.",
            "The bank returned the decline code `lost_card`.",
        ),
        (
            "pm_card_visa_chargeDeclinedStolenCard",
            "card_declined",
            "stolen_card",
            "Your card was declined.",
            "The bank returned the decline code `stolen_card`.",
        ),
        (
            "pm_card_chargeDeclinedExpiredCard",
            "expired_card",
            "expired_card",
            "Your card has expired.",
            "The bank returned the decline code `expired_card`.",
        ),
        (
            "pm_card_chargeDeclinedIncorrectCvc",
            "incorrect_cvc",
            "incorrect_cvc",
            "Your card's security code is incorrect.",
            "The bank returned the decline code `incorrect_cvc`.",
        ),
        (
            "pm_card_chargeDeclinedProcessingError",
            "processing_error",
            "processing_error",
            "An error occurred while processing your card. Try again in a little bit.",
            "The bank returned the decline code `processing_error`.",
        ),
        (
            "pm_card_visa_chargeDeclinedVelocityLimitExceeded",
            "card_declined",
            "card_velocity_exceeded",
            "Your card was declined for making repeated attempts too frequently or exceeding "
            "its amount limit.",
            "The bank returned the decline code `card_velocity_exceeded`.",
        ),
        (
            "pm_card_chargeCustomerFail",
            "card_declined",
            "generic_decline",
            "Your card was declined.",
            GENERIC_SELLER,
        ),
    ],
)
def test_issuer_declines(
    pm_id: str, error_code: str, decline_code: str, message: str, seller_message: str
) -> None:
    outcome = pm(pm_id)
    assert outcome.kind == "declined"
    assert (outcome.error_code, outcome.decline_code, outcome.message) == (
        error_code,
        decline_code,
        message,
    )
    assert outcome.charge_outcome() == {
        "network_status": "declined_by_network",
        "reason": decline_code,
        "risk_level": "normal",
        "risk_score": 20,
        "seller_message": seller_message,
        "type": "issuer_declined",
    }
    error = outcome.card_error(charge="ch_123")
    assert isinstance(error, CardError)
    assert error.http_status == 402
    body = error.to_dict()["error"]
    assert body["type"] == "card_error"
    assert body["code"] == error_code
    assert body["decline_code"] == decline_code
    assert body["message"] == message
    assert body["charge"] == "ch_123"


def test_error_params_of_field_declines() -> None:
    assert pm("pm_card_chargeDeclinedExpiredCard").error_param == "exp_month"
    assert pm("pm_card_chargeDeclinedIncorrectCvc").error_param == "cvc"
    assert pm("pm_card_visa_chargeDeclined").error_param is None
    assert "param" not in pm("pm_card_visa_chargeDeclined").card_error().to_dict()["error"]


def test_decline_cards_cannot_be_attached_but_charge_customer_fail_can() -> None:
    for pm_id in (
        "pm_card_visa_chargeDeclined",
        "pm_card_visa_chargeDeclinedInsufficientFunds",
        "pm_card_chargeDeclinedExpiredCard",
        "pm_card_chargeDeclinedIncorrectCvc",
        "pm_card_chargeDeclinedProcessingError",
    ):
        assert pm(pm_id).attach_fails, pm_id
    customer_fail = pm("pm_card_chargeCustomerFail")
    assert not customer_fail.attach_fails
    assert customer_fail.kind == "declined"


@pytest.mark.parametrize("pm_id", ["pm_card_radarBlock", "pm_card_riskLevelHighest"])
def test_highest_risk_is_blocked_before_the_network(pm_id: str) -> None:
    outcome = pm(pm_id)
    assert outcome.kind == "declined"
    assert outcome.highest_risk
    assert (outcome.error_code, outcome.decline_code) == ("card_declined", "fraudulent")
    assert outcome.message == "Your card was declined."
    assert outcome.charge_outcome() == {
        "network_status": "not_sent_to_network",
        "reason": "highest_risk_level",
        "risk_level": "highest",
        "risk_score": 92,
        "seller_message": "Stripe blocked this payment as too risky.",
        "type": "blocked",
    }


def test_elevated_risk_is_authorized() -> None:
    outcome = pm("pm_card_riskLevelElevated")
    assert outcome.kind == "succeeded"
    assert outcome.elevated_risk and not outcome.highest_risk
    assert outcome.charge_outcome()["risk_level"] == "elevated"
    assert outcome.charge_outcome()["type"] == "authorized"


def test_successful_cards_authorize() -> None:
    outcome = pm("pm_card_visa")
    assert outcome.kind == "succeeded"
    assert outcome.charge_outcome() == {
        "network_status": "approved_by_network",
        "reason": None,
        "risk_level": "normal",
        "risk_score": 20,
        "seller_message": "Payment complete.",
        "type": "authorized",
    }
    with pytest.raises(AssertionError):
        outcome.card_error()


def test_authentication_required_decline() -> None:
    error = AUTHENTICATION_REQUIRED.card_error().to_dict()["error"]
    assert error["code"] == "authentication_required"
    assert error["decline_code"] == "authentication_required"
    assert error["message"] == "Your card was declined. This transaction requires authentication."
    assert AUTHENTICATION_REQUIRED.charge_outcome()["seller_message"] == (
        "The bank returned the decline code `authentication_required`."
    )


# --- other behaviours --------------------------------------------------------------------------


def test_disputes() -> None:
    assert pm("pm_card_createDispute").dispute == "fraudulent"
    assert pm("pm_card_createDispute").kind == "succeeded"
    assert pm("pm_card_createDisputeProductNotReceived").dispute == "product_not_received"
    assert pm("pm_card_createDisputeInquiry").dispute_inquiry
    assert pm("pm_card_createIssuerFraudRecord").early_fraud_warning
    assert pm("pm_card_createIssuerFraudRecord").dispute is None
    assert pm("pm_card_visa").dispute is None


def test_balance_and_refund_behaviours() -> None:
    assert pm("pm_card_bypassPending").bypass_pending
    assert pm("pm_card_bypassPendingInternational").bypass_pending
    assert not pm("pm_card_visa").bypass_pending
    assert pm("pm_card_pendingRefund").refund == "pending"
    assert pm("pm_card_refundFail").refund == "fails"


@pytest.mark.parametrize(
    ("pm_id", "kind", "authentication"),
    [
        ("pm_card_authenticationRequired", "requires_action", "required"),
        ("pm_card_threeDSecure2Required", "requires_action", "required"),
        ("pm_card_authenticationRequiredOnSetup", "requires_action", "required_unless_set_up"),
        (
            "pm_card_authenticationRequiredSetupForOffSession",
            "requires_action",
            "required_on_session",
        ),
        ("pm_card_threeDSecureOptional", "succeeded", "optional"),
        ("pm_card_visa", "succeeded", None),
    ],
)
def test_three_d_secure(pm_id: str, kind: str, authentication: str | None) -> None:
    outcome = pm(pm_id)
    assert (outcome.kind, outcome.authentication) == (kind, authentication)
    assert outcome.error_code is None  # succeeds once authenticated
    assert not outcome.attach_fails


def test_three_d_secure_then_decline() -> None:
    outcome = pm("pm_card_authenticationRequiredChargeDeclinedInsufficientFunds")
    assert (outcome.kind, outcome.authentication) == ("requires_action", "required")
    assert outcome.decline_code == "insufficient_funds"
    assert pm("pm_card_threeDSecureRequiredChargeDeclined").error_code == "card_declined"
    assert not PAYMENT_METHOD_IDS["pm_card_amex_threeDSecureNotSupported"].three_d_secure_supported


@pytest.mark.parametrize(
    ("pm_id", "cvc", "line1", "postal_code"),
    [
        ("pm_card_visa", "pass", "pass", "pass"),
        ("pm_card_cvcCheckFail", "fail", "pass", "pass"),
        ("pm_card_chargeDeclinedIncorrectCvc", "fail", "pass", "pass"),
        ("pm_card_avsZipFail", "pass", "pass", "fail"),
        ("pm_card_avsLine1Fail", "pass", "fail", "pass"),
        ("pm_card_avsFail", "pass", "fail", "fail"),
        ("pm_card_avsUnchecked", "pass", "unavailable", "unavailable"),
        ("pm_card_cvcCheckFailElevatedRisk", "fail", "pass", "pass"),
        ("pm_card_avsZipFailElevatedRisk", "pass", "pass", "fail"),
    ],
)
def test_checks(pm_id: str, cvc: str, line1: str, postal_code: str) -> None:
    card = PAYMENT_METHOD_IDS[pm_id]
    assert card.cvc_check == cvc
    assert card.checks(cvc=True, address_line1=True, address_postal_code=True) == {
        "address_line1_check": line1,
        "address_postal_code_check": postal_code,
        "cvc_check": cvc,
    }
    assert card.checks() == {
        "address_line1_check": None,
        "address_postal_code_check": None,
        "cvc_check": None,
    }
    assert card.checks(cvc=True, verified=False)["cvc_check"] == "unchecked"


# --- Stripe's sub-objects ----------------------------------------------------------------------


def test_payment_method_card_shape() -> None:
    card = PAYMENT_METHOD_IDS["pm_card_amex"]
    shown = card.to_payment_method_card(cvc_provided=True)
    assert shown == {
        "brand": "amex",
        "checks": {
            "address_line1_check": None,
            "address_postal_code_check": None,
            "cvc_check": "unchecked",
        },
        "country": "US",
        "display_brand": "american_express",
        "exp_month": 12,
        "exp_year": 2034,
        "fingerprint": card.fingerprint,
        "funding": "credit",
        "generated_from": None,
        "last4": "0005",
        "networks": {"available": ["amex"], "preferred": None},
        "three_d_secure_usage": {"supported": False},
        "wallet": None,
    }


def test_charge_card_details_shape() -> None:
    card = PAYMENT_METHOD_IDS["pm_card_visa"]
    details = card.to_charge_card_details(amount=1000, authorized=True, cvc_provided=True)
    assert details == {
        "amount_authorized": 1000,
        "authorization_code": None,
        "brand": "visa",
        "checks": {
            "address_line1_check": None,
            "address_postal_code_check": None,
            "cvc_check": "pass",
        },
        "country": "US",
        "exp_month": 12,
        "exp_year": 2034,
        "extended_authorization": {"status": "disabled"},
        "fingerprint": card.fingerprint,
        "funding": "credit",
        "incremental_authorization": {"status": "unavailable"},
        "installments": None,
        "last4": "4242",
        "mandate": None,
        "multicapture": {"status": "unavailable"},
        "network": "visa",
        "network_token": {"used": False},
        "overcapture": {"maximum_amount_capturable": 1000, "status": "unavailable"},
        "three_d_secure": None,
        "wallet": None,
    }
    declined = PAYMENT_METHOD_IDS["pm_card_visa_chargeDeclined"]
    unpaid = declined.to_charge_card_details(amount=1000, authorized=False)
    assert unpaid["amount_authorized"] is None
    secured = card.to_charge_card_details(
        amount=1000, authorized=True, three_d_secure={"result": "authenticated"}
    )
    assert secured["three_d_secure"] == {"result": "authenticated"}


@pytest.mark.parametrize("card", ALL_CARDS, ids=lambda card: card.number)
def test_sub_objects_match_stripes_schema(card: cards.TestCard) -> None:
    shown = card.to_payment_method_card(
        cvc_provided=True, address_line1_provided=True, address_postal_code_provided=True
    )
    assert_valid(shown, "payment_method_card")
    details = card.to_charge_card_details(amount=2000, authorized=card.outcome.error_code is None)
    assert_valid(details, "payment_method_details_card")
    assert_valid(card.outcome.charge_outcome(), "charge_outcome")


def test_sub_objects_use_only_fields_of_api_version_2024_11_20() -> None:
    # stripe-python 11.3.0 is generated from the 2024-11-20.acacia OpenAPI spec.
    card = PAYMENT_METHOD_IDS["pm_card_visa"]
    pm_fields = set(stripe.PaymentMethod.Card.__annotations__)
    charge_fields = set(stripe.Charge.PaymentMethodDetails.Card.__annotations__)
    outcome_fields = set(stripe.Charge.Outcome.__annotations__)
    assert set(card.to_payment_method_card()) <= pm_fields
    assert set(card.to_charge_card_details(amount=100, authorized=True)) <= charge_fields
    assert set(card.outcome.charge_outcome()) <= outcome_fields


def test_display_brands() -> None:
    expected = {
        "pm_card_visa": "visa",
        "pm_card_mastercard": "mastercard",
        "pm_card_amex": "american_express",
        "pm_card_discover": "discover",
        "pm_card_diners": "diners_club",
        "pm_card_jcb": "jcb",
        "pm_card_unionpay": "union_pay",
    }
    for pm_id, display_brand in expected.items():
        assert PAYMENT_METHOD_IDS[pm_id].display_brand == display_brand


def test_fingerprints_are_stable_and_distinct() -> None:
    prints = [card.fingerprint for card in ALL_CARDS]
    assert len(set(prints)) == len(prints)
    for value in prints:
        assert len(value) == 16 and value.isalnum() and value.isascii()
    assert PAYMENT_METHOD_IDS["pm_card_visa"].fingerprint == TOKENS["tok_us"].fingerprint
    assert PAYMENT_METHOD_IDS["pm_card_visa"].fingerprint == "0LLqY3kHBrwazt58"


# --- raw numbers -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("number", "valid"),
    [
        ("4242424242424242", True),
        ("4242424242424241", False),
        ("378282246310005", True),
        ("378282246310006", False),
        ("0", True),
        ("", False),
        ("4242 4242 4242 4242", False),
        ("abcd", False),
        ("\uff14\uff12" * 8, False),  # full-width digits
    ],
)
def test_luhn_valid(number: str, valid: bool) -> None:
    assert luhn_valid(number) is valid


def test_lookup_ignores_spaces_and_dashes() -> None:
    assert lookup_test_card("4242 4242 4242 4242") is PAYMENT_METHOD_IDS["pm_card_visa"]
    assert lookup_test_card("4000-0000-0000-0002") is PAYMENT_METHOD_IDS["pm_card_chargeDeclined"]
    assert lookup_test_card("4111111111111111") is None


@pytest.mark.parametrize(
    "number", ["4242424242424241", "4242", "42424242424242424242", "4242x24242424242", ""]
)
def test_invalid_numbers_are_incorrect_number_errors(number: str) -> None:
    with pytest.raises(CardError) as info:
        resolve_card_number(number)
    error = info.value
    assert error.http_status == 402
    assert error.code == "incorrect_number"
    assert error.param == "number"
    assert error.message == "Your card number is incorrect."
    assert error.decline_code is None


@pytest.mark.parametrize(
    ("prefix", "brand"),
    [
        ("4111", "visa"),
        ("51", "mastercard"),
        ("55", "mastercard"),
        ("2221", "mastercard"),
        ("2720", "mastercard"),
        ("6011", "discover"),
        ("65", "discover"),
        ("644", "discover"),
        ("3528", "jcb"),
        ("3589", "jcb"),
        ("621", "unionpay"),
        ("300", "diners"),
        ("36", "diners"),
        ("9", "unknown"),
    ],
)
def test_unknown_valid_numbers_succeed_as_their_iin_brand(prefix: str, brand: str) -> None:
    number = with_check_digit(prefix)
    assert lookup_test_card(number) is None
    card = resolve_card_number(number)
    assert card.brand == brand
    assert card.outcome.kind == "succeeded"
    assert card.last4 == number[-4:]


def test_unknown_amex_numbers_have_fifteen_digits() -> None:
    card = resolve_card_number(with_check_digit("34", length=15))
    assert card.brand == "amex"
    assert brand_for_number("2220999999999999") == "unknown"
    assert brand_for_number("2721000000000000") == "unknown"


def test_known_numbers_resolve_to_the_catalog() -> None:
    assert resolve_card_number("4000 0000 0000 9995") is CARD_NUMBERS["4000000000009995"]
