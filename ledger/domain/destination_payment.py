"""The connected account's side of a transfer: the payment (`py_…`) and its refunds (`pyr_…`).

Stripe shows money that a transfer brought into a connected account as a Charge-shaped payment
whose `source_transfer` is the transfer, and a reversal of that transfer as a Refund of the
payment whose `source_transfer_reversal` is the reversal. Both live in the connected account.
"""

from __future__ import annotations

from ledger.domain.aggregate import JSON, Aggregate, State, StripeEventSpec, register
from ledger.domain.events import DomainEvent

__all__ = [
    "DestinationPaymentCreated",
    "DestinationPaymentRefunded",
    "PaymentRefundCreated",
    "destination_payment_json",
    "payment_refund_json",
]


class DestinationPaymentCreated(DomainEvent):
    event_type = "destination_payment.created"
    payment: JSON


class DestinationPaymentRefunded(DomainEvent):
    """A reversal of the transfer took `amount` back out of the connected account."""

    event_type = "destination_payment.refunded"
    refund: str
    amount: int


class PaymentRefundCreated(DomainEvent):
    event_type = "payment_refund.created"
    refund: JSON


def destination_payment_json(
    *,
    payment_id: str,
    amount: int,
    currency: str,
    created: int,
    balance_transaction: str,
    transfer_id: str,
    transfer_group: str | None,
    application_fee: str | None = None,
    application_fee_amount: int | None = None,
) -> JSON:
    """The payment a transfer makes in the connected account, as Stripe shows it (a Charge)."""
    return {
        "id": payment_id,
        "object": "charge",
        "amount": amount,
        "amount_captured": amount,
        "amount_refunded": 0,
        "application": None,
        "application_fee": application_fee,
        "application_fee_amount": application_fee_amount,
        "balance_transaction": balance_transaction,
        "billing_details": {
            "address": {
                "city": None,
                "country": None,
                "line1": None,
                "line2": None,
                "postal_code": None,
                "state": None,
            },
            "email": None,
            "name": None,
            "phone": None,
        },
        "calculated_statement_descriptor": None,
        "captured": True,
        "created": created,
        "currency": currency,
        "customer": None,
        "description": None,
        "disputed": False,
        "failure_balance_transaction": None,
        "failure_code": None,
        "failure_message": None,
        "fraud_details": {},
        "invoice": None,
        "livemode": False,
        "metadata": {},
        "on_behalf_of": None,
        "outcome": None,
        "paid": True,
        "payment_intent": None,
        "payment_method": None,
        "payment_method_details": {"stripe_account": {}, "type": "stripe_account"},
        "radar_options": {},
        "receipt_email": None,
        "receipt_number": None,
        "receipt_url": None,
        "refunded": False,
        "review": None,
        "shipping": None,
        "source": None,
        "source_transfer": transfer_id,
        "statement_descriptor": None,
        "statement_descriptor_suffix": None,
        "status": "succeeded",
        "transfer_data": None,
        "transfer_group": transfer_group,
    }


def payment_refund_json(
    *,
    refund_id: str,
    payment_id: str,
    amount: int,
    currency: str,
    created: int,
    balance_transaction: str,
    reversal_id: str,
) -> JSON:
    """The refund of the connected account's payment that a transfer reversal makes."""
    return {
        "id": refund_id,
        "object": "refund",
        "amount": amount,
        "balance_transaction": balance_transaction,
        "charge": payment_id,
        "created": created,
        "currency": currency,
        "destination_details": None,
        "metadata": {},
        "payment_intent": None,
        "reason": None,
        "receipt_number": None,
        "source_transfer_reversal": reversal_id,
        "status": "succeeded",
        "transfer_reversal": None,
    }


def _evolve_payment(state: State | None, event: DomainEvent) -> State:
    match event:
        case DestinationPaymentCreated(payment=payment):
            assert state is None
            return State(data=payment)
        case DestinationPaymentRefunded(amount=amount):
            assert state is not None
            data = state.data
            refunded = int(data["amount_refunded"]) + amount
            assert refunded <= int(data["amount"]), data["id"]
            changes = {"amount_refunded": refunded, "refunded": refunded == int(data["amount"])}
            return State(data=data | changes, internal=state.internal)
    raise AssertionError(f"destination payment cannot apply {event.event_type}")


def _evolve_refund(state: State | None, event: DomainEvent) -> State:
    match event:
        case PaymentRefundCreated(refund=refund):
            assert state is None
            return State(data=refund)
    raise AssertionError(f"payment refund cannot apply {event.event_type}")


def _no_stripe_events(
    before: State | None, after: State, event: DomainEvent
) -> list[StripeEventSpec]:
    # The connected account learns of a transfer through the platform's transfer events and
    # its balance; Stripe sends no charge.* or refund.* events for these payments.
    return []


DESTINATION_PAYMENT = register(Aggregate("charge", "py", _evolve_payment, _no_stripe_events))
PAYMENT_REFUND = register(Aggregate("refund", "pyr", _evolve_refund, _no_stripe_events))
