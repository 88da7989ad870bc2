"""Charges built as the payment path builds them, for the pure domain tests (no database)."""

from __future__ import annotations

from typing import Any

from ledger.domain import charge as charge_domain
from ledger.domain.aggregate import State
from ledger.domain.cards import PAYMENT_METHOD_IDS
from ledger.domain.events import DomainEvent
from ledger.processor import Authorization, AuthorizationRequest, SimulatedProcessor

CREATED = 1_732_104_000  # 2024-11-20 12:00 UTC
ACCOUNT = "acct_1Test"
BILLING = {
    "address": dict.fromkeys(("city", "country", "line1", "line2", "postal_code", "state")),
    "email": None,
    "name": None,
    "phone": None,
}


def authorize(pm_id: str, amount: int = 2000, **options: Any) -> Authorization:
    """The simulated processor's answer for the test payment method `pm_id`."""
    return SimulatedProcessor().authorize(
        AuthorizationRequest(
            card=PAYMENT_METHOD_IDS[pm_id], amount=amount, currency="usd", capture=True, **options
        )
    )


def attempt(
    pm_id: str = "pm_card_visa", *, amount: int = 2000, capture: bool = True, **fields: Any
) -> charge_domain.ChargeAttempt:
    """A charge attempt (`ch_test`) with `pm_id`, authenticated when the card asks for it."""
    authorization = authorize(pm_id, amount)
    if authorization.requires_action:
        authorization = authorize(pm_id, amount, authenticated=True)
    approved_now = authorization.approved and capture
    return charge_domain.ChargeAttempt(
        charge_id="ch_test",
        created=CREATED,
        amount=amount,
        currency="usd",
        card=PAYMENT_METHOD_IDS[pm_id],
        authorization=authorization,
        capture=capture,
        payment_method="pm_test",
        payment_method_card={"checks": {"cvc_check": "unchecked"}},
        billing_details=BILLING,
        balance_transaction="txn_test" if approved_now else None,
        **fields,
    )


def created(charge_attempt: charge_domain.ChargeAttempt) -> State:
    """The charge `charge_attempt` creates."""
    return apply(None, charge_domain.decide_create(charge_attempt))


def apply(state: State | None, events: list[DomainEvent]) -> State:
    for event in events:
        state = charge_domain.evolve(state, event)
    assert state is not None
    return state


def make_charge(
    payment_method: str = "pm_card_visa",
    *,
    amount: int = 2000,
    capture: bool = True,
    payment_intent: str | None = "pi_1",
    **extra: Any,
) -> State:
    """A charge as the payment path records it, with the test card's processor answer."""
    card = PAYMENT_METHOD_IDS[payment_method]
    authorization = SimulatedProcessor().authorize(
        AuthorizationRequest(card=card, amount=amount, currency="usd", capture=capture)
    )
    attempt = charge_domain.ChargeAttempt(
        charge_id="ch_1",
        created=CREATED,
        amount=amount,
        currency="usd",
        card=card,
        authorization=authorization,
        capture=capture,
        payment_method="pm_1",
        payment_method_card={"checks": {}},
        billing_details=BILLING,
        payment_intent=payment_intent,
        balance_transaction="txn_charge" if capture and authorization.approved else None,
        **extra,
    )
    return apply(None, charge_domain.decide_create(attempt))
