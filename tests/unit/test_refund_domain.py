"""The refund domain without a database: its transitions, Stripe's refusals, money and events."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from ledger.domain import charge as charge_domain
from ledger.domain import dispute as dispute_domain
from ledger.domain import refund as domain
from ledger.domain.aggregate import State
from ledger.domain.balance_transaction import BalanceTransactionCreated
from ledger.domain.events import DomainEvent
from ledger.domain.postings import AVAILABLE, imbalances
from ledger.money import DEFAULT_PRICING
from tests.support.charge_states import ACCOUNT, CREATED, apply, make_charge
from tests.support.refusals import refusal

Status = domain.Status


def context(refund_id: str = "re_1") -> domain.RefundContext:
    return domain.RefundContext(
        account_id=ACCOUNT,
        refund_id=refund_id,
        balance_transaction_id="txn_refund",
        created=CREATED + 60,
        reference="12345678901234567890123",
    )


def refund_events(appends: domain.Appends, stream: str) -> list[DomainEvent]:
    return [event for stream_id, events in appends if stream_id == stream for event in events]


def create(
    charge: State, params: dict[str, Any] | None = None, *, dispute: State | None = None
) -> tuple[State, State, BalanceTransactionCreated]:
    """Refund `charge`; the refund's and the charge's states after, and the balance txn."""
    appends = domain.decide_create(charge, dispute, params or {}, context(), param="charge")
    assert [stream for stream, _ in appends] == ["txn_refund", "re_1", charge.data["id"]]
    (txn,) = refund_events(appends, "txn_refund")
    assert isinstance(txn, BalanceTransactionCreated)
    refund = None
    for event in refund_events(appends, "re_1"):
        refund = domain.evolve(refund, event)
    assert refund is not None
    return refund, apply(charge, refund_events(appends, charge.data["id"])), txn


def refund_in(status: Status, behaviour: str | None = "fails") -> State:
    refund, _, _ = create(make_charge())
    return State(
        data=refund.data | {"status": str(status)},
        internal=refund.internal | {"behaviour": behaviour, "due_at": CREATED},
    )


# -- the transition table --------------------------------------------------------------------


def test_every_status_is_in_the_table() -> None:
    assert set(domain.TRANSITIONS) == set(Status)
    for targets in domain.TRANSITIONS.values():
        assert targets <= set(Status)


def test_terminal_statuses() -> None:
    terminal = {status for status, targets in domain.TRANSITIONS.items() if not targets}
    assert terminal == {Status.failed, Status.canceled}


def test_only_requires_action_can_be_canceled() -> None:
    assert {Status.requires_action} == domain.CANCELABLE
    for status in domain.CANCELABLE:
        assert Status.canceled in domain.TRANSITIONS[status]


def test_counted_statuses_are_those_not_yet_failed_or_canceled() -> None:
    assert set(Status) - {Status.failed, Status.canceled} == domain.COUNTED


# The events that move a refund, and where each one leads.
MOVES: dict[Status, DomainEvent] = {
    Status.succeeded: domain.RefundSucceeded(),
    Status.failed: domain.RefundFailed(
        failure_reason=domain.FAILURE_REASON_CARD, failure_balance_transaction="txn_fail"
    ),
}


@pytest.mark.parametrize(("origin", "target"), list(itertools.product(Status, MOVES)))
def test_each_move_is_allowed_exactly_when_the_table_says(origin: Status, target: Status) -> None:
    state = refund_in(origin)
    if target in domain.TRANSITIONS[origin]:
        after = domain.evolve(state, MOVES[target])
        assert after.data["status"] == target
    else:
        with pytest.raises(AssertionError):
            domain.evolve(state, MOVES[target])


# -- Stripe's refusals -----------------------------------------------------------------------


def test_a_failed_payment_intent_charge_has_nothing_to_refund() -> None:
    charge = make_charge("pm_card_chargeDeclined")
    error = refusal(lambda: domain.check_refundable(charge, None, None, param="payment_intent"))
    assert error.message == "This PaymentIntent (pi_1) does not have a successful charge to refund."
    assert (error.code, error.param, error.http_status) == (None, "payment_intent", 400)


def test_an_uncaptured_payment_intent_is_to_be_canceled_instead() -> None:
    charge = make_charge(capture=False)
    error = refusal(lambda: domain.check_refundable(charge, None, 100))
    assert error.message == (
        "This PaymentIntent (pi_1) does not have a successful charge to refund. To release an "
        "uncaptured payment, cancel the PaymentIntent instead."
    )
    assert (error.code, error.param) == (None, "charge")


def test_a_released_authorization_has_nothing_to_refund() -> None:
    charge = apply(
        make_charge(capture=False),
        charge_domain.decide_release(make_charge(capture=False), expired=False),
    )
    assert charge.data["refunded"]
    error = refusal(lambda: domain.check_refundable(charge, None, None))
    assert error.message == "This PaymentIntent (pi_1) does not have a successful charge to refund."


def test_legacy_charges_that_failed_or_are_uncaptured() -> None:
    failed = make_charge("pm_card_chargeDeclined", payment_intent=None)
    assert refusal(lambda: domain.check_refundable(failed, None, None)).message == (
        "Charge ch_1 has failed and cannot be refunded."
    )
    uncaptured = make_charge(capture=False, payment_intent=None)
    assert refusal(lambda: domain.check_refundable(uncaptured, None, None)).message == (
        "Charge ch_1 has not been captured, so there is nothing to refund."
    )


def test_a_fully_refunded_charge() -> None:
    _, charge, _ = create(make_charge())
    error = refusal(lambda: domain.check_refundable(charge, None, None))
    assert error.message == "Charge ch_1 has already been refunded."
    assert (error.code, error.param) == ("charge_already_refunded", "charge")


def open_dispute(charge: State) -> State:
    context = dispute_domain.DisputeContext(
        ACCOUNT, CREATED, DEFAULT_PRICING, "txn_dispute", "du_1"
    )
    dispute = None
    for event in refund_events(dispute_domain.decide_open(charge, context), "du_1"):
        dispute = dispute_domain.evolve(dispute, event)
    assert dispute is not None
    return dispute


def test_a_charged_back_charge_cannot_be_refunded_even_when_already_refunded() -> None:
    charge = make_charge("pm_card_createDispute")
    dispute = open_dispute(charge)
    error = refusal(lambda: domain.check_refundable(charge, dispute, 100))
    assert error.message == "Charge ch_1 has been charged back; cannot issue a refund."
    assert (error.code, error.param) == ("charge_disputed", "charge")
    _, refunded, _ = create(make_charge("pm_card_createDispute"))
    error = refusal(lambda: domain.check_refundable(refunded, dispute, None))
    assert error.code == "charge_disputed"


def test_an_inquiry_leaves_the_charge_refundable() -> None:
    charge = make_charge("pm_card_createDisputeInquiry")
    inquiry = open_dispute(charge)
    assert inquiry.data["is_charge_refundable"]
    assert domain.check_refundable(charge, inquiry, None) == 2000


@pytest.mark.parametrize(
    ("amount", "message"),
    [
        (2001, "Refund amount ($20.01) is greater than unrefunded amount on charge ($20.00)"),
        (
            10_000_000,
            "Refund amount ($100,000.00) is greater than unrefunded amount on charge ($20.00)",
        ),
    ],
)
def test_over_refund(amount: int, message: str) -> None:
    error = refusal(lambda: domain.check_refundable(make_charge(), None, amount))
    assert error.message == message
    assert (error.code, error.param) == ("amount_too_large", "amount")


def test_over_refund_counts_earlier_refunds_and_the_released_part() -> None:
    charge = make_charge(capture=False)
    charge = apply(charge, charge_domain.decide_capture(charge, 1500, "txn_c"))
    assert charge.data["amount_refunded"] == 500  # the released part
    assert domain.refundable_amount(charge.data) == 1500
    appends = domain.decide_create(charge, None, {"amount": 1000}, context(), param="charge")
    charge = apply(charge, refund_events(appends, "ch_1"))
    assert domain.refundable_amount(charge.data) == 500
    error = refusal(lambda: domain.check_refundable(charge, None, 501))
    assert error.message == (
        "Refund amount ($5.01) is greater than unrefunded amount on charge ($5.00)"
    )


@pytest.mark.parametrize("amount", [0, -5])
def test_the_amount_must_be_positive(amount: int) -> None:
    error = refusal(lambda: domain.check_refundable(make_charge(), None, amount))
    assert (error.message, error.code, error.param) == (
        "Invalid positive integer",
        "parameter_invalid_integer",
        "amount",
    )


def test_one_minor_unit_can_be_refunded() -> None:
    refund, charge, _ = create(make_charge(), {"amount": 1})
    assert refund.data["amount"] == 1 and charge.data["amount_refunded"] == 1


@pytest.mark.parametrize(
    ("param", "message"),
    [
        (
            "refund_application_fee",
            "Charge ch_1 has no application fee to refund: refund_application_fee can only be "
            "used on a charge with an application fee.",
        ),
        (
            "reverse_transfer",
            "Charge ch_1 has no associated transfer to reverse: reverse_transfer can only be used "
            "on a destination charge (a charge with transfer_data).",
        ),
    ],
)
def test_connect_options_need_a_connect_charge(param: str, message: str) -> None:
    error = refusal(lambda: create(make_charge(), {param: True}))
    assert (error.message, error.param, error.code) == (message, param, None)
    # false is always accepted
    refund, _, _ = create(make_charge(), {param: False})
    assert refund.data["status"] == "succeeded"


def test_connect_options_on_a_destination_charge_with_an_application_fee() -> None:
    charge = make_charge(
        transfer_data={"amount": None, "destination": "acct_1Seller"}, application_fee_amount=100
    )
    refund, _, _ = create(charge, {"refund_application_fee": True, "reverse_transfer": True})
    assert refund.data["transfer_reversal"] is None  # Connect transfers do not exist yet


# -- what a refund records -------------------------------------------------------------------


def test_a_full_refund_takes_the_amount_from_the_available_balance_and_keeps_the_fee() -> None:
    charge = make_charge()
    refund, after, txn = create(charge, {"reason": "requested_by_customer", "metadata": {"k": "v"}})
    assert refund.data == {
        "id": "re_1",
        "object": "refund",
        "amount": 2000,
        "balance_transaction": "txn_refund",
        "charge": "ch_1",
        "created": CREATED + 60,
        "currency": "usd",
        "destination_details": {
            "card": {
                "reference": "12345678901234567890123",
                "reference_status": "available",
                "reference_type": "acquirer_reference_number",
                "type": "refund",
            },
            "type": "card",
        },
        "metadata": {"k": "v"},
        "payment_intent": "pi_1",
        "reason": "requested_by_customer",
        "receipt_number": None,
        "source_transfer_reversal": None,
        "status": "succeeded",
        "transfer_reversal": None,
    }
    assert refund.internal == {
        "behaviour": None,
        "reference": "12345678901234567890123",
        "due_at": None,
    }
    bt = txn.balance_transaction
    assert (bt["type"], bt["amount"], bt["fee"], bt["net"]) == ("refund", -2000, 0, -2000)
    assert (bt["fee_details"], bt["status"], bt["reporting_category"]) == (
        [],
        "available",
        "refund",
    )
    assert (bt["available_on"], bt["created"], bt["source"]) == (CREATED + 60, CREATED + 60, "re_1")
    assert imbalances(txn.postings) == {}
    [balance_leg] = [p for p in txn.postings if p.book == ACCOUNT]
    assert (balance_leg.account, balance_leg.amount) == (AVAILABLE, -2000)
    assert (after.data["amount_refunded"], after.data["refunded"]) == (2000, True)


def test_partial_refunds_add_up_to_the_whole() -> None:
    charge = make_charge()
    for amount, refunded in ((500, False), (1000, False), (500, True)):
        appends = domain.decide_create(charge, None, {"amount": amount}, context(), param="charge")
        charge = apply(charge, refund_events(appends, "ch_1"))
        assert charge.data["refunded"] is refunded
    assert charge.data["amount_refunded"] == 2000


def test_a_pending_refund_card() -> None:
    refund, charge, txn = create(make_charge("pm_card_pendingRefund"))
    assert refund.data["status"] == "pending"
    assert refund.data["destination_details"]["card"] == {
        "reference": None,
        "reference_status": "pending",
        "reference_type": None,
        "type": "pending",
    }
    assert refund.internal["due_at"] == CREATED + 60
    assert charge.data["amount_refunded"] == 2000  # a pending refund counts
    assert txn.balance_transaction["amount"] == -2000  # and its money has left
    settled = domain.evolve(refund, *domain.decide_settle(refund))
    assert settled.data["status"] == "succeeded"
    assert settled.data["destination_details"]["card"]["reference"] == "12345678901234567890123"
    assert settled.internal["due_at"] is None


def test_a_failing_refund_card() -> None:
    refund, charge, _ = create(make_charge("pm_card_refundFail"), {"amount": 700})
    assert refund.data["status"] == "succeeded" and refund.internal["due_at"] == CREATED + 60
    appends = domain.decide_fail(refund, ACCOUNT, "txn_fail", CREATED + 120)
    assert [stream for stream, _ in appends] == ["txn_fail", "re_1", "ch_1"]
    (txn,) = refund_events(appends, "txn_fail")
    assert isinstance(txn, BalanceTransactionCreated)
    bt = txn.balance_transaction
    assert (bt["type"], bt["amount"], bt["fee"], bt["net"], bt["status"]) == (
        "refund_failure",
        700,
        0,
        700,
        "available",
    )
    assert (bt["reporting_category"], bt["source"]) == ("refund_failure", "re_1")
    assert imbalances(txn.postings) == {}
    failed = domain.evolve(refund, *refund_events(appends, "re_1"))
    assert failed.data["status"] == "failed"
    assert failed.data["failure_reason"] == "expired_or_canceled_card"
    assert failed.data["failure_balance_transaction"] == "txn_fail"
    assert failed.internal["due_at"] is None
    charge = apply(charge, refund_events(appends, "ch_1"))
    assert (charge.data["amount_refunded"], charge.data["refunded"]) == (0, False)


def test_a_refund_failure_never_returns_more_than_was_refunded() -> None:
    _refund, charge, _ = create(make_charge("pm_card_refundFail"), {"amount": 700})
    with pytest.raises(AssertionError):
        charge_domain.evolve(charge, charge_domain.ChargeRefundFailed(refund="re_1", amount=701))


def test_the_charge_refuses_a_refund_beyond_its_amount() -> None:
    with pytest.raises(AssertionError):
        charge_domain.evolve(
            make_charge(), charge_domain.ChargeRefunded(refund="re_1", amount=2001)
        )
    with pytest.raises(AssertionError):
        charge_domain.evolve(
            make_charge(capture=False), charge_domain.ChargeRefunded(refund="re_1", amount=1)
        )


def test_update_changes_metadata_only_and_nothing_when_nothing_changes() -> None:
    refund, _, _ = create(make_charge(), {"metadata": {"a": "1"}})
    assert domain.decide_update(refund, {"metadata": {"a": "1"}}) == []
    (event,) = domain.decide_update(refund, {"metadata": {"a": "", "b": "2"}})
    assert domain.evolve(refund, event).data["metadata"] == {"b": "2"}


def test_card_refunds_cannot_be_canceled() -> None:
    refund, _, _ = create(make_charge())
    error = refusal(lambda: domain.check_cancelable(refund))
    assert error.message == (
        "You cannot cancel refund re_1 because it has a status of succeeded. Only refunds with "
        "a status of requires_action can be canceled."
    )
    domain.check_cancelable(refund_in(Status.requires_action))  # the one status that can


# -- Stripe events ---------------------------------------------------------------------------


def test_stripe_events_of_each_refund_event() -> None:
    refund, _charge, _ = create(make_charge("pm_card_pendingRefund"))
    created = domain.stripe_events(
        None, refund, domain.RefundCreated(refund=refund.data, internal={})
    )
    assert [spec.type for spec in created] == ["refund.created"]
    settled = domain.evolve(refund, domain.RefundSucceeded())
    specs = domain.stripe_events(refund, settled, domain.RefundSucceeded())
    assert [spec.type for spec in specs] == ["charge.refund.updated", "refund.updated"]
    assert specs[0].previous_attributes is not None
    assert specs[0].previous_attributes["status"] == "pending"
    failing = refund_in(Status.succeeded)
    event = MOVES[Status.failed]
    failed = domain.evolve(failing, event)
    types = [spec.type for spec in domain.stripe_events(failing, failed, event)]
    assert types == ["charge.refund.updated", "refund.updated", "refund.failed"]


def test_the_charge_announces_a_refund_with_what_changed() -> None:
    charge = make_charge()
    event = charge_domain.ChargeRefunded(refund="re_1", amount=500)
    after = charge_domain.evolve(charge, event)
    (spec,) = charge_domain.stripe_events(charge, after, event)
    assert spec.type == "charge.refunded"
    assert spec.previous_attributes == {"amount_refunded": 0}
    event_failed = charge_domain.ChargeRefundFailed(refund="re_1", amount=500)
    assert (
        charge_domain.stripe_events(after, charge_domain.evolve(after, event_failed), event_failed)
        == []
    )
