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
from ledger.domain.postings import BOOK_CONNECT
from ledger.domain.rules import apply_metadata, reject, reject_if
from ledger.money import currency, format_amount, round_half_up

__all__ = [
    "APPLICATION_FEE",
    "FEE_REFUND",
    "REFUNDS_SHOWN_MAX",
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
    "refund_remaining",
]

# An application fee's JSON embeds its newest refunds, as Stripe's list of 10 does.
REFUNDS_SHOWN_MAX: Final = 10
# The platform's Connect application, as the connected account's fee_details name it.
APPLICATION_NAME: Final = "Ledger"

# (account, stream, events): a fee refund writes to the platform and the connected account.
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


def _refunds_list(fee_id: str, refunds: list[JSON]) -> JSON:
    return {
        "object": "list",
        "data": refunds[:REFUNDS_SHOWN_MAX],
        "has_more": len(refunds) > REFUNDS_SHOWN_MAX,
        "total_count": len(refunds),
        "url": f"/v1/application_fees/{fee_id}/refunds",
    }


def _booking(
    *,
    account_id: str,
    txn_id: str,
    type: str,
    amount: int,
    money: str,
    created: int,
    available_on: int,
    source: str,
    fee_id: str,
) -> BalanceTransactionCreated:
    return new_balance_transaction(
        txn_id=txn_id,
        account_id=account_id,
        type=type,
        amount=amount,
        currency=money,
        fee_details=[],
        created=created,
        available_on=available_on,
        source=source,
        counterparty=(BOOK_CONNECT, fee_id),
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
        "refunds": _refunds_list(ctx.fee_id, []),
    }
    txn = _booking(
        account_id=ctx.platform_account_id,
        txn_id=ctx.balance_transaction_id,
        type="application_fee",
        amount=amount,
        money=money,
        created=ctx.created,
        available_on=ctx.available_on,
        source=ctx.fee_id,
        fee_id=ctx.fee_id,
    )
    platform = ctx.platform_account_id
    return [
        (platform, ctx.balance_transaction_id, [txn]),
        (platform, ctx.fee_id, [ApplicationFeeCreated(fee=fee)]),
    ]


# -- refunds -----------------------------------------------------------------------------------


def refund_remaining(fee: JSON) -> int:
    """What is left to refund."""
    return int(fee["amount"]) - int(fee["amount_refunded"])


def check_refundable(state: State, amount: int | None) -> int:
    """Stripe's refusals for refunding `amount` (None: all that is left) of a fee; the amount."""
    fee = state.data
    left = refund_remaining(fee)
    reject_if(
        left == 0,
        f"Application fee {fee['id']} has already been refunded.",
        param="amount" if amount is not None else None,
    )
    wanted = left if amount is None else amount
    reject_if(
        wanted < 1, "Invalid positive integer", code="parameter_invalid_integer", param="amount"
    )
    if wanted > left:
        money = currency(fee["currency"])
        reject(
            f"Refund amount ({format_amount(wanted, money)}) is greater than unrefunded amount on "
            f"application fee ({format_amount(left, money)})",
            param="amount",
        )
    return wanted


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
    platform_txn = _booking(
        account_id=ctx.platform_account_id,
        txn_id=ctx.platform_txn_id,
        type="application_fee_refund",
        amount=-amount,
        money=money,
        created=ctx.created,
        available_on=ctx.created,
        source=ctx.refund_id,
        fee_id=fee["id"],
    )
    account_txn = _booking(
        account_id=str(fee["account"]),
        txn_id=ctx.account_txn_id,
        type="application_fee_refund",
        amount=amount,
        money=money,
        created=ctx.created,
        available_on=ctx.created,
        source=ctx.refund_id,
        fee_id=fee["id"],
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
    if "metadata" not in params:
        return []
    metadata = params["metadata"]
    assert isinstance(metadata, dict | str)
    merged = apply_metadata(state.data["metadata"] or {}, metadata)
    if merged == state.data["metadata"]:
        return []
    return [FeeRefundUpdated(refund=state.data | {"metadata": merged})]


# -- evolve and Stripe events ------------------------------------------------------------------


def _with_refunds(state: State, refunds: list[JSON], changes: JSON) -> State:
    data = state.data | changes | {"refunds": _refunds_list(state.data["id"], refunds)}
    return State(data=data, internal=state.internal | {"refunds": refunds})


def _evolve_fee(state: State | None, event: DomainEvent) -> State:
    match event:
        case ApplicationFeeCreated(fee=fee):
            assert state is None and fee["amount"] >= 1
            return State(data=fee, internal={"refunds": []})
        case ApplicationFeeRefunded(refund=refund):
            assert state is not None
            refunded = int(state.data["amount_refunded"]) + int(refund["amount"])
            assert refunded <= int(state.data["amount"]), state.data["id"]
            refunds = [refund, *state.internal["refunds"]]  # newest first
            changes = {"amount_refunded": refunded, "refunded": refunded == state.data["amount"]}
            return _with_refunds(state, refunds, changes)
        case FeeRefundUpdated(refund=refund):
            assert state is not None
            refunds = [
                refund if item["id"] == refund["id"] else item for item in state.internal["refunds"]
            ]
            return _with_refunds(state, refunds, {})
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
