"""Payouts on PostgreSQL: money out of the available balance, time moving them along, failures,
cancels, reversals, automatic payouts on a schedule, and payouts racing for one balance.

Every response is checked against Stripe's schema; after every test the postings sum to zero
and the audit passes. The clock starts on Wednesday 2024-11-20 12:00 UTC.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

import pytest

from ledger import FrozenClock, InvalidRequestError, Ledger
from tests.support.connect import available, fund_platform, pending, seller_account
from tests.support.payments import (  # the fixtures are used through pytestmark
    all_events,
    audited,  # noqa: F401
    books_balance,  # noqa: F401
    counts,
    refused,
)
from tests.support.stripe_schema import assert_valid

pytestmark = pytest.mark.usefixtures("books_balance", "audited")

NOW = 1_732_104_000  # Wednesday 2024-11-20 12:00 UTC
THURSDAY = 1_732_147_200  # 00:00 UTC: standard payouts made on Wednesday are submitted
FRIDAY = 1_732_233_600  # 00:00 UTC: ... and arrive
RACERS = 8
INSUFFICIENT = (
    "You have insufficient funds in your Stripe account for this transfer. Your card balance is "
    "too low.  You can use the /v1/balance endpoint to view your Stripe balance (for more "
    "details, see stripe.com/docs/api#balance)."
)


def bank(led: Ledger, token: str = "btok_us_verified", account: str | None = None) -> Any:
    """An external account of the platform (or of `account`)."""
    return led.accounts.external_accounts.create(
        account or led.platform_account_id, external_account=token
    )


def advance_to(led: Ledger, clock: FrozenClock, unix: int) -> int:
    """Move the clock to `unix` and run the work that fell due; how many items ran."""
    clock.set(datetime.fromtimestamp(unix, UTC))
    return led.run_due()


def payout_events(led: Ledger, payout_id: str, **params: Any) -> list[tuple[str, Any]]:
    """(type, previous_attributes) of the payout's Stripe events, oldest first."""
    return [
        (e.type, e.data.get("previous_attributes"))
        for e in all_events(led, **params)
        if e.type.startswith("payout.") and e.data.object.id == payout_id
    ]


def manual_schedule(led: Ledger, account: str) -> None:
    led.accounts.update(account, settings={"payouts": {"schedule": {"interval": "manual"}}})


# -- the life of a payout --------------------------------------------------------------------


def test_a_payout_leaves_the_available_balance_at_once_and_arrives_on_its_date(
    led: Ledger, clock: FrozenClock
) -> None:
    destination = bank(led)
    net = fund_platform(led)
    payout = led.payouts.create(
        amount=5000,
        currency="usd",
        description="Weekly",
        statement_descriptor="ACME PAYOUT",
        metadata={"batch": "42"},
    )
    assert payout.id.startswith("po_") and payout.object == "payout"
    assert (payout.status, payout.amount, payout.currency, payout.method) == (
        "pending",
        5000,
        "usd",
        "standard",
    )
    assert (payout.destination, payout.type, payout.automatic, payout.created) == (
        destination.id,
        "bank_account",
        False,
        NOW,
    )
    assert (payout.arrival_date, payout.source_type, payout.reconciliation_status) == (
        FRIDAY,
        "card",
        "not_applicable",
    )
    assert (payout.description, payout.statement_descriptor) == ("Weekly", "ACME PAYOUT")
    assert payout.trace_id.to_dict() == {"status": "pending", "value": None}
    assert payout.failure_balance_transaction is None and payout.original_payout is None
    assert available(led) == net - 5000

    txn = led.balance_transactions.retrieve(payout.balance_transaction)
    assert (txn.type, txn.amount, txn.fee, txn.net, txn.status) == (
        "payout",
        -5000,
        0,
        -5000,
        "available",
    )
    assert (txn.source, txn.reporting_category, txn.available_on, txn.description) == (
        payout.id,
        "payout",
        NOW,
        "Weekly",
    )
    assert [t.id for t in led.balance_transactions.list(type="payout").data] == [txn.id]

    assert advance_to(led, clock, THURSDAY - 1) == 0
    advance_to(led, clock, THURSDAY)
    assert led.payouts.retrieve(payout.id).status == "in_transit"
    advance_to(led, clock, FRIDAY)
    paid = led.payouts.retrieve(payout.id, expand=["destination", "balance_transaction"])
    assert paid.status == "paid" and paid.trace_id.status == "supported"
    assert len(paid.trace_id.value) == 15 and paid.trace_id.value.isdigit()
    assert paid.destination.id == destination.id and paid.balance_transaction.id == txn.id
    assert available(led) == net - 5000  # the money left when the payout was made
    assert payout_events(led, payout.id) == [
        ("payout.created", None),
        ("payout.updated", {"status": "pending"}),
        (
            "payout.updated",
            {"status": "in_transit", "trace_id": {"status": "pending", "value": None}},
        ),
        ("payout.paid", None),
    ]
    assert payout.last_response is not None
    created = next(e for e in all_events(led) if e.type == "payout.created")
    assert created.request.id == payout.last_response.request_id
    assert created.data.object.to_dict() == payout.to_dict()


@pytest.mark.parametrize(
    ("token", "code", "message"),
    [
        (
            "btok_us_verified_noAccount",
            "no_account",
            "The bank account details on file are probably incorrect. No bank account could be "
            "located with those details.",
        ),
        ("btok_us_verified_accountClosed", "account_closed", "The bank account has been closed."),
        (
            "btok_us_verified_insufficientFunds",
            "insufficient_funds",
            "Your Stripe account has insufficient funds to cover the payout.",
        ),
        (
            "btok_us_verified_debitNotAuthorized",
            "debit_not_authorized",
            "Debit transactions are not approved on the bank account. (Stripe requires bank "
            "accounts to be set up for both credit and debit payouts.)",
        ),
        (
            "btok_us_verified_invalidCurrency",
            "invalid_currency",
            "The bank was unable to process this payout because of its currency. This is probably "
            "because the bank account cannot accept payments in that currency.",
        ),
    ],
)
def test_a_failing_test_bank_account_returns_the_payout(
    led: Ledger, clock: FrozenClock, token: str, code: str, message: str
) -> None:
    destination = bank(led, token)
    net = fund_platform(led)
    payout = led.payouts.create(amount=3000, currency="usd")
    assert available(led) == net - 3000
    advance_to(led, clock, THURSDAY)
    assert led.payouts.retrieve(payout.id).status == "in_transit"
    advance_to(led, clock, FRIDAY)
    failed = led.payouts.retrieve(payout.id)
    assert (failed.status, failed.failure_code, failed.failure_message) == ("failed", code, message)
    assert failed.trace_id.to_dict() == {"status": "unsupported", "value": None}
    assert available(led) == net  # the money is back
    back = led.balance_transactions.retrieve(failed.failure_balance_transaction)
    assert (back.type, back.amount, back.net, back.status, back.source) == (
        "payout_failure",
        3000,
        3000,
        "available",
        payout.id,
    )
    assert (back.reporting_category, back.created) == ("payout_reversal", FRIDAY)
    types = [t for t, _ in payout_events(led, payout.id)]
    assert types == ["payout.created", "payout.updated", "payout.updated", "payout.failed"]
    # Stripe stops scheduled payouts to it until it is updated; any update re-enables it.
    platform = led.platform_account_id
    assert led.accounts.external_accounts.retrieve(platform, destination.id).status == "errored"
    assert led.accounts.external_accounts.update(platform, destination.id).status == "new"


def test_an_instant_payout_to_a_debit_card_is_paid_when_due_work_runs(
    led: Ledger, clock: FrozenClock
) -> None:
    card = bank(led, "tok_visa_debit_us_transferSuccess")
    fund_platform(led)
    payout = led.payouts.create(amount=1000, currency="usd", method="instant", destination=card.id)
    assert (payout.method, payout.type, payout.arrival_date, payout.status) == (
        "instant",
        "card",
        NOW,
        "pending",
    )
    assert led.run_due() == 1
    paid = led.payouts.retrieve(payout.id)
    assert paid.status == "paid"
    types = [t for t, _ in payout_events(led, payout.id)]
    assert types == ["payout.created", "payout.updated", "payout.updated", "payout.paid"]


def test_a_failing_debit_card_refuses_the_payout_when_it_is_submitted(
    led: Ledger, clock: FrozenClock
) -> None:
    card = bank(led, "tok_visa_debit_us_transferFail")
    net = fund_platform(led)
    payout = led.payouts.create(amount=1000, currency="usd", destination=card.id)
    advance_to(led, clock, THURSDAY)
    failed = led.payouts.retrieve(payout.id)
    assert (failed.status, failed.failure_code) == ("failed", "could_not_process")
    assert failed.failure_message == "The bank could not process this payout."
    assert available(led) == net
    types = [t for t, _ in payout_events(led, payout.id)]
    assert types == ["payout.created", "payout.updated", "payout.failed"]


def test_instant_payouts_need_a_destination_that_takes_them(led: Ledger, database_url: str) -> None:
    fund_platform(led)
    card = bank(led, "tok_visa_debit_us_instantPayoutUnsupported")
    slow_bank = led.accounts.external_accounts.create(
        led.platform_account_id,
        bank_account={
            "country": "US",
            "account_number": "000888888883",
            "routing_number": "110000000",
        },
    )
    for destination in (card.id, slow_bank.id):
        refused(
            database_url,
            partial(
                led.payouts.create,
                amount=100,
                currency="usd",
                method="instant",
                destination=destination,
            ),
            InvalidRequestError,
            code="instant_payouts_unsupported",
            param="destination",
            http_status=400,
        )
    assert led.payouts.create(amount=100, currency="usd", destination=slow_bank.id).id


# -- cancel ----------------------------------------------------------------------------------


def test_a_pending_payout_can_be_canceled_and_the_money_comes_back(
    led: Ledger, clock: FrozenClock, database_url: str
) -> None:
    bank(led)
    net = fund_platform(led)
    payout = led.payouts.create(amount=4000, currency="usd")
    clock.advance(timedelta(hours=1))
    canceled = led.payouts.cancel(payout.id)
    assert (canceled.status, canceled.failure_code) == ("canceled", None)
    assert canceled.trace_id.to_dict() == {"status": "unsupported", "value": None}
    back = led.balance_transactions.retrieve(canceled.failure_balance_transaction)
    assert (back.type, back.amount, back.reporting_category, back.created) == (
        "payout_cancel",
        4000,
        "payout_reversal",
        NOW + 3600,
    )
    assert available(led) == net
    types = [t for t, _ in payout_events(led, payout.id)]
    assert types == ["payout.created", "payout.updated", "payout.canceled"]
    assert advance_to(led, clock, FRIDAY) == 0  # nothing more happens to it
    refused(
        database_url,
        lambda: led.payouts.cancel(payout.id),
        InvalidRequestError,
        code=None,
        param=None,
        http_status=400,
        message="Payouts can only be canceled while they are pending.",
    )


def test_payouts_that_cannot_be_canceled(
    led: Ledger, clock: FrozenClock, database_url: str
) -> None:
    bank(led)
    card = bank(led, "tok_visa_debit")
    fund_platform(led)
    in_transit = led.payouts.create(amount=100, currency="usd")
    instant = led.payouts.create(amount=100, currency="usd", method="instant", destination=card.id)
    refused(
        database_url,
        lambda: led.payouts.cancel(instant.id),
        InvalidRequestError,
        code=None,
        param=None,
        http_status=400,
    )
    advance_to(led, clock, THURSDAY)
    for payout in (in_transit, instant):
        refused(
            database_url,
            partial(led.payouts.cancel, payout.id),
            InvalidRequestError,
            code=None,
            param=None,
            http_status=400,
            message="Payouts can only be canceled while they are pending.",
        )
    refused(
        database_url,
        lambda: led.payouts.cancel("po_nope"),
        InvalidRequestError,
        code="resource_missing",
        param="payout",
        http_status=404,
        message="No such payout: 'po_nope'",
    )


# -- funds -----------------------------------------------------------------------------------


def test_a_payout_never_takes_the_available_balance_below_zero(
    led: Ledger, database_url: str
) -> None:
    bank(led)
    net = fund_platform(led)
    pending_payment = led.payment_intents.create(
        amount=5000,
        currency="usd",
        payment_method="pm_card_visa",
        payment_method_types=["card"],
        confirm=True,
    )
    assert pending_payment.status == "succeeded" and pending(led) > 0
    # Pending funds do not count.
    refused(
        database_url,
        lambda: led.payouts.create(amount=net + 1, currency="usd"),
        InvalidRequestError,
        code="balance_insufficient",
        param=None,
        http_status=400,
        message=INSUFFICIENT,
    )
    everything = led.payouts.create(amount=net, currency="usd")
    assert available(led) == 0
    refused(
        database_url,
        lambda: led.payouts.create(amount=1, currency="usd"),
        InvalidRequestError,
        code="balance_insufficient",
        param=None,
        http_status=400,
        message=INSUFFICIENT,
    )
    # The bank_account part of the balance is empty even while the card part is not.
    led.payouts.cancel(everything.id)
    refused(
        database_url,
        lambda: led.payouts.create(amount=100, currency="usd", source_type="bank_account"),
        InvalidRequestError,
        code="balance_insufficient",
        param=None,
        http_status=400,
        message=INSUFFICIENT.replace("Your card balance", "Your bank account balance"),
    )


def test_racing_payouts_never_overdraw_one_balance(led: Ledger) -> None:
    bank(led)
    net = fund_platform(led)  # 9,680: four payouts of 2,000 fit, the others must not
    outcomes: list[str] = []
    lock = threading.Lock()
    start = threading.Barrier(RACERS)

    def pay_out() -> None:
        start.wait()
        try:
            led.payouts.create(amount=2000, currency="usd")
            outcome = "paid"
        except InvalidRequestError as error:
            outcome = str(error.code)
        with lock:
            outcomes.append(outcome)

    with ThreadPoolExecutor(RACERS) as pool:
        for future in [pool.submit(pay_out) for _ in range(RACERS)]:
            future.result()
    assert sorted(outcomes) == ["balance_insufficient"] * 4 + ["paid"] * 4
    assert available(led) == net - 8000 >= 0
    assert len(led.payouts.list().data) == 4


# -- update, list ----------------------------------------------------------------------------


def test_update_changes_metadata(led: Ledger, database_url: str) -> None:
    bank(led)
    fund_platform(led)
    payout = led.payouts.create(amount=100, currency="usd", metadata={"a": "1"})
    updated = led.payouts.update(payout.id, metadata={"b": "2", "a": ""})
    assert updated.metadata.to_dict() == {"b": "2"}
    assert payout_events(led, payout.id)[-1] == (
        "payout.updated",
        {"metadata": {"a": "1", "b": None}},
    )
    refused(
        database_url,
        lambda: led.payouts.update(payout.id, description="no"),
        InvalidRequestError,
        code="parameter_unknown",
        param="description",
        http_status=400,
    )


def test_list_filters(led: Ledger, clock: FrozenClock) -> None:
    first = bank(led)
    card = bank(led, "tok_visa_debit")
    fund_platform(led, amount=50_000)
    a = led.payouts.create(amount=100, currency="usd")
    b = led.payouts.create(amount=200, currency="usd", destination=card.id)
    c = led.payouts.create(amount=300, currency="usd", method="instant", destination=card.id)
    led.payouts.cancel(a.id)
    clock.advance(timedelta(minutes=5))
    led.run_due()  # the instant payout is paid
    d = led.payouts.create(amount=400, currency="usd")

    def ids(**params: Any) -> list[str]:
        return [p.id for p in led.payouts.list(**params).auto_paging_iter()]

    assert ids() == [d.id, c.id, b.id, a.id]
    assert ids(status="canceled") == [a.id]
    assert ids(status="paid") == [c.id]
    assert ids(status="pending") == [d.id, b.id]
    assert ids(destination=card.id) == [c.id, b.id]
    assert ids(destination=first.id) == [d.id, a.id]
    assert ids(arrival_date=NOW) == [c.id]
    assert ids(arrival_date={"gt": NOW}) == [d.id, b.id, a.id]
    assert ids(created={"gt": NOW}) == [d.id]
    assert ids(created={"lte": NOW}, limit=1) == [c.id, b.id, a.id]
    page = led.payouts.list(limit=2)
    assert [p.id for p in page.data] == [d.id, c.id] and page.has_more
    assert page.url == "/v1/payouts"


# -- reversal --------------------------------------------------------------------------------


def test_a_connected_accounts_paid_payout_can_be_reversed(
    led: Ledger, clock: FrozenClock, database_url: str
) -> None:
    seller = seller_account(led)
    manual_schedule(led, seller)
    destination = bank(led, account=seller)
    fund_platform(led)
    led.transfers.create(amount=5000, currency="usd", destination=seller)
    payout = led.payouts.create(amount=3000, currency="usd", stripe_account=seller)
    refused(
        database_url,
        lambda: led.payouts.reverse(payout.id, stripe_account=seller),
        InvalidRequestError,
        code=None,
        param=None,
        http_status=400,
    )
    advance_to(led, clock, FRIDAY)
    assert led.payouts.retrieve(payout.id, stripe_account=seller).status == "paid"
    reversal = led.payouts.reverse(payout.id, metadata={"why": "mistake"}, stripe_account=seller)
    assert (reversal.amount, reversal.original_payout, reversal.status) == (
        -3000,
        payout.id,
        "pending",
    )
    assert (reversal.destination, reversal.type, reversal.metadata.to_dict()) == (
        destination.id,
        "bank_account",
        {"why": "mistake"},
    )
    original = led.payouts.retrieve(payout.id, stripe_account=seller)
    assert (original.status, original.reversed_by) == ("paid", reversal.id)
    # The money comes back when the reversal arrives (Friday -> the next Tuesday).
    txn = led.balance_transactions.retrieve(reversal.balance_transaction, stripe_account=seller)
    assert (txn.amount, txn.status, txn.available_on) == (3000, "pending", reversal.arrival_date)
    assert available(led, stripe_account=seller) == 2000
    assert pending(led, stripe_account=seller) == 3000
    advance_to(led, clock, reversal.arrival_date)
    assert led.payouts.retrieve(reversal.id, stripe_account=seller).status == "paid"
    assert available(led, stripe_account=seller) == 5000
    types = [t for t, _ in payout_events(led, payout.id, stripe_account=seller)]
    assert types[-1] == "payout.updated"  # reversed_by was set
    refused(
        database_url,
        lambda: led.payouts.reverse(payout.id, stripe_account=seller),
        InvalidRequestError,
        code=None,
        param=None,
        http_status=400,
    )
    refused(
        database_url,
        lambda: led.payouts.reverse(reversal.id, stripe_account=seller),
        InvalidRequestError,
        code=None,
        param=None,
        http_status=400,
    )
    refused(
        database_url,
        lambda: led.payouts.cancel(reversal.id, stripe_account=seller),
        InvalidRequestError,
        code=None,
        param=None,
        http_status=400,
    )


def test_the_platforms_own_payouts_cannot_be_reversed(
    led: Ledger, clock: FrozenClock, database_url: str
) -> None:
    bank(led)
    fund_platform(led)
    payout = led.payouts.create(amount=100, currency="usd")
    advance_to(led, clock, FRIDAY)
    error = refused(
        database_url,
        lambda: led.payouts.reverse(payout.id),
        InvalidRequestError,
        code=None,
        param=None,
        http_status=400,
    )
    assert "connected accounts" in error.message


# -- automatic payouts -----------------------------------------------------------------------


def test_automatic_payouts_follow_the_accounts_daily_schedule(
    led: Ledger, clock: FrozenClock, database_url: str
) -> None:
    seller = seller_account(led)
    assert led.accounts.retrieve(seller).settings.payouts.schedule.to_dict() == {
        "delay_days": 2,
        "interval": "daily",
    }
    destination = bank(led, account=seller)
    fund_platform(led, amount=20_000)
    first = led.transfers.create(amount=3000, currency="usd", destination=seller)
    second = led.transfers.create(amount=1000, currency="usd", destination=seller)
    # Thursday and Friday 00:00: the funds are not two days old yet.
    advance_to(led, clock, FRIDAY)
    assert led.payouts.list(stripe_account=seller).data == []
    # Saturday and Sunday: no payouts; Monday 00:00: they are paid out together.
    monday = FRIDAY + 3 * 86_400
    advance_to(led, clock, monday)
    (payout,) = led.payouts.list(stripe_account=seller).data
    assert (payout.automatic, payout.amount, payout.created) == (True, 4000, monday)
    assert (payout.destination, payout.description, payout.reconciliation_status) == (
        destination.id,
        "STRIPE PAYOUT",
        "in_progress",
    )
    assert available(led, stripe_account=seller) == 0
    paid_out = led.balance_transactions.list(payout=payout.id, stripe_account=seller).data
    sources = sorted((t.type, t.net) for t in paid_out)
    assert sources == [("payment", 1000), ("payment", 3000), ("payout", -4000)]
    assert sum(t.net for t in paid_out) == 0
    assert {first.destination_payment, second.destination_payment} <= {t.source for t in paid_out}
    refused(
        database_url,
        lambda: led.payouts.cancel(payout.id, stripe_account=seller),
        InvalidRequestError,
        code=None,
        param=None,
        http_status=400,
    )
    # Paid on Wednesday; reconciliation completes with it.
    advance_to(led, clock, monday + 2 * 86_400)
    paid = led.payouts.retrieve(payout.id, stripe_account=seller)
    assert (paid.status, paid.reconciliation_status) == ("paid", "completed")
    types = [t for t, _ in payout_events(led, payout.id, stripe_account=seller)]
    assert types[-2:] == ["payout.paid", "payout.reconciliation_completed"]
    # Nothing new to pay out: no more payouts, however long we wait.
    advance_to(led, clock, monday + 10 * 86_400)
    assert len(led.payouts.list(stripe_account=seller).data) == 1


def test_automatic_payouts_wait_for_a_default_external_account_and_positive_funds(
    led: Ledger, clock: FrozenClock
) -> None:
    seller = seller_account(led)
    led.accounts.update(
        seller,
        settings={"payouts": {"schedule": {"interval": "weekly", "weekly_anchor": "friday"}}},
    )
    fund_platform(led)
    led.transfers.create(amount=2500, currency="usd", destination=seller)
    # No external account: the Friday runs make nothing.
    advance_to(led, clock, FRIDAY + 7 * 86_400)
    assert led.payouts.list(stripe_account=seller).data == []
    bank(led, account=seller)
    before = counts(led.url)
    advance_to(led, clock, FRIDAY + 13 * 86_400)  # Thursday: not the anchor
    assert counts(led.url) == before
    advance_to(led, clock, FRIDAY + 14 * 86_400)
    (payout,) = led.payouts.list(stripe_account=seller).data
    assert (payout.amount, payout.created, payout.automatic) == (2500, FRIDAY + 14 * 86_400, True)


def test_an_automatic_payout_to_a_failing_bank_account_stops_the_schedule(
    led: Ledger, clock: FrozenClock
) -> None:
    seller = seller_account(led)
    destination = bank(led, "btok_us_verified_accountClosed", account=seller)
    fund_platform(led)
    led.transfers.create(amount=2000, currency="usd", destination=seller)
    monday = FRIDAY + 3 * 86_400
    advance_to(led, clock, monday + 2 * 86_400)  # paid out Monday, failed on arrival Wednesday
    (payout,) = led.payouts.list(stripe_account=seller).data
    assert (payout.status, payout.failure_code) == ("failed", "account_closed")
    assert available(led, stripe_account=seller) == 2000
    ea = led.accounts.external_accounts.retrieve(seller, destination.id)
    assert ea.status == "errored"
    advance_to(led, clock, monday + 9 * 86_400)
    assert len(led.payouts.list(stripe_account=seller).data) == 1  # no payouts to it meanwhile
    # Updating the account re-enables it; the returned money goes out with the next run.
    led.accounts.external_accounts.update(seller, destination.id, metadata={"fixed": "yes"})
    advance_to(led, clock, monday + 10 * 86_400)
    again = led.payouts.list(stripe_account=seller).data[0]
    assert (again.amount, again.automatic) == (2000, True)
    paid_out = led.balance_transactions.list(payout=again.id, stripe_account=seller).data
    assert sorted(t.type for t in paid_out) == ["payout", "payout_failure"]


# -- bad input -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "code", "param", "status"),
    [
        ({"amount": 100}, "parameter_missing", "currency", 400),
        ({"currency": "usd"}, "parameter_missing", "amount", 400),
        ({"amount": 0, "currency": "usd"}, "parameter_invalid_integer", "amount", 400),
        ({"amount": -5, "currency": "usd"}, "parameter_invalid_integer", "amount", 400),
        ({"amount": "100", "currency": "usd"}, "parameter_invalid_integer", "amount", 400),
        ({"amount": 100, "currency": "xyz"}, None, "currency", 400),
        ({"amount": 100, "currency": "eur"}, None, "destination", 400),
        ({"amount": 100, "currency": "usd", "method": "fast"}, None, "method", 400),
        (
            {"amount": 100, "currency": "usd", "destination": "ba_nope"},
            "resource_missing",
            "destination",
            404,
        ),
        (
            {"amount": 100, "currency": "usd", "statement_descriptor": "x" * 23},
            None,
            "statement_descriptor",
            400,
        ),
        (
            {"amount": 100, "currency": "usd", "surprise": True},
            "parameter_unknown",
            "surprise",
            400,
        ),
    ],
)
def test_bad_input_is_refused_and_writes_nothing(
    led: Ledger,
    database_url: str,
    params: dict[str, Any],
    code: str | None,
    param: str,
    status: int,
) -> None:
    bank(led)
    fund_platform(led)
    refused(
        database_url,
        lambda: led.payouts.create(**params),
        InvalidRequestError,
        code=code,
        param=param,
        http_status=status,
    )


def test_a_payout_needs_an_external_account_of_its_own_account(
    led: Ledger, database_url: str
) -> None:
    fund_platform(led)
    refused(
        database_url,
        lambda: led.payouts.create(amount=100, currency="usd"),
        InvalidRequestError,
        code=None,
        param="destination",
        http_status=400,
    )
    seller = seller_account(led)
    theirs = bank(led, account=seller)
    refused(
        database_url,
        lambda: led.payouts.create(amount=100, currency="usd", destination=theirs.id),
        InvalidRequestError,
        code="resource_missing",
        param="destination",
        http_status=404,
        message=f"No such external account: '{theirs.id}'",
    )
    mine = bank(led)
    deleted_card = bank(led, "tok_visa_debit")
    led.accounts.external_accounts.delete(led.platform_account_id, deleted_card.id)
    refused(
        database_url,
        lambda: led.payouts.create(amount=100, currency="usd", destination=deleted_card.id),
        InvalidRequestError,
        code="resource_missing",
        param="destination",
        http_status=404,
    )
    assert led.payouts.create(amount=100, currency="usd").destination == mine.id
    assert_valid(led.payouts.list().data[0])
