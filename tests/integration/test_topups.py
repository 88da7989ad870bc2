"""Top-ups on PostgreSQL: pending, then succeeded or failed by due work; cancel, reverse, money.

Every response is checked against Stripe's schema; after every test the postings sum to zero
and the audit (replay, balances = Σ balance transactions) passes.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from ledger import FrozenClock, IdempotencyError, InvalidRequestError, Ledger
from ledger.domain import topup as domain
from tests.support.accounts import connected_account
from tests.support.payments import (  # the fixtures are used through pytestmark
    all_events,
    audited,  # noqa: F401
    books_balance,  # noqa: F401
    counts,
    event_types,
    refused,
)
from tests.support.stripe_schema import assert_valid

pytestmark = pytest.mark.usefixtures("books_balance", "audited")

NOW = 1_732_104_000  # the clock fixture: 2024-11-20 12:00 UTC


def balance(led: Ledger, **params: Any) -> tuple[int, int, int]:
    """(available, pending, available from bank accounts) in usd."""
    found = led.balance.retrieve(**params)
    assert_valid(found)
    available = next((b for b in found.available if b.currency == "usd"), None)
    pending = next((b.amount for b in found.pending if b.currency == "usd"), 0)
    if available is None:
        return 0, pending, 0
    from_bank = available.source_types.to_dict().get("bank_account", 0)
    return available.amount, pending, from_bank


def topped_up(led: Ledger, amount: int = 1000, **params: Any) -> Any:
    """A top-up of `amount` cents that due work has answered."""
    topup = led.topups.create(amount=amount, currency="usd", **params)
    led.run_due()
    account = {k: v for k, v in params.items() if k == "stripe_account"}
    return led.topups.retrieve(topup.id, **account)


# -- pending, then succeeded -----------------------------------------------------------------


def test_a_top_up_is_pending_until_due_work_answers_it(led: Ledger) -> None:
    topup = led.topups.create(
        amount=2000,
        currency="usd",
        description="Float for payouts",
        metadata={"order": "42"},
        source="btok_us_verified",
        statement_descriptor="LEDGER TOPUP",
        transfer_group="group_1",
    )
    assert topup.id.startswith("tu_")
    assert topup.to_dict() == {
        "id": topup.id,
        "object": "topup",
        "amount": 2000,
        "balance_transaction": None,
        "created": NOW,
        "currency": "usd",
        "description": "Float for payouts",
        "expected_availability_date": NOW,
        "failure_code": None,
        "failure_message": None,
        "livemode": False,
        "metadata": {"order": "42"},
        "source": None,
        "statement_descriptor": "LEDGER TOPUP",
        "status": "pending",
        "transfer_group": "group_1",
    }
    assert led.topups.retrieve(topup.id).to_dict() == topup.to_dict()
    assert balance(led) == (0, 0, 0)  # nothing moved yet
    assert event_types(led) == ["topup.created"]
    created = all_events(led)[0]
    assert created.data.object.to_dict() == topup.to_dict()
    assert topup.last_response is not None
    assert created.request.id == topup.last_response.request_id

    assert led.run_due() == 1
    after = led.topups.retrieve(topup.id, expand=["balance_transaction"])
    assert after.status == "succeeded"
    txn = after.balance_transaction
    assert (txn.object, txn.type, txn.amount, txn.fee, txn.net) == (
        "balance_transaction",
        "topup",
        2000,
        0,
        2000,
    )
    assert (txn.status, txn.available_on, txn.created) == ("available", NOW, NOW)
    assert (txn.reporting_category, txn.source, txn.description) == (
        "topup",
        topup.id,
        "Float for payouts",
    )
    assert txn.fee_details == []
    assert balance(led) == (2000, 0, 2000)
    assert event_types(led) == ["topup.created", "topup.succeeded"]
    succeeded = all_events(led)[-1]
    assert succeeded.data.object.status == "succeeded"
    assert succeeded.data.object.balance_transaction == txn.id
    assert succeeded.request.id is None  # the ledger's own doing, not an API request
    assert led.run_due() == 0  # answered once


def test_top_up_funds_show_under_bank_account_beside_card_funds(led: Ledger) -> None:
    led.payment_intents.create(
        amount=2000,
        currency="usd",
        payment_method="pm_card_bypassPending",
        payment_method_types=["card"],
        confirm=True,
    )
    topped_up(led, 500)
    found = led.balance.retrieve()
    (usd,) = found.available
    assert usd.amount == 1912 + 500
    assert usd.source_types.to_dict() == {"card": 1912, "bank_account": 500}
    listed = led.balance_transactions.list(type="topup")
    assert [t.amount for t in listed.data] == [500]


def test_due_work_answers_top_ups_oldest_first_at_their_own_time(
    led: Ledger, clock: FrozenClock
) -> None:
    first = led.topups.create(amount=100, currency="usd")
    clock.advance(timedelta(hours=1))
    second = led.topups.create(amount=200, currency="usd")
    clock.advance(timedelta(hours=1))
    assert led.run_due() == 2
    one = led.topups.retrieve(first.id, expand=["balance_transaction"])
    two = led.topups.retrieve(second.id, expand=["balance_transaction"])
    assert one.balance_transaction.created == NOW
    assert two.balance_transaction.created == NOW + 3600
    assert balance(led) == (300, 0, 300)


# -- the test bank tokens that fail ----------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "code"),
    [(s, c) for s, c in domain.SOURCE_FAILURE_CODES.items() if c is not None],
)
def test_a_failing_test_bank_token_fails_the_top_up_and_moves_nothing(
    led: Ledger, source: str, code: str
) -> None:
    topup = led.topups.create(amount=1500, currency="usd", source=source)
    assert (topup.status, topup.failure_code, topup.failure_message) == ("pending", None, None)
    led.run_due()
    after = led.topups.retrieve(topup.id)
    assert (after.status, after.failure_code) == ("failed", code)
    assert after.failure_message == domain.FAILURE_MESSAGES[code]
    assert after.balance_transaction is None
    assert balance(led) == (0, 0, 0)
    assert led.balance_transactions.list().data == []
    assert event_types(led) == ["topup.created", "topup.failed"]
    assert all_events(led)[-1].data.object.to_dict() == after.to_dict()


# -- cancel ----------------------------------------------------------------------------------


def test_a_pending_top_up_can_be_canceled_and_is_never_answered(
    led: Ledger, database_url: str
) -> None:
    topup = led.topups.create(amount=1000, currency="usd")
    canceled = led.topups.cancel(topup.id)
    assert (canceled.id, canceled.status, canceled.balance_transaction) == (
        topup.id,
        "canceled",
        None,
    )
    assert led.run_due() == 0
    assert led.topups.retrieve(topup.id).status == "canceled"
    assert balance(led) == (0, 0, 0)
    assert event_types(led) == ["topup.created", "topup.canceled"]
    refused(
        database_url,
        lambda: led.topups.cancel(topup.id),
        InvalidRequestError,
        code=None,
        param="topup",
        http_status=400,
        message=f"You cannot cancel top-up {topup.id} because it has a status of canceled. "
        "Only pending top-ups can be canceled.",
    )


@pytest.mark.parametrize("source", ["btok_us_verified", "btok_us_verified_noAccount"])
def test_an_answered_top_up_cannot_be_canceled(led: Ledger, database_url: str, source: str) -> None:
    topup = topped_up(led, source=source)
    assert topup.status in ("succeeded", "failed")
    refused(
        database_url,
        lambda: led.topups.cancel(topup.id),
        InvalidRequestError,
        code=None,
        param="topup",
        http_status=400,
        message=f"You cannot cancel top-up {topup.id} because it has a status of "
        f"{topup.status}. Only pending top-ups can be canceled.",
    )


# -- reverse (the ledger's test helper) ------------------------------------------------------


def test_a_reversed_top_up_takes_its_funds_back(led: Ledger, database_url: str) -> None:
    topup = topped_up(led, 1200, description="Float")
    assert balance(led) == (1200, 0, 1200)
    reversed_ = led.topups.reverse(topup.id)
    assert (reversed_.status, reversed_.balance_transaction) == (
        "reversed",
        topup.balance_transaction,
    )
    assert balance(led) == (0, 0, 0)
    (reversal,) = led.balance_transactions.list(type="topup_reversal").data
    assert (reversal.amount, reversal.net, reversal.status, reversal.source) == (
        -1200,
        -1200,
        "available",
        topup.id,
    )
    assert reversal.reporting_category == "topup_reversal"
    by_source = led.balance_transactions.list(source=topup.id).data
    assert sorted(t.type for t in by_source) == ["topup", "topup_reversal"]
    assert event_types(led) == ["topup.created", "topup.succeeded", "topup.reversed"]
    refused(
        database_url,
        lambda: led.topups.reverse(topup.id),
        InvalidRequestError,
        code=None,
        param="topup",
        http_status=400,
        message=f"You cannot reverse top-up {topup.id} because it has a status of reversed. "
        "Only succeeded top-ups can be reversed.",
    )


def test_a_reversal_may_take_the_balance_below_zero(led: Ledger) -> None:
    topup = topped_up(led, 1000)
    led.refunds.create(
        payment_intent=led.payment_intents.create(
            amount=700,
            currency="usd",
            payment_method="pm_card_visa",
            payment_method_types=["card"],
            confirm=True,
        ).id
    )
    led.topups.reverse(topup.id)
    available, pending, _ = balance(led)
    assert (available, pending) == (-700, 700 - 50)  # the charge's net is still pending


@pytest.mark.parametrize("source", [None, "btok_us_verified_accountClosed"])
def test_only_a_succeeded_top_up_can_be_reversed(
    led: Ledger, database_url: str, source: str | None
) -> None:
    if source is None:
        topup = led.topups.create(amount=1000, currency="usd")  # still pending
    else:
        topup = topped_up(led, source=source)
    refused(
        database_url,
        lambda: led.topups.reverse(topup.id),
        InvalidRequestError,
        code=None,
        param="topup",
        http_status=400,
        message=f"You cannot reverse top-up {topup.id} because it has a status of "
        f"{topup.status}. Only succeeded top-ups can be reversed.",
    )
    refused(
        database_url,
        lambda: led.topups.reverse(topup.id, amount=5),
        InvalidRequestError,
        code="parameter_unknown",
        param="amount",
        http_status=400,
    )


# -- update ----------------------------------------------------------------------------------


def test_update_changes_description_and_metadata_in_any_status(led: Ledger) -> None:
    topup = led.topups.create(amount=1000, currency="usd", metadata={"a": "1"})
    updated = led.topups.update(topup.id, description="Float", metadata={"b": "2"})
    assert (updated.description, updated.metadata.to_dict()) == ("Float", {"a": "1", "b": "2"})
    led.run_due()
    after = led.topups.update(topup.id, description="", metadata={"a": ""})
    assert (after.status, after.description, after.metadata.to_dict()) == (
        "succeeded",
        None,
        {"b": "2"},
    )
    assert led.topups.update(topup.id, metadata="").metadata.to_dict() == {}
    # Stripe publishes no topup.updated.
    assert event_types(led) == ["topup.created", "topup.succeeded"]


def test_an_update_that_changes_nothing_appends_nothing(led: Ledger, database_url: str) -> None:
    topup = led.topups.create(amount=1000, currency="usd", description="Float")
    before = counts(database_url)
    same = led.topups.update(topup.id, description="Float")
    assert same.to_dict() == topup.to_dict()
    assert counts(database_url) == before


# -- list ------------------------------------------------------------------------------------


def test_list_newest_first_with_amount_created_and_status_filters(
    led: Ledger, clock: FrozenClock
) -> None:
    small = led.topups.create(amount=100, currency="usd")
    led.run_due()
    clock.advance(timedelta(minutes=1))
    failed = led.topups.create(amount=200, currency="usd", source="btok_us_verified_noAccount")
    led.run_due()
    clock.advance(timedelta(minutes=1))
    pending = led.topups.create(amount=300, currency="usd")

    def ids(**params: Any) -> list[str]:
        return [t.id for t in led.topups.list(**params).data]

    assert ids() == [pending.id, failed.id, small.id]
    assert ids(status="succeeded") == [small.id]
    assert ids(status="failed") == [failed.id]
    assert ids(status="pending") == [pending.id]
    assert ids(amount=200) == [failed.id]
    assert ids(amount={"gte": 200}) == [pending.id, failed.id]
    assert ids(amount={"lt": 300, "gt": 100}) == [failed.id]
    assert ids(created={"gt": NOW}) == [pending.id, failed.id]
    assert ids(created=NOW) == [small.id]
    page = led.topups.list(limit=2)
    assert page.has_more is True and page.url == "/v1/topups"
    assert [t.id for t in page.auto_paging_iter()] == [pending.id, failed.id, small.id]
    assert ids(starting_after=pending.id) == [failed.id, small.id]
    assert ids(ending_before=small.id) == [pending.id, failed.id]


# -- bad input -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "code", "param", "http_status"),
    [
        ({"currency": "usd"}, "parameter_missing", "amount", 400),
        ({"amount": 1000}, "parameter_missing", "currency", 400),
        ({"amount": "1000", "currency": "usd"}, "parameter_invalid_integer", "amount", 400),
        ({"amount": 0, "currency": "usd"}, "parameter_invalid_integer", "amount", 400),
        ({"amount": 100_000_000, "currency": "usd"}, "amount_too_large", "amount", 400),
        ({"amount": 1000, "currency": "xyz"}, None, "currency", 400),
        (
            {"amount": 1000, "currency": "usd", "source": "btok_x"},
            "resource_missing",
            "source",
            404,
        ),
        (
            {"amount": 1000, "currency": "usd", "statement_descriptor": "SIXTEEN CHARS 16"},
            None,
            "statement_descriptor",
            400,
        ),
        (
            {"amount": 1000, "currency": "usd", "statement_descriptor": "2024-11"},
            None,
            "statement_descriptor",
            400,
        ),
        (
            {"amount": 1000, "currency": "usd", "customer": "cus_1"},
            "parameter_unknown",
            "customer",
            400,
        ),
        (
            {"amount": 1000, "currency": "usd", "metadata": {"k" * 41: "v"}},
            "parameter_invalid_string_too_long",
            f"metadata[{'k' * 41}]",
            400,
        ),
    ],
)
def test_bad_create_params_are_refused_naming_the_param_and_write_nothing(
    led: Ledger,
    database_url: str,
    params: dict[str, Any],
    code: str | None,
    param: str,
    http_status: int,
) -> None:
    refused(
        database_url,
        lambda: led.topups.create(**params),
        InvalidRequestError,
        code=code,
        param=param,
        http_status=http_status,
    )


def test_unknown_top_ups_are_404_everywhere(led: Ledger, database_url: str) -> None:
    for call in (
        lambda: led.topups.retrieve("tu_missing"),
        lambda: led.topups.update("tu_missing", description="x"),
        lambda: led.topups.cancel("tu_missing"),
        lambda: led.topups.reverse("tu_missing"),
    ):
        refused(
            database_url,
            call,
            InvalidRequestError,
            code="resource_missing",
            param="id",
            http_status=404,
            message="No such topup: 'tu_missing'",
        )
    refused(
        database_url,
        lambda: led.topups.list(status="reversed"),  # Stripe's list filter lacks it
        InvalidRequestError,
        code=None,
        param="status",
        http_status=400,
    )
    refused(
        database_url,
        lambda: led.topups.update("tu_missing", amount=5),
        InvalidRequestError,
        code="parameter_unknown",
        param="amount",
        http_status=400,
    )


# -- idempotency and connected accounts ------------------------------------------------------


def test_the_same_idempotency_key_creates_one_top_up(led: Ledger, database_url: str) -> None:
    first = led.topups.create(amount=1000, currency="usd", idempotency_key="topup-1")
    before = counts(database_url)
    again = led.topups.create(amount=1000, currency="usd", idempotency_key="topup-1")
    assert again.to_dict() == first.to_dict()
    assert again.last_response is not None and again.last_response.idempotent_replayed
    assert counts(database_url) == before
    with pytest.raises(IdempotencyError):
        led.topups.create(amount=2000, currency="usd", idempotency_key="topup-1")
    assert [t.id for t in led.topups.list().data] == [first.id]


def test_a_connected_accounts_top_ups_are_its_own(led: Ledger, database_url: str) -> None:
    connected = connected_account(led)
    theirs = topped_up(led, 800, stripe_account=connected)
    assert theirs.status == "succeeded"
    assert balance(led, stripe_account=connected) == (800, 0, 800)
    assert balance(led) == (0, 0, 0)
    assert led.topups.list().data == []
    assert [t.id for t in led.topups.list(stripe_account=connected).data] == [theirs.id]
    refused(
        database_url,
        lambda: led.topups.retrieve(theirs.id),
        InvalidRequestError,
        code="resource_missing",
        param="id",
        http_status=404,
    )
    events = all_events(led, stripe_account=connected)
    assert [e.type for e in events] == ["topup.created", "topup.succeeded"]
    assert all(e.account == connected for e in events)


def test_a_test_clock_advance_does_not_answer_top_ups(led: Ledger, clock: FrozenClock) -> None:
    test_clock = led.test_helpers.test_clocks.create(frozen_time=NOW)
    topup = led.topups.create(amount=1000, currency="usd")
    led.test_helpers.test_clocks.advance(test_clock.id, frozen_time=NOW + 86_400)
    assert led.topups.retrieve(topup.id).status == "pending"
    led.run_due()
    assert led.topups.retrieve(topup.id).status == "succeeded"


# -- the log: audit after a mixed run, rebuild ------------------------------------------------


def test_rebuild_reproduces_top_ups_and_their_money_exactly(led: Ledger) -> None:
    succeeded = led.topups.create(amount=1000, currency="usd", metadata={"a": "b"})
    led.topups.create(amount=2000, currency="usd", source="btok_us_verified_insufficientFunds")
    canceled = led.topups.create(amount=3000, currency="usd")
    led.topups.cancel(canceled.id)
    led.run_due()
    reversed_ = led.topups.create(amount=4000, currency="usd", description="later reversed")
    led.run_due()
    led.topups.reverse(reversed_.id)
    led.topups.update(succeeded.id, description="kept")
    led.topups.create(amount=5000, currency="usd")  # still pending
    statuses = sorted(t.status for t in led.topups.list().data)
    assert statuses == ["canceled", "failed", "pending", "reversed", "succeeded"]
    before = [t.to_dict() for t in led.topups.list().data]
    money = led.balance.retrieve().to_dict()
    txns = [t.to_dict() for t in led.balance_transactions.list().data]
    assert money["available"][0]["amount"] == 1000
    led.rebuild()
    assert [t.to_dict() for t in led.topups.list().data] == before
    assert led.balance.retrieve().to_dict() == money
    assert [t.to_dict() for t in led.balance_transactions.list().data] == txns
    report = led.audit()
    assert report.ok, report.discrepancies
