"""External accounts on PostgreSQL: test values, defaults, updates, deletion, who may act.

Every response is checked against Stripe's schema; refusals append nothing.
"""

from __future__ import annotations

from typing import Any

import pytest

from ledger import InvalidRequestError, Ledger
from tests.support.accounts import verified_account
from tests.support.payments import (  # the fixture is used through pytestmark
    all_events,
    audited,  # noqa: F401
    event_types,
    refused,
)
from tests.support.stripe_schema import assert_valid

pytestmark = pytest.mark.usefixtures("audited")

NOW = 1_732_104_000  # the clock fixture: 2024-11-20 12:00 UTC


def add(led: Ledger, external_account: str = "btok_us_verified", **params: Any) -> Any:
    """Add an external account to the platform."""
    return led.accounts.external_accounts.create(
        led.platform_account_id, external_account=external_account, **params
    )


def test_a_test_bank_token_becomes_the_default_bank_account(led: Ledger) -> None:
    platform = led.platform_account_id
    bank = add(led, metadata={"purpose": "payouts"})
    assert bank.id.startswith("ba_") and bank.object == "bank_account"
    assert (bank.account, bank.currency, bank.country, bank.last4) == (
        platform,
        "usd",
        "US",
        "6789",
    )
    assert (bank.default_for_currency, bank.status, bank.bank_name) == (
        True,
        "new",
        "STRIPE TEST BANK",
    )
    assert bank.routing_number == "110000000" and bank.metadata.to_dict() == {"purpose": "payouts"}
    assert "customer" not in bank
    assert led.accounts.external_accounts.retrieve(platform, bank.id).to_dict() == bank.to_dict()
    (event,) = all_events(led)
    assert event.type == "account.external_account.created"
    assert event.data.object.to_dict() == bank.to_dict()
    assert "account" not in event  # the platform's own event


def test_bank_account_details_and_debit_cards(led: Ledger) -> None:
    platform = led.platform_account_id
    first = led.accounts.external_accounts.create(
        platform,
        bank_account={
            "object": "bank_account",
            "country": "US",
            "currency": "usd",
            "account_number": "000888888883",
            "routing_number": "110000000",
            "account_holder_name": "Jenny Rosen",
            "account_holder_type": "individual",
        },
    )
    assert first.available_payout_methods == ["standard"] and first.default_for_currency
    assert (first.account_holder_name, first.account_holder_type) == ("Jenny Rosen", "individual")
    card = add(led, "tok_visa_debit_us_transferSuccess")
    assert card.id.startswith("card_") and card.object == "card"
    assert (card.brand, card.funding, card.last4, card.currency) == ("Visa", "debit", "5556", "usd")
    assert card.available_payout_methods == ["instant", "standard"]
    assert card.default_for_currency is False  # usd already has a default
    assert card.account == platform and card.cvc_check == "pass"
    assert_valid(led.accounts.external_accounts.retrieve(platform, card.id))


def test_a_new_default_takes_the_flag_from_the_old_one(led: Ledger) -> None:
    platform = led.platform_account_id
    first = add(led)
    second = add(led, "tok_mastercard_debit_us_transferSuccess", default_for_currency=True)
    assert second.default_for_currency is True
    assert led.accounts.external_accounts.retrieve(platform, first.id).default_for_currency is False
    third = add(led, "btok_us_verified_noAccount")
    assert third.default_for_currency is False
    updated = led.accounts.external_accounts.update(platform, third.id, default_for_currency=True)
    assert updated.default_for_currency is True
    assert (
        led.accounts.external_accounts.retrieve(platform, second.id).default_for_currency is False
    )
    events = all_events(led)
    changes = [
        (e.data.object.id, e.data.previous_attributes.to_dict())
        for e in events
        if e.type == "account.external_account.updated"
    ]
    assert changes == [
        (first.id, {"default_for_currency": True}),
        (third.id, {"default_for_currency": False}),
        (second.id, {"default_for_currency": True}),
    ]
    defaults = [
        ea.id
        for ea in led.accounts.external_accounts.list(platform).auto_paging_iter()
        if ea.default_for_currency
    ]
    assert defaults == [third.id]


def test_update_holder_details_card_expiry_and_metadata(led: Ledger, database_url: str) -> None:
    platform = led.platform_account_id
    bank = add(led)
    updated = led.accounts.external_accounts.update(
        platform,
        bank.id,
        account_holder_name="Jenny Rosen",
        account_holder_type="company",
        metadata={"k": "v"},
    )
    assert (updated.account_holder_name, updated.account_holder_type) == ("Jenny Rosen", "company")
    cleared = led.accounts.external_accounts.update(
        platform, bank.id, account_holder_type="", metadata={"k": ""}
    )
    assert cleared.account_holder_type is None and cleared.metadata.to_dict() == {}
    card = add(led, "tok_visa_debit")
    card = led.accounts.external_accounts.update(
        platform, card.id, exp_month="7", exp_year="2031", name="J Rosen"
    )
    assert (card.exp_month, card.exp_year, card.name) == (7, 2031, "J Rosen")
    refused(
        database_url,
        lambda: led.accounts.external_accounts.update(platform, card.id, exp_month="13"),
        InvalidRequestError,
        code="invalid_expiry_month",
        param="exp_month",
        http_status=400,
    )
    refused(
        database_url,
        lambda: led.accounts.external_accounts.update(platform, bank.id, exp_year="2030"),
        InvalidRequestError,
        code="parameter_unknown",
        param="exp_year",
        http_status=400,
    )
    refused(
        database_url,
        lambda: led.accounts.external_accounts.update(
            platform, bank.id, default_for_currency=False
        ),
        InvalidRequestError,
        code=None,
        param="default_for_currency",
        http_status=400,
    )
    before = len(all_events(led))
    led.accounts.external_accounts.update(platform, bank.id, account_holder_name="Jenny Rosen")
    assert len(all_events(led)) == before  # nothing changed: no event


def test_list_filters_by_kind_and_pages(led: Ledger, database_url: str) -> None:
    platform = led.platform_account_id
    banks = [add(led, "btok_us_verified") for _ in range(3)]
    cards = [add(led, "tok_visa_debit") for _ in range(2)]
    listed = led.accounts.external_accounts.list(platform)
    assert listed.url == f"/v1/accounts/{platform}/external_accounts"
    assert [ea.id for ea in listed.data] == [ea.id for ea in reversed(banks + cards)]
    assert [ea.id for ea in led.accounts.external_accounts.list(platform, object="card").data] == [
        c.id for c in reversed(cards)
    ]
    only_banks = led.accounts.external_accounts.list(platform, object="bank_account", limit=2)
    assert [ea.id for ea in only_banks.data] == [banks[2].id, banks[1].id] and only_banks.has_more
    every = list(led.accounts.external_accounts.list(platform, limit=2).auto_paging_iter())
    assert [ea.id for ea in every] == [ea.id for ea in reversed(banks + cards)]
    refused(
        database_url,
        lambda: led.accounts.external_accounts.list(platform, object="bank"),
        InvalidRequestError,
        code=None,
        param="object",
        http_status=400,
    )


def test_delete_follows_stripes_rules_for_the_default(led: Ledger, database_url: str) -> None:
    platform = led.platform_account_id
    default = add(led)
    other = add(led, "tok_visa_debit")
    refused(
        database_url,
        lambda: led.accounts.external_accounts.delete(platform, default.id),
        InvalidRequestError,
        code=None,
        param="id",
        http_status=400,
        message=(
            "You cannot delete the default external account for your default currency. Please "
            "make another external account the default using the `default_for_currency` param, "
            "and then delete this one."
        ),
    )
    deleted = led.accounts.external_accounts.delete(platform, other.id)
    assert deleted.to_dict() == {"id": other.id, "object": "card", "deleted": True}
    # The last one in usd, the account's default currency, still cannot go.
    refused(
        database_url,
        lambda: led.accounts.external_accounts.delete(platform, default.id),
        InvalidRequestError,
        code=None,
        param="id",
        http_status=400,
    )
    for call in (
        lambda: led.accounts.external_accounts.retrieve(platform, other.id),
        lambda: led.accounts.external_accounts.delete(platform, other.id),
        lambda: led.accounts.external_accounts.update(platform, other.id, metadata={"a": "b"}),
    ):
        error = refused(
            database_url,
            call,
            InvalidRequestError,
            code="resource_missing",
            param="id",
            http_status=404,
        )
        assert error.message == f"No such external account: '{other.id}'"
    assert [ea.id for ea in led.accounts.external_accounts.list(platform).data] == [default.id]
    assert event_types(led)[-1] == "account.external_account.deleted"


def test_a_connected_account_keeps_its_external_accounts_in_its_own_books(led: Ledger) -> None:
    connected = verified_account(led)
    assert led.accounts.retrieve(connected).external_accounts.data == []
    # The platform adds one for the account; the account adds another itself.
    bank = led.accounts.external_accounts.create(connected, external_account="btok_us_verified")
    card = led.accounts.external_accounts.create(
        connected, external_account="tok_visa_debit", stripe_account=connected
    )
    assert bank.account == card.account == connected
    assert (bank.default_for_currency, card.default_for_currency) == (True, False)
    for options in ({}, {"stripe_account": connected}):
        listed = led.accounts.external_accounts.list(connected, **options)
        assert [ea.id for ea in listed.data] == [card.id, bank.id]
        again = led.accounts.external_accounts.retrieve(connected, bank.id, **options)
        assert again.to_dict() == bank.to_dict()
    assert led.accounts.external_accounts.list(led.platform_account_id).data == []
    account = led.accounts.retrieve(connected)
    assert [ea.id for ea in account.external_accounts.data] == [card.id, bank.id]
    events = all_events(led, stripe_account=connected)
    assert [e.type for e in events][-2:] == ["account.external_account.created"] * 2
    assert {e.account for e in events} == {connected}
    assert event_types(led).count("account.external_account.created") == 0


def test_who_may_act_for_an_account(led: Ledger, database_url: str) -> None:
    platform = led.platform_account_id
    one, other = verified_account(led), verified_account(led)
    calls = [
        # the platform, for an account that does not exist
        ("acct_1Nobody", {}),
        # a connected account, for another account or for the platform
        (other, {"stripe_account": one}),
        (platform, {"stripe_account": one}),
    ]
    for account, options in calls:
        for call in (
            lambda a=account, o=options: led.accounts.external_accounts.create(
                a, external_account="btok_us_verified", **o
            ),
            lambda a=account, o=options: led.accounts.external_accounts.list(a, **o),
            lambda a=account, o=options: led.accounts.external_accounts.retrieve(a, "ba_x", **o),
        ):
            refused(
                database_url,
                call,
                InvalidRequestError,
                code="resource_missing",
                param="account",
                http_status=404,
                message=f"No such account: '{account}'",
            )


@pytest.mark.parametrize(
    ("params", "code", "param", "status"),
    [
        ({}, "parameter_missing", "external_account", 400),
        (
            {"external_account": "btok_us_verified", "bank_account": "btok_us_verified"},
            "parameters_exclusive",
            "bank_account",
            400,
        ),
        ({"external_account": "btok_nope"}, "resource_missing", "external_account", 404),
        ({"external_account": "tok_nope"}, "resource_missing", "external_account", 404),
        ({"external_account": "tok_visa"}, "invalid_card_type", "external_account", 400),
        ({"bank_account": "tok_visa_debit"}, None, "bank_account", 400),
        (
            {
                "bank_account": {
                    "country": "US",
                    "account_number": "1234",
                    "routing_number": "110000000",
                }
            },
            "account_number_invalid",
            "bank_account[account_number]",
            400,
        ),
        (
            {
                "bank_account": {
                    "country": "US",
                    "account_number": "000123456789",
                    "routing_number": "1",
                }
            },
            "routing_number_invalid",
            "bank_account[routing_number]",
            400,
        ),
        (
            {"bank_account": {"country": "US", "routing_number": "110000000"}},
            "parameter_missing",
            "bank_account[account_number]",
            400,
        ),
        (
            {"external_account": "btok_us_verified", "metadata": {"": "x"}},
            "parameter_invalid_empty",
            "metadata",
            400,
        ),
        (
            {"external_account": "btok_us_verified", "surprise": 1},
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
    refused(
        database_url,
        lambda: led.accounts.external_accounts.create(led.platform_account_id, **params),
        InvalidRequestError,
        code=code,
        param=param,
        http_status=status,
    )


def test_a_test_account_number_is_required(led: Ledger, database_url: str) -> None:
    refused(
        database_url,
        lambda: led.accounts.external_accounts.create(
            led.platform_account_id,
            bank_account={"country": "US", "account_number": "123", "routing_number": "110000000"},
        ),
        InvalidRequestError,
        code="account_number_invalid",
        param="bank_account[account_number]",
        http_status=400,
        message=(
            "You must use a test bank account number in test mode. Try 000123456789 or see more "
            "options at https://stripe.com/docs/connect/testing#account-numbers."
        ),
    )
