"""Cursor pagination (limit, starting_after, ending_before, auto_paging_iter) and expand."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import psycopg
import pytest

from ledger import FrozenClock, Ledger
from ledger.errors import InvalidRequestError
from tests.support.accounts import connected_account
from tests.support.stripe_schema import assert_valid


def event_count(database_url: str) -> int:
    with psycopg.connect(database_url) as conn:
        row = conn.execute("SELECT count(*) FROM events").fetchone()
    assert row is not None
    return int(row[0])


def make(led: Ledger, clock: FrozenClock | None, n: int, **params: Any) -> list[str]:
    """`n` customers, oldest first; one second apart unless `clock` is None (ties)."""
    ids = []
    for _ in range(n):
        ids.append(led.customers.create(**params).id)
        if clock is not None:
            clock.advance(timedelta(seconds=1))
    return ids


def page_ids(led: Ledger, **params: Any) -> tuple[list[str], bool]:
    page = led.customers.list(**params)
    assert page.object == "list"
    assert page.url == "/v1/customers"
    for item in page.data:
        assert_valid(item)
    return [c.id for c in page.data], page.has_more


def refused(call: Any, param: str, code: str | None, status: int = 400) -> InvalidRequestError:
    with pytest.raises(InvalidRequestError) as caught:
        call()
    error = caught.value
    assert (error.type, error.code, error.param, error.http_status) == (
        "invalid_request_error",
        code,
        param,
        status,
    )
    return error


# -- limit ---------------------------------------------------------------------------------------


def test_limit_defaults_to_ten_and_accepts_one_to_a_hundred(led: Ledger) -> None:
    newest_first = make(led, None, 12)[::-1]
    assert page_ids(led) == (newest_first[:10], True)
    assert page_ids(led, limit=1) == (newest_first[:1], True)
    assert page_ids(led, limit=11) == (newest_first[:11], True)
    assert page_ids(led, limit=12) == (newest_first, False)
    assert page_ids(led, limit=100) == (newest_first, False)
    for limit in (0, 101, -1):
        error = refused(
            lambda limit=limit: led.customers.list(limit=limit),
            "limit",
            "parameter_invalid_integer",
        )
        assert error.message == "Invalid limit: must be between 1 and 100"
        refused(
            lambda limit=limit: led.events.list(limit=limit), "limit", "parameter_invalid_integer"
        )


def test_an_empty_list(led: Ledger) -> None:
    page = led.customers.list()
    assert page.to_dict() == {
        "object": "list",
        "data": [],
        "has_more": False,
        "url": "/v1/customers",
    }
    assert list(page.auto_paging_iter()) == []
    assert led.events.list().to_dict() == {
        "object": "list",
        "data": [],
        "has_more": False,
        "url": "/v1/events",
    }


# -- cursors -------------------------------------------------------------------------------------


@pytest.mark.parametrize("ties", [False, True], ids=["distinct-created", "same-created"])
def test_cursors_walk_both_ways_with_exact_has_more(
    led: Ledger, clock: FrozenClock, ties: bool
) -> None:
    c = make(led, None if ties else clock, 7)  # c[0] oldest … c[6] newest
    # Forward from the newest.
    assert page_ids(led, limit=3) == ([c[6], c[5], c[4]], True)
    assert page_ids(led, limit=3, starting_after=c[4]) == ([c[3], c[2], c[1]], True)
    assert page_ids(led, limit=3, starting_after=c[1]) == ([c[0]], False)
    assert page_ids(led, limit=3, starting_after=c[3]) == ([c[2], c[1], c[0]], False)
    assert page_ids(led, limit=3, starting_after=c[0]) == ([], False)
    # Backward from the oldest; pages are still newest first.
    assert page_ids(led, limit=3, ending_before=c[0]) == ([c[3], c[2], c[1]], True)
    assert page_ids(led, limit=3, ending_before=c[3]) == ([c[6], c[5], c[4]], False)
    assert page_ids(led, limit=3, ending_before=c[2]) == ([c[5], c[4], c[3]], True)
    assert page_ids(led, limit=2, ending_before=c[4]) == ([c[6], c[5]], False)
    assert page_ids(led, limit=3, ending_before=c[6]) == ([], False)


def test_deleted_customer_still_works_as_a_cursor(led: Ledger, clock: FrozenClock) -> None:
    c = make(led, clock, 3)
    led.customers.delete(c[1])
    assert page_ids(led, starting_after=c[1]) == ([c[0]], False)
    assert page_ids(led, ending_before=c[1]) == ([c[2]], False)


def test_both_cursors_together_are_refused(led: Ledger) -> None:
    a, b = make(led, None, 2)
    refused(
        lambda: led.customers.list(starting_after=a, ending_before=b),
        "ending_before",
        "parameters_exclusive",
    )
    event_id = led.events.list().data[0].id
    refused(
        lambda: led.events.list(starting_after=event_id, ending_before=event_id),
        "ending_before",
        "parameters_exclusive",
    )


@pytest.mark.parametrize("param", ["starting_after", "ending_before"])
def test_a_cursor_that_is_not_in_the_list_is_404(
    led: Ledger, database_url: str, param: str
) -> None:
    connected = connected_account(led)
    (mine,) = make(led, None, 1)
    (theirs,) = make(led, None, 1, stripe_account=connected)
    event_id = led.events.list().data[0].id
    count = event_count(database_url)
    cases = [
        (led.customers.list, "cus_doesnotexist", {}, "customer"),
        (led.customers.list, "nope", {}, "customer"),
        (led.customers.list, event_id, {}, "customer"),
        (led.customers.list, theirs, {}, "customer"),
        (led.customers.list, mine, {"stripe_account": connected}, "customer"),
        (led.events.list, mine, {}, "event"),
        (led.events.list, "evt_doesnotexist", {}, "event"),
        (led.events.list, event_id, {"stripe_account": connected}, "event"),
    ]
    for list_call, cursor, extra, kind in cases:
        error = refused(
            lambda c=list_call, cur=cursor, ex=extra: c(**{param: cur}, **ex),
            param,
            "resource_missing",
            404,
        )
        assert error.message == f"No such {kind}: '{cursor}'"
    assert event_count(database_url) == count


def test_a_cursor_outside_the_filter_still_positions_the_page(
    led: Ledger, clock: FrozenClock
) -> None:
    c = make(led, clock, 4)
    tagged = [led.customers.update(i, email="t@example.com").id for i in (c[0], c[2])]
    assert page_ids(led, email="t@example.com", starting_after=c[3]) == (tagged[::-1], False)
    assert page_ids(led, email="t@example.com", starting_after=c[1]) == ([c[0]], False)


# -- auto_paging_iter ----------------------------------------------------------------------------


@pytest.mark.parametrize("ties", [False, True], ids=["distinct-created", "same-created"])
def test_auto_paging_iter_visits_every_customer_once(
    led: Ledger, clock: FrozenClock, ties: bool
) -> None:
    c = make(led, None if ties else clock, 25)
    first = led.customers.list(limit=10)
    seen = []
    for item in first.auto_paging_iter():
        assert_valid(item)
        seen.append(item.id)
    assert seen == c[::-1]

    # Backward from an ending_before cursor: oldest to newest, every newer customer once.
    backward = [
        item.id for item in led.customers.list(limit=10, ending_before=c[0]).auto_paging_iter()
    ]
    assert backward == c[1:]
    # Forward from a starting_after cursor.
    forward = [
        item.id for item in led.customers.list(limit=7, starting_after=c[20]).auto_paging_iter()
    ]
    assert forward == c[:20][::-1]


def test_auto_paging_iter_keeps_the_filters(led: Ledger, clock: FrozenClock) -> None:
    tagged = []
    for i in range(13):
        tagged.append(led.customers.create(email="t@example.com").id)
        led.customers.create(email=f"other{i}@example.com")
        clock.advance(timedelta(seconds=1))
    walked = [c.id for c in led.customers.list(limit=5, email="t@example.com").auto_paging_iter()]
    assert walked == tagged[::-1]


def test_ties_in_created_are_ordered_stably(led: Ledger) -> None:
    c = make(led, None, 15)
    assert len({led.customers.retrieve(i).created for i in c}) == 1
    once = page_ids(led, limit=100)[0]
    assert once == c[::-1]
    assert page_ids(led, limit=100)[0] == once
    assert [x.id for x in led.customers.list(limit=4).auto_paging_iter()] == once
    led.customers.update(c[3], name="touched")  # an update does not move it in the list
    assert page_ids(led, limit=100)[0] == once


# -- expand --------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["test_clock", "invoice_settings.default_payment_method"])
def test_expanding_a_null_field_leaves_it_null(led: Ledger, path: str) -> None:
    created = led.customers.create(expand=[path])
    assert_valid(created, expand=[path])
    retrieved = led.customers.retrieve(created.id, expand=[path])
    updated = led.customers.update(created.id, name="x", expand=[path])
    for obj in (created, retrieved, updated):
        assert_valid(obj, expand=[path])
        assert obj.test_clock is None
        assert obj.invoice_settings.default_payment_method is None
    assert retrieved.to_dict() == created.to_dict()
    listed = led.customers.list(expand=[f"data.{path}"])
    assert_valid(listed.data[0], expand=[path])
    assert listed.data[0].to_dict() == updated.to_dict()


INCLUDABLES = ["sources", "subscriptions", "tax_ids"]


def empty_list(customer_id: str, field: str) -> dict[str, Any]:
    return {
        "object": "list",
        "data": [],
        "has_more": False,
        "total_count": 0,
        "url": f"/v1/customers/{customer_id}/{field}",
    }


def test_includable_fields_become_list_objects(led: Ledger) -> None:
    def without(obj: Any, fields: list[str]) -> dict[str, Any]:
        return {k: v for k, v in obj.to_dict().items() if k not in fields}

    created = led.customers.create(email="i@example.com", expand=INCLUDABLES)
    retrieved = led.customers.retrieve(created.id, expand=INCLUDABLES)
    updated = led.customers.update(created.id, name="n", expand=["tax_ids", "sources"])
    plain = led.customers.retrieve(created.id)
    assert set(plain) & set(INCLUDABLES) == set(), "not included unless expanded"
    assert without(retrieved, INCLUDABLES) == without(created, INCLUDABLES)
    assert without(updated, INCLUDABLES) == plain.to_dict()
    assert "subscriptions" not in updated
    for obj, fields in (
        (created, INCLUDABLES),
        (retrieved, INCLUDABLES),
        (updated, ["tax_ids", "sources"]),
    ):
        assert_valid(obj)
        for field in fields:
            assert obj.to_dict()[field] == empty_list(created.id, field)
            assert obj[field].object == "list"
            assert list(obj[field]) == []


def test_includable_fields_on_list_items(led: Ledger) -> None:
    a, b = make(led, None, 2)
    page = led.customers.list(expand=["data.sources", "data.tax_ids"])
    assert [c.id for c in page.data] == [b, a]
    for item in page.data:
        assert_valid(item)
        assert item.to_dict()["sources"] == empty_list(item.id, "sources")
        assert item.to_dict()["tax_ids"] == empty_list(item.id, "tax_ids")
        assert "subscriptions" not in item
    walked = list(led.customers.list(limit=1, expand=["data.subscriptions"]).auto_paging_iter())
    assert [c.id for c in walked] == [b, a]
    assert all(c.to_dict()["subscriptions"] == empty_list(c.id, "subscriptions") for c in walked)


def test_expand_that_stripe_refuses(led: Ledger, database_url: str) -> None:
    cus = led.customers.create()
    count = event_count(database_url)
    bad_paths = {
        "email": "This property cannot be expanded (email).",
        "metadata": "This property cannot be expanded (metadata).",
        "nonexistent": "This property cannot be expanded (nonexistent).",
        "sources.data.a.b.c": "You cannot expand more than 4 levels of a property. "
        "Property: sources.data.a.b.c",
        "a.b.c.d.e": "You cannot expand more than 4 levels of a property. Property: a.b.c.d.e",
    }
    for path, message in bad_paths.items():
        for call in (
            lambda p=path: led.customers.retrieve(cus.id, expand=[p]),
            lambda p=path: led.customers.update(cus.id, name="z", expand=[p]),
            lambda p=path: led.customers.create(expand=[p]),
        ):
            error = refused(call, "expand", None)
            assert error.message == message
    # On a list, paths go through `data`.
    error = refused(lambda: led.customers.list(expand=["sources"]), "expand", None)
    assert error.message == "This property cannot be expanded (sources)."
    refused(lambda: led.customers.list(expand=["data.email"]), "expand", None)
    refused(lambda: led.customers.retrieve(cus.id, expand="test_clock"), "expand", None)
    refused(lambda: led.customers.retrieve(cus.id, expand=[""]), "expand", None)
    assert event_count(database_url) == count
    assert led.customers.retrieve(cus.id).name is None
    assert len(led.customers.list().data) == 1
