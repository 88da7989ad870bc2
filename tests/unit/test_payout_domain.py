"""The payout domain without a database: transitions, dates, money, refusals, schedules."""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any

import pytest

from ledger.domain import external_account
from ledger.domain import payout as domain
from ledger.domain.aggregate import State
from ledger.domain.balance_transaction import (
    BalanceTransactionCreated,
    BalanceTransactionPaidOut,
    new_balance_transaction,
)
from ledger.domain.cards import TOKENS
from ledger.domain.events import DomainEvent
from ledger.domain.postings import AVAILABLE, BOOK_BANK, PAYOUTS, PENDING, imbalances
from tests.support.refusals import refusal

Status = domain.Status
S = Status
ACCOUNT = "acct_1Payer"
WEDNESDAY = 1_732_104_000  # 2024-11-20 12:00 UTC
THURSDAY_0 = 1_732_147_200  # 2024-11-21 00:00 UTC
FRIDAY_0 = 1_732_233_600  # 2024-11-22 00:00 UTC
DAY = 86_400


def at(text: str) -> int:
    return int(dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC).timestamp())


def destination(token: str = "btok_us_verified") -> State:
    source: external_account.BankDetails | external_account.DebitCard
    if token.startswith("btok_"):
        source = external_account.bank_details_from_token(token, "x")
        object_id = "ba_1"
    else:
        source = external_account.debit_card_from_token(token, "x", TOKENS)
        object_id = "card_1"
    new = external_account.NewExternalAccount(object_id, ACCOUNT, WEDNESDAY, source, False, {})
    ((_, events),) = external_account.decide_create(new, None)
    state = None
    for event in events:
        state = external_account.evolve(state, event)
    assert state is not None
    return state


def context(payout_id: str = "po_1", txn: str = "txn_po", created: int = WEDNESDAY) -> Any:
    return domain.PayoutContext(ACCOUNT, payout_id, txn, created, "123456789012345")


def streams(appends: domain.Appends, stream: str) -> list[DomainEvent]:
    return [event for stream_id, events in appends if stream_id == stream for event in events]


def apply(state: State | None, events: list[DomainEvent]) -> State:
    for event in events:
        state = domain.evolve(state, event)
    assert state is not None
    return state


def create(
    token: str = "btok_us_verified", *, amount: int = 5000, method: str = "standard", **kw: Any
) -> tuple[State, BalanceTransactionCreated]:
    new = domain.NewPayout(amount=amount, currency="usd", method=domain.Method(method), **kw)
    appends = domain.decide_create(new, destination(token), context())
    assert [stream for stream, _ in appends] == ["txn_po", "po_1"]
    (txn,) = streams(appends, "txn_po")
    assert isinstance(txn, BalanceTransactionCreated)
    return apply(None, streams(appends, "po_1")), txn


def progress(state: State, now: int, token: str = "btok_us_verified") -> tuple[State, Any]:
    appends = domain.decide_progress(state, now, ACCOUNT, "txn_back", destination(token))
    return apply(state, streams(appends, state.data["id"])), appends


def payout_in(status: Status, token: str = "btok_us_verified") -> State:
    if status == S.failed:
        token = "btok_us_verified_noAccount"
    state, _ = create(token)
    if status == S.pending:
        return state
    if status == S.canceled:
        return apply(state, streams(domain.decide_cancel(state, ACCOUNT, "txn_c", 0), "po_1"))
    state, _ = progress(state, THURSDAY_0, token)
    if status == S.in_transit:
        return state
    state, _ = progress(state, FRIDAY_0, token)
    assert state.data["status"] == status
    return state


# -- the transition table -------------------------------------------------------------------


def test_every_status_is_in_the_table() -> None:
    assert set(domain.TRANSITIONS) == set(Status)
    assert all(targets <= set(Status) for targets in domain.TRANSITIONS.values())
    assert frozenset({S.pending}) == domain.CANCELABLE
    assert frozenset({S.paid}) == domain.REVERSIBLE


_MOVES: dict[Status, DomainEvent] = {
    S.in_transit: domain.PayoutSubmitted(),
    S.paid: domain.PayoutPaid(),
    S.canceled: domain.PayoutCanceled(failure_balance_transaction="txn_c"),
}


@pytest.mark.parametrize(("source", "target"), list(itertools.product(Status, Status)))
def test_evolve_allows_exactly_the_table(source: Status, target: Status) -> None:
    state = payout_in(source)
    if target == S.failed:
        state = State(state.data, state.internal | {"failure_code": "no_account"})
        event: DomainEvent = domain.PayoutFailed(
            failure_code="no_account", failure_message="m", failure_balance_transaction="txn_f"
        )
    elif target == S.pending:
        event = domain.PayoutCreated(payout=state.data, internal=state.internal)
    else:
        event = _MOVES[target]
    if target in domain.TRANSITIONS[source]:
        assert domain.evolve(state, event).data["status"] == target
    else:
        with pytest.raises(AssertionError):
            domain.evolve(state, event)


def test_every_allowed_transition_has_a_decision_that_makes_it() -> None:
    made: set[tuple[Status, Status]] = set()
    for token in (
        "btok_us_verified",
        "btok_us_verified_noAccount",
        "tok_visa_debit_us_transferFail",
    ):
        state, _ = create(token)
        for now in (THURSDAY_0, FRIDAY_0):
            if state.internal["due_at"] is None:
                break
            before = Status(state.data["status"])
            state, _ = progress(state, now, token)
            made.add((before, Status(state.data["status"])))
    pending, _ = create()
    canceled = apply(pending, streams(domain.decide_cancel(pending, ACCOUNT, "t", 1), "po_1"))
    made.add((S.pending, Status(canceled.data["status"])))
    allowed = {(s, t) for s, targets in domain.TRANSITIONS.items() for t in targets}
    assert made == allowed


# -- dates ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("created", "submitted", "arrival"),
    [
        ("2024-11-20T12:00", "2024-11-21T00:00", "2024-11-22T00:00"),  # Wednesday
        ("2024-11-21T23:59", "2024-11-22T00:00", "2024-11-25T00:00"),  # Thursday
        ("2024-11-22T09:00", "2024-11-25T00:00", "2024-11-26T00:00"),  # Friday
        ("2024-11-23T09:00", "2024-11-25T00:00", "2024-11-26T00:00"),  # Saturday
        ("2024-11-24T09:00", "2024-11-25T00:00", "2024-11-26T00:00"),  # Sunday
    ],
)
def test_standard_payouts_are_submitted_next_business_day_and_arrive_the_second(
    created: str, submitted: str, arrival: str
) -> None:
    assert domain.payout_dates(at(created), domain.Method.standard) == (at(submitted), at(arrival))


def test_instant_payouts_are_submitted_and_arrive_at_once() -> None:
    assert domain.payout_dates(WEDNESDAY, domain.Method.instant) == (WEDNESDAY, WEDNESDAY)


# -- creation -------------------------------------------------------------------------------


def test_a_payout_takes_its_amount_from_available_at_once() -> None:
    state, txn = create(description="Weekly", statement_descriptor="ACME", metadata={"a": "b"})
    data = state.data
    assert data == {
        "id": "po_1",
        "object": "payout",
        "amount": 5000,
        "application_fee": None,
        "application_fee_amount": None,
        "arrival_date": FRIDAY_0,
        "automatic": False,
        "balance_transaction": "txn_po",
        "created": WEDNESDAY,
        "currency": "usd",
        "description": "Weekly",
        "destination": "ba_1",
        "failure_balance_transaction": None,
        "failure_code": None,
        "failure_message": None,
        "livemode": False,
        "metadata": {"a": "b"},
        "method": "standard",
        "original_payout": None,
        "reconciliation_status": "not_applicable",
        "reversed_by": None,
        "source_type": "card",
        "statement_descriptor": "ACME",
        "status": "pending",
        "trace_id": {"status": "pending", "value": None},
        "type": "bank_account",
    }
    assert state.internal["due_at"] == THURSDAY_0
    bt = txn.balance_transaction
    assert (bt["type"], bt["amount"], bt["fee"], bt["net"], bt["status"]) == (
        "payout",
        -5000,
        0,
        -5000,
        "available",
    )
    assert (bt["reporting_category"], bt["source"], bt["available_on"]) == (
        "payout",
        "po_1",
        WEDNESDAY,
    )
    legs = {(p.book, p.account): p.amount for p in txn.postings}
    assert legs == {(ACCOUNT, AVAILABLE): -5000, (BOOK_BANK, PAYOUTS): 5000}
    assert imbalances(txn.postings) == {}


def test_a_payout_to_a_card_has_type_card() -> None:
    state, _ = create("tok_visa_debit_us_transferSuccess", method="instant")
    assert (state.data["type"], state.data["destination"], state.data["method"]) == (
        "card",
        "card_1",
        "instant",
    )
    assert state.data["arrival_date"] == WEDNESDAY and state.internal["due_at"] == WEDNESDAY


def test_creation_refusals() -> None:
    error = refusal(lambda: create(amount=0))
    assert (error.code, error.param) == ("parameter_invalid_integer", "amount")
    eur = domain.NewPayout(amount=100, currency="eur")
    error = refusal(lambda: domain.decide_create(eur, destination(), context()))
    assert error.param == "destination" and "(usd)" in error.message
    for token in ("tok_visa_debit_us_instantPayoutUnsupported",):
        error = refusal(lambda token=token: create(token, method="instant"))
        assert (error.code, error.param) == ("instant_payouts_unsupported", "destination")
    bank = external_account.BankDetails(account_number="000888888883")
    new = external_account.NewExternalAccount("ba_9", ACCOUNT, 0, bank, False, {})
    no_instant = external_account.evolve(None, external_account.decide_create(new, None)[0][1][0])
    instant = domain.NewPayout(amount=100, currency="usd", method=domain.Method.instant)
    error = refusal(lambda: domain.decide_create(instant, no_instant, context()))
    assert error.code == "instant_payouts_unsupported" and "bank account" in error.message


def test_the_insufficient_funds_message_names_the_source_type() -> None:
    message = domain.insufficient_funds_message("bank_account")
    assert "Your bank account balance is too low." in message
    assert domain.insufficient_funds_message("card").startswith(
        "You have insufficient funds in your Stripe account for this transfer. Your card balance"
    )


def test_update_changes_metadata_only_when_it_changes() -> None:
    state, _ = create(metadata={"a": "1"})
    (event,) = domain.decide_update(state, {"metadata": {"b": "2"}})
    assert domain.evolve(state, event).data["metadata"] == {"a": "1", "b": "2"}
    assert domain.decide_update(state, {"metadata": {"a": "1"}}) == []
    assert domain.decide_update(state, {}) == []


# -- time moves it along --------------------------------------------------------------------


def test_a_standard_payout_is_submitted_then_paid_with_its_trace_id() -> None:
    state, _ = create()
    state, appends = progress(state, THURSDAY_0)
    assert state.data["status"] == "in_transit" and state.internal["due_at"] == FRIDAY_0
    assert [stream for stream, _ in appends] == ["po_1"]
    state, _ = progress(state, FRIDAY_0)
    assert state.data["status"] == "paid" and state.internal["due_at"] is None
    assert state.data["trace_id"] == {"status": "supported", "value": "123456789012345"}
    assert state.data["reconciliation_status"] == "not_applicable"
    with pytest.raises(AssertionError):
        domain.decide_progress(state, FRIDAY_0, ACCOUNT, "t", None)


def test_a_step_is_never_taken_before_it_is_due() -> None:
    state, _ = create()
    with pytest.raises(AssertionError):
        domain.decide_progress(state, THURSDAY_0 - 1, ACCOUNT, "t", None)


@pytest.mark.parametrize(
    ("token", "code"),
    [
        ("btok_us_verified_noAccount", "no_account"),
        ("btok_us_verified_accountClosed", "account_closed"),
        ("btok_us_verified_insufficientFunds", "insufficient_funds"),
        ("btok_us_verified_debitNotAuthorized", "debit_not_authorized"),
        ("btok_us_verified_invalidCurrency", "invalid_currency"),
    ],
)
def test_a_failing_bank_account_returns_the_payout_on_arrival(token: str, code: str) -> None:
    state, _ = create(token)
    state, _ = progress(state, THURSDAY_0, token)
    assert state.data["status"] == "in_transit"
    state, appends = progress(state, FRIDAY_0, token)
    data = state.data
    assert (data["status"], data["failure_code"], data["failure_balance_transaction"]) == (
        "failed",
        code,
        "txn_back",
    )
    assert data["failure_message"] == domain.FAILURE_MESSAGES[code]
    assert data["trace_id"] == {"status": "unsupported", "value": None}
    assert [stream for stream, _ in appends] == ["txn_back", "po_1", "ba_1"]
    (txn,) = streams(appends, "txn_back")
    assert isinstance(txn, BalanceTransactionCreated)
    bt = txn.balance_transaction
    assert (bt["type"], bt["amount"], bt["net"], bt["reporting_category"], bt["status"]) == (
        "payout_failure",
        5000,
        5000,
        "payout_reversal",
        "available",
    )
    assert {(p.book, p.account): p.amount for p in txn.postings} == {
        (ACCOUNT, AVAILABLE): 5000,
        (BOOK_BANK, PAYOUTS): -5000,
    }
    (errored,) = streams(appends, "ba_1")
    assert isinstance(errored, external_account.ExternalAccountErrored)


def test_a_failing_debit_card_refuses_at_submission() -> None:
    token = "tok_visa_debit_us_transferFail"
    state, _ = create(token, method="instant")
    state, appends = progress(state, WEDNESDAY, token)
    assert (state.data["status"], state.data["failure_code"]) == ("failed", "could_not_process")
    assert state.data["failure_message"] == "The bank could not process this payout."
    assert [stream for stream, _ in appends] == ["txn_back", "po_1", "card_1"]


def test_an_instant_payout_is_paid_in_one_step() -> None:
    token = "tok_visa_debit_us_transferSuccess"
    state, _ = create(token, method="instant")
    appends = domain.decide_progress(state, WEDNESDAY, ACCOUNT, "t", destination(token))
    events = streams(appends, "po_1")
    assert [type(e) for e in events] == [domain.PayoutSubmitted, domain.PayoutPaid]
    assert apply(state, events).data["status"] == "paid"


def test_a_failure_does_not_touch_a_deleted_or_missing_destination() -> None:
    token = "btok_us_verified_noAccount"
    state = payout_in(S.in_transit, token)
    state = State(state.data, state.internal | {"failure_code": "no_account"})
    gone = destination(token)
    gone = external_account.evolve(gone, external_account.ExternalAccountDeleted())
    for dest in (gone, None):
        appends = domain.decide_progress(state, FRIDAY_0, ACCOUNT, "t", dest)
        assert [stream for stream, _ in appends] == ["t", "po_1"]


# -- cancel ---------------------------------------------------------------------------------


def test_cancel_returns_the_money() -> None:
    state, _ = create()
    appends = domain.decide_cancel(state, ACCOUNT, "txn_c", WEDNESDAY + 60)
    assert [stream for stream, _ in appends] == ["txn_c", "po_1"]
    (txn,) = streams(appends, "txn_c")
    assert isinstance(txn, BalanceTransactionCreated)
    bt = txn.balance_transaction
    assert (bt["type"], bt["amount"], bt["reporting_category"], bt["created"]) == (
        "payout_cancel",
        5000,
        "payout_reversal",
        WEDNESDAY + 60,
    )
    after = apply(state, streams(appends, "po_1"))
    assert (after.data["status"], after.data["failure_balance_transaction"]) == (
        "canceled",
        "txn_c",
    )
    assert after.data["failure_code"] is None and after.internal["due_at"] is None


@pytest.mark.parametrize("status", [S.in_transit, S.paid, S.failed, S.canceled])
def test_only_pending_payouts_can_be_canceled(status: Status) -> None:
    error = refusal(lambda: domain.check_cancelable(payout_in(status)))
    assert error.message == domain.MESSAGE_CANCEL_NOT_PENDING and error.param is None


def test_automatic_instant_and_reversal_payouts_cannot_be_canceled() -> None:
    state, _ = create()
    for change, words in (
        ({"automatic": True}, "automatic"),
        ({"method": "instant"}, "Instant"),
        ({"original_payout": "po_0", "amount": -5000}, "reversal"),
    ):
        error = refusal(lambda change=change: domain.check_cancelable(State(state.data | change)))
        assert words in error.message


# -- reversal -------------------------------------------------------------------------------


def test_reversing_a_paid_payout() -> None:
    paid = payout_in(S.paid)
    now = FRIDAY_0 + DAY  # Saturday
    ctx = context("po_2", "txn_rev", now)
    appends = domain.decide_reverse(paid, ctx, {"why": "x"}, connected=True)
    assert [stream for stream, _ in appends] == ["txn_rev", "po_2", "po_1"]
    reversal = apply(None, streams(appends, "po_2"))
    data = reversal.data
    assert (data["amount"], data["original_payout"], data["destination"], data["type"]) == (
        -5000,
        "po_1",
        "ba_1",
        "bank_account",
    )
    assert data["metadata"] == {"why": "x"} and data["status"] == "pending"
    assert data["arrival_date"] == at("2024-11-26T00:00")
    (txn,) = streams(appends, "txn_rev")
    assert isinstance(txn, BalanceTransactionCreated)
    bt = txn.balance_transaction
    assert (bt["amount"], bt["status"], bt["available_on"], bt["type"]) == (
        5000,
        "pending",
        data["arrival_date"],
        "payout",
    )
    assert {(p.book, p.account): p.amount for p in txn.postings} == {
        (ACCOUNT, PENDING): 5000,
        (BOOK_BANK, PAYOUTS): -5000,
    }
    original = apply(paid, streams(appends, "po_1"))
    assert (original.data["status"], original.data["reversed_by"]) == ("paid", "po_2")
    # The reversal moves along like any payout.
    reversal, _ = progress(reversal, at("2024-11-25T00:00"))
    reversal, _ = progress(reversal, at("2024-11-26T00:00"))
    assert reversal.data["status"] == "paid"


def test_reversal_refusals() -> None:
    paid = payout_in(S.paid)
    now = FRIDAY_0
    cases: list[tuple[State, bool, str]] = [
        (paid, False, "connected accounts"),
        (State(paid.data | {"original_payout": "po_0"}), True, "itself a reversal"),
        (State(paid.data | {"reversed_by": "po_9"}), True, "already been reversed"),
        (payout_in(S.pending), True, "/cancel instead"),
        (payout_in(S.in_transit), True, "Only paid payouts"),
        (payout_in(S.failed), True, "Only paid payouts"),
        (State(paid.data | {"type": "card"}), True, "US bank accounts"),
        (State(paid.data | {"method": "instant"}), True, "US bank accounts"),
    ]
    for state, connected, words in cases:
        error = refusal(
            lambda state=state, connected=connected: domain.check_reversible(
                state, now, connected=connected
            )
        )
        assert words in error.message, (words, error.message)
    domain.check_reversible(paid, FRIDAY_0 + 90 * DAY, connected=True)
    error = refusal(lambda: domain.check_reversible(paid, FRIDAY_0 + 90 * DAY + 1, connected=True))
    assert "90 days" in error.message
    with pytest.raises(AssertionError):
        domain.evolve(payout_in(S.pending), domain.PayoutReversed(reversed_by="po_2"))


# -- Stripe events --------------------------------------------------------------------------


def test_stripe_events_of_each_step() -> None:
    def types(state: State | None, event: DomainEvent) -> tuple[State, list[str]]:
        after = domain.evolve(state, event)
        return after, [spec.type for spec in domain.stripe_events(state, after, event)]

    state, _ = create()
    created = domain.PayoutCreated(payout=state.data, internal=state.internal)
    assert types(None, created)[1] == ["payout.created"]
    state, found = types(state, domain.PayoutSubmitted())
    assert found == ["payout.updated"]
    paid, found = types(state, domain.PayoutPaid())
    assert found == ["payout.updated", "payout.paid"]
    automatic = State(
        state.data | {"automatic": True, "reconciliation_status": "in_progress"}, state.internal
    )
    after, found = types(automatic, domain.PayoutPaid())
    assert found == ["payout.updated", "payout.paid", "payout.reconciliation_completed"]
    assert after.data["reconciliation_status"] == "completed"
    failing = State(state.data, state.internal | {"failure_code": "no_account"})
    failed = domain.PayoutFailed(
        failure_code="no_account", failure_message="m", failure_balance_transaction="t"
    )
    assert types(failing, failed)[1] == ["payout.updated", "payout.failed"]
    pending = payout_in(S.pending)
    canceled = domain.PayoutCanceled(failure_balance_transaction="t")
    assert types(pending, canceled)[1] == ["payout.updated", "payout.canceled"]
    reversed_ = domain.PayoutReversed(reversed_by="po_2")
    after, found = types(paid, reversed_)
    assert found == ["payout.updated"]
    (spec,) = domain.stripe_events(paid, after, reversed_)
    assert spec.previous_attributes == {"reversed_by": None}
    assert types(pending, domain.PayoutUpdated(changes={"metadata": {"a": "b"}}))[1] == [
        "payout.updated"
    ]


# -- automatic payouts ----------------------------------------------------------------------


def available_txn(txn_id: str, net: int) -> State:
    created = new_balance_transaction(
        txn_id=txn_id,
        account_id=ACCOUNT,
        type="charge",
        amount=net,
        currency="usd",
        fee_details=[],
        created=WEDNESDAY,
        available_on=WEDNESDAY,
        source=None,
    )
    return State(created.balance_transaction, {"source_type": "card"})


def test_an_automatic_payout_marks_what_it_pays_out() -> None:
    swept = [available_txn("txn_a", 3000), available_txn("txn_b", -500)]
    new = domain.NewPayout(
        amount=2500, currency="usd", description=domain.AUTOMATIC_DESCRIPTION, automatic=True
    )
    appends = domain.decide_create(new, destination(), context(), swept)
    assert [stream for stream, _ in appends] == ["txn_po", "txn_a", "txn_b", "po_1"]
    for stream in ("txn_a", "txn_b"):
        assert streams(appends, stream) == [BalanceTransactionPaidOut(payout="po_1")]
    own = streams(appends, "txn_po")
    assert own[1] == BalanceTransactionPaidOut(payout="po_1")
    payout = apply(None, streams(appends, "po_1"))
    assert (payout.data["automatic"], payout.data["reconciliation_status"]) == (
        True,
        "in_progress",
    )
    assert payout.data["description"] == "STRIPE PAYOUT"
    wrong = domain.NewPayout(amount=2000, currency="usd", automatic=True)
    with pytest.raises(AssertionError):
        domain.decide_create(wrong, destination(), context(), swept)


def account(schedule: dict[str, Any]) -> dict[str, Any]:
    return {"settings": {"payouts": {"schedule": schedule}}}


def test_schedule_of_an_account() -> None:
    assert domain.schedule_of(account({"interval": "manual", "delay_days": 2})) is None
    assert domain.schedule_of({}) is None
    assert domain.schedule_of(account({"interval": "daily", "delay_days": 3})) == domain.Schedule(
        "daily", 3
    )
    weekly = domain.schedule_of(
        account({"interval": "weekly", "delay_days": "minimum", "weekly_anchor": "friday"})
    )
    assert weekly == domain.Schedule("weekly", 2, weekly_anchor="friday")
    monthly = domain.schedule_of(
        account({"interval": "monthly", "delay_days": 7, "monthly_anchor": 31})
    )
    assert monthly == domain.Schedule("monthly", 7, monthly_anchor=31)


@pytest.mark.parametrize(
    ("schedule", "after", "expected"),
    [
        (domain.Schedule("daily", 2), "2024-11-20T12:00", "2024-11-21T00:00"),
        (domain.Schedule("daily", 2), "2024-11-21T00:00", "2024-11-22T00:00"),
        (domain.Schedule("daily", 2), "2024-11-22T00:00", "2024-11-25T00:00"),  # skips weekend
        (domain.Schedule("weekly", 2, "monday"), "2024-11-20T12:00", "2024-11-25T00:00"),
        (domain.Schedule("weekly", 2, "wednesday"), "2024-11-20T00:00", "2024-11-27T00:00"),
        (domain.Schedule("weekly", 2, "sunday"), "2024-11-20T12:00", "2024-11-24T00:00"),
        (domain.Schedule("monthly", 2, monthly_anchor=15), "2024-11-20T12:00", "2024-12-15T00:00"),
        (domain.Schedule("monthly", 2, monthly_anchor=31), "2024-11-20T12:00", "2024-11-30T00:00"),
        (domain.Schedule("monthly", 2, monthly_anchor=31), "2025-01-31T00:00", "2025-02-28T00:00"),
        (domain.Schedule("monthly", 2, monthly_anchor=1), "2024-12-31T23:00", "2025-01-01T00:00"),
    ],
)
def test_next_run_after(schedule: domain.Schedule, after: str, expected: str) -> None:
    assert domain.next_run_after(schedule, at(after)) == at(expected)


def test_schedule_runs_are_recorded_and_only_move_forward() -> None:
    (event,) = domain.decide_schedule_ran(None, THURSDAY_0)
    state = domain.SCHEDULE.evolve(None, event)
    assert state.data["last_run"] == THURSDAY_0 and state.data["created"] == THURSDAY_0
    (later,) = domain.decide_schedule_ran(state, FRIDAY_0)
    after = domain.SCHEDULE.evolve(state, later)
    assert (after.data["last_run"], after.data["created"]) == (FRIDAY_0, THURSDAY_0)
    assert domain.SCHEDULE.stripe_events(state, after, later) == []
    with pytest.raises(AssertionError):
        domain.decide_schedule_ran(after, FRIDAY_0)
