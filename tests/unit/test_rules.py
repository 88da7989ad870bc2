"""Stripe's request conventions (`ledger.domain.rules`) and `previous_attributes` diffs."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from ledger.domain.aggregate import diff_previous
from ledger.domain.rules import apply_metadata, check_email, reject, reject_if
from ledger.errors import InvalidRequestError


def rejected(fn: Callable[..., object], *args: Any, **kwargs: Any) -> InvalidRequestError:
    with pytest.raises(InvalidRequestError) as info:
        fn(*args, **kwargs)
    assert info.value.http_status == 400
    return info.value


# --- apply_metadata ----------------------------------------------------------------------------


def test_metadata_fifty_keys_are_accepted() -> None:
    update = {f"k{i}": str(i) for i in range(50)}
    assert apply_metadata({}, update) == update


def test_metadata_fifty_one_keys_are_rejected() -> None:
    error = rejected(apply_metadata, {}, {f"k{i}": "v" for i in range(51)})
    assert error.param == "metadata"
    assert error.code is None
    assert error.message == "You can have up to 50 metadata keys (had 51)."


def test_metadata_key_limit_counts_the_merged_map() -> None:
    current = {f"k{i}": "v" for i in range(50)}
    error = rejected(apply_metadata, current, {"one_more": "v"})
    assert error.param == "metadata"
    assert error.message == "You can have up to 50 metadata keys (had 51)."
    # Unsetting one key makes room for another.
    merged = apply_metadata(current, {"k0": "", "one_more": "v"})
    assert len(merged) == 50
    assert "k0" not in merged
    assert merged["one_more"] == "v"


def test_metadata_key_of_forty_characters_is_accepted() -> None:
    key = "k" * 40
    assert apply_metadata({}, {key: "v"}) == {key: "v"}


def test_metadata_key_of_forty_one_characters_is_rejected() -> None:
    key = "k" * 41
    error = rejected(apply_metadata, {}, {key: "v"})
    assert error.param == f"metadata[{key}]"
    assert error.code == "parameter_invalid_string_too_long"
    assert "at most 40 characters" in error.message


def test_metadata_value_of_five_hundred_characters_is_accepted() -> None:
    assert apply_metadata({}, {"k": "v" * 500}) == {"k": "v" * 500}


def test_metadata_value_of_five_hundred_one_characters_is_rejected() -> None:
    error = rejected(apply_metadata, {}, {"k": "v" * 501})
    assert error.param == "metadata[k]"
    assert error.code == "parameter_invalid_string_too_long"
    assert error.message == (
        "Metadata values can have up to 500 characters, but you passed in a value that is "
        "501 characters."
    )


def test_metadata_empty_key_is_rejected() -> None:
    error = rejected(apply_metadata, {}, {"": "v"})
    assert error.param == "metadata"
    assert error.code == "parameter_invalid_empty"


def test_metadata_empty_string_unsets_one_key() -> None:
    assert apply_metadata({"a": "1", "b": "2"}, {"a": ""}) == {"b": "2"}


def test_metadata_none_unsets_one_key() -> None:
    assert apply_metadata({"a": "1", "b": "2"}, {"b": None}) == {"a": "1"}


def test_metadata_unsetting_a_missing_key_is_a_no_op() -> None:
    assert apply_metadata({"a": "1"}, {"zzz": ""}) == {"a": "1"}


def test_metadata_empty_string_for_the_map_unsets_every_key() -> None:
    assert apply_metadata({"a": "1", "b": "2"}, "") == {}


def test_metadata_merges_sets_and_replaces_without_mutating_current() -> None:
    current = {"a": "1", "b": "2"}
    merged = apply_metadata(current, {"b": "two", "c": "3"})
    assert merged == {"a": "1", "b": "two", "c": "3"}
    assert current == {"a": "1", "b": "2"}
    assert merged is not current


def test_metadata_values_become_strings() -> None:
    assert apply_metadata({}, {"n": 5}) == {"n": "5"}


def test_metadata_empty_update_keeps_current() -> None:
    assert apply_metadata({"a": "1"}, {}) == {"a": "1"}


# --- check_email -------------------------------------------------------------------------------


@pytest.mark.parametrize("email", ["a@b.co", "jenny.rosen+tag@example.com", "x@sub.domain.io"])
def test_check_email_accepts_local_at_domain_tld(email: str) -> None:
    assert check_email(email) is None


@pytest.mark.parametrize(
    "email", ["nope", "a@b", "@b.co", "a@.co", "a b@c.de", "a@b@c.de", "a@b.co.", "a@b.co "]
)
def test_check_email_rejects_malformed_addresses(email: str) -> None:
    error = rejected(check_email, email)
    assert error.code == "email_invalid"
    assert error.param == "email"
    assert error.message == f"Invalid email address: {email}"


def test_check_email_rejects_over_512_characters() -> None:
    email = "a" * 504 + "@b.co"
    assert len(email) == 509
    check_email(email)
    too_long = "a" * 508 + "@b.co"
    assert len(too_long) == 513
    assert rejected(check_email, too_long).code == "email_invalid"


def test_check_email_names_the_given_param() -> None:
    assert rejected(check_email, "nope", param="receipt_email").param == "receipt_email"


# --- reject / reject_if ------------------------------------------------------------------------


def test_reject_if_false_does_nothing() -> None:
    assert reject_if(False, "never") is None


def test_reject_if_true_raises_invalid_request_error_with_its_fields() -> None:
    error = rejected(reject_if, True, "Bad thing.", code="some_code", param="p")
    assert (error.message, error.code, error.param) == ("Bad thing.", "some_code", "p")
    assert error.type == "invalid_request_error"


def test_reject_carries_http_status() -> None:
    with pytest.raises(InvalidRequestError) as info:
        reject("Not here.", code="resource_missing", http_status=404)
    assert info.value.http_status == 404
    assert info.value.param is None


# --- diff_previous -----------------------------------------------------------------------------


def test_diff_unchanged_is_empty() -> None:
    body = {"a": 1, "metadata": {"x": "1"}, "list": [1, 2], "none": None}
    assert diff_previous(body, dict(body)) == {}


def test_diff_scalar_reports_old_value() -> None:
    assert diff_previous({"a": 1, "b": "x"}, {"a": 2, "b": "x"}) == {"a": 1}


def test_diff_scalar_to_null_and_back() -> None:
    assert diff_previous({"email": "a@b.co"}, {"email": None}) == {"email": "a@b.co"}
    assert diff_previous({"email": None}, {"email": "a@b.co"}) == {"email": None}


def test_diff_new_top_level_key_is_null() -> None:
    assert diff_previous({}, {"a": 1}) == {"a": None}


def test_diff_nested_dict_reports_only_changed_subkeys() -> None:
    before = {"metadata": {"keep": "1", "change": "old", "gone": "x"}}
    after = {"metadata": {"keep": "1", "change": "new", "added": "y"}}
    assert diff_previous(before, after) == {
        "metadata": {"change": "old", "gone": "x", "added": None}
    }


def test_diff_nested_dict_recurses() -> None:
    before = {"shipping": {"name": "N", "address": {"city": "A", "line1": "1"}}}
    after = {"shipping": {"name": "N", "address": {"city": "B", "line1": "1"}}}
    assert diff_previous(before, after) == {"shipping": {"address": {"city": "A"}}}


def test_diff_dict_from_or_to_null_is_whole() -> None:
    address = {"city": "A", "line1": "1"}
    assert diff_previous({"address": None}, {"address": address}) == {"address": None}
    assert diff_previous({"address": address}, {"address": None}) == {"address": address}


def test_diff_list_is_whole() -> None:
    before = {"preferred_locales": ["en", "fr"]}
    after = {"preferred_locales": ["en", "de"]}
    assert diff_previous(before, after) == {"preferred_locales": ["en", "fr"]}


def test_diff_stripe_object_value_is_whole() -> None:
    before = {"customer": {"id": "cus_1", "object": "customer", "name": "a"}}
    after = {"customer": {"id": "cus_1", "object": "customer", "name": "b"}}
    assert diff_previous(before, after) == before
