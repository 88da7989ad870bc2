"""Top-ups (`tu_…`): money pulled into the account's balance from its bank account.

A top-up is created `pending` and moves no money. Later (the top-up's `internal["due_at"]`,
which the top-ups service's due job acts on) the bank answers: the top-up succeeds, and a `topup`
balance transaction puts the amount in the account's *available* balance, or it fails with the
code its test bank token names and nothing moves. A pending top-up can be canceled; a succeeded
one can be reversed (the bank took the debit back), when a `topup_reversal` balance transaction
withdraws the amount again. Both post against the bank's `topups` ledger account, with source
type `bank_account` (where Stripe's Balance shows top-up funds).

Statuses and the moves between them are the explicit `TRANSITIONS` table.

Sources: https://docs.stripe.com/api/topups, https://docs.stripe.com/connect/top-ups,
https://docs.stripe.com/connect/testing (the test bank tokens and their failure codes).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType
from typing import Final

from ledger.domain.aggregate import JSON, Aggregate, State, StripeEventSpec, register
from ledger.domain.balance_transaction import BalanceTransactionCreated, new_balance_transaction
from ledger.domain.events import DomainEvent
from ledger.domain.postings import BOOK_BANK, TOPUPS
from ledger.domain.rules import apply_metadata, check_positive_amount, reject, reject_if
from ledger.money import AMOUNT_MAX, Currency, currency, format_amount

__all__ = [
    "CANCELABLE",
    "FAILURE_MESSAGES",
    "REVERSIBLE",
    "SOURCE_FAILURE_CODES",
    "SOURCE_TYPE",
    "TOPUP",
    "TRANSITIONS",
    "Appends",
    "Status",
    "TopupCanceled",
    "TopupContext",
    "TopupCreated",
    "TopupFailed",
    "TopupReversed",
    "TopupSucceeded",
    "TopupUpdated",
    "check_cancelable",
    "check_reversible",
    "decide_cancel",
    "decide_create",
    "decide_reverse",
    "decide_settle",
    "decide_update",
    "evolve",
    "stripe_events",
]

Appends = list[tuple[str, list[DomainEvent]]]


class Status(StrEnum):
    """A top-up's `status`."""

    pending = "pending"
    succeeded = "succeeded"
    failed = "failed"
    canceled = "canceled"
    reversed = "reversed"


S = Status

# Every move a top-up can make. Only a pending top-up can be canceled
# (https://docs.stripe.com/api/topups/cancel); only a succeeded one has money to take back.
TRANSITIONS: Final[Mapping[Status, frozenset[Status]]] = MappingProxyType(
    {
        S.pending: frozenset({S.succeeded, S.failed, S.canceled}),
        S.succeeded: frozenset({S.reversed}),
        S.failed: frozenset(),  # terminal
        S.canceled: frozenset(),  # terminal
        S.reversed: frozenset(),  # terminal
    }
)

CANCELABLE: Final = frozenset({S.pending})
REVERSIBLE: Final = frozenset({S.succeeded})

# Where the Balance shows top-up funds (`source_types.bank_account`).
SOURCE_TYPE: Final = "bank_account"

# Stripe's test bank tokens for top-ups and the failure code of each (None: it succeeds).
# https://docs.stripe.com/connect/testing#testing-top-ups. Without `source`, the top-up uses
# "the bank account that was set up in the dashboard", which succeeds here.
SOURCE_FAILURE_CODES: Final[Mapping[str, str | None]] = MappingProxyType(
    {
        "btok_us_verified": None,
        "btok_us_verified_noAccount": "no_account",
        "btok_us_verified_accountClosed": "account_closed",
        "btok_us_verified_insufficientFunds": "insufficient_funds",
        "btok_us_verified_debitNotAuthorized": "debit_not_authorized",
        "btok_us_verified_invalidCurrency": "invalid_currency",
    }
)

# `failure_message` for each code. Stripe documents the codes, not the top-up messages: these
# are written after its bank-failure descriptions (unconfirmed wording).
FAILURE_MESSAGES: Final[Mapping[str, str]] = MappingProxyType(
    {
        "no_account": "The bank account details on file are probably incorrect. No bank account "
        "could be located with those details.",
        "account_closed": "The bank account has been closed.",
        "insufficient_funds": "The bank account has insufficient funds to cover the top-up.",
        "debit_not_authorized": "Debit transactions are not approved on the bank account.",
        "invalid_currency": "The bank was unable to process this top-up because of its "
        "currency. The bank account probably cannot be debited in that currency.",
    }
)


class TopupCreated(DomainEvent):
    event_type = "topup.created"
    topup: JSON
    # `failure_code` (what the bank will answer; None: success) and `due_at` (when it answers;
    # None once it has, or once the top-up was canceled).
    internal: JSON


class TopupUpdated(DomainEvent):
    event_type = "topup.updated"
    changes: JSON


class TopupSucceeded(DomainEvent):
    """The bank paid: the amount is in the balance (its `topup` balance transaction)."""

    event_type = "topup.succeeded"
    balance_transaction: str


class TopupFailed(DomainEvent):
    """The bank refused the debit: nothing moved."""

    event_type = "topup.failed"
    failure_code: str
    failure_message: str


class TopupCanceled(DomainEvent):
    event_type = "topup.canceled"


class TopupReversed(DomainEvent):
    """The bank took a paid debit back: a `topup_reversal` withdrew the amount again."""

    event_type = "topup.reversed"
    reversal_balance_transaction: str


# -- rules -------------------------------------------------------------------------------------


def _check_amount(amount: int, money: Currency) -> None:
    check_positive_amount(amount)
    reject_if(
        amount > AMOUNT_MAX,
        f"Amount must be no more than {format_amount(AMOUNT_MAX, money)}",
        code="amount_too_large",
        param="amount",
    )


def _check_statement_descriptor(descriptor: str) -> None:
    # "Limited to 15 ASCII characters" (the length is checked against the spec) and "It must
    # contain at least one letter" -- https://docs.stripe.com/api/topups/object.
    reject_if(
        not descriptor.isascii(),
        f"Invalid statement_descriptor: {descriptor}; must contain only ASCII characters",
        param="statement_descriptor",
    )
    reject_if(
        not any(char.isalpha() for char in descriptor),
        f"Invalid statement_descriptor: {descriptor}; must contain at least one letter",
        param="statement_descriptor",
    )


def _failure_code(source: str | None) -> str | None:
    """What the bank will answer for `source`; Stripe's 404 for a source that does not exist."""
    if source is None:
        return None
    if source not in SOURCE_FAILURE_CODES:
        kind = "token" if source.startswith(("btok_", "tok_")) else "source"
        reject(
            f"No such {kind}: '{source}'",
            code="resource_missing",
            param="source",
            http_status=404,
        )
    return SOURCE_FAILURE_CODES[source]


def _optional(value: str | None) -> str | None:
    """Stripe reads "" as "not set"."""
    return value or None


def check_cancelable(state: State) -> None:
    """Only a pending top-up can be canceled."""
    status = state.data["status"]
    reject_if(
        status not in CANCELABLE,
        f"You cannot cancel top-up {state.data['id']} because it has a status of {status}. "
        "Only pending top-ups can be canceled.",
        param="topup",
    )


def check_reversible(state: State) -> None:
    """Only a succeeded top-up has money to take back."""
    status = state.data["status"]
    reject_if(
        status not in REVERSIBLE,
        f"You cannot reverse top-up {state.data['id']} because it has a status of {status}. "
        "Only succeeded top-ups can be reversed.",
        param="topup",
    )


# -- decisions ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TopupContext:
    """What a new top-up needs besides its params: its id and time."""

    topup_id: str
    created: int


def decide_create(params: JSON, ctx: TopupContext) -> list[DomainEvent]:
    """A pending top-up of `params["amount"]` in `params["currency"]`; refusals first."""
    money = currency(params["currency"])
    amount = params["amount"]
    _check_amount(amount, money)
    descriptor = _optional(params.get("statement_descriptor"))
    if descriptor is not None:
        _check_statement_descriptor(descriptor)
    failure_code = _failure_code(params.get("source"))
    metadata = apply_metadata({}, params.get("metadata", {}))
    topup: JSON = {
        "id": ctx.topup_id,
        "object": "topup",
        "amount": amount,
        "balance_transaction": None,
        "created": ctx.created,
        "currency": money.code,
        "description": _optional(params.get("description")),
        # Test-mode top-ups are answered at once (see the service's due job), so the funds are
        # expected when the top-up is made.
        "expected_availability_date": ctx.created,
        "failure_code": None,
        "failure_message": None,
        "livemode": False,
        "metadata": metadata,
        # Deprecated, and "might not always be present": the ledger keeps no Source objects.
        "source": None,
        "statement_descriptor": descriptor,
        "status": str(S.pending),
        "transfer_group": _optional(params.get("transfer_group")),
    }
    internal: JSON = {"failure_code": failure_code, "due_at": ctx.created}
    return [TopupCreated(topup=topup, internal=internal)]


def decide_update(state: State, params: JSON) -> list[DomainEvent]:
    """Change a top-up's description or metadata, in any status."""
    changes: JSON = {}
    if "description" in params:
        changes["description"] = _optional(params["description"])
    if "metadata" in params:
        changes["metadata"] = apply_metadata(state.data["metadata"], params["metadata"])
    changes = {key: value for key, value in changes.items() if state.data[key] != value}
    return [TopupUpdated(changes=changes)] if changes else []


def decide_cancel(state: State) -> list[DomainEvent]:
    """Cancel a pending top-up (nothing moved, so nothing is given back)."""
    check_cancelable(state)
    return [TopupCanceled()]


def _bank_booking(
    topup: JSON, type: str, *, amount: int, account_id: str, txn_id: str, at: int
) -> BalanceTransactionCreated:
    """A balance transaction of the top-up against the bank; its funds move at once."""
    return new_balance_transaction(
        txn_id=txn_id,
        account_id=account_id,
        type=type,
        amount=amount,
        currency=topup["currency"],
        fee_details=[],
        created=at,
        available_on=at,
        source=topup["id"],
        description=topup["description"],
        counterparty=(BOOK_BANK, TOPUPS),
        source_type=SOURCE_TYPE,
    )


def decide_settle(state: State, account_id: str, balance_transaction_id: str, at: int) -> Appends:
    """The bank answers a pending top-up: its funds arrive, or it fails with its source's code."""
    topup = state.data
    assert topup["status"] == S.pending and state.internal.get("due_at") is not None
    failure_code = state.internal["failure_code"]
    if failure_code is not None:
        failed = TopupFailed(
            failure_code=failure_code, failure_message=FAILURE_MESSAGES[failure_code]
        )
        return [(topup["id"], [failed])]
    txn = _bank_booking(
        topup,
        "topup",
        amount=int(topup["amount"]),
        account_id=account_id,
        txn_id=balance_transaction_id,
        at=at,
    )
    return [
        (balance_transaction_id, [txn]),
        (topup["id"], [TopupSucceeded(balance_transaction=balance_transaction_id)]),
    ]


def decide_reverse(state: State, account_id: str, balance_transaction_id: str, at: int) -> Appends:
    """Take a succeeded top-up's amount back out of the available balance (it may go negative)."""
    check_reversible(state)
    topup = state.data
    txn = _bank_booking(
        topup,
        "topup_reversal",
        amount=-int(topup["amount"]),
        account_id=account_id,
        txn_id=balance_transaction_id,
        at=at,
    )
    reversed_ = TopupReversed(reversal_balance_transaction=balance_transaction_id)
    return [(balance_transaction_id, [txn]), (topup["id"], [reversed_])]


# -- evolve and Stripe events ------------------------------------------------------------------


def _moved(state: State, to: Status) -> None:
    current = Status(state.data["status"])
    assert to in TRANSITIONS[current], f"{state.data['id']}: {current} -> {to}"


def evolve(state: State | None, event: DomainEvent) -> State:
    match event:
        case TopupCreated(topup=topup, internal=internal):
            assert state is None
            assert topup["status"] == S.pending and topup["amount"] >= 1
            return State(data=topup, internal=internal)
        case TopupUpdated(changes=changes):
            assert state is not None and set(changes) <= {"description", "metadata"}
            return State(data=state.data | changes, internal=state.internal)
        case TopupSucceeded(balance_transaction=txn):
            assert state is not None and state.internal["failure_code"] is None
            _moved(state, S.succeeded)
            data = state.data | {"status": str(S.succeeded), "balance_transaction": txn}
            return State(data=data, internal=state.internal | {"due_at": None})
        case TopupFailed(failure_code=code, failure_message=message):
            assert state is not None and state.internal["failure_code"] == code
            _moved(state, S.failed)
            data = state.data | {
                "status": str(S.failed),
                "failure_code": code,
                "failure_message": message,
            }
            return State(data=data, internal=state.internal | {"due_at": None})
        case TopupCanceled():
            assert state is not None
            _moved(state, S.canceled)
            data = state.data | {"status": str(S.canceled)}
            return State(data=data, internal=state.internal | {"due_at": None})
        case TopupReversed(reversal_balance_transaction=txn):
            assert state is not None
            _moved(state, S.reversed)
            data = state.data | {"status": str(S.reversed)}
            return State(data=data, internal=state.internal | {"reversal_balance_transaction": txn})
    raise AssertionError(f"topup cannot apply {event.event_type}")


def stripe_events(before: State | None, after: State, event: DomainEvent) -> list[StripeEventSpec]:
    match event:
        case TopupCreated():
            return [StripeEventSpec("topup.created", after.data)]
        case TopupUpdated():
            return []  # Stripe publishes no topup.updated
        case TopupSucceeded():
            return [StripeEventSpec("topup.succeeded", after.data)]
        case TopupFailed():
            return [StripeEventSpec("topup.failed", after.data)]
        case TopupCanceled():
            return [StripeEventSpec("topup.canceled", after.data)]
        case TopupReversed():
            return [StripeEventSpec("topup.reversed", after.data)]
    raise AssertionError(f"topup cannot apply {event.event_type}")


TOPUP = register(Aggregate("topup", "tu", evolve, stripe_events))
