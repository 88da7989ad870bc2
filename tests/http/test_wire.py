"""Stripe's wire format over raw HTTP: routes, auth, headers, form bodies, and bad input.

Every answer is checked by `send` (tests/http/conftest.py): `Request-Id`, `Stripe-Version`, JSON,
and an error body that passes Stripe's `error` schema with a request log URL.
"""

from __future__ import annotations

import base64
import logging
import secrets
from urllib.parse import urlencode

import pytest

from ledger import API_VERSION
from ledger.server import BODY_BYTES_MAX
from tests.http.conftest import Answer, Server, send
from tests.support.accounts import connected_account

UNRECOGNIZED = (
    "Unrecognized request URL ({}). Please see https://stripe.com/docs or we can help at "
    "https://support.stripe.com/."
)
NO_KEY = (
    "You did not provide an API key. You need to provide your API key in the Authorization "
    "header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY'). See "
    "https://stripe.com/docs/api#authentication for details, or we can help at "
    "https://support.stripe.com/."
)


def _customer(server: Server, body: str = "email=w%40example.com") -> str:
    answer = send(server, "POST", "/v1/customers", body)
    assert answer.status == 200, answer.json
    customer_id: str = answer.json["id"]
    return customer_id


def _invalid(answer: Answer, param: str | None, code: str | None = None) -> str:
    assert answer.status == 400, answer.json
    assert answer.error["type"] == "invalid_request_error"
    assert answer.error.get("param") == param
    assert answer.error.get("code") == code
    message: str = answer.error["message"]
    return message


# -- routes -------------------------------------------------------------------------------------


def test_an_unknown_url_is_stripes_404(server: Server) -> None:
    answer = send(server, "GET", "/v1/nope")
    assert answer.status == 404
    assert answer.json == {
        "error": {
            "type": "invalid_request_error",
            "message": UNRECOGNIZED.format("GET: /v1/nope"),
            "request_log_url": (
                f"https://dashboard.stripe.com/test/logs/{answer.headers['request-id']}"
            ),
        }
    }
    assert send(server, "POST", "/nope", "a=1").error["message"] == UNRECOGNIZED.format(
        "POST: /nope"
    )


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("DELETE", "/v1/balance"),
        ("PUT", "/v1/customers"),
        ("PATCH", "/v1/customers/cus_x"),
        ("POST", "/v1/events/evt_x"),
        ("GET", "/v1/payment_methods/pm_x/attach"),
        ("OPTIONS", "/v1/customers"),
    ],
)
def test_a_wrong_verb_is_an_unknown_url(server: Server, method: str, path: str) -> None:
    answer = send(server, method, path)
    assert answer.status == 404
    assert answer.error["message"] == UNRECOGNIZED.format(f"{method}: {path}")


def test_a_trailing_slash_is_not_redirected(server: Server) -> None:
    answer = send(server, "GET", "/v1/customers/")
    assert answer.status == 404
    assert answer.error["message"].startswith("Unrecognized request URL (GET: /v1/customers/). ")
    assert "remove the trailing slash" in answer.error["message"]


def test_a_literal_segment_wins_over_a_parameter(server: Server) -> None:
    # /v1/test_helpers/test_clocks is a route of its own, not /v1/test_helpers/{x}/{y}.
    answer = send(server, "GET", "/v1/test_helpers/test_clocks?limit=1")
    assert answer.status == 200 and answer.json["object"] == "list"


# -- authentication and headers -----------------------------------------------------------------


def test_no_key_is_stripes_401_even_for_an_unknown_url(server: Server) -> None:
    for path in ("/v1/customers", "/v1/nope"):
        answer = send(server, "GET", path, headers={"Authorization": ""})
        assert answer.status == 401
        assert answer.json == {"error": {"type": "invalid_request_error", "message": NO_KEY}}


def test_an_unknown_key_is_masked_in_the_401(server: Server) -> None:
    answer = send(server, "GET", "/v1/customers", key="sk_test_notakeyatall9876")
    assert answer.status == 401
    assert answer.error["message"] == "Invalid API Key provided: sk_test_************9876"


def test_basic_auth_with_the_key_as_user_name(server: Server) -> None:
    token = base64.b64encode(f"{server.key}:".encode()).decode()
    answer = send(server, "GET", "/v1/balance", headers={"Authorization": f"Basic {token}"})
    assert answer.status == 200 and answer.json["object"] == "balance"


def test_stripe_version(server: Server) -> None:
    ok = send(server, "GET", "/v1/balance", headers={"Stripe-Version": API_VERSION})
    assert ok.status == 200
    assert ok.headers["stripe-version"] == API_VERSION
    other = send(server, "GET", "/v1/balance", headers={"Stripe-Version": "2020-08-27"})
    assert "2024-11-20.acacia" in _invalid(other, None)


def test_every_answer_has_a_request_id_matching_its_log_url(server: Server) -> None:
    ok = send(server, "GET", "/v1/balance")
    assert ok.headers["request-id"].startswith("req_")
    failed = send(server, "GET", "/v1/customers/cus_missing")
    assert failed.status == 404
    assert failed.error["request_log_url"].endswith(failed.headers["request-id"])
    assert ok.headers["request-id"] != failed.headers["request-id"]


# -- form encoding ------------------------------------------------------------------------------


def test_bracket_notation_in_a_body(server: Server) -> None:
    body = (
        "email=b%40example.com&metadata[order]=6735&metadata[note]=a+b"
        "&preferred_locales[]=en&preferred_locales[]=fr"
        "&address[line1]=1+Main&address[country]=US"
        "&invoice_settings[custom_fields][0][name]=VAT&invoice_settings[custom_fields][0][value]=1"
    )
    answer = send(server, "POST", "/v1/customers", body)
    assert answer.status == 200, answer.json
    customer = answer.json
    assert customer["metadata"] == {"order": "6735", "note": "a b"}
    assert customer["preferred_locales"] == ["en", "fr"]
    assert customer["address"]["line1"] == "1 Main"
    assert customer["invoice_settings"]["custom_fields"] == [{"name": "VAT", "value": "1"}]
    unset = send(server, "POST", f"/v1/customers/{customer['id']}", "metadata[order]=&address=")
    assert unset.json["metadata"] == {"note": "a b"}
    assert unset.json["address"] is None


def test_query_strings_on_get_and_expand_both_ways(server: Server) -> None:
    clock = send(server, "POST", "/v1/test_helpers/test_clocks", "frozen_time=1732000000").json
    customer = _customer(server, f"test_clock={clock['id']}")
    for expand in ("expand[]=test_clock", "expand[0]=test_clock"):
        answer = send(server, "GET", f"/v1/customers/{customer}?{expand}")
        assert answer.json["test_clock"]["id"] == clock["id"]
    listed = send(server, "GET", f"/v1/customers?limit=1&created[gte]=0&test_clock={clock['id']}")
    assert [c["id"] for c in listed.json["data"]] == [customer]
    assert listed.json["url"] == "/v1/customers"


def test_a_query_string_on_a_post_joins_the_body(server: Server) -> None:
    answer = send(server, "POST", "/v1/customers?email=q%40example.com", "name=Q")
    assert (answer.json["email"], answer.json["name"]) == ("q@example.com", "Q")


def test_booleans_in_either_spelling(server: Server) -> None:
    for spelled in ("false", "False"):
        answer = send(server, "GET", f"/v1/events?delivery_success={spelled}")
        assert answer.status == 200 and answer.json["data"] == []
    _invalid(send(server, "GET", "/v1/events?delivery_success=nope"), "delivery_success")


def test_a_charset_on_the_content_type_is_fine(server: Server) -> None:
    answer = send(
        server,
        "POST",
        "/v1/customers",
        "name=%C3%89lodie",
        {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"},
    )
    assert answer.json["name"] == "\u00c9lodie"


# -- bad input ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ("amount=ten&currency=usd", "amount"),
        ("amount=10.5&currency=usd", "amount"),
        ("amount=1e3&currency=usd", "amount"),
        ("amount=+100&currency=usd", "amount"),
        ("amount=99999999999999999999&currency=usd", "amount"),
        ("amount[]=100&currency=usd", "amount"),
        ("amount[x]=100&currency=usd", "amount"),
    ],
)
def test_non_numeric_amounts(server: Server, body: str, param: str) -> None:
    answer = send(server, "POST", "/v1/payment_intents", body)
    assert answer.error["message"].startswith("Invalid integer")
    _invalid(answer, param, "parameter_invalid_integer")


def test_an_empty_required_amount(server: Server) -> None:
    answer = send(server, "POST", "/v1/payment_intents", "amount=&currency=usd")
    _invalid(answer, "amount", "parameter_invalid_empty")


@pytest.mark.parametrize(
    ("body", "param", "message"),
    [
        ("email[]=a%40example.com", "email", "Invalid string"),
        ("email[x]=a%40example.com", "email", "Invalid string"),
        ("name[0]=Jo&name[1]=Ann", "name", "Invalid string"),
        ("metadata=flat", "metadata", "Invalid object"),
        ("address=1+Main", "address", "Invalid object"),
        ("preferred_locales=en", "preferred_locales", "Invalid array"),
        ("tax_exempt[]=none", "tax_exempt", "Invalid string"),
    ],
)
def test_the_wrong_shape_for_a_param(server: Server, body: str, param: str, message: str) -> None:
    assert _invalid(send(server, "POST", "/v1/customers", body), param).startswith(message)


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ("a=1&a[b]=2", "a"),
        ("metadata[k]=1&metadata[k][x]=2", "metadata[k]"),
        ("preferred_locales[]=en&preferred_locales[x]=fr", "preferred_locales"),
        ("name=%FF", None),
        ("name=a%00b", "name"),
    ],
)
def test_malformed_bodies(server: Server, body: str, param: str | None) -> None:
    _invalid(send(server, "POST", "/v1/customers", body), param)


@pytest.mark.parametrize("name", ["email[", "]x", "metadata[a[b]]", "=", "a[][]"])
def test_a_malformed_name_is_an_unknown_parameter(server: Server, name: str) -> None:
    encoded = name if name == "=" else urlencode({name: "1"}).replace("%5B", "[")
    answer = send(server, "POST", "/v1/customers", encoded.replace("%5D", "]"))
    assert answer.error["code"] == "parameter_unknown"


@pytest.mark.parametrize(
    "content_type",
    ["application/json", "multipart/form-data; boundary=x", "text/plain"],
)
def test_bodies_that_are_not_form_encoded(server: Server, content_type: str) -> None:
    answer = send(
        server,
        "POST",
        "/v1/customers",
        '{"email": "j@example.com"}',
        {"Content-Type": content_type},
    )
    assert "unsupported Content-Type" in _invalid(answer, None)


def test_an_oversized_body(server: Server) -> None:
    body = "description=" + "x" * BODY_BYTES_MAX
    answer = send(server, "POST", "/v1/customers", body)
    assert f"larger than {BODY_BYTES_MAX} bytes" in _invalid(answer, None)
    at_limit = "metadata[k]=v&description=" + "x" * (BODY_BYTES_MAX - 26)
    assert len(at_limit) == BODY_BYTES_MAX
    under = send(server, "POST", "/v1/customers", at_limit)
    assert under.status == 400 and "larger than" not in under.error["message"]


def test_a_huge_declared_body_is_refused_unread(server: Server) -> None:
    answer = send(
        server, "POST", "/v1/customers", b"", {"Content-Length": str(64 * BODY_BYTES_MAX)}
    )
    assert "larger than" in _invalid(answer, None)


@pytest.mark.parametrize("name", ["customer", "idempotency_key", "stripe_account", "_form_encoded"])
def test_names_that_are_not_params_of_the_operation(server: Server, name: str) -> None:
    customer = _customer(server)
    answer = send(server, "POST", f"/v1/customers/{customer}", f"{name}=x")
    assert answer.error["message"] == f"Received unknown parameter: {name}"
    _invalid(answer, name, "parameter_unknown")


def test_params_a_delete_does_not_take(server: Server) -> None:
    customer = _customer(server)
    _invalid(send(server, "DELETE", f"/v1/customers/{customer}?x=1"), "x", "parameter_unknown")
    assert send(server, "DELETE", f"/v1/customers/{customer}").json["deleted"] is True


# -- idempotency and accounts -------------------------------------------------------------------


def test_idempotency_headers(server: Server) -> None:
    key = {"Idempotency-Key": "raw-" + secrets.token_hex(8)}
    first = send(server, "POST", "/v1/customers", "email=i%40example.com", key)
    again = send(server, "POST", "/v1/customers", "email=i%40example.com", key)
    assert again.json == first.json
    assert "idempotent-replayed" not in first.headers
    assert again.headers["idempotent-replayed"] == "true"
    assert again.headers["idempotency-key"] == key["Idempotency-Key"]
    other = send(server, "POST", "/v1/customers", "email=j%40example.com", key)
    assert other.status == 400
    assert other.error["type"] == "idempotency_error"
    assert other.error["code"] == "idempotency_key_in_use"
    # Keys have no effect on GET.
    read = send(server, "GET", f"/v1/customers/{first.json['id']}", headers=key)
    assert read.status == 200 and "idempotent-replayed" not in read.headers


def test_a_declined_payment_replays_its_402(server: Server) -> None:
    key = {"Idempotency-Key": "decline-" + secrets.token_hex(8)}
    body = (
        "amount=500&currency=usd&payment_method_types[]=card&confirm=true"
        "&payment_method=pm_card_chargeDeclined"
    )
    first = send(server, "POST", "/v1/payment_intents", body, key)
    again = send(server, "POST", "/v1/payment_intents", body, key)
    assert first.status == again.status == 402
    assert first.error["code"] == "card_declined"
    assert again.error["payment_intent"]["id"] == first.error["payment_intent"]["id"]


def test_stripe_account_header(server: Server) -> None:
    account = {"Stripe-Account": connected_account(server.led)}
    created = send(server, "POST", "/v1/customers", "email=s%40example.com", account)
    listed = send(server, "GET", "/v1/customers", headers=account)
    assert [c["id"] for c in listed.json["data"]] == [created.json["id"]]
    assert send(server, "GET", f"/v1/customers/{created.json['id']}").status == 404
    forbidden = send(server, "GET", "/v1/customers", headers={"Stripe-Account": "nope"})
    assert forbidden.status == 403
    assert forbidden.error["code"] == "account_invalid"


def test_the_authentication_helper_checks_its_boolean(server: Server) -> None:
    body = (
        "amount=700&currency=usd&payment_method_types[]=card&confirm=true"
        "&payment_method=pm_card_threeDSecure2Required"
    )
    intent = send(server, "POST", "/v1/payment_intents", body).json
    assert intent["status"] == "requires_action"
    path = f"/v1/test_helpers/payment_intents/{intent['id']}/authenticate"
    _invalid(send(server, "POST", path, "succeed=maybe"), "succeed")
    _invalid(send(server, "POST", path, "colour=red"), "colour", "parameter_unknown")
    passed = send(server, "POST", path, "succeed=true&expand[]=latest_charge")
    assert passed.json["status"] == "succeeded"
    assert passed.json["latest_charge"]["object"] == "charge"
    assert send(server, "GET", path).status == 404


# -- our own failures ---------------------------------------------------------------------------


def test_an_unexpected_exception_is_a_500_api_error(
    server: Server, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(*args: object) -> dict[str, object]:
        raise RuntimeError("secret internals")

    monkeypatch.setattr("ledger.services.balance.balance_json", broken)
    with caplog.at_level(logging.ERROR, logger="ledger.server"):
        answer = send(server, "GET", "/v1/balance")
    assert answer.status == 500
    assert answer.error["type"] == "api_error"
    assert "secret internals" not in str(answer.json)
    assert "Traceback" not in str(answer.json)
    request_id = answer.headers["request-id"]
    logged = [r for r in caplog.records if r.name == "ledger.server"]
    assert any(request_id in r.getMessage() and r.exc_info for r in logged)


def test_a_replayed_decline_is_marked_replayed(server: Server) -> None:
    key = {"Idempotency-Key": secrets.token_hex(8)}
    body = urlencode(
        {
            "amount": 2000,
            "currency": "usd",
            "confirm": "true",
            "payment_method": "pm_card_chargeDeclined",
            "payment_method_types[]": "card",
        }
    )
    first = send(server, "POST", "/v1/payment_intents", body, key)
    again = send(server, "POST", "/v1/payment_intents", body, key)
    assert first.status == again.status == 402
    assert "idempotent-replayed" not in first.headers
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json == first.json
