"""Customers: create with every param, Stripe's defaults, update, delete, list filters."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from typing import Any

import psycopg
import pytest

from ledger import FrozenClock, Ledger
from ledger.errors import IdempotencyError, InvalidRequestError
from tests.conftest import SHARED_STRIPE
from tests.support.accounts import connected_account
from tests.support.stripe_schema import assert_valid

FIXTURE = json.loads((SHARED_STRIPE / "fixtures3.json").read_text())["resources"]["customer"]
# Includable fields: in the customer schema, but returned only when expanded.
NOT_INCLUDED = {
    "cash_balance",
    "invoice_credit_balance",
    "sources",
    "subscriptions",
    "tax",
    "tax_ids",
}


def unix(clock: FrozenClock) -> int:
    return int(clock.now().timestamp())


def event_count(database_url: str) -> int:
    with psycopg.connect(database_url) as conn:
        row = conn.execute("SELECT count(*) FROM events").fetchone()
    assert row is not None
    return int(row[0])


def valid(obj: Any) -> dict[str, Any]:
    assert_valid(obj)
    data: dict[str, Any] = obj.to_dict()
    return data


def customer_types(led: Ledger, **params: Any) -> list[str]:
    return [e.type for e in led.events.list(type="customer.*", limit=100, **params)]


# -- create --------------------------------------------------------------------------------------


def test_create_without_params_has_stripe_defaults(led: Ledger, clock: FrozenClock) -> None:
    cus = led.customers.create()
    data = valid(cus)

    assert set(data) == set(FIXTURE), "exactly the fields of Stripe's customer fixture"
    assert not NOT_INCLUDED & set(data)
    assert re.fullmatch(r"cus_[A-Za-z0-9]{14}", data["id"])
    assert re.fullmatch(r"[A-Z0-9]{3,12}", data["invoice_prefix"])
    assert data["created"] == unix(clock) == 1732104000
    # A new customer has no currency until it is first charged (the fixture's was: "usd").
    expected = FIXTURE | {
        "id": data["id"],
        "created": data["created"],
        "invoice_prefix": data["invoice_prefix"],
        "currency": None,
    }
    assert data == expected
    assert cus.last_response.http_status == 200
    assert cus.last_response.request_id.startswith("req_")
    assert not cus.last_response.idempotent_replayed
    assert valid(led.customers.retrieve(cus.id)) == data


def test_invoice_prefixes_differ_between_customers(led: Ledger) -> None:
    prefixes = {led.customers.create().invoice_prefix for _ in range(3)}
    assert len(prefixes) == 3


def test_create_with_every_supported_param(led: Ledger, clock: FrozenClock) -> None:
    address = {
        "city": "Springfield",
        "country": "US",
        "line1": "1 Main St",
        "line2": "Apt 2",
        "postal_code": "12345",
        "state": "IL",
    }
    cus = led.customers.create(
        address=address,
        balance=-1500,
        description="A very good customer",
        email="jenny.rosen@example.com",
        invoice_prefix="JENNY01",
        invoice_settings={
            "custom_fields": [{"name": "PO", "value": "12-34"}],
            "footer": "Thanks!",
            "rendering_options": {"amount_tax_display": "include_inclusive_tax"},
        },
        metadata={"order_id": "6735", "tier": "gold"},
        name="Jenny Rosen",
        next_invoice_sequence=42,
        phone="+15555550100",
        preferred_locales=["fr", "en"],
        shipping={"name": "Jenny", "address": {"line1": "2 Side St", "country": "US"}},
        tax_exempt="reverse",
        idempotency_key="create-everything",
    )
    data = valid(cus)
    assert data == {
        "id": cus.id,
        "object": "customer",
        "address": address,
        "balance": -1500,
        "created": unix(clock),
        "currency": None,
        "default_source": None,
        "delinquent": False,
        "description": "A very good customer",
        "discount": None,
        "email": "jenny.rosen@example.com",
        "invoice_prefix": "JENNY01",
        "invoice_settings": {
            "custom_fields": [{"name": "PO", "value": "12-34"}],
            "default_payment_method": None,
            "footer": "Thanks!",
            "rendering_options": {"amount_tax_display": "include_inclusive_tax"},
        },
        "livemode": False,
        "metadata": {"order_id": "6735", "tier": "gold"},
        "name": "Jenny Rosen",
        "next_invoice_sequence": 42,
        "phone": "+15555550100",
        "preferred_locales": ["fr", "en"],
        "shipping": {
            "address": {
                "city": None,
                "country": "US",
                "line1": "2 Side St",
                "line2": None,
                "postal_code": None,
                "state": None,
            },
            "name": "Jenny",
            "phone": None,
        },
        "tax_exempt": "reverse",
        "test_clock": None,
    }
    assert valid(led.customers.retrieve(cus.id)) == data


def test_created_is_the_clock_time_of_the_call(led: Ledger, clock: FrozenClock) -> None:
    first = led.customers.create()
    clock.advance(timedelta(hours=1, seconds=7))
    second = led.customers.create()
    assert first.created == 1732104000
    assert second.created == 1732104000 + 3607 == unix(clock)
    clock.advance(timedelta(days=1))
    updated = led.customers.update(first.id, name="later")
    assert updated.created == 1732104000, "an update does not move created"


def test_idempotent_create_replays_and_refuses_other_params(led: Ledger, database_url: str) -> None:
    first = led.customers.create(email="a@example.com", idempotency_key="k1")
    count = event_count(database_url)
    again = led.customers.create(email="a@example.com", idempotency_key="k1")
    assert again.to_dict() == first.to_dict()
    assert again.last_response.idempotent_replayed
    assert event_count(database_url) == count
    with pytest.raises(IdempotencyError) as caught:
        led.customers.create(email="b@example.com", idempotency_key="k1")
    assert caught.value.type == "idempotency_error"
    assert caught.value.http_status == 400
    assert event_count(database_url) == count
    assert len(led.customers.list().data) == 1


# -- update --------------------------------------------------------------------------------------


def test_update_sets_fields_and_keeps_the_rest(led: Ledger) -> None:
    cus = led.customers.create(email="a@example.com", name="A", metadata={"k": "v"})
    before = cus.to_dict()
    updated = led.customers.update(
        cus.id,
        name="B",
        balance=250,
        phone="+1 555",
        preferred_locales=["de"],
        address={"line1": "3 Road", "country": "DE"},
        tax_exempt="exempt",
        next_invoice_sequence=7,
        invoice_prefix="NEWPFX",
    )
    data = valid(updated)
    assert data == before | {
        "name": "B",
        "balance": 250,
        "phone": "+1 555",
        "preferred_locales": ["de"],
        "address": {
            "city": None,
            "country": "DE",
            "line1": "3 Road",
            "line2": None,
            "postal_code": None,
            "state": None,
        },
        "tax_exempt": "exempt",
        "next_invoice_sequence": 7,
        "invoice_prefix": "NEWPFX",
    }
    assert valid(led.customers.retrieve(cus.id)) == data


def test_update_metadata_merges_and_empty_value_unsets_one_key(led: Ledger) -> None:
    cus = led.customers.create(metadata={"a": "1", "b": "2"})
    updated = led.customers.update(cus.id, metadata={"b": "", "c": "3", "a": "10"})
    assert valid(updated)["metadata"] == {"a": "10", "c": "3"}
    updated = led.customers.update(cus.id, metadata={"missing": ""})
    assert valid(updated)["metadata"] == {"a": "10", "c": "3"}
    assert valid(led.customers.retrieve(cus.id))["metadata"] == {"a": "10", "c": "3"}


def test_update_metadata_empty_string_unsets_all(led: Ledger) -> None:
    cus = led.customers.create(metadata={"a": "1", "b": "2"})
    updated = led.customers.update(cus.id, metadata="")
    assert valid(updated)["metadata"] == {}
    assert valid(led.customers.retrieve(cus.id))["metadata"] == {}


def test_update_empty_strings_unset_to_null(led: Ledger) -> None:
    cus = led.customers.create(
        description="d",
        email="a@example.com",
        name="N",
        phone="+1",
        address={"city": "Paris"},
        shipping={"name": "S", "address": {"city": "Lyon"}},
        tax_exempt="exempt",
    )
    updated = led.customers.update(
        cus.id,
        description="",
        email="",
        name="",
        phone="",
        address="",
        shipping="",
        tax_exempt="",
    )
    data = valid(updated)
    for field in ("description", "email", "name", "phone", "address", "shipping"):
        assert data[field] is None, field
    assert data["tax_exempt"] == "none"
    assert valid(led.customers.retrieve(cus.id)) == data


def test_update_invoice_settings_merges_its_keys(led: Ledger) -> None:
    cus = led.customers.create(
        invoice_settings={"custom_fields": [{"name": "VAT", "value": "FR1"}], "footer": "f"}
    )
    updated = led.customers.update(
        cus.id, invoice_settings={"rendering_options": {"amount_tax_display": "exclude_tax"}}
    )
    assert valid(updated)["invoice_settings"] == {
        "custom_fields": [{"name": "VAT", "value": "FR1"}],
        "default_payment_method": None,
        "footer": "f",
        "rendering_options": {"amount_tax_display": "exclude_tax"},
    }
    updated = led.customers.update(
        cus.id,
        invoice_settings={"custom_fields": "", "rendering_options": {"amount_tax_display": ""}},
    )
    assert valid(updated)["invoice_settings"] == {
        "custom_fields": None,
        "default_payment_method": None,
        "footer": "f",
        "rendering_options": {"amount_tax_display": None},
    }
    updated = led.customers.update(cus.id, invoice_settings={"rendering_options": "", "footer": ""})
    assert valid(updated)["invoice_settings"] == {
        "custom_fields": None,
        "default_payment_method": None,
        "footer": None,
        "rendering_options": None,
    }


# -- delete --------------------------------------------------------------------------------------


def test_delete_returns_the_stub_and_retrieve_keeps_returning_it(led: Ledger) -> None:
    cus = led.customers.create(email="gone@example.com")
    deleted = led.customers.delete(cus.id, idempotency_key="del-1")
    stub = {"id": cus.id, "object": "customer", "deleted": True}
    assert deleted.to_dict() == stub
    assert_valid(deleted)
    assert deleted.last_response.http_status == 200
    for _ in range(2):
        again = led.customers.retrieve(cus.id)
        assert again.to_dict() == stub
        assert_valid(again)


@pytest.mark.parametrize("action", ["update", "delete"])
def test_update_or_delete_of_a_deleted_customer_is_404(
    led: Ledger, database_url: str, action: str
) -> None:
    cus = led.customers.create()
    led.customers.delete(cus.id)
    count = event_count(database_url)
    with pytest.raises(InvalidRequestError) as caught:
        if action == "update":
            led.customers.update(cus.id, name="zombie")
        else:
            led.customers.delete(cus.id)
    error = caught.value
    assert (error.type, error.code, error.param, error.http_status) == (
        "invalid_request_error",
        "resource_missing",
        "id",
        404,
    )
    assert error.message == f"No such customer: '{cus.id}'"
    assert event_count(database_url) == count


# -- list ----------------------------------------------------------------------------------------


def test_list_filters_email_exactly_and_case_sensitively(led: Ledger) -> None:
    a = led.customers.create(email="a@example.com")
    a2 = led.customers.create(email="a@example.com")
    upper = led.customers.create(email="A@example.com")
    led.customers.create(email="aa@example.com")
    led.customers.create()

    page = led.customers.list(email="a@example.com")
    for item in page.data:
        assert_valid(item)
    assert [c.id for c in page.data] == [a2.id, a.id]
    assert [c.id for c in led.customers.list(email="A@example.com").data] == [upper.id]
    assert led.customers.list(email="example.com").data == []
    assert led.customers.list(email="a@example").data == []


def test_list_filters_created(led: Ledger, clock: FrozenClock) -> None:
    made = []
    for _ in range(4):
        made.append(led.customers.create())
        clock.advance(timedelta(seconds=10))
    t = [c.created for c in made]
    assert t == [t[0], t[0] + 10, t[0] + 20, t[0] + 30]
    ids = [c.id for c in made]

    def listed(created: Any) -> list[str]:
        page = led.customers.list(created=created)
        for item in page.data:
            assert_valid(item)
        return [c.id for c in page.data]

    assert listed(t[1]) == [ids[1]]
    assert listed(t[1] + 1) == []
    assert listed({"gt": t[1]}) == [ids[3], ids[2]]
    assert listed({"gte": t[1]}) == [ids[3], ids[2], ids[1]]
    assert listed({"lt": t[1]}) == [ids[0]]
    assert listed({"lte": t[1]}) == [ids[1], ids[0]]
    assert listed({"gt": t[0], "lt": t[3]}) == [ids[2], ids[1]]
    assert listed({"gte": t[3], "lte": t[0]}) == []


def test_list_leaves_out_deleted_customers(led: Ledger) -> None:
    keep = led.customers.create(email="x@example.com")
    gone = led.customers.create(email="x@example.com")
    led.customers.delete(gone.id)
    page = led.customers.list()
    assert [c.id for c in page.data] == [keep.id]
    assert page.has_more is False
    assert [c.id for c in led.customers.list(email="x@example.com").data] == [keep.id]
    assert_valid(page.data[0])


# -- email ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "email", ["plain", "no-at.example.com", "a@b", "a b@example.com", "a@@example.com", "@x.com"]
)
def test_invalid_email_is_refused(led: Ledger, database_url: str, email: str) -> None:
    cus = led.customers.create(email="ok@example.com")
    count = event_count(database_url)
    for call in (
        lambda: led.customers.create(email=email),
        lambda: led.customers.update(cus.id, email=email),
    ):
        with pytest.raises(InvalidRequestError) as caught:
            call()
        error = caught.value
        assert (error.type, error.code, error.param, error.http_status) == (
            "invalid_request_error",
            "email_invalid",
            "email",
            400,
        )
    assert event_count(database_url) == count
    assert led.customers.retrieve(cus.id).email == "ok@example.com"


def test_valid_email_forms_are_accepted(led: Ledger) -> None:
    for email in ("jenny+tag@example.com", "first.last@sub.example.co.uk", "X@Example.COM"):
        assert valid(led.customers.create(email=email))["email"] == email


# -- accounts ------------------------------------------------------------------------------------


def test_customers_of_a_connected_account_are_invisible_elsewhere(
    led: Ledger, database_url: str
) -> None:
    connected, someone_else = connected_account(led), connected_account(led)
    mine = led.customers.create(name="platform")
    theirs = led.customers.create(name="connected", stripe_account=connected)
    assert_valid(theirs)
    assert valid(led.customers.retrieve(theirs.id, stripe_account=connected))["name"] == "connected"
    assert [c.id for c in led.customers.list().data] == [mine.id]
    assert [c.id for c in led.customers.list(stripe_account=connected).data] == [theirs.id]

    count = event_count(database_url)
    calls = [
        lambda: led.customers.retrieve(theirs.id),
        lambda: led.customers.update(theirs.id, name="x"),
        lambda: led.customers.delete(theirs.id),
        lambda: led.customers.retrieve(mine.id, stripe_account=connected),
        lambda: led.customers.update(mine.id, name="x", stripe_account=connected),
        lambda: led.customers.delete(mine.id, stripe_account=connected),
        lambda: led.customers.retrieve(mine.id, stripe_account=someone_else),
    ]
    for call in calls:
        with pytest.raises(InvalidRequestError) as caught:
            call()
        assert (caught.value.code, caught.value.param, caught.value.http_status) == (
            "resource_missing",
            "id",
            404,
        )
    assert event_count(database_url) == count

    led.customers.update(theirs.id, name="renamed", stripe_account=connected)
    assert led.customers.retrieve(mine.id).name == "platform"
    assert customer_types(led) == ["customer.created"]
