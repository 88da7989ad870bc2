"""Stripe's documented test cards: numbers, PaymentMethod ids, tokens, and what each one does.

Sources:

- Card numbers, `pm_card_*` ids and their behaviour: https://docs.stripe.com/testing (sections
  "Cards by brand", "Cards by country", "Declined payments", "Fraud prevention", "Disputes",
  "Refunds", "Available balance", "3D Secure authentication"). `tok_*` tokens follow the rule
  the same page states: the PaymentMethod id with `pm_card_` replaced by `tok_`.
- Error codes, decline codes and customer-facing messages: https://docs.stripe.com/declines/codes,
  https://docs.stripe.com/error-codes and Stripe's own responses for these cards.
- `charge.outcome` values (`seller_message`, `reason`, `type`, `network_status`):
  https://docs.stripe.com/declines and https://docs.stripe.com/radar/risk-evaluation.
- Sub-object shapes (`payment_method.card`, `charge.payment_method_details.card`): Stripe's
  OpenAPI spec for 2024-11-20.acacia (the one stripe-python 11.3.0 is generated from).

Values we could not confirm are listed in the README's behaviour notes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from types import MappingProxyType
from typing import Any, ClassVar, Final, Literal

from ledger.errors import CardError

__all__ = [
    "AUTHENTICATION_REQUIRED",
    "CARD_NUMBERS",
    "PAYMENT_METHOD_IDS",
    "TEST_CARD_EXP_MONTH",
    "TEST_CARD_EXP_YEAR",
    "TOKENS",
    "CardOutcome",
    "TestCard",
    "brand_for_number",
    "lookup_test_card",
    "luhn_valid",
    "resolve_card_number",
]

Kind = Literal["succeeded", "declined", "requires_action"]
NetworkStatus = Literal["approved_by_network", "declined_by_network", "not_sent_to_network"]
OutcomeType = Literal["authorized", "issuer_declined", "blocked"]
RiskLevel = Literal["normal", "elevated", "highest"]
CheckResult = Literal["pass", "fail", "unavailable", "unchecked"]
# When the card asks for 3D Secure:
#   required                every payment and every setup, on or off session;
#   required_unless_set_up  on-session payments always; off-session ones until the card is set up
#                           for future use (SetupIntent or setup_future_usage);
#   required_on_session     one-time and on-session payments; off-session ones succeed as if the
#                           card had been set up;
#   optional                3D Secure is supported, not required: the payment succeeds without it.
Authentication = Literal["required", "required_unless_set_up", "required_on_session", "optional"]
DisputeReason = Literal["fraudulent", "product_not_received", "general"]
RefundBehaviour = Literal["pending", "fails"]
Brand = Literal["amex", "diners", "discover", "jcb", "mastercard", "unionpay", "visa", "unknown"]
Funding = Literal["credit", "debit", "prepaid", "unknown"]

# Stripe's test pages suggest "a valid future date, such as 12/34".
TEST_CARD_EXP_MONTH: Final = 12
TEST_CARD_EXP_YEAR: Final = 2034

# Customer-facing messages, exactly as Stripe sends them in `error.message` and
# `charge.failure_message`.
MESSAGE_DECLINED: Final = "Your card was declined."
MESSAGE_INSUFFICIENT_FUNDS: Final = "Your card has insufficient funds."
MESSAGE_EXPIRED: Final = "Your card has expired."
MESSAGE_INCORRECT_CVC: Final = "Your card's security code is incorrect."
MESSAGE_PROCESSING_ERROR: Final = (
    "An error occurred while processing your card. Try again in a little bit."
)
MESSAGE_VELOCITY: Final = (
    "Your card was declined for making repeated attempts too frequently or exceeding its amount "
    "limit."
)
MESSAGE_INCORRECT_NUMBER: Final = "Your card number is incorrect."
MESSAGE_AUTHENTICATION_REQUIRED: Final = (
    "Your card was declined. This transaction requires authentication."
)

# `charge.outcome.seller_message` values.
SELLER_MESSAGE_APPROVED: Final = "Payment complete."
SELLER_MESSAGE_GENERIC_DECLINE: Final = (
    "The bank did not return any further details with this decline."
)
SELLER_MESSAGE_BLOCKED: Final = "Stripe blocked this payment as too risky."

# Radar bands: normal 0-64, elevated 65-74, highest 75-100. Test cards get one representative
# score per band; Stripe's own test scores vary from charge to charge.
_RISK_SCORES: Final[Mapping[RiskLevel, int]] = MappingProxyType(
    {"normal": 20, "elevated": 70, "highest": 92}
)


def _bank_returned(decline_code: str) -> str:
    return f"The bank returned the decline code `{decline_code}`."


@dataclass(frozen=True, slots=True)
class CardOutcome:
    """What happens when a test card is charged (and attached, disputed, refunded...).

    For `requires_action` cards the error fields describe the charge *after* a successful
    authentication; all None means it then succeeds.
    """

    kind: Kind
    # The error Stripe raises (a CardError, HTTP 402) and records on the failed charge.
    error_code: str | None = None
    decline_code: str | None = None
    message: str | None = None
    error_param: str | None = None
    # charge.outcome
    network_status: NetworkStatus = "approved_by_network"
    outcome_type: OutcomeType = "authorized"
    reason: str | None = None
    risk_level: RiskLevel = "normal"
    risk_score: int = _RISK_SCORES["normal"]
    seller_message: str = SELLER_MESSAGE_APPROVED
    # Results of the checks Stripe runs on the fields the request provided.
    cvc_check: CheckResult = "pass"
    address_line1_check: CheckResult = "pass"
    address_postal_code_check: CheckResult = "pass"
    authentication: Authentication | None = None
    # Attaching the card to a Customer fails with this outcome's error. Stripe's decline cards
    # cannot be saved; pm_card_chargeCustomerFail can, and then every charge on it fails.
    attach_fails: bool = False
    # Funds go straight to the available balance instead of pending.
    bypass_pending: bool = False
    # After the charge succeeds, the cardholder disputes it with this reason.
    dispute: DisputeReason | None = None
    dispute_inquiry: bool = False
    # After the charge succeeds, the issuer files an early fraud warning (no dispute).
    early_fraud_warning: bool = False
    # Refunds start `pending` and later succeed, or start `succeeded` and later fail.
    refund: RefundBehaviour | None = None

    def __post_init__(self) -> None:
        failing = self.error_code is not None
        assert failing == (self.message is not None)
        assert self.decline_code is None or failing
        if self.kind == "succeeded":
            assert not failing and self.outcome_type == "authorized"
            assert self.network_status == "approved_by_network"
        if self.kind == "declined":
            assert failing and self.outcome_type != "authorized"
        if self.kind == "requires_action":
            assert self.authentication in (
                "required",
                "required_unless_set_up",
                "required_on_session",
            )
        assert not (self.attach_fails and not failing)
        assert self.dispute is not None or not self.dispute_inquiry
        assert self.risk_score == _RISK_SCORES[self.risk_level]

    @property
    def elevated_risk(self) -> bool:
        """Radar rates the payment `elevated` (pm_card_riskLevelElevated)."""
        return self.risk_level == "elevated"

    @property
    def highest_risk(self) -> bool:
        """Radar rates the payment `highest` and, with default rules, blocks it."""
        return self.risk_level == "highest"

    def charge_outcome(self) -> dict[str, Any]:
        """The charge's `outcome` object for this result."""
        return {
            "network_status": self.network_status,
            "reason": self.reason,
            "risk_level": self.risk_level,
            "risk_score": self.risk_score,
            "seller_message": self.seller_message,
            "type": self.outcome_type,
        }

    def card_error(
        self,
        *,
        charge: str | None = None,
        payment_intent: dict[str, Any] | None = None,
        payment_method: dict[str, Any] | None = None,
    ) -> CardError:
        """The CardError Stripe raises for this result (only for results that fail)."""
        assert self.error_code is not None and self.message is not None, self
        return CardError(
            self.message,
            code=self.error_code,
            param=self.error_param,
            decline_code=self.decline_code,
            charge=charge,
            payment_intent=payment_intent,
            payment_method=payment_method,
        )


_APPROVED: Final = CardOutcome(kind="succeeded")
_ELEVATED: Final = replace(_APPROVED, risk_level="elevated", risk_score=_RISK_SCORES["elevated"])


def _issuer_declined(
    decline_code: str,
    message: str,
    *,
    error_code: str = "card_declined",
    error_param: str | None = None,
    attach_fails: bool = True,
    cvc_check: CheckResult = "pass",
) -> CardOutcome:
    """A decline by the card's issuer: the charge reached the network and was refused."""
    generic = decline_code == "generic_decline"
    return CardOutcome(
        kind="declined",
        error_code=error_code,
        decline_code=decline_code,
        message=message,
        error_param=error_param,
        network_status="declined_by_network",
        outcome_type="issuer_declined",
        reason=decline_code,
        seller_message=SELLER_MESSAGE_GENERIC_DECLINE if generic else _bank_returned(decline_code),
        cvc_check=cvc_check,
        attach_fails=attach_fails,
    )


# Radar's default rule blocks payments rated `highest`; the network never sees them.
_BLOCKED: Final = CardOutcome(
    kind="declined",
    error_code="card_declined",
    decline_code="fraudulent",
    message=MESSAGE_DECLINED,
    network_status="not_sent_to_network",
    outcome_type="blocked",
    reason="highest_risk_level",
    risk_level="highest",
    risk_score=_RISK_SCORES["highest"],
    seller_message=SELLER_MESSAGE_BLOCKED,
)

_GENERIC_DECLINE: Final = _issuer_declined("generic_decline", MESSAGE_DECLINED)
_INSUFFICIENT_FUNDS: Final = _issuer_declined("insufficient_funds", MESSAGE_INSUFFICIENT_FUNDS)

# The decline an off-session payment gets when the card demands 3D Secure.
AUTHENTICATION_REQUIRED: Final = _issuer_declined(
    "authentication_required",
    MESSAGE_AUTHENTICATION_REQUIRED,
    error_code="authentication_required",
    attach_fails=False,
)


def _authenticate(authentication: Authentication, then: CardOutcome = _APPROVED) -> CardOutcome:
    """A card that asks for 3D Secure, and then behaves as `then`."""
    kind: Kind = "succeeded" if authentication == "optional" else "requires_action"
    return replace(then, kind=kind, authentication=authentication, attach_fails=False)


def _luhn_digit_sum(number: str) -> int:
    total = 0
    for position, char in enumerate(reversed(number)):
        digit = int(char)
        if position % 2:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return total


def luhn_valid(number: str) -> bool:
    """Whether `number` (digits only) passes the Luhn checksum card numbers carry."""
    return number.isascii() and number.isdigit() and _luhn_digit_sum(number) % 10 == 0


# IIN ranges -> brand, most specific first.
_IIN_RANGES: Final[tuple[tuple[int, int, Brand], ...]] = (
    (6011, 6011, "discover"),
    (644, 649, "discover"),
    (65, 65, "discover"),
    (62, 62, "unionpay"),
    (3528, 3589, "jcb"),
    (34, 34, "amex"),
    (37, 37, "amex"),
    (300, 305, "diners"),
    (3095, 3095, "diners"),
    (36, 36, "diners"),
    (38, 39, "diners"),
    (2221, 2720, "mastercard"),
    (51, 55, "mastercard"),
    (4, 4, "visa"),
)


def brand_for_number(number: str) -> Brand:
    """The card brand a number's leading digits (IIN) belong to, or "unknown"."""
    for low, high, brand in _IIN_RANGES:
        prefix = number[: len(str(low))]
        if prefix.isdigit() and low <= int(prefix) <= high:
            return brand
    return "unknown"


# Stripe's `display_brand` spells brands differently from `brand`.
_DISPLAY_BRANDS: Final[Mapping[Brand, str]] = MappingProxyType(
    {
        "amex": "american_express",
        "diners": "diners_club",
        "discover": "discover",
        "jcb": "jcb",
        "mastercard": "mastercard",
        "unionpay": "union_pay",
        "visa": "visa",
        "unknown": "other",
    }
)

_FINGERPRINT_ALPHABET: Final = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_FINGERPRINT_LENGTH: Final = 16


@dataclass(frozen=True, slots=True)
class TestCard:
    """One test card number and the Stripe objects it shows up in."""

    __test__: ClassVar[bool] = False  # not a pytest test class, despite the name

    number: str
    brand: Brand
    funding: Funding
    country: str | None
    outcome: CardOutcome
    exp_month: int = TEST_CARD_EXP_MONTH
    exp_year: int = TEST_CARD_EXP_YEAR
    three_d_secure_supported: bool = True

    def __post_init__(self) -> None:
        assert luhn_valid(self.number), self.number
        assert 12 <= len(self.number) <= 19, self.number
        assert self.brand == brand_for_number(self.number), (self.number, self.brand)
        assert 1 <= self.exp_month <= 12

    @property
    def last4(self) -> str:
        """The last four digits."""
        return self.number[-4:]

    @property
    def fingerprint(self) -> str:
        """16 characters that identify the number (Stripe's are per account; ours are global)."""
        value = int.from_bytes(hashlib.sha256(b"card:" + self.number.encode()).digest(), "big")
        chars = []
        for _ in range(_FINGERPRINT_LENGTH):
            value, index = divmod(value, len(_FINGERPRINT_ALPHABET))
            chars.append(_FINGERPRINT_ALPHABET[index])
        return "".join(chars)

    @property
    def display_brand(self) -> str:
        """`payment_method.card.display_brand`: american_express, diners_club, union_pay..."""
        return _DISPLAY_BRANDS[self.brand]

    @property
    def network(self) -> str:
        """The network the charge runs on (`payment_method_details.card.network`)."""
        return self.brand

    @property
    def cvc_check(self) -> CheckResult:
        """The CVC check result when a CVC is provided."""
        return self.outcome.cvc_check

    def checks(
        self,
        *,
        cvc: bool = False,
        address_line1: bool = False,
        address_postal_code: bool = False,
        verified: bool = True,
    ) -> dict[str, CheckResult | None]:
        """The `checks` sub-object: null for fields not provided, `unchecked` before any check."""

        def result(provided: bool, outcome: CheckResult) -> CheckResult | None:
            if not provided:
                return None
            return outcome if verified else "unchecked"

        return {
            "address_line1_check": result(address_line1, self.outcome.address_line1_check),
            "address_postal_code_check": result(
                address_postal_code, self.outcome.address_postal_code_check
            ),
            "cvc_check": result(cvc, self.outcome.cvc_check),
        }

    def to_payment_method_card(
        self,
        *,
        cvc_provided: bool = False,
        address_line1_provided: bool = False,
        address_postal_code_provided: bool = False,
        verified: bool = False,
    ) -> dict[str, Any]:
        """Stripe's `payment_method.card` for this card.

        `verified` is False until the card has been checked (attached, set up or charged);
        provided fields then show `unchecked`, as on a freshly created PaymentMethod.
        """
        return {
            "brand": self.brand,
            "checks": self.checks(
                cvc=cvc_provided,
                address_line1=address_line1_provided,
                address_postal_code=address_postal_code_provided,
                verified=verified,
            ),
            "country": self.country,
            "display_brand": self.display_brand,
            "exp_month": self.exp_month,
            "exp_year": self.exp_year,
            "fingerprint": self.fingerprint,
            "funding": self.funding,
            "generated_from": None,
            "last4": self.last4,
            "networks": {"available": [self.network], "preferred": None},
            "three_d_secure_usage": {"supported": self.three_d_secure_supported},
            "wallet": None,
        }

    def to_charge_card_details(
        self,
        *,
        amount: int,
        authorized: bool,
        cvc_provided: bool = False,
        address_line1_provided: bool = False,
        address_postal_code_provided: bool = False,
        three_d_secure: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Stripe's `charge.payment_method_details.card` for a charge of `amount` on this card.

        `authorized` is False for a declined or blocked charge (no amount was authorized).
        `three_d_secure` is the authentication result when the payment went through 3D Secure.
        """
        assert amount >= 0
        return {
            "amount_authorized": amount if authorized else None,
            "authorization_code": None,
            "brand": self.brand,
            "checks": self.checks(
                cvc=cvc_provided,
                address_line1=address_line1_provided,
                address_postal_code=address_postal_code_provided,
            ),
            "country": self.country,
            "exp_month": self.exp_month,
            "exp_year": self.exp_year,
            "extended_authorization": {"status": "disabled"},
            "fingerprint": self.fingerprint,
            "funding": self.funding,
            "incremental_authorization": {"status": "unavailable"},
            "installments": None,
            "last4": self.last4,
            "mandate": None,
            "multicapture": {"status": "unavailable"},
            "network": self.network,
            "network_token": {"used": False},
            "overcapture": {"maximum_amount_capturable": amount, "status": "unavailable"},
            "three_d_secure": dict(three_d_secure) if three_d_secure is not None else None,
            "wallet": None,
        }


_Row = tuple[TestCard, tuple[str, ...]]


def _card(
    number: str,
    brand: Brand,
    funding: Funding,
    country: str | None,
    outcome: CardOutcome,
    *payment_method_ids: str,
    three_d_secure: bool = True,
) -> _Row:
    card = TestCard(
        number, brand, funding, country, outcome, three_d_secure_supported=three_d_secure
    )
    return card, payment_method_ids


def _visa(number: str, country: str | None, outcome: CardOutcome, *payment_method_ids: str) -> _Row:
    return _card(number, "visa", "credit", country, outcome, *payment_method_ids)


# Behaviours, named so that the catalog reads one card per line.
_OK: Final = _APPROVED
_LOST: Final = _issuer_declined("lost_card", MESSAGE_DECLINED)
_STOLEN: Final = _issuer_declined("stolen_card", MESSAGE_DECLINED)
_EXPIRED: Final = _issuer_declined(
    "expired_card", MESSAGE_EXPIRED, error_code="expired_card", error_param="exp_month"
)
_INCORRECT_CVC: Final = _issuer_declined(
    "incorrect_cvc",
    MESSAGE_INCORRECT_CVC,
    error_code="incorrect_cvc",
    error_param="cvc",
    cvc_check="fail",
)
_PROCESSING_ERROR: Final = _issuer_declined(
    "processing_error", MESSAGE_PROCESSING_ERROR, error_code="processing_error"
)
_VELOCITY: Final = _issuer_declined("card_velocity_exceeded", MESSAGE_VELOCITY)
_CUSTOMER_FAIL: Final = replace(_GENERIC_DECLINE, attach_fails=False)
_CVC_FAIL: Final = replace(_OK, cvc_check="fail")
_ZIP_FAIL: Final = replace(_OK, address_postal_code_check="fail")
_LINE1_FAIL: Final = replace(_OK, address_line1_check="fail")
_AVS_FAIL: Final = replace(_OK, address_line1_check="fail", address_postal_code_check="fail")
_AVS_UNAVAILABLE: Final = replace(
    _OK, address_line1_check="unavailable", address_postal_code_check="unavailable"
)
_ELEVATED_CVC_FAIL: Final = replace(_ELEVATED, cvc_check="fail")
_ELEVATED_ZIP_FAIL: Final = replace(_ELEVATED, address_postal_code_check="fail")
_DISPUTE_FRAUD: Final = replace(_OK, dispute="fraudulent")
_DISPUTE_NOT_RECEIVED: Final = replace(_OK, dispute="product_not_received")
_DISPUTE_INQUIRY: Final = replace(_OK, dispute="general", dispute_inquiry=True)
_EARLY_FRAUD_WARNING: Final = replace(_OK, early_fraud_warning=True)
_REFUND_PENDING: Final = replace(_OK, refund="pending")
_REFUND_FAILS: Final = replace(_OK, refund="fails")
_BYPASS_PENDING: Final = replace(_OK, bypass_pending=True)
_3DS_ALWAYS: Final = _authenticate("required")
_3DS_UNLESS_SET_UP: Final = _authenticate("required_unless_set_up")
_3DS_ON_SESSION: Final = _authenticate("required_on_session")
_3DS_OPTIONAL: Final = _authenticate("optional")
_3DS_THEN_INSUFFICIENT_FUNDS: Final = _authenticate("required", _INSUFFICIENT_FUNDS)
_3DS_THEN_DECLINE: Final = _authenticate("required", _GENERIC_DECLINE)

# One line per documented number: number, [brand, funding,] issuing country, behaviour, then the
# PaymentMethod ids that stand for it (`tok_*` ids are derived from these). A second id marked
# "legacy" is the older name earlier versions of the testing page listed; Stripe still accepts it.
# fmt: off
_CATALOG: Final[tuple[_Row, ...]] = (
    # --- Cards by brand: https://docs.stripe.com/testing#cards
    _visa("4242424242424242", "US", _OK, "pm_card_visa", "pm_card_us"),
    _card("4000056655665556", "visa", "debit", "US", _OK, "pm_card_visa_debit"),
    _card("5555555555554444", "mastercard", "credit", "US", _OK, "pm_card_mastercard"),
    _card("2223003122003222", "mastercard", "credit", "US", _OK),
    _card("5200828282828210", "mastercard", "debit", "US", _OK, "pm_card_mastercard_debit"),
    _card("5105105105105100", "mastercard", "prepaid", "US", _OK, "pm_card_mastercard_prepaid"),
    _card("378282246310005", "amex", "credit", "US", _OK,
          "pm_card_amex", "pm_card_amex_threeDSecureNotSupported", three_d_secure=False),
    _card("371449635398431", "amex", "credit", "US", _OK),
    _card("6011111111111117", "discover", "credit", "US", _OK, "pm_card_discover"),
    _card("6011000990139424", "discover", "credit", "US", _OK),
    _card("6011981111111113", "discover", "debit", "US", _OK),
    _card("3056930009020004", "diners", "credit", "US", _OK, "pm_card_diners"),
    _card("36227206271667", "diners", "credit", "US", _OK),
    _card("3566002020360505", "jcb", "credit", "JP", _OK, "pm_card_jcb"),
    _card("6200000000000005", "unionpay", "credit", "CN", _OK, "pm_card_unionpay"),
    _card("6200000000000047", "unionpay", "debit", "CN", _OK),
    _card("6205500000000000004", "unionpay", "credit", "CN", _OK),
    # --- Cards by country: https://docs.stripe.com/testing#international-cards
    _visa("4000000320000021", "AR", _OK, "pm_card_ar"),
    _visa("4000000760000002", "BR", _OK, "pm_card_br"),
    _visa("4000001240000000", "CA", _OK, "pm_card_ca"),
    _visa("4000001520000001", "CL", _OK, "pm_card_cl"),
    _visa("4000001700000003", "CO", _OK, "pm_card_co"),
    _visa("4000001880000005", "CR", _OK, "pm_card_cr"),
    _visa("4000002180000000", "EC", _OK, "pm_card_ec"),
    _visa("4000004840008001", "MX", _OK, "pm_card_mx"),
    _visa("4000005910000000", "PA", _OK, "pm_card_pa"),
    _visa("4000006000000066", "PY", _OK, "pm_card_py"),
    _visa("4000006040000068", "PE", _OK, "pm_card_pe"),
    _visa("4000008580000003", "UY", _OK, "pm_card_uy"),
    _visa("4000007840000001", "AE", _OK, "pm_card_ae"),
    _card("5200007840000022", "mastercard", "credit", "AE", _OK, "pm_card_ae_mastercard"),
    _visa("4000000400000008", "AT", _OK, "pm_card_at"),
    _visa("4000000560000004", "BE", _OK, "pm_card_be"),
    _visa("4000001000000000", "BG", _OK, "pm_card_bg"),
    _visa("4000001120000005", "BY", _OK, "pm_card_by"),
    _visa("4000001910000009", "HR", _OK, "pm_card_hr"),
    _visa("4000001960000008", "CY", _OK, "pm_card_cy"),
    _visa("4000002030000002", "CZ", _OK, "pm_card_cz"),
    _visa("4000002080000001", "DK", _OK, "pm_card_dk"),
    _visa("4000002330000009", "EE", _OK, "pm_card_ee"),
    _visa("4000002460000001", "FI", _OK, "pm_card_fi"),
    _visa("4000002500000003", "FR", _OK, "pm_card_fr"),
    _visa("4000002760000016", "DE", _OK, "pm_card_de"),
    _visa("4000002920000005", "GI", _OK, "pm_card_gi"),
    _visa("4000003000000030", "GR", _OK, "pm_card_gr"),
    _visa("4000003480000005", "HU", _OK, "pm_card_hu"),
    _visa("4000003720000005", "IE", _OK, "pm_card_ie"),
    _visa("4000003800000008", "IT", _OK, "pm_card_it"),
    _visa("4000004280000005", "LV", _OK, "pm_card_lv"),
    _visa("4000004380000004", "LI", _OK, "pm_card_li"),
    _visa("4000004400000000", "LT", _OK, "pm_card_lt"),
    _visa("4000004420000006", "LU", _OK, "pm_card_lu"),
    _visa("4000004700000007", "MT", _OK, "pm_card_mt"),
    _visa("4000005280000002", "NL", _OK, "pm_card_nl"),
    _visa("4000005780000007", "NO", _OK, "pm_card_no"),
    _visa("4000006160000005", "PL", _OK, "pm_card_pl"),
    _visa("4000006200000007", "PT", _OK, "pm_card_pt"),
    _visa("4000006420000001", "RO", _OK, "pm_card_ro"),
    _visa("4000006820000007", "SA", _OK),
    _visa("4000007050000006", "SI", _OK, "pm_card_si"),
    _visa("4000007030000001", "SK", _OK, "pm_card_sk"),
    _visa("4000007240000007", "ES", _OK, "pm_card_es"),
    _visa("4000007520000008", "SE", _OK, "pm_card_se"),
    _visa("4000007560000009", "CH", _OK, "pm_card_ch"),
    _visa("4000008260000000", "GB", _OK, "pm_card_gb"),
    _card("4000058260000005", "visa", "debit", "GB", _OK, "pm_card_gb_debit"),
    _card("5555558265554449", "mastercard", "credit", "GB", _OK, "pm_card_gb_mastercard"),
    _visa("4000000360000006", "AU", _OK, "pm_card_au"),
    _visa("4000001560000002", "CN", _OK, "pm_card_cn"),
    _visa("4000003440000004", "HK", _OK, "pm_card_hk"),
    _visa("4000003560000008", "IN", _OK, "pm_card_in"),
    _visa("4000003920000003", "JP", _OK, "pm_card_jp"),
    _card("3530111333300000", "jcb", "credit", "JP", _OK),
    _visa("4000004580000002", "MY", _OK, "pm_card_my"),
    _visa("4000005540000008", "NZ", _OK, "pm_card_nz"),
    _visa("4000007020000003", "SG", _OK, "pm_card_sg"),
    _visa("4000001580000008", "TW", _OK, "pm_card_tw"),
    _visa("4000007640000003", "TH", _OK, "pm_card_th_credit"),
    _card("4000057640000008", "visa", "debit", "TH", _OK, "pm_card_th_debit"),
    # --- Declined payments: https://docs.stripe.com/testing#declined-payments
    _visa("4000000000000002", "US", _GENERIC_DECLINE,
          "pm_card_visa_chargeDeclined", "pm_card_chargeDeclined"),  # legacy
    _visa("4000000000009995", "US", _INSUFFICIENT_FUNDS,
          "pm_card_visa_chargeDeclinedInsufficientFunds",
          "pm_card_chargeDeclinedInsufficientFunds"),  # legacy
    _visa("4000000000009987", "US", _LOST,
          "pm_card_visa_chargeDeclinedLostCard", "pm_card_chargeDeclinedLostCard"),  # legacy
    _visa("4000000000009979", "US", _STOLEN,
          "pm_card_visa_chargeDeclinedStolenCard", "pm_card_chargeDeclinedStolenCard"),  # legacy
    _visa("4000000000000069", "US", _EXPIRED, "pm_card_chargeDeclinedExpiredCard"),
    _visa("4000000000000127", "US", _INCORRECT_CVC, "pm_card_chargeDeclinedIncorrectCvc"),
    _visa("4000000000000119", "US", _PROCESSING_ERROR, "pm_card_chargeDeclinedProcessingError"),
    _visa("4000000000006975", "US", _VELOCITY,
          "pm_card_visa_chargeDeclinedVelocityLimitExceeded"),
    _visa("4000000000000341", "US", _CUSTOMER_FAIL, "pm_card_chargeCustomerFail"),
    # --- Fraud prevention: https://docs.stripe.com/testing#fraud-prevention
    _visa("4100000000000019", "US", _BLOCKED,
          "pm_card_radarBlock", "pm_card_chargeDeclinedFraudulent"),  # legacy
    _visa("4000000000004954", "US", _BLOCKED, "pm_card_riskLevelHighest"),
    _visa("4000000000009235", "US", _ELEVATED, "pm_card_riskLevelElevated"),
    _visa("4000000000000101", "US", _CVC_FAIL, "pm_card_cvcCheckFail"),
    _visa("4000000000000036", "US", _ZIP_FAIL, "pm_card_avsZipFail"),
    _visa("4000058400307872", "US", _ELEVATED_CVC_FAIL, "pm_card_cvcCheckFailElevatedRisk"),
    _visa("4000058400306072", "US", _ELEVATED_ZIP_FAIL, "pm_card_avsZipFailElevatedRisk"),
    _visa("4000000000000028", "US", _LINE1_FAIL, "pm_card_avsLine1Fail"),
    _visa("4000000000000010", "US", _AVS_FAIL, "pm_card_avsFail"),
    _visa("4000000000000044", "US", _AVS_UNAVAILABLE, "pm_card_avsUnchecked"),
    # These change the result only when the account turns the matching Radar control on; with
    # default settings they succeed like any card.
    _visa("4000008400000407", "US", _OK, "pm_card_highFraudDisputeScore"),
    _visa("4000008400000159", "US", _OK, "pm_card_highEfwScore"),
    _visa("4000008400001017", "US", _OK, "pm_card_radarDynamicRiskThreshold"),
    _visa("4001858821843804", "US", _OK, "pm_card_freeTrialAbuseBlock"),
    _visa("4000008405600003", "US", _OK, "pm_card_adaptive3dsChallenge"),
    _visa("4000000000001208", "US", _OK),  # captcha challenge, hosted pages only
    _visa("4000000000003725", "US", _OK),  # captcha challenge, hosted pages only
    # --- Disputes: https://docs.stripe.com/testing#disputes
    _visa("4000000000000259", "US", _DISPUTE_FRAUD, "pm_card_createDispute"),
    _visa("4000000000002685", "US", _DISPUTE_NOT_RECEIVED,
          "pm_card_createDisputeProductNotReceived"),
    _visa("4000000000001976", "US", _DISPUTE_INQUIRY, "pm_card_createDisputeInquiry"),
    _visa("4000000000005423", "US", _EARLY_FRAUD_WARNING, "pm_card_createIssuerFraudRecord"),
    # --- Refunds: https://docs.stripe.com/testing#refunds
    _visa("4000000000007726", "US", _REFUND_PENDING, "pm_card_pendingRefund"),
    _visa("4000000000005126", "US", _REFUND_FAILS, "pm_card_refundFail"),
    # --- Available balance: https://docs.stripe.com/testing#available-balance
    _visa("4000000000000077", "US", _BYPASS_PENDING, "pm_card_bypassPending"),
    _visa("4000003720000278", "IE", _BYPASS_PENDING, "pm_card_bypassPendingInternational"),
    # --- 3D Secure: https://docs.stripe.com/testing#regulatory-cards and #three-ds-cards
    _visa("4000002500003155", "FR", _3DS_UNLESS_SET_UP, "pm_card_authenticationRequiredOnSetup"),
    _visa("4000002760003184", "DE", _3DS_ALWAYS, "pm_card_authenticationRequired"),
    _visa("4000003800000446", "IT", _3DS_ON_SESSION,
          "pm_card_authenticationRequiredSetupForOffSession"),
    _visa("4000008260003178", "GB", _3DS_THEN_INSUFFICIENT_FUNDS,
          "pm_card_authenticationRequiredChargeDeclinedInsufficientFunds"),
    _visa("4000000000003220", None, _3DS_ALWAYS, "pm_card_threeDSecure2Required"),
    _visa("4000008400000027", "US", _3DS_ALWAYS),
    _visa("4000008400001629", "US", _3DS_THEN_DECLINE,
          "pm_card_threeDSecureRequiredChargeDeclined"),
    _visa("4000000000003055", "US", _3DS_OPTIONAL, "pm_card_threeDSecureOptional"),
)
# fmt: on


def _index(
    rows: Iterable[_Row],
) -> tuple[dict[str, TestCard], dict[str, TestCard], dict[str, TestCard]]:
    numbers: dict[str, TestCard] = {}
    payment_methods: dict[str, TestCard] = {}
    tokens: dict[str, TestCard] = {}
    for card, ids in rows:
        assert card.number not in numbers, card.number
        numbers[card.number] = card
        for pm_id in ids:
            assert pm_id.startswith("pm_card_") and pm_id not in payment_methods, pm_id
            payment_methods[pm_id] = card
            tokens["tok_" + pm_id.removeprefix("pm_card_")] = card
    return numbers, payment_methods, tokens


_NUMBERS, _PAYMENT_METHODS, _TOKENS = _index(_CATALOG)

CARD_NUMBERS: Final[Mapping[str, TestCard]] = MappingProxyType(_NUMBERS)
PAYMENT_METHOD_IDS: Final[Mapping[str, TestCard]] = MappingProxyType(_PAYMENT_METHODS)
TOKENS: Final[Mapping[str, TestCard]] = MappingProxyType(_TOKENS)


def _normalize(number: str) -> str:
    return number.replace(" ", "").replace("-", "")


def lookup_test_card(number: str) -> TestCard | None:
    """The documented test card with this number (spaces and dashes ignored), if any."""
    return CARD_NUMBERS.get(_normalize(number))


def resolve_card_number(number: str) -> TestCard:
    """The card a raw number stands for; Stripe's incorrect_number CardError if it is invalid.

    A documented number behaves as documented. Any other number that passes the Luhn check
    succeeds like a plain card of the brand its IIN names (credit, issued in the US). Note that
    Stripe itself declines real (non-test) numbers in test mode; the ledger does not.
    """
    digits = _normalize(number)
    if not (12 <= len(digits) <= 19 and luhn_valid(digits)):
        raise CardError(MESSAGE_INCORRECT_NUMBER, code="incorrect_number", param="number")
    found = CARD_NUMBERS.get(digits)
    if found is not None:
        return found
    return TestCard(digits, brand_for_number(digits), "credit", "US", _APPROVED)
