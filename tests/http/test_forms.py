"""Stripe's bracket notation, decoded; every malformed input is a Stripe error (no server)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import pytest
from hypothesis import given
from hypothesis import strategies as st
from stripe._encode import _api_encode

from ledger.errors import InvalidRequestError
from ledger.params import validate_params
from ledger.server.forms import FORM_DEPTH_MAX, FORM_FIELDS_MAX, decode_form


@pytest.mark.parametrize(
    ("encoded", "decoded"),
    [
        ("", {}),
        ("email=a%40example.com", {"email": "a@example.com"}),
        ("name=Jo+Doe&name=Ann", {"name": "Ann"}),  # a repeated name keeps its last value
        ("description=", {"description": ""}),
        ("metadata[k]=v&metadata[x]=", {"metadata": {"k": "v", "x": ""}}),
        ("expand[]=a&expand[]=b", {"expand": ["a", "b"]}),
        ("expand[0]=a&expand[1]=b", {"expand": {"0": "a", "1": "b"}}),
        (
            "items[0][price]=p&items[0][quantity]=2",
            {"items": {"0": {"price": "p", "quantity": "2"}}},
        ),
        ("a[][b]=1&a[][c]=2&a[][b]=3", {"a": [{"b": "1", "c": "2"}, {"b": "3"}]}),
        ("address[line1]=1+Main&address[city]=X", {"address": {"line1": "1 Main", "city": "X"}}),
        ("a[b][c][d]=1", {"a": {"b": {"c": {"d": "1"}}}}),
        ("created[gte]=1&created[lt]=2", {"created": {"gte": "1", "lt": "2"}}),
        ("name=%E2%82%AC", {"name": "\u20ac"}),
        ("a=1&&b=2", {"a": "1", "b": "2"}),
        ("a=x;y", {"a": "x;y"}),  # only & separates
    ],
)
def test_decodes_bracket_notation(encoded: str, decoded: dict[str, Any]) -> None:
    assert decode_form(encoded) == decoded
    assert decode_form(encoded.encode()) == decoded


def test_a_body_merges_into_its_query_string() -> None:
    assert decode_form(b"metadata[b]=2", into=decode_form(b"metadata[a]=1&limit=3")) == {
        "metadata": {"a": "1", "b": "2"},
        "limit": "3",
    }


def _refused(encoded: bytes | str) -> InvalidRequestError:
    with pytest.raises(InvalidRequestError) as caught:
        decode_form(encoded)
    assert caught.value.http_status == 400
    return caught.value


@pytest.mark.parametrize(
    ("encoded", "param"),
    [
        ("a=1&a[b]=2", "a"),
        ("a[b]=2&a=1", "a"),
        ("a[]=1&a[b]=2", "a"),
        ("a[b]=2&a[]=1", "a"),
        ("a[b]=1&a[b][c]=2", "a[b]"),
        ("a[b][]=1&a[b][c]=2", "a[b]"),
        ("a[][b]=1&a[][b][c]=2", "a[][b]"),
    ],
)
def test_a_name_used_as_two_shapes_is_refused(encoded: str, param: str) -> None:
    error = _refused(encoded)
    assert error.param == param
    assert "both as" in error.message


@pytest.mark.parametrize("name", ["a[b", "[a]", "a]", "a[b]c", "", "a[b]]", "a[][]"])
def test_a_name_not_in_bracket_notation_is_an_unknown_parameter(name: str) -> None:
    error = _refused(urlencode({name: "1"}))
    assert error.code == "parameter_unknown"
    assert error.message == f"Received unknown parameter: {name}"


def test_bytes_that_are_not_utf8_are_refused() -> None:
    assert "UTF-8" in _refused(b"name=%FF").message
    assert "UTF-8" in _refused(b"name=\xff").message


def test_a_nul_character_is_refused() -> None:
    assert _refused("name=a%00b").param == "name"
    assert _refused("na%00me=a").param == "name"


def test_nesting_and_field_count_are_bounded() -> None:
    deep = "a" + "[b]" * FORM_DEPTH_MAX
    assert decode_form(deep + "=1")
    assert "levels deep" in _refused(deep + "[c]=1").message
    many = "&".join(f"m[{i}]=1" for i in range(FORM_FIELDS_MAX))
    assert len(decode_form(many)["m"]) == FORM_FIELDS_MAX
    assert "parameters" in _refused(many + "&x=1").message


# What the official SDK encodes decodes back into what validate_params accepts.
@given(
    metadata=st.dictionaries(
        st.text(st.characters(whitelist_categories=("L", "N")), min_size=1, max_size=8),
        st.text(st.characters(blacklist_characters="\x00", blacklist_categories=("Cs",))),
        max_size=5,
    ),
    balance=st.integers(-(10**9), 10**9),
    locales=st.lists(st.sampled_from(["en", "fr", "de"]), max_size=3),
    expand=st.lists(st.sampled_from(["test_clock", "default_source"]), max_size=2),
)
def test_the_sdks_encoding_round_trips(
    metadata: dict[str, str], balance: int, locales: list[str], expand: list[str]
) -> None:
    params: dict[str, Any] = {
        "metadata": metadata,
        "balance": balance,
        "preferred_locales": locales,
        "expand": expand,
        "tax_exempt": "none",
    }
    encoded = urlencode(list(_api_encode(params, "V1")))
    decoded = validate_params("POST /v1/customers", decode_form(encoded), from_form=True)
    expected = {k: v for k, v in params.items() if v != [] and v != {}}
    assert decoded == expected


@given(st.binary(max_size=64))
def test_any_bytes_decode_or_raise_a_stripe_error(data: bytes) -> None:
    try:
        decode_form(data)
    except InvalidRequestError as error:
        assert error.http_status == 400


def test_booleans_come_as_python_spells_them() -> None:
    # stripe-python sends True as "True"; validate_params(from_form=True) accepts both spellings.
    op = "GET /v1/events"
    for spelled, value in (("true", True), ("True", True), ("false", False), ("False", False)):
        assert validate_params(op, {"delivery_success": spelled}, from_form=True) == {
            "delivery_success": value
        }
    with pytest.raises(InvalidRequestError):
        validate_params(op, {"delivery_success": "TRUE"}, from_form=True)
