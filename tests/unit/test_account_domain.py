"""The account domain without a database: types and controllers, requirements by Stripe's test
values, capabilities and their transitions, settings, refusals, and the Stripe events."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from ledger.domain import account as domain
from ledger.domain.aggregate import State
from ledger.domain.events import DomainEvent
from tests.support.accounts import CAPABILITIES, NOW, VERIFIED_INDIVIDUAL
from tests.support.refusals import refusal
from tests.support.stripe_schema import assert_valid

C = domain.CapabilityStatus
ACCOUNT = "acct_1Domain"
PLATFORM = "acct_1Platform"
NEW = domain.NewAccount(ACCOUNT, "person_1Domain", NOW)
LATER = NOW + 60
CUSTOM: dict[str, Any] = {"type": "custom", "capabilities": CAPABILITIES}
EXTERNAL = {
    "object": "list",
    "data": [
        {
            "id": "ba_1Domain",
            "object": "bank_account",
            "account": ACCOUNT,
            "account_holder_name": "Jenny Rosen",
            "account_holder_type": "individual",
            "account_type": None,
            "available_payout_methods": ["standard"],
            "bank_name": "STRIPE TEST BANK",
            "country": "US",
            "currency": "usd",
            "default_for_currency": True,
            "fingerprint": "PQBqY6e5XwUm7Exf",
            "last4": "6789",
            "metadata": {},
            "routing_number": "110000000",
            "status": "new",
        }
    ],
    "has_more": False,
    "total_count": 1,
    "url": f"/v1/accounts/{ACCOUNT}/external_accounts",
}


def apply(state: State | None, events: list[DomainEvent]) -> State:
    for event in events:
        state = domain.evolve(state, event)
    assert state is not None
    return state


def create(params: dict[str, Any] | None = None, controller: Any = None) -> State:
    """A new account, checked against Stripe's schema."""
    events = domain.decide_create(params or {}, controller, NEW, platform=True)
    state = apply(None, events)
    assert_valid(state.data)
    assert_valid(domain.with_external_accounts(state.data, EXTERNAL))
    for name in state.internal["capabilities"]:
        assert_valid(domain.capability_json(state, name))
    return state


def custom(**params: Any) -> State:
    return create(CUSTOM | params)


def update(state: State, params: dict[str, Any], now: int = LATER) -> State:
    new = domain.NewAccount(ACCOUNT, "person_2Domain", now)
    updated = apply(state, domain.decide_update(state, params, new))
    assert_valid(updated.data)
    return updated


def refused(params: dict[str, Any], param: str | None, code: str | None = None) -> str:
    """Creating a custom account with `params` is refused naming `param`; the message."""
    error = refusal(lambda: create(CUSTOM | params))
    assert (error.param, error.code, error.http_status) == (param, code, 400), error
    return error.message


def verified(**individual: Any) -> State:
    """A custom individual's account with `individual` changes to the verified test values."""
    params = VERIFIED_INDIVIDUAL | {"individual": VERIFIED_INDIVIDUAL["individual"] | individual}
    return custom(**params)


# The verified test values, but with the date of birth Stripe verifies later (by due work).
IDENTITY_LATER = VERIFIED_INDIVIDUAL | {
    "individual": VERIFIED_INDIVIDUAL["individual"] | {"dob": {"day": 1, "month": 1, "year": 1901}}
}


def requirements(state: State) -> dict[str, Any]:
    found: dict[str, Any] = state.data["requirements"]
    return found


# -- transition tables ---------------------------------------------------------------------------


def test_every_lifecycle_and_capability_status_has_a_row() -> None:
    assert set(domain.TRANSITIONS) == set(domain.Lifecycle)
    assert set(domain.CAPABILITY_TRANSITIONS) == set(C)
    for status, targets in domain.CAPABILITY_TRANSITIONS.items():
        assert status not in targets and targets <= set(C)


def test_an_account_is_deleted_once_and_for_good() -> None:
    assert domain.TRANSITIONS[domain.Lifecycle.live] == {domain.Lifecycle.deleted}
    assert domain.TRANSITIONS[domain.Lifecycle.deleted] == frozenset()
    state = custom()
    deleted = apply(state, domain.decide_delete(state, PLATFORM))
    assert deleted.deleted and deleted.data == state.data
    with pytest.raises(AssertionError):
        domain.evolve(deleted, domain.AccountDeleted())
    with pytest.raises(AssertionError):
        domain.decide_delete(deleted, PLATFORM)
    with pytest.raises(AssertionError):
        domain.evolve(deleted, domain.AccountUpdated(account=state.data, internal=state.internal))


@pytest.mark.parametrize(
    ("origin", "target"), list(itertools.permutations(list(C), 2)), ids=lambda s: str(s)
)
def test_every_capability_move_is_in_the_table(origin: C, target: C) -> None:
    """A capability follows the account's information: every move can happen (see the table)."""
    assert target in domain.CAPABILITY_TRANSITIONS[origin]


def test_the_capability_moves_the_account_makes() -> None:
    seen: list[tuple[str, str]] = []

    def moved(before: State, after: State) -> None:
        for name in ("card_payments", "transfers"):
            old, new = (domain.capability_json(s, name)["status"] for s in (before, after))
            if old != new:
                assert C(new) in domain.CAPABILITY_TRANSITIONS[C(old)]
                seen.append((old, new))

    fresh = custom()
    pending = update(fresh, IDENTITY_LATER)  # inactive -> pending
    moved(fresh, pending)
    active = apply(pending, domain.decide_verify(pending, LATER))  # pending -> active
    moved(pending, active)
    renamed = update(active, {"individual": {"last_name": "Rosen-Smith"}})  # active -> pending
    moved(active, renamed)
    broken = update(renamed, {"individual": {"dob": {"day": 2, "month": 3, "year": 1980}}})
    moved(renamed, broken)  # pending -> inactive
    given_up = update(broken, {"capabilities": {"card_payments": {"requested": False}}})
    moved(broken, given_up)  # inactive -> unrequested
    assert seen == [
        ("inactive", "pending"),
        ("inactive", "pending"),
        ("pending", "active"),
        ("pending", "active"),
        ("active", "pending"),
        ("active", "pending"),
        ("pending", "inactive"),
        ("pending", "inactive"),
        ("inactive", "unrequested"),
    ]


# -- types and controllers -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("account_type", "payer", "losses", "collection", "dashboard"),
    [
        ("standard", "account", "stripe", "stripe", "full"),
        ("express", "application_express", "application", "stripe", "express"),
        ("custom", "application_custom", "application", "application", "none"),
    ],
)
def test_each_type_maps_to_its_controller_properties(
    account_type: str, payer: str, losses: str, collection: str, dashboard: str
) -> None:
    params: dict[str, Any] = {"type": account_type}
    if account_type != "standard":
        params["capabilities"] = CAPABILITIES
    state = create(params)
    assert state.data["type"] == account_type
    assert state.data["controller"] == {
        "fees": {"payer": payer},
        "is_controller": True,
        "losses": {"payments": losses},
        "requirement_collection": collection,
        "stripe_dashboard": {"type": dashboard},
        "type": "application",
    }


def test_without_type_or_controller_an_account_has_stripes_defaults() -> None:
    state = create({})
    assert state.data["type"] == "standard"
    assert state.data["controller"]["stripe_dashboard"] == {"type": "full"}
    assert state.data["capabilities"] == {"card_payments": "active", "transfers": "active"}


@pytest.mark.parametrize(
    ("controller", "account_type"),
    [
        (
            {"stripe_dashboard": {"type": "express"}, "losses": {"payments": "application"}},
            "express",
        ),
        (
            {
                "stripe_dashboard": {"type": "none"},
                "requirement_collection": "application",
                "losses": {"payments": "application"},
                "fees": {"payer": "application"},
            },
            "custom",
        ),
        ({"stripe_dashboard": {"type": "none"}}, "custom"),
        ({"fees": {"payer": "application"}}, "standard"),
    ],
)
def test_controller_properties_describe_an_account(
    controller: dict[str, Any], account_type: str
) -> None:
    params = {} if account_type == "standard" else {"capabilities": CAPABILITIES}
    state = create(params, controller)
    assert state.data["type"] == account_type
    got = state.data["controller"]
    assert got["stripe_dashboard"]["type"] == controller.get("stripe_dashboard", {}).get(
        "type", "full"
    )
    assert got["fees"]["payer"] == controller.get("fees", {}).get("payer", "account")
    assert got["requirement_collection"] == controller.get("requirement_collection", "stripe")
    # Described by controller properties, even a full-Dashboard account may ask for capabilities.
    assert not state.internal["typed"]


@pytest.mark.parametrize(
    ("controller", "param", "code", "message"),
    [
        ("express", "controller", None, "Invalid object"),
        (
            {"owner": "me"},
            "controller[owner]",
            "parameter_unknown",
            "Received unknown parameter: controller[owner]",
        ),
        (
            {"fees": {"payer": "stripe"}},
            "controller[fees][payer]",
            None,
            "Invalid controller[fees][payer]: must be one of account or application",
        ),
        (
            {"stripe_dashboard": {"type": "mobile"}},
            "controller[stripe_dashboard][type]",
            None,
            "Invalid controller[stripe_dashboard][type]: must be one of express, full, or none",
        ),
        ({"losses": {"who": "x"}}, "controller[losses][who]", "parameter_unknown", None),
        (
            {"stripe_dashboard": {"type": "none"}, "losses": {"payments": "application"}},
            "controller[losses][payments]",
            None,
            "When stripe_dashboard[type]=none and requirement_collection=stripe, Stripe must be "
            "liable for negative balances or refunds and chargebacks.",
        ),
        (
            {"requirement_collection": "application", "losses": {"payments": "application"}},
            "controller[stripe_dashboard][type]",
            None,
            None,
        ),
        (
            {"requirement_collection": "application", "stripe_dashboard": {"type": "none"}},
            "controller[losses][payments]",
            None,
            None,
        ),
    ],
)
def test_bad_controller_properties_are_refused(
    controller: Any, param: str, code: str | None, message: str | None
) -> None:
    error = refusal(lambda: create({"capabilities": CAPABILITIES}, controller))
    assert (error.param, error.code, error.http_status) == (param, code, 400)
    if message is not None:
        assert error.message == message


def test_type_and_controller_together_are_refused() -> None:
    error = refusal(lambda: create(CUSTOM, {"fees": {"payer": "application"}}))
    assert error.param == "controller"


def test_only_the_platform_creates_accounts() -> None:
    error = refusal(lambda: domain.decide_create(CUSTOM, None, NEW, platform=False))
    assert error.message == domain.MESSAGE_NOT_CONNECT and error.param is None


# -- capabilities at creation --------------------------------------------------------------------


def test_accounts_without_the_full_dashboard_must_request_capabilities() -> None:
    for account_type in ("custom", "express"):
        error = refusal(lambda t=account_type: create({"type": t}))
        assert (error.code, error.param) == ("parameter_missing", "capabilities")
        assert error.message == "Missing required param: capabilities."
    none_requested = {"transfers": {"requested": False}}
    assert refused({"capabilities": none_requested}, "capabilities").startswith(
        "You must request at least one capability"
    )


def test_standard_accounts_cannot_ask_for_capabilities() -> None:
    error = refusal(lambda: create({"type": "standard", "capabilities": CAPABILITIES}))
    assert error.message == domain.MESSAGE_STANDARD_CAPABILITIES
    state = create({"type": "standard"})
    error = refusal(lambda: update(state, {"capabilities": CAPABILITIES}))
    assert error.param == "capabilities"


def test_card_payments_need_transfers() -> None:
    message = refused({"capabilities": {"card_payments": {"requested": True}}}, "capabilities")
    assert message == domain.MESSAGE_CARD_PAYMENTS_WITHOUT_TRANSFERS
    state = custom()
    error = refusal(lambda: update(state, {"capabilities": {"transfers": {"requested": False}}}))
    assert error.message == domain.MESSAGE_CARD_PAYMENTS_WITHOUT_TRANSFERS


def test_only_card_payments_and_transfers_can_be_requested() -> None:
    refused(
        {"capabilities": {"treasury": {"requested": True}}},
        "capabilities[treasury]",
        "parameter_unsupported",
    )


def test_a_transfers_only_account_is_possible() -> None:
    state = custom(capabilities={"transfers": {"requested": True}})
    assert state.data["capabilities"] == {"transfers": "inactive"}
    assert domain.capability_json(state, "card_payments")["status"] == "unrequested"


def test_stripe_collected_accounts_are_onboarded() -> None:
    state = create({"type": "express", "capabilities": CAPABILITIES})
    assert state.data["capabilities"] == {"card_payments": "active", "transfers": "active"}
    assert state.data["charges_enabled"] and state.data["details_submitted"]
    assert requirements(state)["currently_due"] == ["external_account"]
    assert requirements(state)["past_due"] == [] and requirements(state)["disabled_reason"] is None
    assert not state.data["payouts_enabled"]
    assert domain.with_external_accounts(state.data, EXTERNAL)["payouts_enabled"]


# -- requirements of custom accounts -------------------------------------------------------------


def test_a_new_custom_account_needs_everything() -> None:
    state = custom()
    due = [
        "business_profile.mcc",
        "business_profile.url",
        "business_type",
        "tos_acceptance.date",
        "tos_acceptance.ip",
    ]
    assert requirements(state) == {
        "alternatives": [
            {
                "alternative_fields_due": ["business_profile.product_description"],
                "original_fields_due": ["business_profile.url"],
            }
        ],
        "current_deadline": None,
        "currently_due": sorted([*due, "external_account"]),
        "disabled_reason": "requirements.past_due",
        "errors": [],
        "eventually_due": sorted([*due, "external_account"]),
        "past_due": due,
        "pending_verification": [],
    }
    assert state.data["capabilities"] == {"card_payments": "inactive", "transfers": "inactive"}
    assert not state.data["charges_enabled"] and not state.data["details_submitted"]
    assert not state.data["payouts_enabled"]
    assert state.data["settings"]["payouts"]["debit_negative_balances"] is False
    assert state.data["tos_acceptance"]["service_agreement"] == "full"
    assert "individual" not in state.data and "company" not in state.data


def test_an_individual_in_the_us_needs_these_fields() -> None:
    state = custom(business_type="individual")
    assert requirements(state)["past_due"] == [
        "business_profile.mcc",
        "business_profile.url",
        "individual.address.city",
        "individual.address.line1",
        "individual.address.postal_code",
        "individual.address.state",
        "individual.dob.day",
        "individual.dob.month",
        "individual.dob.year",
        "individual.email",
        "individual.first_name",
        "individual.last_name",
        "individual.phone",
        "individual.ssn_last_4",
        "tos_acceptance.date",
        "tos_acceptance.ip",
    ]
    assert "individual.id_number" in requirements(state)["eventually_due"]
    person = state.data["individual"]
    assert (person["id"], person["account"], person["created"]) == ("person_1Domain", ACCOUNT, NOW)
    assert person["requirements"]["currently_due"][:2] == ["address.city", "address.line1"]
    assert person["verification"]["status"] == "unverified"


def test_an_individual_elsewhere_needs_no_state_nor_ssn() -> None:
    state = custom(business_type="individual", country="gb")
    assert state.data["country"] == "GB" and state.data["default_currency"] == "gbp"
    due = requirements(state)["currently_due"]
    assert "individual.address.state" not in due and "individual.ssn_last_4" not in due
    assert "individual.id_number" not in requirements(state)["eventually_due"]
    assert state.data["settings"]["payouts"]["schedule"] == {"delay_days": 3, "interval": "daily"}


def test_a_company_needs_its_fields() -> None:
    state = custom(business_type="company")
    assert [f for f in requirements(state)["currently_due"] if f.startswith("company.")] == [
        "company.address.city",
        "company.address.line1",
        "company.address.postal_code",
        "company.address.state",
        "company.name",
        "company.phone",
        "company.tax_id",
    ]
    assert state.data["company"]["tax_id_provided"] is False


def test_a_product_description_stands_for_a_website() -> None:
    state = custom(business_profile={"product_description": "Handmade mugs"})
    assert "business_profile.url" not in requirements(state)["currently_due"]
    assert requirements(state)["alternatives"] == []


def test_test_values_that_verify_at_once_activate_the_capabilities() -> None:
    state = verified()
    assert requirements(state)["currently_due"] == ["external_account"]
    assert requirements(state)["past_due"] == requirements(state)["errors"] == []
    assert requirements(state)["disabled_reason"] is None
    assert state.data["capabilities"] == {"card_payments": "active", "transfers": "active"}
    assert state.data["charges_enabled"] and state.data["details_submitted"]
    assert state.data["individual"]["verification"]["status"] == "verified"
    assert state.internal["verification_due_at"] is None
    assert domain.with_external_accounts(state.data, EXTERNAL)["payouts_enabled"]


def test_an_id_number_of_222222222_verifies_at_once() -> None:
    state = verified(dob={"day": 1, "month": 1, "year": 1901}, id_number="222222222")
    assert state.data["capabilities"]["transfers"] == "active"
    assert state.data["individual"]["id_number_provided"]
    assert "individual.id_number" not in requirements(state)["eventually_due"]


def test_1901_01_01_verifies_when_due_work_runs() -> None:
    state = verified(dob={"day": 1, "month": 1, "year": 1901})
    assert state.data["capabilities"] == {"card_payments": "pending", "transfers": "pending"}
    assert requirements(state)["pending_verification"] == [
        "individual.dob.day",
        "individual.dob.month",
        "individual.dob.year",
    ]
    assert requirements(state)["disabled_reason"] == "requirements.pending_verification"
    assert state.data["individual"]["verification"]["status"] == "pending"
    assert state.internal["verification_due_at"] == NOW
    # Unrelated changes leave the verification due when it was.
    noted = update(state, {"metadata": {"k": "v"}})
    assert noted.internal["verification_due_at"] == NOW
    done = apply(noted, domain.decide_verify(noted, LATER))
    assert done.data["capabilities"] == {"card_payments": "active", "transfers": "active"}
    assert requirements(done)["pending_verification"] == []
    assert done.internal["verification_due_at"] is None
    assert done.data["individual"]["verification"]["status"] == "verified"


def test_a_changed_identity_is_verified_again() -> None:
    state = verified(dob={"day": 1, "month": 1, "year": 1901})
    state = apply(state, domain.decide_verify(state, LATER))
    again = update(state, {"individual": {"first_name": "Jen"}}, now=LATER + 5)
    assert again.data["capabilities"]["transfers"] == "pending"
    assert again.internal["verification_due_at"] == LATER + 5
    back = update(again, {"individual": {"first_name": "Jenny"}}, now=LATER + 9)
    assert back.data["capabilities"]["transfers"] == "active"  # Stripe had verified that one


@pytest.mark.parametrize(
    ("individual", "code", "requirement"),
    [
        (
            {"dob": {"day": 15, "month": 6, "year": 1985}},
            "verification_failed_keyed_identity",
            "individual.verification.document",
        ),
        (
            {"address": {"line1": "address_no_match"}},
            "verification_failed_address_match",
            "individual.address.line1",
        ),
        (
            {"address": {"line1": "address_line1_no_match"}},
            "verification_failed_address_match",
            "individual.address.line1",
        ),
        ({"id_number": "111111111"}, "verification_failed_id_number_match", "individual.id_number"),
    ],
)
def test_test_values_that_fail_verification(
    individual: dict[str, Any], code: str, requirement: str
) -> None:
    merged = VERIFIED_INDIVIDUAL["individual"] | individual
    if "address" in individual:
        merged["address"] = VERIFIED_INDIVIDUAL["individual"]["address"] | individual["address"]
    state = custom(**(VERIFIED_INDIVIDUAL | {"individual": merged}))
    found = requirements(state)
    assert [(e["code"], e["requirement"]) for e in found["errors"]] == [(code, requirement)]
    assert requirement in found["currently_due"] and requirement in found["past_due"]
    assert found["disabled_reason"] == "requirements.past_due"
    assert state.data["capabilities"] == {"card_payments": "inactive", "transfers": "inactive"}
    person = state.data["individual"]
    assert person["verification"]["status"] == "unverified"
    assert person["requirements"]["errors"][0]["requirement"] == requirement.removeprefix(
        "individual."
    )
    assert state.internal["verification_due_at"] is None


COMPANY: dict[str, Any] = {
    "business_type": "company",
    "business_profile": {"mcc": "5734", "url": "shop.example"},
    "company": {
        "name": "Rosen LLC",
        "phone": "+15555550100",
        "address": {"line1": "1 Main St", "city": "SF", "postal_code": "94103", "state": "CA"},
        "tax_id": "222222222",
    },
    "tos_acceptance": {"date": NOW, "ip": "2001:db8::1"},
}


@pytest.mark.parametrize(
    ("tax_id", "capability", "error"),
    [
        ("222222222", "active", None),
        ("000000000", "pending", None),
        ("000000001", "pending", None),
        ("111111111", "inactive", "verification_failed_tax_id_match"),
        ("111111112", "inactive", "verification_failed_tax_id_not_issued"),
    ],
)
def test_company_tax_id_test_values(tax_id: str, capability: str, error: str | None) -> None:
    state = custom(**(COMPANY | {"company": COMPANY["company"] | {"tax_id": tax_id}}))
    assert state.data["capabilities"]["transfers"] == capability
    assert state.data["company"]["tax_id_provided"]
    assert [e["code"] for e in requirements(state)["errors"]] == ([error] if error else [])
    if capability == "pending":
        assert requirements(state)["pending_verification"] == ["company.tax_id"]
        done = apply(state, domain.decide_verify(state, LATER))
        assert done.data["capabilities"]["transfers"] == "active"


def test_changing_the_business_type_replaces_the_entity() -> None:
    state = verified()
    company = update(state, {"business_type": "company"})
    assert "individual" not in company.data and company.data["company"]["name"] is None
    assert company.data["capabilities"]["transfers"] == "inactive"
    person = update(company, {"business_type": "individual"})
    assert person.data["individual"]["id"] == "person_2Domain"
    assert person.data["individual"]["first_name"] is None


# -- updates, settings and refusals ------------------------------------------------------------


def test_an_update_that_changes_nothing_records_nothing() -> None:
    state = custom(metadata={"k": "v"})
    new = domain.NewAccount(ACCOUNT, "person_x", LATER)
    assert domain.decide_update(state, {"metadata": {"k": "v"}}, new) == []
    assert domain.decide_update(state, {}, new) == []


def test_profile_settings_and_metadata_are_written() -> None:
    state = custom(
        email="owner@shop.example",
        metadata={"a": "1", "b": "2"},
        business_profile={
            "name": "Shop",
            "support_email": "help@shop.example",
            "support_address": {"city": "SF"},
            "monthly_estimated_revenue": {"amount": 100_000, "currency": "USD"},
        },
        settings={
            "branding": {"primary_color": "#ff0000"},
            "card_payments": {
                "decline_on": {"cvc_failure": False},
                "statement_descriptor_prefix": "SHOP",
            },
            "payments": {"statement_descriptor": "SHOP EXAMPLE"},
            "payouts": {"debit_negative_balances": True, "statement_descriptor": "SHOP"},
        },
    )
    data = state.data
    assert data["email"] == "owner@shop.example"
    profile = data["business_profile"]
    assert (profile["name"], profile["support_email"]) == ("Shop", "help@shop.example")
    assert profile["support_address"]["city"] == "SF"
    assert profile["monthly_estimated_revenue"] == {"amount": 100_000, "currency": "usd"}
    settings = data["settings"]
    assert settings["branding"]["primary_color"] == "#ff0000"
    assert settings["card_payments"]["decline_on"] == {"avs_failure": True, "cvc_failure": False}
    assert settings["card_payments"]["statement_descriptor_prefix"] == "SHOP"
    assert settings["payments"]["statement_descriptor"] == "SHOP EXAMPLE"
    assert settings["payouts"]["debit_negative_balances"] is True
    updated = update(state, {"metadata": {"a": "", "c": "3"}, "email": ""})
    assert updated.data["metadata"] == {"b": "2", "c": "3"} and updated.data["email"] is None


@pytest.mark.parametrize(
    ("params", "param", "code"),
    [
        ({"business_profile": {"mcc": "57"}}, "business_profile[mcc]", None),
        ({"business_profile": {"url": "not a url"}}, "business_profile[url]", None),
        (
            {"business_profile": {"support_email": "nope"}},
            "business_profile[support_email]",
            "email_invalid",
        ),
        ({"email": "nope"}, "email", "email_invalid"),
        (
            {"business_profile": {"monthly_estimated_revenue": {"amount": -1, "currency": "usd"}}},
            "business_profile[monthly_estimated_revenue][amount]",
            None,
        ),
        ({"individual": {"first_name": "J"}}, "individual", None),
        ({"business_type": "individual", "company": {"name": "X"}}, "company", None),
        (
            {
                "business_type": "individual",
                "individual": {"dob": {"day": 30, "month": 2, "year": 1990}},
            },
            "individual[dob]",
            None,
        ),
        (
            {"business_type": "individual", "individual": {"ssn_last_4": "12a4"}},
            "individual[ssn_last_4]",
            None,
        ),
        (
            {"business_type": "individual", "individual": {"email": "x"}},
            "individual[email]",
            "email_invalid",
        ),
        (
            {"business_type": "individual", "individual": {"verification": {"document": {}}}},
            "individual[verification]",
            "parameter_unsupported",
        ),
        (
            {"business_type": "company", "company": {"verification": {"document": {}}}},
            "company[verification]",
            "parameter_unsupported",
        ),
        ({"tos_acceptance": {"ip": "300.1.1.1"}}, "tos_acceptance[ip]", None),
        ({"tos_acceptance": {"date": -5}}, "tos_acceptance[date]", None),
        (
            {"tos_acceptance": {"service_agreement": "partial"}},
            "tos_acceptance[service_agreement]",
            None,
        ),
        (
            {"tos_acceptance": {"service_agreement": "recipient"}},
            "capabilities[card_payments]",
            None,
        ),
        ({"default_currency": "eur"}, "default_currency", None),
        ({"default_currency": "xyz"}, "default_currency", None),
        ({"country": "ZZ"}, "country", None),
        ({"account_token": "ct_1"}, "account_token", "parameter_unsupported"),
        ({"external_account": "btok_us"}, "external_account", "parameter_unsupported"),
        ({"documents": {}}, "documents", "parameter_unsupported"),
        ({"bank_account": "btok_us"}, "bank_account", "parameter_unsupported"),
        (
            {"settings": {"branding": {"icon": "file_1"}}},
            "settings[branding][icon]",
            "parameter_unsupported",
        ),
        (
            {"settings": {"branding": {"primary_color": "red"}}},
            "settings[branding][primary_color]",
            None,
        ),
        ({"settings": {"card_issuing": {}}}, "settings[card_issuing]", "parameter_unsupported"),
        ({"settings": {"treasury": {}}}, "settings[treasury]", "parameter_unsupported"),
    ],
)
def test_bad_account_params_are_refused(
    params: dict[str, Any], param: str, code: str | None
) -> None:
    refused(params, param, code)


def test_only_the_platform_accepts_the_terms_for_custom_accounts() -> None:
    express = {"type": "express", "capabilities": CAPABILITIES}
    error = refusal(lambda: create(express | {"tos_acceptance": {"ip": "127.0.0.1"}}))
    assert (error.message, error.param) == (domain.MESSAGE_TOS_STRIPE_COLLECTS, "tos_acceptance")
    recipient = custom(
        capabilities={"transfers": {"requested": True}},
        tos_acceptance={"service_agreement": "recipient"},
    )
    assert recipient.data["tos_acceptance"]["service_agreement"] == "recipient"


# -- payout schedule ---------------------------------------------------------------------------

SCHEDULE = "settings[payouts][schedule]"


def schedule(state: State, **params: Any) -> dict[str, Any]:
    found: dict[str, Any] = update(state, {"settings": {"payouts": {"schedule": params}}}).data[
        "settings"
    ]["payouts"]["schedule"]
    return found


@pytest.mark.parametrize(
    ("country", "currency", "delay_days"),
    [("US", "usd", 2), ("CA", "cad", 2), ("GB", "gbp", 3), ("FR", "eur", 3), ("JP", "jpy", 4)],
)
def test_the_default_schedule_follows_the_country(
    country: str, currency: str, delay_days: int
) -> None:
    state = custom(country=country)
    assert state.data["default_currency"] == currency
    expected = {"delay_days": delay_days, "interval": "daily"}
    assert state.data["settings"]["payouts"]["schedule"] == expected


def test_schedules_change_as_stripe_allows() -> None:
    state = custom()
    assert schedule(state, interval="weekly", weekly_anchor="friday") == {
        "delay_days": 2,
        "interval": "weekly",
        "weekly_anchor": "friday",
    }
    assert schedule(state, interval="monthly", monthly_anchor=31, delay_days=7) == {
        "delay_days": 7,
        "interval": "monthly",
        "monthly_anchor": 31,
    }
    slow = update(state, {"settings": {"payouts": {"schedule": {"delay_days": 10}}}})
    assert schedule(slow, interval="manual") == {"delay_days": 10, "interval": "manual"}
    assert schedule(slow, delay_days="minimum") == {"delay_days": 2, "interval": "daily"}
    weekly = update(
        state,
        {"settings": {"payouts": {"schedule": {"interval": "weekly", "weekly_anchor": "monday"}}}},
    )
    assert schedule(weekly, interval="daily") == {"delay_days": 2, "interval": "daily"}
    assert schedule(weekly, delay_days=3)["weekly_anchor"] == "monday"


@pytest.mark.parametrize(
    ("params", "param", "code"),
    [
        ({"interval": "weekly"}, f"{SCHEDULE}[weekly_anchor]", "parameter_missing"),
        ({"interval": "monthly"}, f"{SCHEDULE}[monthly_anchor]", "parameter_missing"),
        ({"interval": "monthly", "monthly_anchor": 32}, f"{SCHEDULE}[monthly_anchor]", None),
        ({"interval": "monthly", "monthly_anchor": 0}, f"{SCHEDULE}[monthly_anchor]", None),
        ({"interval": "daily", "weekly_anchor": "monday"}, f"{SCHEDULE}[weekly_anchor]", None),
        ({"monthly_anchor": 3}, f"{SCHEDULE}[monthly_anchor]", None),
        ({"delay_days": 1}, f"{SCHEDULE}[delay_days]", None),
        ({"delay_days": domain.DELAY_DAYS_MAX + 1}, f"{SCHEDULE}[delay_days]", None),
    ],
)
def test_bad_schedules_are_refused(params: dict[str, Any], param: str, code: str | None) -> None:
    refused({"settings": {"payouts": {"schedule": params}}}, param, code)


def test_stripe_liable_accounts_keep_their_delay_but_change_their_interval() -> None:
    state = create({"type": "standard"})
    error = refusal(lambda: schedule(state, delay_days=5))
    assert error.param == f"{SCHEDULE}[delay_days]"
    assert schedule(state, interval="manual") == {"delay_days": 2, "interval": "manual"}
    assert schedule(state, delay_days=2) == {"delay_days": 2, "interval": "daily"}


# -- the platform's account ----------------------------------------------------------------------


def test_the_platforms_account_pays_out_when_asked() -> None:
    state = apply(None, domain.decide_open_platform(PLATFORM, NOW))
    assert_valid(state.data)
    data = state.data
    assert (data["id"], data["type"], data["country"]) == (PLATFORM, "standard", "US")
    assert data["controller"] == {"type": "account"}
    assert data["settings"]["payouts"]["schedule"] == {"delay_days": 2, "interval": "manual"}
    assert data["capabilities"] == {"card_payments": "active", "transfers": "active"}
    assert data["charges_enabled"] and data["details_submitted"]
    error = refusal(lambda: domain.decide_delete(state, PLATFORM))
    assert error.param == "account"
    # It sets its own payout delays (no platform is liable for it).
    assert schedule(state, delay_days=4) == {"delay_days": 4, "interval": "manual"}


# -- capabilities and external accounts on reading ---------------------------------------------


def test_capability_objects() -> None:
    state = custom(capabilities={"transfers": {"requested": True}})
    transfers = domain.capability_json(state, "transfers")
    assert transfers | {"requirements": None} == {
        "id": "transfers",
        "object": "capability",
        "account": ACCOUNT,
        "future_requirements": transfers["future_requirements"],
        "requested": True,
        "requested_at": NOW,
        "requirements": None,
        "status": "inactive",
    }
    assert "external_account" not in transfers["requirements"]["currently_due"]
    assert transfers["requirements"]["disabled_reason"] == "requirements.past_due"
    unrequested = domain.capability_json(state, "card_payments")
    assert (unrequested["status"], unrequested["requested"], unrequested["requested_at"]) == (
        "unrequested",
        False,
        None,
    )
    assert unrequested["requirements"]["currently_due"] == []
    active = domain.capability_json(verified(), "card_payments")
    assert active["status"] == "active" and active["requirements"]["currently_due"] == []
    for capability in (transfers, unrequested, active):
        assert_valid(capability)


def test_a_capability_given_up_stays_in_the_hash_as_inactive() -> None:
    state = verified()
    state = update(state, {"capabilities": {"card_payments": {"requested": False}}})
    assert state.data["capabilities"] == {"card_payments": "inactive", "transfers": "active"}
    assert domain.capability_json(state, "card_payments")["status"] == "unrequested"
    assert not state.data["charges_enabled"]
    again = update(state, {"capabilities": {"card_payments": {"requested": True}}}, now=LATER + 1)
    assert domain.capability_json(again, "card_payments")["requested_at"] == LATER + 1
    assert again.data["capabilities"]["card_payments"] == "active"


def test_giving_up_every_capability_disables_the_account() -> None:
    state = custom(
        capabilities={"transfers": {"requested": True}},
        **VERIFIED_INDIVIDUAL,
    )
    none = update(state, {"capabilities": {"transfers": {"requested": False}}})
    assert requirements(none)["disabled_reason"] == "action_required.requested_capabilities"


def test_external_accounts_complete_the_account_when_read() -> None:
    state = verified()
    empty = dict(EXTERNAL, data=[], total_count=0)
    alone = domain.with_external_accounts(state.data, empty)
    assert alone["requirements"]["currently_due"] == ["external_account"]
    assert not alone["payouts_enabled"]
    paid = domain.with_external_accounts(state.data, EXTERNAL)
    assert paid["external_accounts"] == EXTERNAL
    assert paid["requirements"]["currently_due"] == []
    assert paid["requirements"]["eventually_due"] == ["individual.id_number"]
    assert paid["payouts_enabled"]
    assert state.data["requirements"]["currently_due"] == ["external_account"]  # not changed
    unverified = domain.with_external_accounts(custom().data, EXTERNAL)
    assert not unverified["payouts_enabled"]
    assert "external_account" not in unverified["requirements"]["currently_due"]


# -- Stripe events -------------------------------------------------------------------------------


def stripe_events(before: State | None, events: list[DomainEvent]) -> list[tuple[str, Any]]:
    found = []
    for event in events:
        after = domain.evolve(before, event)
        found += [
            (s.type, s.previous_attributes) for s in domain.stripe_events(before, after, event)
        ]
        before = after
    return found


def test_stripe_publishes_no_event_for_creation_nor_deletion() -> None:
    created = domain.decide_create(CUSTOM, None, NEW, platform=True)
    assert stripe_events(None, created) == []
    state = apply(None, created)
    assert stripe_events(state, domain.decide_delete(state, PLATFORM)) == []


def test_updates_publish_account_and_capability_events() -> None:
    state = custom()
    new = domain.NewAccount(ACCOUNT, "person_2", LATER)
    params = VERIFIED_INDIVIDUAL
    found = stripe_events(state, domain.decide_update(state, params, new))
    assert [kind for kind, _ in found] == [
        "account.updated",
        "capability.updated",
        "capability.updated",
    ]
    account_previous = found[0][1]
    assert account_previous["business_type"] is None
    assert account_previous["capabilities"] == {
        "card_payments": "inactive",
        "transfers": "inactive",
    }
    assert found[1][1]["status"] == "inactive"
    metadata_only = stripe_events(state, domain.decide_update(state, {"metadata": {"k": "v"}}, new))
    assert metadata_only == [("account.updated", {"metadata": {"k": None}})]
    pending = update(state, IDENTITY_LATER)
    verified_events = stripe_events(pending, domain.decide_verify(pending, LATER))
    assert [(kind, previous.get("status")) for kind, previous in verified_events[1:]] == [
        ("capability.updated", "pending"),
        ("capability.updated", "pending"),
    ]
