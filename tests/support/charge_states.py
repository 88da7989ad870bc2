"""Charges built as the payment path builds them, for the pure domain tests (no database)."""

from __future__ import annotations

from typing import Any

from ledger.domain import charge as charge_domain
from ledger.domain.aggregate import State
from ledger.domain.cards import PAYMENT_METHOD_IDS
from ledger.domain.events import DomainEvent
from ledger.processor import AuthorizationRequest, SimulatedProcessor

CREATED = 1_732_104_000  # 2024-11-20 12:00 UTC
ACCOUNT = "acct_1Test"
BILLING = {
    "address": dict.fromkeys(("city", "country", "line1", "line2", "postal_code", "state")),
    "email": None,
    "name": None,
    "phone": None,
}


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
