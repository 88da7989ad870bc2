"""Direct charges' application fees in the pure domain: the charge, its balance transaction's fee
breakdown and postings, and the platform's side, without a database."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from ledger.domain import application_fee as fee_domain
from ledger.domain import charge as domain
from ledger.domain.application_fee import DirectCharge, direct_fee_amount
from ledger.domain.balance_transaction import BalanceTransactionCreated, new_balance_transaction
from ledger.domain.postings import BOOK_CONNECT, BOOK_STRIPE, FEES, Posting, imbalances
from ledger.money import DEFAULT_PRICING
from tests.support.charge_states import attempt, created

NOW = datetime(2024, 11, 20, 12, 0, tzinfo=UTC)
CREATED = int(NOW.timestamp())
STRIPE_FEE = 88  # on $20.00
DIRECT = DirectCharge(application="ca_platform", application_fee_id="fee_test")


def booked(charge: dict[str, Any], amount: int = 2000) -> BalanceTransactionCreated:
    return domain.charge_balance_transaction(
        txn_id="txn_test",
        account_id="acct_seller",
        charge=charge,
        amount=amount,
        at=NOW,
        pricing=DEFAULT_PRICING,
        bypass_pending=False,
    )


def by_book(postings: list[Posting]) -> dict[tuple[str, str], int]:
    return {(p.book, p.account): p.amount for p in postings}


def test_a_captured_direct_charge_names_its_application_and_fee() -> None:
    charge = created(attempt(application_fee_amount=123, direct=DIRECT)).data
    assert (charge["application"], charge["application_fee"]) == ("ca_platform", "fee_test")


def test_an_uncaptured_or_fee_less_direct_charge_takes_no_fee() -> None:
    held = created(attempt(capture=False, application_fee_amount=123, direct=DIRECT)).data
    assert (held["application"], held["application_fee"]) == ("ca_platform", None)
    for fee in (None, 0):
        charge = created(attempt(application_fee_amount=fee, direct=DIRECT)).data
        assert (charge["application"], charge["application_fee"]) == ("ca_platform", None)
        assert [d["type"] for d in booked(charge).balance_transaction["fee_details"]] == [
            "stripe_fee"
        ]


def test_the_platforms_own_charge_has_no_application() -> None:
    charge = created(attempt()).data
    assert (charge["application"], charge["application_fee"]) == (None, None)


def test_a_direct_charge_is_never_a_destination_charge() -> None:
    with pytest.raises(AssertionError):
        attempt(direct=DIRECT, transfer_data={"destination": "acct_other", "amount": None})


def test_the_fee_is_itemised_and_posted_to_its_in_transit_account() -> None:
    charge = created(attempt(application_fee_amount=123, direct=DIRECT)).data
    event = booked(charge)
    txn = event.balance_transaction
    assert (txn["amount"], txn["fee"], txn["net"]) == (2000, STRIPE_FEE + 123, 2000 - 211)
    assert [(d["type"], d["amount"], d["application"]) for d in txn["fee_details"]] == [
        ("stripe_fee", STRIPE_FEE, None),
        ("application_fee", 123, "ca_platform"),
    ]
    postings = by_book(event.postings)
    assert postings[(BOOK_STRIPE, FEES)] == STRIPE_FEE
    assert postings[(BOOK_CONNECT, "fee_test")] == 123
    assert postings[("acct_seller", "pending")] == 2000 - STRIPE_FEE - 123
    assert imbalances(event.postings) == {}


def test_the_platforms_side_settles_the_in_transit_account() -> None:
    charge = created(attempt(application_fee_amount=123, direct=DIRECT)).data
    context = fee_domain.FeeContext(
        platform_account_id="acct_platform",
        account_id="acct_seller",
        fee_id="fee_test",
        balance_transaction_id="txn_fee",
        application="ca_platform",
        created=CREATED,
        available_on=CREATED + 86_400,
    )
    appends = fee_domain.decide_create(
        context, amount=123, money="usd", charge=charge["id"], originating_transaction=None
    )
    (txn_event,) = [e for _, _, events in appends for e in events if e.event_type.startswith("bal")]
    assert isinstance(txn_event, BalanceTransactionCreated)
    in_transit = [*booked(charge).postings, *txn_event.postings]
    assert sum(p.amount for p in in_transit if p.book == BOOK_CONNECT) == 0
    (fee_created,) = [e for _, stream, events in appends if stream == "fee_test" for e in events]
    assert isinstance(fee_created, fee_domain.ApplicationFeeCreated)
    assert (fee_created.fee["charge"], fee_created.fee["originating_transaction"]) == (
        "ch_test",
        None,
    )


def test_a_capture_takes_at_most_the_captured_amount() -> None:
    held = created(attempt(capture=False, application_fee_amount=1500, direct=DIRECT)).data
    assert direct_fee_amount(held, 1000) == 1000
    assert direct_fee_amount(held, 2000) == 1500
    changes = domain.direct_capture_changes(held, 1000, DIRECT)
    assert changes == {"application_fee": "fee_test"}
    txn = booked(held | changes, amount=1000).balance_transaction
    assert txn["fee_details"][1]["amount"] == 1000
    assert domain.direct_capture_changes(held, 1000, None) == {}
    fee_less = held | {"application_fee_amount": 0}
    assert domain.direct_capture_changes(fee_less, 1000, DIRECT) == {}


def test_fee_accounts_route_each_fee_type_and_keep_the_total() -> None:
    details = [
        {"amount": 30, "application": None, "currency": "usd", "description": "", "type": "a"},
        {"amount": 20, "application": None, "currency": "usd", "description": "", "type": "b"},
    ]
    event = new_balance_transaction(
        txn_id="txn_x",
        account_id="acct_x",
        type="charge",
        amount=100,
        currency="usd",
        fee_details=details,
        created=CREATED,
        available_on=CREATED,
        source=None,
        fee_accounts={"b": (BOOK_CONNECT, "fee_x")},
    )
    assert by_book(event.postings) == {
        ("acct_x", "available"): 50,
        ("network", "card"): -100,
        (BOOK_STRIPE, FEES): 30,
        (BOOK_CONNECT, "fee_x"): 20,
    }
