"""Transfers (`tr_…`) from the platform to a connected account, and their reversals (`trr_…`).

A transfer is two balance transactions booked in one command: `transfer` (-amount) in the
platform and `payment` (+amount) in the connected account, whose payment (`py_…`) shows it.
Both post against the transfer's own in-transit ledger account (book `connect`, account
`tr_…`), which therefore sums to zero: what left one account arrived in the other. A reversal
does the opposite with `transfer_refund` and `payment_refund` transactions on the same
in-transit account.

Funds follow the transfer's source: a transfer from the available balance is available on both
sides at once; a transfer tied to a charge (`source_transaction`, or a destination charge) is
pending on both sides until that charge's funds become available. A reversal follows the
transfer: pending while the transfer's funds are, available otherwise.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from ledger.domain.aggregate import (
    JSON,
    Aggregate,
    State,
    StripeEventSpec,
    diff_previous,
    register,
)
from ledger.domain.application_fee import AccountAppends, fee_detail, in_transit_booking
from ledger.domain.destination_payment import (
    DestinationPaymentCreated,
    DestinationPaymentRefunded,
    PaymentRefundCreated,
    destination_payment_json,
    payment_refund_json,
)
from ledger.domain.events import DomainEvent
from ledger.domain.partial_undo import PartialUndo, updated_part
from ledger.domain.postings import BOOK_CONNECT, BOOK_STRIPE, FEES
from ledger.domain.rules import apply_metadata

__all__ = [
    "REVERSALS",
    "AccountAppends",
    "DestinationCharge",
    "ReversalContext",
    "TransferContext",
    "TransferCreated",
    "TransferReversalCreated",
    "TransferReversalUpdated",
    "TransferReversed",
    "TransferUpdated",
    "check_reversible",
    "decide_create",
    "decide_reversal_update",
    "decide_reverse",
    "decide_update",
    "reversal_remaining",
]

# A transfer's reversals (`trr_…`), which its JSON embeds, and Stripe's refusals of one.
REVERSALS = PartialUndo(
    parts="reversals",
    amount_undone="amount_reversed",
    undone="reversed",
    url="/v1/transfers/{id}/reversals",
    exhausted="Transfer {id} has already been fully reversed.",
    too_large="Transfer reversal amount ({wanted}) is greater than the transfer's remaining "
    "amount ({left}).",
)


class TransferCreated(DomainEvent):
    event_type = "transfer.created"
    transfer: JSON
    internal: JSON


class TransferUpdated(DomainEvent):
    event_type = "transfer.updated"
    changes: JSON


class TransferReversed(DomainEvent):
    """A reversal of the transfer was made (its JSON, as the transfer embeds it)."""

    event_type = "transfer.reversed"
    reversal: JSON


class TransferReversalCreated(DomainEvent):
    event_type = "transfer_reversal.created"
    reversal: JSON


class TransferReversalUpdated(DomainEvent):
    """A reversal's metadata changed; the same event refreshes the transfer's embedded copy."""

    event_type = "transfer_reversal.updated"
    reversal: JSON


@dataclass(frozen=True, slots=True)
class DestinationCharge:
    """The terms of a destination charge's transfer: the application fee taken out of it."""

    application: str  # the platform's Connect application, named in fee_details
    application_fee_id: str | None = None
    application_fee_amount: int = 0

    def __post_init__(self) -> None:
        assert (self.application_fee_id is None) == (self.application_fee_amount == 0)
        assert self.application_fee_amount >= 0


@dataclass(frozen=True, slots=True)
class TransferContext:
    """What a new transfer needs besides its params: accounts, ids, time and funds timing."""

    platform_account_id: str
    destination_account_id: str
    transfer_id: str
    platform_txn_id: str
    payment_id: str
    payment_txn_id: str
    created: int
    # When the funds become available: `created` for a transfer from the available balance,
    # the source charge's `available_on` for a transfer tied to a charge.
    available_on: int
    # Set for the transfer a destination charge makes.
    destination_charge: DestinationCharge | None = None


# -- create and update -----------------------------------------------------------------------


def decide_create(
    params: Mapping[str, object], ctx: TransferContext, *, source_charge: JSON | None
) -> AccountAppends:
    """Move `params["amount"]` from the platform to the connected account: every stream's events.

    The caller has checked the destination and, for a transfer from the available balance, that
    the balance covers it.
    """
    amount = int(str(params["amount"]))
    money = str(params["currency"]).lower()
    transfer_group = params.get("transfer_group")
    if transfer_group is None and source_charge is not None:
        transfer_group = source_charge.get("transfer_group")
    transfer: JSON = {
        "id": ctx.transfer_id,
        "object": "transfer",
        "amount": amount,
        "amount_reversed": 0,
        "balance_transaction": ctx.platform_txn_id,
        "created": ctx.created,
        "currency": money,
        "description": params.get("description"),
        "destination": ctx.destination_account_id,
        "destination_payment": ctx.payment_id,
        "livemode": False,
        "metadata": apply_metadata({}, params.get("metadata") or {}),  # type: ignore[arg-type]
        "reversals": REVERSALS.list_json(ctx.transfer_id, []),
        "reversed": False,
        "source_transaction": None if source_charge is None else source_charge["id"],
        "source_type": str(params.get("source_type") or "card"),
        "transfer_group": transfer_group,
    }
    platform_txn = in_transit_booking(
        account_id=ctx.platform_account_id,
        txn_id=ctx.platform_txn_id,
        type="transfer",
        amount=-amount,
        money=money,
        source=ctx.transfer_id,
        in_transit=ctx.transfer_id,
        created=ctx.created,
        available_on=ctx.available_on,
    )
    terms = ctx.destination_charge
    fee_id = None if terms is None else terms.application_fee_id
    fee_amount = 0 if terms is None else terms.application_fee_amount
    application = "" if terms is None else terms.application
    assert fee_amount <= amount
    # The application fee is taken out of the payment: itemised in its fee_details, netted
    # out, and posted to the fee's own in-transit account (the platform books the other side).
    payment_txn = in_transit_booking(
        account_id=ctx.destination_account_id,
        txn_id=ctx.payment_txn_id,
        type="payment",
        amount=amount,
        money=money,
        source=ctx.payment_id,
        in_transit=ctx.transfer_id,
        created=ctx.created,
        available_on=ctx.available_on,
        fee_details=[] if fee_id is None else [fee_detail(fee_amount, money, application)],
        fee_account=(BOOK_STRIPE, FEES) if fee_id is None else (BOOK_CONNECT, fee_id),
    )
    payment = destination_payment_json(
        payment_id=ctx.payment_id,
        amount=amount,
        currency=money,
        created=ctx.created,
        balance_transaction=ctx.payment_txn_id,
        transfer_id=ctx.transfer_id,
        transfer_group=transfer_group if isinstance(transfer_group, str) else None,
        application_fee=fee_id,
        application_fee_amount=fee_amount or None,
    )
    payment["application"] = application or None
    internal: JSON = {"available_on": ctx.available_on, "reversals": []}
    if terms is not None:
        # The reversal code reads these: a destination charge's transfer may take the
        # connected account below zero, and may refund its application fee.
        internal |= {"destination_charge": True, "application_fee": fee_id}
    platform, connected = ctx.platform_account_id, ctx.destination_account_id
    return [
        (platform, ctx.platform_txn_id, [platform_txn]),
        (platform, ctx.transfer_id, [TransferCreated(transfer=transfer, internal=internal)]),
        (connected, ctx.payment_txn_id, [payment_txn]),
        (connected, ctx.payment_id, [DestinationPaymentCreated(payment=payment)]),
    ]


def decide_update(state: State, params: Mapping[str, object]) -> list[DomainEvent]:
    """Change a transfer's description or metadata."""
    changes: JSON = {}
    if "description" in params:
        changes["description"] = params["description"]
    if "metadata" in params:
        changes["metadata"] = apply_metadata(state.data["metadata"], params["metadata"])  # type: ignore[arg-type]
    changes = {key: value for key, value in changes.items() if state.data[key] != value}
    return [TransferUpdated(changes=changes)] if changes else []


# -- reversals ---------------------------------------------------------------------------------


def reversal_remaining(transfer: JSON) -> int:
    """What is left to reverse."""
    return REVERSALS.remaining(transfer)


def check_reversible(state: State, amount: int | None) -> int:
    """Stripe's refusals for reversing `amount` (None: all that is left); the amount to reverse."""
    return REVERSALS.check_amount(state.data, amount)


@dataclass(frozen=True, slots=True)
class ReversalContext:
    """Ids and time of a new reversal, and the refund that caused it (if any)."""

    platform_account_id: str
    reversal_id: str
    platform_txn_id: str
    payment_refund_id: str
    payment_refund_txn_id: str
    created: int
    source_refund: str | None = None
    description: str | None = None  # shown on the platform's balance transaction


def decide_reverse(
    state: State, amount: int, params: Mapping[str, object], ctx: ReversalContext
) -> AccountAppends:
    """Take `amount` of the transfer back from the connected account: every stream's events."""
    transfer = state.data
    money = str(transfer["currency"])
    platform = ctx.platform_account_id
    connected = str(transfer["destination"])
    # The reversal's funds follow the transfer's: pending until the transfer's are available.
    available_on = max(ctx.created, int(state.internal["available_on"]))
    reversal: JSON = {
        "id": ctx.reversal_id,
        "object": "transfer_reversal",
        "amount": amount,
        "balance_transaction": ctx.platform_txn_id,
        "created": ctx.created,
        "currency": money,
        "destination_payment_refund": ctx.payment_refund_id,
        "metadata": apply_metadata({}, params.get("metadata") or {}),  # type: ignore[arg-type]
        "source_refund": ctx.source_refund,
        "transfer": transfer["id"],
    }
    platform_txn = in_transit_booking(
        account_id=platform,
        txn_id=ctx.platform_txn_id,
        type="transfer_refund",
        amount=amount,
        money=money,
        source=ctx.reversal_id,
        description=ctx.description,
        in_transit=transfer["id"],
        created=ctx.created,
        available_on=available_on,
    )
    refund_txn = in_transit_booking(
        account_id=connected,
        txn_id=ctx.payment_refund_txn_id,
        type="payment_refund",
        amount=-amount,
        money=money,
        source=ctx.payment_refund_id,
        in_transit=transfer["id"],
        created=ctx.created,
        available_on=available_on,
    )
    payment_refund = payment_refund_json(
        refund_id=ctx.payment_refund_id,
        payment_id=str(transfer["destination_payment"]),
        amount=amount,
        currency=money,
        created=ctx.created,
        balance_transaction=ctx.payment_refund_txn_id,
        reversal_id=ctx.reversal_id,
    )
    return [
        (platform, ctx.platform_txn_id, [platform_txn]),
        (platform, ctx.reversal_id, [TransferReversalCreated(reversal=reversal)]),
        (platform, transfer["id"], [TransferReversed(reversal=reversal)]),
        (connected, ctx.payment_refund_txn_id, [refund_txn]),
        (connected, ctx.payment_refund_id, [PaymentRefundCreated(refund=payment_refund)]),
        (
            connected,
            str(transfer["destination_payment"]),
            [DestinationPaymentRefunded(refund=ctx.payment_refund_id, amount=amount)],
        ),
    ]


def decide_reversal_update(state: State, params: Mapping[str, object]) -> list[DomainEvent]:
    """Change a reversal's metadata (all Stripe lets an update change)."""
    reversal = updated_part(state.data, params)
    return [] if reversal is None else [TransferReversalUpdated(reversal=reversal)]


# -- evolve and Stripe events ------------------------------------------------------------------


def _evolve_transfer(state: State | None, event: DomainEvent) -> State:
    match event:
        case TransferCreated(transfer=transfer, internal=internal):
            assert state is None
            return State(data=transfer, internal=internal)
        case TransferUpdated(changes=changes):
            assert state is not None
            return State(data=state.data | changes, internal=state.internal)
        case TransferReversed(reversal=reversal):
            assert state is not None
            return REVERSALS.added(state, reversal)
        case TransferReversalUpdated(reversal=reversal):
            assert state is not None
            return REVERSALS.replaced(state, reversal)
    raise AssertionError(f"transfer cannot apply {event.event_type}")


def _transfer_events(
    before: State | None, after: State, event: DomainEvent
) -> list[StripeEventSpec]:
    match event:
        case TransferCreated():
            return [StripeEventSpec("transfer.created", after.data)]
        case TransferReversed():
            return [StripeEventSpec("transfer.reversed", after.data)]
        case TransferUpdated():
            assert before is not None
            previous = diff_previous(before.data, after.data)
            return [StripeEventSpec("transfer.updated", after.data, previous)]
    return []


def _evolve_reversal(state: State | None, event: DomainEvent) -> State:
    match event:
        case TransferReversalCreated(reversal=reversal):
            assert state is None
            return State(data=reversal)
        case TransferReversalUpdated(reversal=reversal):
            assert state is not None
            return State(data=reversal, internal=state.internal)
    raise AssertionError(f"transfer reversal cannot apply {event.event_type}")


def _reversal_events(
    before: State | None, after: State, event: DomainEvent
) -> list[StripeEventSpec]:
    # Stripe announces reversals on the transfer (transfer.reversed), not on their own.
    return []


TRANSFER = register(Aggregate("transfer", "tr", _evolve_transfer, _transfer_events))
TRANSFER_REVERSAL = register(
    Aggregate("transfer_reversal", "trr", _evolve_reversal, _reversal_events)
)
