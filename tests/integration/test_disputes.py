"""Disputes on PostgreSQL: opened by the test cards, evidence, outcomes, deadline, money, events.

Every response is checked against Stripe's schema; after every test the postings sum to zero
and the audit (replay, balances, amount_refunded = Σ refunds) passes.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from ledger import FrozenClock, IdempotencyError, InvalidRequestError, Ledger
from ledger.domain.dispute import EVIDENCE_FIELDS
from ledger.money import Pricing
from tests.support.accounts import connected_account
from tests.support.payments import (  # the fixtures are used through pytestmark
    all_events,
    audited,  # noqa: F401
    balance,
    books_balance,  # noqa: F401
    confirmed,
    counts,
    event_types,
    refused,
)
from tests.support.stripe_schema import assert_valid

pytestmark = pytest.mark.usefixtures("books_balance", "audited")

NOW = 1_732_104_000  # the clock fixture: Wednesday 2024-11-20 12:00 UTC
DUE_BY = int(datetime(2024, 11, 27, 23, 59, 59, tzinfo=UTC).timestamp())
WIN = {"uncategorized_text": "winning_evidence"}
LOSE = {"uncategorized_text": "losing_evidence"}


def disputed(
    led: Ledger, payment_method: str = "pm_card_createDispute", **params: Any
) -> tuple[Any, Any]:
    """A $20.00 payment with `payment_method` and the dispute it brings: (intent, dispute)."""
    intent = confirmed(led, payment_method, **params)
    account = {k: v for k, v in params.items() if k == "stripe_account"}
    # Opened by due work, not by the payment's own request.
    assert led.disputes.list(payment_intent=intent.id, **account).data == []
    assert led.run_due() == 1
    (dispute,) = led.disputes.list(payment_intent=intent.id, **account).data
    return intent, dispute


def dispute_events(led: Ledger, **params: Any) -> list[str]:
    return event_types(led, type="charge.dispute.*", **params)


# -- opening ---------------------------------------------------------------------------------


def test_a_chargeback_withdraws_the_amount_and_the_dispute_fee(led: Ledger) -> None:
    intent, dispute = disputed(led)
    charge = led.charges.retrieve(intent.latest_charge)
    assert dispute.id.startswith("du_")
    assert (dispute.status, dispute.reason, dispute.amount, dispute.currency) == (
        "needs_response",
        "fraudulent",
        2000,
        "usd",
    )
    assert (dispute.charge, dispute.payment_intent) == (charge.id, intent.id)
    assert dispute.created == NOW and dispute.is_charge_refundable is False
    assert dispute.evidence_details.to_dict() == {
        "due_by": DUE_BY,
        "enhanced_eligibility": {},
        "has_evidence": False,
        "past_due": False,
        "submission_count": 0,
    }
    assert dispute.evidence.to_dict() == dict.fromkeys(EVIDENCE_FIELDS) | {"enhanced_evidence": {}}
    assert dispute.payment_method_details.to_dict() == {
        "card": {"brand": "visa", "case_type": "chargeback", "network_reason_code": "10.4"},
        "type": "card",
    }
    (withdrawal,) = dispute.balance_transactions
    assert (withdrawal.type, withdrawal.amount, withdrawal.fee, withdrawal.net) == (
        "adjustment",
        -2000,
        1500,
        -3500,
    )
    assert (withdrawal.reporting_category, withdrawal.source, withdrawal.status) == (
        "dispute",
        dispute.id,
        "available",
    )
    assert withdrawal.fee_details[0].to_dict() == {
        "amount": 1500,
        "application": None,
        "currency": "usd",
        "description": "Dispute fee",
        "type": "stripe_fee",
    }
    stored = led.balance_transactions.retrieve(withdrawal.id)
    assert stored.to_dict() == withdrawal.to_dict()
    assert charge.disputed is True and charge.refunded is False
    assert balance(led) == (-3500, 1912)
    assert dispute_events(led) == ["charge.dispute.created", "charge.dispute.funds_withdrawn"]
    events = all_events(led, type="charge.dispute.*")
    assert all(e.data.object.to_dict() == dispute.to_dict() for e in events)
    assert all(e.request.id is None and e.created == NOW for e in events)
    assert led.disputes.retrieve(dispute.id).to_dict() == dispute.to_dict()
    assert led.run_due() == 0  # opened once


def test_product_not_received(led: Ledger) -> None:
    _, dispute = disputed(led, "pm_card_createDisputeProductNotReceived")
    assert (dispute.reason, dispute.status) == ("product_not_received", "needs_response")
    assert dispute.payment_method_details.card.network_reason_code == "13.1"


def test_a_manual_capture_is_disputed_when_captured(led: Ledger, clock: FrozenClock) -> None:
    intent = confirmed(led, "pm_card_createDispute", capture_method="manual")
    assert led.run_due() == 0  # an authorization alone is never disputed
    clock.advance(timedelta(hours=2))
    led.payment_intents.capture(intent.id, amount_to_capture=1200)
    clock.advance(timedelta(hours=1))
    assert led.run_due() == 1
    (dispute,) = led.disputes.list().data
    assert (dispute.amount, dispute.created) == (1200, NOW + 7200)


def test_a_fully_refunded_charge_is_never_disputed(led: Ledger) -> None:
    intent = confirmed(led, "pm_card_createDispute")
    led.refunds.create(payment_intent=intent.id)
    assert led.run_due() == 0
    assert led.disputes.list().data == []
    assert led.charges.retrieve(intent.latest_charge).disputed is False


def test_the_fee_follows_the_ledgers_pricing(database_url: str, clock: FrozenClock) -> None:
    with Ledger.open(
        database_url, clock=clock, migrate=False, pricing=Pricing(dispute_fee_amount={"usd": 2500})
    ) as custom:
        intent = confirmed(custom, "pm_card_createDispute")
        assert custom.run_due() == 1
        (dispute,) = custom.disputes.list(payment_intent=intent.id).data
        assert (dispute.balance_transactions[0].fee, dispute.balance_transactions[0].net) == (
            2500,
            -4500,
        )
        won = custom.disputes.update(dispute.id, evidence=WIN)
        assert won.balance_transactions[1].net == 4500
        assert custom.audit().ok


# -- evidence and outcomes -------------------------------------------------------------------


def test_winning_evidence_wins_and_reinstates_amount_and_fee(led: Ledger) -> None:
    intent, dispute = disputed(led)
    won = led.disputes.update(dispute.id, evidence=WIN | {"customer_name": "Jenny Rosen"})
    assert won.status == "won"
    assert won.evidence.customer_name == "Jenny Rosen"
    assert won.evidence_details.has_evidence is True
    assert won.evidence_details.submission_count == 1
    withdrawal, reinstatement = won.balance_transactions
    assert (reinstatement.type, reinstatement.amount, reinstatement.fee, reinstatement.net) == (
        "adjustment",
        2000,
        -1500,
        3500,
    )
    assert reinstatement.reporting_category == "dispute_reversal"
    assert reinstatement.fee_details[0].amount == -1500
    assert balance(led) == (0, 1912)
    assert dispute_events(led) == [
        "charge.dispute.created",
        "charge.dispute.funds_withdrawn",
        "charge.dispute.updated",
        "charge.dispute.funds_reinstated",
        "charge.dispute.closed",
    ]
    updated = all_events(led, type="charge.dispute.updated")[0]
    assert updated.data.object.status == "under_review"
    assert updated.data.previous_attributes.status == "needs_response"
    assert won.last_response is not None
    assert updated.request.id == won.last_response.request_id
    txns = led.balance_transactions.list(type="adjustment").data
    assert [t.id for t in txns] == [reinstatement.id, withdrawal.id]
    charge = led.charges.retrieve(intent.latest_charge)
    assert charge.disputed is True and charge.amount_refunded == 0


def test_losing_evidence_loses_and_keeps_the_money_withdrawn(led: Ledger) -> None:
    _, dispute = disputed(led)
    lost = led.disputes.update(dispute.id, evidence=LOSE)
    assert (lost.status, len(lost.balance_transactions)) == ("lost", 1)
    assert balance(led) == (-3500, 1912)
    assert dispute_events(led)[-2:] == ["charge.dispute.updated", "charge.dispute.closed"]


def test_staged_evidence_then_submit(led: Ledger) -> None:
    _, dispute = disputed(led)
    staged = led.disputes.update(
        dispute.id, evidence={"product_description": "A mug", **WIN}, submit=False
    )
    assert staged.status == "needs_response"
    assert staged.evidence_details.has_evidence is True
    assert staged.evidence_details.submission_count == 0
    assert led.disputes.update(dispute.id, submit=True).status == "won"


def test_other_evidence_stays_under_review_past_the_deadline(
    led: Ledger, clock: FrozenClock
) -> None:
    _, dispute = disputed(led)
    reviewed = led.disputes.update(dispute.id, evidence={"product_description": "A mug"})
    assert reviewed.status == "under_review"
    clock.advance(timedelta(days=30))
    assert led.run_due() == 1  # only the charge's funds becoming available
    assert led.disputes.retrieve(dispute.id).status == "under_review"
    assert balance(led) == (1912 - 3500, 0)


def test_metadata_updates_never_submit(led: Ledger) -> None:
    _, dispute = disputed(led)
    updated = led.disputes.update(dispute.id, metadata={"case": "7"})
    assert (updated.status, updated.metadata.to_dict()) == ("needs_response", {"case": "7"})
    event = all_events(led, type="charge.dispute.updated")[-1]
    assert event.data.previous_attributes.to_dict() == {"metadata": {"case": None}}


def test_close_accepts_the_dispute(led: Ledger, database_url: str) -> None:
    _, dispute = disputed(led)
    closed = led.disputes.close(dispute.id)
    assert closed.status == "lost"
    assert balance(led) == (-3500, 1912)
    assert dispute_events(led)[-1] == "charge.dispute.closed"
    refused(
        database_url,
        lambda: led.disputes.close(dispute.id),
        InvalidRequestError,
        code=None,
        param="dispute",
        http_status=400,
        message=f"You cannot close dispute {dispute.id} because it has a status of lost. Only "
        "disputes with a status of needs_response or warning_needs_response can be closed.",
    )
    refused(
        database_url,
        lambda: led.disputes.update(dispute.id, evidence=WIN),
        InvalidRequestError,
        code=None,
        param="evidence",
        http_status=400,
    )
    # Metadata can still change on a closed dispute.
    assert led.disputes.update(dispute.id, metadata={"k": "v"}).metadata.k == "v"


def test_the_deadline_loses_an_unanswered_dispute(led: Ledger, clock: FrozenClock) -> None:
    _, dispute = disputed(led)
    led.disputes.update(dispute.id, evidence={"customer_name": "Jenny"}, submit=False)
    clock.set(datetime.fromtimestamp(DUE_BY - 1, UTC))
    assert led.run_due() == 1  # the charge's funds became available; the deadline is not due
    assert led.disputes.retrieve(dispute.id).status == "needs_response"
    clock.advance(timedelta(seconds=1))
    assert led.run_due() == 1
    lost = led.disputes.retrieve(dispute.id)
    assert lost.status == "lost"
    # Stripe: past_due tells whether the last *submission* was late; nothing was submitted.
    assert (lost.evidence_details.past_due, lost.evidence_details.submission_count) == (False, 0)
    closed = all_events(led, type="charge.dispute.closed")[-1]
    assert closed.created == DUE_BY and closed.request.id is None
    assert balance(led) == (1912 - 3500, 0)


def test_a_late_submission_is_past_due(led: Ledger, clock: FrozenClock) -> None:
    _, dispute = disputed(led)
    clock.set(datetime.fromtimestamp(DUE_BY + 60, UTC))
    # Submitted before the ledger ran its due work: accepted, and marked past due.
    late = led.disputes.update(dispute.id, evidence=WIN)
    assert late.status == "won" and late.evidence_details.past_due is True


def test_the_deadline_follows_the_customers_test_clock(led: Ledger, clock: FrozenClock) -> None:
    test_clock = led.test_helpers.test_clocks.create(frozen_time=NOW)
    customer = led.customers.create(test_clock=test_clock.id)
    intent = confirmed(led, "pm_card_createDispute", customer=customer.id)
    assert led.run_due() == 0  # the ledger's clock does not move this customer's objects
    led.test_helpers.test_clocks.advance(test_clock.id, frozen_time=NOW + 60)
    (dispute,) = led.disputes.list(payment_intent=intent.id).data
    assert dispute.status == "needs_response"
    clock.advance(timedelta(days=30))
    led.run_due()
    assert led.disputes.retrieve(dispute.id).status == "needs_response"
    led.test_helpers.test_clocks.advance(test_clock.id, frozen_time=DUE_BY)
    assert led.disputes.retrieve(dispute.id).status == "lost"


# -- inquiries -------------------------------------------------------------------------------


def test_an_inquiry_moves_no_money_and_leaves_the_charge_refundable(led: Ledger) -> None:
    intent, inquiry = disputed(led, "pm_card_createDisputeInquiry")
    assert (inquiry.status, inquiry.reason) == ("warning_needs_response", "general")
    assert inquiry.is_charge_refundable is True and inquiry.balance_transactions == []
    assert inquiry.payment_method_details.card.case_type == "inquiry"
    assert led.charges.retrieve(intent.latest_charge).disputed is True
    assert balance(led) == (0, 1912)
    assert dispute_events(led) == ["charge.dispute.created"]
    refund = led.refunds.create(payment_intent=intent.id, amount=500)
    assert refund.status == "succeeded"
    assert balance(led) == (-500, 1912)
    closed = led.disputes.update(inquiry.id, evidence=WIN)
    assert closed.status == "warning_closed"
    assert dispute_events(led)[-2:] == ["charge.dispute.updated", "charge.dispute.closed"]
    assert balance(led) == (-500, 1912)


def test_an_inquiry_under_review_and_closed(led: Ledger) -> None:
    _, inquiry = disputed(led, "pm_card_createDisputeInquiry")
    reviewed = led.disputes.update(inquiry.id, evidence={"product_description": "A mug"})
    assert reviewed.status == "warning_under_review"
    _, other = disputed(led, "pm_card_createDisputeInquiry")
    assert led.disputes.close(other.id).status == "warning_closed"


def test_an_unanswered_inquiry_closes_at_the_deadline(led: Ledger, clock: FrozenClock) -> None:
    _, inquiry = disputed(led, "pm_card_createDisputeInquiry")
    clock.set(datetime.fromtimestamp(DUE_BY, UTC))
    led.run_due()
    assert led.disputes.retrieve(inquiry.id).status == "warning_closed"
    assert balance(led) == (1912, 0)


# -- lists, idempotency, accounts, bad input -------------------------------------------------


def test_list_filters_and_expand(led: Ledger, clock: FrozenClock) -> None:
    first, a = disputed(led)
    clock.advance(timedelta(seconds=10))
    _, b = disputed(led, "pm_card_createDisputeInquiry")
    assert [d.id for d in led.disputes.list().data] == [b.id, a.id]
    assert [d.id for d in led.disputes.list(charge=first.latest_charge).data] == [a.id]
    assert [d.id for d in led.disputes.list(created={"gt": NOW}).data] == [b.id]
    assert [d.id for d in led.disputes.list(limit=1).auto_paging_iter()] == [b.id, a.id]
    expanded = led.disputes.retrieve(a.id, expand=["charge", "payment_intent"])
    assert expanded.charge.id == first.latest_charge and expanded.payment_intent.id == first.id
    assert_valid(expanded, expand=["charge", "payment_intent"])


def test_a_replayed_update_appends_nothing(led: Ledger, database_url: str) -> None:
    _, dispute = disputed(led)
    first = led.disputes.update(dispute.id, evidence=WIN, idempotency_key="evidence-1")
    before = counts(database_url)
    again = led.disputes.update(dispute.id, evidence=WIN, idempotency_key="evidence-1")
    assert again.to_dict() == first.to_dict()
    assert again.last_response is not None and again.last_response.idempotent_replayed
    assert counts(database_url) == before
    with pytest.raises(IdempotencyError):
        led.disputes.update(dispute.id, evidence=LOSE, idempotency_key="evidence-1")
    assert balance(led) == (0, 1912)


def test_connected_accounts_have_their_own_disputes(led: Ledger, database_url: str) -> None:
    connected = connected_account(led)
    _, theirs = disputed(led, stripe_account=connected)
    for call in (
        lambda: led.disputes.retrieve(theirs.id),
        lambda: led.disputes.update(theirs.id, evidence=WIN),
        lambda: led.disputes.close(theirs.id),
    ):
        refused(
            database_url,
            call,
            InvalidRequestError,
            code="resource_missing",
            param="id",
            http_status=404,
            message=f"No such dispute: '{theirs.id}'",
        )
    assert led.disputes.list().data == []
    assert balance(led) == (0, 0)
    assert balance(led, stripe_account=connected) == (-3500, 1912)
    won = led.disputes.update(theirs.id, evidence=WIN, stripe_account=connected)
    assert won.status == "won"
    assert balance(led, stripe_account=connected) == (0, 1912)
    events = all_events(led, stripe_account=connected, type="charge.dispute.*")
    assert {e.account for e in events} == {connected} and len(events) == 5


@pytest.mark.parametrize(
    ("params", "code", "param"),
    [
        ({"evidence": {"colour": "red"}}, "parameter_unknown", "evidence[colour]"),
        ({"evidence": {"receipt": "file_123"}}, "parameter_unsupported", "evidence[receipt]"),
        ({"evidence": {"uncategorized_text": 5}}, None, "evidence[uncategorized_text]"),
        ({"submit": "yes"}, None, "submit"),
        ({"amount": 5}, "parameter_unknown", "amount"),
        (
            {"metadata": {"k" * 41: "v"}},
            "parameter_invalid_string_too_long",
            f"metadata[{'k' * 41}]",
        ),
    ],
)
def test_bad_updates_are_refused_and_write_nothing(
    led: Ledger, database_url: str, params: dict[str, Any], code: str | None, param: str
) -> None:
    _, dispute = disputed(led)
    refused(
        database_url,
        lambda: led.disputes.update(dispute.id, **params),
        InvalidRequestError,
        code=code,
        param=param,
        http_status=400,
    )


def test_missing_disputes(led: Ledger, database_url: str) -> None:
    for call in (
        lambda: led.disputes.retrieve("du_missing"),
        lambda: led.disputes.update("du_missing", metadata={"a": "b"}),
        lambda: led.disputes.close("du_missing"),
    ):
        refused(
            database_url,
            call,
            InvalidRequestError,
            code="resource_missing",
            param="id",
            http_status=404,
            message="No such dispute: 'du_missing'",
        )


def test_rebuild_reproduces_disputes_exactly(led: Ledger, clock: FrozenClock) -> None:
    _, won = disputed(led)
    led.disputes.update(won.id, evidence=WIN, metadata={"a": "b"})
    disputed(led, "pm_card_createDisputeInquiry")
    _, late = disputed(led)
    clock.advance(timedelta(days=8))
    led.run_due()
    assert led.disputes.retrieve(late.id).status == "lost"
    before = [d.to_dict() for d in led.disputes.list().data]
    events = [e.to_dict() for e in all_events(led)]
    led.rebuild()
    assert [d.to_dict() for d in led.disputes.list().data] == before
    assert [e.to_dict() for e in all_events(led)] == events
