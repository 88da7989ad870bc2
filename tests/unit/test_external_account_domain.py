"""External accounts without a database: test values, defaults, updates, deletion, events."""

from __future__ import annotations

from typing import Any

import pytest

from ledger.domain import external_account as domain
from ledger.domain.aggregate import State
from ledger.domain.cards import TOKENS
from ledger.domain.events import DomainEvent
from tests.support.refusals import refusal

ACCOUNT = "acct_1Owner"
CREATED = 1_732_104_000
YEAR = 2024


def apply(state: State | None, events: list[DomainEvent]) -> State:
    for event in events:
        state = domain.evolve(state, event)
    assert state is not None
    return state


def add(
    source: domain.BankDetails | domain.DebitCard,
    current_default: State | None = None,
    *,
    external_account_id: str = "ba_1",
    default_for_currency: bool = False,
    metadata: dict[str, Any] | None = None,
) -> tuple[State, list[tuple[str, list[DomainEvent]]]]:
    new = domain.NewExternalAccount(
        external_account_id=external_account_id,
        account=ACCOUNT,
        created=CREATED,
        source=source,
        default_for_currency=default_for_currency,
        metadata=metadata or {},
    )
    appends = domain.decide_create(new, current_default)
    assert appends[0][0] == external_account_id
    return apply(None, appends[0][1]), appends[1:]


def bank(token: str = "btok_us_verified", **kwargs: Any) -> State:
    state, _ = add(domain.bank_details_from_token(token, "external_account"), **kwargs)
    return state


def card(token: str = "tok_visa_debit_us_transferSuccess", **kwargs: Any) -> State:
    debit = domain.debit_card_from_token(token, "external_account", TOKENS)
    state, _ = add(debit, external_account_id="card_1", **kwargs)
    return state


def update(state: State, params: dict[str, Any], current_default: State | None = None) -> Any:
    return domain.decide_update(state, params, current_default, now_year=YEAR, years_ahead_max=50)


# -- test values ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("token", "number", "failure"),
    [
        ("btok_us_verified", "000123456789", None),
        ("btok_us_verified_noAccount", "000111111116", "no_account"),
        ("btok_us_verified_accountClosed", "000111111113", "account_closed"),
        ("btok_us_verified_insufficientFunds", "000222222227", "insufficient_funds"),
        ("btok_us_verified_debitNotAuthorized", "000333333335", "debit_not_authorized"),
        ("btok_us_verified_invalidCurrency", "000444444440", "invalid_currency"),
    ],
)
def test_bank_tokens_stand_for_the_test_account_numbers(
    token: str, number: str, failure: str | None
) -> None:
    details = domain.bank_details_from_token(token, "external_account")
    assert (details.account_number, details.routing_number) == (number, "110000000")
    assert details.payout_failure_code == failure and details.instant


def test_a_bank_account_has_stripes_shape() -> None:
    state = bank(metadata={"k": "v"})
    assert state.data == {
        "id": "ba_1",
        "object": "bank_account",
        "account": ACCOUNT,
        "account_holder_name": None,
        "account_holder_type": None,
        "account_type": None,
        "available_payout_methods": ["instant", "standard"],
        "bank_name": "STRIPE TEST BANK",
        "country": "US",
        "currency": "usd",
        "default_for_currency": True,
        "fingerprint": state.data["fingerprint"],
        "future_requirements": {
            "currently_due": [],
            "errors": [],
            "past_due": [],
            "pending_verification": [],
        },
        "last4": "6789",
        "metadata": {"k": "v"},
        "requirements": {
            "currently_due": [],
            "errors": [],
            "past_due": [],
            "pending_verification": [],
        },
        "routing_number": "110000000",
        "status": "new",
    }
    assert len(state.data["fingerprint"]) == 16
    assert state.internal == {"payout_failure_code": None, "created": CREATED}


def test_bank_account_hash_with_the_test_numbers() -> None:
    details = domain.bank_details_from_hash(
        {
            "country": "us",
            "account_number": "000888888883",
            "routing_number": "110000000",
            "account_holder_name": "Jenny Rosen",
            "account_holder_type": "individual",
            "account_type": "checking",
        },
        "bank_account",
    )
    assert not details.instant and details.payout_failure_code is None
    state, _ = add(details)
    assert state.data["available_payout_methods"] == ["standard"]
    assert (state.data["account_holder_name"], state.data["account_type"]) == (
        "Jenny Rosen",
        "checking",
    )


@pytest.mark.parametrize(
    ("value", "code", "param"),
    [
        ({"country": "GB"}, "parameter_unsupported", "bank_account[country]"),
        ({"currency": "eur"}, None, "bank_account[currency]"),
        ({"documents": {}}, "parameter_unsupported", "bank_account[documents]"),
        ({"routing_number": None}, "parameter_missing", "bank_account[routing_number]"),
        ({"routing_number": "11000000"}, "routing_number_invalid", "bank_account[routing_number]"),
        ({"routing_number": "11000000a"}, "routing_number_invalid", "bank_account[routing_number]"),
        ({"account_number": "123456789"}, "account_number_invalid", "bank_account[account_number]"),
    ],
)
def test_bank_account_hash_refusals(value: dict[str, Any], code: str | None, param: str) -> None:
    good = {"country": "US", "account_number": "000123456789", "routing_number": "110000000"}
    params = {k: v for k, v in (good | value).items() if v is not None}
    error = refusal(lambda: domain.bank_details_from_hash(params, "bank_account"))
    assert (error.code, error.param, error.http_status) == (code, param, 400)
    if code == "account_number_invalid":
        assert error.message == domain.MESSAGE_TEST_ACCOUNT_NUMBER


def test_unknown_bank_token_is_404() -> None:
    error = refusal(lambda: domain.bank_details_from_token("btok_nope", "external_account"))
    assert (error.code, error.param, error.http_status) == (
        "resource_missing",
        "external_account",
        404,
    )


@pytest.mark.parametrize(
    ("token", "last4", "brand", "failure", "instant"),
    [
        ("tok_visa_debit_us_transferSuccess", "5556", "Visa", None, True),
        ("tok_visa_debit_us_transferFail", "5572", "Visa", "could_not_process", True),
        ("tok_visa_debit_us_instantPayoutUnsupported", "5555", "Visa", None, False),
        ("tok_mastercard_debit_us_transferSuccess", "8210", "MasterCard", None, True),
        ("tok_discover_debit_us_transferSuccess", "1113", "Discover", None, True),
        ("tok_visa_debit", "5556", "Visa", None, True),
        ("tok_mastercard_debit", "8210", "MasterCard", None, True),
    ],
)
def test_debit_card_tokens(
    token: str, last4: str, brand: str, failure: str | None, instant: bool
) -> None:
    state = card(token)
    data = state.data
    assert (data["object"], data["last4"], data["brand"], data["funding"]) == (
        "card",
        last4,
        brand,
        "debit",
    )
    assert (data["currency"], data["country"], data["account"]) == ("usd", "US", ACCOUNT)
    methods = ["instant", "standard"] if instant else ["standard"]
    assert data["available_payout_methods"] == methods
    assert domain.takes_instant_payouts(state) is instant
    assert state.internal["payout_failure_code"] == failure


@pytest.mark.parametrize(
    ("token", "code", "status"),
    [
        ("tok_visa", "invalid_card_type", 400),
        ("tok_mastercard_prepaid", "invalid_card_type", 400),
        ("tok_gb_debit", "parameter_unsupported", 400),
        ("tok_nope", "resource_missing", 404),
    ],
)
def test_cards_that_cannot_take_payouts(token: str, code: str, status: int) -> None:
    error = refusal(lambda: domain.debit_card_from_token(token, "external_account", TOKENS))
    assert (error.code, error.param, error.http_status) == (code, "external_account", status)


# -- defaults -------------------------------------------------------------------------------


def test_the_first_in_a_currency_is_the_default_and_later_ones_only_when_asked() -> None:
    first = bank()
    assert first.data["default_for_currency"] is True
    second, others = add(
        domain.bank_details_from_token("btok_us_verified", "x"), first, external_account_id="ba_2"
    )
    assert second.data["default_for_currency"] is False and others == []
    third, others = add(
        domain.bank_details_from_token("btok_us_verified", "x"),
        first,
        external_account_id="ba_3",
        default_for_currency=True,
    )
    assert third.data["default_for_currency"] is True
    ((stream, events),) = others
    assert stream == "ba_1"
    assert apply(first, events).data["default_for_currency"] is False


def test_update_makes_the_default_and_refuses_to_unset_it() -> None:
    first = bank()
    second = card(current_default=first)
    assert second.data["default_for_currency"] is False
    appends = update(second, {"default_for_currency": True}, first)
    assert [stream for stream, _ in appends] == ["card_1", "ba_1"]
    assert apply(second, appends[0][1]).data["default_for_currency"] is True
    assert apply(first, appends[1][1]).data["default_for_currency"] is False
    error = refusal(lambda: update(first, {"default_for_currency": False}, first))
    assert error.param == "default_for_currency"
    assert update(second, {"default_for_currency": False}, first) == []
    assert update(first, {"default_for_currency": True}, first) == []


def test_update_bank_fields_metadata_and_nothing_when_nothing_changes() -> None:
    state = bank()
    ((_, events),) = update(
        state,
        {"account_holder_name": "Jenny", "account_holder_type": "company", "metadata": {"a": "b"}},
    )
    after = apply(state, events)
    assert (after.data["account_holder_name"], after.data["account_holder_type"]) == (
        "Jenny",
        "company",
    )
    assert after.data["metadata"] == {"a": "b"}
    ((_, events),) = update(after, {"account_holder_type": ""})
    assert apply(after, events).data["account_holder_type"] is None
    assert update(after, {"account_holder_name": "Jenny"}) == []


def test_update_card_fields_and_expiry() -> None:
    state = card()
    ((_, events),) = update(state, {"name": "J R", "exp_month": "7", "exp_year": "2030"})
    after = apply(state, events)
    assert (after.data["name"], after.data["exp_month"], after.data["exp_year"]) == (
        "J R",
        7,
        2030,
    )
    for params, code, param in (
        ({"exp_month": "13"}, "invalid_expiry_month", "exp_month"),
        ({"exp_month": "x"}, "invalid_expiry_month", "exp_month"),
        ({"exp_year": "2023"}, "invalid_expiry_year", "exp_year"),
        ({"exp_year": "2075"}, "invalid_expiry_year", "exp_year"),
    ):
        error = refusal(lambda params=params: update(state, params))
        assert (error.code, error.param) == (code, param)


def test_update_refuses_the_other_kinds_fields() -> None:
    error = refusal(lambda: update(bank(), {"exp_month": "7"}))
    assert (error.code, error.param) == ("parameter_unknown", "exp_month")
    error = refusal(lambda: update(card(), {"account_holder_name": "x"}))
    assert (error.code, error.param) == ("parameter_unknown", "account_holder_name")
    error = refusal(lambda: update(bank(), {"documents": {}}))
    assert (error.code, error.param) == ("parameter_unsupported", "documents")


def test_a_failed_payout_errors_the_account_and_any_update_re_enables_it() -> None:
    state = bank()
    errored = apply(state, domain.decide_errored(state))
    assert errored.data["status"] == "errored"
    assert domain.decide_errored(errored) == []
    ((_, events),) = update(errored, {})
    assert apply(errored, events).data["status"] == "new"
    with pytest.raises(AssertionError):
        domain.evolve(errored, domain.ExternalAccountErrored())


# -- deletion -------------------------------------------------------------------------------


def test_deleting_the_default_follows_stripes_rules() -> None:
    default = bank()
    other = card(current_default=default)
    domain.check_deletable(other, 1, "usd")  # not the default: always
    error = refusal(lambda: domain.check_deletable(default, 1, "eur"))
    assert error.message == domain.MESSAGE_DELETE_DEFAULT
    refusal(lambda: domain.check_deletable(default, 0, "usd"))  # the account's currency
    domain.check_deletable(default, 0, "eur")  # the last one, in another currency
    deleted = apply(default, domain.decide_delete(default))
    assert deleted.deleted
    assert domain.deleted_json(deleted) == {"id": "ba_1", "object": "bank_account", "deleted": True}
    with pytest.raises(AssertionError):
        domain.decide_delete(deleted)
    with pytest.raises(AssertionError):
        domain.evolve(deleted, domain.ExternalAccountUpdated(changes={"metadata": {}}))


# -- Stripe events --------------------------------------------------------------------------


def test_stripe_events() -> None:
    created = domain.ExternalAccountCreated(
        external_account=bank().data, internal={"payout_failure_code": None, "created": 1}
    )
    state = domain.evolve(None, created)
    (spec,) = domain.stripe_events(None, state, created)
    assert (spec.type, spec.previous_attributes) == ("account.external_account.created", None)
    changed = domain.ExternalAccountUpdated(changes={"metadata": {"a": "1"}})
    after = domain.evolve(state, changed)
    (spec,) = domain.stripe_events(state, after, changed)
    assert spec.type == "account.external_account.updated"
    assert spec.previous_attributes == {"metadata": {"a": None}}
    errored = domain.ExternalAccountErrored()
    (spec,) = domain.stripe_events(after, domain.evolve(after, errored), errored)
    assert spec.previous_attributes == {"status": "new"}
    deleted = domain.ExternalAccountDeleted()
    (spec,) = domain.stripe_events(after, domain.evolve(after, deleted), deleted)
    assert spec.type == "account.external_account.deleted"
    with pytest.raises(AssertionError):
        domain.evolve(state, created)
