"""PaymentMethods (cards): create, retrieve, update, list, attach, detach, and Stripe's rules."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import orjson
import psycopg
import pytest

from ledger import FrozenClock, Ledger
from ledger.domain import payment_method as domain
from ledger.domain.aggregate import State
from ledger.domain.cards import PAYMENT_METHOD_IDS, TOKENS
from ledger.errors import CardError, IdempotencyError, InvalidRequestError, LedgerError
from tests.conftest import SHARED_STRIPE
from tests.support.accounts import connected_account
from tests.support.stripe_schema import assert_valid

FIXTURE = json.loads((SHARED_STRIPE / "fixtures3.json").read_text())["resources"]["payment_method"]
VISA = {"number": "4242424242424242", "exp_month": 12, "exp_year": 2030, "cvc": "123"}
ADDRESS = {
    "city": "San Francisco",
    "country": "US",
    "line1": "1234 Fake Street",
    "line2": None,
    "postal_code": "94102",
    "state": "CA",
}
NO_ADDRESS = dict.fromkeys(ADDRESS)
NO_BILLING = {"address": NO_ADDRESS, "email": None, "name": None, "phone": None}


def counts(url: str) -> tuple[int, ...]:
    """Rows of the log, the projections and the idempotency keys."""
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "SELECT (SELECT count(*) FROM events), (SELECT count(*) FROM objects), "
            "(SELECT count(*) FROM stripe_events), (SELECT count(*) FROM idempotency_keys)"
        ).fetchone()
    assert row is not None
    return tuple(int(n) for n in row)


def fails(
    url: str,
    call: Callable[[], Any],
    error: type[LedgerError],
    code: str | None,
    param: str | None,
    status: int,
    message: str | None = None,
) -> LedgerError:
    """`call` raises Stripe's error (type, code, param, status) and writes nothing."""
    before = counts(url)
    with pytest.raises(LedgerError) as caught:
        call()
    got = caught.value
    assert type(got) is error, repr(got)
    assert (got.code, got.param, got.http_status) == (code, param, status), repr(got)
    if message is not None:
        assert got.message == message
    assert got.request_id is not None and got.request_id.startswith("req_")
    assert counts(url) == before, "a rejected request appends nothing"
    return got


def valid(obj: Any) -> dict[str, Any]:
    assert_valid(obj)
    data: dict[str, Any] = obj.to_dict()
    return data


def unix(clock: FrozenClock) -> int:
    return int(clock.now().timestamp())


def state_of(url: str, object_id: str) -> State:
    """The projected state of an object, with its internal fields."""
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "SELECT data::text, internal::text, deleted FROM objects WHERE id = %s", (object_id,)
        ).fetchone()
    assert row is not None
    return State(orjson.loads(row[0]), orjson.loads(row[1]), row[2])


def pm_event_types(led: Ledger, **params: Any) -> list[str]:
    """The account's payment_method events, oldest first."""
    events = led.events.list(type="payment_method.*", limit=100, **params).data
    return [e.type for e in reversed(events)]


def event_types(led: Ledger, **params: Any) -> list[str]:
    return [e.type for e in reversed(led.events.list(limit=100, **params).data)]


# -- create --------------------------------------------------------------------------------------


def test_create_from_a_number_has_stripes_shape(
    led: Ledger, clock: FrozenClock, database_url: str
) -> None:
    pm = led.payment_methods.create(
        type="card",
        card=VISA,
        billing_details={"address": ADDRESS, "email": "jenny@example.com", "phone": "+155555"},
        metadata={"order_id": "123456789"},
    )
    data = valid(pm)
    assert re.fullmatch(r"pm_[A-Za-z0-9]{24}", data["id"])
    assert set(data) == set(FIXTURE) | {"allow_redisplay"}, "the fixture's fields (2024: +1)"
    card = PAYMENT_METHOD_IDS["pm_card_visa"]
    assert data == {
        "id": pm.id,
        "object": "payment_method",
        "allow_redisplay": "unspecified",
        "billing_details": {
            "address": ADDRESS,
            "email": "jenny@example.com",
            "name": None,
            "phone": "+155555",
        },
        "card": {
            "brand": "visa",
            "checks": {
                "address_line1_check": "unchecked",
                "address_postal_code_check": "unchecked",
                "cvc_check": "unchecked",
            },
            "country": "US",
            "display_brand": "visa",
            "exp_month": 12,
            "exp_year": 2030,
            "fingerprint": card.fingerprint,
            "funding": "credit",
            "generated_from": None,
            "last4": "4242",
            "networks": {"available": ["visa"], "preferred": None},
            "three_d_secure_usage": {"supported": True},
            "wallet": None,
        },
        "created": unix(clock),
        "customer": None,
        "livemode": False,
        "metadata": {"order_id": "123456789"},
        "type": "card",
    }
    assert pm.last_response.request_id.startswith("req_")
    assert valid(led.payment_methods.retrieve(pm.id)) == data
    # The number is kept beside the JSON, never in it.
    assert "4242424242424242" not in orjson.dumps(data).decode()
    state = state_of(database_url, pm.id)
    assert state.internal == {"card_number": "4242424242424242"}
    assert domain.card_for(state).number == "4242424242424242"
    assert (domain.card_for(state).exp_month, domain.card_for(state).exp_year) == (12, 2030)


def test_create_without_cvc_or_address_shows_null_checks(led: Ledger) -> None:
    pm = led.payment_methods.create(
        type="card", card={"number": "5555 5555 5555 4444", "exp_month": 1, "exp_year": 2031}
    )
    data = valid(pm)
    assert data["card"]["checks"] == {
        "address_line1_check": None,
        "address_postal_code_check": None,
        "cvc_check": None,
    }
    assert data["billing_details"] == NO_BILLING
    assert (data["card"]["brand"], data["card"]["last4"]) == ("mastercard", "4444")
    assert data["card"]["display_brand"] == "mastercard"


@pytest.mark.parametrize(
    ("number", "brand", "display_brand", "funding", "country"),
    [
        ("4242-4242-4242-4242", "visa", "visa", "credit", "US"),
        ("378282246310005", "amex", "american_express", "credit", "US"),
        ("6011111111111117", "discover", "discover", "credit", "US"),
        ("5200828282828210", "mastercard", "mastercard", "debit", "US"),
        ("3566002020360505", "jcb", "jcb", "credit", "JP"),
        ("6200000000000005", "unionpay", "union_pay", "credit", "CN"),
        ("4000002500003155", "visa", "visa", "credit", "FR"),
        ("4111111111111111", "visa", "visa", "credit", "US"),  # not a documented number
    ],
)
def test_raw_numbers_show_their_card(
    led: Ledger, number: str, brand: str, display_brand: str, funding: str, country: str
) -> None:
    card = valid(
        led.payment_methods.create(
            type="card", card={"number": number, "exp_month": 6, "exp_year": 2029, "cvc": "1234"}
        )
    )["card"]
    digits = number.replace("-", "")
    assert (card["brand"], card["display_brand"], card["funding"], card["country"]) == (
        brand,
        display_brand,
        funding,
        country,
    )
    assert card["last4"] == digits[-4:]
    assert (card["exp_month"], card["exp_year"]) == (6, 2029)


@pytest.mark.parametrize("token", ["tok_visa", "tok_mastercard", "tok_amex", "tok_createDispute"])
def test_create_from_a_test_token(led: Ledger, database_url: str, token: str) -> None:
    pm = led.payment_methods.create(type="card", card={"token": token})
    data = valid(pm)
    card = TOKENS[token]
    assert data["card"]["last4"] == card.last4
    assert data["card"]["brand"] == card.brand
    assert (data["card"]["exp_month"], data["card"]["exp_year"]) == (12, 2034)
    assert data["card"]["checks"]["cvc_check"] == "unchecked"
    assert state_of(database_url, pm.id).internal == {"card_number": card.number}


def test_allow_redisplay_is_set_on_create_and_update(led: Ledger) -> None:
    pm = led.payment_methods.create(type="card", card=VISA, allow_redisplay="always")
    assert valid(pm)["allow_redisplay"] == "always"
    cus = led.customers.create()
    led.payment_methods.attach(pm.id, customer=cus.id)
    assert led.payment_methods.update(pm.id, allow_redisplay="limited").allow_redisplay == "limited"


def test_create_emits_no_stripe_event(led: Ledger) -> None:
    led.payment_methods.create(type="card", card=VISA)
    led.payment_methods.create(type="card", card={"token": "tok_visa"})
    assert event_types(led) == []


# -- test PaymentMethod ids ----------------------------------------------------------------------

FAMILIES = [
    "pm_card_visa",
    "pm_card_mastercard",
    "pm_card_amex",
    "pm_card_visa_debit",
    "pm_card_createDispute",
    "pm_card_createDisputeProductNotReceived",
    "pm_card_bypassPending",
    "pm_card_authenticationRequired",
    "pm_card_threeDSecureOptional",
    "pm_card_chargeCustomerFail",
    "pm_card_riskLevelElevated",
    "pm_card_radarBlock",
    "pm_card_cvcCheckFail",
    "pm_card_refundFail",
    "pm_card_gb",
]


@pytest.mark.parametrize("test_id", FAMILIES)
def test_attaching_a_test_id_makes_a_fresh_payment_method(
    led: Ledger, database_url: str, test_id: str
) -> None:
    cus = led.customers.create()
    first = led.payment_methods.attach(test_id, customer=cus.id)
    second = led.payment_methods.attach(test_id, customer=cus.id)
    data = valid(first)
    card = PAYMENT_METHOD_IDS[test_id]
    assert re.fullmatch(r"pm_[A-Za-z0-9]{24}", first.id) and first.id != second.id
    assert data["customer"] == cus.id
    assert data["card"]["last4"] == card.last4
    assert data["card"]["brand"] == card.brand
    assert data["card"]["country"] == card.country
    assert data["card"]["funding"] == card.funding
    assert data["card"]["three_d_secure_usage"] == {"supported": card.three_d_secure_supported}
    # Attaching verified the card: the CVC check shows the card's result.
    assert data["card"]["checks"] == {
        "address_line1_check": None,
        "address_postal_code_check": None,
        "cvc_check": card.outcome.cvc_check,
    }
    assert valid(led.payment_methods.retrieve(first.id)) == data
    # The payment path finds the card's behaviour again.
    assert domain.card_for(state_of(database_url, first.id)).outcome == card.outcome
    assert pm_event_types(led) == ["payment_method.attached"] * 2


def test_test_id_behaviours_reach_the_payment_path(led: Ledger, database_url: str) -> None:
    cus = led.customers.create()

    def outcome(test_id: str) -> Any:
        pm = led.payment_methods.attach(test_id, customer=cus.id)
        return domain.card_for(state_of(database_url, pm.id)).outcome

    assert outcome("pm_card_createDispute").dispute == "fraudulent"
    assert outcome("pm_card_bypassPending").bypass_pending
    assert outcome("pm_card_authenticationRequired").authentication == "required"
    assert outcome("pm_card_chargeCustomerFail").decline_code == "generic_decline"
    assert outcome("pm_card_visa").kind == "succeeded"


DECLINES = [
    "pm_card_chargeDeclined",
    "pm_card_visa_chargeDeclined",
    "pm_card_chargeDeclinedInsufficientFunds",
    "pm_card_visa_chargeDeclinedInsufficientFunds",
    "pm_card_chargeDeclinedLostCard",
    "pm_card_chargeDeclinedStolenCard",
    "pm_card_chargeDeclinedExpiredCard",
    "pm_card_chargeDeclinedIncorrectCvc",
    "pm_card_chargeDeclinedProcessingError",
    "pm_card_visa_chargeDeclinedVelocityLimitExceeded",
]


@pytest.mark.parametrize("test_id", DECLINES)
def test_decline_cards_cannot_be_attached(led: Ledger, database_url: str, test_id: str) -> None:
    cus = led.customers.create()
    outcome = PAYMENT_METHOD_IDS[test_id].outcome
    error = fails(
        database_url,
        lambda: led.payment_methods.attach(test_id, customer=cus.id),
        CardError,
        outcome.error_code,
        outcome.error_param,
        402,
        outcome.message,
    )
    assert error.decline_code == outcome.decline_code
    assert error.to_dict()["error"]["type"] == "card_error"
    assert led.payment_methods.list(customer=cus.id).data == []


def test_a_decline_number_is_created_but_not_attached(led: Ledger, database_url: str) -> None:
    pm = led.payment_methods.create(
        type="card", card={"number": "4000000000009995", "exp_month": 3, "exp_year": 2030}
    )
    cus = led.customers.create()
    error = fails(
        database_url,
        lambda: led.payment_methods.attach(pm.id, customer=cus.id),
        CardError,
        "card_declined",
        None,
        402,
        "Your card has insufficient funds.",
    )
    assert error.decline_code == "insufficient_funds"
    assert led.payment_methods.retrieve(pm.id).customer is None


def test_attach_verifies_the_provided_fields(led: Ledger) -> None:
    cus = led.customers.create()
    pm = led.payment_methods.create(
        type="card",
        card={"number": "4000000000000010", "exp_month": 3, "exp_year": 2030, "cvc": "999"},
        billing_details={"address": {"line1": "1 Main", "postal_code": "94102"}},
    )
    assert valid(pm)["card"]["checks"] == dict.fromkeys(
        ("address_line1_check", "address_postal_code_check", "cvc_check"), "unchecked"
    )
    attached = valid(led.payment_methods.attach(pm.id, customer=cus.id))
    assert attached["card"]["checks"] == {
        "address_line1_check": "fail",
        "address_postal_code_check": "fail",
        "cvc_check": "pass",
    }


def test_attach_with_a_test_token(led: Ledger) -> None:
    cus = led.customers.create()
    pm = valid(led.payment_methods.attach("tok_mastercard", customer=cus.id))
    assert (pm["card"]["brand"], pm["customer"]) == ("mastercard", cus.id)


# -- attach and detach ---------------------------------------------------------------------------


def test_attach_and_detach_emit_stripes_events(led: Ledger, clock: FrozenClock) -> None:
    cus = led.customers.create()
    pm = led.payment_methods.create(type="card", card=VISA)
    attached = led.payment_methods.attach(pm.id, customer=cus.id, expand=["customer"])
    assert attached.customer.id == cus.id
    assert valid(led.payment_methods.retrieve(pm.id))["customer"] == cus.id
    assert [p.id for p in led.payment_methods.list(customer=cus.id)] == [pm.id]

    response = led.payment_methods.detach(pm.id)
    detached = valid(response)
    assert detached["customer"] is None
    assert led.payment_methods.list(customer=cus.id).data == []

    events = list(reversed(led.events.list(type="payment_method.*").data))
    assert [e.type for e in events] == ["payment_method.attached", "payment_method.detached"]
    assert events[0].data.object.customer == cus.id
    assert "previous_attributes" not in events[0].data.to_dict()
    assert events[1].data.object.customer is None
    assert events[1].data.previous_attributes.to_dict() == {"customer": cus.id}
    assert events[1].created == unix(clock)
    assert events[1].request.id == response.last_response.request_id


def test_attach_to_a_missing_or_deleted_customer_is_404(led: Ledger, database_url: str) -> None:
    pm = led.payment_methods.create(type="card", card=VISA)
    gone = led.customers.create()
    led.customers.delete(gone.id)
    for customer in ("cus_missing", gone.id):
        fails(
            database_url,
            lambda customer=customer: led.payment_methods.attach(pm.id, customer=customer),
            InvalidRequestError,
            "resource_missing",
            "customer",
            404,
            f"No such customer: '{customer}'",
        )
    # A test id is not turned into a PaymentMethod when the request fails.
    fails(
        database_url,
        lambda: led.payment_methods.attach("pm_card_visa", customer="cus_missing"),
        InvalidRequestError,
        "resource_missing",
        "customer",
        404,
    )


def test_attach_a_missing_payment_method_is_404(led: Ledger, database_url: str) -> None:
    cus = led.customers.create()
    for missing in ("pm_missing", "pm_card_nope", "tok_nope"):
        fails(
            database_url,
            lambda missing=missing: led.payment_methods.attach(missing, customer=cus.id),
            InvalidRequestError,
            "resource_missing",
            "payment_method",
            404,
            f"No such PaymentMethod: '{missing}'",
        )


def test_attach_requires_customer(led: Ledger, database_url: str) -> None:
    pm = led.payment_methods.create(type="card", card=VISA)
    fails(
        database_url,
        lambda: led.payment_methods.attach(pm.id),
        InvalidRequestError,
        "parameter_missing",
        "customer",
        400,
    )


def test_attach_to_another_customer_is_refused(led: Ledger, database_url: str) -> None:
    first, second = led.customers.create(), led.customers.create()
    pm = led.payment_methods.attach("pm_card_visa", customer=first.id)
    fails(
        database_url,
        lambda: led.payment_methods.attach(pm.id, customer=second.id),
        InvalidRequestError,
        None,
        None,
        400,
        "The payment method you provided has already been attached to a customer.",
    )
    assert led.payment_methods.retrieve(pm.id).customer == first.id


def test_attach_again_to_the_same_customer_changes_nothing(led: Ledger, database_url: str) -> None:
    cus = led.customers.create()
    pm = led.payment_methods.attach("pm_card_visa", customer=cus.id)
    before = counts(database_url)
    again = led.payment_methods.attach(pm.id, customer=cus.id)
    assert again.to_dict() == pm.to_dict()
    assert counts(database_url) == before
    assert pm_event_types(led) == ["payment_method.attached"]


def test_a_detached_payment_method_cannot_be_attached_again(led: Ledger, database_url: str) -> None:
    cus = led.customers.create()
    pm = led.payment_methods.attach("pm_card_visa", customer=cus.id)
    led.payment_methods.detach(pm.id)
    fails(
        database_url,
        lambda: led.payment_methods.attach(pm.id, customer=cus.id),
        InvalidRequestError,
        None,
        "payment_method",
        400,
        domain.MESSAGE_NOT_REUSABLE,
    )


def test_detach_of_an_unattached_payment_method_is_refused(led: Ledger, database_url: str) -> None:
    pm = led.payment_methods.create(type="card", card=VISA)
    message = (
        "The payment method you provided is not attached to a customer so detachment is impossible."
    )
    fails(
        database_url,
        lambda: led.payment_methods.detach(pm.id),
        InvalidRequestError,
        None,
        None,
        400,
        message,
    )
    cus = led.customers.create()
    led.payment_methods.attach(pm.id, customer=cus.id)
    led.payment_methods.detach(pm.id)
    fails(
        database_url,
        lambda: led.payment_methods.detach(pm.id),
        InvalidRequestError,
        None,
        None,
        400,
        message,
    )


def test_detaching_the_default_payment_method_unsets_it(led: Ledger) -> None:
    cus = led.customers.create()
    default = led.payment_methods.attach("pm_card_visa", customer=cus.id)
    other = led.payment_methods.attach("pm_card_mastercard", customer=cus.id)
    led.customers.update(cus.id, invoice_settings={"default_payment_method": default.id})

    led.payment_methods.detach(other.id)
    assert led.customers.retrieve(cus.id).invoice_settings.default_payment_method == default.id

    led.payment_methods.detach(default.id)
    assert led.customers.retrieve(cus.id).invoice_settings.default_payment_method is None
    last = led.events.list(limit=2).data
    assert [e.type for e in last] == ["customer.updated", "payment_method.detached"]
    assert last[0].data.previous_attributes.to_dict() == {
        "invoice_settings": {"default_payment_method": default.id}
    }


# -- update --------------------------------------------------------------------------------------


def test_update_merges_billing_details_metadata_and_expiry(led: Ledger) -> None:
    cus = led.customers.create()
    pm = led.payment_methods.create(
        type="card",
        card=VISA,
        billing_details={"name": "Jenny", "address": {"city": "Paris", "line1": "1 Rue"}},
        metadata={"a": "1", "b": "2"},
    )
    led.payment_methods.attach(pm.id, customer=cus.id)
    updated = led.payment_methods.update(
        pm.id,
        billing_details={"email": "j@example.com", "address": {"city": "Lyon"}, "name": ""},
        metadata={"a": "", "c": "3"},
        card={"exp_month": 4},
    )
    data = valid(updated)
    assert data["billing_details"] == {
        "address": NO_ADDRESS | {"city": "Lyon", "line1": "1 Rue"},
        "email": "j@example.com",
        "name": None,
        "phone": None,
    }
    assert data["metadata"] == {"b": "2", "c": "3"}
    assert (data["card"]["exp_month"], data["card"]["exp_year"]) == (4, 2030)
    assert data["card"]["checks"]["cvc_check"] == "pass", "an update keeps the verified checks"
    assert valid(led.payment_methods.retrieve(pm.id)) == data

    event = led.events.list(type="payment_method.updated").data[0]
    assert event.data.object.to_dict() == data
    assert event.data.previous_attributes.to_dict() == {
        "billing_details": {
            "address": {"city": "Paris"},
            "email": None,
            "name": "Jenny",
        },
        "card": {"exp_month": 12},
        "metadata": {"a": "1", "c": None},
    }

    cleared = valid(led.payment_methods.update(pm.id, billing_details={"address": ""}, metadata=""))
    assert cleared["billing_details"]["address"] == NO_ADDRESS
    assert cleared["metadata"] == {}


def test_an_update_without_changes_emits_no_event(led: Ledger, database_url: str) -> None:
    cus = led.customers.create()
    pm = led.payment_methods.attach("pm_card_visa", customer=cus.id)
    before = counts(database_url)
    same = led.payment_methods.update(pm.id, card={"exp_month": 12, "exp_year": 2034}, metadata={})
    assert same.to_dict() == pm.to_dict()
    assert counts(database_url) == before
    assert pm_event_types(led) == ["payment_method.attached"]


def test_only_an_attached_payment_method_can_be_updated(led: Ledger, database_url: str) -> None:
    pm = led.payment_methods.create(type="card", card=VISA)
    fails(
        database_url,
        lambda: led.payment_methods.update(pm.id, metadata={"a": "1"}),
        InvalidRequestError,
        None,
        None,
        400,
        "You must save this PaymentMethod to a customer before you can update it.",
    )


@pytest.mark.parametrize(
    ("card", "code", "param"),
    [
        ({"exp_month": 13}, "invalid_expiry_month", "exp_month"),
        ({"exp_month": 0}, "invalid_expiry_month", "exp_month"),
        ({"exp_year": 2023}, "invalid_expiry_year", "exp_year"),
        ({"exp_month": 10, "exp_year": 2024}, "invalid_expiry_month", "exp_month"),
    ],
)
def test_update_refuses_an_invalid_expiry(
    led: Ledger, database_url: str, card: dict[str, int], code: str, param: str
) -> None:
    cus = led.customers.create()
    pm = led.payment_methods.attach("pm_card_visa", customer=cus.id)
    fails(
        database_url,
        lambda: led.payment_methods.update(pm.id, card=card),
        CardError,
        code,
        param,
        402,
    )


# -- list ----------------------------------------------------------------------------------------


def test_list_filters_customer_and_type(led: Ledger) -> None:
    alice, bob = led.customers.create(), led.customers.create()
    a1 = led.payment_methods.attach("pm_card_visa", customer=alice.id)
    loose = led.payment_methods.create(type="card", card=VISA)
    b1 = led.payment_methods.attach("pm_card_amex", customer=bob.id)
    a2 = led.payment_methods.attach("pm_card_mastercard", customer=alice.id)

    assert [p.id for p in led.payment_methods.list(customer=alice.id)] == [a2.id, a1.id]
    assert [p.id for p in led.payment_methods.list(customer=bob.id, type="card")] == [b1.id]
    assert led.payment_methods.list(customer=bob.id, type="sepa_debit").data == []
    everything = led.payment_methods.list()
    assert [p.id for p in everything] == [a2.id, b1.id, loose.id, a1.id]
    assert everything.url == "/v1/payment_methods"
    assert not everything.has_more


def test_list_pages_newest_first(led: Ledger, clock: FrozenClock) -> None:
    ids = [led.payment_methods.create(type="card", card=VISA).id for _ in range(5)]
    newest_first = ids[::-1]
    page = led.payment_methods.list(limit=2)
    assert [p.id for p in page] == newest_first[:2] and page.has_more
    page = led.payment_methods.list(limit=2, starting_after=newest_first[1])
    assert [p.id for p in page] == newest_first[2:4] and page.has_more
    page = led.payment_methods.list(limit=2, starting_after=newest_first[3])
    assert [p.id for p in page] == newest_first[4:] and not page.has_more
    page = led.payment_methods.list(limit=2, ending_before=newest_first[4])
    assert [p.id for p in page] == newest_first[2:4]
    assert [p.id for p in led.payment_methods.list(limit=2).auto_paging_iter()] == newest_first


def test_list_expands_customers(led: Ledger) -> None:
    cus = led.customers.create(email="a@example.com")
    led.payment_methods.attach("pm_card_visa", customer=cus.id)
    page = led.payment_methods.list(customer=cus.id, expand=["data.customer"])
    assert page.data[0].customer.email == "a@example.com"


def test_list_of_a_missing_customer_or_cursor_is_404(led: Ledger, database_url: str) -> None:
    fails(
        database_url,
        lambda: led.payment_methods.list(customer="cus_missing"),
        InvalidRequestError,
        "resource_missing",
        "customer",
        404,
    )
    fails(
        database_url,
        lambda: led.payment_methods.list(starting_after="pm_missing"),
        InvalidRequestError,
        "resource_missing",
        "starting_after",
        404,
        "No such PaymentMethod: 'pm_missing'",
    )


# -- accounts and idempotency --------------------------------------------------------------------


def test_payment_methods_of_a_connected_account_are_invisible_elsewhere(
    led: Ledger, database_url: str
) -> None:
    connected = connected_account(led)
    mine = led.payment_methods.create(type="card", card=VISA)
    theirs = led.payment_methods.create(type="card", card=VISA, stripe_account=connected)
    their_customer = led.customers.create(stripe_account=connected)
    my_customer = led.customers.create()
    assert [p.id for p in led.payment_methods.list()] == [mine.id]
    assert [p.id for p in led.payment_methods.list(stripe_account=connected)] == [theirs.id]
    assert led.payment_methods.retrieve(theirs.id, stripe_account=connected).id == theirs.id

    for call in (
        lambda: led.payment_methods.retrieve(theirs.id),
        lambda: led.payment_methods.update(theirs.id, metadata={"a": "b"}),
        lambda: led.payment_methods.detach(theirs.id),
        lambda: led.payment_methods.attach(theirs.id, customer=my_customer.id),
        lambda: led.payment_methods.retrieve(mine.id, stripe_account=connected),
    ):
        fails(database_url, call, InvalidRequestError, "resource_missing", "payment_method", 404)
    fails(
        database_url,
        lambda: led.payment_methods.attach(mine.id, customer=their_customer.id),
        InvalidRequestError,
        "resource_missing",
        "customer",
        404,
    )
    attached = led.payment_methods.attach(
        theirs.id, customer=their_customer.id, stripe_account=connected
    )
    assert attached.customer == their_customer.id
    assert pm_event_types(led) == []
    event = led.events.list(type="payment_method.attached", stripe_account=connected).data[0]
    assert event.account == connected


def test_idempotent_create_and_attach_replay(led: Ledger, database_url: str) -> None:
    first = led.payment_methods.create(type="card", card=VISA, idempotency_key="pm-1")
    before = counts(database_url)
    again = led.payment_methods.create(type="card", card=VISA, idempotency_key="pm-1")
    assert again.to_dict() == first.to_dict()
    assert again.last_response.idempotent_replayed
    assert counts(database_url) == before
    with pytest.raises(IdempotencyError):
        led.payment_methods.create(type="card", card=VISA | {"cvc": "999"}, idempotency_key="pm-1")

    cus = led.customers.create()
    attached = led.payment_methods.attach("pm_card_visa", customer=cus.id, idempotency_key="at")
    before = counts(database_url)
    replay = led.payment_methods.attach("pm_card_visa", customer=cus.id, idempotency_key="at")
    assert replay.id == attached.id and replay.last_response.idempotent_replayed
    assert counts(database_url) == before
    assert len(led.payment_methods.list(customer=cus.id).data) == 1


def test_a_failed_attach_replays_its_error(led: Ledger, database_url: str) -> None:
    cus = led.customers.create()
    for _ in range(2):
        with pytest.raises(CardError) as caught:
            led.payment_methods.attach(
                "pm_card_chargeDeclined", customer=cus.id, idempotency_key="declined"
            )
        assert caught.value.code == "card_declined"
    assert led.payment_methods.list().data == []


def test_rebuild_reproduces_payment_methods(led: Ledger) -> None:
    cus = led.customers.create()
    pm = led.payment_methods.create(type="card", card=VISA, metadata={"a": "1"})
    led.payment_methods.attach(pm.id, customer=cus.id)
    led.payment_methods.update(pm.id, card={"exp_year": 2031})
    led.customers.update(cus.id, invoice_settings={"default_payment_method": pm.id})
    led.payment_methods.detach(pm.id)
    before = led.payment_methods.retrieve(pm.id).to_dict()
    events = [e.to_dict() for e in led.events.list(limit=100)]
    led.rebuild()
    assert led.payment_methods.retrieve(pm.id).to_dict() == before
    assert [e.to_dict() for e in led.events.list(limit=100)] == events


# -- customers ----------------------------------------------------------------------------------


def test_customer_create_attaches_a_test_payment_method(led: Ledger) -> None:
    cus = led.customers.create(
        payment_method="pm_card_visa",
        invoice_settings={"default_payment_method": "pm_card_visa"},
    )
    [pm] = led.payment_methods.list(customer=cus.id).data
    assert pm.id.startswith("pm_") and pm.id != "pm_card_visa"
    assert valid(cus)["invoice_settings"]["default_payment_method"] == pm.id
    assert event_types(led) == ["customer.created", "payment_method.attached"]


def test_customer_create_attaches_an_existing_payment_method(led: Ledger) -> None:
    pm = led.payment_methods.create(type="card", card=VISA)
    cus = led.customers.create(
        payment_method=pm.id, invoice_settings={"default_payment_method": pm.id}
    )
    assert led.payment_methods.retrieve(pm.id).customer == cus.id
    assert cus.invoice_settings.default_payment_method == pm.id
    plain = led.customers.create(payment_method="tok_amex")
    assert led.payment_methods.list(customer=plain.id).data[0].card.brand == "amex"
    assert plain.invoice_settings.default_payment_method is None


def test_customer_create_with_a_declined_card_fails_whole(led: Ledger, database_url: str) -> None:
    fails(
        database_url,
        lambda: led.customers.create(payment_method="pm_card_chargeDeclined", email="a@b.co"),
        CardError,
        "card_declined",
        None,
        402,
    )
    assert led.customers.list().data == []


def test_customer_default_payment_method_must_be_attached_to_it(
    led: Ledger, database_url: str
) -> None:
    other = led.customers.create()
    theirs = led.payment_methods.attach("pm_card_visa", customer=other.id)
    loose = led.payment_methods.create(type="card", card=VISA)
    cus = led.customers.create()
    for pm_id in (theirs.id, loose.id):
        message = (
            f"The customer does not have a payment method with the ID {pm_id}. The payment "
            "method must be attached to the customer."
        )
        fails(
            database_url,
            lambda pm_id=pm_id: led.customers.create(
                invoice_settings={"default_payment_method": pm_id}
            ),
            InvalidRequestError,
            None,
            "invoice_settings[default_payment_method]",
            400,
            message,
        )
        fails(
            database_url,
            lambda pm_id=pm_id: led.customers.update(
                cus.id, invoice_settings={"default_payment_method": pm_id}
            ),
            InvalidRequestError,
            None,
            "invoice_settings[default_payment_method]",
            400,
            message,
        )
    fails(
        database_url,
        lambda: led.customers.create(
            payment_method="pm_card_visa",
            invoice_settings={"default_payment_method": loose.id},
        ),
        InvalidRequestError,
        None,
        "invoice_settings[default_payment_method]",
        400,
    )
    fails(
        database_url,
        lambda: led.customers.create(payment_method=theirs.id),
        InvalidRequestError,
        None,
        None,
        400,
        domain.MESSAGE_ALREADY_ATTACHED,
    )
    mine = led.payment_methods.attach(loose.id, customer=cus.id)
    updated = led.customers.update(cus.id, invoice_settings={"default_payment_method": mine.id})
    assert updated.invoice_settings.default_payment_method == mine.id


# -- bad input ----------------------------------------------------------------------------------

NUMBER_ERROR = "Your card number is incorrect."


@pytest.mark.parametrize(
    ("params", "error", "code", "param", "message"),
    [
        ({"card": VISA}, InvalidRequestError, "parameter_missing", "type", None),
        (
            {"type": "sepa_debit", "sepa_debit": {"iban": "DE89370400440532013000"}},
            InvalidRequestError,
            "parameter_unsupported",
            "type",
            None,
        ),
        ({"type": "us_bank_account"}, InvalidRequestError, "parameter_unsupported", "type", None),
        ({"type": "card"}, InvalidRequestError, "parameter_missing", "card", None),
        (
            {"type": "card", "card": VISA, "customer": "cus_1"},
            InvalidRequestError,
            None,
            "customer",
            None,
        ),
        (
            {"type": "card", "payment_method": "pm_1", "customer": "cus_1"},
            InvalidRequestError,
            "parameter_unsupported",
            "payment_method",
            None,
        ),
        (
            {"type": "card", "card": VISA, "radar_options": {"session": "rse_1"}},
            InvalidRequestError,
            "parameter_unsupported",
            "radar_options",
            None,
        ),
        (
            {"type": "card", "card": VISA, "sepa_debit": {"iban": "x"}},
            InvalidRequestError,
            "parameter_unsupported",
            "sepa_debit",
            None,
        ),
        (
            {"type": "card", "card": VISA, "foo": "x"},
            InvalidRequestError,
            "parameter_unknown",
            "foo",
            None,
        ),
        (
            {"type": "card", "card": VISA | {"number": "4242424242424241"}},
            CardError,
            "incorrect_number",
            "number",
            NUMBER_ERROR,
        ),
        (
            {"type": "card", "card": VISA | {"number": "42424242"}},
            CardError,
            "incorrect_number",
            "number",
            NUMBER_ERROR,
        ),
        (
            {"type": "card", "card": VISA | {"number": "4242abcd42424242"}},
            CardError,
            "incorrect_number",
            "number",
            NUMBER_ERROR,
        ),
        (
            {"type": "card", "card": VISA | {"exp_month": 13}},
            CardError,
            "invalid_expiry_month",
            "exp_month",
            "Your card's expiration month is invalid.",
        ),
        (
            {"type": "card", "card": VISA | {"exp_year": 2023}},
            CardError,
            "invalid_expiry_year",
            "exp_year",
            "Your card's expiration year is invalid.",
        ),
        (
            {"type": "card", "card": VISA | {"exp_year": 34}},
            CardError,
            "invalid_expiry_year",
            "exp_year",
            None,
        ),
        (
            {"type": "card", "card": VISA | {"exp_year": 2100}},
            CardError,
            "invalid_expiry_year",
            "exp_year",
            None,
        ),
        (
            {"type": "card", "card": VISA | {"exp_month": 10, "exp_year": 2024}},
            CardError,
            "invalid_expiry_month",
            "exp_month",
            None,
        ),
        (
            {"type": "card", "card": VISA | {"cvc": "12"}},
            CardError,
            "invalid_cvc",
            "cvc",
            "Your card's security code is invalid.",
        ),
        ({"type": "card", "card": VISA | {"cvc": "12a"}}, CardError, "invalid_cvc", "cvc", None),
        (
            {"type": "card", "card": {"number": "4242424242424242"}},
            InvalidRequestError,
            "parameter_missing",
            "card[exp_month]",
            None,
        ),
        (
            {"type": "card", "card": {"token": "pm_card_visa"}},
            InvalidRequestError,
            None,
            "token",
            "Invalid token id: pm_card_visa",
        ),
        (
            {"type": "card", "card": {"exp_month": "12", "exp_year": 2030, "number": "4242"}},
            InvalidRequestError,
            "parameter_invalid_integer",
            "card[exp_month]",
            None,
        ),
        (
            {"type": "card", "card": VISA, "billing_details": {"email": "not-an-email"}},
            InvalidRequestError,
            "email_invalid",
            "billing_details[email]",
            None,
        ),
        (
            {"type": "card", "card": VISA, "allow_redisplay": "sometimes"},
            InvalidRequestError,
            None,
            "allow_redisplay",
            "Invalid allow_redisplay: must be one of always, limited, or unspecified",
        ),
        (
            {"type": "card", "card": VISA, "metadata": {f"k{i}": "v" for i in range(51)}},
            InvalidRequestError,
            None,
            "metadata",
            None,
        ),
    ],
)
def test_create_refuses_bad_input(
    led: Ledger,
    database_url: str,
    params: dict[str, Any],
    error: type[LedgerError],
    code: str | None,
    param: str | None,
    message: str | None,
) -> None:
    got = fails(
        database_url,
        lambda: led.payment_methods.create(**params),
        error,
        code,
        param,
        402 if error is CardError else 400,
        message,
    )
    if error is CardError:
        assert got.decline_code is None


def test_unknown_test_token_is_404(led: Ledger, database_url: str) -> None:
    fails(
        database_url,
        lambda: led.payment_methods.create(type="card", card={"token": "tok_nope"}),
        InvalidRequestError,
        "resource_missing",
        "token",
        404,
        "No such token: 'tok_nope'",
    )


@pytest.mark.parametrize("method", ["retrieve", "update", "detach"])
def test_missing_payment_method_is_404(led: Ledger, database_url: str, method: str) -> None:
    fails(
        database_url,
        lambda: getattr(led.payment_methods, method)("pm_missing"),
        InvalidRequestError,
        "resource_missing",
        "payment_method",
        404,
        "No such PaymentMethod: 'pm_missing'",
    )


def test_a_customer_is_not_a_payment_method(led: Ledger, database_url: str) -> None:
    cus = led.customers.create()
    fails(
        database_url,
        lambda: led.payment_methods.retrieve(cus.id),
        InvalidRequestError,
        "resource_missing",
        "payment_method",
        404,
    )


def test_update_refuses_other_types_params(led: Ledger, database_url: str) -> None:
    cus = led.customers.create()
    pm = led.payment_methods.attach("pm_card_visa", customer=cus.id)
    fails(
        database_url,
        lambda: led.payment_methods.update(
            pm.id, us_bank_account={"account_holder_type": "company"}
        ),
        InvalidRequestError,
        "parameter_unsupported",
        "us_bank_account",
        400,
    )


def test_list_refuses_an_unknown_type(led: Ledger, database_url: str) -> None:
    fails(
        database_url,
        lambda: led.payment_methods.list(type="cheque"),
        InvalidRequestError,
        None,
        "type",
        400,
    )
