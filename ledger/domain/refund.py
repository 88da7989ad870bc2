"""Refunds (`re_…`): money sent back to the card of a captured charge.

A refund is decided against its charge: Stripe's refusals come first (the charge failed or was
never captured, it has been charged back, it is already fully refunded, the amount is more than
what is left), then three streams move together in one command: the refund, its balance
transaction (the amount leaves the *available* balance; Stripe keeps the charge's fee), and the
charge, whose `amount_refunded` grows by the amount.

Test cards decide what happens next (`internal["refund_behaviour"]` of the charge, from
`ledger.domain.cards`): a `pendingRefund` card's refund starts `pending` and succeeds later; a
`refundFail` card's refund starts `succeeded` and fails later, when a `refund_failure` balance
transaction gives the money back and the charge's `amount_refunded` shrinks again. "Later" is
the refund's `internal["due_at"]`, which the refunds service's due job acts on.

Statuses and the moves between them are the explicit `TRANSITIONS` table. Card refunds never
enter `requires_action`, so none can be canceled (`CANCELABLE`).

Sources: https://docs.stripe.com/api/refunds, https://docs.stripe.com/refunds,
https://docs.stripe.com/testing#refunds, and Stripe's answers quoted in public code
("Charge ch_… has already been refunded.", "Charge ch_… has been charged back; cannot issue a
refund.", "This PaymentIntent (pi_…) does not have a successful charge to refund.",
"Refund amount ($20.00) is greater than unrefunded amount on charge ($0.00)").
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType
from typing import Final

from ledger.domain import charge as charge_domain
from ledger.domain.aggregate import JSON, Aggregate, State, StripeEventSpec, diff_previous, register
from ledger.domain.balance_transaction import new_balance_transaction
from ledger.domain.events import DomainEvent
from ledger.domain.rules import apply_metadata, check_partial_amount, reject, reject_if
from ledger.money import currency, format_amount

__all__ = [
    "CANCELABLE",
    "COUNTED",
    "FAILURE_REASON_CARD",
    "REFUND",
    "TRANSITIONS",
    "Appends",
    "RefundContext",
    "RefundCreated",
    "RefundFailed",
    "RefundSucceeded",
    "RefundUpdated",
    "Status",
    "check_cancelable",
    "check_connect_options",
    "check_refundable",
    "decide_create",
    "decide_fail",
    "decide_settle",
    "decide_update",
    "evolve",
    "refundable_amount",
    "stripe_events",
]

Appends = list[tuple[str, list[DomainEvent]]]


class Status(StrEnum):
    """A refund's `status`."""

    pending = "pending"
    requires_action = "requires_action"
    succeeded = "succeeded"
    failed = "failed"
    canceled = "canceled"


S = Status

# Every move a refund can make. A succeeded card refund can still fail later (the issuer could
# not credit the card: https://docs.stripe.com/refunds#failed-refunds).
TRANSITIONS: Final[Mapping[Status, frozenset[Status]]] = MappingProxyType(
    {
        S.pending: frozenset({S.succeeded, S.failed, S.canceled}),
        S.requires_action: frozenset({S.pending, S.succeeded, S.failed, S.canceled}),
        S.succeeded: frozenset({S.failed}),
        S.failed: frozenset(),  # terminal
        S.canceled: frozenset(),  # terminal
    }
)

# "Cancels a refund with a status of requires_action. You can't cancel refunds in other states."
# -- https://docs.stripe.com/api/refunds/cancel
CANCELABLE: Final = frozenset({S.requires_action})

# The refund statuses that count in the charge's `amount_refunded` (the audit's rule too).
COUNTED: Final = frozenset({S.pending, S.requires_action, S.succeeded})

# "expired_or_canceled_card": the reason Stripe gives for the refundFail test card.
FAILURE_REASON_CARD: Final = "expired_or_canceled_card"
REFERENCE_TYPE: Final = "acquirer_reference_number"

# What a test card does to its refunds (`CardOutcome.refund`).
BEHAVIOUR_PENDING: Final = "pending"
BEHAVIOUR_FAILS: Final = "fails"


class RefundCreated(DomainEvent):
    event_type = "refund.created"
    refund: JSON
    # `behaviour` (the test card's), `reference` (the ARN shown once the refund succeeds) and
    # `due_at` (when the refund settles or fails; None when nothing more will happen).
    internal: JSON


class RefundUpdated(DomainEvent):
    event_type = "refund.updated"
    changes: JSON


class RefundSucceeded(DomainEvent):
    """A pending refund reached the card network: it succeeded."""

    event_type = "refund.succeeded"


class RefundFailed(DomainEvent):
    """The issuer could not credit the card: the amount is back in the balance."""

    event_type = "refund.failed"
    failure_reason: str
    failure_balance_transaction: str


# -- rules -------------------------------------------------------------------------------------


def refundable_amount(charge: JSON) -> int:
    """What is left to refund: the captured amount less what was refunded."""
    # amount_refunded also counts the uncaptured part a partial capture released.
    return int(charge["amount"]) - int(charge["amount_refunded"])


def _no_successful_charge(charge: JSON) -> str:
    if charge["payment_intent"] is not None:
        message = (
            f"This PaymentIntent ({charge['payment_intent']}) does not have a successful charge "
            "to refund."
        )
        if charge["status"] == "succeeded" and not charge["captured"] and not charge["refunded"]:
            # https://docs.stripe.com/refunds: a PaymentIntent in requires_capture "can't be
            # refunded directly. You must cancel the PaymentIntent".
            message += " To release an uncaptured payment, cancel the PaymentIntent instead."
        return message
    if charge["status"] != "succeeded":
        return f"Charge {charge['id']} has failed and cannot be refunded."
    return f"Charge {charge['id']} has not been captured, so there is nothing to refund."


def check_refundable(
    charge: State, dispute: State | None, amount: int | None, *, param: str = "charge"
) -> int:
    """Stripe's refusals for refunding `amount` (None: all that is left) of `charge`.

    Returns the amount to refund. `dispute` is the charge's dispute, if it has one; `param`
    names what the request gave (`charge` or `payment_intent`).
    """
    data = charge.data
    if data["status"] != "succeeded" or not data["captured"]:
        reject(_no_successful_charge(data), param=param)
    # Checked before "already refunded": Stripe answers a charged-back charge this way even
    # when a refund preceded the dispute.
    if dispute is not None and not dispute.data["is_charge_refundable"]:
        reject(
            f"Charge {data['id']} has been charged back; cannot issue a refund.",
            code="charge_disputed",
            param=param,
        )
    reject_if(
        data["refunded"],
        f"Charge {data['id']} has already been refunded.",
        code="charge_already_refunded",
        param=param,
    )
    money = currency(data["currency"])
    return check_partial_amount(
        amount,
        refundable_amount(data),
        too_large=lambda wanted, left: (
            f"Refund amount ({format_amount(wanted, money)}) is greater than unrefunded amount on "
            f"charge ({format_amount(left, money)})"
        ),
        too_large_code="amount_too_large",
    )


def check_connect_options(charge: JSON, params: JSON) -> None:
    """`refund_application_fee` and `reverse_transfer` need a charge that has those to undo."""
    if params.get("refund_application_fee"):
        reject_if(
            charge["application_fee_amount"] is None,
            f"Charge {charge['id']} has no application fee to refund: "
            "refund_application_fee can only be used on a charge with an application fee.",
            param="refund_application_fee",
        )
    if params.get("reverse_transfer"):
        reject_if(
            charge["transfer_data"] is None,
            f"Charge {charge['id']} has no associated transfer to reverse: reverse_transfer can "
            "only be used on a destination charge (a charge with transfer_data).",
            param="reverse_transfer",
        )


def check_cancelable(state: State) -> None:
    """Only a refund waiting for the customer's action can be canceled."""
    status = state.data["status"]
    reject_if(
        status not in CANCELABLE,
        f"You cannot cancel refund {state.data['id']} because it has a status of {status}. Only "
        "refunds with a status of requires_action can be canceled.",
        param="refund",
    )


# -- decisions ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RefundContext:
    """What a new refund needs besides its charge: ids, time and the card network's reference."""

    account_id: str
    refund_id: str
    balance_transaction_id: str
    created: int
    # The acquirer reference number the network gives the refund (23 digits).
    reference: str


def _destination_details(status: Status, reference: str | None) -> JSON:
    if status == S.pending:
        card: JSON = {
            "reference": None,
            "reference_status": "pending",
            "reference_type": None,
            "type": "pending",
        }
    else:
        card = {
            "reference": reference,
            "reference_status": "available",
            "reference_type": REFERENCE_TYPE,
            "type": "refund",
        }
    return {"card": card, "type": "card"}


def decide_create(
    charge: State,
    dispute: State | None,
    params: JSON,
    ctx: RefundContext,
    *,
    param: str,
    transfer_reversal: str | None = None,
) -> Appends:
    """Refund `params["amount"]` (default: all that is left) of `charge`; every stream's events.

    Refusals first (see `check_refundable`); after them the refund is certain.
    `transfer_reversal`: the reversal of a destination charge's transfer this refund made.
    """
    data = charge.data
    amount = check_refundable(charge, dispute, params.get("amount"), param=param)
    check_connect_options(data, params)
    metadata = apply_metadata({}, params.get("metadata", {}))
    behaviour = charge.internal.get("refund_behaviour")
    status = S.pending if behaviour == BEHAVIOUR_PENDING else S.succeeded
    money = currency(data["currency"])
    txn = new_balance_transaction(
        txn_id=ctx.balance_transaction_id,
        account_id=ctx.account_id,
        type="refund",
        amount=-amount,
        currency=money.code,
        fee_details=[],
        created=ctx.created,
        available_on=ctx.created,
        source=ctx.refund_id,
    )
    refund: JSON = {
        "id": ctx.refund_id,
        "object": "refund",
        "amount": amount,
        "balance_transaction": ctx.balance_transaction_id,
        "charge": data["id"],
        "created": ctx.created,
        "currency": money.code,
        "destination_details": _destination_details(status, ctx.reference),
        "metadata": metadata,
        "payment_intent": data["payment_intent"],
        "reason": params.get("reason"),
        "receipt_number": None,
        "source_transfer_reversal": None,
        "status": str(status),
        "transfer_reversal": transfer_reversal,
    }
    settles_later = behaviour in (BEHAVIOUR_PENDING, BEHAVIOUR_FAILS)
    internal: JSON = {
        "behaviour": behaviour,
        "reference": ctx.reference,
        "due_at": ctx.created if settles_later else None,
    }
    return [
        (ctx.balance_transaction_id, [txn]),
        (ctx.refund_id, [RefundCreated(refund=refund, internal=internal)]),
        (
            data["id"],
            [
                charge_domain.ChargeRefunded(
                    refund=ctx.refund_id,
                    amount=amount,
                    reverse_transfer=bool(params.get("reverse_transfer")),
                    refund_application_fee=bool(params.get("refund_application_fee")),
                )
            ],
        ),
    ]


def decide_update(state: State, params: JSON) -> list[DomainEvent]:
    """Change a refund's metadata (the only thing Stripe lets a refund update change)."""
    changes: JSON = {}
    if "metadata" in params:
        changes["metadata"] = apply_metadata(state.data["metadata"], params["metadata"])
    changes = {key: value for key, value in changes.items() if state.data[key] != value}
    return [RefundUpdated(changes=changes)] if changes else []


def decide_settle(state: State) -> list[DomainEvent]:
    """A pending refund succeeds (the `pendingRefund` card's refunds, once they fall due)."""
    assert state.data["status"] == S.pending and state.internal.get("due_at") is not None
    return [RefundSucceeded()]


def decide_fail(state: State, account_id: str, balance_transaction_id: str, at: int) -> Appends:
    """A succeeded refund fails (the `refundFail` card's): the money comes back to the balance."""
    refund = state.data
    assert refund["status"] == S.succeeded and state.internal.get("due_at") is not None
    amount = int(refund["amount"])
    txn = new_balance_transaction(
        txn_id=balance_transaction_id,
        account_id=account_id,
        type="refund_failure",
        amount=amount,
        currency=refund["currency"],
        fee_details=[],
        created=at,
        available_on=at,
        source=refund["id"],
    )
    return [
        (balance_transaction_id, [txn]),
        (
            refund["id"],
            [
                RefundFailed(
                    failure_reason=FAILURE_REASON_CARD,
                    failure_balance_transaction=balance_transaction_id,
                )
            ],
        ),
        (refund["charge"], [charge_domain.ChargeRefundFailed(refund=refund["id"], amount=amount)]),
    ]


# -- evolve and Stripe events ------------------------------------------------------------------


def _moved(state: State, to: Status) -> None:
    current = Status(state.data["status"])
    assert to in TRANSITIONS[current], f"{state.data['id']}: {current} -> {to}"


def evolve(state: State | None, event: DomainEvent) -> State:
    match event:
        case RefundCreated(refund=refund, internal=internal):
            assert state is None
            assert refund["status"] in (S.pending, S.succeeded) and refund["amount"] >= 1
            return State(data=refund, internal=internal)
        case RefundUpdated(changes=changes):
            assert state is not None and set(changes) <= set(state.data)
            return State(data=state.data | changes, internal=state.internal)
        case RefundSucceeded():
            assert state is not None
            _moved(state, S.succeeded)
            data = state.data | {
                "status": str(S.succeeded),
                "destination_details": _destination_details(
                    S.succeeded, state.internal["reference"]
                ),
            }
            still_due = state.internal["behaviour"] == BEHAVIOUR_FAILS
            internal = state.internal | {"due_at": state.internal["due_at"] if still_due else None}
            return State(data=data, internal=internal)
        case RefundFailed(failure_reason=reason, failure_balance_transaction=txn):
            assert state is not None
            _moved(state, S.failed)
            data = state.data | {
                "status": str(S.failed),
                "failure_balance_transaction": txn,
                "failure_reason": reason,
            }
            return State(data=data, internal=state.internal | {"due_at": None})
    raise AssertionError(f"refund cannot apply {event.event_type}")


def _updated(before: State | None, after: State) -> list[StripeEventSpec]:
    assert before is not None
    previous = diff_previous(before.data, after.data)
    return [
        StripeEventSpec("charge.refund.updated", after.data, previous),
        StripeEventSpec("refund.updated", after.data, previous),
    ]


def stripe_events(before: State | None, after: State, event: DomainEvent) -> list[StripeEventSpec]:
    match event:
        case RefundCreated():
            return [StripeEventSpec("refund.created", after.data)]
        case RefundUpdated() | RefundSucceeded():
            return _updated(before, after)
        case RefundFailed():
            return [*_updated(before, after), StripeEventSpec("refund.failed", after.data)]
    raise AssertionError(f"refund cannot apply {event.event_type}")


REFUND = register(Aggregate("refund", "re", evolve, stripe_events))
