"""Fuzzed form bodies and query strings: the answer is a success or a Stripe error, never a 500.

Bodies are built from the routes' real parameter names with bracket suffixes, mixed with random
names, awkward values (empty, huge, negative, non-ASCII, percent signs, NUL) and raw bytes.
`send` checks every error body against Stripe's `error` schema.
"""

from __future__ import annotations

from urllib.parse import quote, quote_from_bytes

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from tests.http.conftest import Server, send

_ROUTES = (
    ("POST", "/v1/customers"),
    ("POST", "/v1/customers/{customer}"),
    ("GET", "/v1/customers"),
    ("POST", "/v1/payment_intents"),
    ("POST", "/v1/payment_methods"),
    ("POST", "/v1/charges"),
    ("POST", "/v1/test_helpers/test_clocks"),
    ("GET", "/v1/events"),
    ("GET", "/v1/balance_transactions"),
    ("POST", "/v1/accounts"),
    ("GET", "/v1/accounts"),
    ("POST", "/v1/transfers"),
    ("GET", "/v1/transfers"),
    ("POST", "/v1/payouts"),
    ("GET", "/v1/payouts"),
    ("POST", "/v1/topups"),
    ("GET", "/v1/application_fees"),
)
_NAMES = (
    "email", "name", "description", "balance", "metadata", "address", "preferred_locales",
    "expand", "limit", "starting_after", "created", "amount", "currency", "confirm",
    "payment_method", "payment_method_types", "capture_method", "customer", "type", "card",
    "frozen_time", "source", "invoice_settings", "tax_exempt", "test_clock", "types",
    "delivery_success", "shipping", "billing_details", "automatic_payment_methods",
    "destination", "transfer_data", "application_fee_amount", "source_transaction",
    "transfer_group", "method", "statement_descriptor", "country", "capabilities",
    "business_type", "individual", "settings", "external_account", "arrival_date", "status",
    "on_behalf_of", "controller", "business_profile", "tos_acceptance", "source_type",
)  # fmt: skip
_SUFFIXES = ("", "[]", "[0]", "[1]", "[k]", "[line1]", "[gte]", "[number]", "[0][name]", "[][]")
_VALUES = st.one_of(
    st.sampled_from(
        [
            "", "0", "1", "-1", "100", "2000", "99999999999999999999", "1.5", "1e3", "true",
            "True", "false", "usd", "none", "card", "pm_card_visa", "tok_visa", "cus_nope",
            "a@example.com", "customer", "data.customer", "x" * 600, "%", "\u00e9\u20ac",
            "acct_nope", "custom", "express", "standard", "US", "instant", "btok_us_verified",
            "ch_nope", "daily", "manual",
        ]
    ),
    st.text(max_size=12),
)  # fmt: skip
_NAME = st.one_of(
    st.builds(lambda n, s: n + s, st.sampled_from(_NAMES), st.sampled_from(_SUFFIXES)),
    st.text(max_size=10),
)


@st.composite
def _encoded(draw: st.DrawFn) -> bytes:
    if draw(st.integers(0, 9)) == 0:
        return draw(st.binary(max_size=80))
    pairs = draw(st.lists(st.tuples(_NAME, _VALUES), max_size=8))
    fields = [quote(name, safe="[]") + "=" + quote(value, safe="") for name, value in pairs]
    return "&".join(fields).encode()


@settings(
    max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(route=st.sampled_from(_ROUTES), encoded=_encoded())
def test_fuzzed_requests_never_crash_the_server(
    server: Server, route: tuple[str, str], encoded: bytes
) -> None:
    method, template = route
    path = template.format(customer=_customer(server))
    if method == "GET":
        answer = send(server, method, f"{path}?{quote_from_bytes(encoded, safe='&=[]%')}")
    else:
        answer = send(server, method, path, encoded)
    event(f"HTTP {answer.status}")
    assert answer.status in (200, 400, 402, 404), answer.json
    if answer.status == 200:
        assert "object" in answer.json
    else:
        assert answer.error["type"] in ("invalid_request_error", "card_error")


_CUSTOMER: list[str] = []


def _customer(server: Server) -> str:
    """One customer for the item routes, made on first use."""
    if not _CUSTOMER:
        answer = send(server, "POST", "/v1/customers", "email=fuzz%40example.com")
        _CUSTOMER.append(answer.json["id"])
    return _CUSTOMER[0]
