"""Refunds on PostgreSQL: full and partial, the test cards' slow and failing refunds, money, events.

Every response is checked against Stripe's schema; after every test the postings sum to zero
and the audit (replay, balances, amount_refunded = Σ refunds) passes.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import pytest

from ledger import CardError, FrozenClock, IdempotencyError, InvalidRequestError, Ledger
from ledger.testing import ReferenceModel
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

NOW = 1_732_104_000  # the clock fixture: 2024-11-20 12:00 UTC
RACERS = 6


def paid_charge(led: Ledger, payment_method: str = "pm_card_visa", **params: Any) -> Any:
    """The charge of a $20.00 payment (fee 88, net 1912, pending) with `payment_method`."""
    intent = confirmed(led, payment_method, **params)
    account = {k: v for k, v in params.items() if k == "stripe_account"}
    return led.charges.retrieve(intent.latest_charge, **account)


def refund_txn(led: Ledger, refund: Any, **params: Any) -> Any:
    txn = led.balance_transactions.retrieve(refund.balance_transaction, **params)
    assert_valid(txn)
    return txn


# -- full and partial refunds ----------------------------------------------------------------


def test_a_full_refund_comes_out_of_the_available_balance_and_stripe_keeps_its_fee(
    led: Ledger,
) -> None:
    charge = paid_charge(led)
    assert balance(led) == (0, 1912)
    refund = led.refunds.create(charge=charge.id, reason="requested_by_customer")
    assert (refund.object, refund.status, refund.amount, refund.currency) == (
        "refund",
        "succeeded",
        2000,
        "usd",
    )
    assert refund.id.startswith("re_") and refund.created == NOW
    assert (refund.charge, refund.payment_intent) == (charge.id, charge.payment_intent)
    assert refund.reason == "requested_by_customer" and refund.metadata.to_dict() == {}
    assert refund.destination_details.type == "card"
    card = refund.destination_details.card
    assert (card.type, card.reference_status, card.reference_type) == (
        "refund",
        "available",
        "acquirer_reference_number",
    )
    assert len(card.reference) == 23 and card.reference.isdigit()
    assert refund.receipt_number is None and refund.transfer_reversal is None
    assert "failure_reason" not in refund

    txn = refund_txn(led, refund)
    assert (txn.type, txn.amount, txn.fee, txn.net) == ("refund", -2000, 0, -2000)
    assert (txn.status, txn.available_on, txn.created) == ("available", NOW, NOW)
    assert (txn.reporting_category, txn.source, txn.fee_details) == ("refund", refund.id, [])

    after = led.charges.retrieve(charge.id, expand=["balance_transaction"])
    assert (after.amount_refunded, after.refunded, after.captured) == (2000, True, True)
    assert after.balance_transaction.fee == 88  # Stripe keeps the charge's fee
    assert balance(led) == (-2000, 1912)
    assert led.refunds.retrieve(refund.id).to_dict() == refund.to_dict()

    events = all_events(led)
    assert [e.type for e in events][-2:] == ["refund.created", "charge.refunded"]
    assert events[-2].data.object.to_dict() == refund.to_dict()
    charge_refunded = events[-1]
    assert charge_refunded.data.object.amount_refunded == 2000
    assert charge_refunded.data.previous_attributes.to_dict() == {
        "amount_refunded": 0,
        "refunded": False,
    }
    assert refund.last_response is not None
    assert charge_refunded.request.id == refund.last_response.request_id


def test_partial_refunds_up_to_the_whole_charge(led: Ledger, database_url: str) -> None:
    charge = paid_charge(led, "pm_card_bypassPending")
    assert balance(led) == (1912, 0)
    refunds = []
    for amount, refunded, available in ((500, False, 1412), (700, False, 712), (800, True, -88)):
        refunds.append(led.refunds.create(charge=charge.id, amount=amount))
        after = led.charges.retrieve(charge.id)
        assert (after.amount_refunded, after.refunded) == (sum(r.amount for r in refunds), refunded)
        assert balance(led) == (available, 0)
    assert led.charges.retrieve(charge.id).amount_refunded == 2000
    listed = led.refunds.list(charge=charge.id)
    assert [r.id for r in listed.data] == [r.id for r in reversed(refunds)]
    charge_refunded = [e for e in all_events(led) if e.type == "charge.refunded"]
    assert [e.data.previous_attributes.amount_refunded for e in charge_refunded] == [0, 500, 1200]
    refused(
        database_url,
        lambda: led.refunds.create(charge=charge.id, amount=1),
        InvalidRequestError,
        code="charge_already_refunded",
        param="charge",
        http_status=400,
        message=f"Charge {charge.id} has already been refunded.",
    )


def test_a_refund_without_an_amount_refunds_what_is_left(led: Ledger) -> None:
    charge = paid_charge(led)
    led.refunds.create(charge=charge.id, amount=1234)
    rest = led.refunds.create(charge=charge.id)
    assert rest.amount == 766
    assert led.charges.retrieve(charge.id).refunded is True


def test_over_refund_is_refused_and_writes_nothing(led: Ledger, database_url: str) -> None:
    charge = paid_charge(led)
    led.refunds.create(charge=charge.id, amount=1500)
    refused(
        database_url,
        lambda: led.refunds.create(charge=charge.id, amount=600),
        InvalidRequestError,
        code="amount_too_large",
        param="amount",
        http_status=400,
        message="Refund amount ($6.00) is greater than unrefunded amount on charge ($5.00)",
    )
    refused(
        database_url,
        lambda: led.refunds.create(charge=charge.id, amount=0),
        InvalidRequestError,
        code="parameter_invalid_integer",
        param="amount",
        http_status=400,
        message="Invalid positive integer",
    )
    assert led.charges.retrieve(charge.id).amount_refunded == 1500


def test_a_partially_captured_charge_refunds_only_what_was_captured(
    led: Ledger, database_url: str
) -> None:
    intent = confirmed(led, capture_method="manual")
    led.payment_intents.capture(intent.id, amount_to_capture=1500)
    charge = led.charges.retrieve(intent.latest_charge)
    assert charge.amount_refunded == 500  # the released part
    refused(
        database_url,
        lambda: led.refunds.create(payment_intent=intent.id, amount=1501),
        InvalidRequestError,
        code="amount_too_large",
        param="amount",
        http_status=400,
        message="Refund amount ($15.01) is greater than unrefunded amount on charge ($15.00)",
    )
    refund = led.refunds.create(payment_intent=intent.id)
    assert refund.amount == 1500
    after = led.charges.retrieve(charge.id)
    assert (after.amount_refunded, after.refunded) == (2000, True)


# -- by PaymentIntent, and charges that cannot be refunded -----------------------------------


def test_refund_by_payment_intent_refunds_its_latest_charge(led: Ledger) -> None:
    with pytest.raises(CardError) as caught:
        confirmed(led, "pm_card_chargeDeclined")
    assert caught.value.payment_intent is not None
    intent_id = caught.value.payment_intent["id"]
    paid = led.payment_intents.confirm(intent_id, payment_method="pm_card_visa")
    refund = led.refunds.create(payment_intent=intent_id, amount=300, metadata={"order": "6735"})
    assert (refund.charge, refund.payment_intent) == (paid.latest_charge, intent_id)
    assert refund.metadata.to_dict() == {"order": "6735"}
    assert [r.id for r in led.refunds.list(payment_intent=intent_id).data] == [refund.id]
    both = led.refunds.create(payment_intent=intent_id, charge=paid.latest_charge, amount=200)
    assert both.charge == paid.latest_charge
    assert led.charges.retrieve(paid.latest_charge).amount_refunded == 500


def test_an_uncaptured_payment_intent_must_be_canceled_instead(
    led: Ledger, database_url: str
) -> None:
    intent = confirmed(led, capture_method="manual")
    message = (
        f"This PaymentIntent ({intent.id}) does not have a successful charge to refund. To "
        "release an uncaptured payment, cancel the PaymentIntent instead."
    )
    for params, param in (
        ({"payment_intent": intent.id}, "payment_intent"),
        ({"charge": intent.latest_charge}, "charge"),
    ):
        refused(
            database_url,
            lambda params=params: led.refunds.create(**params),  # type: ignore[misc]
            InvalidRequestError,
            code=None,
            param=param,
            http_status=400,
            message=message,
        )
    canceled = led.payment_intents.cancel(intent.id)
    assert canceled.status == "canceled"
    refused(
        database_url,
        lambda: led.refunds.create(payment_intent=intent.id),
        InvalidRequestError,
        code=None,
        param="payment_intent",
        http_status=400,
        message=f"This PaymentIntent ({intent.id}) does not have a successful charge to refund.",
    )


def test_a_failed_charge_cannot_be_refunded(led: Ledger, database_url: str) -> None:
    with pytest.raises(CardError) as caught:
        confirmed(led, "pm_card_chargeDeclinedInsufficientFunds")
    assert caught.value.payment_intent is not None
    intent_id = caught.value.payment_intent["id"]
    refused(
        database_url,
        lambda: led.refunds.create(payment_intent=intent_id),
        InvalidRequestError,
        code=None,
        param="payment_intent",
        http_status=400,
        message=f"This PaymentIntent ({intent_id}) does not have a successful charge to refund.",
    )
    with pytest.raises(CardError) as legacy:
        led.charges.create(amount=2000, currency="usd", source="tok_chargeDeclined")
    failed = legacy.value.charge
    assert failed is not None
    refused(
        database_url,
        lambda: led.refunds.create(charge=failed),
        InvalidRequestError,
        code=None,
        param="charge",
        http_status=400,
        message=f"Charge {failed} has failed and cannot be refunded.",
    )
    fresh = led.payment_intents.create(amount=1000, currency="usd", payment_method_types=["card"])
    refused(
        database_url,
        lambda: led.refunds.create(payment_intent=fresh.id),
        InvalidRequestError,
        code=None,
        param="payment_intent",
        http_status=400,
        message=f"This PaymentIntent ({fresh.id}) does not have a successful charge to refund.",
    )


def test_legacy_charges_refund_like_payment_intents(led: Ledger, database_url: str) -> None:
    charge = led.charges.create(amount=2000, currency="usd", source="tok_visa")
    refund = led.refunds.create(charge=charge.id, amount=1000)
    assert (refund.payment_intent, refund.amount) == (None, 1000)
    held = led.charges.create(amount=2000, currency="usd", source="tok_visa", capture=False)
    refused(
        database_url,
        lambda: led.refunds.create(charge=held.id),
        InvalidRequestError,
        code=None,
        param="charge",
        http_status=400,
        message=f"Charge {held.id} has not been captured, so there is nothing to refund.",
    )


def test_a_charged_back_charge_cannot_be_refunded(led: Ledger, database_url: str) -> None:
    charge = paid_charge(led, "pm_card_createDispute")
    assert led.run_due() == 1  # the dispute opens
    refused(
        database_url,
        lambda: led.refunds.create(charge=charge.id, amount=100),
        InvalidRequestError,
        code="charge_disputed",
        param="charge",
        http_status=400,
        message=f"Charge {charge.id} has been charged back; cannot issue a refund.",
    )


def test_a_refund_before_the_dispute_opens_is_allowed(led: Ledger) -> None:
    charge = paid_charge(led, "pm_card_createDispute")
    led.refunds.create(charge=charge.id, amount=500)
    assert led.run_due() == 1
    (dispute,) = led.disputes.list().data
    assert dispute.amount == 1500  # what was not refunded


# -- the refund test cards -------------------------------------------------------------------


def test_a_pending_refund_succeeds_when_due_work_runs(led: Ledger, clock: FrozenClock) -> None:
    charge = paid_charge(led, "pm_card_pendingRefund")
    refund = led.refunds.create(charge=charge.id)
    assert refund.status == "pending"
    assert refund.destination_details.card.to_dict() == {
        "reference": None,
        "reference_status": "pending",
        "reference_type": None,
        "type": "pending",
    }
    assert led.charges.retrieve(charge.id).amount_refunded == 2000
    assert balance(led) == (-2000, 1912)  # the money left when the refund was made
    clock.advance(timedelta(minutes=1))
    assert led.run_due() == 1
    settled = led.refunds.retrieve(refund.id)
    assert settled.status == "succeeded"
    assert settled.destination_details.card.reference_status == "available"
    assert balance(led) == (-2000, 1912)
    events = all_events(led)
    assert [e.type for e in events][-2:] == ["charge.refund.updated", "refund.updated"]
    assert events[-1].data.previous_attributes.status == "pending"
    assert events[-1].created == NOW  # it fell due when the refund was made
    assert events[-1].request.id is None
    assert led.run_due() == 0


def test_a_failing_refund_gives_the_money_back(led: Ledger) -> None:
    charge = paid_charge(led, "pm_card_refundFail")
    refund = led.refunds.create(charge=charge.id, amount=1500)
    assert refund.status == "succeeded"
    assert balance(led) == (-1500, 1912)
    assert led.run_due() == 1
    failed = led.refunds.retrieve(refund.id, expand=["failure_balance_transaction"])
    assert (failed.status, failed.failure_reason) == ("failed", "expired_or_canceled_card")
    txn = failed.failure_balance_transaction
    assert (txn.type, txn.amount, txn.fee, txn.net, txn.status) == (
        "refund_failure",
        1500,
        0,
        1500,
        "available",
    )
    assert (txn.reporting_category, txn.source) == ("refund_failure", refund.id)
    after = led.charges.retrieve(charge.id)
    assert (after.amount_refunded, after.refunded) == (0, False)
    assert balance(led) == (0, 1912)
    assert event_types(led)[-3:] == ["charge.refund.updated", "refund.updated", "refund.failed"]
    # The charge can be refunded again; that refund fails too.
    again = led.refunds.create(charge=charge.id)
    assert again.amount == 2000
    assert led.run_due() == 1
    assert led.refunds.retrieve(again.id).status == "failed"
    assert balance(led) == (0, 1912)


def test_refunds_of_a_test_clock_customer_settle_with_its_clock(led: Ledger) -> None:
    test_clock = led.test_helpers.test_clocks.create(frozen_time=NOW)
    customer = led.customers.create(test_clock=test_clock.id)
    intent = confirmed(led, "pm_card_pendingRefund", customer=customer.id)
    refund = led.refunds.create(payment_intent=intent.id)
    assert refund.status == "pending"
    assert led.run_due() == 0  # the ledger's clock does not move this customer's objects
    led.test_helpers.test_clocks.advance(test_clock.id, frozen_time=NOW + 3600)
    assert led.refunds.retrieve(refund.id).status == "succeeded"


# -- update, cancel, list, expand ------------------------------------------------------------


def test_update_changes_metadata_and_announces_it(led: Ledger) -> None:
    charge = paid_charge(led)
    refund = led.refunds.create(charge=charge.id, metadata={"a": "1", "b": "2"})
    updated = led.refunds.update(refund.id, metadata={"a": "", "c": "3"})
    assert updated.metadata.to_dict() == {"b": "2", "c": "3"}
    events = all_events(led)
    assert [e.type for e in events][-2:] == ["charge.refund.updated", "refund.updated"]
    assert events[-1].data.previous_attributes.to_dict() == {"metadata": {"a": "1", "c": None}}
    before = len(events)
    assert led.refunds.update(refund.id, metadata={"b": "2"}).to_dict() == updated.to_dict()
    assert len(all_events(led)) == before  # nothing changed, nothing announced


def test_card_refunds_cannot_be_canceled(led: Ledger, database_url: str) -> None:
    refund = led.refunds.create(charge=paid_charge(led).id)
    refused(
        database_url,
        lambda: led.refunds.cancel(refund.id),
        InvalidRequestError,
        code=None,
        param="refund",
        http_status=400,
        message=f"You cannot cancel refund {refund.id} because it has a status of succeeded. "
        "Only refunds with a status of requires_action can be canceled.",
    )


def test_list_filters_and_pages(led: Ledger, clock: FrozenClock) -> None:
    first = paid_charge(led)
    a = led.refunds.create(charge=first.id, amount=100)
    clock.advance(timedelta(seconds=10))
    second = paid_charge(led)
    b = led.refunds.create(charge=second.id, amount=100)
    c = led.refunds.create(charge=second.id, amount=100)
    assert [r.id for r in led.refunds.list().data] == [c.id, b.id, a.id]
    assert [r.id for r in led.refunds.list(charge=first.id).data] == [a.id]
    assert [r.id for r in led.refunds.list(created={"gt": NOW}).data] == [c.id, b.id]
    page = led.refunds.list(limit=2)
    assert page.has_more and [r.id for r in page.data] == [c.id, b.id]
    assert [r.id for r in led.refunds.list(starting_after=b.id).data] == [a.id]
    assert [r.id for r in led.refunds.list(limit=1).auto_paging_iter()] == [c.id, b.id, a.id]


def test_expand_the_charge_the_balance_transaction_and_the_charges_refunds(led: Ledger) -> None:
    charge = paid_charge(led)
    refund = led.refunds.create(
        charge=charge.id, amount=100, expand=["charge", "balance_transaction"]
    )
    assert refund.charge.id == charge.id and refund.charge.amount_refunded == 100
    assert refund.balance_transaction.type == "refund"
    listed = led.charges.retrieve(charge.id, expand=["refunds"]).refunds
    assert [r.id for r in listed.data] == [refund.id]
    assert listed.total_count == 1
    expanded = led.refunds.list(expand=["data.charge"]).data[0]
    assert expanded.charge.id == charge.id


# -- idempotency, accounts, bad input --------------------------------------------------------


def test_a_replayed_refund_appends_nothing(led: Ledger, database_url: str) -> None:
    charge = paid_charge(led)
    first = led.refunds.create(charge=charge.id, amount=500, idempotency_key="refund-1")
    before = counts(database_url)
    again = led.refunds.create(charge=charge.id, amount=500, idempotency_key="refund-1")
    assert again.to_dict() == first.to_dict()
    assert again.last_response is not None and again.last_response.idempotent_replayed
    assert counts(database_url) == before
    assert led.charges.retrieve(charge.id).amount_refunded == 500
    with pytest.raises(IdempotencyError):
        led.refunds.create(charge=charge.id, amount=600, idempotency_key="refund-1")
    refused(
        database_url,
        lambda: led.refunds.create(charge=charge.id, amount=5000, idempotency_key="refund-2"),
        InvalidRequestError,
        code="amount_too_large",
        param="amount",
        http_status=400,
    )
    # A refused request stored nothing under its key: it can be used again.
    assert led.refunds.create(charge=charge.id, amount=5, idempotency_key="refund-2").amount == 5


def test_connected_accounts_have_their_own_refunds(led: Ledger, database_url: str) -> None:
    connected = connected_account(led)
    theirs = paid_charge(led, stripe_account=connected)
    refused(
        database_url,
        lambda: led.refunds.create(charge=theirs.id),
        InvalidRequestError,
        code="resource_missing",
        param="charge",
        http_status=404,
        message=f"No such charge: '{theirs.id}'",
    )
    refund = led.refunds.create(charge=theirs.id, amount=700, stripe_account=connected)
    refused(
        database_url,
        lambda: led.refunds.retrieve(refund.id),
        InvalidRequestError,
        code="resource_missing",
        param="id",
        http_status=404,
        message=f"No such refund: '{refund.id}'",
    )
    assert led.refunds.list().data == []
    assert [r.id for r in led.refunds.list(stripe_account=connected).data] == [refund.id]
    assert balance(led) == (0, 0)
    assert balance(led, stripe_account=connected) == (-700, 1912)
    events = all_events(led, stripe_account=connected)
    assert {e.account for e in events} == {connected}


def test_connect_options_need_a_connect_charge(led: Ledger, database_url: str) -> None:
    plain = paid_charge(led)
    for param, message in (
        (
            "refund_application_fee",
            f"Charge {plain.id} has no application fee to refund: refund_application_fee can "
            "only be used on a charge with an application fee.",
        ),
        (
            "reverse_transfer",
            f"Charge {plain.id} has no associated transfer to reverse: reverse_transfer can only "
            "be used on a destination charge (a charge with transfer_data).",
        ),
    ):
        refused(
            database_url,
            lambda param=param: led.refunds.create(charge=plain.id, **{param: True}),  # type: ignore[misc]
            InvalidRequestError,
            code=None,
            param=param,
            http_status=400,
            message=message,
        )
    # Destination charges: tests/integration/test_destination_charges.py.


@pytest.mark.parametrize(
    ("params", "code", "param", "status", "message"),
    [
        (
            {},
            None,
            None,
            400,
            "One of the following params should be provided for this request: payment_intent "
            "or charge.",
        ),
        ({"charge": "ch_missing"}, "resource_missing", "charge", 404, None),
        ({"payment_intent": "pi_missing"}, "resource_missing", "payment_intent", 404, None),
        ({"charge": "ch_x", "amount": "100"}, "parameter_invalid_integer", "amount", 400, None),
        ({"charge": "ch_x", "reason": "because"}, None, "reason", 400, None),
        ({"charge": "ch_x", "colour": "red"}, "parameter_unknown", "colour", 400, None),
        (
            {"charge": "ch_x", "origin": "customer_balance"},
            "parameter_unsupported",
            "origin",
            400,
            None,
        ),
        ({"charge": "ch_x", "currency": "usd"}, "parameter_unsupported", "currency", 400, None),
        (
            {"charge": "ch_x", "instructions_email": "a@example.com"},
            "parameter_unsupported",
            "instructions_email",
            400,
            None,
        ),
        (
            {"charge": "ch_x", "metadata": {"k" * 41: "v"}},
            "parameter_invalid_string_too_long",
            f"metadata[{'k' * 41}]",
            400,
            None,
        ),
    ],
)
def test_bad_create_is_refused_and_writes_nothing(
    led: Ledger,
    database_url: str,
    params: dict[str, Any],
    code: str | None,
    param: str | None,
    status: int,
    message: str | None,
) -> None:
    charge = paid_charge(led)
    params = {k: charge.id if v == "ch_x" else v for k, v in params.items()}
    refused(
        database_url,
        lambda: led.refunds.create(**params),
        InvalidRequestError,
        code=code,
        param=param,
        http_status=status,
        message=message,
    )


def test_a_charge_of_another_payment_intent_is_refused(led: Ledger, database_url: str) -> None:
    one = confirmed(led)
    other = confirmed(led)
    refused(
        database_url,
        lambda: led.refunds.create(payment_intent=one.id, charge=other.latest_charge),
        InvalidRequestError,
        code=None,
        param="charge",
        http_status=400,
        message=f"Charge {other.latest_charge} does not belong to PaymentIntent {one.id}.",
    )


def test_bad_requests_on_existing_refunds(led: Ledger, database_url: str) -> None:
    refund = led.refunds.create(charge=paid_charge(led).id, amount=100)
    refused(
        database_url,
        lambda: led.refunds.update(refund.id, amount=5),
        InvalidRequestError,
        code="parameter_unknown",
        param="amount",
        http_status=400,
    )
    refused(
        database_url,
        lambda: led.refunds.update("re_missing", metadata={"a": "b"}),
        InvalidRequestError,
        code="resource_missing",
        param="id",
        http_status=404,
        message="No such refund: 're_missing'",
    )
    refused(
        database_url,
        lambda: led.refunds.cancel("re_missing"),
        InvalidRequestError,
        code="resource_missing",
        param="id",
        http_status=404,
    )
    refused(
        database_url,
        lambda: led.refunds.list(limit=101),
        InvalidRequestError,
        code="parameter_invalid_integer",
        param="limit",
        http_status=400,
    )


def test_rebuild_reproduces_refunds_exactly(led: Ledger) -> None:
    charge = paid_charge(led, "pm_card_refundFail")
    led.refunds.create(charge=charge.id, amount=500, metadata={"a": "b"})
    led.run_due()
    pending = paid_charge(led, "pm_card_pendingRefund")
    led.refunds.create(charge=pending.id)
    before = [r.to_dict() for r in led.refunds.list().data]
    led.rebuild()
    assert [r.to_dict() for r in led.refunds.list().data] == before


# -- races and the reference model -----------------------------------------------------------


def test_concurrent_refunds_never_refund_more_than_the_charge(led: Ledger) -> None:
    charge = paid_charge(led)
    outcomes: list[str] = []

    def refund() -> None:
        try:
            led.refunds.create(charge=charge.id, amount=700)
            outcomes.append("refunded")
        except InvalidRequestError as error:
            outcomes.append(str(error.code))

    with ThreadPoolExecutor(RACERS) as pool:
        for future in [pool.submit(refund) for _ in range(RACERS)]:
            future.result()
    assert sorted(outcomes) == ["amount_too_large"] * (RACERS - 2) + ["refunded"] * 2
    after = led.charges.retrieve(charge.id)
    assert (after.amount_refunded, after.refunded) == (1400, False)
    assert len(led.refunds.list(charge=charge.id).data) == 2


def test_the_ledger_agrees_with_the_reference_model(led: Ledger, clock: FrozenClock) -> None:
    model = ReferenceModel()
    at = clock.now()
    plain = paid_charge(led)
    model.captured(2000, "usd", at)
    quick = paid_charge(led, "pm_card_bypassPending", amount=5000)
    model.captured(5000, "usd", at, bypass_pending=True)
    led.refunds.create(charge=plain.id, amount=750)
    model.refunded(750, "usd")
    led.refunds.create(charge=quick.id, amount=5000)
    model.refunded(5000, "usd")
    assert {"usd": balance(led)} == model.expected()
    intent = confirmed(led, "pm_card_createDispute", amount=3000)
    model.captured(3000, "usd", at)
    led.run_due()
    model.dispute_opened(3000, "usd")
    assert {"usd": balance(led)} == model.expected()
    (dispute,) = led.disputes.list(payment_intent=intent.id).data
    led.disputes.update(dispute.id, evidence={"uncategorized_text": "winning_evidence"})
    model.dispute_won(3000, "usd")
    assert {"usd": balance(led)} == model.expected()
    clock.advance(timedelta(days=5))
    led.run_due()
    model.advance_to(clock.now())
    assert {"usd": balance(led)} == model.expected()
