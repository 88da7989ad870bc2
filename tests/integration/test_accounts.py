"""Accounts (Connect) on PostgreSQL: the platform's own, connected accounts, their capabilities,
verification by due work, `stripe_account`, deletion, events and refusals.

Every object returned is checked against Stripe's schema (tests/integration/conftest.py).
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import psycopg
import pytest

from ledger import FrozenClock, IdempotencyError, InvalidRequestError, Ledger, PermissionError
from ledger.domain import account as domain
from ledger.services.accounts import find_account, open_platform_account
from ledger.services.base import Service
from ledger.services.runner import RequestContext, UnitOfWork, run_command
from tests.support.accounts import (
    CAPABILITIES,
    NOW,
    VERIFIED_INDIVIDUAL,
    connected_account,
    verified_account,
)
from tests.support.payments import all_events, counts, event_types, refused

IDENTITY_LATER = VERIFIED_INDIVIDUAL | {
    "individual": VERIFIED_INDIVIDUAL["individual"] | {"dob": {"day": 1, "month": 1, "year": 1901}}
}


def account_events(url: str, account_id: str) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "SELECT count(*) FROM events WHERE stream_id = %s", (account_id,)
        ).fetchone()
    assert row is not None
    return int(row[0])


def add_bank_account(led: Ledger, account: str) -> Any:
    return led.accounts.external_accounts.create(account, external_account="btok_us_verified")


# -- the platform's own account ------------------------------------------------------------------


def test_the_platform_has_its_own_account(led: Ledger) -> None:
    me = led.accounts.retrieve_current()
    assert (me.id, me.object, me.type, me.country) == (
        led.platform_account_id,
        "account",
        "standard",
        "US",
    )
    assert me.created == NOW and me.default_currency == "usd"
    assert me.settings.payouts.schedule.to_dict() == {"delay_days": 2, "interval": "manual"}
    assert me.capabilities.to_dict() == {"card_payments": "active", "transfers": "active"}
    assert me.charges_enabled and me.details_submitted and not me.payouts_enabled
    assert me.requirements.currently_due == ["external_account"]
    assert me.controller.to_dict() == {"type": "account"}
    assert led.accounts.retrieve(led.platform_account_id).to_dict() == me.to_dict()
    # Not one of its connected accounts.
    assert led.accounts.list().data == []


def test_the_platforms_account_is_opened_once(led: Ledger, database_url: str) -> None:
    platform = led.platform_account_id
    assert account_events(database_url, platform) == 1
    open_platform_account(led._engine)
    with Ledger.open(database_url, migrate=False) as again:
        assert again.platform_account_id == platform
    assert account_events(database_url, platform) == 1


def test_first_opens_racing_open_one_account(database_url: str, clock: FrozenClock) -> None:
    """Ledgers opened at once on a new database: one of them opens the platform's account."""
    racers = 4
    start = threading.Barrier(racers)

    def open_ledger(_: int) -> str:
        start.wait()
        with Ledger.open(database_url, clock=clock, migrate=False) as opened:
            return opened.platform_account_id

    with ThreadPoolExecutor(racers) as pool:
        (platform,) = set(pool.map(open_ledger, range(racers)))
    assert account_events(database_url, platform) == 1


def test_the_platform_can_update_its_own_account(led: Ledger) -> None:
    me = led.accounts.update(
        led.platform_account_id,
        settings={"payouts": {"schedule": {"interval": "weekly", "weekly_anchor": "friday"}}},
        business_profile={"name": "The Platform"},
    )
    assert me.settings.payouts.schedule.weekly_anchor == "friday"
    assert led.accounts.retrieve_current().business_profile.name == "The Platform"
    assert event_types(led) == ["account.updated"]


# -- connected accounts ------------------------------------------------------------------------


def test_a_custom_account_starts_with_everything_due(led: Ledger) -> None:
    account = led.accounts.create(
        type="custom",
        country="US",
        email="seller@example.com",
        capabilities=CAPABILITIES,
        metadata={"seller": "42"},
    )
    assert account.id.startswith("acct_") and len(account.id) == len("acct_") + 16
    assert (account.type, account.email, account.metadata.to_dict()) == (
        "custom",
        "seller@example.com",
        {"seller": "42"},
    )
    assert account.capabilities.to_dict() == {"card_payments": "inactive", "transfers": "inactive"}
    assert account.requirements.disabled_reason == "requirements.past_due"
    assert "business_type" in account.requirements.currently_due
    assert account.settings.payouts.schedule.to_dict() == {"delay_days": 2, "interval": "daily"}
    assert account.external_accounts.to_dict() == {
        "object": "list",
        "data": [],
        "has_more": False,
        "total_count": 0,
        "url": f"/v1/accounts/{account.id}/external_accounts",
    }
    assert led.accounts.retrieve(account.id).to_dict() == account.to_dict()
    # Stripe publishes no account.created.
    assert event_types(led) == []


def test_an_individual_with_the_test_values_is_verified_at_once(led: Ledger) -> None:
    account = led.accounts.retrieve(verified_account(led))
    assert account.capabilities.to_dict() == {"card_payments": "active", "transfers": "active"}
    assert account.charges_enabled and account.details_submitted and not account.payouts_enabled
    assert account.individual.verification.status == "verified"
    assert account.individual.ssn_last_4_provided and not account.individual.id_number_provided
    assert account.requirements.currently_due == ["external_account"]


def test_1901_01_01_is_verified_by_due_work(led: Ledger, clock: FrozenClock) -> None:
    account_id = connected_account(led)
    account = led.accounts.update(account_id, **IDENTITY_LATER)
    assert account.capabilities.to_dict() == {"card_payments": "pending", "transfers": "pending"}
    assert account.requirements.disabled_reason == "requirements.pending_verification"
    assert led.accounts.retrieve_capability(account_id, "transfers").status == "pending"
    assert led.run_due() == 1
    account = led.accounts.retrieve(account_id)
    assert account.capabilities.to_dict() == {"card_payments": "active", "transfers": "active"}
    assert account.requirements.pending_verification == []
    assert led.run_due() == 0
    events = all_events(led)
    assert [e.type for e in events] == [
        "account.updated",
        "capability.updated",
        "capability.updated",
        "account.updated",
        "capability.updated",
        "capability.updated",
    ]
    assert events[-1].data.previous_attributes.status == "pending"
    assert events[-1].data.object.status == "active" and events[-1].data.object.id == "transfers"
    assert all("account" not in event for event in events)  # the platform's own events


def test_a_deleted_account_is_not_verified(led: Ledger) -> None:
    account_id = connected_account(led, **IDENTITY_LATER)
    led.accounts.delete(account_id)
    assert led.run_due() == 0


def test_external_accounts_are_read_from_the_connected_accounts_books(led: Ledger) -> None:
    account_id = verified_account(led)
    bank = add_bank_account(led, account_id)
    account = led.accounts.retrieve(account_id)
    assert [ba.id for ba in account.external_accounts.data] == [bank.id]
    assert account.external_accounts.total_count == 1
    assert account.requirements.currently_due == [] and account.payouts_enabled
    assert led.accounts.list().data[0].payouts_enabled
    assert led.accounts.retrieve_current(stripe_account=account_id).payouts_enabled
    # The platform's own bank account is not the connected account's, nor the reverse.
    assert not led.accounts.retrieve_current().payouts_enabled
    add_bank_account(led, led.platform_account_id)
    assert led.accounts.retrieve_current().payouts_enabled
    assert led.accounts.retrieve(account_id).external_accounts.total_count == 1


def test_the_embedded_list_shows_the_first_ten_external_accounts(led: Ledger) -> None:
    account_id = connected_account(led)
    added = [add_bank_account(led, account_id).id for _ in range(11)]
    embedded = led.accounts.retrieve(account_id).external_accounts
    assert (embedded.total_count, embedded.has_more, len(embedded.data)) == (11, True, 10)
    assert {ba.id for ba in embedded.data} <= set(added)


def test_express_and_standard_accounts_are_onboarded_by_stripe(led: Ledger) -> None:
    express = led.accounts.create(type="express", capabilities=CAPABILITIES)
    standard = led.accounts.create(type="standard", country="GB")
    for account in (express, standard):
        assert account.capabilities.to_dict() == {"card_payments": "active", "transfers": "active"}
        assert account.details_submitted and account.charges_enabled
    assert standard.settings.payouts.schedule.to_dict() == {"delay_days": 3, "interval": "daily"}
    assert standard.controller.stripe_dashboard.type == "full"
    assert express.controller.fees.payer == "application_express"


def test_controller_properties_describe_a_new_account(led: Ledger) -> None:
    account = led.accounts.create(
        controller={
            "fees": {"payer": "application"},
            "losses": {"payments": "application"},
            "requirement_collection": "application",
            "stripe_dashboard": {"type": "none"},
        },
        capabilities=CAPABILITIES,
    )
    assert account.type == "custom"
    assert account.controller.to_dict() == {
        "fees": {"payer": "application"},
        "is_controller": True,
        "losses": {"payments": "application"},
        "requirement_collection": "application",
        "stripe_dashboard": {"type": "none"},
        "type": "application",
    }
    assert "business_type" in account.requirements.currently_due


def test_update_and_its_events(led: Ledger) -> None:
    account_id = connected_account(led)
    updated = led.accounts.update(
        account_id, business_profile={"mcc": "5734", "name": "Mugs"}, metadata={"k": "v"}
    )
    assert updated.business_profile.mcc == "5734"
    assert "business_profile.mcc" not in updated.requirements.currently_due
    # The capabilities' requirements changed too.
    event, *capability_events = all_events(led)
    assert [e.data.object.id for e in capability_events] == ["card_payments", "transfers"]
    assert {e.type for e in capability_events} == {"capability.updated"}
    assert (
        "business_profile.mcc"
        in capability_events[0].data.previous_attributes.requirements["currently_due"]
    )
    assert event.type == "account.updated" and event.data.object.id == account_id
    assert event.data.previous_attributes.metadata.to_dict() == {"k": None}
    assert event.data.previous_attributes.business_profile.to_dict() == {"mcc": None, "name": None}
    assert event.request.id == updated.last_response.request_id
    # The same again changes nothing and records nothing.
    led.accounts.update(account_id, metadata={"k": "v"})
    assert len(all_events(led)) == 3


def test_list_is_newest_first_and_pages(led: Ledger, clock: Any) -> None:
    from datetime import timedelta

    made = []
    for _ in range(3):
        made.append(connected_account(led))
        clock.advance(timedelta(seconds=1))
    listed = led.accounts.list(limit=2)
    assert [a.id for a in listed.data] == [made[2], made[1]] and listed.has_more
    assert [a.id for a in listed.auto_paging_iter()] == made[::-1]
    assert [a.id for a in led.accounts.list(created={"lt": NOW + 1}).data] == [made[0]]
    assert listed.url == "/v1/accounts"


# -- capabilities ------------------------------------------------------------------------------


def test_capabilities_can_be_listed_retrieved_and_requested(led: Ledger, clock: Any) -> None:
    from datetime import timedelta

    account_id = verified_account(led, capabilities={"transfers": {"requested": True}})
    capabilities = led.accounts.list_capabilities(account_id)
    assert [c.id for c in capabilities.data] == ["transfers"]
    assert capabilities.url == f"/v1/accounts/{account_id}/capabilities"
    card = led.accounts.retrieve_capability(account_id, "card_payments")
    assert (card.status, card.requested, card.requested_at) == ("unrequested", False, None)
    clock.advance(timedelta(minutes=1))
    card = led.accounts.update_capability(account_id, "card_payments", requested=True)
    assert (card.status, card.requested, card.requested_at) == ("active", True, NOW + 60)
    assert led.accounts.retrieve(account_id).charges_enabled
    assert [c.id for c in led.accounts.list_capabilities(account_id).data] == [
        "card_payments",
        "transfers",
    ]
    assert event_types(led)[-2:] == ["account.updated", "capability.updated"]
    card = led.accounts.update_capability(account_id, "card_payments", requested=False)
    assert (card.status, card.requested) == ("unrequested", False)
    assert led.accounts.retrieve(account_id).capabilities.card_payments == "inactive"
    same = led.accounts.update_capability(account_id, "card_payments")
    assert same.to_dict() == card.to_dict()


def test_bad_capability_requests_are_refused(led: Ledger, database_url: str) -> None:
    account_id = connected_account(led)
    refused(
        database_url,
        lambda: led.accounts.retrieve_capability(account_id, "teleportation"),
        InvalidRequestError,
        code="resource_missing",
        param="capability",
        http_status=404,
        message="No such capability: 'teleportation'",
    )
    refused(
        database_url,
        lambda: led.accounts.update_capability(account_id, "treasury", requested=True),
        InvalidRequestError,
        code="parameter_unsupported",
        param="capability",
        http_status=400,
    )
    refused(
        database_url,
        lambda: led.accounts.update_capability(account_id, "transfers", requested=False),
        InvalidRequestError,
        code=None,
        param="capabilities",
        http_status=400,
        message=domain.MESSAGE_CARD_PAYMENTS_WITHOUT_TRANSFERS,
    )
    refused(
        database_url,
        lambda: led.accounts.update_capability(account_id, "transfers", requested="yes"),
        InvalidRequestError,
        code=None,
        param="requested",
        http_status=400,
    )
    standard = led.accounts.create(type="standard").id
    refused(
        database_url,
        lambda: led.accounts.update_capability(standard, "transfers", requested=False),
        InvalidRequestError,
        code=None,
        param="capabilities",
        http_status=400,
    )


# -- stripe_account and who sees what ----------------------------------------------------------


def test_stripe_account_must_name_a_live_connected_account(led: Ledger, database_url: str) -> None:
    account_id = connected_account(led)
    gone = connected_account(led)
    led.accounts.delete(gone)
    for bad in ("acct_1NeverOpened", gone, "nope", 42):
        error = refused(
            database_url,
            lambda b=bad: led.customers.create(stripe_account=b),
            PermissionError,
            code="account_invalid",
            param="stripe_account",
            http_status=403,
        )
        assert f"'{bad}'" in error.message
    assert led.customers.create(stripe_account=account_id).id.startswith("cus_")
    platform = led.customers.create(stripe_account=led.platform_account_id)
    assert [c.id for c in led.customers.list().data] == [platform.id]


def test_the_check_costs_platform_calls_nothing(
    led: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    account_id = connected_account(led)
    checked: list[str] = []
    real = Service._is_connected_account

    def spy(self: Service, account: str) -> bool:
        checked.append(account)
        return real(self, account)

    monkeypatch.setattr(Service, "_is_connected_account", spy)
    led.customers.list()
    led.customers.list(stripe_account=led.platform_account_id)
    assert checked == []
    led.customers.list(stripe_account=account_id)
    assert checked == [account_id]


def test_a_connected_account_sees_itself_and_no_other(led: Ledger, database_url: str) -> None:
    mine, other = connected_account(led), connected_account(led)
    me = {"stripe_account": mine}
    assert led.accounts.retrieve_current(**me).id == mine
    assert led.accounts.retrieve(mine, **me).to_dict() == led.accounts.retrieve(mine).to_dict()
    assert led.accounts.update(mine, metadata={"by": "itself"}, **me).metadata.by == "itself"
    assert [c.id for c in led.accounts.list_capabilities(mine, **me).data] == [
        "card_payments",
        "transfers",
    ]
    assert led.accounts.list(**me).data == []
    for call in (
        lambda: led.accounts.retrieve(other, **me),
        lambda: led.accounts.update(other, metadata={"x": "y"}, **me),
        lambda: led.accounts.delete(other, **me),
        lambda: led.accounts.delete(mine, **me),
        lambda: led.accounts.retrieve(led.platform_account_id, **me),
        lambda: led.accounts.list_capabilities(other, **me),
        lambda: led.accounts.retrieve_capability(other, "transfers", **me),
        lambda: led.accounts.update_capability(other, "transfers", requested=True, **me),
    ):
        refused(
            database_url,
            call,
            InvalidRequestError,
            code="resource_missing",
            param="id",
            http_status=404,
        )
    refused(
        database_url,
        lambda: led.accounts.create(type="custom", capabilities=CAPABILITIES, **me),
        InvalidRequestError,
        code=None,
        param=None,
        http_status=400,
        message=domain.MESSAGE_NOT_CONNECT,
    )


def test_find_account_reads_live_accounts_of_the_platform(led: Ledger) -> None:
    account_id = connected_account(led)
    gone = connected_account(led)
    led.accounts.delete(gone)
    found: dict[str, Any] = {}

    def command(uow: UnitOfWork) -> dict[str, Any]:
        for name in (account_id, gone, "acct_1Nope", led.platform_account_id):
            state = find_account(uow, name)
            found[name] = None if state is None else state.data["id"]
        return {}

    ctx = RequestContext(led.platform_account_id, "req_test", None, led.clock.now())
    run_command(led._engine, ctx, "test", {}, [], command)
    assert found == {
        account_id: account_id,
        gone: None,
        "acct_1Nope": None,
        led.platform_account_id: led.platform_account_id,
    }


# -- delete ------------------------------------------------------------------------------------


def test_a_deleted_account_is_gone(led: Ledger, database_url: str) -> None:
    account_id = connected_account(led)
    customer = led.customers.create(stripe_account=account_id)
    stub = led.accounts.delete(account_id)
    assert stub.to_dict() == {"id": account_id, "object": "account", "deleted": True}
    assert led.accounts.list().data == []
    for call in (
        lambda: led.accounts.retrieve(account_id),
        lambda: led.accounts.update(account_id, metadata={"k": "v"}),
        lambda: led.accounts.delete(account_id),
        lambda: led.accounts.list_capabilities(account_id),
    ):
        refused(
            database_url,
            call,
            InvalidRequestError,
            code="resource_missing",
            param="id",
            http_status=404,
            message=f"No such account: '{account_id}'",
        )
    refused(
        database_url,
        lambda: led.customers.retrieve(customer.id, stripe_account=account_id),
        PermissionError,
        code="account_invalid",
        param="stripe_account",
        http_status=403,
    )
    assert event_types(led) == []  # Stripe publishes no account.deleted


def test_the_platforms_account_cannot_be_deleted(led: Ledger, database_url: str) -> None:
    refused(
        database_url,
        lambda: led.accounts.delete(led.platform_account_id),
        InvalidRequestError,
        code=None,
        param="account",
        http_status=400,
    )


# -- idempotency and bad input -----------------------------------------------------------------


def test_create_is_idempotent(led: Ledger, database_url: str) -> None:
    params: dict[str, Any] = {"type": "custom", "capabilities": CAPABILITIES}
    first = led.accounts.create(**params, idempotency_key="acct-1")
    before = counts(database_url)
    again = led.accounts.create(**params, idempotency_key="acct-1")
    assert again.to_dict() == first.to_dict() and again.last_response.idempotent_replayed
    assert counts(database_url) == before
    with pytest.raises(IdempotencyError):
        led.accounts.create(**params, email="x@example.com", idempotency_key="acct-1")
    controller = {"stripe_dashboard": {"type": "express"}, "losses": {"payments": "application"}}
    other = led.accounts.create(
        capabilities=CAPABILITIES, controller=controller, idempotency_key="c"
    )
    with pytest.raises(IdempotencyError):
        led.accounts.create(
            capabilities=CAPABILITIES,
            controller=controller | {"fees": {"payer": "application"}},
            idempotency_key="c",
        )
    assert led.accounts.retrieve(other.id).type == "express"


BAD_CREATES: list[tuple[dict[str, Any], str | None, str | None]] = [
    ({"type": "platform"}, "type", None),
    ({"type": "custom"}, "capabilities", "parameter_missing"),
    (
        {"type": "custom", "capabilities": CAPABILITIES, "colour": "red"},
        "colour",
        "parameter_unknown",
    ),
    (
        {"type": "custom", "capabilities": {"transfers": {"requested": "maybe"}}},
        "capabilities[transfers][requested]",
        None,
    ),
    ({"type": "standard", "capabilities": CAPABILITIES}, "capabilities", None),
    ({"type": "custom", "controller": {}, "capabilities": CAPABILITIES}, "controller", None),
    ({"controller": {"fees": {"payer": "nobody"}}}, "controller[fees][payer]", None),
    ({"type": "custom", "capabilities": CAPABILITIES, "country": "ZZ"}, "country", None),
    ({"type": "custom", "capabilities": CAPABILITIES, "email": "nope"}, "email", "email_invalid"),
    (
        {"type": "custom", "capabilities": CAPABILITIES, "external_account": "btok_us"},
        "external_account",
        "parameter_unsupported",
    ),
    (
        {"type": "custom", "capabilities": CAPABILITIES, "individual": {"first_name": "J"}},
        "individual",
        None,
    ),
    (
        {
            "type": "custom",
            "capabilities": CAPABILITIES,
            "settings": {"payouts": {"schedule": {"interval": "weekly"}}},
        },
        "settings[payouts][schedule][weekly_anchor]",
        "parameter_missing",
    ),
    (
        {"type": "express", "capabilities": CAPABILITIES, "tos_acceptance": {"ip": "1.2.3.4"}},
        "tos_acceptance",
        None,
    ),
]


@pytest.mark.parametrize(("params", "param", "code"), BAD_CREATES)
def test_bad_creates_are_refused_and_write_nothing(
    led: Ledger, database_url: str, params: dict[str, Any], param: str | None, code: str | None
) -> None:
    refused(
        database_url,
        lambda: led.accounts.create(**params),
        InvalidRequestError,
        code=code,
        param=param,
        http_status=400,
    )
    assert led.accounts.list().data == []


def test_bad_updates_are_refused_and_write_nothing(led: Ledger, database_url: str) -> None:
    account_id = connected_account(led)
    for params, param, code in [
        ({"type": "express"}, "type", "parameter_unknown"),
        ({"country": "GB"}, "country", "parameter_unknown"),
        ({"business_profile": {"url": "no url"}}, "business_profile[url]", None),
        ({"settings": {"payouts": {"schedule": {"delay_days": 1}}}}, None, None),
        ({"tos_acceptance": {"ip": "999.1.1.1"}}, "tos_acceptance[ip]", None),
        ({"default_currency": "eur"}, "default_currency", None),
    ]:
        refused(
            database_url,
            lambda p=params: led.accounts.update(account_id, **p),
            InvalidRequestError,
            code=code,
            param=param or "settings[payouts][schedule][delay_days]",
            http_status=400,
        )
    refused(
        database_url,
        lambda: led.accounts.update("acct_1Nobody", metadata={"k": "v"}),
        InvalidRequestError,
        code="resource_missing",
        param="id",
        http_status=404,
        message="No such account: 'acct_1Nobody'",
    )
