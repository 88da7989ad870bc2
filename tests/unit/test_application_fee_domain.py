"""The application fee domain without a database: the destination split, proportional shares,
the fee and its refunds (money on both sides, the in-transit account), refusals and events."""

from __future__ import annotations

import itertools
from collections import defaultdict
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.domain import application_fee as domain
from ledger.domain import charge as charge_domain
from ledger.domain import transfer as transfer_domain
from ledger.domain.aggregate import State
from ledger.domain.balance_transaction import BalanceTransactionCreated
from ledger.domain.events import DomainEvent
from ledger.domain.postings import AVAILABLE, BOOK_CONNECT, PENDING, Posting, imbalances
from tests.support.charge_states import make_charge
from tests.support.refusals import refusal

PLATFORM = "acct_platform"
SELLER = "acct_seller"
APPLICATION = "ca_platform"
CREATED = 1_732_104_000
AVAILABLE_ON = 1_732_233_600


def fee_context(fee_id: str = "fee_1") -> domain.FeeContext:
    return domain.FeeContext(
        platform_account_id=PLATFORM,
        account_id=SELLER,
        fee_id=fee_id,
        balance_transaction_id="txn_fee",
        application=APPLICATION,
        created=CREATED,
        available_on=AVAILABLE_ON,
    )


def refund_context(refund_id: str = "fr_1") -> domain.FeeRefundContext:
    return domain.FeeRefundContext(
        platform_account_id=PLATFORM,
        refund_id=refund_id,
        platform_txn_id=f"txn_{refund_id}_platform",
        account_txn_id=f"txn_{refund_id}_seller",
        created=CREATED + 60,
    )


def evolve_fee(state: State | None, events: list[DomainEvent]) -> State:
    for event in events:
        state = domain.APPLICATION_FEE.evolve(state, event)
    assert state is not None
    return state


def new_fee(amount: int = 400) -> tuple[State, domain.AccountAppends]:
    appends = domain.decide_create(
        fee_context(), amount=amount, money="usd", charge="py_1", originating_transaction="ch_1"
    )
    fee_events = [e for _, stream, events in appends if stream == "fee_1" for e in events]
    return evolve_fee(None, fee_events), appends


def postings(appends: domain.AccountAppends) -> list[Posting]:
    return [
        posting
        for _, _, events in appends
        for event in events
        if isinstance(event, BalanceTransactionCreated)
        for posting in event.postings
    ]


def refund(state: State, amount: int, refund_id: str = "fr_1", **params: Any) -> tuple[State, Any]:
    appends = domain.decide_refund(state, amount, params, refund_context(refund_id))
    fee_events = [e for _, stream, events in appends if stream == state.data["id"] for e in events]
    return evolve_fee(state, fee_events), appends


# -- the destination split -----------------------------------------------------------------


def destination_charge(amount_captured: int, transfer_amount: int | None, fee: int | None) -> Any:
    return {
        "id": "ch_1",
        "captured": True,
        "amount_captured": amount_captured,
        "transfer_data": {"destination": SELLER, "amount": transfer_amount},
        "application_fee_amount": fee,
    }


@pytest.mark.parametrize(
    ("captured", "transfer_amount", "fee", "split"),
    [
        (2000, None, None, (2000, 0)),
        (2000, None, 123, (2000, 123)),
        (2000, 1500, 100, (1500, 100)),
        (1000, 1500, 100, (1000, 100)),  # capped at the captured amount
        (2000, 0, None, (0, 0)),
    ],
)
def test_the_split_of_a_destination_charge(
    captured: int, transfer_amount: int | None, fee: int | None, split: tuple[int, int]
) -> None:
    found = domain.destination_split(destination_charge(captured, transfer_amount, fee))
    assert (found.transfer_amount, found.application_fee_amount) == split


def test_the_fee_cannot_exceed_the_transfer() -> None:
    domain.check_destination_terms(500, 500)
    domain.check_destination_terms(None, 10)
    domain.check_destination_terms(10_000, None)
    error = refusal(lambda: domain.check_destination_terms(501, 500))
    assert (error.param, error.code) == ("application_fee_amount", None)


@given(
    whole=st.integers(min_value=1, max_value=10**9),
    share=st.integers(min_value=0, max_value=10**9),
    cuts=st.lists(st.integers(min_value=0, max_value=10**9), max_size=8),
)
def test_cumulative_shares_add_up_to_exactly_the_share(
    whole: int, share: int, cuts: list[int]
) -> None:
    points = sorted({min(cut, whole) for cut in cuts} | {0, whole})
    steps = [
        domain.cumulative_share(before, after - before, whole, share)
        for before, after in itertools.pairwise(points)
    ]
    assert sum(steps) == share
    assert all(step >= 0 for step in steps)


def test_a_share_rounds_half_up() -> None:
    assert domain.cumulative_share(0, 1000, 2000, 123) == 62  # 61.5
    assert domain.cumulative_share(1000, 999, 2000, 123) == 61  # 122.94 → 123, less 62
    assert domain.cumulative_share(1999, 1, 2000, 123) == 0


# -- the fee and its refunds: money -----------------------------------------------------------


def test_a_new_fee_books_the_platform_side_against_its_in_transit_account() -> None:
    state, appends = new_fee(400)
    fee = state.data
    assert fee["id"] == "fee_1" and fee["object"] == "application_fee"
    assert (fee["account"], fee["charge"], fee["originating_transaction"]) == (
        SELLER,
        "py_1",
        "ch_1",
    )
    assert (fee["amount"], fee["amount_refunded"], fee["refunded"]) == (400, 0, False)
    assert fee["refunds"] == {
        "object": "list",
        "data": [],
        "has_more": False,
        "total_count": 0,
        "url": "/v1/application_fees/fee_1/refunds",
    }
    assert [(account, stream) for account, stream, _ in appends] == [
        (PLATFORM, "txn_fee"),
        (PLATFORM, "fee_1"),
    ]
    (txn,) = appends[0][2]
    assert isinstance(txn, BalanceTransactionCreated)
    bt = txn.balance_transaction
    assert (bt["type"], bt["amount"], bt["fee"], bt["net"]) == ("application_fee", 400, 0, 400)
    assert (bt["status"], bt["available_on"], bt["source"]) == ("pending", AVAILABLE_ON, "fee_1")
    assert bt["reporting_category"] == "platform_earning"
    legs = {(p.book, p.account): p.amount for p in txn.postings}
    assert legs == {(PLATFORM, PENDING): 400, (BOOK_CONNECT, "fee_1"): -400}


def test_the_connected_payment_of_a_destination_charge_nets_out_the_fee() -> None:
    ctx = transfer_domain.TransferContext(
        platform_account_id=PLATFORM,
        destination_account_id=SELLER,
        transfer_id="tr_1",
        platform_txn_id="txn_tr",
        payment_id="py_1",
        payment_txn_id="txn_py",
        created=CREATED,
        available_on=AVAILABLE_ON,
        destination_charge=transfer_domain.DestinationCharge(APPLICATION, "fee_1", 400),
    )
    charge = make_charge(
        transfer_data={"destination": SELLER, "amount": None}, transfer_group="group_pi_1"
    )
    appends = transfer_domain.decide_create(
        {"amount": 2000, "currency": "usd"}, ctx, source_charge=charge.data
    )
    _, fee_appends = new_fee(400)
    every = postings(appends) + postings(fee_appends)
    assert imbalances(every) == {}
    in_transit: defaultdict[str, int] = defaultdict(int)
    for posting in every:
        if posting.book == BOOK_CONNECT:
            in_transit[posting.account] += posting.amount
    assert dict(in_transit) == {"tr_1": 0, "fee_1": 0}
    payment_txn = next(
        event
        for account, stream, events in appends
        if stream == "txn_py"
        for event in events
        if isinstance(event, BalanceTransactionCreated)
    )
    bt = payment_txn.balance_transaction
    assert (bt["amount"], bt["fee"], bt["net"]) == (2000, 400, 1600)
    assert bt["fee_details"] == [domain.fee_detail(400, "usd", APPLICATION)]
    assert bt["fee_details"][0]["type"] == "application_fee"
    transfer = next(
        event
        for _, stream, events in appends
        if stream == "tr_1"
        for event in events
        if isinstance(event, transfer_domain.TransferCreated)
    )
    assert transfer.internal["destination_charge"] is True
    assert transfer.internal["application_fee"] == "fee_1"
    assert transfer.transfer["transfer_group"] == "group_pi_1"


def test_a_fee_refund_moves_money_back_at_once_on_both_sides() -> None:
    state, created = new_fee(400)
    after, appends = refund(state, 150, metadata={"why": "late"})
    assert [(account, stream) for account, stream, _ in appends] == [
        (PLATFORM, "txn_fr_1_platform"),
        (PLATFORM, "fr_1"),
        (PLATFORM, "fee_1"),
        (SELLER, "txn_fr_1_seller"),
    ]
    every = postings(created) + postings(appends)
    assert imbalances(every) == {}
    # A refund passes through the fee's in-transit account (+150 in, -150 out): what is left
    # there is the platform's side of the fee, which the connected payment's +400 settles.
    assert [p.amount for p in postings(appends) if p.book == BOOK_CONNECT] == [150, -150]
    assert sum(p.amount for p in every if p.book == BOOK_CONNECT) == -400
    platform_txn, seller_txn = (
        event.balance_transaction
        for _, _, events in appends
        for event in events
        if isinstance(event, BalanceTransactionCreated)
    )
    assert (platform_txn["type"], platform_txn["amount"], platform_txn["status"]) == (
        "application_fee_refund",
        -150,
        "available",
    )
    assert (seller_txn["type"], seller_txn["amount"], seller_txn["status"]) == (
        "application_fee_refund",
        150,
        "available",
    )
    assert platform_txn["reporting_category"] == "platform_earning_refund"
    seller_legs = {(p.book, p.account): p.amount for p in postings(appends) if p.book == SELLER}
    assert seller_legs == {(SELLER, AVAILABLE): 150}
    fee_refund = after.data["refunds"]["data"][0]
    assert fee_refund == {
        "id": "fr_1",
        "object": "fee_refund",
        "amount": 150,
        "balance_transaction": "txn_fr_1_platform",
        "created": CREATED + 60,
        "currency": "usd",
        "fee": "fee_1",
        "metadata": {"why": "late"},
    }
    assert (after.data["amount_refunded"], after.data["refunded"]) == (150, False)


def test_refunds_are_embedded_newest_first_ten_at_most() -> None:
    state, _ = new_fee(400)
    for index in range(11):
        state, _ = refund(state, 10, refund_id=f"fr_{index}")
    refunds = state.data["refunds"]
    assert (refunds["total_count"], refunds["has_more"], len(refunds["data"])) == (11, True, 10)
    assert refunds["data"][0]["id"] == "fr_10"
    assert state.data["amount_refunded"] == 110


def test_a_fully_refunded_fee_is_refunded() -> None:
    state, _ = new_fee(400)
    state, _ = refund(state, domain.check_refundable(state, None))
    assert (state.data["amount_refunded"], state.data["refunded"]) == (400, True)
    error = refusal(lambda: domain.check_refundable(state, None))
    assert (error.param, error.message) == (
        None,
        "Application fee fee_1 has already been refunded.",
    )


@pytest.mark.parametrize(
    ("amount", "code", "message"),
    [
        (0, "parameter_invalid_integer", "Invalid positive integer"),
        (
            401,
            None,
            "Refund amount ($4.01) is greater than unrefunded amount on application fee ($4.00)",
        ),
    ],
)
def test_refund_refusals(amount: int, code: str | None, message: str) -> None:
    state, _ = new_fee(400)
    error = refusal(lambda: domain.check_refundable(state, amount))
    assert (error.code, error.param, error.message) == (code, "amount", message)


def test_a_refund_update_changes_metadata_only_when_it_changes() -> None:
    state, appends = new_fee(400)
    after, appends = refund(state, 100)
    fee_refund = domain.FEE_REFUND.evolve(
        None, next(e for _, s, events in appends if s == "fr_1" for e in events)
    )
    assert domain.decide_refund_update(fee_refund, {}) == []
    assert domain.decide_refund_update(fee_refund, {"metadata": {}}) == []
    (event,) = domain.decide_refund_update(fee_refund, {"metadata": {"k": "v"}})
    updated = domain.FEE_REFUND.evolve(fee_refund, event)
    assert updated.data["metadata"] == {"k": "v"}
    (spec,) = domain.FEE_REFUND.stripe_events(fee_refund, updated, event)
    assert (spec.type, spec.previous_attributes) == (
        "application_fee.refund.updated",
        {"metadata": {"k": None}},
    )
    fee = domain.APPLICATION_FEE.evolve(after, event)
    assert fee.data["refunds"]["data"][0]["metadata"] == {"k": "v"}
    assert domain.APPLICATION_FEE.stripe_events(after, fee, event) == []


def test_stripe_events_of_a_fee() -> None:
    state, appends = new_fee(400)
    (created,) = [e for _, s, events in appends if s == "fee_1" for e in events]
    (spec,) = domain.APPLICATION_FEE.stripe_events(None, state, created)
    assert spec.type == "application_fee.created"
    after, refund_appends = refund(state, 400)
    (refunded,) = [e for _, s, events in refund_appends if s == "fee_1" for e in events]
    (spec,) = domain.APPLICATION_FEE.stripe_events(state, after, refunded)
    assert spec.type == "application_fee.refunded"
    assert spec.previous_attributes is not None
    assert spec.previous_attributes["amount_refunded"] == 0
    assert spec.previous_attributes["refunded"] is False
    (fee_refund_created,) = [e for _, s, events in refund_appends if s == "fr_1" for e in events]
    fee_refund = domain.FEE_REFUND.evolve(None, fee_refund_created)
    assert domain.FEE_REFUND.stripe_events(None, fee_refund, fee_refund_created) == []


def test_a_destination_charge_records_its_transfer_and_fee() -> None:
    charge = make_charge(transfer_data={"destination": SELLER, "amount": None})
    assert "transfer" not in charge.data  # Stripe's charge has it only for destination charges
    event = charge_domain.ChargeDestinationBooked(transfer="tr_1", application_fee="fee_1")
    after = charge_domain.evolve(charge, event)
    assert (after.data["transfer"], after.data["application_fee"]) == ("tr_1", "fee_1")
    assert charge_domain.stripe_events(charge, after, event) == []
    plain = make_charge()
    with pytest.raises(AssertionError):
        charge_domain.evolve(plain, event)


def test_refunds_remember_what_they_asked_a_destination_charge_to_undo() -> None:
    charge = make_charge(transfer_data={"destination": SELLER, "amount": None})
    for amount, reverse, fee in ((500, True, False), (300, True, True), (200, False, False)):
        charge = charge_domain.evolve(
            charge,
            charge_domain.ChargeRefunded(
                refund=f"re_{amount}",
                amount=amount,
                reverse_transfer=reverse,
                refund_application_fee=fee,
            ),
        )
    assert charge_domain.refunded_with(charge, "reverse_transfer") == 800
    assert charge_domain.refunded_with(charge, "refund_application_fee") == 300
    assert charge.data["amount_refunded"] == 1000
