"""Balance transactions (`txn_…`): every change to an account's balance, with its postings.

A balance transaction is created with the money movement that causes it (a charge, a refund, a
dispute…). Its postings put `net` into the account's pending or available balance, `fee` into
Stripe's fees, and take `amount` from the counterparty (the card network). A pending transaction
becomes available at `available_on`, which moves `net` from pending to available.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from ledger.domain.aggregate import JSON, Aggregate, State, StripeEventSpec, register
from ledger.domain.events import DomainEvent
from ledger.domain.postings import (
    AVAILABLE,
    BOOK_NETWORK,
    BOOK_STRIPE,
    CARD_NETWORK,
    FEES,
    PENDING,
    Posting,
    assert_balanced,
)

__all__ = [
    "REPORTING_CATEGORY",
    "BalanceTransactionAvailable",
    "BalanceTransactionCreated",
    "BalanceTransactionPaidOut",
    "decide_available",
    "decide_paid_out",
    "new_balance_transaction",
]

# Stripe's reporting_category for each balance transaction type this ledger creates.
REPORTING_CATEGORY: Final[Mapping[str, str]] = {
    "charge": "charge",
    "payment": "charge",
    "refund": "refund",
    "payment_refund": "refund",
    "refund_failure": "refund_failure",
    "adjustment": "dispute",
    "payout": "payout",
    "payout_cancel": "payout_reversal",
    "payout_failure": "payout_reversal",
    "transfer": "transfer",
    "transfer_refund": "transfer_reversal",
    "application_fee": "platform_earning",
    "application_fee_refund": "platform_earning_refund",
    "topup": "topup",
    "topup_reversal": "topup_reversal",
}


class BalanceTransactionCreated(DomainEvent):
    event_type = "balance_transaction.created"
    balance_transaction: JSON
    postings: list[Posting]


class BalanceTransactionAvailable(DomainEvent):
    event_type = "balance_transaction.available"
    postings: list[Posting]


class BalanceTransactionPaidOut(DomainEvent):
    """An automatic payout took this transaction: `balance_transactions.list(payout=…)` lists it.

    No money moves: the payout's own balance transaction carries the postings.
    """

    event_type = "balance_transaction.paid_out"
    payout: str


def new_balance_transaction(
    *,
    txn_id: str,
    account_id: str,
    type: str,
    amount: int,
    currency: str,
    fee_details: list[dict[str, Any]],
    created: int,
    available_on: int,
    source: str | None,
    description: str | None = None,
    reporting_category: str | None = None,
    counterparty: tuple[str, str] = (BOOK_NETWORK, CARD_NETWORK),
    source_type: str = "card",
    fee_account: tuple[str, str] = (BOOK_STRIPE, FEES),
    fee_accounts: Mapping[str, tuple[str, str]] | None = None,
) -> BalanceTransactionCreated:
    """A balance transaction and its postings; pending until `available_on` if in the future.

    The fee goes to `fee_account`: Stripe's fees, or an application fee's in-transit account.
    `fee_accounts` sends the `fee_details` of some types elsewhere (a direct charge's
    `application_fee` goes to the fee's in-transit account, its `stripe_fee` to Stripe).
    """
    fee = sum(detail["amount"] for detail in fee_details)
    net = amount - fee
    status = "available" if available_on <= created else "pending"
    book, counter_account = counterparty
    postings = [
        Posting(
            book=account_id,
            account=PENDING if status == "pending" else AVAILABLE,
            currency=currency,
            amount=net,
            source_type=source_type,
        ),
        Posting(
            book=book,
            account=counter_account,
            currency=currency,
            amount=-amount,
            source_type=source_type,
        ),
    ]
    fee_by_account: dict[tuple[str, str], int] = {}
    for detail in fee_details:
        target = (fee_accounts or {}).get(detail["type"], fee_account)
        fee_by_account[target] = fee_by_account.get(target, 0) + detail["amount"]
    for (fee_book, fee_ledger_account), fee_amount in fee_by_account.items():
        if fee_amount:
            postings.append(
                Posting(
                    book=fee_book,
                    account=fee_ledger_account,
                    currency=currency,
                    amount=fee_amount,
                    source_type=source_type,
                )
            )
    assert_balanced(postings)
    balance_transaction = {
        "id": txn_id,
        "object": "balance_transaction",
        "amount": amount,
        "available_on": available_on,
        "created": created,
        "currency": currency,
        "description": description,
        "exchange_rate": None,
        "fee": fee,
        "fee_details": fee_details,
        "net": net,
        "reporting_category": reporting_category or REPORTING_CATEGORY[type],
        "source": source,
        "status": status,
        "type": type,
    }
    return BalanceTransactionCreated(balance_transaction=balance_transaction, postings=postings)


def decide_available(state: State, account_id: str) -> list[DomainEvent]:
    """Move a pending transaction's net from pending to available."""
    bt = state.data
    assert bt["status"] == "pending", bt["id"]
    source_type = state.internal.get("source_type", "card")
    postings = [
        Posting(
            book=account_id,
            account=PENDING,
            currency=bt["currency"],
            amount=-bt["net"],
            source_type=source_type,
        ),
        Posting(
            book=account_id,
            account=AVAILABLE,
            currency=bt["currency"],
            amount=bt["net"],
            source_type=source_type,
        ),
    ]
    return [BalanceTransactionAvailable(postings=postings)]


def decide_paid_out(state: State, payout: str) -> list[DomainEvent]:
    """Record that the automatic payout `payout` pays this available transaction out."""
    assert state.data["status"] == "available" and "payout" not in state.internal, state.data["id"]
    return [BalanceTransactionPaidOut(payout=payout)]


def evolve(state: State | None, event: DomainEvent) -> State:
    match event:
        case BalanceTransactionCreated(balance_transaction=bt, postings=postings):
            assert state is None
            return State(data=bt, internal={"source_type": postings[0].source_type})
        case BalanceTransactionAvailable():
            assert state is not None and state.data["status"] == "pending"
            return State(data=state.data | {"status": "available"}, internal=state.internal)
        case BalanceTransactionPaidOut(payout=payout):
            assert state is not None and "payout" not in state.internal
            return State(data=state.data, internal=state.internal | {"payout": payout})
    raise AssertionError(f"balance_transaction cannot apply {event.event_type}")


def stripe_events(before: State | None, after: State, event: DomainEvent) -> list[StripeEventSpec]:
    # Stripe publishes no event per balance transaction (balance.available is per balance).
    return []


BALANCE_TRANSACTION = register(Aggregate("balance_transaction", "txn", evolve, stripe_events))
