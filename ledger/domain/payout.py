"""Payouts (`po_…`): money sent from an account's available balance to an external account.

Creating a payout takes its amount out of the available balance at once (a `payout` balance
transaction: the account's available -X, the bank +X). Then time moves it along the explicit
`TRANSITIONS` table, each step due at a time kept in `internal["due_at"]`:

- `pending` until it is submitted to the bank: 00:00 UTC of the next business day (instant
  payouts: at once), when it becomes `in_transit`;
- `in_transit` until `arrival_date` (00:00 UTC of the second business day after creation;
  instant payouts: the moment they are created), when it becomes `paid`, or `failed` if its
  destination is one of Stripe's failing test accounts. A failing debit card refuses the payout
  when it is submitted (`pending → failed`); a failing bank account returns it on arrival.

A failed or canceled payout gives the money back (`payout_failure` / `payout_cancel` balance
transactions, shown as `failure_balance_transaction`). Only a `pending`, manual, standard payout
can be canceled. A `paid` standard payout of a connected account to a bank account can be
reversed within 90 days of its arrival: the reversal is a new payout of -X (`original_payout`),
whose money comes back into the balance when it arrives.

Automatic payouts follow the account's `settings.payouts.schedule` (`Schedule`,
`next_run_after`); a `PayoutScheduleRan` event on the account's schedule stream records each run.

Sources: https://docs.stripe.com/api/payouts (object, create, cancel, reverse),
https://docs.stripe.com/connect/payout-reversals, https://docs.stripe.com/payouts#payout-schedule,
https://docs.stripe.com/connect/testing#payouts, https://docs.stripe.com/api/payouts/failures
(failure codes and messages), and Stripe's answers quoted in public code ("Payouts can only be
canceled while they are pending.", "You have insufficient funds in your Stripe account for this
transfer. Your card balance is too low. …").
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType
from typing import Any, Final

from ledger.domain import external_account
from ledger.domain.aggregate import JSON, Aggregate, State, StripeEventSpec, diff_previous, register
from ledger.domain.balance_transaction import (
    BalanceTransactionPaidOut,
    decide_paid_out,
    new_balance_transaction,
)
from ledger.domain.events import DomainEvent
from ledger.domain.postings import BOOK_BANK, PAYOUTS
from ledger.domain.rules import apply_metadata, check_positive_amount, reject, reject_if
from ledger.money import available_on

__all__ = [
    "AUTOMATIC_DESCRIPTION",
    "CANCELABLE",
    "FAILURE_MESSAGES",
    "MESSAGE_CANCEL_NOT_PENDING",
    "REVERSIBLE",
    "SCHEDULE",
    "SCHEDULE_STREAM_ID",
    "TRANSITIONS",
    "Appends",
    "Method",
    "NewPayout",
    "PayoutCanceled",
    "PayoutContext",
    "PayoutCreated",
    "PayoutFailed",
    "PayoutPaid",
    "PayoutReversed",
    "PayoutScheduleRan",
    "PayoutSubmitted",
    "PayoutUpdated",
    "Schedule",
    "Status",
    "check_cancelable",
    "check_destination",
    "check_reversible",
    "decide_cancel",
    "decide_create",
    "decide_progress",
    "decide_reverse",
    "decide_schedule_ran",
    "decide_update",
    "evolve",
    "insufficient_funds_message",
    "next_run_after",
    "payout_dates",
    "schedule_of",
    "stripe_events",
]

Appends = list[tuple[str, list[DomainEvent]]]


class Status(StrEnum):
    """A payout's `status`."""

    pending = "pending"
    in_transit = "in_transit"
    paid = "paid"
    failed = "failed"
    canceled = "canceled"


S = Status

# Every move a payout can make. Stripe notes that a payout can show `paid` and later fail; no
# test value does that, so the ledger never moves a paid payout (a reversal leaves it `paid`
# and sets `reversed_by`).
TRANSITIONS: Final[Mapping[Status, frozenset[Status]]] = MappingProxyType(
    {
        S.pending: frozenset({S.in_transit, S.failed, S.canceled}),
        S.in_transit: frozenset({S.paid, S.failed}),
        S.paid: frozenset(),  # terminal; reversible (REVERSIBLE)
        S.failed: frozenset(),  # terminal
        S.canceled: frozenset(),  # terminal
    }
)

# "You can cancel a previously created payout if its status is pending."
CANCELABLE: Final = frozenset({S.pending})
# A reversal debits the bank account the payout arrived in.
REVERSIBLE: Final = frozenset({S.paid})


class Method(StrEnum):
    """A payout's `method`."""

    standard = "standard"
    instant = "instant"


STANDARD_SUBMIT_BUSINESS_DAYS: Final = 1
STANDARD_ARRIVAL_BUSINESS_DAYS: Final = 2
REVERSAL_WINDOW_SECONDS: Final = 90 * 86_400
AUTOMATIC_DESCRIPTION: Final = "STRIPE PAYOUT"

# The descriptions Stripe documents for each failure code, used as `failure_message`.
FAILURE_MESSAGES: Final[Mapping[str, str]] = MappingProxyType(
    {
        "account_closed": "The bank account has been closed.",
        "could_not_process": "The bank could not process this payout.",
        "debit_not_authorized": (
            "Debit transactions are not approved on the bank account. (Stripe requires bank "
            "accounts to be set up for both credit and debit payouts.)"
        ),
        "insufficient_funds": "Your Stripe account has insufficient funds to cover the payout.",
        "invalid_currency": (
            "The bank was unable to process this payout because of its currency. This is "
            "probably because the bank account cannot accept payments in that currency."
        ),
        "no_account": (
            "The bank account details on file are probably incorrect. No bank account could be "
            "located with those details."
        ),
    }
)
MESSAGE_CANCEL_NOT_PENDING: Final = "Payouts can only be canceled while they are pending."

# The trace id: `pending` until the payout ends, then a value from the bank (paid) or none.
TRACE_PENDING: Final = "pending"
TRACE_SUPPORTED: Final = "supported"
TRACE_UNSUPPORTED: Final = "unsupported"


def insufficient_funds_message(source_type: str) -> str:
    """Stripe's refusal of a payout that the available balance of `source_type` does not cover."""
    balance = source_type.replace("_", " ")
    return (
        f"You have insufficient funds in your Stripe account for this transfer. Your {balance} "
        "balance is too low.  You can use the /v1/balance endpoint to view your Stripe balance "
        "(for more details, see stripe.com/docs/api#balance)."
    )


def payout_dates(created: int, method: Method) -> tuple[int, int]:
    """(submitted at, arrival_date) of a payout created at `created`, as unix seconds.

    Standard payouts are submitted at 00:00 UTC of the next business day and arrive at 00:00
    UTC of the second business day (weekends skipped, bank holidays not modelled); instant
    payouts are submitted and arrive at once.
    """
    if method == Method.instant:
        return created, created
    at = dt.datetime.fromtimestamp(created, dt.UTC)
    return (
        available_on(at, STANDARD_SUBMIT_BUSINESS_DAYS),
        available_on(at, STANDARD_ARRIVAL_BUSINESS_DAYS),
    )


# -- events -------------------------------------------------------------------------------------


class PayoutCreated(DomainEvent):
    event_type = "payout.created"
    payout: JSON
    # `due_at` (the next step's time), `failure_code` (the destination's test behaviour, None
    # when it pays), `fails_on_submission` (a card refuses at once), `trace_id` (shown once paid).
    internal: JSON


class PayoutUpdated(DomainEvent):
    event_type = "payout.updated"
    changes: JSON


class PayoutSubmitted(DomainEvent):
    """Sent to the bank: pending → in_transit."""

    event_type = "payout.submitted"


class PayoutPaid(DomainEvent):
    """Arrived: in_transit → paid."""

    event_type = "payout.paid"


class PayoutFailed(DomainEvent):
    """The destination refused or returned it: the money is back in the balance."""

    event_type = "payout.failed"
    failure_code: str
    failure_message: str
    failure_balance_transaction: str


class PayoutCanceled(DomainEvent):
    event_type = "payout.canceled"
    failure_balance_transaction: str


class PayoutReversed(DomainEvent):
    """A reversal (`reversed_by`) debits the bank account this paid payout arrived in."""

    event_type = "payout.reversed"
    reversed_by: str


# -- creation -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PayoutContext:
    """Ids and time of a new payout, and the trace id its bank will give it."""

    account_id: str
    payout_id: str
    balance_transaction_id: str
    created: int
    trace_id: str


@dataclass(frozen=True, slots=True)
class NewPayout:
    """What a payout request asks for, after the service resolved its destination."""

    amount: int
    currency: str
    method: Method = Method.standard
    source_type: str = "card"
    description: str | None = None
    statement_descriptor: str | None = None
    metadata: JSON | None = None
    automatic: bool = False


def check_destination(
    destination: State, currency: str, method: Method, param: str = "destination"
) -> None:
    """The destination must take payouts in `currency`, and instant ones if asked for."""
    data = destination.data
    reject_if(
        data["currency"] != currency,
        f"The currency of the external account {data['id']} ({data['currency']}) does not "
        f"match the currency of the payout ({currency}).",
        param=param,
    )
    if method == Method.instant and not external_account.takes_instant_payouts(destination):
        reject(
            f"The {'debit card' if data['object'] == 'card' else 'bank account'} provided as an "
            "external account does not support instant payouts. Provide another debit card or "
            "use a bank account instead.",
            code="instant_payouts_unsupported",
            param=param,
        )


def _payout_json(new: NewPayout, destination: JSON, ctx: PayoutContext, arrival: int) -> JSON:
    return {
        "id": ctx.payout_id,
        "object": "payout",
        "amount": new.amount,
        "application_fee": None,
        "application_fee_amount": None,
        "arrival_date": arrival,
        "automatic": new.automatic,
        "balance_transaction": ctx.balance_transaction_id,
        "created": ctx.created,
        "currency": new.currency,
        "description": new.description,
        "destination": destination["id"],
        "failure_balance_transaction": None,
        "failure_code": None,
        "failure_message": None,
        "livemode": False,
        "metadata": apply_metadata({}, new.metadata or {}),
        "method": str(new.method),
        "original_payout": None,
        "reconciliation_status": "in_progress" if new.automatic else "not_applicable",
        "reversed_by": None,
        "source_type": new.source_type,
        "statement_descriptor": new.statement_descriptor,
        "status": str(S.pending),
        "trace_id": {"status": TRACE_PENDING, "value": None},
        "type": destination["object"],
    }


def decide_create(
    new: NewPayout, destination: State, ctx: PayoutContext, paid_out: Sequence[State] = ()
) -> Appends:
    """A payout of `new.amount` from the available balance to `destination`.

    The service has checked the available balance (with its lock held). `paid_out` are the
    balance transactions an automatic payout pays out; they and the payout's own transaction
    are marked with the payout (`balance_transactions.list(payout=…)`).
    """
    check_positive_amount(new.amount)
    check_destination(destination, new.currency, new.method)
    assert not destination.deleted and (new.automatic or not paid_out)
    submit_at, arrival = payout_dates(ctx.created, new.method)
    txn = new_balance_transaction(
        txn_id=ctx.balance_transaction_id,
        account_id=ctx.account_id,
        type="payout",
        amount=-new.amount,
        currency=new.currency,
        fee_details=[],
        created=ctx.created,
        available_on=ctx.created,
        source=ctx.payout_id,
        description=new.description,
        counterparty=(BOOK_BANK, PAYOUTS),
        source_type=new.source_type,
    )
    failure_code = destination.internal.get("payout_failure_code")
    internal: JSON = {
        "due_at": submit_at,
        "failure_code": failure_code,
        "fails_on_submission": failure_code is not None and destination.data["object"] == "card",
        "trace_id": ctx.trace_id,
    }
    payout = _payout_json(new, destination.data, ctx, arrival)
    txn_events: list[DomainEvent] = [txn]
    appends: Appends = [(ctx.balance_transaction_id, txn_events)]
    if new.automatic:
        assert sum(int(t.data["net"]) for t in paid_out) == new.amount
        txn_events.append(BalanceTransactionPaidOut(payout=ctx.payout_id))
        appends += [(t.data["id"], decide_paid_out(t, ctx.payout_id)) for t in paid_out]
    appends.append((ctx.payout_id, [PayoutCreated(payout=payout, internal=internal)]))
    return appends


def decide_update(state: State, params: JSON) -> list[DomainEvent]:
    """Change a payout's metadata (the only thing Stripe lets a payout update change)."""
    changes: JSON = {}
    if "metadata" in params:
        changes["metadata"] = apply_metadata(state.data["metadata"], params["metadata"])
    changes = {key: value for key, value in changes.items() if state.data[key] != value}
    return [PayoutUpdated(changes=changes)] if changes else []


# -- time moves a payout along ------------------------------------------------------------------


def _money_back(
    state: State, type: str, account_id: str, txn_id: str, at: int
) -> tuple[str, list[DomainEvent]]:
    payout = state.data
    txn = new_balance_transaction(
        txn_id=txn_id,
        account_id=account_id,
        type=type,
        amount=int(payout["amount"]),
        currency=payout["currency"],
        fee_details=[],
        created=at,
        available_on=at,
        source=payout["id"],
        counterparty=(BOOK_BANK, PAYOUTS),
        source_type=payout["source_type"],
    )
    return txn_id, [txn]


def decide_progress(
    state: State, now: int, account_id: str, txn_id: str, destination: State | None
) -> Appends:
    """The step that fell due: submit a pending payout, or end one in transit (paid or failed).

    An instant payout is submitted and ends in the same step. A failure returns the money
    (`payout_failure`, balance transaction `txn_id`) and marks `destination` errored.
    """
    data, internal = state.data, state.internal
    assert internal["due_at"] is not None and internal["due_at"] <= now, data["id"]
    status = Status(data["status"])
    assert status in (S.pending, S.in_transit), data["id"]
    events: list[DomainEvent] = []
    if status == S.pending and not internal["fails_on_submission"]:
        events.append(PayoutSubmitted())
        if data["arrival_date"] > now:
            return [(data["id"], events)]
    failure_code = internal["failure_code"]
    if failure_code is None:
        return [(data["id"], [*events, PayoutPaid()])]
    appends: Appends = [_money_back(state, "payout_failure", account_id, txn_id, now)]
    failed = PayoutFailed(
        failure_code=failure_code,
        failure_message=FAILURE_MESSAGES[failure_code],
        failure_balance_transaction=txn_id,
    )
    appends.append((data["id"], [*events, failed]))
    if destination is not None:
        errored = external_account.decide_errored(destination)
        if errored:
            appends.append((destination.data["id"], errored))
    return appends


def check_cancelable(state: State) -> None:
    """Stripe's refusals of `cancel`: automatic, reversal, not pending, instant."""
    data = state.data
    reject_if(data["automatic"], "You cannot cancel automatic payouts.")
    reject_if(data["original_payout"] is not None, "A payout reversal cannot be canceled.")
    reject_if(data["status"] not in CANCELABLE, MESSAGE_CANCEL_NOT_PENDING)
    reject_if(
        data["method"] == Method.instant,
        "Instant payouts cannot be canceled: they are sent at once.",
    )


def decide_cancel(state: State, account_id: str, txn_id: str, at: int) -> Appends:
    """Cancel a pending payout: the money comes back (`payout_cancel`)."""
    check_cancelable(state)
    return [
        _money_back(state, "payout_cancel", account_id, txn_id, at),
        (state.data["id"], [PayoutCanceled(failure_balance_transaction=txn_id)]),
    ]


# -- reversal -----------------------------------------------------------------------------------


def check_reversible(state: State, now: int, *, connected: bool) -> None:
    """Stripe's conditions for reversing a payout (https://docs.stripe.com/connect/payout-reversals)."""
    data = state.data
    reject_if(
        not connected,
        "You can only reverse payouts of connected accounts (to US bank accounts).",
    )
    reject_if(
        data["original_payout"] is not None,
        f"Payout {data['id']} is itself a reversal and cannot be reversed.",
    )
    reject_if(
        data["reversed_by"] is not None,
        f"Payout {data['id']} has already been reversed by {data['reversed_by']}.",
    )
    if data["status"] == S.pending and not data["automatic"]:
        reject(f"Payout {data['id']} is pending: use /v1/payouts/{data['id']}/cancel instead.")
    reject_if(
        data["status"] not in REVERSIBLE,
        f"Only paid payouts can be reversed; payout {data['id']} is {data['status']}.",
    )
    reject_if(
        data["type"] != "bank_account" or data["method"] != Method.standard,
        "Only standard payouts to US bank accounts can be reversed; debit card and instant "
        "payouts cannot.",
    )
    reject_if(
        now - int(data["arrival_date"]) > REVERSAL_WINDOW_SECONDS,
        "Payouts can only be reversed within 90 days of their arrival date.",
    )


def decide_reverse(state: State, ctx: PayoutContext, metadata: JSON, *, connected: bool) -> Appends:
    """Reverse a paid payout: a new payout of -amount that debits its bank account.

    Its balance transaction (+amount) is pending until the reversal arrives.
    """
    check_reversible(state, ctx.created, connected=connected)
    original = state.data
    assert state.internal["failure_code"] is None, "a paid payout's destination pays"
    submit_at, arrival = payout_dates(ctx.created, Method.standard)
    amount = int(original["amount"])
    txn = new_balance_transaction(
        txn_id=ctx.balance_transaction_id,
        account_id=ctx.account_id,
        type="payout",
        amount=amount,
        currency=original["currency"],
        fee_details=[],
        created=ctx.created,
        available_on=arrival,
        source=ctx.payout_id,
        counterparty=(BOOK_BANK, PAYOUTS),
        source_type=original["source_type"],
    )
    new = NewPayout(
        amount=-amount,
        currency=original["currency"],
        source_type=original["source_type"],
        metadata=metadata,
    )
    reversal = _payout_json(
        new, {"id": original["destination"], "object": "bank_account"}, ctx, arrival
    )
    reversal["original_payout"] = original["id"]
    internal: JSON = {
        "due_at": submit_at,
        "failure_code": None,
        "fails_on_submission": False,
        "trace_id": ctx.trace_id,
    }
    return [
        (ctx.balance_transaction_id, [txn]),
        (ctx.payout_id, [PayoutCreated(payout=reversal, internal=internal)]),
        (original["id"], [PayoutReversed(reversed_by=ctx.payout_id)]),
    ]


# -- evolve and Stripe events -------------------------------------------------------------------


def _moved(state: State, to: Status) -> None:
    current = Status(state.data["status"])
    assert to in TRANSITIONS[current], f"{state.data['id']}: {current} -> {to}"


def _ended(state: State, to: Status, trace: str, extra: JSON) -> State:
    _moved(state, to)
    value = state.internal["trace_id"] if trace == TRACE_SUPPORTED else None
    data = state.data | extra | {"status": str(to), "trace_id": {"status": trace, "value": value}}
    return State(data=data, internal=state.internal | {"due_at": None})


def evolve(state: State | None, event: DomainEvent) -> State:
    match event:
        case PayoutCreated(payout=payout, internal=internal):
            assert state is None and payout["status"] == S.pending
            reversal = payout["original_payout"] is not None
            assert payout["amount"] <= -1 if reversal else payout["amount"] >= 1
            return State(data=payout, internal=internal)
        case PayoutUpdated(changes=changes):
            assert state is not None and set(changes) <= set(state.data)
            return State(data=state.data | changes, internal=state.internal)
        case PayoutSubmitted():
            assert state is not None
            _moved(state, S.in_transit)
            internal = state.internal | {"due_at": state.data["arrival_date"]}
            return State(data=state.data | {"status": str(S.in_transit)}, internal=internal)
        case PayoutPaid():
            assert state is not None and state.internal["failure_code"] is None
            extra: JSON = {}
            if state.data["automatic"]:
                extra["reconciliation_status"] = "completed"
            return _ended(state, S.paid, TRACE_SUPPORTED, extra)
        case PayoutFailed(
            failure_code=code, failure_message=message, failure_balance_transaction=txn
        ):
            assert state is not None and state.internal["failure_code"] == code
            failure = {
                "failure_balance_transaction": txn,
                "failure_code": code,
                "failure_message": message,
            }
            return _ended(state, S.failed, TRACE_UNSUPPORTED, failure)
        case PayoutCanceled(failure_balance_transaction=txn):
            assert state is not None and not state.data["automatic"]
            return _ended(
                state, S.canceled, TRACE_UNSUPPORTED, {"failure_balance_transaction": txn}
            )
        case PayoutReversed(reversed_by=reversal):
            assert state is not None and state.data["status"] in REVERSIBLE
            assert state.data["reversed_by"] is None
            return State(data=state.data | {"reversed_by": reversal}, internal=state.internal)
    raise AssertionError(f"payout cannot apply {event.event_type}")


def stripe_events(before: State | None, after: State, event: DomainEvent) -> list[StripeEventSpec]:
    if isinstance(event, PayoutCreated):
        return [StripeEventSpec("payout.created", after.data)]
    assert before is not None
    previous = diff_previous(before.data, after.data)
    updated = StripeEventSpec("payout.updated", after.data, previous)
    match event:
        case PayoutUpdated() | PayoutSubmitted() | PayoutReversed():
            return [updated]
        case PayoutPaid():
            specs = [updated, StripeEventSpec("payout.paid", after.data)]
            if after.data["automatic"]:
                specs.append(StripeEventSpec("payout.reconciliation_completed", after.data))
            return specs
        case PayoutFailed():
            return [updated, StripeEventSpec("payout.failed", after.data)]
        case PayoutCanceled():
            return [updated, StripeEventSpec("payout.canceled", after.data)]
    raise AssertionError(f"payout cannot apply {event.event_type}")


PAYOUT = register(Aggregate("payout", "po", evolve, stripe_events))


# -- automatic payouts --------------------------------------------------------------------------

_WEEKDAYS: Final[Mapping[str, int]] = MappingProxyType(
    {
        "monday": 0,
        "tuesday": 1,
        "wednesday": 2,
        "thursday": 3,
        "friday": 4,
        "saturday": 5,
        "sunday": 6,
    }
)
_SATURDAY: Final = 5
_SECONDS_PER_DAY: Final = 86_400
# delay_days "minimum": the lowest Stripe allows for the account's country (US: 2 days).
MINIMUM_DELAY_DAYS: Final = 2
# A schedule fires at least once a month, so the next run is always within this many days.
NEXT_RUN_SEARCH_DAYS_MAX: Final = 62
# The schedule stream of each account: when its automatic payouts last ran.
SCHEDULE_STREAM_ID: Final = "posched_automatic"
SCHEDULE_OBJECT: Final = "ledger.payout_schedule"


@dataclass(frozen=True, slots=True)
class Schedule:
    """An account's `settings.payouts.schedule`, when it is not manual."""

    interval: str  # daily | weekly | monthly
    delay_days: int
    weekly_anchor: str = "monday"
    monthly_anchor: int = 1

    def fires_on(self, day: dt.date) -> bool:
        """Whether automatic payouts run at 00:00 UTC of `day`."""
        if self.interval == "daily":
            return day.weekday() < _SATURDAY  # every business day
        if self.interval == "weekly":
            return day.weekday() == _WEEKDAYS[self.weekly_anchor]
        assert self.interval == "monthly", self.interval
        last_day = calendar.monthrange(day.year, day.month)[1]
        return day.day == min(self.monthly_anchor, last_day)


def schedule_of(account: JSON) -> Schedule | None:
    """The automatic payout schedule of an Account object's JSON; None when payouts are manual."""
    settings: Any = account.get("settings") or {}
    schedule: Any = (settings.get("payouts") or {}).get("schedule") or {}
    interval = schedule.get("interval")
    if interval not in ("daily", "weekly", "monthly"):
        return None
    delay = schedule.get("delay_days")
    delay_days = delay if isinstance(delay, int) else MINIMUM_DELAY_DAYS
    return Schedule(
        interval=interval,
        delay_days=delay_days,
        weekly_anchor=schedule.get("weekly_anchor") or "monday",
        monthly_anchor=schedule.get("monthly_anchor") or 1,
    )


def next_run_after(schedule: Schedule, after: int) -> int:
    """The first time after `after` (unix seconds) at which `schedule` runs: 00:00 UTC of a day."""
    day = dt.datetime.fromtimestamp(after, dt.UTC).date()
    for _ in range(NEXT_RUN_SEARCH_DAYS_MAX):
        day += dt.timedelta(days=1)
        if schedule.fires_on(day):
            return (day - dt.date(1970, 1, 1)).days * _SECONDS_PER_DAY
    raise AssertionError(f"{schedule} does not run within {NEXT_RUN_SEARCH_DAYS_MAX} days")


class PayoutScheduleRan(DomainEvent):
    """The account's automatic payouts ran for the schedule time `at` (with or without payouts)."""

    event_type = "payout_schedule.ran"
    at: int


def decide_schedule_ran(state: State | None, at: int) -> list[DomainEvent]:
    """Record the run at `at`; runs only move forward."""
    assert state is None or state.data["last_run"] < at
    return [PayoutScheduleRan(at=at)]


def _evolve_schedule(state: State | None, event: DomainEvent) -> State:
    assert isinstance(event, PayoutScheduleRan), event.event_type
    created = event.at if state is None else state.data["created"]
    data = {
        "id": SCHEDULE_STREAM_ID,
        "object": SCHEDULE_OBJECT,
        "created": created,
        "last_run": event.at,
    }
    return State(data=data)


def _no_stripe_events(
    before: State | None, after: State, event: DomainEvent
) -> list[StripeEventSpec]:
    return []  # the ledger's own bookkeeping: no Stripe object, no Stripe event


SCHEDULE = register(Aggregate(SCHEDULE_OBJECT, "posched", _evolve_schedule, _no_stripe_events))
