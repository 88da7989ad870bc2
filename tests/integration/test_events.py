"""Stripe Events from customer commands: shape, previous_attributes, request, filters."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import psycopg
import pytest

from ledger import FrozenClock, Ledger
from ledger.errors import InvalidRequestError
from tests.support.accounts import connected_account
from tests.support.stripe_schema import assert_valid

API_VERSION = "2024-11-20.acacia"


def event_count(database_url: str) -> int:
    with psycopg.connect(database_url) as conn:
        row = conn.execute("SELECT count(*) FROM events").fetchone()
    assert row is not None
    return int(row[0])


def events(led: Ledger, **params: Any) -> list[dict[str, Any]]:
    page = led.events.list(limit=100, **params)
    assert page.has_more is False
    out = []
    for item in page.data:
        assert_valid(item)
        out.append(item.to_dict())
    return out


def only_event(led: Ledger, event_type: str, **params: Any) -> dict[str, Any]:
    found = events(led, type=event_type, **params)
    assert len(found) == 1, found
    return found[0]


def test_customer_created_event(led: Ledger, clock: FrozenClock) -> None:
    cus = led.customers.create(email="a@example.com", metadata={"k": "v"}, idempotency_key="k1")
    event = only_event(led, "customer.created")
    assert re.fullmatch(r"evt_[A-Za-z0-9]{24}", event["id"])
    assert event == {
        "id": event["id"],
        "object": "event",
        "api_version": API_VERSION,
        "created": int(clock.now().timestamp()),
        "data": {"object": cus.to_dict()},
        "livemode": False,
        "pending_webhooks": 0,
        "request": {"id": cus.last_response.request_id, "idempotency_key": "k1"},
        "type": "customer.created",
    }
    assert "account" not in event


def test_customer_updated_event_has_previous_attributes(led: Ledger, clock: FrozenClock) -> None:
    cus = led.customers.create(name="Old", metadata={"a": "1", "b": "2", "c": "3"})
    clock.advance(timedelta(minutes=5))
    updated = led.customers.update(
        cus.id,
        name="New",
        description="now described",
        metadata={"a": "", "b": "2", "c": "30", "d": "4"},
        preferred_locales=["en"],
    )
    event = only_event(led, "customer.updated")
    assert event["created"] == int(clock.now().timestamp()) == cus.created + 300
    assert event["data"] == {
        "object": updated.to_dict(),
        "previous_attributes": {
            "name": "Old",
            "description": None,
            # Only the keys that changed: a removed key shows its old value, an added one null.
            "metadata": {"a": "1", "c": "3", "d": None},
            "preferred_locales": [],
        },
    }
    assert event["request"] == {"id": updated.last_response.request_id, "idempotency_key": None}
    assert event["api_version"] == API_VERSION


def test_previous_attributes_of_nested_hashes(led: Ledger) -> None:
    cus = led.customers.create(metadata={"a": "1"})
    led.customers.update(cus.id, metadata="", address={"city": "Paris"})
    event = only_event(led, "customer.updated")
    assert event["data"]["previous_attributes"] == {"metadata": {"a": "1"}, "address": None}
    led.customers.update(cus.id, invoice_settings={"footer": "thanks"}, idempotency_key="u2")
    newest = events(led, type="customer.updated")[0]
    assert newest["data"]["previous_attributes"] == {"invoice_settings": {"footer": None}}
    assert newest["request"]["idempotency_key"] == "u2"


def test_customer_deleted_event_carries_the_customer(led: Ledger) -> None:
    cus = led.customers.create(email="bye@example.com", name="Bye")
    last = led.customers.retrieve(cus.id).to_dict()
    deleted = led.customers.delete(cus.id, idempotency_key="del")
    event = only_event(led, "customer.deleted")
    assert event["data"] == {"object": last}
    assert event["request"] == {"id": deleted.last_response.request_id, "idempotency_key": "del"}


def test_an_update_without_changes_emits_no_event(led: Ledger, database_url: str) -> None:
    cus = led.customers.create(
        name="Same", metadata={"k": "v"}, address={"city": "Paris"}, tax_exempt="none"
    )
    count = event_count(database_url)
    for params in (
        {},
        {"name": "Same"},
        {"metadata": {"k": "v"}},
        {"metadata": {"absent": ""}},
        {"address": {"city": "Paris"}},
        {"tax_exempt": ""},
        {"description": ""},
        {"invoice_settings": {}},
    ):
        same = led.customers.update(cus.id, **params)
        assert same.to_dict() == cus.to_dict(), params
        assert_valid(same)
    assert event_count(database_url) == count
    assert [e["type"] for e in events(led)] == ["customer.created"]


def test_retrieve_an_event_by_id(led: Ledger) -> None:
    led.customers.create()
    listed = events(led)[0]
    got = led.events.retrieve(listed["id"])
    assert_valid(got)
    assert got.to_dict() == listed
    assert got.last_response.request_id.startswith("req_")


def test_retrieve_a_missing_or_foreign_event_is_404(led: Ledger) -> None:
    connected = connected_account(led)
    led.customers.create(stripe_account=connected)
    theirs = events(led, stripe_account=connected)[0]["id"]
    for event_id, account in (
        ("evt_doesnotexist", None),
        (theirs, None),
        (theirs, connected_account(led)),
    ):
        with pytest.raises(InvalidRequestError) as caught:
            led.events.retrieve(event_id, stripe_account=account)
        error = caught.value
        assert (error.code, error.param, error.http_status) == ("resource_missing", "id", 404)
        assert error.message == f"No such event: '{event_id}'"


def test_events_of_a_connected_account_carry_account(led: Ledger) -> None:
    connected = connected_account(led)
    cus = led.customers.create(name="c", stripe_account=connected, idempotency_key="ck")
    led.customers.update(cus.id, name="d", stripe_account=connected)
    led.customers.delete(cus.id, stripe_account=connected)
    theirs = events(led, stripe_account=connected)
    assert [e["type"] for e in theirs] == [
        "customer.deleted",
        "customer.updated",
        "customer.created",
    ]
    assert {e["account"] for e in theirs} == {connected}
    assert theirs[2]["request"] == {"id": cus.last_response.request_id, "idempotency_key": "ck"}
    retrieved = led.events.retrieve(theirs[0]["id"], stripe_account=connected)
    assert retrieved.account == connected
    assert events(led) == []


def _three_events(led: Ledger, clock: FrozenClock) -> tuple[list[str], list[int]]:
    cus = led.customers.create()
    clock.advance(timedelta(seconds=10))
    led.customers.update(cus.id, name="x")
    clock.advance(timedelta(seconds=10))
    led.customers.delete(cus.id)
    listed = events(led)
    assert [e["type"] for e in listed] == [
        "customer.deleted",
        "customer.updated",
        "customer.created",
    ]
    return [e["id"] for e in listed], [e["created"] for e in listed]


def test_list_filters_type_exactly_and_with_wildcards(led: Ledger, clock: FrozenClock) -> None:
    ids, _ = _three_events(led, clock)
    deleted, updated, created = ids

    def listed(**params: Any) -> list[str]:
        return [e["id"] for e in events(led, **params)]

    assert listed(type="customer.created") == [created]
    assert listed(type="customer.updated") == [updated]
    assert listed(type="customer.*") == [deleted, updated, created]
    assert listed(type="*") == [deleted, updated, created]
    assert listed(type="*.deleted") == [deleted]
    assert listed(type="customer") == []
    assert listed(type="customer.") == []
    assert listed(type="Customer.created") == []
    assert listed(type="charge.*") == []
    assert listed(type="customer.create_") == [], "_ is not a wildcard"
    assert listed(type="customer.%") == [], "% is not a wildcard"
    assert listed(types=["customer.created", "customer.deleted"]) == [deleted, created]
    assert listed(types=["customer.updated"]) == [updated]
    assert listed(types=["customer.*"]) == [], "types takes exact names"
    assert listed(types=[]) == []


def test_list_filters_created(led: Ledger, clock: FrozenClock) -> None:
    ids, created = _three_events(led, clock)
    deleted, updated, first = ids
    t_deleted, t_updated, t_created = created
    assert t_created + 10 == t_updated == t_deleted - 10

    def listed(value: Any) -> list[str]:
        return [e["id"] for e in events(led, created=value)]

    assert listed(t_updated) == [updated]
    assert listed({"gt": t_created}) == [deleted, updated]
    assert listed({"gte": t_updated}) == [deleted, updated]
    assert listed({"lt": t_deleted}) == [updated, first]
    assert listed({"lte": t_created}) == [first]
    assert listed({"gt": t_created, "lt": t_deleted}) == [updated]
    assert [e["id"] for e in events(led, type="customer.*", created={"gt": t_updated})] == [deleted]


def test_type_and_types_together_are_refused(led: Ledger, database_url: str) -> None:
    led.customers.create()
    count = event_count(database_url)
    with pytest.raises(InvalidRequestError) as caught:
        led.events.list(type="customer.created", types=["customer.created"])
    error = caught.value
    assert (error.type, error.code, error.param, error.http_status) == (
        "invalid_request_error",
        "parameters_exclusive",
        "types",
        400,
    )
    assert event_count(database_url) == count


def test_more_than_twenty_types_are_refused(led: Ledger) -> None:
    with pytest.raises(InvalidRequestError) as caught:
        led.events.list(types=[f"customer.t{i}" for i in range(21)])
    assert (caught.value.param, caught.value.http_status) == ("types", 400)
    assert led.events.list(types=[f"customer.t{i}" for i in range(20)]).data == []


def test_events_list_pages_newest_first(led: Ledger) -> None:
    cus = led.customers.create()
    for i in range(6):
        led.customers.update(cus.id, name=f"n{i}")
    every = events(led)
    assert len(every) == 7
    assert [e["type"] for e in every] == ["customer.updated"] * 6 + ["customer.created"]
    assert [e["data"]["object"]["name"] for e in every[:6]] == [f"n{i}" for i in range(5, -1, -1)]
    page = led.events.list(limit=3)
    assert page.has_more is True
    walked = [e.id for e in page.auto_paging_iter()]
    assert walked == [e["id"] for e in every]
    back = led.events.list(limit=3, ending_before=every[-1]["id"])
    assert [e.id for e in back.data] == [e["id"] for e in every[3:6]]
    assert back.has_more is True
    assert [e.id for e in back.auto_paging_iter()] == [e["id"] for e in reversed(every[:-1])]
