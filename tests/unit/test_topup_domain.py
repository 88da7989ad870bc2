"""The top-up domain without a database: its transitions, refusals, money and Stripe events."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from ledger.domain import topup as domain
from ledger.domain.aggregate import State
from ledger.domain.balance_transaction import BalanceTransactionCreated
from ledger.domain.events import DomainEvent
from ledger.domain.postings import AVAILABLE, BOOK_BANK, TOPUPS, imbalances
from tests.support.refusals import refusal
from tests.support.stripe_schema import assert_valid

Status = domain.Status
ACCOUNT = "acct_1Topups"
CREATED = 1_732_104_000
SETTLED = CREATED + 5


def create(params: dict[str, Any] | None = None, topup_id: str = "tu_1") -> State:
    """A new top-up of $10.00 (what `params` adds or changes)."""
    wanted = {"amount": 1000, "currency": "usd"} | (params or {})
    ctx = domain.TopupContext(topup_id=topup_id, created=CREATED)
    state = None
    for event in domain.decide_create(wanted, ctx):
        state = domain.evolve(state, event)
    assert state is not None
    return state


def in_status(status: Status, failure_code: str | None = None) -> State:
    """A top-up in `status` whose bank answers with `failure_code`."""
    state = create()
    due_at = CREATED if status == Status.pending else None
    return State(
        data=state.data | {"status": str(status)},
        internal={"failure_code": failure_code, "due_at": due_at},
    )


def only_txn(appends: domain.Appends, txn_id: str) -> BalanceTransactionCreated:
    (txn,) = [event for stream, events in appends if stream == txn_id for event in events]
    assert isinstance(txn, BalanceTransactionCreated)
    return txn


# -- the transition table --------------------------------------------------------------------


def test_every_status_is_in_the_table() -> None:
    assert set(domain.TRANSITIONS) == set(Status)
    for targets in domain.TRANSITIONS.values():
        assert targets <= set(Status)


def test_terminal_statuses() -> None:
    terminal = {status for status, targets in domain.TRANSITIONS.items() if not targets}
    assert terminal == {Status.failed, Status.canceled, Status.reversed}


def test_nothing_returns_to_pending() -> None:
    assert all(Status.pending not in targets for targets in domain.TRANSITIONS.values())


def test_cancelable_and_reversible_agree_with_the_table() -> None:
    assert {Status.pending} == domain.CANCELABLE
    assert {Status.succeeded} == domain.REVERSIBLE
    for status in Status:
        assert (status in domain.CANCELABLE) == (Status.canceled in domain.TRANSITIONS[status])
        assert (status in domain.REVERSIBLE) == (Status.reversed in domain.TRANSITIONS[status])


# The event that moves a top-up to each status it can reach after creation.
MOVES: dict[Status, DomainEvent] = {
    Status.succeeded: domain.TopupSucceeded(balance_transaction="txn_topup"),
    Status.failed: domain.TopupFailed(
        failure_code="no_account", failure_message=domain.FAILURE_MESSAGES["no_account"]
    ),
    Status.canceled: domain.TopupCanceled(),
    Status.reversed: domain.TopupReversed(reversal_balance_transaction="txn_reversal"),
}


def test_every_status_but_pending_has_a_move() -> None:
    assert set(MOVES) == set(Status) - {Status.pending}


@pytest.mark.parametrize(("origin", "target"), list(itertools.product(Status, MOVES)))
def test_each_move_is_allowed_exactly_when_the_table_says(origin: Status, target: Status) -> None:
    # The failing bank's code, so that only the table decides whether `failed` may follow.
    failure_code = "no_account" if target == Status.failed else None
    state = in_status(origin, failure_code)
    if target in domain.TRANSITIONS[origin]:
        after = domain.evolve(state, MOVES[target])
        assert after.data["status"] == target
        assert_valid(after.data)
    else:
        with pytest.raises(AssertionError):
            domain.evolve(state, MOVES[target])


@pytest.mark.parametrize("status", list(Status))
def test_cancel_is_allowed_only_while_pending(status: Status) -> None:
    state = in_status(status)
    if status in domain.CANCELABLE:
        (event,) = domain.decide_cancel(state)
        after = domain.evolve(state, event)
        assert after.data["status"] == "canceled" and after.internal["due_at"] is None
        return
    error = refusal(lambda: domain.decide_cancel(state))
    assert error.message == (
        f"You cannot cancel top-up tu_1 because it has a status of {status}. Only pending "
        "top-ups can be canceled."
    )
    assert (error.code, error.param, error.http_status) == (None, "topup", 400)


@pytest.mark.parametrize("status", list(Status))
def test_reverse_is_allowed_only_once_succeeded(status: Status) -> None:
    state = in_status(status)
    if status in domain.REVERSIBLE:
        appends = domain.decide_reverse(state, ACCOUNT, "txn_rev", SETTLED)
        (event,) = [e for stream, events in appends if stream == "tu_1" for e in events]
        assert domain.evolve(state, event).data["status"] == "reversed"
        return
    error = refusal(lambda: domain.decide_reverse(state, ACCOUNT, "txn_rev", SETTLED))
    assert error.message == (
        f"You cannot reverse top-up tu_1 because it has a status of {status}. Only succeeded "
        "top-ups can be reversed."
    )
    assert (error.code, error.param, error.http_status) == (None, "topup", 400)


def test_a_failure_must_be_the_one_its_source_names() -> None:
    with pytest.raises(AssertionError):
        domain.evolve(in_status(Status.pending, None), MOVES[Status.failed])
    with pytest.raises(AssertionError):
        domain.evolve(in_status(Status.pending, "no_account"), MOVES[Status.succeeded])


# -- creating --------------------------------------------------------------------------------


def test_a_new_top_up_is_pending_and_moves_no_money() -> None:
    state = create({"description": "Float", "statement_descriptor": "TOPUP 1"})
    assert state.data == {
        "id": "tu_1",
        "object": "topup",
        "amount": 1000,
        "balance_transaction": None,
        "created": CREATED,
        "currency": "usd",
        "description": "Float",
        "expected_availability_date": CREATED,
        "failure_code": None,
        "failure_message": None,
        "livemode": False,
        "metadata": {},
        "source": None,
        "statement_descriptor": "TOPUP 1",
        "status": "pending",
        "transfer_group": None,
    }
    assert state.internal == {"failure_code": None, "due_at": CREATED}
    assert_valid(state.data)
    events = domain.decide_create({"amount": 1000, "currency": "usd"}, domain.TopupContext("t", 1))
    assert all(getattr(event, "postings", None) is None for event in events)


def test_empty_strings_are_not_set_and_currency_is_lowercased() -> None:
    state = create(
        {"currency": "USD", "description": "", "statement_descriptor": "", "transfer_group": ""}
    )
    data = state.data
    assert (data["currency"], data["description"], data["statement_descriptor"]) == (
        "usd",
        None,
        None,
    )
    assert data["transfer_group"] is None


@pytest.mark.parametrize(("source", "failure_code"), list(domain.SOURCE_FAILURE_CODES.items()))
def test_each_test_bank_token_decides_the_answer(source: str, failure_code: str | None) -> None:
    state = create({"source": source})
    assert state.internal["failure_code"] == failure_code
    assert state.data["source"] is None  # the ledger keeps no Source objects


def test_every_failure_code_has_a_message() -> None:
    codes = {code for code in domain.SOURCE_FAILURE_CODES.values() if code is not None}
    assert codes == set(domain.FAILURE_MESSAGES)


@pytest.mark.parametrize(
    ("params", "message", "code", "param", "status"),
    [
        ({"amount": 0}, "Invalid positive integer", "parameter_invalid_integer", "amount", 400),
        ({"amount": -5}, "Invalid positive integer", "parameter_invalid_integer", "amount", 400),
        (
            {"amount": 100_000_000},
            "Amount must be no more than $999,999.99",
            "amount_too_large",
            "amount",
            400,
        ),
        ({"source": "btok_nope"}, "No such token: 'btok_nope'", "resource_missing", "source", 404),
        ({"source": "src_123"}, "No such source: 'src_123'", "resource_missing", "source", 404),
        (
            {"statement_descriptor": "12345"},
            "Invalid statement_descriptor: 12345; must contain at least one letter",
            None,
            "statement_descriptor",
            400,
        ),
        (
            {"statement_descriptor": "Café"},
            "Invalid statement_descriptor: Café; must contain only ASCII characters",
            None,
            "statement_descriptor",
            400,
        ),
    ],
)
def test_bad_input_is_refused_naming_its_param(
    params: dict[str, Any], message: str, code: str | None, param: str, status: int
) -> None:
    error = refusal(lambda: create(params))
    assert (error.message, error.code, error.param, error.http_status) == (
        message,
        code,
        param,
        status,
    )


def test_an_unknown_currency_is_refused() -> None:
    error = refusal(lambda: create({"currency": "xyz"}))
    assert error.message.startswith("Invalid currency: xyz.")
    assert (error.code, error.param) == (None, "currency")


# -- updating --------------------------------------------------------------------------------


def test_update_changes_description_and_metadata_only_when_they_differ() -> None:
    state = create({"metadata": {"a": "1", "b": "2"}})
    (event,) = domain.decide_update(state, {"description": "x", "metadata": {"a": "", "c": "3"}})
    after = domain.evolve(state, event)
    assert (after.data["description"], after.data["metadata"]) == ("x", {"b": "2", "c": "3"})
    assert domain.decide_update(after, {"description": "x", "metadata": {"b": "2"}}) == []
    (unset,) = domain.decide_update(after, {"description": ""})
    assert domain.evolve(after, unset).data["description"] is None


# -- the bank's answer -----------------------------------------------------------------------


def test_success_puts_the_amount_in_the_available_balance_from_the_bank() -> None:
    state = create({"description": "Float"})
    appends = domain.decide_settle(state, ACCOUNT, "txn_topup", SETTLED)
    assert [stream for stream, _ in appends] == ["txn_topup", "tu_1"]
    txn = only_txn(appends, "txn_topup")
    bt = txn.balance_transaction
    assert (bt["type"], bt["amount"], bt["fee"], bt["net"], bt["fee_details"]) == (
        "topup",
        1000,
        0,
        1000,
        [],
    )
    assert (bt["status"], bt["available_on"], bt["created"]) == ("available", SETTLED, SETTLED)
    assert (bt["reporting_category"], bt["source"], bt["description"]) == ("topup", "tu_1", "Float")
    assert_valid(bt)
    legs = {(p.book, p.account, p.source_type): p.amount for p in txn.postings}
    assert legs == {
        (ACCOUNT, AVAILABLE, "bank_account"): 1000,
        (BOOK_BANK, TOPUPS, "bank_account"): -1000,
    }
    assert imbalances(txn.postings) == {}
    (_, (succeeded,)) = appends[1]
    after = domain.evolve(state, succeeded)
    assert (after.data["status"], after.data["balance_transaction"]) == ("succeeded", "txn_topup")
    assert after.internal["due_at"] is None
    assert_valid(after.data)


@pytest.mark.parametrize("code", sorted(domain.FAILURE_MESSAGES))
def test_failure_moves_nothing_and_says_why(code: str) -> None:
    source = next(s for s, c in domain.SOURCE_FAILURE_CODES.items() if c == code)
    state = create({"source": source})
    ((stream, (failed,)),) = domain.decide_settle(state, ACCOUNT, "txn_unused", SETTLED)
    assert stream == "tu_1" and isinstance(failed, domain.TopupFailed)
    after = domain.evolve(state, failed)
    assert (after.data["status"], after.data["failure_code"]) == ("failed", code)
    assert after.data["failure_message"] == domain.FAILURE_MESSAGES[code]
    assert after.data["balance_transaction"] is None and after.internal["due_at"] is None
    assert_valid(after.data)


def test_settling_what_is_not_due_is_our_bug() -> None:
    with pytest.raises(AssertionError):
        domain.decide_settle(in_status(Status.succeeded), ACCOUNT, "txn", SETTLED)


def test_a_reversal_takes_the_amount_back_to_the_bank() -> None:
    state = in_status(Status.succeeded)
    appends = domain.decide_reverse(state, ACCOUNT, "txn_rev", SETTLED)
    assert [stream for stream, _ in appends] == ["txn_rev", "tu_1"]
    txn = only_txn(appends, "txn_rev")
    bt = txn.balance_transaction
    assert (bt["type"], bt["amount"], bt["net"], bt["status"]) == (
        "topup_reversal",
        -1000,
        -1000,
        "available",
    )
    assert (bt["reporting_category"], bt["source"]) == ("topup_reversal", "tu_1")
    assert_valid(bt)
    legs = {(p.book, p.account): p.amount for p in txn.postings}
    assert legs == {(ACCOUNT, AVAILABLE): -1000, (BOOK_BANK, TOPUPS): 1000}
    (_, (reversed_,)) = appends[1]
    after = domain.evolve(state, reversed_)
    assert after.data["status"] == "reversed"
    assert after.internal["reversal_balance_transaction"] == "txn_rev"


# -- Stripe events ---------------------------------------------------------------------------


def test_stripe_events_name_each_move_and_updates_publish_none() -> None:
    pending = create()
    created = domain.decide_create(
        {"amount": 1000, "currency": "usd"}, domain.TopupContext("tu_1", CREATED)
    )
    (spec,) = domain.stripe_events(None, pending, created[0])
    assert (spec.type, spec.object, spec.previous_attributes) == (
        "topup.created",
        pending.data,
        None,
    )
    (update,) = domain.decide_update(pending, {"metadata": {"k": "v"}})
    assert domain.stripe_events(pending, domain.evolve(pending, update), update) == []
    for target, event in MOVES.items():
        origin = Status.succeeded if target == Status.reversed else Status.pending
        before = in_status(origin, "no_account" if target == Status.failed else None)
        after = domain.evolve(before, event)
        (spec,) = domain.stripe_events(before, after, event)
        assert (spec.type, spec.object) == (f"topup.{target}", after.data)
