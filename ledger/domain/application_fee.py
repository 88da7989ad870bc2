"""Application fees (`fee_…`) a platform takes from a connected account, and their refunds (`fr_…`).

A destination charge with `application_fee_amount` transfers its funds to the connected account
and takes the fee back out of that payment: the connected account's `payment` balance transaction
itemises it in `fee_details` (type `application_fee`) and nets it out (`ledger.domain.transfer`),
and the platform books an `application_fee` balance transaction for the same amount. Both post
against the fee's own in-transit ledger account (book `connect`, account `fee_…`), which sums to
zero. The fee's funds follow the charge's: pending until the charge's funds become available.

A direct charge (made by the platform in a connected account, with `stripe_account`) takes its
fee out of the charge itself: the charge's own `charge` balance transaction itemises it next to
Stripe's fee and nets it out (`ledger.domain.charge`), and the platform books the fee as above,
with the connected account's charge as `charge` and no `originating_transaction`.

A fee refund moves money back the other way at once: an `application_fee_refund` balance
transaction in the platform (-amount; its available balance may go below zero, as with refunds)
and one in the connected account (+amount), on the same in-transit account.

The fee and its refunds live in the platform's books: only the platform sees them. Refunds of a
charge and reversals of a transfer refund the fee in proportion (`cumulative_share`).

Sources: https://docs.stripe.com/api/application_fees, https://docs.stripe.com/api/fee_refunds,
https://docs.stripe.com/connect/destination-charges (flow of funds with fees, refunds),
https://docs.stripe.com/connect/direct-charges (collect application fees).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from ledger.domain.aggregate import (
    JSON,
    Aggregate,
    State,
    StripeEventSpec,
    diff_previous,
    register,
)
from ledger.domain.balance_transaction import BalanceTransactionCreated, new_balance_transaction
from ledger.domain.events import DomainEvent
from ledger.domain.partial_undo import PartialUndo, updated_part
from ledger.domain.postings import BOOK_CONNECT, BOOK_STRIPE, FEES
from ledger.domain.rules import apply_metadata, reject_if
from ledger.money import round_half_up

__all__ = [
    "APPLICATION_FEE",
    "FEE_REFUND",
    "REFUNDS",
    "AccountAppends",
    "ApplicationFeeCreated",
    "ApplicationFeeRefunded",
    "DestinationSplit",
    "DirectCharge",
    "FeeContext",
    "FeeRefundContext",
    "FeeRefundCreated",
    "FeeRefundUpdated",
    "check_destination_terms",
    "check_refundable",
    "cumulative_share",
    "decide_create",
    "decide_refund",
    "decide_refund_update",
    "destination_split",
    "direct_fee_amount",
    "fee_detail",
    "in_transit_booking",
    "refund_remaining",
]

# An application fee's refunds (`fr_…`), which its JSON embeds, and Stripe's refusals of one.
REFUNDS = PartialUndo(
    parts="refunds",
    amount_undone="amount_refunded",
    undone="refunded",
    url="/v1/application_fees/{id}/refunds",
    exhausted="Application fee {id} has already been refunded.",
    too_large="Refund amount ({wanted}) is greater than unrefunded amount on application fee "
    "({left})",
)

# The platform's Connect application, as the connected account's fee_details name it.
APPLICATION_NAME: Final = "Ledger"

# (account, stream, events): a fee refund, a transfer and its reversal write to two accounts.
AccountAppends = list[tuple[str, str, list[DomainEvent]]]


class ApplicationFeeCreated(DomainEvent):
    event_type = "application_fee.created"
    fee: JSON


class ApplicationFeeRefunded(DomainEvent):
    """A refund of the fee was made (its JSON, as the fee embeds it)."""

    event_type = "application_fee.refunded"
    refund: JSON


class FeeRefundCreated(DomainEvent):
    event_type = "fee_refund.created"
    refund: JSON


class FeeRefundUpdated(DomainEvent):
    """A fee refund's metadata changed; the same event refreshes the fee's embedded copy."""

    event_type = "fee_refund.updated"
    refund: JSON


# -- destination charges: what is transferred, what is taken back --------------------------


@dataclass(frozen=True, slots=True)
class DestinationSplit:
    """What a captured destination charge moves: the transfer, and the fee taken out of it."""

    transfer_amount: int
    application_fee_amount: int  # 0: no application fee


def check_destination_terms(
    fee: int | None, transfer_amount: int | None, *, param: str = "application_fee_amount"
) -> None:
    """The application fee is taken out of the transfer, so it cannot exceed it."""
    if fee is None or transfer_amount is None:
        return
    reject_if(
        fee > transfer_amount,
        f"The {param} ({fee}) must be less than or equal to the transfer_data[amount] "
        f"({transfer_amount}): the application fee is taken out of the transferred amount.",
        param=param,
    )


def destination_split(charge: JSON) -> DestinationSplit:
    """The split of a captured destination charge.

    `transfer_data[amount]` is capped at the captured amount ("The amount is capped at the total
    transaction amount": https://docs.stripe.com/api/payment_intents/object); without it the
    whole captured amount is transferred. The fee was checked against both when it was set.
    """
    transfer_data = charge["transfer_data"]
    assert transfer_data is not None and charge["captured"], charge["id"]
    captured = int(charge["amount_captured"])
    requested = transfer_data.get("amount")
    transfer_amount = captured if requested is None else min(int(requested), captured)
    fee = int(charge["application_fee_amount"] or 0)
    assert 0 <= fee <= transfer_amount, (charge["id"], fee, transfer_amount)
    return DestinationSplit(transfer_amount, fee)


def fee_detail(amount: int, money: str, application: str) -> JSON:
    """The `fee_details` entry of the connected account's payment for the application fee."""
    return {
        "amount": amount,
        "application": application,
        "currency": money,
        "description": f"{APPLICATION_NAME} application fee",
        "type": "application_fee",
    }


# -- direct charges: the fee taken out of a connected account's own charge ------------------


@dataclass(frozen=True, slots=True)
class DirectCharge:
    """A charge the platform makes in a connected account: who made it, and its fee's id."""

    application: str  # the platform's Connect application: the charge's `application`
    application_fee_id: str  # the ApplicationFee's id, should the charge take a fee


def direct_fee_amount(charge: JSON, captured: int) -> int:
    """The application fee a direct charge takes when `captured` is captured (0: none).

    "The application fee collected is capped at the amount of the charge"
    (https://docs.stripe.com/connect/direct-charges).
    """
    assert charge["transfer_data"] is None and captured >= 0, charge["id"]
    return min(int(charge["application_fee_amount"] or 0), captured)


def cumulative_share(done_before: int, done_now: int, whole: int, share: int) -> int:
    """The part of `share` that goes with `done_now` more of `whole`, after `done_before`.

    Proportional and cumulative: each step moves the rounded share of everything done so far
    less the rounded share of what was done before, so doing all of `whole` moves exactly
    `share`, however it was split.
    """
    assert done_before >= 0 and done_now >= 0 and done_before + done_now <= whole, (
        done_before,
        done_now,
        whole,
    )
    before = round_half_up(done_before * share, whole)
    after = round_half_up((done_before + done_now) * share, whole)
    return after - before


# -- create ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FeeContext:
    """What a new application fee needs: accounts, ids, the application, time and funds timing."""

    platform_account_id: str
    account_id: str  # the connected account the fee is taken from
    fee_id: str
    balance_transaction_id: str
    application: str
    created: int
    # The charge's funds become available then, and the fee's with them.
    available_on: int


def in_transit_booking(
    *,
    account_id: str,
    txn_id: str,
    type: str,
    amount: int,
    money: str,
    created: int,
    available_on: int,
    source: str,
    in_transit: str,
    fee_details: list[JSON] | None = None,
    fee_account: tuple[str, str] = (BOOK_STRIPE, FEES),
    description: str | None = None,
) -> BalanceTransactionCreated:
    """A balance transaction of `account_id` against the in-transit account `in_transit` (a
    transfer's or an application fee's id), whose other side is in the other account's books."""
    return new_balance_transaction(
        txn_id=txn_id,
        account_id=account_id,
        type=type,
        amount=amount,
        currency=money,
        fee_details=fee_details or [],
        created=created,
        available_on=available_on,
        source=source,
        description=description,
        counterparty=(BOOK_CONNECT, in_transit),
        fee_account=fee_account,
    )


def decide_create(
    ctx: FeeContext, *, amount: int, money: str, charge: str, originating_transaction: str | None
) -> AccountAppends:
    """The platform's side of a new application fee: the fee and its balance transaction.

    `charge` is the payment the fee was taken from (in the connected account), whose balance
    transaction books the connected account's side.
    """
    assert amount >= 1
    fee: JSON = {
        "id": ctx.fee_id,
        "object": "application_fee",
        "account": ctx.account_id,
        "amount": amount,
        "amount_refunded": 0,
        "application": ctx.application,
        "balance_transaction": ctx.balance_transaction_id,
        "charge": charge,
        "created": ctx.created,
        "currency": money,
        "livemode": False,
        "originating_transaction": originating_transaction,
        "refunded": False,
        "refunds": REFUNDS.list_json(ctx.fee_id, []),
    }
    txn = in_transit_booking(
        account_id=ctx.platform_account_id,
        txn_id=ctx.balance_transaction_id,
        type="application_fee",
        amount=amount,
        money=money,
        created=ctx.created,
        available_on=ctx.available_on,
        source=ctx.fee_id,
        in_transit=ctx.fee_id,
    )
    platform = ctx.platform_account_id
    return [
        (platform, ctx.balance_transaction_id, [txn]),
        (platform, ctx.fee_id, [ApplicationFeeCreated(fee=fee)]),
    ]


# -- refunds -----------------------------------------------------------------------------------


def refund_remaining(fee: JSON) -> int:
    """What is left to refund."""
    return REFUNDS.remaining(fee)


def check_refundable(state: State, amount: int | None) -> int:
    """Stripe's refusals for refunding `amount` (None: all that is left) of a fee; the amount."""
    return REFUNDS.check_amount(state.data, amount)


@dataclass(frozen=True, slots=True)
class FeeRefundContext:
    """Ids and time of a new fee refund."""

    platform_account_id: str
    refund_id: str
    platform_txn_id: str
    account_txn_id: str
    created: int


def decide_refund(
    state: State, amount: int, params: Mapping[str, object], ctx: FeeRefundContext
) -> AccountAppends:
    """Give `amount` of the fee back to the connected account: every stream's events."""
    fee = state.data
    assert 1 <= amount <= refund_remaining(fee)
    money = str(fee["currency"])
    metadata = params.get("metadata") or {}
    assert isinstance(metadata, dict)
    refund: JSON = {
        "id": ctx.refund_id,
        "object": "fee_refund",
        "amount": amount,
        "balance_transaction": ctx.platform_txn_id,
        "created": ctx.created,
        "currency": money,
        "fee": fee["id"],
        "metadata": apply_metadata({}, metadata),
    }
    # A fee refund moves money at once, from the platform's available balance.
    platform_txn = in_transit_booking(
        account_id=ctx.platform_account_id,
        txn_id=ctx.platform_txn_id,
        type="application_fee_refund",
        amount=-amount,
        money=money,
        created=ctx.created,
        available_on=ctx.created,
        source=ctx.refund_id,
        in_transit=fee["id"],
    )
    account_txn = in_transit_booking(
        account_id=str(fee["account"]),
        txn_id=ctx.account_txn_id,
        type="application_fee_refund",
        amount=amount,
        money=money,
        created=ctx.created,
        available_on=ctx.created,
        source=ctx.refund_id,
        in_transit=fee["id"],
    )
    platform = ctx.platform_account_id
    return [
        (platform, ctx.platform_txn_id, [platform_txn]),
        (platform, ctx.refund_id, [FeeRefundCreated(refund=refund)]),
        (platform, fee["id"], [ApplicationFeeRefunded(refund=refund)]),
        (str(fee["account"]), ctx.account_txn_id, [account_txn]),
    ]


def decide_refund_update(state: State, params: Mapping[str, object]) -> list[DomainEvent]:
    """Change a fee refund's metadata (all Stripe lets an update change)."""
    refund = updated_part(state.data, params)
    return [] if refund is None else [FeeRefundUpdated(refund=refund)]


# -- evolve and Stripe events ------------------------------------------------------------------


def _evolve_fee(state: State | None, event: DomainEvent) -> State:
    match event:
        case ApplicationFeeCreated(fee=fee):
            assert state is None and fee["amount"] >= 1
            return State(data=fee, internal={"refunds": []})
        case ApplicationFeeRefunded(refund=refund):
            assert state is not None
            return REFUNDS.added(state, refund)
        case FeeRefundUpdated(refund=refund):
            assert state is not None
            return REFUNDS.replaced(state, refund)
    raise AssertionError(f"application fee cannot apply {event.event_type}")


def _fee_events(before: State | None, after: State, event: DomainEvent) -> list[StripeEventSpec]:
    match event:
        case ApplicationFeeCreated():
            return [StripeEventSpec("application_fee.created", after.data)]
        case ApplicationFeeRefunded():
            assert before is not None
            previous = diff_previous(before.data, after.data)
            return [StripeEventSpec("application_fee.refunded", after.data, previous)]
        case FeeRefundUpdated():
            return []  # announced by the fee refund itself
    raise AssertionError(f"application fee cannot apply {event.event_type}")


def _evolve_refund(state: State | None, event: DomainEvent) -> State:
    match event:
        case FeeRefundCreated(refund=refund):
            assert state is None
            return State(data=refund)
        case FeeRefundUpdated(refund=refund):
            assert state is not None and refund["id"] == state.data["id"]
            return State(data=refund, internal=state.internal)
    raise AssertionError(f"fee refund cannot apply {event.event_type}")


def _refund_events(before: State | None, after: State, event: DomainEvent) -> list[StripeEventSpec]:
    match event:
        case FeeRefundCreated():
            return []  # Stripe announces a new fee refund with application_fee.refunded
        case FeeRefundUpdated():
            assert before is not None
            previous = diff_previous(before.data, after.data)
            return [StripeEventSpec("application_fee.refund.updated", after.data, previous)]
    raise AssertionError(f"fee refund cannot apply {event.event_type}")


APPLICATION_FEE = register(Aggregate("application_fee", "fee", _evolve_fee, _fee_events))
FEE_REFUND = register(Aggregate("fee_refund", "fr", _evolve_refund, _refund_events))
