"""The dispute domain without a database: transitions, opening, evidence, outcomes, money."""

from __future__ import annotations

import itertools
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest

from ledger.domain import charge as charge_domain
from ledger.domain import dispute as domain
from ledger.domain.aggregate import State
from ledger.domain.balance_transaction import BalanceTransactionCreated
from ledger.domain.events import DomainEvent
from ledger.domain.postings import AVAILABLE, FEES, imbalances
from ledger.money import DEFAULT_PRICING, Pricing
from tests.support.charge_states import ACCOUNT, CREATED, apply, make_charge
from tests.support.refusals import refusal

Status = domain.Status
DUE_BY = int(datetime(2024, 11, 27, 23, 59, 59, tzinfo=UTC).timestamp())


def context(now: int = CREATED, pricing: Pricing = DEFAULT_PRICING) -> domain.DisputeContext:
    return domain.DisputeContext(ACCOUNT, now, pricing, "txn_d", "du_1")


def events_of(appends: domain.Appends, stream: str) -> list[DomainEvent]:
    return [event for stream_id, events in appends if stream_id == stream for event in events]


def evolve_all(state: State | None, events: list[DomainEvent]) -> State:
    for event in events:
        state = domain.evolve(state, event)
    assert state is not None
    return state


def opened(
    payment_method: str = "pm_card_createDispute", ctx: domain.DisputeContext | None = None
) -> tuple[State, State, domain.Appends]:
    """A dispute opened on a fresh captured charge: the dispute, the charge after, every append."""
    charge = make_charge(payment_method)
    appends = domain.decide_open(charge, ctx or context())
    return (
        evolve_all(None, events_of(appends, "du_1")),
        apply(charge, events_of(appends, "ch_1")),
        appends,
    )


def in_status(status: Status) -> State:
    inquiry = status.startswith("warning")
    dispute, _, _ = opened("pm_card_createDisputeInquiry" if inquiry else "pm_card_createDispute")
    return State(data=dispute.data | {"status": str(status)})


def update(state: State, params: dict[str, Any], now: int = CREATED) -> domain.Appends:
    return domain.decide_update(
        state, params, replace(context(now), balance_transaction_id="txn_w")
    )


# -- the transition table --------------------------------------------------------------------


def test_every_status_is_in_the_table() -> None:
    assert set(domain.TRANSITIONS) == set(Status)
    for targets in domain.TRANSITIONS.values():
        assert targets <= set(Status)


def test_terminal_statuses_and_the_statuses_that_take_a_response() -> None:
    terminal = {status for status, targets in domain.TRANSITIONS.items() if not targets}
    assert terminal == {Status.won, Status.lost, Status.warning_closed}
    assert {Status.needs_response, Status.warning_needs_response} == domain.RESPONDABLE


def test_inquiries_and_chargebacks_never_cross() -> None:
    for origin, targets in domain.TRANSITIONS.items():
        for target in targets:
            assert origin.startswith("warning") == target.startswith("warning"), (origin, target)


def _move(target: Status) -> DomainEvent:
    if target in (Status.under_review, Status.warning_under_review):
        return domain.DisputeSubmitted(changes={}, past_due=False)
    if target == Status.won:
        return domain.DisputeWon(balance_transaction={"id": "txn_w"})
    return domain.DisputeClosed(status=str(target))


@pytest.mark.parametrize(("origin", "target"), list(itertools.product(Status, Status)))
def test_each_move_is_allowed_exactly_when_the_table_says(origin: Status, target: Status) -> None:
    state = in_status(origin)
    event = _move(target)
    submits_to = (
        Status.warning_under_review if origin.startswith("warning") else Status.under_review
    )
    if isinstance(event, domain.DisputeSubmitted) and target != submits_to:
        return  # a submission leads to its kind's own review status only
    if target in domain.TRANSITIONS[origin]:
        assert domain.evolve(state, event).data["status"] == target
    else:
        with pytest.raises(AssertionError):
            domain.evolve(state, event)


# -- opening ---------------------------------------------------------------------------------


def test_due_by_is_the_end_of_the_seventh_day_after() -> None:
    assert domain.due_by(CREATED) == DUE_BY
    midnight = int(datetime(2024, 11, 20, tzinfo=UTC).timestamp())
    assert domain.due_by(midnight) == DUE_BY
    assert domain.due_by(midnight - 1) == DUE_BY - 86_400


def test_a_chargeback_withdraws_the_amount_and_the_fee() -> None:
    dispute, charge, appends = opened()
    assert [stream for stream, _ in appends] == ["txn_d", "du_1", "ch_1"]
    (txn,) = events_of(appends, "txn_d")
    assert isinstance(txn, BalanceTransactionCreated)
    bt = txn.balance_transaction
    assert (bt["type"], bt["amount"], bt["fee"], bt["net"]) == ("adjustment", -2000, 1500, -3500)
    assert (bt["reporting_category"], bt["source"], bt["status"]) == (
        "dispute",
        "du_1",
        "available",
    )
    assert bt["fee_details"] == [
        {
            "amount": 1500,
            "application": None,
            "currency": "usd",
            "description": "Dispute fee",
            "type": "stripe_fee",
        }
    ]
    assert bt["description"] == "Chargeback withdrawal for ch_1"
    assert imbalances(txn.postings) == {}
    legs = {(p.book, p.account): p.amount for p in txn.postings}
    assert legs[(ACCOUNT, AVAILABLE)] == -3500 and legs[("stripe", FEES)] == 1500
    assert dispute.data == {
        "id": "du_1",
        "object": "dispute",
        "amount": 2000,
        "balance_transactions": [bt],
        "charge": "ch_1",
        "created": CREATED,
        "currency": "usd",
        "enhanced_eligibility_types": [],
        "evidence": dict.fromkeys(domain.EVIDENCE_FIELDS) | {"enhanced_evidence": {}},
        "evidence_details": {
            "due_by": DUE_BY,
            "enhanced_eligibility": {},
            "has_evidence": False,
            "past_due": False,
            "submission_count": 0,
        },
        "is_charge_refundable": False,
        "livemode": False,
        "metadata": {},
        "payment_intent": "pi_1",
        "payment_method_details": {
            "card": {"brand": "visa", "case_type": "chargeback", "network_reason_code": "10.4"},
            "type": "card",
        },
        "reason": "fraudulent",
        "status": "needs_response",
    }
    assert charge.data["disputed"] is True
    assert charge.internal["dispute_due"] is False and charge.internal["dispute_id"] == "du_1"


def test_product_not_received() -> None:
    dispute, _, _ = opened("pm_card_createDisputeProductNotReceived")
    assert dispute.data["reason"] == "product_not_received"
    assert dispute.data["payment_method_details"]["card"]["network_reason_code"] == "13.1"


def test_an_inquiry_moves_no_money() -> None:
    dispute, charge, appends = opened("pm_card_createDisputeInquiry")
    assert [stream for stream, _ in appends] == ["du_1", "ch_1"]
    assert dispute.data["status"] == "warning_needs_response"
    assert dispute.data["balance_transactions"] == []
    assert dispute.data["is_charge_refundable"] is True
    assert dispute.data["payment_method_details"]["card"]["case_type"] == "inquiry"
    assert charge.data["disputed"] is True


def test_the_fee_follows_pricing_and_currency() -> None:
    pricing = Pricing(dispute_fee_amount={"usd": 2500})
    _, _, appends = opened(ctx=context(pricing=pricing))
    (txn,) = events_of(appends, "txn_d")
    assert isinstance(txn, BalanceTransactionCreated)
    assert (txn.balance_transaction["fee"], txn.balance_transaction["net"]) == (2500, -4500)


def test_the_disputed_amount_is_what_was_not_refunded() -> None:
    charge = make_charge("pm_card_createDispute")
    charge = apply(charge, [charge_domain.ChargeRefunded(refund="re_1", amount=500)])
    appends = domain.decide_open(charge, context())
    assert evolve_all(None, events_of(appends, "du_1")).data["amount"] == 1500


def test_only_a_captured_charge_whose_card_asks_for_it_is_disputed() -> None:
    with pytest.raises(AssertionError):
        domain.decide_open(make_charge(), context())  # pm_card_visa never disputes
    with pytest.raises(AssertionError):
        domain.decide_open(make_charge("pm_card_createDispute", capture=False), context())
    _, disputed, _ = opened()
    with pytest.raises(AssertionError):
        domain.decide_open(disputed, context())


# -- evidence and outcomes -------------------------------------------------------------------


def test_staged_evidence_is_not_submitted() -> None:
    dispute, _, _ = opened()
    appends = update(dispute, {"evidence": {"customer_name": "Jenny"}, "submit": False})
    (event,) = events_of(appends, "du_1")
    assert isinstance(event, domain.DisputeUpdated)
    after = domain.evolve(dispute, event)
    assert after.data["status"] == "needs_response"
    assert after.data["evidence"]["customer_name"] == "Jenny"
    assert after.data["evidence_details"]["has_evidence"] is True
    assert after.data["evidence_details"]["submission_count"] == 0
    unset = evolve_all(
        after,
        events_of(update(after, {"evidence": {"customer_name": ""}, "submit": False}), "du_1"),
    )
    assert unset.data["evidence"]["customer_name"] is None
    assert unset.data["evidence_details"]["has_evidence"] is False


def test_metadata_alone_never_submits() -> None:
    dispute, _, _ = opened()
    (event,) = events_of(update(dispute, {"metadata": {"case": "7"}}), "du_1")
    assert isinstance(event, domain.DisputeUpdated)
    assert domain.evolve(dispute, event).data["status"] == "needs_response"
    assert update(dispute, {"metadata": {}}) == []


def test_other_evidence_is_submitted_by_default_and_stays_under_review() -> None:
    dispute, _, _ = opened()
    appends = update(dispute, {"evidence": {"product_description": "A mug"}})
    after = evolve_all(dispute, events_of(appends, "du_1"))
    assert after.data["status"] == "under_review"
    assert after.data["evidence_details"]["submission_count"] == 1
    assert after.data["evidence_details"]["past_due"] is False
    error = refusal(lambda: update(after, {"evidence": {"uncategorized_text": "more"}}))
    assert error.message == (
        "You cannot update the evidence of dispute du_1 because it has a status of under_review. "
        "Only disputes with a status of needs_response or warning_needs_response accept evidence."
    )
    assert error.param == "evidence"
    metadata_only = evolve_all(after, events_of(update(after, {"metadata": {"k": "v"}}), "du_1"))
    assert metadata_only.data["metadata"] == {"k": "v"}


def test_an_explicit_submit_without_evidence_submits_what_was_staged() -> None:
    dispute, _, _ = opened()
    staged = evolve_all(
        dispute,
        events_of(
            update(
                dispute, {"evidence": {"uncategorized_text": "winning_evidence"}, "submit": False}
            ),
            "du_1",
        ),
    )
    assert staged.data["status"] == "needs_response"
    won = evolve_all(staged, events_of(update(staged, {"submit": True}), "du_1"))
    assert won.data["status"] == "won"


def test_winning_evidence_wins_and_gives_back_the_amount_and_the_fee() -> None:
    dispute, _, _ = opened()
    appends = update(dispute, {"evidence": {"uncategorized_text": "winning_evidence"}})
    assert [stream for stream, _ in appends] == ["txn_w", "du_1"]
    (txn,) = events_of(appends, "txn_w")
    assert isinstance(txn, BalanceTransactionCreated)
    bt = txn.balance_transaction
    assert (bt["type"], bt["amount"], bt["fee"], bt["net"]) == ("adjustment", 2000, -1500, 3500)
    assert (bt["reporting_category"], bt["source"]) == ("dispute_reversal", "du_1")
    assert bt["fee_details"][0]["amount"] == -1500
    assert bt["description"] == "Chargeback reversal for ch_1"
    assert imbalances(txn.postings) == {}
    events = events_of(appends, "du_1")
    assert [type(e) for e in events] == [domain.DisputeSubmitted, domain.DisputeWon]
    won = evolve_all(dispute, events)
    assert won.data["status"] == "won"
    assert [b["amount"] for b in won.data["balance_transactions"]] == [-2000, 2000]
    assert won.data["is_charge_refundable"] is False


def test_losing_evidence_loses() -> None:
    dispute, _, _ = opened()
    appends = update(dispute, {"evidence": {"uncategorized_text": " losing_evidence "}})
    assert [stream for stream, _ in appends] == ["du_1"]
    lost = evolve_all(dispute, events_of(appends, "du_1"))
    assert lost.data["status"] == "lost"
    assert len(lost.data["balance_transactions"]) == 1


@pytest.mark.parametrize("text", ["winning_evidence", "losing_evidence"])
def test_either_test_value_closes_an_inquiry(text: str) -> None:
    inquiry, _, _ = opened("pm_card_createDisputeInquiry")
    appends = update(inquiry, {"evidence": {"uncategorized_text": text}})
    assert [stream for stream, _ in appends] == ["du_1"]
    assert evolve_all(inquiry, events_of(appends, "du_1")).data["status"] == "warning_closed"


def test_a_late_submission_is_past_due() -> None:
    dispute, _, _ = opened()
    appends = update(dispute, {"evidence": {"product_description": "x"}}, now=DUE_BY + 1)
    assert evolve_all(dispute, events_of(appends, "du_1")).data["evidence_details"]["past_due"]


@pytest.mark.parametrize("field", sorted(domain.FILE_EVIDENCE_FIELDS))
def test_file_evidence_is_not_supported_yet(field: str) -> None:
    dispute, _, _ = opened()
    error = refusal(lambda: update(dispute, {"evidence": {field: "file_123"}}))
    assert (error.code, error.param) == ("parameter_unsupported", f"evidence[{field}]")


@pytest.mark.parametrize("status", [Status.under_review, Status.won, Status.lost])
def test_closed_or_reviewed_disputes_take_no_submission(status: Status) -> None:
    error = refusal(lambda: update(in_status(status), {"submit": True}))
    assert error.param == "submit"
    assert update(in_status(status), {"submit": False}) == []


# -- close and the deadline ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("origin", "target"),
    [
        (Status.needs_response, Status.lost),
        (Status.warning_needs_response, Status.warning_closed),
    ],
)
def test_close_accepts_the_dispute(origin: Status, target: Status) -> None:
    state = in_status(origin)
    assert evolve_all(state, domain.decide_close(state)).data["status"] == target
    deadline = domain.decide_deadline(state, DUE_BY)
    assert evolve_all(state, deadline).data["status"] == target


@pytest.mark.parametrize("status", sorted(set(Status) - domain.RESPONDABLE))
def test_only_disputes_needing_a_response_can_be_closed(status: Status) -> None:
    error = refusal(lambda: domain.decide_close(in_status(status)))
    assert error.message == (
        f"You cannot close dispute du_1 because it has a status of {status}. Only disputes with "
        "a status of needs_response or warning_needs_response can be closed."
    )
    assert (error.code, error.param, error.http_status) == (None, "dispute", 400)


def test_the_deadline_only_applies_once_due() -> None:
    with pytest.raises(AssertionError):
        domain.decide_deadline(in_status(Status.needs_response), DUE_BY - 1)
    with pytest.raises(AssertionError):
        domain.decide_deadline(in_status(Status.under_review), DUE_BY)


# -- Stripe events ---------------------------------------------------------------------------


def test_stripe_events_of_each_dispute_event() -> None:
    dispute, _, appends = opened()
    (created,) = events_of(appends, "du_1")
    assert [s.type for s in domain.stripe_events(None, dispute, created)] == [
        "charge.dispute.created",
        "charge.dispute.funds_withdrawn",
    ]
    inquiry, _, inquiry_appends = opened("pm_card_createDisputeInquiry")
    (inquiry_created,) = events_of(inquiry_appends, "du_1")
    types = [s.type for s in domain.stripe_events(None, inquiry, inquiry_created)]
    assert types == ["charge.dispute.created"]
    state = dispute
    seen: list[tuple[str, bool]] = []
    for event in events_of(
        update(dispute, {"evidence": {"uncategorized_text": "winning_evidence"}}), "du_1"
    ):
        after = domain.evolve(state, event)
        specs = domain.stripe_events(state, after, event)
        seen.extend((s.type, s.previous_attributes is not None) for s in specs)
        state = after
    assert seen == [
        ("charge.dispute.updated", True),
        ("charge.dispute.funds_reinstated", False),
        ("charge.dispute.closed", False),
    ]
    closed = domain.evolve(dispute, domain.DisputeClosed(status="lost"))
    specs = domain.stripe_events(dispute, closed, domain.DisputeClosed(status="lost"))
    assert [s.type for s in specs] == ["charge.dispute.closed"]


def test_the_charge_announces_no_dispute_of_its_own() -> None:
    charge = make_charge("pm_card_createDispute")
    event = charge_domain.ChargeDisputed(dispute="du_1")
    assert charge_domain.stripe_events(charge, charge_domain.evolve(charge, event), event) == []
