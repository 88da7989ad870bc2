"""The PaymentIntent state machine, generated from its own tables (no database).

Every (status, action) pair is checked against `ACTIONS`: the allowed ones pass and lead only
where `TRANSITIONS` allows, the others raise Stripe's `payment_intent_unexpected_state`. Every
(status, status) pair is checked against `TRANSITIONS` through `evolve`.
"""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from ledger.domain import payment_intent as domain
from ledger.domain.aggregate import State
from ledger.domain.payment_intent import (
    ACTION_RESULTS,
    ACTIONS,
    TRANSITIONS,
    Action,
    PaymentIntentCanceled,
    PaymentIntentSucceeded,
    Status,
)
from ledger.errors import InvalidRequestError
from tests.support.stripe_schema import assert_valid

CREATED = 1_732_104_000


def new_intent(**params: Any) -> State:
    params = {"amount": 2000, "currency": "usd"} | params
    events = domain.decide_create(
        "pi_test",
        CREATED,
        "pi_test_secret_x",
        params,
        payment_method=params.pop("payment_method", None),
        payment_method_configuration="pmc_test",
    )
    state = None
    for event in events:
        state = domain.evolve(state, event)
    assert state is not None
    return state


def fields_for(status: Status) -> dict[str, Any]:
    """Field values consistent with `status` (what `evolve` asserts)."""
    fields: dict[str, Any] = {
        "next_action": None,
        "amount_capturable": 0,
        "amount_received": 0,
        "canceled_at": None,
        "payment_method": "pm_test",
        "latest_charge": None,
        "last_payment_error": None,
    }
    match status:
        case Status.requires_action:
            fields["next_action"] = {"type": "use_stripe_sdk", "use_stripe_sdk": {}}
        case Status.requires_capture:
            fields |= {"amount_capturable": 2000, "latest_charge": "ch_test"}
        case Status.succeeded:
            fields |= {"amount_received": 2000, "latest_charge": "ch_test"}
        case Status.canceled:
            fields["canceled_at"] = CREATED + 1
        case Status.requires_payment_method:
            fields["payment_method"] = None
    return fields


def in_status(status: Status) -> State:
    """An intent in `status`, consistent with it."""
    state = new_intent()
    return State(
        data=state.data | fields_for(status) | {"status": status.value},
        internal=state.internal,
    )


ALL_PAIRS = list(itertools.product(Status, Action))
ALLOWED = [(status, action) for status, action in ALL_PAIRS if status in ACTIONS[action]]
FORBIDDEN = [(status, action) for status, action in ALL_PAIRS if status not in ACTIONS[action]]


def pair_id(pair: tuple[Status, Action]) -> str:
    return f"{pair[0].value}-{pair[1].value}"


# -- the tables ------------------------------------------------------------------------------


def test_every_status_appears_in_transitions() -> None:
    assert set(TRANSITIONS) == set(Status)
    for targets in TRANSITIONS.values():
        assert targets <= set(Status)


def test_every_action_has_its_statuses_and_results() -> None:
    assert set(ACTIONS) == set(Action)
    assert set(ACTION_RESULTS) == set(Action)


def test_terminal_statuses_lead_nowhere_and_accept_only_detail_updates() -> None:
    for terminal in (Status.succeeded, Status.canceled):
        assert TRANSITIONS[terminal] == frozenset()
        allowed = {action for action in Action if terminal in ACTIONS[action]}
        assert allowed == {Action.update_details}


def test_every_non_terminal_status_can_be_left() -> None:
    for status in Status:
        if status not in (Status.succeeded, Status.canceled):
            assert TRANSITIONS[status], status
            assert Status.canceled in TRANSITIONS[status]


def test_the_generated_pairs_cover_everything() -> None:
    assert len(ALLOWED) + len(FORBIDDEN) == len(Status) * len(Action)
    assert ALLOWED and FORBIDDEN


# -- every (status, action) pair -------------------------------------------------------------


@pytest.mark.parametrize("pair", ALLOWED, ids=pair_id)
def test_an_allowed_action_passes_and_leads_only_where_transitions_allow(
    pair: tuple[Status, Action],
) -> None:
    status, action = pair
    domain.check_action(in_status(status), action)
    assert ACTION_RESULTS[action] <= TRANSITIONS[status], (status, action)


@pytest.mark.parametrize("pair", FORBIDDEN, ids=pair_id)
def test_a_forbidden_action_is_stripes_unexpected_state(pair: tuple[Status, Action]) -> None:
    status, action = pair
    state = in_status(status)
    with pytest.raises(InvalidRequestError) as caught:
        domain.check_action(state, action, field="amount")
    error = caught.value
    assert error.code == "payment_intent_unexpected_state"
    assert error.http_status == 400
    assert error.payment_intent == state.data
    assert status.value in error.message or "already succeeded" in error.message
    body = error.to_dict()["error"]
    assert body["type"] == "invalid_request_error"
    assert body["payment_intent"]["id"] == "pi_test"
    assert body["doc_url"].endswith("/payment-intent-unexpected-state")
    if action == Action.update:
        assert error.param == "amount"
    else:
        assert error.param is None


# -- every (status, status) pair through evolve ----------------------------------------------

STATUS_PAIRS = list(itertools.product(Status, Status))


@pytest.mark.parametrize(
    "pair", STATUS_PAIRS, ids=lambda pair: f"{pair[0].value}-to-{pair[1].value}"
)
def test_evolve_accepts_exactly_the_transitions_of_the_table(pair: tuple[Status, Status]) -> None:
    before, after = pair
    event = PaymentIntentSucceeded(to=after, changes=fields_for(after))
    if after in TRANSITIONS[before]:
        state = domain.evolve(in_status(before), event)
        assert state.data["status"] == after.value
    else:
        with pytest.raises(AssertionError):
            domain.evolve(in_status(before), event)


def test_evolve_refuses_fields_that_contradict_the_status() -> None:
    state = in_status(Status.requires_capture)
    with pytest.raises(AssertionError):
        domain.evolve(
            state,
            PaymentIntentCanceled(to=Status.canceled, changes={"canceled_at": CREATED + 1}),
        )


# -- Stripe's messages -------------------------------------------------------------------------


def message(status: Status, action: Action, field: str | None = None) -> str:
    return domain.unexpected_state(in_status(status), action, field=field).message


def test_stripes_messages_for_each_refused_action() -> None:
    assert message(Status.succeeded, Action.confirm) == (
        "You cannot confirm this PaymentIntent because it has already succeeded after being "
        "previously confirmed."
    )
    assert message(Status.canceled, Action.confirm) == (
        "You cannot confirm this PaymentIntent because it has a status of canceled. Only a "
        "PaymentIntent with one of the following statuses may be confirmed: "
        "requires_confirmation, requires_payment_method, requires_action."
    )
    assert message(Status.requires_payment_method, Action.capture) == (
        "This PaymentIntent could not be captured because it has a status of "
        "requires_payment_method. Only a PaymentIntent with one of the following statuses may "
        "be captured: requires_capture."
    )
    assert message(Status.succeeded, Action.cancel) == (
        "You cannot cancel this PaymentIntent because it has a status of succeeded. Only a "
        "PaymentIntent with one of the following statuses may be canceled: "
        "requires_payment_method, requires_capture, requires_confirmation, requires_action, "
        "processing."
    )
    assert message(Status.succeeded, Action.update, "payment_method") == (
        "This PaymentIntent's payment_method could not be updated because it has a status of "
        "succeeded. You may only update the payment_method of a PaymentIntent with one of the "
        "following statuses: requires_payment_method, requires_confirmation, requires_action."
    )


# -- create, and the acacia defaults ---------------------------------------------------------


def test_a_new_intent_has_acacias_defaults_and_is_valid() -> None:
    state = new_intent()
    data = state.data
    assert data["status"] == "requires_payment_method"
    assert data["capture_method"] == "automatic_async"
    assert data["confirmation_method"] == "automatic"
    assert data["automatic_payment_methods"] == {"allow_redirects": "always", "enabled": True}
    assert data["payment_method_types"] == ["card"]
    assert data["client_secret"] == "pi_test_secret_x"
    assert data["payment_method_configuration_details"] == {"id": "pmc_test", "parent": None}
    assert_valid(data)


def test_an_intent_with_a_payment_method_awaits_confirmation() -> None:
    state = new_intent(payment_method="pm_x", payment_method_types=["card"])
    assert state.data["status"] == "requires_confirmation"
    assert state.data["automatic_payment_methods"] is None
    assert state.data["payment_method_configuration_details"] is None


@pytest.mark.parametrize(
    ("params", "code", "param"),
    [
        ({"amount": 49}, "amount_too_small", "amount"),
        ({"amount": 100_000_000}, "amount_too_large", "amount"),
        ({"currency": "xyz"}, None, "currency"),
        ({"application_fee_amount": 2001}, None, "application_fee_amount"),
        ({"transfer_data": {"destination": "cus_1"}}, None, "transfer_data[destination]"),
        (
            {"transfer_data": {"destination": "acct_1", "amount": 2001}},
            None,
            "transfer_data[amount]",
        ),
        ({"on_behalf_of": "cus_1"}, None, "on_behalf_of"),
        ({"payment_method_types": ["ideal"]}, "parameter_unsupported", "payment_method_types"),
        (
            {"payment_method_types": ["card"], "automatic_payment_methods": {"enabled": True}},
            "parameters_exclusive",
            "automatic_payment_methods",
        ),
        ({"receipt_email": "nope"}, "email_invalid", "receipt_email"),
    ],
)
def test_create_refuses_what_stripe_refuses(
    params: dict[str, Any], code: str | None, param: str
) -> None:
    with pytest.raises(InvalidRequestError) as caught:
        new_intent(**params)
    assert (caught.value.code, caught.value.param) == (code, param)


def test_updates_reconfirm_when_what_is_paid_changes() -> None:
    state = new_intent(payment_method="pm_x", payment_method_types=["card"])
    (event,) = domain.decide_update(state, {"amount": 3000})
    after = domain.evolve(state, event)
    assert (after.data["amount"], after.data["status"]) == (3000, "requires_confirmation")
    waiting = in_status(Status.requires_action)
    (event,) = domain.decide_update(waiting, {"amount": 3000})
    after = domain.evolve(waiting, event)
    assert after.data["status"] == "requires_confirmation"
    assert after.data["next_action"] is None
    assert domain.decide_update(state, {"amount": 2000}) == []


def test_details_can_change_in_every_status() -> None:
    for status in Status:
        state = in_status(status)
        (event,) = domain.decide_update(state, {"description": "d", "metadata": {"k": "v"}})
        after = domain.evolve(state, event)
        assert after.data["description"] == "d" and after.data["metadata"] == {"k": "v"}
        assert after.data["status"] == status.value


def test_the_customer_cannot_change_once_set() -> None:
    state = new_intent(customer="cus_a")
    with pytest.raises(InvalidRequestError) as caught:
        domain.decide_update(state, {"customer": "cus_b"})
    assert caught.value.param == "customer"
    assert caught.value.message.startswith("You cannot modify `customer` on a PaymentIntent")
