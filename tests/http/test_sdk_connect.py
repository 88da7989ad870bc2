"""Connect over Stripe's wire: the official `stripe` SDK drives accounts, external accounts,
transfers, payouts, top-ups, destination charges and application fees on `ledger serve`.

Every response is checked by the recorder (tests/http/conftest.py): headers, and Stripe's schema
with the request's `expand`. The shared server carries out its due work in the background on the
wall clock (identity checks finishing, top-ups answered, instant payouts paid); the flows that
need days to pass (standard payouts arriving, a destination charge's funds becoming available)
run on this module's own server, whose frozen clock the tests move.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

import pytest
import stripe

from ledger import FrozenClock, Ledger
from ledger.server.auth import generate_test_key
from tests.conftest import _admin, with_database
from tests.http.conftest import Recorder, new_key, response_header, sent_json, serving

T = TypeVar("T")

NOW = 1_732_104_000  # Wednesday 2024-11-20 12:00 UTC: the frozen server's start
FRIDAY = 1_732_233_600  # 00:00 UTC: standard payouts made on Wednesday arrive
FEE = 88  # Stripe's fee on $20.00: 2.9% + 30¢
_EVENTUALLY_SECONDS = 10.0

# A US individual with Stripe's test verification values: date of birth 1901-01-01 is verified
# "shortly after" (the next time due work runs), address_full_match and 000000000 match.
INDIVIDUAL: dict[str, Any] = {
    "first_name": "Jenny",
    "last_name": "Rosen",
    "email": "jenny@example.com",
    "phone": "0000000000",
    "dob": {"day": 1, "month": 1, "year": 1901},
    "address": {
        "line1": "address_full_match",
        "city": "San Francisco",
        "state": "CA",
        "postal_code": "94111",
        "country": "US",
    },
    "ssn_last_4": "0000",
    "id_number": "000000000",
}
CAPABILITIES = {"card_payments": {"requested": True}, "transfers": {"requested": True}}
# A custom account that has provided nothing yet: its capabilities cannot be active.
UNVERIFIED: dict[str, Any] = {"type": "custom", "country": "US", "capabilities": CAPABILITIES}


def custom_account(**overrides: Any) -> dict[str, Any]:
    """The params of a custom US account that Stripe's test mode verifies."""
    return {
        "type": "custom",
        "country": "US",
        "email": "seller@example.com",
        "business_type": "individual",
        "business_profile": {"mcc": "5734", "url": "https://accessible.stripe.com"},
        "capabilities": CAPABILITIES,
        "individual": INDIVIDUAL,
        "tos_acceptance": {"date": NOW, "ip": "127.0.0.1"},
    } | overrides


def _until(fetch: Callable[[], T], done: Callable[[T], bool]) -> T:
    """`fetch()` again until `done` holds for what it returns: the server's due work runs apart
    from the requests (every conftest.DUE_INTERVAL_SECONDS)."""
    deadline = time.monotonic() + _EVENTUALLY_SECONDS
    while not done(found := fetch()):
        assert time.monotonic() < deadline, "the server's due work did not run"
        time.sleep(0.05)
    return found


def _as(account: str | None) -> Any:
    """Request options acting as `account` (None: the platform)."""
    return {} if account is None else {"stripe_account": account}


def available(client: stripe.StripeClient, account: str | None = None) -> int:
    """The available usd balance of the platform or of `account`."""
    balance = client.balance.retrieve(options=_as(account))
    return sum(entry.amount for entry in balance.available if entry.currency == "usd")


def pending(client: stripe.StripeClient, account: str | None = None) -> int:
    """The pending usd balance of the platform or of `account`."""
    balance = client.balance.retrieve(options=_as(account))
    return sum(entry.amount for entry in balance.pending if entry.currency == "usd")


def fund_platform(client: stripe.StripeClient, amount: int = 10_000) -> int:
    """Make `amount` available on the platform at once (pm_card_bypassPending); the net."""
    intent = client.payment_intents.create(
        params={
            "amount": amount,
            "currency": "usd",
            "payment_method": "pm_card_bypassPending",
            "payment_method_types": ["card"],
            "confirm": True,
            "expand": ["latest_charge", "latest_charge.balance_transaction"],
        }
    )
    txn = intent.latest_charge.balance_transaction
    assert (txn.status, txn.amount) == ("available", amount)
    return int(txn.net)


def verified_account(client: stripe.StripeClient) -> str:
    """A new custom account, once the server's due work has made its capabilities active."""
    account = client.accounts.create(params=custom_account()).id
    _until(
        lambda: client.accounts.retrieve(account), lambda a: a.capabilities.transfers == "active"
    )
    return account


@pytest.fixture
def seller(client: stripe.StripeClient) -> str:
    return verified_account(client)


# -- accounts -------------------------------------------------------------------------------------


def test_a_custom_account_is_verified_by_due_work(client: stripe.StripeClient) -> None:
    created = client.accounts.create(params=custom_account(metadata={"shop": "mugs"}))
    assert isinstance(created, stripe.Account)
    assert created.id.startswith("acct_") and created.type == "custom"
    # Stripe verifies 1901-01-01 "shortly after": until then the capabilities are pending.
    assert sent_json(created)["capabilities"] == {
        "card_payments": "pending",
        "transfers": "pending",
    }
    assert created.charges_enabled is False and created.payouts_enabled is False
    assert created.metadata == {"shop": "mugs"}

    verified = _until(
        lambda: client.accounts.retrieve(created.id),
        lambda a: a.capabilities.transfers == "active",
    )
    assert verified.capabilities.card_payments == "active"
    assert verified.charges_enabled is True
    assert verified.requirements.currently_due == ["external_account"]  # for payouts
    assert verified.external_accounts.total_count == 0

    updated = client.accounts.update(
        created.id,
        params={"metadata": {"shop": "", "tier": "gold"}, "business_profile": {"name": "Mugs"}},
    )
    assert updated.metadata == {"tier": "gold"}
    assert updated.business_profile.name == "Mugs"

    capabilities = client.accounts.capabilities.list(created.id)
    assert {(c.id, c.status) for c in capabilities.data} == {
        ("card_payments", "active"),
        ("transfers", "active"),
    }
    transfers = client.accounts.capabilities.retrieve(created.id, "transfers")
    assert isinstance(transfers, stripe.Capability)
    assert (transfers.account, transfers.requested, transfers.status) == (
        created.id,
        True,
        "active",
    )
    dropped = client.accounts.capabilities.update(
        created.id, "card_payments", params={"requested": False}
    )
    assert (dropped.requested, dropped.status) == (False, "unrequested")
    assert client.accounts.retrieve(created.id).charges_enabled is False

    listed = client.accounts.list(params={"limit": 100})
    assert created.id in {a.id for a in listed.auto_paging_iter()}


def test_get_account_answers_for_the_account_of_the_request(
    client: stripe.StripeClient, seller: str
) -> None:
    platform = client.accounts.retrieve_current()
    assert platform.id != seller
    itself = client.accounts.retrieve_current(options={"stripe_account": seller})
    assert itself.id == seller and itself.type == "custom"
    # The platform's own account is not one of its connected accounts.
    assert platform.id not in {a.id for a in client.accounts.list(params={"limit": 100}).data}
    other = client.accounts.create(params=UNVERIFIED)
    with pytest.raises(stripe.InvalidRequestError) as hidden:
        client.accounts.retrieve(other.id, options={"stripe_account": seller})
    assert (hidden.value.http_status, hidden.value.code) == (404, "resource_missing")


def test_a_deleted_account_can_no_longer_be_acted_as(client: stripe.StripeClient) -> None:
    account = client.accounts.create(params=UNVERIFIED).id
    assert client.customers.list(options={"stripe_account": account}).data == []
    deleted = client.accounts.delete(account)
    assert (deleted.id, deleted.deleted) == (account, True)
    with pytest.raises(stripe.InvalidRequestError) as missing:
        client.accounts.retrieve(account)
    assert missing.value.http_status == 404
    with pytest.raises(stripe.PermissionError) as revoked:
        client.customers.list(options={"stripe_account": account})
    assert revoked.value.http_status == 403
    assert revoked.value.error is not None and revoked.value.error.code == "account_invalid"


# -- external accounts --------------------------------------------------------------------------


def test_external_accounts(client: stripe.StripeClient, seller: str) -> None:
    accounts = client.accounts.external_accounts
    bank = accounts.create(
        seller, params={"external_account": "btok_us_verified", "metadata": {"n": "1"}}
    )
    assert isinstance(bank, stripe.BankAccount)
    assert (bank.account, bank.currency, bank.default_for_currency) == (seller, "usd", True)
    assert bank.bank_name == "STRIPE TEST BANK"
    card = accounts.create(seller, params={"external_account": "tok_visa_debit_us_transferSuccess"})
    assert isinstance(card, stripe.Card)
    assert card.default_for_currency is False
    assert accounts.retrieve(seller, bank.id).metadata == {"n": "1"}

    moved = accounts.update(seller, card.id, params={"default_for_currency": True})
    assert moved.default_for_currency is True
    assert accounts.retrieve(seller, bank.id).default_for_currency is False
    listed = accounts.list(seller)
    assert [x.id for x in listed.data] == [card.id, bank.id]
    assert [x.id for x in accounts.list(seller, params={"object": "card"}).data] == [card.id]

    account = client.accounts.retrieve(seller)
    assert account.payouts_enabled is True
    assert account.external_accounts.total_count == 2
    # The connected account may manage its own; another connected account may not.
    own = accounts.list(seller, options={"stripe_account": seller})
    assert [x.id for x in own.data] == [card.id, bank.id]
    other = client.accounts.create(params=UNVERIFIED).id
    with pytest.raises(stripe.InvalidRequestError) as hidden:
        accounts.list(seller, options={"stripe_account": other})
    assert (hidden.value.http_status, hidden.value.code) == (404, "resource_missing")

    deleted = accounts.delete(seller, bank.id)
    assert (deleted.id, deleted.deleted) == (bank.id, True)
    with pytest.raises(stripe.InvalidRequestError) as gone:
        accounts.retrieve(seller, bank.id)
    assert gone.value.http_status == 404


# -- transfers and reversals ------------------------------------------------------------------


def test_a_transfer_moves_available_funds_and_a_reversal_brings_them_back(
    client: stripe.StripeClient, seller: str
) -> None:
    fund_platform(client)
    before = available(client)
    transfer = client.transfers.create(
        params={
            "amount": 1500,
            "currency": "usd",
            "destination": seller,
            "transfer_group": "ORDER-7",
            "metadata": {"order": "7"},
            "expand": ["balance_transaction"],
        }
    )
    assert isinstance(transfer, stripe.Transfer)
    assert (transfer.amount, transfer.destination, transfer.reversed) == (1500, seller, False)
    txn = transfer.balance_transaction
    assert isinstance(txn, stripe.BalanceTransaction)
    assert (txn.type, txn.amount, txn.status, txn.source) == (
        "transfer",
        -1500,
        "available",
        transfer.id,
    )
    assert available(client) == before - 1500
    assert available(client, seller) == 1500

    # The connected account sees the payment, not the transfer.
    payment = client.charges.retrieve(
        transfer.destination_payment,
        params={"expand": ["balance_transaction"]},
        options={"stripe_account": seller},
    )
    assert payment.id.startswith("py_")
    assert (payment.amount, payment.source_transfer) == (1500, transfer.id)
    assert payment.balance_transaction.type == "payment"
    with pytest.raises(stripe.InvalidRequestError) as hidden:
        client.transfers.retrieve(transfer.id, options={"stripe_account": seller})
    assert (hidden.value.http_status, hidden.value.code) == (404, "resource_missing")

    updated = client.transfers.update(transfer.id, params={"description": "mugs"})
    assert updated.description == "mugs" and updated.metadata == {"order": "7"}
    listed = client.transfers.list(params={"destination": seller})
    assert [t.id for t in listed.data] == [transfer.id]
    assert [t.id for t in client.transfers.list(params={"transfer_group": "ORDER-7"}).data] == [
        transfer.id
    ]

    reversal = client.transfers.reversals.create(
        transfer.id,
        params={"amount": 500, "metadata": {"why": "return"}, "expand": ["balance_transaction"]},
    )
    assert isinstance(reversal, stripe.Reversal)
    assert (reversal.amount, reversal.transfer) == (500, transfer.id)
    assert (reversal.balance_transaction.type, reversal.balance_transaction.amount) == (
        "transfer_refund",
        500,
    )
    assert available(client, seller) == 1000
    assert available(client) == before - 1000
    rest = client.transfers.reversals.create(transfer.id)
    assert rest.amount == 1000
    after = client.transfers.retrieve(transfer.id)
    assert (after.amount_reversed, after.reversed) == (1500, True)
    assert [r.id for r in after.reversals.data] == [rest.id, reversal.id]
    page = client.transfers.reversals.list(transfer.id, params={"limit": 1})
    assert [r.id for r in page.data] == [rest.id] and page.has_more is True
    assert [r.id for r in page.auto_paging_iter()] == [rest.id, reversal.id]
    fetched = client.transfers.reversals.retrieve(transfer.id, reversal.id)
    assert sent_json(fetched)["metadata"] == {"why": "return"}
    tagged = client.transfers.reversals.update(
        transfer.id, reversal.id, params={"metadata": {"case": "9"}}
    )
    assert tagged.metadata == {"why": "return", "case": "9"}
    with pytest.raises(stripe.InvalidRequestError) as nothing_left:
        client.transfers.reversals.create(transfer.id, params={"amount": 1})
    assert (nothing_left.value.http_status, nothing_left.value.param) == (400, "amount")


def test_expand_destination_payment(client: stripe.StripeClient, seller: str) -> None:
    fund_platform(client, 2000)
    transfer = client.transfers.create(
        params={
            "amount": 700,
            "currency": "usd",
            "destination": seller,
            "expand": ["destination_payment"],
        }
    )
    assert isinstance(transfer.destination_payment, stripe.Charge)
    assert transfer.destination_payment.source_transfer == transfer.id


def test_transfer_refusals(client: stripe.StripeClient, seller: str) -> None:
    fund_platform(client, 2000)
    too_much = available(client) + 1
    with pytest.raises(stripe.InvalidRequestError) as insufficient:
        client.transfers.create(
            params={"amount": too_much, "currency": "usd", "destination": seller}
        )
    error = insufficient.value
    assert (error.http_status, error.code, error.param) == (400, "balance_insufficient", "amount")
    assert error.user_message is not None
    assert error.user_message.startswith("You have insufficient available funds")
    assert client.transfers.list(params={"destination": seller}).data == []

    with pytest.raises(stripe.InvalidRequestError) as nowhere:
        client.transfers.create(
            params={"amount": 100, "currency": "usd", "destination": "acct_1NoSuchAccount00"}
        )
    assert (nowhere.value.code, nowhere.value.param) == ("resource_missing", "destination")
    assert nowhere.value.user_message == "No such destination: 'acct_1NoSuchAccount00'"

    unverified = client.accounts.create(params=UNVERIFIED).id
    with pytest.raises(stripe.InvalidRequestError) as incapable:
        client.transfers.create(
            params={"amount": 100, "currency": "usd", "destination": unverified}
        )
    assert incapable.value.code == "insufficient_capabilities_for_transfer"
    assert incapable.value.param == "destination"

    # Only the platform transfers: to a connected account, accounts are not destinations.
    with pytest.raises(stripe.InvalidRequestError) as connected:
        client.transfers.create(
            params={"amount": 100, "currency": "usd", "destination": seller},
            options={"stripe_account": seller},
        )
    assert connected.value.code == "resource_missing"


# -- payouts ------------------------------------------------------------------------------------


def test_payouts_on_both_sides(client: stripe.StripeClient, seller: str) -> None:
    platform = client.accounts.retrieve_current().id
    # The platform pays out to a bank account of its own, named explicitly: other tests on
    # this shared server may add theirs.
    own_bank = client.accounts.external_accounts.create(
        platform, params={"external_account": "btok_us_verified"}
    )
    fund_platform(client)
    before = available(client)
    mine = client.payouts.create(
        params={
            "amount": 1000,
            "currency": "usd",
            "destination": own_bank.id,
            "metadata": {"run": "1"},
            "expand": ["balance_transaction", "destination"],
        }
    )
    assert isinstance(mine, stripe.Payout)
    assert (mine.status, mine.method, mine.type, mine.automatic) == (
        "pending",
        "standard",
        "bank_account",
        False,
    )
    assert isinstance(mine.destination, stripe.BankAccount) and mine.destination.id == own_bank.id
    assert (mine.balance_transaction.type, mine.balance_transaction.amount) == ("payout", -1000)
    assert available(client) == before - 1000
    canceled = client.payouts.cancel(mine.id, params={"expand": ["failure_balance_transaction"]})
    assert canceled.status == "canceled"
    assert canceled.failure_balance_transaction.type == "payout_cancel"
    assert available(client) == before

    # The connected account pays out what it received, to its own default bank account.
    client.transfers.create(params={"amount": 3000, "currency": "usd", "destination": seller})
    theirs = client.accounts.external_accounts.create(
        seller, params={"external_account": "btok_us_verified"}
    )
    as_seller: Any = {"stripe_account": seller}
    payout = client.payouts.create(
        params={"amount": 1200, "currency": "usd", "description": "weekly"}, options=as_seller
    )
    assert (payout.destination, payout.status) == (theirs.id, "pending")
    assert available(client, seller) == 1800
    updated = client.payouts.update(payout.id, params={"metadata": {"k": "v"}}, options=as_seller)
    assert updated.metadata == {"k": "v"}
    listed = client.payouts.list(params={"status": "pending"}, options=as_seller)
    assert [p.id for p in listed.data] == [payout.id]
    with pytest.raises(stripe.InvalidRequestError) as hidden:
        client.payouts.retrieve(payout.id)
    assert (hidden.value.http_status, hidden.value.code) == (404, "resource_missing")
    # Only a paid payout can be reversed, and this one takes days to arrive.
    with pytest.raises(stripe.InvalidRequestError) as early:
        client.payouts.reverse(payout.id, options=as_seller)
    assert early.value.http_status == 400


def test_an_instant_payout_is_paid_by_the_servers_due_work(
    client: stripe.StripeClient, seller: str
) -> None:
    fund_platform(client, 2000)
    client.transfers.create(params={"amount": 1500, "currency": "usd", "destination": seller})
    as_seller: Any = {"stripe_account": seller}
    card = client.accounts.external_accounts.create(
        seller,
        params={"external_account": "tok_visa_debit_us_transferSuccess"},
        options=as_seller,
    )
    payout = client.payouts.create(
        params={"amount": 1500, "currency": "usd", "method": "instant", "destination": card.id},
        options=as_seller,
    )
    assert (payout.method, payout.type, payout.arrival_date) == ("instant", "card", payout.created)
    paid = _until(
        lambda: client.payouts.retrieve(payout.id, options=as_seller),
        lambda p: p.status not in ("pending", "in_transit"),
    )
    assert (paid.status, paid.trace_id.status) == ("paid", "supported")
    assert available(client, seller) == 0


def test_a_payout_the_balance_does_not_cover_is_refused(
    client: stripe.StripeClient, seller: str
) -> None:
    as_seller: Any = {"stripe_account": seller}
    client.accounts.external_accounts.create(
        seller, params={"external_account": "btok_us_verified"}
    )
    with pytest.raises(stripe.InvalidRequestError) as refused:
        client.payouts.create(params={"amount": 100, "currency": "usd"}, options=as_seller)
    error = refused.value
    assert (error.http_status, error.code, error.param) == (400, "balance_insufficient", None)
    assert error.user_message is not None and "Your card balance is too low." in error.user_message
    assert client.payouts.list(options=as_seller).data == []


# -- top-ups ------------------------------------------------------------------------------------


def test_top_ups(client: stripe.StripeClient, account: str) -> None:
    as_account: Any = {"stripe_account": account}
    topup = client.topups.create(
        params={
            "amount": 5000,
            "currency": "usd",
            "source": "btok_us_verified",
            "description": "float",
            "statement_descriptor": "TOPUP",
        },
        options=as_account,
    )
    assert isinstance(topup, stripe.Topup)
    assert (topup.status, topup.balance_transaction) == ("pending", None)
    succeeded = _until(
        lambda: client.topups.retrieve(topup.id, options=as_account),
        lambda t: t.status != "pending",
    )
    assert succeeded.status == "succeeded"
    expanded = client.topups.retrieve(
        succeeded.id, params={"expand": ["balance_transaction"]}, options=as_account
    )
    assert (expanded.balance_transaction.type, expanded.balance_transaction.amount) == (
        "topup",
        5000,
    )
    assert available(client, account) == 5000
    updated = client.topups.update(
        topup.id, params={"metadata": {"k": "v"}, "description": "more"}, options=as_account
    )
    assert (updated.description, updated.metadata) == ("more", {"k": "v"})

    failing = client.topups.create(
        params={"amount": 700, "currency": "usd", "source": "btok_us_verified_noAccount"},
        options=as_account,
    )
    failed = _until(
        lambda: client.topups.retrieve(failing.id, options=as_account),
        lambda t: t.status != "pending",
    )
    assert failed.status == "failed"
    assert failed.failure_code == "no_account"
    assert [t.id for t in client.topups.list(params={"status": "failed"}, options=as_account)] == [
        failing.id
    ]
    with pytest.raises(stripe.InvalidRequestError) as late:
        client.topups.cancel(topup.id, options=as_account)
    assert late.value.http_status == 400

    # The ledger's own test helper: the bank takes a succeeded top-up back.
    response = client.raw_request(
        "post", f"/v1/test_helpers/topups/{topup.id}/reverse", stripe_account=account
    )
    reversed_topup = client.deserialize(response, api_mode="V1")
    assert isinstance(reversed_topup, stripe.Topup)
    assert reversed_topup.status == "reversed"
    assert available(client, account) == 0


# -- destination charges and application fees ---------------------------------------------------


def _destination_charge(
    client: stripe.StripeClient, seller: str, amount: int = 2000, fee: int = 123
) -> stripe.PaymentIntent:
    return client.payment_intents.create(
        params={
            "amount": amount,
            "currency": "usd",
            "payment_method": "pm_card_visa",
            "payment_method_types": ["card"],
            "confirm": True,
            "application_fee_amount": fee,
            "transfer_data": {"destination": seller},
            "expand": ["latest_charge"],
        }
    )


def test_a_destination_charge_with_an_application_fee_and_its_refund(
    client: stripe.StripeClient, seller: str
) -> None:
    intent = _destination_charge(client, seller)
    charge = intent.latest_charge
    assert isinstance(charge, stripe.Charge)
    assert (charge.application_fee_amount, charge.transfer_data.destination) == (123, seller)
    transfer = client.transfers.retrieve(charge.transfer)
    assert (transfer.amount, transfer.source_transaction) == (2000, charge.id)
    fee = client.application_fees.retrieve(
        charge.application_fee, params={"expand": ["balance_transaction", "account"]}
    )
    assert isinstance(fee, stripe.ApplicationFee)
    assert (fee.amount, fee.originating_transaction) == (123, charge.id)
    assert isinstance(fee.account, stripe.Account) and fee.account.id == seller
    assert (fee.balance_transaction.type, fee.balance_transaction.status) == (
        "application_fee",
        "pending",
    )
    assert pending(client, seller) == 2000 - 123
    listed = client.application_fees.list(params={"charge": fee.charge})
    assert [f.id for f in listed.data] == [fee.id]
    with pytest.raises(stripe.InvalidRequestError) as hidden:
        client.application_fees.retrieve(fee.id, options={"stripe_account": seller})
    assert hidden.value.http_status == 404

    refund = client.refunds.create(
        params={
            "payment_intent": intent.id,
            "amount": 1000,
            "reverse_transfer": True,
            "refund_application_fee": True,
        }
    )
    assert (refund.amount, refund.status) == (1000, "succeeded")
    assert refund.transfer_reversal is not None
    reversed_part = client.transfers.retrieve(transfer.id)
    assert reversed_part.amount_reversed == 1000
    (reversal,) = reversed_part.reversals.data
    assert (reversal.id, reversal.source_refund) == (refund.transfer_reversal, refund.id)
    refunded = client.application_fees.retrieve(fee.id)
    # Half the charge refunded: half the fee, 61.5 rounded half up.
    assert (refunded.amount_refunded, refunded.refunded) == (62, False)
    fee_refunds = client.application_fees.refunds.list(fee.id)
    assert [r.amount for r in fee_refunds.data] == [62]
    # The reversal takes back pending funds; the fee refund is available at once.
    assert (pending(client, seller), available(client, seller)) == (2000 - 123 - 1000, 62)

    # The rest of the fee, refunded directly, then listed, retrieved and tagged.
    rest = client.application_fees.refunds.create(fee.id, params={"metadata": {"why": "goodwill"}})
    assert isinstance(rest, stripe.ApplicationFeeRefund)
    assert (rest.amount, rest.fee) == (61, fee.id)
    assert client.application_fees.retrieve(fee.id).refunded is True
    fetched = client.application_fees.refunds.retrieve(fee.id, rest.id)
    assert sent_json(fetched) == sent_json(rest)
    tagged = client.application_fees.refunds.update(
        fee.id, rest.id, params={"metadata": {"case": "3"}}
    )
    assert tagged.metadata == {"why": "goodwill", "case": "3"}
    refunds = client.application_fees.refunds.list(fee.id)
    assert [r.id for r in refunds.data] == [rest.id, fee_refunds.data[0].id]
    with pytest.raises(stripe.InvalidRequestError) as empty:
        client.application_fees.refunds.create(fee.id, params={"amount": 1})
    assert empty.value.http_status == 400


# -- errors, idempotency ------------------------------------------------------------------------


def test_another_accounts_ids_are_missing(client: stripe.StripeClient, seller: str) -> None:
    fund_platform(client, 2000)
    transfer = client.transfers.create(
        params={"amount": 300, "currency": "usd", "destination": seller}
    )
    other = verified_account(client)
    payment = transfer.destination_payment
    # The payment is the seller's: neither the platform nor another connected account has it.
    assert client.charges.retrieve(payment, options={"stripe_account": seller}).id == payment
    for scope in ({}, {"stripe_account": other}):
        with pytest.raises(stripe.InvalidRequestError) as hidden:
            client.charges.retrieve(payment, options=scope)
        error = hidden.value
        assert (error.http_status, error.code) == (404, "resource_missing")
        assert error.user_message == f"No such charge: '{payment}'"
    with pytest.raises(stripe.InvalidRequestError) as reversal:
        client.transfers.reversals.create(transfer.id, options={"stripe_account": seller})
    assert reversal.value.code == "resource_missing"


def test_an_unknown_stripe_account_is_a_permission_error(client: stripe.StripeClient) -> None:
    for unknown in ("acct_1NoSuchAccount00", "not-an-account"):
        with pytest.raises(stripe.PermissionError) as forbidden:
            client.transfers.list(options={"stripe_account": unknown})
        error = forbidden.value
        # The SDK keeps a 403's code only in `error.error`.
        assert error.http_status == 403
        assert error.error is not None and error.error.code == "account_invalid"
        assert error.user_message is not None and unknown in error.user_message


def test_idempotent_transfers_and_payouts_move_money_once(
    client: stripe.StripeClient, seller: str
) -> None:
    fund_platform(client, 3000)
    before = available(client)
    key = new_key()
    params: Any = {"amount": 1000, "currency": "usd", "destination": seller}
    first = client.transfers.create(params=params, options={"idempotency_key": key})
    again = client.transfers.create(params=params, options={"idempotency_key": key})
    assert again.id == first.id and sent_json(again) == sent_json(first)
    assert response_header(first, "Idempotent-Replayed") is None
    assert response_header(again, "Idempotent-Replayed") == "true"
    assert response_header(again, "Idempotency-Key") == key
    assert available(client) == before - 1000
    assert available(client, seller) == 1000
    with pytest.raises(stripe.IdempotencyError) as reused:
        client.transfers.create(params=params | {"amount": 999}, options={"idempotency_key": key})
    assert reused.value.http_status == 400

    as_seller: Any = {"stripe_account": seller}
    client.accounts.external_accounts.create(
        seller, params={"external_account": "btok_us_verified"}
    )
    payout_key = new_key()
    payout = client.payouts.create(
        params={"amount": 400, "currency": "usd"},
        options=as_seller | {"idempotency_key": payout_key},
    )
    replayed = client.payouts.create(
        params={"amount": 400, "currency": "usd"},
        options=as_seller | {"idempotency_key": payout_key},
    )
    assert replayed.id == payout.id
    assert response_header(replayed, "Idempotent-Replayed") == "true"
    assert available(client, seller) == 600
    assert [p.id for p in client.payouts.list(options=as_seller).data] == [payout.id]
    # Keys are scoped per account: the platform's request with the same key is its own.
    with pytest.raises(stripe.InvalidRequestError) as platform_side:
        client.payouts.create(
            params={"amount": 400, "currency": "usd", "destination": "ba_nope"},
            options={"idempotency_key": payout_key},
        )
    assert platform_side.value.http_status == 404


# -- the resource-style API (module globals) ----------------------------------------------------


@pytest.mark.usefixtures("global_sdk")
def test_the_resource_style_api() -> None:
    account = stripe.Account.create(**custom_account())
    _until(
        lambda: stripe.Account.retrieve(account.id), lambda a: a.capabilities.transfers == "active"
    )
    assert stripe.Account.retrieve(stripe_account=account.id).id == account.id  # GET /v1/account
    assert stripe.Account.modify(account.id, metadata={"a": "1"}).metadata == {"a": "1"}
    capability = stripe.Account.retrieve_capability(account.id, "transfers")
    assert capability.status == "active"
    bank = stripe.Account.create_external_account(account.id, external_account="btok_us_verified")
    assert [x.id for x in stripe.Account.list_external_accounts(account.id).data] == [bank.id]
    assert stripe.Account.retrieve_external_account(account.id, bank.id).last4 == "6789"

    stripe.PaymentIntent.create(
        amount=5000,
        currency="usd",
        payment_method="pm_card_bypassPending",
        payment_method_types=["card"],
        confirm=True,
    )
    transfer = stripe.Transfer.create(amount=2500, currency="usd", destination=account.id)
    assert stripe.Transfer.modify(transfer.id, description="share").description == "share"
    reversal = stripe.Transfer.create_reversal(transfer.id, amount=500)
    assert [r.id for r in stripe.Transfer.list_reversals(transfer.id).data] == [reversal.id]
    assert stripe.Transfer.retrieve_reversal(transfer.id, reversal.id).amount == 500
    tagged = stripe.Transfer.modify_reversal(transfer.id, reversal.id, metadata={"k": "v"})
    assert tagged.metadata == {"k": "v"}
    assert stripe.Transfer.retrieve(transfer.id).amount_reversed == 500

    payout = stripe.Payout.create(amount=800, currency="usd", stripe_account=account.id)
    assert payout.destination == bank.id
    assert stripe.Payout.cancel(payout.id, stripe_account=account.id).status == "canceled"
    assert [p.id for p in stripe.Payout.list(stripe_account=account.id).data] == [payout.id]
    with pytest.raises(stripe.InvalidRequestError) as insufficient:
        stripe.Payout.create(amount=2001, currency="usd", stripe_account=account.id)
    assert insufficient.value.code == "balance_insufficient"

    topup = stripe.Topup.create(amount=300, currency="usd", stripe_account=account.id)
    assert stripe.Topup.modify(topup.id, metadata={"t": "1"}, stripe_account=account.id).metadata
    assert topup.id in {t.id for t in stripe.Topup.list(stripe_account=account.id).data}

    intent = stripe.PaymentIntent.create(
        amount=1000,
        currency="usd",
        payment_method="pm_card_visa",
        payment_method_types=["card"],
        confirm=True,
        application_fee_amount=100,
        transfer_data={"destination": account.id},
    )
    charge = stripe.Charge.retrieve(intent.latest_charge)
    fee = stripe.ApplicationFee.retrieve(charge.application_fee)
    assert fee.amount == 100
    assert fee.id in {f.id for f in stripe.ApplicationFee.list(limit=100).auto_paging_iter()}
    fee_refund = stripe.ApplicationFee.create_refund(fee.id, amount=40)
    assert stripe.ApplicationFee.retrieve_refund(fee.id, fee_refund.id).amount == 40
    assert stripe.ApplicationFee.modify_refund(fee.id, fee_refund.id, metadata={"r": "1"}).metadata
    assert [r.id for r in stripe.ApplicationFee.list_refunds(fee.id).data] == [fee_refund.id]
    refund = stripe.Refund.create(
        charge=charge.id, reverse_transfer=True, refund_application_fee=True
    )
    assert refund.amount == 1000
    assert stripe.Transfer.retrieve(charge.transfer).reversed is True
    assert stripe.ApplicationFee.retrieve(fee.id).refunded is True

    with pytest.raises(stripe.PermissionError):
        stripe.Balance.retrieve(stripe_account="acct_1NoSuchAccount00")


# -- time passing: a server of this module, on a frozen clock ---------------------------------


@dataclass
class Frozen:
    """A running server whose clock only the test moves, and an SDK client for it."""

    client: stripe.StripeClient
    led: Ledger
    clock: FrozenClock

    def advance_to(self, unix: int) -> None:
        """Move the clock to `unix` and carry out the work that fell due."""
        self.clock.set(datetime.fromtimestamp(unix, UTC))
        self.led.run_due()


@pytest.fixture(scope="module")
def frozen(server_url: str, template_database: str) -> Iterator[Frozen]:
    """`ledger serve`'s app over a fresh database and a frozen clock, with no background work."""
    name = f"ledger_http_frozen_{secrets.token_hex(6)}"
    with _admin(server_url) as conn:
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template_database}"')
    clock = FrozenClock(datetime.fromtimestamp(NOW, UTC))
    led = Ledger.open(with_database(server_url, name), clock=clock, migrate=False)
    key = generate_test_key()
    try:
        with serving(led, key, due_interval_seconds=None) as port:
            client = stripe.StripeClient(
                key,
                base_addresses={"api": f"http://127.0.0.1:{port}"},
                http_client=Recorder(),
                max_network_retries=0,
            )
            yield Frozen(client, led, clock)
    finally:
        led.close()
        with _admin(server_url) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_a_marketplace_over_days(frozen: Frozen) -> None:
    """Onboard, sell with a destination charge, pay out, and reverse a payout, as days pass."""
    client = frozen.client
    seller = client.accounts.create(
        params=custom_account(settings={"payouts": {"schedule": {"interval": "manual"}}})
    ).id
    assert client.accounts.retrieve(seller).capabilities.transfers == "pending"
    frozen.led.run_due()  # Stripe's test mode finishes verifying 1901-01-01 shortly after
    assert client.accounts.retrieve(seller).capabilities.transfers == "active"
    bank = client.accounts.external_accounts.create(
        seller, params={"external_account": "btok_us_verified"}
    )

    intent = _destination_charge(client, seller)
    charge = intent.latest_charge
    assert (pending(client), pending(client, seller)) == (123 - FEE, 2000 - 123)
    frozen.advance_to(FRIDAY)  # two business days: the charge's funds become available
    assert (available(client), pending(client)) == (123 - FEE, 0)
    assert (available(client, seller), pending(client, seller)) == (2000 - 123, 0)
    fee_txn = client.application_fees.retrieve(
        charge.application_fee, params={"expand": ["balance_transaction"]}
    ).balance_transaction
    assert fee_txn.status == "available"

    as_seller: Any = {"stripe_account": seller}
    payout = client.payouts.create(params={"amount": 1500, "currency": "usd"}, options=as_seller)
    assert (payout.destination, payout.arrival_date) == (bank.id, FRIDAY + 4 * 86_400)
    frozen.advance_to(FRIDAY + 3 * 86_400)  # Monday 00:00: submitted
    assert client.payouts.retrieve(payout.id, options=as_seller).status == "in_transit"
    frozen.advance_to(payout.arrival_date)
    paid = client.payouts.retrieve(payout.id, options=as_seller)
    assert (paid.status, paid.trace_id.status) == ("paid", "supported")

    reversal = client.payouts.reverse(
        payout.id, params={"metadata": {"why": "wrong account"}}, options=as_seller
    )
    assert (reversal.amount, reversal.original_payout, reversal.status) == (
        -1500,
        payout.id,
        "pending",
    )
    assert client.payouts.retrieve(payout.id, options=as_seller).reversed_by == reversal.id
    assert pending(client, seller) == 1500
    frozen.advance_to(reversal.arrival_date)
    assert client.payouts.retrieve(reversal.id, options=as_seller).status == "paid"
    assert available(client, seller) == 2000 - 123

    # A pending top-up can be canceled while no due work has answered it.
    topup = client.topups.create(params={"amount": 900, "currency": "usd"})
    canceled = client.topups.cancel(topup.id)
    assert canceled.status == "canceled"
    frozen.led.run_due()
    assert client.topups.retrieve(topup.id).status == "canceled"
    assert frozen.led.audit().ok
