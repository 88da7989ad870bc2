"""Ids, clocks, errors, response objects, expansion, event registry and database URLs."""

from __future__ import annotations

import copy
import re
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy.engine import make_url

from ledger import db
from ledger.clock import Clock, FrozenClock, SystemClock, to_unix
from ledger.domain import events as events_module
from ledger.domain.events import DomainEvent, decode, event_class, register_upcaster, upcast
from ledger.errors import (
    APIError,
    AuthenticationError,
    CardError,
    IdempotencyError,
    InvalidRequestError,
    LedgerError,
    PermissionError,
    RateLimitError,
    resource_missing,
)
from ledger.ids import derived_id, new_id, prefix_of
from ledger.resources import expand as expand_module
from ledger.resources.base import ListObject, ResponseInfo, StripeObject, wrap
from ledger.resources.expand import expand, register_includable, validate_expand

# --- ids ---------------------------------------------------------------------------------------

BODY = re.compile(r"^[0-9A-Za-z]+$")


@pytest.mark.parametrize(
    ("prefix", "length"),
    [("cus", 14), ("acct", 16), ("req", 14), ("pi", 24), ("evt", 24), ("ch", 24), ("pm", 24)],
)
def test_new_id_prefix_and_length(prefix: str, length: int) -> None:
    object_id = new_id(prefix)
    head, sep, body = object_id.partition("_")
    assert (head, sep) == (prefix, "_")
    assert len(body) == length
    assert BODY.match(body)


def test_new_ids_are_random() -> None:
    assert len({new_id("cus") for _ in range(200)}) == 200


def test_new_id_uses_the_whole_alphabet() -> None:
    chars = set("".join(new_id("evt")[4:] for _ in range(300)))
    assert chars <= set("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
    assert any(c.isdigit() for c in chars)
    assert any(c.islower() for c in chars)
    assert any(c.isupper() for c in chars)


def test_derived_id_is_deterministic() -> None:
    assert derived_id("evt", "cus_1", 3) == derived_id("evt", "cus_1", 3)
    assert derived_id("evt", "cus_1", 3) == derived_id("evt", "cus_1", "3")


@pytest.mark.parametrize(("prefix", "length"), [("cus", 14), ("evt", 24), ("acct", 16)])
def test_derived_id_prefix_length_and_charset(prefix: str, length: int) -> None:
    object_id = derived_id(prefix, "x", 1)
    assert object_id.startswith(prefix + "_")
    body = object_id[len(prefix) + 1 :]
    assert len(body) == length
    assert BODY.match(body)


def test_derived_id_differs_for_different_parts() -> None:
    ids = {
        derived_id("evt", "cus_1", 1),
        derived_id("evt", "cus_1", 2),
        derived_id("evt", "cus_2", 1),
        derived_id("evt", "cus_1"),
        derived_id("evt", "cus_11"),
        derived_id("evt", "cus", "_1"),
        derived_id("evt", 1, "cus_1"),
        derived_id("evt"),
    }
    assert len(ids) == 8


def test_derived_id_prefix_changes_the_id() -> None:
    assert derived_id("ch", "a") != derived_id("pi", "a")
    assert derived_id("ch", "a")[3:] == derived_id("pi", "a")[3:]  # same body, other prefix


def test_prefix_of() -> None:
    assert prefix_of("cus_123") == "cus"
    assert prefix_of("test_helpers_x") == "test"
    assert prefix_of("nounderscore") == ""
    assert prefix_of("") == ""


# --- clock -------------------------------------------------------------------------------------

NOON = datetime(2024, 11, 20, 12, 0, tzinfo=UTC)


def test_frozen_clock_default_time() -> None:
    assert FrozenClock().now() == NOON
    assert FrozenClock().now().tzinfo is UTC


def test_frozen_clock_does_not_move_by_itself() -> None:
    clock = FrozenClock(NOON)
    assert clock.now() == clock.now() == NOON


def test_frozen_clock_naive_is_utc() -> None:
    clock = FrozenClock(datetime(2024, 1, 1, 8, 30))
    assert clock.now() == datetime(2024, 1, 1, 8, 30, tzinfo=UTC)
    assert clock.now().tzinfo is UTC


def test_frozen_clock_converts_other_zones_to_utc() -> None:
    plus_two = timezone(timedelta(hours=2))
    clock = FrozenClock(datetime(2024, 1, 1, 10, 0, tzinfo=plus_two))
    assert clock.now() == datetime(2024, 1, 1, 8, 0, tzinfo=UTC)
    assert clock.now().tzinfo is UTC


def test_frozen_clock_advance() -> None:
    clock = FrozenClock(NOON)
    assert clock.advance(timedelta(days=1, seconds=5)) == NOON + timedelta(days=1, seconds=5)
    assert clock.now() == NOON + timedelta(days=1, seconds=5)
    assert clock.advance(timedelta(0)) == NOON + timedelta(days=1, seconds=5)


def test_frozen_clock_never_advances_backwards() -> None:
    clock = FrozenClock(NOON)
    with pytest.raises(ValueError, match="only moves forward"):
        clock.advance(timedelta(microseconds=-1))
    assert clock.now() == NOON


def test_frozen_clock_set_forward_and_to_now() -> None:
    clock = FrozenClock(NOON)
    clock.set(NOON)
    assert clock.now() == NOON
    later = NOON + timedelta(hours=3)
    clock.set(later)
    assert clock.now() == later


def test_frozen_clock_set_never_backwards() -> None:
    clock = FrozenClock(NOON)
    with pytest.raises(ValueError, match="only moves forward"):
        clock.set(NOON - timedelta(seconds=1))
    assert clock.now() == NOON


def test_frozen_clock_set_naive_is_utc() -> None:
    clock = FrozenClock(NOON)
    clock.set(datetime(2024, 11, 20, 13, 0))
    assert clock.now() == NOON + timedelta(hours=1)
    assert clock.now().tzinfo is UTC
    with pytest.raises(ValueError):
        clock.set(datetime(2024, 11, 20, 12, 59))  # naive 12:59 is UTC, in the past


def test_frozen_clock_set_converts_zones() -> None:
    clock = FrozenClock(NOON)
    clock.set(datetime(2024, 11, 20, 15, 0, tzinfo=timezone(timedelta(hours=2))))
    assert clock.now() == NOON + timedelta(hours=1)
    assert clock.now().tzinfo is UTC


def test_clocks_satisfy_the_protocol() -> None:
    assert isinstance(FrozenClock(), Clock)
    assert isinstance(SystemClock(), Clock)
    now = SystemClock().now()
    assert now.tzinfo is UTC


def test_to_unix() -> None:
    assert to_unix(NOON) == 1732104000
    assert to_unix(datetime(1970, 1, 1, tzinfo=UTC)) == 0
    assert to_unix(NOON + timedelta(milliseconds=999)) == 1732104000
    assert isinstance(to_unix(NOON), int)


# --- errors ------------------------------------------------------------------------------------

ALL_ERRORS: list[tuple[type[LedgerError], str, int]] = [
    (InvalidRequestError, "invalid_request_error", 400),
    (CardError, "card_error", 402),
    (IdempotencyError, "idempotency_error", 400),
    (AuthenticationError, "invalid_request_error", 401),
    (PermissionError, "invalid_request_error", 403),
    (RateLimitError, "invalid_request_error", 429),
    (APIError, "api_error", 500),
]


@pytest.mark.parametrize(("cls", "type_", "status"), ALL_ERRORS)
def test_error_type_and_default_status(cls: type[LedgerError], type_: str, status: int) -> None:
    error = cls("boom")
    assert error.type == type_
    assert error.http_status == status
    assert isinstance(error, LedgerError)
    assert str(error) == "boom"


def test_error_to_dict_with_only_a_message() -> None:
    assert InvalidRequestError("Bad.").to_dict() == {
        "error": {"type": "invalid_request_error", "message": "Bad."}
    }


def test_error_to_dict_with_code_param_and_doc_url() -> None:
    error = resource_missing("customer", "cus_nope")
    assert error.http_status == 404
    assert error.to_dict() == {
        "error": {
            "type": "invalid_request_error",
            "message": "No such customer: 'cus_nope'",
            "code": "resource_missing",
            "doc_url": "https://stripe.com/docs/error-codes/resource-missing",
            "param": "id",
        }
    }


def test_card_error_to_dict_has_every_field_when_set() -> None:
    error = CardError(
        "Your card was declined.",
        code="card_declined",
        decline_code="insufficient_funds",
        charge="ch_1",
        payment_intent={"id": "pi_1", "object": "payment_intent"},
        payment_method={"id": "pm_1", "object": "payment_method"},
        request_id="req_abc",
    )
    assert error.to_dict() == {
        "error": {
            "type": "card_error",
            "message": "Your card was declined.",
            "code": "card_declined",
            "doc_url": "https://stripe.com/docs/error-codes/card-declined",
            "decline_code": "insufficient_funds",
            "charge": "ch_1",
            "payment_intent": {"id": "pi_1", "object": "payment_intent"},
            "payment_method": {"id": "pm_1", "object": "payment_method"},
            "request_log_url": "https://dashboard.stripe.com/test/logs/req_abc",
        }
    }


def test_error_explicit_status_wins() -> None:
    assert InvalidRequestError("x", http_status=404).http_status == 404


@pytest.mark.parametrize(("cls", "type_", "status"), ALL_ERRORS)
def test_error_from_dict_round_trips(cls: type[LedgerError], type_: str, status: int) -> None:
    error = cls("m", code="some_code", param="p", request_id="req_1")
    again = LedgerError.from_dict(error.to_dict(), error.http_status)
    assert type(again) is cls
    assert again.type == type_
    assert again.http_status == status
    assert (again.message, again.code, again.param, again.request_id) == (
        "m",
        "some_code",
        "p",
        "req_1",
    )
    assert again.to_dict() == error.to_dict()


def test_card_error_from_dict_round_trips_every_field() -> None:
    error = CardError(
        "Declined.",
        code="card_declined",
        decline_code="generic_decline",
        charge="ch_1",
        payment_intent={"id": "pi_1"},
        payment_method={"id": "pm_1"},
    )
    again = LedgerError.from_dict(error.to_dict(), 402)
    assert isinstance(again, CardError)
    assert again.decline_code == "generic_decline"
    assert again.charge == "ch_1"
    assert again.request_id is None
    assert again.to_dict() == error.to_dict()


def test_error_from_dict_keeps_a_404() -> None:
    error = LedgerError.from_dict(resource_missing("customer", "cus_x").to_dict(), 404)
    assert type(error) is InvalidRequestError
    assert error.http_status == 404


def test_error_from_dict_unknown_type_is_api_error() -> None:
    error = LedgerError.from_dict({"error": {"type": "mystery", "message": "m"}}, 500)
    assert type(error) is APIError


def test_error_repr() -> None:
    assert repr(CardError("no", code="c")) == (
        "CardError(message='no', code='c', param=None, http_status=402)"
    )


# --- StripeObject / ListObject ----------------------------------------------------------------


def test_stripe_object_attribute_and_item_access() -> None:
    obj = StripeObject({"id": "cus_1", "object": "customer", "balance": 0, "email": None})
    assert obj.id == obj["id"] == "cus_1"
    assert obj.balance == 0
    assert obj.email is None
    assert "email" in obj
    assert "nope" not in obj
    assert obj.get("nope", 5) == 5
    assert obj.get("balance", 5) == 0
    assert list(obj) == ["id", "object", "balance", "email"]
    assert len(obj) == 4
    assert repr(obj) == "<customer cus_1>"
    assert repr(StripeObject({"object": "list"})) == "<list>"


def test_stripe_object_missing_key() -> None:
    obj = StripeObject({"id": "x"})
    with pytest.raises(AttributeError, match="nope"):
        _ = obj.nope
    with pytest.raises(KeyError):
        _ = obj["nope"]
    assert not hasattr(obj, "__html__")


def test_stripe_object_wraps_nested_values() -> None:
    obj = StripeObject(
        {
            "address": {"city": "Berlin"},
            "lines": {"object": "list", "data": [{"id": "il_1"}], "has_more": False},
            "tags": [{"a": 1}, "plain", 3],
        }
    )
    assert isinstance(obj.address, StripeObject)
    assert obj.address.city == "Berlin"
    assert isinstance(obj["lines"], ListObject)
    assert [line.id for line in obj.lines] == ["il_1"]
    assert isinstance(obj.tags[0], StripeObject)
    assert obj.tags[0].a == 1
    assert obj.tags[1:] == ["plain", 3]
    assert obj.get("address").city == "Berlin"


def test_items_key_stays_reachable_as_attribute() -> None:
    sub = StripeObject(
        {
            "object": "subscription",
            "items": {"object": "list", "data": [{"id": "si_1"}], "has_more": False},
            "keys": "k",
            "values": "v",
        }
    )
    assert isinstance(sub.items, ListObject)
    assert sub.items.data[0].id == "si_1"
    assert sub.keys == "k"
    assert sub.values == "v"


def test_to_dict_is_a_deep_copy() -> None:
    data = {"metadata": {"a": "1"}, "list": [{"x": 1}]}
    obj = StripeObject(data)
    out = obj.to_dict()
    assert out == data
    out["metadata"]["a"] = "changed"
    out["list"][0]["x"] = 2
    out["new"] = True
    assert obj.to_dict() == {"metadata": {"a": "1"}, "list": [{"x": 1}]}
    assert obj.metadata.a == "1"


def test_stripe_object_equality() -> None:
    obj = StripeObject({"id": "x", "n": 1})
    assert obj == {"id": "x", "n": 1}
    same = {"id": "x", "n": 1}
    assert same == obj  # dict on the left: the reflected comparison
    assert obj == StripeObject({"id": "x", "n": 1})
    assert obj != {"id": "x", "n": 2}
    assert obj != "x"
    with pytest.raises(TypeError):
        hash(obj)


def test_stripe_object_keeps_last_response() -> None:
    info = ResponseInfo("req_1", idempotent_replayed=True)
    obj = StripeObject({"id": "x"}, info)
    assert obj.last_response is info
    assert StripeObject({}).last_response is None


def test_stripe_object_copies() -> None:
    obj = StripeObject({"a": {"b": 1}})
    clone = copy.deepcopy(obj)
    assert clone == obj
    assert clone.a.b == 1
    assert clone.to_dict() is not obj.to_dict()


def test_wrap_scalars_pass_through() -> None:
    assert wrap(3) == 3
    assert wrap(None) is None
    assert wrap("s") == "s"


def page(ids: Sequence[str], has_more: bool, fetch: Any = None, params: Any = None) -> ListObject:
    body = {
        "object": "list",
        "data": [{"id": i, "object": "customer"} for i in ids],
        "has_more": has_more,
        "url": "/v1/customers",
    }
    return ListObject(body, None, fetch, params)


class FakePages:
    """A fake `fetch_page` over ids newest first, pages of `size`, recording its calls."""

    def __init__(self, ids: list[str], size: int) -> None:
        self.ids = ids
        self.size = size
        self.calls: list[dict[str, Any]] = []

    def __call__(self, params: dict[str, Any]) -> ListObject:
        self.calls.append(dict(params))
        if "starting_after" in params:
            start = self.ids.index(params["starting_after"]) + 1
            chunk = self.ids[start : start + self.size]
            return page(chunk, start + self.size < len(self.ids), self, params)
        end = self.ids.index(params["ending_before"])
        chunk = self.ids[max(0, end - self.size) : end]
        return page(chunk, end - self.size > 0, self, params)


def test_list_object_len_and_iter() -> None:
    listing = page(["a", "b"], False)
    assert len(listing) == 2
    assert [item.id for item in listing] == ["a", "b"]
    assert listing.has_more is False


def test_auto_paging_iter_forward() -> None:
    ids = [f"cus_{i}" for i in range(7)]
    fetch = FakePages(ids, 3)
    first = page(ids[:3], True, fetch, {"limit": 3})
    assert [item.id for item in first.auto_paging_iter()] == ids
    assert fetch.calls == [
        {"limit": 3, "starting_after": "cus_2"},
        {"limit": 3, "starting_after": "cus_5"},
    ]


def test_auto_paging_iter_forward_from_a_cursor() -> None:
    ids = [f"cus_{i}" for i in range(7)]
    fetch = FakePages(ids, 2)
    first = page(ids[2:4], True, fetch, {"starting_after": "cus_1", "limit": 2})
    assert [item.id for item in first.auto_paging_iter()] == ids[2:]
    assert [call["starting_after"] for call in fetch.calls] == ["cus_3", "cus_5"]


def test_auto_paging_iter_backward() -> None:
    ids = [f"cus_{i}" for i in range(7)]  # newest first
    fetch = FakePages(ids, 2)
    first = page(ids[4:6], True, fetch, {"ending_before": "cus_6", "limit": 2})
    # Walks towards newer objects, each page yielded oldest first.
    assert [item.id for item in first.auto_paging_iter()] == [
        "cus_5",
        "cus_4",
        "cus_3",
        "cus_2",
        "cus_1",
        "cus_0",
    ]
    assert fetch.calls == [
        {"ending_before": "cus_4", "limit": 2},
        {"ending_before": "cus_2", "limit": 2},
    ]


def test_auto_paging_iter_stops_without_more_or_fetcher() -> None:
    assert [
        i.id for i in page(["a"], False, lambda p: pytest.fail("fetched")).auto_paging_iter()
    ] == ["a"]
    assert [i.id for i in page(["a"], True, None).auto_paging_iter()] == ["a"]
    assert list(page([], True, lambda p: pytest.fail("fetched")).auto_paging_iter()) == []


# --- expand ------------------------------------------------------------------------------------


class FakeResolver:
    def __init__(self, objects: dict[str, dict[str, Any]]) -> None:
        self.objects = objects
        self.loaded: list[str] = []

    def load_json(self, object_id: str) -> dict[str, Any] | None:
        self.loaded.append(object_id)
        return self.objects.get(object_id)

    def related_list(
        self, object_names: Sequence[str], field: str, value: str, url: str
    ) -> dict[str, Any]:
        return {"object": "list", "data": [], "has_more": False, "url": url}


CUSTOMER = {"id": "cus_1", "object": "customer", "test_clock": "clock_1", "name": "C"}
CLOCK = {"id": "clock_1", "object": "test_helpers.test_clock", "name": "T"}
PM = {"id": "pm_1", "object": "payment_method"}


def resolver() -> FakeResolver:
    return FakeResolver({"cus_1": CUSTOMER, "clock_1": CLOCK, "pm_1": PM})


def expand_error(body: dict[str, Any], paths: list[str]) -> InvalidRequestError:
    with pytest.raises(InvalidRequestError) as info:
        expand(body, paths, resolver())
    assert info.value.param == "expand"
    return info.value


@pytest.mark.parametrize(
    "value",
    [[], ["customer"], ["data.customer", "a.b.c.d"], ["invoice_settings.default_payment_method"]],
)
def test_validate_expand_accepts(value: list[str]) -> None:
    assert validate_expand(value) == value
    assert validate_expand(value) is not value


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("customer", "Invalid array"),
        ({"0": "customer"}, "Invalid array"),
        ([1], "Invalid array"),
        ([""], "Invalid expand path: ''"),
        (["a..b"], "Invalid expand path: 'a..b'"),
        (["a."], "Invalid expand path: 'a.'"),
        (
            ["a.b.c.d.e"],
            "You cannot expand more than 4 levels of a property. Property: a.b.c.d.e",
        ),
    ],
)
def test_validate_expand_rejects(value: Any, message: str) -> None:
    with pytest.raises(InvalidRequestError) as info:
        validate_expand(value)
    assert info.value.param == "expand"
    assert info.value.message == message
    assert info.value.http_status == 400


def test_expand_replaces_an_id_by_its_object() -> None:
    body = {"id": "ch_1", "object": "charge", "customer": "cus_1"}
    result = expand(body, ["customer"], resolver())
    assert result == {"id": "ch_1", "object": "charge", "customer": CUSTOMER}
    assert body["customer"] == "cus_1"  # the input is not modified
    result["customer"]["name"] = "changed"
    assert CUSTOMER["name"] == "C"  # nor the resolver's object


def test_expand_without_paths_returns_the_body() -> None:
    body = {"id": "ch_1", "object": "charge", "customer": "cus_1"}
    assert expand(body, [], resolver()) is body


def test_expand_keeps_null_and_unknown_ids() -> None:
    r = resolver()
    body = {"object": "charge", "customer": None}
    assert expand(body, ["customer"], r) == body
    assert r.loaded == []
    body = {"object": "charge", "customer": "cus_gone"}
    assert expand(body, ["customer"], r) == body
    assert r.loaded == ["cus_gone"]


def test_expand_nested_field_path() -> None:
    body = {
        "object": "customer",
        "invoice_settings": {"default_payment_method": "pm_1", "footer": None},
    }
    result = expand(body, ["invoice_settings.default_payment_method"], resolver())
    assert result["invoice_settings"] == {"default_payment_method": PM, "footer": None}


def test_expand_through_an_expanded_object() -> None:
    body = {"object": "charge", "customer": "cus_1"}
    result = expand(body, ["customer.test_clock"], resolver())
    assert result["customer"] == CUSTOMER | {"test_clock": CLOCK}


def test_expand_list_data_paths() -> None:
    body = {
        "object": "list",
        "data": [
            {"object": "charge", "customer": "cus_1"},
            {"object": "charge", "customer": None},
        ],
        "has_more": False,
    }
    result = expand(body, ["data.customer"], resolver())
    assert [item["customer"] for item in result["data"]] == [CUSTOMER, None]


def test_expand_list_needs_data_segment() -> None:
    body = {"object": "list", "data": [{"object": "charge", "customer": "cus_1"}]}
    error = expand_error(body, ["customer"])
    assert error.message == "This property cannot be expanded (customer)."


def test_expand_non_expandable_field_is_rejected() -> None:
    error = expand_error({"object": "charge", "amount": 100}, ["amount"])
    assert error.message == "This property cannot be expanded (amount)."
    assert error.http_status == 400


def test_expand_unknown_object_is_rejected() -> None:
    expand_error({"object": "nonexistent_thing", "customer": "cus_1"}, ["customer"])


def test_includable_registration(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(expand_module, "_INCLUDABLES", {})
    body = {"id": "w_1", "object": "test_widget"}
    expand_error(body, ["parts"])

    seen: list[dict[str, Any]] = []

    def parts(obj: dict[str, Any], res: Any) -> dict[str, Any]:
        seen.append(dict(obj))
        return res.related_list(["part"], "widget", obj["id"], f"/v1/widgets/{obj['id']}/parts")

    register_includable("test_widget", "parts", parts)
    result = expand(body, ["parts"], resolver())
    assert result == {
        "id": "w_1",
        "object": "test_widget",
        "parts": {"object": "list", "data": [], "has_more": False, "url": "/v1/widgets/w_1/parts"},
    }
    assert seen == [{"id": "w_1", "object": "test_widget"}]
    assert "parts" not in body


# --- domain event registry ---------------------------------------------------------------------


@pytest.fixture
def registry(monkeypatch: pytest.MonkeyPatch) -> None:
    """Let a test register event classes and upcasters without leaking them."""
    monkeypatch.setattr(events_module, "_CLASSES", dict(events_module._CLASSES))
    monkeypatch.setattr(events_module, "_UPCASTERS", dict(events_module._UPCASTERS))


@pytest.mark.usefixtures("registry")
def test_event_class_registration() -> None:
    class ThingHappened(DomainEvent):
        event_type = "test.thing_happened"
        amount: int

    assert event_class("test.thing_happened") is ThingHappened
    event = ThingHappened(amount=5)
    assert event.payload() == {"amount": 5}
    assert decode("test.thing_happened", 1, {"amount": 5}) == event


@pytest.mark.usefixtures("registry")
def test_duplicate_event_type_is_refused() -> None:
    class First(DomainEvent):
        event_type = "test.duplicate"

    with pytest.raises(AssertionError, match=re.escape("duplicate event type test.duplicate")):

        class Second(DomainEvent):
            event_type = "test.duplicate"

    assert event_class("test.duplicate") is First


@pytest.mark.usefixtures("registry")
def test_customer_event_types_are_registered() -> None:
    import ledger.domain.customer  # noqa: F401

    assert event_class("customer.created").__name__ == "CustomerCreated"
    with pytest.raises(AssertionError, match=re.escape("duplicate event type customer.created")):

        class Clash(DomainEvent):
            event_type = "customer.created"


@pytest.mark.usefixtures("registry")
def test_subclass_without_event_type_is_not_registered() -> None:
    before = dict(events_module._CLASSES)

    class Base(DomainEvent):
        pass

    assert before == events_module._CLASSES


@pytest.mark.usefixtures("registry")
def test_event_extra_fields_are_refused() -> None:
    class Strict(DomainEvent):
        event_type = "test.strict"
        a: int

    with pytest.raises(ValueError):
        decode("test.strict", 1, {"a": 1, "b": 2})


@pytest.mark.usefixtures("registry")
def test_upcast_chain_v1_to_v3() -> None:
    class Renamed(DomainEvent):
        event_type = "test.renamed"
        schema_version = 3
        amount_cents: int
        currency: str

    @register_upcaster("test.renamed", 1)
    def v1_to_v2(data: dict[str, Any]) -> dict[str, Any]:
        return {"amount_cents": data["amount"], "currency": data["currency"]}

    @register_upcaster("test.renamed", 2)
    def v2_to_v3(data: dict[str, Any]) -> dict[str, Any]:
        return data | {"currency": data["currency"].lower()}

    v1 = {"amount": 500, "currency": "USD"}
    assert upcast("test.renamed", 1, v1) == {"amount_cents": 500, "currency": "usd"}
    assert v1 == {"amount": 500, "currency": "USD"}
    assert upcast("test.renamed", 2, {"amount_cents": 1, "currency": "EUR"}) == {
        "amount_cents": 1,
        "currency": "eur",
    }
    current = {"amount_cents": 7, "currency": "EUR"}
    assert upcast("test.renamed", 3, current) is current
    assert decode("test.renamed", 1, v1) == Renamed(amount_cents=500, currency="usd")
    with pytest.raises(AssertionError, match="newer than the code"):
        upcast("test.renamed", 4, current)


@pytest.mark.usefixtures("registry")
def test_duplicate_upcaster_is_refused() -> None:
    register_upcaster("test.x", 1)(lambda d: d)
    with pytest.raises(AssertionError, match="duplicate upcaster"):
        register_upcaster("test.x", 1)(lambda d: d)


# --- database URLs -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("postgresql://u:p@h:5432/db", "postgresql://u:p@h:5432/db"),
        ("postgres://u:p@h/db", "postgres://u:p@h/db"),
        ("postgresql+psycopg://u:p@h:5432/db", "postgresql://u:p@h:5432/db"),
        ("postgresql+psycopg2://u@h/db", "postgresql://u@h/db"),
        ("postgresql+psycopg3://u@h/db", "postgresql://u@h/db"),
        (
            "postgresql://postgres:@/postgres?host=/tmp/pg/socket",
            "postgresql://postgres:@/postgres?host=/tmp/pg/socket",
        ),
    ],
)
def test_to_libpq_url(url: str, expected: str) -> None:
    assert db.to_libpq_url(url) == expected


@pytest.mark.parametrize(
    "url", ["mysql://u@h/db", "sqlite:///x.db", "postgresql+asyncpg://u@h/db", "", "h:5432/db"]
)
def test_to_libpq_url_rejects_other_databases(url: str) -> None:
    with pytest.raises(ValueError, match="not a PostgreSQL URL"):
        db.to_libpq_url(url)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("postgresql://u:p@h:5432/db", "postgresql+psycopg://u:p@h:5432/db"),
        ("postgres://u:p@h/db", "postgresql+psycopg://u:p@h/db"),
        ("postgresql+psycopg://u@h/db", "postgresql+psycopg://u@h/db"),
        ("postgresql+psycopg2://u@h/db", "postgresql+psycopg://u@h/db"),
    ],
)
def test_to_sqlalchemy_url(url: str, expected: str) -> None:
    assert db.to_sqlalchemy_url(url) == expected


def test_to_sqlalchemy_url_for_pgserver_socket_form() -> None:
    url = db.to_sqlalchemy_url("postgresql://postgres:@/postgres?host=/tmp/pg/socket")
    assert url == "postgresql+psycopg://postgres:@/postgres?host=/tmp/pg/socket"
    parsed = make_url(url)
    assert parsed.drivername == "postgresql+psycopg"
    assert parsed.username == "postgres"
    assert parsed.host is None
    assert parsed.database == "postgres"
    assert parsed.query["host"] == "/tmp/pg/socket"


def test_to_sqlalchemy_url_rejects_other_databases() -> None:
    with pytest.raises(ValueError):
        db.to_sqlalchemy_url("mysql://u@h/db")
