"""Request-parameter validation from Stripe's spec (`ledger.params`). No database needed."""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

import pytest

from ledger.errors import InvalidRequestError
from ledger.params import operations, path_params, validate_params

CUSTOMERS = "POST /v1/customers"
SUBSCRIPTIONS = "POST /v1/subscriptions"
LIST_CUSTOMERS = "GET /v1/customers"


def rejects(
    operation: str, params: dict[str, Any], *, from_form: bool = False
) -> InvalidRequestError:
    with pytest.raises(InvalidRequestError) as info:
        validate_params(operation, params, from_form=from_form)
    error = info.value
    assert error.http_status == 400
    assert error.type == "invalid_request_error"
    assert error.param is not None
    return error


def empty_message(param: str) -> str:
    return (
        f"You passed an empty string for '{param}'. We assume empty values are an attempt to "
        f"unset a parameter; however '{param}' cannot be unset. You should remove '{param}' "
        "from your request or supply a non-empty value."
    )


# --- operations --------------------------------------------------------------------------------


def test_unknown_operation_is_a_key_error() -> None:
    with pytest.raises(KeyError):
        validate_params("POST /v1/nope", {})


def test_operations_and_path_params() -> None:
    ops = operations()
    assert {
        "POST /v1/customers",
        "GET /v1/customers",
        "POST /v1/customers/{customer}",
        "DELETE /v1/customers/{customer}",
        "GET /v1/customers/{customer}",
    } <= ops
    assert all(op.split(" ", 1)[0] in {"GET", "POST", "DELETE"} for op in ops)
    assert all(op.split(" ", 1)[1].startswith("/v1/") for op in ops)
    assert path_params("POST /v1/customers/{customer}") == ("customer",)
    assert path_params("POST /v1/customers") == ()
    assert path_params("DELETE /v1/customers/{customer}/sources/{id}") == ("customer", "id")


def test_params_json_is_sorted_and_shaped() -> None:
    text = resources.files("ledger._spec").joinpath("params.json").read_text(encoding="utf-8")
    data = json.loads(text)
    assert list(data) == sorted(data)
    for entry in data.values():
        assert set(entry) == {"path", "schema"}
        assert entry["schema"]["type"] == "object"
        assert entry["schema"]["additionalProperties"] is False


@pytest.mark.parametrize("operation", sorted(operations()))
def test_every_operation_validates_an_empty_dict(operation: str) -> None:
    try:
        assert validate_params(operation, {}) == {}
    except InvalidRequestError as error:
        assert error.code == "parameter_missing"
        assert error.message == f"Missing required param: {error.param}."
        assert error.http_status == 400


# --- unknown / missing -------------------------------------------------------------------------


def test_unknown_parameter() -> None:
    error = rejects(CUSTOMERS, {"emial": "a@example.com"})
    assert error.message == "Received unknown parameter: emial"
    assert error.code == "parameter_unknown"
    assert error.param == "emial"


def test_nested_unknown_parameter() -> None:
    error = rejects(CUSTOMERS, {"address": {"line1": "1 Main St", "foo": "bar"}})
    assert error.message == "Received unknown parameter: address[foo]"
    assert error.code == "parameter_unknown"
    assert error.param == "address[foo]"


def test_unknown_parameter_inside_array_item() -> None:
    error = rejects(SUBSCRIPTIONS, {"customer": "cus_1", "items": [{"price": "p", "bogus": "1"}]})
    assert error.param == "items[0][bogus]"
    assert error.message == "Received unknown parameter: items[0][bogus]"


def test_missing_required_parameter() -> None:
    error = rejects(SUBSCRIPTIONS, {"items": [{"price": "price_1"}]})
    assert error.message == "Missing required param: customer."
    assert error.code == "parameter_missing"
    assert error.param == "customer"


def test_none_counts_as_not_passed() -> None:
    assert validate_params(CUSTOMERS, {"email": None, "name": "Jo"}) == {"name": "Jo"}
    error = rejects(SUBSCRIPTIONS, {"customer": None})
    assert error.code == "parameter_missing"


def test_nested_missing_required_parameter() -> None:
    params = {
        "customer": "cus_1",
        "items": [{"price": "price_1"}, {"price_data": {"currency": "usd", "product": "prod_1"}}],
    }
    error = rejects(SUBSCRIPTIONS, params)
    assert error.message == "Missing required param: items[1][price_data][recurring]."
    assert error.param == "items[1][price_data][recurring]"
    assert error.code == "parameter_missing"


def test_unknown_reported_before_missing() -> None:
    error = rejects(SUBSCRIPTIONS, {"bogus": "x"})
    assert error.code == "parameter_unknown"


# --- types -------------------------------------------------------------------------------------


def test_items_param_naming() -> None:
    error = rejects(SUBSCRIPTIONS, {"customer": "cus_1", "items": [{"price": 5}]})
    assert error.param == "items[0][price]"
    assert error.message == "Invalid string: 5"
    assert error.code is None

    form = {"customer": "cus_1", "items": {"0": {"price": "p"}, "1": {"quantity": "x"}}}
    error = rejects(SUBSCRIPTIONS, form, from_form=True)
    assert error.param == "items[1][quantity]"
    assert error.message == "Invalid integer: x"
    assert error.code == "parameter_invalid_integer"


def test_enum() -> None:
    error = rejects(CUSTOMERS, {"tax_exempt": "sometimes"})
    assert error.message == "Invalid tax_exempt: must be one of exempt, none, or reverse"
    assert error.code is None
    assert error.param == "tax_exempt"

    params = {"customer": "cus_1", "collection_method": "cash"}
    error = rejects(SUBSCRIPTIONS, params)
    assert error.message == (
        "Invalid collection_method: must be one of charge_automatically or send_invoice"
    )


def test_nested_enum_names_full_param() -> None:
    params = {"customer": "cus_1", "payment_behavior": "nope"}
    error = rejects(SUBSCRIPTIONS, params)
    assert error.param == "payment_behavior"
    error = rejects(CUSTOMERS, {"cash_balance": {"settings": {"reconciliation_mode": "x"}}})
    assert error.param == "cash_balance[settings][reconciliation_mode]"
    assert error.message == (
        "Invalid cash_balance[settings][reconciliation_mode]: "
        "must be one of automatic, manual, or merchant_default"
    )


def test_integer_strict_for_python_values() -> None:
    assert validate_params(CUSTOMERS, {"balance": -100}) == {"balance": -100}
    for bad, shown in (("100", "100"), (True, "true"), (1.5, "1.5"), (10.0, "10.0")):
        error = rejects(CUSTOMERS, {"balance": bad})
        assert error.message == f"Invalid integer: {shown}"
        assert error.code == "parameter_invalid_integer"
        assert error.param == "balance"


def test_integer_coercion_from_form() -> None:
    assert validate_params(CUSTOMERS, {"balance": "-250"}, from_form=True) == {"balance": -250}
    for bad in ("1.5", "12a", "+5", " 5", "1e3", "١٢", "9" * 30):
        error = rejects(CUSTOMERS, {"balance": bad}, from_form=True)
        assert error.message == f"Invalid integer: {bad}"
        assert error.code == "parameter_invalid_integer"


def test_boolean_coercion_from_form() -> None:
    op = "POST /v1/invoices/{invoice}/pay"
    assert validate_params(op, {"paid_out_of_band": "true"}, from_form=True) == {
        "paid_out_of_band": True
    }
    assert validate_params(op, {"paid_out_of_band": "false"}, from_form=True) == {
        "paid_out_of_band": False
    }
    # stripe-python sends Python's spelling, which Stripe's v1 API accepts.
    assert validate_params(op, {"paid_out_of_band": "True"}, from_form=True) == {
        "paid_out_of_band": True
    }
    assert validate_params(op, {"paid_out_of_band": "False"}, from_form=True) == {
        "paid_out_of_band": False
    }
    for bad in ("TRUE", "1", "yes"):
        error = rejects(op, {"paid_out_of_band": bad}, from_form=True)
        assert error.message == f"Invalid boolean: {bad}"
        assert error.code is None
        assert error.param == "paid_out_of_band"


def test_boolean_strict_for_python_values() -> None:
    op = "POST /v1/invoices/{invoice}/pay"
    assert validate_params(op, {"paid_out_of_band": True}) == {"paid_out_of_band": True}
    error = rejects(op, {"paid_out_of_band": "true"})
    assert error.message == "Invalid boolean: true"
    error = rejects(op, {"paid_out_of_band": 1})
    assert error.message == "Invalid boolean: 1"


def test_number_and_decimal() -> None:
    op = "POST /v1/coupons"
    assert validate_params(op, {"percent_off": 12.5}) == {"percent_off": 12.5}
    assert validate_params(op, {"percent_off": "12.5"}, from_form=True) == {"percent_off": 12.5}
    error = rejects(op, {"percent_off": "lots"}, from_form=True)
    assert error.message == "Invalid decimal: lots"
    assert error.param == "percent_off"

    prices = "POST /v1/prices"
    ok = validate_params(prices, {"currency": "usd", "unit_amount_decimal": "12.345"})
    assert ok == {"currency": "usd", "unit_amount_decimal": "12.345"}
    error = rejects(prices, {"currency": "usd", "unit_amount_decimal": "1.2.3"})
    assert error.message == "Invalid decimal: 1.2.3"
    assert error.param == "unit_amount_decimal"


def test_expected_object_array_string() -> None:
    error = rejects(CUSTOMERS, {"cash_balance": "automatic"})
    assert (error.message, error.param, error.code) == ("Invalid object", "cash_balance", None)

    error = rejects(CUSTOMERS, {"address": "1 Main St"})
    assert (error.message, error.param) == ("Invalid object", "address")

    error = rejects(CUSTOMERS, {"expand": "default_source"})
    assert (error.message, error.param, error.code) == ("Invalid array", "expand", None)

    error = rejects(CUSTOMERS, {"email": {"a": "b"}})
    assert (error.message, error.param) == ('Invalid string: {"a":"b"}', "email")


def test_long_string() -> None:
    value = "abcdefghij" + "x" * 300 + "0123456789"
    error = rejects(CUSTOMERS, {"name": value})
    assert error.message == (
        "Invalid string: abcdefghij...0123456789; must be at most 256 characters"
    )
    assert error.param == "name"
    assert error.code is None
    assert validate_params(CUSTOMERS, {"name": "n" * 256}) == {"name": "n" * 256}

    error = rejects(CUSTOMERS, {"phone": "+1 555 0100 0100 01234"})
    assert error.message == "Invalid string: +1 555 010...0100 01234; must be at most 20 characters"


def test_metadata_values_must_be_strings() -> None:
    assert validate_params(CUSTOMERS, {"metadata": {"a": "1", "b": ""}}) == {
        "metadata": {"a": "1", "b": ""}
    }
    error = rejects(CUSTOMERS, {"metadata": {"order": 1}})
    assert (error.message, error.param) == ("Invalid string: 1", "metadata[order]")
    error = rejects(CUSTOMERS, {"metadata": {"nested": {"x": "y"}}})
    assert error.param == "metadata[nested]"
    error = rejects(CUSTOMERS, {"metadata": ["a"]})
    assert (error.message, error.param) == ("Invalid object", "metadata")


# --- empty strings -----------------------------------------------------------------------------


def test_empty_string_unsets_where_allowed() -> None:
    params = {"metadata": "", "address": "", "shipping": "", "tax_exempt": ""}
    assert validate_params(CUSTOMERS, params) == params
    assert validate_params(CUSTOMERS, params, from_form=True) == params
    update = "POST /v1/customers/{customer}"
    assert validate_params(update, {"description": ""}) == {"description": ""}
    assert validate_params(update, {"tax": {"ip_address": ""}}) == {"tax": {"ip_address": ""}}


@pytest.mark.parametrize(
    ("operation", "params", "param"),
    [
        (CUSTOMERS, {"balance": ""}, "balance"),
        (CUSTOMERS, {"cash_balance": ""}, "cash_balance"),
        (CUSTOMERS, {"expand": ""}, "expand"),
        (CUSTOMERS, {"cash_balance": {"settings": {"reconciliation_mode": ""}}},
         "cash_balance[settings][reconciliation_mode]"),
        (SUBSCRIPTIONS, {"customer": ""}, "customer"),
        (SUBSCRIPTIONS, {"customer": "cus_1", "items": [""]}, "items[0]"),
        (SUBSCRIPTIONS, {"customer": "cus_1", "collection_method": ""}, "collection_method"),
        (LIST_CUSTOMERS, {"limit": ""}, "limit"),
        (LIST_CUSTOMERS, {"created": ""}, "created"),
    ],
)  # fmt: skip
def test_empty_string_rejected_where_not_allowed(
    operation: str, params: dict[str, Any], param: str
) -> None:
    for from_form in (False, True):
        error = rejects(operation, params, from_form=from_form)
        assert error.code == "parameter_invalid_empty"
        assert error.param == param
        assert error.message == empty_message(param)


# --- arrays ------------------------------------------------------------------------------------


def test_arrays_from_index_keyed_dicts() -> None:
    form = {"expand": {"2": "c", "0": "a", "1": "b"}}
    assert validate_params(CUSTOMERS, form, from_form=True) == {"expand": ["a", "b", "c"]}
    assert validate_params(CUSTOMERS, {"expand": {1: "b", 0: "a"}}) == {"expand": ["a", "b"]}
    assert validate_params(CUSTOMERS, {"expand": ("a", "b")}) == {"expand": ["a", "b"]}
    assert validate_params(CUSTOMERS, {"expand": ["a"]}, from_form=True) == {"expand": ["a"]}

    error = rejects(CUSTOMERS, {"expand": {"x": "a"}}, from_form=True)
    assert (error.message, error.param) == ("Invalid array", "expand")

    form_items = {
        "customer": "cus_1",
        "items": {"1": {"price": "p2", "quantity": "2"}, "0": {"price": "p1"}},
    }
    assert validate_params(SUBSCRIPTIONS, form_items, from_form=True) == {
        "customer": "cus_1",
        "items": [{"price": "p1"}, {"price": "p2", "quantity": 2}],
    }


def test_array_item_errors_are_indexed() -> None:
    error = rejects(CUSTOMERS, {"preferred_locales": ["en", 3]})
    assert (error.message, error.param) == ("Invalid string: 3", "preferred_locales[1]")


# --- anyOf / created ---------------------------------------------------------------------------


def test_created_filter() -> None:
    form = {"created": {"gte": "1700000000", "lt": "1800000000"}, "limit": "3"}
    assert validate_params(LIST_CUSTOMERS, form, from_form=True) == {
        "created": {"gte": 1700000000, "lt": 1800000000},
        "limit": 3,
    }
    assert validate_params(LIST_CUSTOMERS, {"created": "1700000000"}, from_form=True) == {
        "created": 1700000000
    }
    assert validate_params(LIST_CUSTOMERS, {"created": {"gte": 5}}) == {"created": {"gte": 5}}

    error = rejects(LIST_CUSTOMERS, {"created": {"gte": "soon"}}, from_form=True)
    assert error.message == "Invalid integer: soon"
    assert error.param == "created[gte]"
    assert error.code == "parameter_invalid_integer"

    error = rejects(LIST_CUSTOMERS, {"created": {"after": 5}})
    assert error.message == "Received unknown parameter: created[after]"
    assert error.param == "created[after]"

    error = rejects(LIST_CUSTOMERS, {"created": "yesterday"}, from_form=True)
    assert (error.message, error.param) == ("Invalid integer: yesterday", "created")
    error = rejects(LIST_CUSTOMERS, {"created": "yesterday"})
    assert (error.message, error.param) == ("Invalid integer: yesterday", "created")


def test_anyof_enum_or_integer() -> None:
    base = {"customer": "cus_1"}
    assert validate_params(SUBSCRIPTIONS, {**base, "trial_end": "now"})["trial_end"] == "now"
    assert validate_params(SUBSCRIPTIONS, {**base, "trial_end": 1800000000})["trial_end"] == (
        1800000000
    )
    form = {**base, "trial_end": "1800000000"}
    assert validate_params(SUBSCRIPTIONS, form, from_form=True)["trial_end"] == 1800000000
    error = rejects(SUBSCRIPTIONS, {**base, "trial_end": "later"}, from_form=True)
    assert (error.message, error.param) == ("Invalid trial_end: must be one of now", "trial_end")


def test_get_query_unknown_and_types() -> None:
    error = rejects(LIST_CUSTOMERS, {"limit": "ten"}, from_form=True)
    assert (error.message, error.param) == ("Invalid integer: ten", "limit")
    error = rejects(LIST_CUSTOMERS, {"name": "x"})
    assert (error.message, error.code) == ("Received unknown parameter: name", "parameter_unknown")


def test_delete_body_params() -> None:
    op = "DELETE /v1/subscriptions/{subscription_exposed_id}"
    assert validate_params(op, {"invoice_now": "true", "prorate": "false"}, from_form=True) == {
        "invoice_now": True,
        "prorate": False,
    }
    error = rejects("DELETE /v1/customers/{customer}", {"foo": "1"})
    assert error.param == "foo"


# --- misc --------------------------------------------------------------------------------------


def test_result_is_a_fresh_dict_and_input_untouched() -> None:
    params: dict[str, Any] = {"address": {"line1": "1 Main St"}, "expand": {"0": "a"}}
    before = json.dumps(params)
    result = validate_params(CUSTOMERS, params)
    assert result == {"address": {"line1": "1 Main St"}, "expand": ["a"]}
    assert json.dumps(params) == before
    assert result is not params


def test_errors_serialize_like_stripe() -> None:
    error = rejects(CUSTOMERS, {"address": {"foo": "bar"}})
    assert error.to_dict() == {
        "error": {
            "type": "invalid_request_error",
            "message": "Received unknown parameter: address[foo]",
            "code": "parameter_unknown",
            "doc_url": "https://stripe.com/docs/error-codes/parameter-unknown",
            "param": "address[foo]",
        }
    }


def test_errors_are_deterministic() -> None:
    params = {"customer": "cus_1", "items": [{"price": "p", "quantity": "1"}], "bogus": 1}
    messages = {rejects(SUBSCRIPTIONS, params).message for _ in range(3)}
    assert messages == {"Received unknown parameter: bogus"}
