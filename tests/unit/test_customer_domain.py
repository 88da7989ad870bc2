"""The customer aggregate (`ledger.domain.customer`): decisions, evolve and Stripe events."""

from __future__ import annotations

import re
from typing import Any

import pytest

from ledger.domain import events as events_module
from ledger.domain.aggregate import State, StripeEventSpec, aggregate_for_stream
from ledger.domain.customer import (
    CUSTOMER,
    CustomerCreated,
    CustomerDeleted,
    CustomerUpdated,
    blank_customer,
    decide_create,
    decide_delete,
    decide_update,
    evolve,
    stripe_events,
)
from ledger.domain.events import DomainEvent
from ledger.errors import InvalidRequestError

CUS = "cus_TESTTESTTEST01"
CREATED = 1732104000
PREFIX = "ABCD1234"

DEFAULTS: dict[str, Any] = {
    "id": CUS,
    "object": "customer",
    "address": None,
    "balance": 0,
    "created": CREATED,
    "currency": None,
    "default_source": None,
    "delinquent": False,
    "description": None,
    "discount": None,
    "email": None,
    "invoice_prefix": PREFIX,
    "invoice_settings": {
        "custom_fields": None,
        "default_payment_method": None,
        "footer": None,
        "rendering_options": None,
    },
    "livemode": False,
    "metadata": {},
    "name": None,
    "next_invoice_sequence": 1,
    "phone": None,
    "preferred_locales": [],
    "shipping": None,
    "tax_exempt": "none",
    "test_clock": None,
}

FULL_ADDRESS = {
    "city": "Berlin",
    "country": "DE",
    "line1": "Unter den Linden 1",
    "line2": "Hof",
    "postal_code": "10117",
    "state": "BE",
}


def created(params: dict[str, Any] | None = None, **kwargs: Any) -> dict[str, Any]:
    """The customer JSON decide_create records."""
    events = decide_create(CUS, CREATED, PREFIX, params or {}, **kwargs)
    assert len(events) == 1
    event = events[0]
    assert isinstance(event, CustomerCreated)
    return event.customer


def state(params: dict[str, Any] | None = None) -> State:
    """A live customer's state after creation with `params`."""
    (event,) = decide_create(CUS, CREATED, PREFIX, params or {})
    return evolve(None, event)


def updated(current: State, params: dict[str, Any]) -> dict[str, Any]:
    """The changes decide_update records (exactly one event)."""
    events = decide_update(current, params)
    assert len(events) == 1
    event = events[0]
    assert isinstance(event, CustomerUpdated)
    return event.changes


def rejected(params: dict[str, Any], current: State | None = None) -> InvalidRequestError:
    with pytest.raises(InvalidRequestError) as info:
        if current is None:
            decide_create(CUS, CREATED, PREFIX, params)
        else:
            decide_update(current, params)
    assert info.value.http_status == 400
    return info.value


# --- create: defaults and simple fields --------------------------------------------------------


def test_blank_customer_has_stripe_defaults() -> None:
    assert blank_customer(CUS, CREATED, PREFIX) == DEFAULTS


def test_create_without_params_is_the_blank_customer() -> None:
    assert created() == DEFAULTS


def test_create_sets_test_clock() -> None:
    assert created(test_clock="clock_123")["test_clock"] == "clock_123"


def test_blank_customers_do_not_share_nested_state() -> None:
    one = blank_customer(CUS, CREATED, PREFIX)
    one["metadata"]["a"] = "1"
    one["invoice_settings"]["footer"] = "x"
    one["preferred_locales"].append("en")
    assert blank_customer(CUS, CREATED, PREFIX) == DEFAULTS


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("balance", -500),
        ("description", "A customer"),
        ("email", "jenny@example.com"),
        ("invoice_prefix", "JEN0"),
        ("name", "Jenny Rosen"),
        ("next_invoice_sequence", 42),
        ("phone", "+4930123456"),
        ("preferred_locales", ["de", "en"]),
        ("tax_exempt", "exempt"),
    ],
)
def test_create_sets_each_simple_field(field: str, value: Any) -> None:
    customer = created({field: value})
    assert customer[field] == value
    assert {k: v for k, v in customer.items() if k != field} == {
        k: v for k, v in DEFAULTS.items() if k != field
    }


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("balance", 250),
        ("description", "desc"),
        ("email", "a@b.co"),
        ("invoice_prefix", "NEWP"),
        ("name", "N"),
        ("next_invoice_sequence", 7),
        ("phone", "+1"),
        ("preferred_locales", ["fr"]),
        ("tax_exempt", "reverse"),
    ],
)
def test_update_sets_each_simple_field(field: str, value: Any) -> None:
    assert updated(state(), {field: value}) == {field: value}


@pytest.mark.parametrize("field", ["description", "email", "name", "phone", "invoice_prefix"])
def test_empty_string_unsets_a_simple_field(field: str) -> None:
    value = {"description": "d", "email": "a@b.co", "name": "n", "phone": "+1"}.get(field, "ABCD")
    current = state({field: value})
    assert current.data[field] == value
    assert updated(current, {field: ""}) == {field: None}


def test_empty_tax_exempt_means_none() -> None:
    current = state({"tax_exempt": "exempt"})
    assert updated(current, {"tax_exempt": ""}) == {"tax_exempt": "none"}


# --- address and shipping ----------------------------------------------------------------------


def test_address_has_all_six_keys_with_missing_ones_null() -> None:
    customer = created({"address": {"line1": "1 Main St", "country": "US"}})
    assert customer["address"] == {
        "city": None,
        "country": "US",
        "line1": "1 Main St",
        "line2": None,
        "postal_code": None,
        "state": None,
    }


def test_full_address_is_kept() -> None:
    assert created({"address": FULL_ADDRESS})["address"] == FULL_ADDRESS


def test_address_ignores_keys_stripe_does_not_have() -> None:
    customer = created({"address": {"line1": "x", "bogus": "y"}})
    assert set(customer["address"]) == {
        "city",
        "country",
        "line1",
        "line2",
        "postal_code",
        "state",
    }


def test_empty_address_unsets_it() -> None:
    current = state({"address": FULL_ADDRESS})
    assert updated(current, {"address": ""}) == {"address": None}


def test_shipping_shape() -> None:
    customer = created({"shipping": {"name": "Jenny", "address": {"city": "Paris"}}})
    assert customer["shipping"] == {
        "address": {
            "city": "Paris",
            "country": None,
            "line1": None,
            "line2": None,
            "postal_code": None,
            "state": None,
        },
        "name": "Jenny",
        "phone": None,
    }


def test_shipping_keeps_phone() -> None:
    shipping = {"name": "J", "phone": "+33", "address": FULL_ADDRESS}
    assert created({"shipping": shipping})["shipping"] == {
        "address": FULL_ADDRESS,
        "name": "J",
        "phone": "+33",
    }


def test_empty_shipping_unsets_it() -> None:
    current = state({"shipping": {"name": "J", "address": FULL_ADDRESS}})
    assert updated(current, {"shipping": ""}) == {"shipping": None}


def test_update_address_replaces_it_whole() -> None:
    current = state({"address": FULL_ADDRESS})
    changes = updated(current, {"address": {"city": "Hamburg"}})
    assert changes == {
        "address": {
            "city": "Hamburg",
            "country": None,
            "line1": None,
            "line2": None,
            "postal_code": None,
            "state": None,
        }
    }


# --- invoice_settings --------------------------------------------------------------------------


def test_invoice_settings_merge_keeps_untouched_keys() -> None:
    current = state({"invoice_settings": {"footer": "Thanks", "custom_fields": [{"name": "a"}]}})
    assert current.data["invoice_settings"] == {
        "custom_fields": [{"name": "a"}],
        "default_payment_method": None,
        "footer": "Thanks",
        "rendering_options": None,
    }
    changes = updated(current, {"invoice_settings": {"default_payment_method": "pm_1"}})
    assert changes == {
        "invoice_settings": {
            "custom_fields": [{"name": "a"}],
            "default_payment_method": "pm_1",
            "footer": "Thanks",
            "rendering_options": None,
        }
    }


def test_invoice_settings_empty_string_unsets_one_key() -> None:
    current = state({"invoice_settings": {"footer": "Thanks", "default_payment_method": "pm_1"}})
    changes = updated(current, {"invoice_settings": {"footer": ""}})
    assert changes["invoice_settings"] == {
        "custom_fields": None,
        "default_payment_method": "pm_1",
        "footer": None,
        "rendering_options": None,
    }


def test_invoice_settings_ignores_unknown_keys() -> None:
    assert decide_update(state(), {"invoice_settings": {"bogus": "x"}}) == []


def test_invoice_settings_merge_does_not_mutate_state() -> None:
    current = state()
    updated(current, {"invoice_settings": {"footer": "F"}})
    assert current.data["invoice_settings"]["footer"] is None


# --- metadata ----------------------------------------------------------------------------------


def test_create_metadata() -> None:
    assert created({"metadata": {"a": "1"}})["metadata"] == {"a": "1"}


def test_update_metadata_merges() -> None:
    current = state({"metadata": {"a": "1", "b": "2"}})
    assert updated(current, {"metadata": {"b": "", "c": "3"}}) == {"metadata": {"a": "1", "c": "3"}}


def test_update_metadata_empty_string_clears_it() -> None:
    current = state({"metadata": {"a": "1"}})
    assert updated(current, {"metadata": ""}) == {"metadata": {}}


def test_metadata_rules_apply() -> None:
    error = rejected({"metadata": {"k": "v" * 501}})
    assert error.param == "metadata[k]"


# --- validation --------------------------------------------------------------------------------


def test_invalid_email_is_rejected_on_create_and_update() -> None:
    for current in (None, state()):
        error = rejected({"email": "not-an-email"}, current)
        assert error.code == "email_invalid"
        assert error.param == "email"
        assert error.message == "Invalid email address: not-an-email"


@pytest.mark.parametrize("prefix", ["ABC", "ABCDEFGHIJ12", "A1B2", "000"])
def test_valid_invoice_prefix(prefix: str) -> None:
    assert created({"invoice_prefix": prefix})["invoice_prefix"] == prefix


@pytest.mark.parametrize("prefix", ["AB", "ABCDEFGHIJ123", "abcd", "AB-CD", "ABC ", "ÄBC"])
def test_invalid_invoice_prefix(prefix: str) -> None:
    error = rejected({"invoice_prefix": prefix})
    assert error.param == "invoice_prefix"
    assert error.message == "Invalid invoice_prefix: must be 3-12 uppercase letters or numbers."


def test_invalid_invoice_prefix_on_update() -> None:
    assert rejected({"invoice_prefix": "x"}, state()).param == "invoice_prefix"


@pytest.mark.parametrize("sequence", [0, -1])
def test_next_invoice_sequence_below_one_is_rejected(sequence: int) -> None:
    for current in (None, state()):
        error = rejected({"next_invoice_sequence": sequence}, current)
        assert error.param == "next_invoice_sequence"
        assert error.message == "next_invoice_sequence must be at least 1."


def test_next_invoice_sequence_of_one_is_accepted() -> None:
    assert created({"next_invoice_sequence": 1})["next_invoice_sequence"] == 1


# --- no-op updates -----------------------------------------------------------------------------


def test_update_with_no_params_records_nothing() -> None:
    assert decide_update(state(), {}) == []


def test_update_to_the_same_values_records_nothing() -> None:
    params: dict[str, Any] = {
        "email": "a@b.co",
        "name": "N",
        "balance": 10,
        "address": FULL_ADDRESS,
        "metadata": {"a": "1"},
        "invoice_settings": {"footer": "F"},
        "preferred_locales": ["en"],
    }
    assert decide_update(state(params), params) == []


def test_unsetting_what_is_unset_records_nothing() -> None:
    params = {"email": "", "address": "", "shipping": "", "metadata": {"x": ""}, "tax_exempt": ""}
    assert decide_update(state(), params) == []


def test_update_records_only_what_changed() -> None:
    current = state({"name": "N", "email": "a@b.co"})
    assert updated(current, {"name": "N", "email": "c@d.co"}) == {"email": "c@d.co"}


def test_unknown_params_are_ignored_by_the_domain() -> None:
    assert decide_update(state(), {"coupon": "c", "source": "tok"}) == []


# --- delete ------------------------------------------------------------------------------------


def test_decide_delete() -> None:
    events = decide_delete(state())
    assert len(events) == 1
    assert isinstance(events[0], CustomerDeleted)


def test_decisions_on_a_deleted_customer_are_refused() -> None:
    deleted = evolve(state(), CustomerDeleted())
    with pytest.raises(AssertionError):
        decide_update(deleted, {"name": "x"})
    with pytest.raises(AssertionError):
        decide_delete(deleted)


# --- evolve ------------------------------------------------------------------------------------


def test_evolve_create_update_delete() -> None:
    (create,) = decide_create(CUS, CREATED, PREFIX, {"name": "A"})
    after_create = evolve(None, create)
    assert after_create == State(data=create.customer)
    assert not after_create.deleted

    (update,) = decide_update(after_create, {"name": "B", "metadata": {"k": "v"}})
    after_update = evolve(after_create, update)
    assert after_update.data == create.customer | {"name": "B", "metadata": {"k": "v"}}
    assert not after_update.deleted
    assert after_create.data["name"] == "A"  # the earlier state is untouched

    after_delete = evolve(after_update, CustomerDeleted())
    assert after_delete.deleted
    assert after_delete.data == after_update.data


def test_evolve_keeps_internal_state() -> None:
    current = State(data=dict(DEFAULTS), internal={"x": 1})
    assert evolve(current, CustomerUpdated(changes={"name": "N"})).internal == {"x": 1}
    assert evolve(current, CustomerDeleted()).internal == {"x": 1}


def test_evolve_refuses_create_twice() -> None:
    (create,) = decide_create(CUS, CREATED, PREFIX, {})
    with pytest.raises(AssertionError):
        evolve(evolve(None, create), create)


def test_evolve_refuses_update_or_delete_before_create() -> None:
    with pytest.raises(AssertionError):
        evolve(None, CustomerUpdated(changes={"name": "x"}))
    with pytest.raises(AssertionError):
        evolve(None, CustomerDeleted())


def test_evolve_refuses_update_or_delete_after_delete() -> None:
    deleted = evolve(state(), CustomerDeleted())
    with pytest.raises(AssertionError):
        evolve(deleted, CustomerUpdated(changes={"name": "x"}))
    with pytest.raises(AssertionError):
        evolve(deleted, CustomerDeleted())


def test_evolve_and_stripe_events_refuse_foreign_events(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(events_module, "_CLASSES", dict(events_module._CLASSES))

    class Foreign(DomainEvent):
        event_type = "test.foreign_to_customers"

    message = re.escape("customer cannot apply test.foreign_to_customers")
    with pytest.raises(AssertionError, match=message):
        evolve(state(), Foreign())
    with pytest.raises(AssertionError, match=message):
        stripe_events(state(), state(), Foreign())


# --- events are data ---------------------------------------------------------------------------


def test_events_have_their_types_and_round_trip_through_json() -> None:
    (create,) = decide_create(CUS, CREATED, PREFIX, {"metadata": {"a": "1"}})
    assert create.event_type == "customer.created"
    assert CustomerUpdated.event_type == "customer.updated"
    assert CustomerDeleted.event_type == "customer.deleted"
    assert events_module.decode("customer.created", 1, create.payload()) == create
    assert CustomerDeleted().payload() == {}


def test_events_are_frozen() -> None:
    event = CustomerUpdated(changes={"name": "x"})
    with pytest.raises(Exception, match="frozen"):
        event.changes = {}  # type: ignore[misc]


def test_customer_aggregate_is_registered_by_prefix() -> None:
    assert aggregate_for_stream(CUS) is CUSTOMER
    assert CUSTOMER.object_name == "customer"
    assert CUSTOMER.evolve is evolve
    assert CUSTOMER.stripe_events is stripe_events


# --- stripe_events -----------------------------------------------------------------------------


def test_stripe_event_for_create() -> None:
    (create,) = decide_create(CUS, CREATED, PREFIX, {"name": "A"})
    after = evolve(None, create)
    assert stripe_events(None, after, create) == [
        StripeEventSpec("customer.created", after.data, None)
    ]


def test_stripe_event_for_update_has_previous_attributes() -> None:
    before = state({"name": "A", "metadata": {"keep": "1", "drop": "2"}, "address": FULL_ADDRESS})
    (update,) = decide_update(
        before,
        {
            "name": "B",
            "metadata": {"drop": "", "new": "3"},
            "address": FULL_ADDRESS | {"city": "Potsdam"},
        },
    )
    after = evolve(before, update)
    (spec,) = stripe_events(before, after, update)
    assert spec.type == "customer.updated"
    assert spec.object == after.data
    assert spec.object["name"] == "B"
    assert spec.previous_attributes == {
        "name": "A",
        "metadata": {"drop": "2", "new": None},
        "address": {"city": "Berlin"},
    }


def test_stripe_event_for_update_from_null() -> None:
    before = state()
    (update,) = decide_update(before, {"email": "a@b.co", "shipping": {"name": "S", "address": {}}})
    after = evolve(before, update)
    (spec,) = stripe_events(before, after, update)
    assert spec.previous_attributes == {"email": None, "shipping": None}


def test_stripe_event_for_delete() -> None:
    before = state({"name": "A"})
    after = evolve(before, CustomerDeleted())
    assert stripe_events(before, after, CustomerDeleted()) == [
        StripeEventSpec("customer.deleted", after.data, None)
    ]


def test_stripe_event_for_update_needs_the_before_state() -> None:
    current = state()
    with pytest.raises(AssertionError):
        stripe_events(None, current, CustomerUpdated(changes={"name": "x"}))
