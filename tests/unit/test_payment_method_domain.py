"""The payment_method aggregate (`ledger.domain.payment_method`): decisions, evolve, events."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from ledger.domain.aggregate import State, StripeEventSpec, aggregate_for_stream
from ledger.domain.cards import PAYMENT_METHOD_IDS, TOKENS
from ledger.domain.events import DomainEvent, event_class
from ledger.domain.payment_method import (
    MESSAGE_ALREADY_ATTACHED,
    MESSAGE_NOT_ATTACHED,
    MESSAGE_NOT_REUSABLE,
    MESSAGE_UPDATE_UNATTACHED,
    PAYMENT_METHOD,
    PaymentMethodAttached,
    PaymentMethodCreated,
    PaymentMethodDetached,
    PaymentMethodUpdated,
    card_for,
    decide_attach,
    decide_create,
    decide_create_from_test_card,
    decide_detach,
    decide_update,
    evolve,
    stripe_events,
)
from ledger.errors import CardError, InvalidRequestError
from ledger.limits import EXP_YEARS_AHEAD_MAX
from tests.support.stripe_schema import assert_valid

PM = "pm_TESTTESTTESTTESTTESTTEST"
CUS = "cus_TESTTESTTEST01"
OTHER = "cus_TESTTESTTEST02"
NOW = int(datetime(2024, 11, 20, 12, 0, tzinfo=UTC).timestamp())
VISA = {"number": "4242424242424242", "exp_month": 12, "exp_year": 2030, "cvc": "123"}


def replay(events: list[DomainEvent], state: State | None = None) -> State:
    for event in events:
        state = evolve(state, event)
    assert state is not None
    return state


def created(params: dict[str, Any] | None = None) -> State:
    return replay(decide_create(PM, NOW, {"type": "card", "card": VISA} | (params or {})))


def from_test_id(test_id: str) -> State:
    return replay(decide_create_from_test_card(PM, NOW, PAYMENT_METHOD_IDS[test_id]))


def attached(state: State, customer: str = CUS) -> State:
    return replay(decide_attach(state, customer), state)


# -- create --------------------------------------------------------------------------------------


def test_create_keeps_the_number_internal() -> None:
    [event] = decide_create(PM, NOW, {"type": "card", "card": VISA})
    assert isinstance(event, PaymentMethodCreated)
    assert event.card_number == "4242424242424242"
    state = evolve(None, event)
    assert state.internal == {"card_number": "4242424242424242"}
    assert "4242424242424242" not in repr(state.data)
    assert_valid(state.data, "payment_method")
    assert state.data["customer"] is None
    assert state.data["created"] == NOW
    assert state.data["card"]["checks"]["cvc_check"] == "unchecked"


def test_create_fills_billing_details_and_metadata() -> None:
    state = created(
        {
            "billing_details": {"name": "Jenny", "address": {"postal_code": "94102"}, "phone": ""},
            "metadata": {"k": "v"},
            "allow_redisplay": "always",
        }
    )
    assert state.data["billing_details"] == {
        "address": {
            "city": None,
            "country": None,
            "line1": None,
            "line2": None,
            "postal_code": "94102",
            "state": None,
        },
        "email": None,
        "name": "Jenny",
        "phone": None,
    }
    assert state.data["card"]["checks"] == {
        "address_line1_check": None,
        "address_postal_code_check": "unchecked",
        "cvc_check": "unchecked",
    }
    assert state.data["metadata"] == {"k": "v"}
    assert state.data["allow_redisplay"] == "always"


def test_create_from_a_token_and_a_test_id() -> None:
    state = replay(decide_create(PM, NOW, {"type": "card", "card": {"token": "tok_amex"}}))
    assert card_for(state) == TOKENS["tok_amex"]
    visa = from_test_id("pm_card_visa")
    assert card_for(visa) == PAYMENT_METHOD_IDS["pm_card_visa"]
    assert visa.data["card"]["checks"]["cvc_check"] == "unchecked"
    assert_valid(visa.data, "payment_method")


@pytest.mark.parametrize(
    ("card", "code", "param"),
    [
        ({"number": "4242424242424241"}, "incorrect_number", "number"),
        ({"exp_month": 13}, "invalid_expiry_month", "exp_month"),
        ({"exp_month": 0}, "invalid_expiry_month", "exp_month"),
        ({"exp_year": 2023}, "invalid_expiry_year", "exp_year"),
        ({"exp_year": 2024 + EXP_YEARS_AHEAD_MAX + 1}, "invalid_expiry_year", "exp_year"),
        ({"exp_month": 10, "exp_year": 2024}, "invalid_expiry_month", "exp_month"),
        ({"cvc": "1"}, "invalid_cvc", "cvc"),
        ({"cvc": "12345"}, "invalid_cvc", "cvc"),
        ({"cvc": "\uff11\uff12\uff13"}, "invalid_cvc", "cvc"),  # fullwidth digits
    ],
)
def test_create_refuses_invalid_cards(card: dict[str, Any], code: str, param: str) -> None:
    with pytest.raises(CardError) as caught:
        decide_create(PM, NOW, {"type": "card", "card": VISA | card})
    assert (caught.value.code, caught.value.param, caught.value.http_status) == (code, param, 402)


@pytest.mark.parametrize(
    "card",
    [
        {"exp_month": 11, "exp_year": 2024},  # this month is still valid
        {"exp_month": 1, "exp_year": 2025},
        {"exp_year": 2024 + EXP_YEARS_AHEAD_MAX},
        {"cvc": "1234"},
        {"cvc": "123"},
    ],
)
def test_expiry_and_cvc_boundaries(card: dict[str, Any]) -> None:
    assert decide_create(PM, NOW, {"type": "card", "card": VISA | card})


def test_unknown_and_malformed_tokens_are_refused() -> None:
    with pytest.raises(InvalidRequestError) as caught:
        decide_create(PM, NOW, {"type": "card", "card": {"token": "tok_nope"}})
    assert (caught.value.code, caught.value.http_status) == ("resource_missing", 404)
    with pytest.raises(InvalidRequestError) as caught:
        decide_create(PM, NOW, {"type": "card", "card": {"token": "card_1"}})
    assert caught.value.message == "Invalid token id: card_1"


def test_card_for_uses_the_payment_methods_expiry() -> None:
    state = created({"card": VISA | {"number": "4000000000000259", "exp_month": 5}})
    card = card_for(state)
    assert (card.number, card.exp_month, card.exp_year) == ("4000000000000259", 5, 2030)
    assert card.outcome.dispute == "fraudulent"


# -- attach / detach -----------------------------------------------------------------------------


def test_attach_verifies_and_sets_the_customer() -> None:
    state = from_test_id("pm_card_cvcCheckFail")
    [event] = decide_attach(state, CUS)
    assert isinstance(event, PaymentMethodAttached)
    assert event.checks == {
        "address_line1_check": None,
        "address_postal_code_check": None,
        "cvc_check": "fail",
    }
    after = evolve(state, event)
    assert after.data["customer"] == CUS
    assert after.data["card"]["checks"]["cvc_check"] == "fail"
    assert after.internal == state.internal


def test_attach_to_the_same_customer_is_a_no_op_and_to_another_refused() -> None:
    state = attached(from_test_id("pm_card_visa"))
    assert decide_attach(state, CUS) == []
    with pytest.raises(InvalidRequestError) as caught:
        decide_attach(state, OTHER)
    assert caught.value.message == MESSAGE_ALREADY_ATTACHED


@pytest.mark.parametrize(
    "test_id", [pm for pm, card in PAYMENT_METHOD_IDS.items() if card.outcome.attach_fails]
)
def test_cards_that_fail_to_attach(test_id: str) -> None:
    outcome = PAYMENT_METHOD_IDS[test_id].outcome
    with pytest.raises(CardError) as caught:
        decide_attach(from_test_id(test_id), CUS)
    assert caught.value.code == outcome.error_code
    assert caught.value.decline_code == outcome.decline_code


def test_every_other_test_card_attaches() -> None:
    for test_id, card in PAYMENT_METHOD_IDS.items():
        if not card.outcome.attach_fails:
            state = attached(from_test_id(test_id))
            assert_valid(state.data, "payment_method")


def test_detach_then_never_again() -> None:
    state = attached(from_test_id("pm_card_visa"))
    [event] = decide_detach(state)
    after = evolve(state, event)
    assert after.data["customer"] is None
    assert after.internal == {"card_number": "4242424242424242", "detached": True}
    with pytest.raises(InvalidRequestError) as caught:
        decide_detach(after)
    assert caught.value.message == MESSAGE_NOT_ATTACHED
    with pytest.raises(InvalidRequestError) as caught:
        decide_attach(after, CUS)
    assert (caught.value.message, caught.value.param) == (MESSAGE_NOT_REUSABLE, "payment_method")


# -- update --------------------------------------------------------------------------------------


def test_update_requires_attachment() -> None:
    with pytest.raises(InvalidRequestError) as caught:
        decide_update(created(), {"metadata": {"a": "b"}}, NOW)
    assert caught.value.message == MESSAGE_UPDATE_UNATTACHED


def test_update_records_only_what_changes() -> None:
    state = attached(created({"metadata": {"a": "1"}}))
    assert decide_update(state, {"metadata": {"a": "1"}, "card": {"exp_year": 2030}}, NOW) == []
    [event] = decide_update(
        state, {"metadata": {"b": "2"}, "card": {"exp_year": 2031}, "billing_details": {}}, NOW
    )
    assert isinstance(event, PaymentMethodUpdated)
    assert set(event.changes) == {"metadata", "card"}
    after = evolve(state, event)
    assert after.data["card"]["exp_year"] == 2031
    assert after.data["card"]["checks"] == state.data["card"]["checks"]
    assert after.data["metadata"] == {"a": "1", "b": "2"}


def test_update_checks_the_merged_expiry() -> None:
    state = attached(created({"card": VISA | {"exp_month": 1, "exp_year": 2025}}))
    with pytest.raises(CardError) as caught:
        decide_update(state, {"card": {"exp_year": 2024}}, NOW)
    assert caught.value.code == "invalid_expiry_month"


# -- evolve and Stripe events --------------------------------------------------------------------


def test_evolve_refuses_impossible_sequences() -> None:
    fresh = created()
    with pytest.raises(AssertionError):
        evolve(fresh, PaymentMethodDetached())
    with pytest.raises(AssertionError):
        evolve(fresh, PaymentMethodUpdated(changes={"metadata": {}}))
    with pytest.raises(AssertionError):
        evolve(None, PaymentMethodAttached(customer=CUS, checks={}))
    with pytest.raises(AssertionError):
        evolve(attached(fresh), PaymentMethodAttached(customer=OTHER, checks={}))


def test_stripe_events() -> None:
    [create] = decide_create(PM, NOW, {"type": "card", "card": VISA})
    fresh = evolve(None, create)
    assert stripe_events(None, fresh, create) == []

    [attach] = decide_attach(fresh, CUS)
    on = evolve(fresh, attach)
    assert stripe_events(fresh, on, attach) == [StripeEventSpec("payment_method.attached", on.data)]

    [update] = decide_update(on, {"metadata": {"k": "v"}}, NOW)
    updated = evolve(on, update)
    assert stripe_events(on, updated, update) == [
        StripeEventSpec("payment_method.updated", updated.data, {"metadata": {"k": None}})
    ]

    [detach] = decide_detach(updated)
    off = evolve(updated, detach)
    assert stripe_events(updated, off, detach) == [
        StripeEventSpec("payment_method.detached", off.data, {"customer": CUS})
    ]


def test_aggregate_and_event_registration() -> None:
    assert aggregate_for_stream(PM) is PAYMENT_METHOD
    assert PAYMENT_METHOD.object_name == "payment_method"
    for name in ("created", "attached", "detached", "updated"):
        assert event_class(f"payment_method.{name}").__name__ == f"PaymentMethod{name.title()}"


def test_events_round_trip_through_their_payload() -> None:
    events = [
        *decide_create(PM, NOW, {"type": "card", "card": VISA}),
        PaymentMethodAttached(customer=CUS, checks={"cvc_check": "pass"}),
        PaymentMethodUpdated(changes={"metadata": {"a": "b"}}),
        PaymentMethodDetached(),
    ]
    for event in events:
        assert type(event).model_validate(event.payload()) == event
