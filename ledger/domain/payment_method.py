"""PaymentMethods (type `card`): creation, attachment to a customer, detachment, update.

The card's number never appears in Stripe's JSON: it is kept in `State.internal` as
`{"card_number": "4242…"}` so that the payment path can find the test card's behaviour again
(`card_for`). Stripe publishes no `payment_method.created` event; attach, detach and update have
their own.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, Final

from ledger import limits
from ledger.domain.aggregate import JSON, Aggregate, State, StripeEventSpec, diff_previous, register
from ledger.domain.cards import TOKENS, TestCard, resolve_card_number
from ledger.domain.events import DomainEvent
from ledger.domain.rules import apply_metadata, check_email, reject, reject_if
from ledger.errors import CardError

__all__ = [
    "ALLOW_REDISPLAY_VALUES",
    "MESSAGE_ALREADY_ATTACHED",
    "MESSAGE_NOT_ATTACHED",
    "MESSAGE_NOT_REUSABLE",
    "MESSAGE_UPDATE_UNATTACHED",
    "PAYMENT_METHOD",
    "PaymentMethodAttached",
    "PaymentMethodCreated",
    "PaymentMethodDetached",
    "PaymentMethodUpdated",
    "card_for",
    "decide_attach",
    "decide_create",
    "decide_create_from_test_card",
    "decide_detach",
    "decide_update",
    "evolve",
    "stripe_events",
]

# Stripe's error messages for the attach/detach/update rules.
MESSAGE_ALREADY_ATTACHED: Final = (
    "The payment method you provided has already been attached to a customer."
)
MESSAGE_NOT_ATTACHED: Final = (
    "The payment method you provided is not attached to a customer so detachment is impossible."
)
MESSAGE_NOT_REUSABLE: Final = (
    "This PaymentMethod was previously used without being attached to a Customer or was "
    "detached from a Customer, and may not be used again."
)
MESSAGE_UPDATE_UNATTACHED: Final = (
    "You must save this PaymentMethod to a customer before you can update it."
)
MESSAGE_INVALID_EXPIRY_MONTH: Final = "Your card's expiration month is invalid."
MESSAGE_INVALID_EXPIRY_YEAR: Final = "Your card's expiration year is invalid."
MESSAGE_INVALID_CVC: Final = "Your card's security code is invalid."

ALLOW_REDISPLAY_VALUES: Final = ("always", "limited", "unspecified")
_CVC_DIGITS: Final = (3, 4)
_ADDRESS_KEYS: Final = ("city", "country", "line1", "line2", "postal_code", "state")
_CONTACT_KEYS: Final = ("email", "name", "phone")


class PaymentMethodCreated(DomainEvent):
    event_type = "payment_method.created"
    payment_method: JSON
    card_number: str


class PaymentMethodAttached(DomainEvent):
    event_type = "payment_method.attached"
    customer: str
    # The card's `checks` once attaching verified it (provided fields get their results).
    checks: JSON


class PaymentMethodDetached(DomainEvent):
    event_type = "payment_method.detached"


class PaymentMethodUpdated(DomainEvent):
    event_type = "payment_method.updated"
    changes: JSON


# -- card input ------------------------------------------------------------------------------


def _card_error(message: str, code: str, param: str) -> CardError:
    return CardError(message, code=code, param=param)


def _check_expiry(exp_month: int, exp_year: int, now: int) -> None:
    """Stripe's card errors for an expiry that is not a real, future month."""
    today = datetime.fromtimestamp(now, UTC)
    if not 1 <= exp_month <= 12:
        raise _card_error(MESSAGE_INVALID_EXPIRY_MONTH, "invalid_expiry_month", "exp_month")
    if not today.year <= exp_year <= today.year + limits.EXP_YEARS_AHEAD_MAX:
        raise _card_error(MESSAGE_INVALID_EXPIRY_YEAR, "invalid_expiry_year", "exp_year")
    if exp_year == today.year and exp_month < today.month:
        raise _card_error(MESSAGE_INVALID_EXPIRY_MONTH, "invalid_expiry_month", "exp_month")


def _check_cvc(cvc: str) -> None:
    if not (cvc.isascii() and cvc.isdigit() and len(cvc) in _CVC_DIGITS):
        raise _card_error(MESSAGE_INVALID_CVC, "invalid_cvc", "cvc")


def _card_from_params(card: JSON, now: int) -> tuple[TestCard, bool]:
    """The test card a `card` hash stands for, and whether a CVC was provided."""
    if "token" in card:
        token = card["token"]
        reject_if(not token.startswith("tok_"), f"Invalid token id: {token}", param="token")
        found = TOKENS.get(token)
        if found is None:
            # Only Stripe's documented test tokens exist here until the Tokens API lands.
            reject(
                f"No such token: '{token}'",
                code="resource_missing",
                param="token",
                http_status=404,
            )
        return found, True
    test_card = resolve_card_number(card["number"])
    _check_expiry(card["exp_month"], card["exp_year"], now)
    cvc = card.get("cvc")
    if cvc is not None:
        _check_cvc(cvc)
    return replace(test_card, exp_month=card["exp_month"], exp_year=card["exp_year"]), (
        cvc is not None
    )


# -- billing details -------------------------------------------------------------------------


def _blank_billing_details() -> JSON:
    return {"address": dict.fromkeys(_ADDRESS_KEYS), "email": None, "name": None, "phone": None}


def _billing_details(current: JSON, value: JSON) -> JSON:
    """`current` with the hash `value` merged in: keys it names are set, `""` unsets."""
    merged = {**current, "address": dict(current["address"])}
    if "address" in value:
        address = value["address"]
        if address == "":
            merged["address"] = dict.fromkeys(_ADDRESS_KEYS)
        else:
            for key in _ADDRESS_KEYS:
                if key in address:
                    merged["address"][key] = address[key] or None
    for key in _CONTACT_KEYS:
        if key in value:
            merged[key] = value[key] or None
    if merged["email"] is not None and merged["email"] != current["email"]:
        check_email(merged["email"], "billing_details[email]")
    return merged


def _check_allow_redisplay(value: Any) -> str:
    reject_if(
        value not in ALLOW_REDISPLAY_VALUES,
        "Invalid allow_redisplay: must be one of always, limited, or unspecified",
        param="allow_redisplay",
    )
    assert isinstance(value, str)
    return value


# -- decisions -------------------------------------------------------------------------------


def _created(
    payment_method_id: str,
    created: int,
    card: TestCard,
    *,
    cvc_provided: bool,
    billing_details: JSON,
    metadata: JSON,
    allow_redisplay: str,
) -> PaymentMethodCreated:
    address = billing_details["address"]
    shown_card = card.to_payment_method_card(
        cvc_provided=cvc_provided,
        address_line1_provided=address["line1"] is not None,
        address_postal_code_provided=address["postal_code"] is not None,
    )
    payment_method = {
        "id": payment_method_id,
        "object": "payment_method",
        "allow_redisplay": allow_redisplay,
        "billing_details": billing_details,
        "card": shown_card,
        "created": created,
        "customer": None,
        "livemode": False,
        "metadata": metadata,
        "type": "card",
    }
    return PaymentMethodCreated(payment_method=payment_method, card_number=card.number)


def decide_create(payment_method_id: str, created: int, params: JSON) -> list[DomainEvent]:
    """Create a card PaymentMethod from validated params (`type` is `card`, `card` given)."""
    assert params.get("type") == "card" and "card" in params
    card, cvc_provided = _card_from_params(params["card"], created)
    billing_details = _billing_details(_blank_billing_details(), params.get("billing_details", {}))
    metadata = apply_metadata({}, params.get("metadata", {}))
    allow_redisplay = _check_allow_redisplay(params.get("allow_redisplay", "unspecified"))
    return [
        _created(
            payment_method_id,
            created,
            card,
            cvc_provided=cvc_provided,
            billing_details=billing_details,
            metadata=metadata,
            allow_redisplay=allow_redisplay,
        )
    ]


def decide_create_from_test_card(
    payment_method_id: str, created: int, card: TestCard
) -> list[DomainEvent]:
    """Create the PaymentMethod a test id (`pm_card_visa`) or token (`tok_visa`) stands for.

    Stripe's test PaymentMethods carry a CVC, so its check shows once the card is verified.
    """
    return [
        _created(
            payment_method_id,
            created,
            card,
            cvc_provided=True,
            billing_details=_blank_billing_details(),
            metadata={},
            allow_redisplay="unspecified",
        )
    ]


def card_for(state: State) -> TestCard:
    """The test card behind a card PaymentMethod, with the PaymentMethod's expiry."""
    assert state.data["type"] == "card"
    card = resolve_card_number(state.internal["card_number"])
    shown = state.data["card"]
    return replace(card, exp_month=shown["exp_month"], exp_year=shown["exp_year"])


def _verified_checks(state: State) -> JSON:
    """The card's checks after verification: each provided field gets the card's result."""
    current = state.data["card"]["checks"]
    return card_for(state).checks(
        cvc=current["cvc_check"] is not None,
        address_line1=current["address_line1_check"] is not None,
        address_postal_code=current["address_postal_code_check"] is not None,
    )


def decide_attach(state: State, customer: str) -> list[DomainEvent]:
    """Attach to `customer` (which exists); the card is verified and may be declined.

    Attaching again to the same customer changes nothing.
    """
    reject_if(state.internal.get("detached", False), MESSAGE_NOT_REUSABLE, param="payment_method")
    attached_to = state.data["customer"]
    if attached_to == customer:
        return []
    reject_if(attached_to is not None, MESSAGE_ALREADY_ATTACHED)
    outcome = card_for(state).outcome
    if outcome.attach_fails:
        raise outcome.card_error()
    return [PaymentMethodAttached(customer=customer, checks=_verified_checks(state))]


def decide_detach(state: State) -> list[DomainEvent]:
    """Detach from its customer; a detached PaymentMethod can never be used again."""
    reject_if(state.data["customer"] is None, MESSAGE_NOT_ATTACHED)
    return [PaymentMethodDetached()]


def decide_update(state: State, params: JSON, now: int) -> list[DomainEvent]:
    """Update billing details, metadata, the card's expiry or `allow_redisplay`.

    Only a PaymentMethod attached to a customer can be updated. Nothing is recorded when nothing
    changes.
    """
    reject_if(state.data["customer"] is None, MESSAGE_UPDATE_UNATTACHED)
    data = state.data
    changes: JSON = {}
    if "billing_details" in params:
        changes["billing_details"] = _billing_details(
            data["billing_details"], params["billing_details"]
        )
    if "metadata" in params:
        changes["metadata"] = apply_metadata(data["metadata"], params["metadata"])
    if "allow_redisplay" in params:
        changes["allow_redisplay"] = _check_allow_redisplay(params["allow_redisplay"])
    expiry = params.get("card", {})
    if expiry:
        exp_month = expiry.get("exp_month", data["card"]["exp_month"])
        exp_year = expiry.get("exp_year", data["card"]["exp_year"])
        _check_expiry(exp_month, exp_year, now)
        changes["card"] = data["card"] | {"exp_month": exp_month, "exp_year": exp_year}
    changes = {key: value for key, value in changes.items() if data[key] != value}
    return [PaymentMethodUpdated(changes=changes)] if changes else []


# -- evolve and Stripe events ----------------------------------------------------------------


def evolve(state: State | None, event: DomainEvent) -> State:
    match event:
        case PaymentMethodCreated(payment_method=payment_method, card_number=card_number):
            assert state is None
            assert payment_method["customer"] is None
            return State(data=payment_method, internal={"card_number": card_number})
        case PaymentMethodAttached(customer=customer, checks=checks):
            assert state is not None and state.data["customer"] is None
            assert not state.internal.get("detached", False)
            card = state.data["card"] | {"checks": checks}
            return State(
                data=state.data | {"customer": customer, "card": card}, internal=state.internal
            )
        case PaymentMethodDetached():
            assert state is not None and state.data["customer"] is not None
            return State(
                data=state.data | {"customer": None}, internal=state.internal | {"detached": True}
            )
        case PaymentMethodUpdated(changes=changes):
            assert state is not None and state.data["customer"] is not None
            assert set(changes) <= set(state.data)
            return State(data=state.data | changes, internal=state.internal)
    raise AssertionError(f"payment_method cannot apply {event.event_type}")


def stripe_events(before: State | None, after: State, event: DomainEvent) -> list[StripeEventSpec]:
    match event:
        case PaymentMethodCreated():
            return []  # Stripe has no payment_method.created event
        case PaymentMethodAttached():
            return [StripeEventSpec("payment_method.attached", after.data)]
        case PaymentMethodDetached():
            assert before is not None
            previous = {"customer": before.data["customer"]}
            return [StripeEventSpec("payment_method.detached", after.data, previous)]
        case PaymentMethodUpdated():
            assert before is not None
            return [
                StripeEventSpec(
                    "payment_method.updated", after.data, diff_previous(before.data, after.data)
                )
            ]
    raise AssertionError(f"payment_method cannot apply {event.event_type}")


PAYMENT_METHOD = register(Aggregate("payment_method", "pm", evolve, stripe_events))
