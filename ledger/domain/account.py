"""Connected accounts (Connect): the Account object, its capabilities and its requirements.

An Account lives in the platform's books: its stream id is the account id and its events are the
platform's. Its JSON is Stripe's for API 2024-11-20.acacia. What an account still has to provide
(`requirements`), its capabilities' statuses, `charges_enabled` and `details_submitted` are
derived from what was submitted, by the rules of Stripe's test mode
(https://docs.stripe.com/connect/testing):

* Accounts whose requirements the platform collects (`controller.requirement_collection:
  application`, which includes `type: custom`) must provide the fields Stripe lists for their
  business type. Identity is verified with Stripe's test values: date of birth 1901-01-01
  verifies (the next time due work runs), 1902-01-01 verifies at once, any other date fails;
  address line1 `address_no_match` / `address_line1_no_match` fails; id number `111111111`
  fails, `222222222` verifies at once. Company tax ids: `111111111` (no match) and `111111112`
  (not issued) fail, `222222222` verifies at once, others verify with due work.
* Accounts whose requirements Stripe collects (standard and express) are taken as having
  finished Stripe-hosted onboarding: their requested capabilities are active.

`external_accounts`, the `external_account` requirement and `payouts_enabled` depend on the
account's bank accounts and cards, which live in the connected account's own books: the stored
JSON is that of an account without one, and `with_external_accounts` completes it when read.
"""

from __future__ import annotations

import copy
import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from types import MappingProxyType
from typing import Any, Final

from ledger.domain.aggregate import JSON, Aggregate, State, StripeEventSpec, diff_previous, register
from ledger.domain.events import DomainEvent
from ledger.domain.rules import apply_metadata, check_email, reject, reject_if
from ledger.money import currency

__all__ = [
    "ACCOUNT",
    "CAPABILITY_NAMES",
    "CAPABILITY_TRANSITIONS",
    "COUNTRIES",
    "SUPPORTED_CAPABILITIES",
    "TRANSITIONS",
    "AccountCreated",
    "AccountDeleted",
    "AccountType",
    "AccountUpdated",
    "AccountVerified",
    "CapabilityStatus",
    "Controller",
    "Lifecycle",
    "NewAccount",
    "capability_json",
    "check_deletable",
    "decide_create",
    "decide_delete",
    "decide_open_platform",
    "decide_update",
    "decide_verify",
    "evolve",
    "parse_controller",
    "stripe_events",
    "with_external_accounts",
]


class AccountType(StrEnum):
    """An account's `type` (the legacy name of a set of controller properties)."""

    standard = "standard"
    express = "express"
    custom = "custom"


class Lifecycle(StrEnum):
    """Whether the account can still be used."""

    live = "live"
    deleted = "deleted"


# An account is deleted once, for good.
TRANSITIONS: Final[Mapping[Lifecycle, frozenset[Lifecycle]]] = MappingProxyType(
    {Lifecycle.live: frozenset({Lifecycle.deleted}), Lifecycle.deleted: frozenset()}
)


class CapabilityStatus(StrEnum):
    """A capability's `status` (the account's `capabilities` hash never shows `unrequested`)."""

    unrequested = "unrequested"
    pending = "pending"
    active = "active"
    inactive = "inactive"


C = CapabilityStatus

# Every change of status a capability can make. They are many because a capability follows the
# account's information: new or changed information can re-open verification (active ->
# pending), make a requirement due again (active -> inactive), or satisfy the last one.
CAPABILITY_TRANSITIONS: Final[Mapping[CapabilityStatus, frozenset[CapabilityStatus]]] = (
    MappingProxyType(
        {
            C.unrequested: frozenset({C.pending, C.active, C.inactive}),
            C.pending: frozenset({C.active, C.inactive, C.unrequested}),
            C.active: frozenset({C.pending, C.inactive, C.unrequested}),
            C.inactive: frozenset({C.pending, C.active, C.unrequested}),
        }
    )
)

# Every capability of the Accounts API (the `capabilities` hash of the spec).
CAPABILITY_NAMES: Final = frozenset(
    {
        "acss_debit_payments",
        "affirm_payments",
        "afterpay_clearpay_payments",
        "au_becs_debit_payments",
        "bacs_debit_payments",
        "bancontact_payments",
        "bank_transfer_payments",
        "blik_payments",
        "boleto_payments",
        "card_issuing",
        "card_payments",
        "cartes_bancaires_payments",
        "cashapp_payments",
        "eps_payments",
        "fpx_payments",
        "giropay_payments",
        "grabpay_payments",
        "ideal_payments",
        "india_international_payments",
        "jcb_payments",
        "klarna_payments",
        "konbini_payments",
        "legacy_payments",
        "link_payments",
        "oxxo_payments",
        "p24_payments",
        "paynow_payments",
        "promptpay_payments",
        "sepa_debit_payments",
        "sofort_payments",
        "tax_reporting_us_1099_k",
        "tax_reporting_us_1099_misc",
        "transfers",
        "treasury",
        "us_bank_account_ach_payments",
        "zip_payments",
    }
)
# The ledger moves card payments and transfers only.
SUPPORTED_CAPABILITIES: Final = ("card_payments", "transfers")


@dataclass(frozen=True, slots=True)
class Country:
    """What an account's country decides: its currency and its shortest payout delay."""

    currency: str
    delay_days_minimum: int


# The countries accounts can be opened in, with their standard payout speed (business days
# before a payment's funds can be paid out).
COUNTRIES: Final[Mapping[str, Country]] = MappingProxyType(
    {
        "US": Country("usd", 2),
        "CA": Country("cad", 2),
        "AU": Country("aud", 2),
        "GB": Country("gbp", 3),
        "IE": Country("eur", 3),
        "FR": Country("eur", 3),
        "DE": Country("eur", 3),
        "NL": Country("eur", 3),
        "ES": Country("eur", 3),
        "IT": Country("eur", 3),
        "JP": Country("jpy", 4),
    }
)
PLATFORM_COUNTRY: Final = "US"
# Stripe's documented bounds: delay days are at most a year, a monthly anchor is a day 1-31.
DELAY_DAYS_MAX: Final = 365
MONTHLY_ANCHOR_MAX: Final = 31

# Stripe's test values (https://docs.stripe.com/connect/testing).
DOB_VERIFIES: Final = (1901, 1, 1)
DOB_VERIFIES_AT_ONCE: Final = (1902, 1, 1)
ADDRESS_FAILS: Final = frozenset({"address_no_match", "address_line1_no_match"})
ID_NUMBER_FAILS: Final = "111111111"
ID_NUMBER_VERIFIES_AT_ONCE: Final = "222222222"
TAX_ID_NO_MATCH: Final = "111111111"
TAX_ID_NOT_ISSUED: Final = "111111112"
TAX_ID_VERIFIES_AT_ONCE: Final = "222222222"

EXTERNAL_ACCOUNT: Final = "external_account"
COMPANY_TYPES: Final = frozenset({"company", "government_entity", "non_profit"})

MESSAGE_NOT_CONNECT: Final = (
    "You can only create new accounts if you've signed up for Connect, which you can learn how "
    "to do at https://stripe.com/docs/connect."
)
MESSAGE_CARD_PAYMENTS_WITHOUT_TRANSFERS: Final = (
    "Accounts do not currently support `card_payments` without `transfers`. Please visit "
    "https://stripe.com/docs/connect/account-capabilities#card-payments for more details."
)
MESSAGE_STANDARD_CAPABILITIES: Final = (
    "You cannot create Standard connected accounts with capabilities via API."
)
MESSAGE_TOS_STRIPE_COLLECTS: Final = (
    "You cannot accept the Terms of Service on behalf of Standard and Express connected "
    "accounts (accounts where controller[requirement_collection] is stripe)."
)
MESSAGE_KEYED_IDENTITY: Final = (
    "The identity information you entered cannot be verified. Please correct any errors or "
    "upload a document that matches the identity fields (e.g., name and date of birth) that you "
    "entered."
)

_MCC = re.compile(r"^[0-9]{4}$")
_DIGITS = re.compile(r"^[0-9]+$")
_HEX_COLOR = re.compile(r"^#[0-9a-fA-F]{6}$")
_URL = re.compile(r"^(https?://)?[^\s/.]+(\.[^\s/.]+)+(/\S*)?$")


# -- controller ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Controller:
    """Who controls a connected account: fees, losses, requirements and its dashboard."""

    fees_payer: str  # account | application | application_custom | application_express
    losses_payments: str  # application | stripe
    requirement_collection: str  # application | stripe
    dashboard: str  # express | full | none

    def json(self) -> JSON:
        return {
            "fees": {"payer": self.fees_payer},
            "is_controller": True,
            "losses": {"payments": self.losses_payments},
            "requirement_collection": self.requirement_collection,
            "stripe_dashboard": {"type": self.dashboard},
            "type": "application",
        }

    @property
    def type(self) -> AccountType:
        # The 2024-11-20 spec knows no `type: none`: each dashboard maps to its legacy type.
        by_dashboard = {
            "full": AccountType.standard,
            "express": AccountType.express,
            "none": AccountType.custom,
        }
        return by_dashboard[self.dashboard]


# What each legacy `type` means, as Stripe maps it
# (https://docs.stripe.com/connect/migrate-to-controller-properties).
TYPE_CONTROLLERS: Final[Mapping[AccountType, Controller]] = MappingProxyType(
    {
        AccountType.standard: Controller("account", "stripe", "stripe", "full"),
        AccountType.express: Controller("application_express", "application", "stripe", "express"),
        AccountType.custom: Controller("application_custom", "application", "application", "none"),
    }
)

_CONTROLLER_CHOICES: Final[Mapping[str, tuple[str, ...]]] = MappingProxyType(
    {
        "controller[fees][payer]": ("account", "application"),
        "controller[losses][payments]": ("application", "stripe"),
        "controller[requirement_collection]": ("application", "stripe"),
        "controller[stripe_dashboard][type]": ("express", "full", "none"),
    }
)


def _hash(value: Any, param: str, keys: tuple[str, ...]) -> Mapping[str, Any]:
    reject_if(not isinstance(value, Mapping), "Invalid object", param=param)
    assert isinstance(value, Mapping)
    for key in value:
        reject_if(
            key not in keys,
            f"Received unknown parameter: {param}[{key}]",
            code="parameter_unknown",
            param=f"{param}[{key}]",
        )
    return value


def _choice(value: Any, param: str) -> str:
    choices = _CONTROLLER_CHOICES[param]
    if value not in choices:
        listed = ", ".join(choices[:-1]) + (", or " if len(choices) > 2 else " or ") + choices[-1]
        reject(f"Invalid {param}: must be one of {listed}", param=param)
    assert isinstance(value, str)
    return value


def parse_controller(value: Any) -> Controller:
    """The `controller` param of a new account (Stripe's defaults for what it leaves out).

    The API version's spec predates controller properties, so they are checked here.
    """
    top = _hash(
        value, "controller", ("fees", "losses", "requirement_collection", "stripe_dashboard")
    )
    fees = _hash(top.get("fees", {}), "controller[fees]", ("payer",))
    losses = _hash(top.get("losses", {}), "controller[losses]", ("payments",))
    dashboard = _hash(top.get("stripe_dashboard", {}), "controller[stripe_dashboard]", ("type",))
    controller = Controller(
        fees_payer=_choice(fees.get("payer", "account"), "controller[fees][payer]"),
        losses_payments=_choice(losses.get("payments", "stripe"), "controller[losses][payments]"),
        requirement_collection=_choice(
            top.get("requirement_collection", "stripe"), "controller[requirement_collection]"
        ),
        dashboard=_choice(dashboard.get("type", "full"), "controller[stripe_dashboard][type]"),
    )
    if controller.requirement_collection == "application":
        reject_if(
            controller.dashboard != "none",
            "When requirement_collection=application, the account cannot have access to a "
            "Stripe-hosted dashboard: stripe_dashboard[type] must be none.",
            param="controller[stripe_dashboard][type]",
        )
        reject_if(
            controller.losses_payments != "application",
            "When requirement_collection=application, the application must be liable for "
            "negative balances: losses[payments] must be application.",
            param="controller[losses][payments]",
        )
    reject_if(
        controller.dashboard == "none"
        and controller.requirement_collection == "stripe"
        and controller.losses_payments != "stripe",
        "When stripe_dashboard[type]=none and requirement_collection=stripe, Stripe must be liable "
        "for negative balances or refunds and chargebacks.",
        param="controller[losses][payments]",
    )
    return controller


def _controller(data: JSON) -> JSON:
    controller: JSON = data["controller"]
    return controller


def _platform_collects(data: JSON) -> bool:
    """Whether the platform collects the requirements (custom accounts) rather than Stripe."""
    return bool(_controller(data).get("requirement_collection") == "application")


def _platform_is_liable(data: JSON) -> bool:
    """Whether the platform (not Stripe) is liable for losses; then it sets payout delays."""
    # The platform's own account has no controlling application: it sets its own schedule.
    losses = _controller(data).get("losses")
    return losses is None or losses["payments"] == "application"


# -- events ----------------------------------------------------------------------------------


class AccountCreated(DomainEvent):
    event_type = "account.created"
    account: JSON
    # `capabilities` (name -> requested, requested_at), the test values' outcome for the
    # write-only id numbers, the identity verified by due work and when that work is due.
    internal: JSON


class AccountUpdated(DomainEvent):
    """The account's information changed: its new JSON (requirements derived again)."""

    event_type = "account.updated"
    account: JSON
    internal: JSON


class AccountVerified(DomainEvent):
    """Stripe finished verifying the identity it was checking (test value 1901-01-01…)."""

    event_type = "account.verified"
    account: JSON
    internal: JSON


class AccountDeleted(DomainEvent):
    event_type = "account.deleted"


# -- blank objects ---------------------------------------------------------------------------


def _address() -> JSON:
    return dict.fromkeys(("city", "country", "line1", "line2", "postal_code", "state"))


def _japan_address() -> JSON:
    return dict.fromkeys(("city", "country", "line1", "line2", "postal_code", "state", "town"))


def _requirements(*, deadline: bool = True) -> JSON:
    """Empty requirements; a Person's have no `current_deadline` nor `disabled_reason`."""
    empty: JSON = {
        "alternatives": [],
        "currently_due": [],
        "errors": [],
        "eventually_due": [],
        "past_due": [],
        "pending_verification": [],
    }
    if deadline:
        empty |= {"current_deadline": None, "disabled_reason": None}
    return dict(sorted(empty.items()))


def _document() -> JSON:
    return dict.fromkeys(("back", "details", "details_code", "front"))


def _person(person_id: str, account_id: str, created: int) -> JSON:
    """The Person of an individual's account, with nothing provided yet."""
    return {
        "id": person_id,
        "object": "person",
        "account": account_id,
        "address": _address(),
        "created": created,
        "dob": {"day": None, "month": None, "year": None},
        "email": None,
        "first_name": None,
        "future_requirements": _requirements(deadline=False),
        "id_number_provided": False,
        "last_name": None,
        "metadata": {},
        "phone": None,
        "relationship": {
            "director": False,
            "executive": False,
            "owner": False,
            "percent_ownership": None,
            "representative": False,
            "title": None,
        },
        "requirements": _requirements(deadline=False),
        "ssn_last_4_provided": False,
        "verification": {
            "additional_document": _document(),
            "details": None,
            "details_code": None,
            "document": _document(),
            "status": "unverified",
        },
    }


def _company() -> JSON:
    return {
        "address": _address(),
        "directors_provided": False,
        "executives_provided": False,
        "name": None,
        "owners_provided": False,
        "phone": None,
        "tax_id_provided": False,
        "vat_id_provided": False,
        "verification": {"document": _document()},
    }


def _schedule(interval: str, delay_days: int) -> JSON:
    return {"delay_days": delay_days, "interval": interval}


def _blank_account(
    account_id: str,
    created: int,
    country: str,
    controller: JSON,
    account_type: AccountType,
    schedule: JSON,
    debit_negative_balances: bool,
) -> JSON:
    """An account with Stripe's defaults and nothing submitted."""
    tos: JSON = {"date": None, "ip": None, "user_agent": None}
    if controller.get("requirement_collection") == "application":
        tos["service_agreement"] = "full"
    return {
        "id": account_id,
        "object": "account",
        "business_profile": {
            "annual_revenue": None,
            "estimated_worker_count": None,
            "mcc": None,
            "name": None,
            "product_description": None,
            "support_address": None,
            "support_email": None,
            "support_phone": None,
            "support_url": None,
            "url": None,
        },
        "business_type": None,
        "capabilities": {},
        "charges_enabled": False,
        "controller": controller,
        "country": country,
        "created": created,
        "default_currency": COUNTRIES[country].currency,
        "details_submitted": False,
        "email": None,
        "external_accounts": {
            "object": "list",
            "data": [],
            "has_more": False,
            "total_count": 0,
            "url": f"/v1/accounts/{account_id}/external_accounts",
        },
        "future_requirements": _requirements(),
        "metadata": {},
        "payouts_enabled": False,
        "requirements": _requirements(),
        "settings": {
            "bacs_debit_payments": {},
            "branding": dict.fromkeys(("icon", "logo", "primary_color", "secondary_color")),
            "card_issuing": {"tos_acceptance": {"date": None, "ip": None}},
            "card_payments": {
                "decline_on": {"avs_failure": True, "cvc_failure": True},
                "statement_descriptor_prefix": None,
                "statement_descriptor_prefix_kana": None,
                "statement_descriptor_prefix_kanji": None,
            },
            "dashboard": {"display_name": None, "timezone": "Etc/UTC"},
            "invoices": {"default_account_tax_ids": None},
            "payments": dict.fromkeys(
                (
                    "statement_descriptor",
                    "statement_descriptor_kana",
                    "statement_descriptor_kanji",
                    "statement_descriptor_prefix_kana",
                    "statement_descriptor_prefix_kanji",
                )
            ),
            "payouts": {
                "debit_negative_balances": debit_negative_balances,
                "schedule": schedule,
                "statement_descriptor": None,
            },
            "sepa_debit_payments": {},
        },
        "tos_acceptance": tos,
        "type": str(account_type),
    }


# -- applying params -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class NewAccount:
    """What a command gives the domain besides params: ids and the time."""

    account_id: str
    # The id the `individual` Person gets if this command makes the account an individual's.
    person_id: str
    now: int


def _text(value: Any) -> str | None:
    """A string param; `""` unsets."""
    return None if value == "" else value


def _merge(current: JSON | None, value: Any, blank: JSON) -> JSON | None:
    """An address (or other flat hash) after an update that names some of its keys."""
    if value == "":
        return None
    merged = dict(current if current is not None else blank)
    for key, item in value.items():
        merged[key] = _text(item)
    return merged


def _set_text(target: JSON, params: JSON, keys: tuple[str, ...]) -> None:
    for key in keys:
        if key in params:
            target[key] = _text(params[key])


def _unsupported(param: str, why: str) -> None:
    reject(
        f"The ledger does not support '{param}': {why}", code="parameter_unsupported", param=param
    )


def _apply_business_profile(data: JSON, params: JSON) -> None:
    profile = data["business_profile"]
    _set_text(profile, params, ("name", "product_description", "support_phone", "support_url"))
    if "mcc" in params:
        mcc = _text(params["mcc"])
        reject_if(
            mcc is not None and not _MCC.match(mcc),
            f"Invalid business_profile[mcc]: {mcc} is not a merchant category code (4 digits).",
            param="business_profile[mcc]",
        )
        profile["mcc"] = mcc
    if "url" in params:
        url = _text(params["url"])
        reject_if(
            url is not None and not _URL.match(url),
            "Not a valid URL",
            param="business_profile[url]",
        )
        profile["url"] = url
    if "support_email" in params:
        email = _text(params["support_email"])
        if email is not None:
            check_email(email, "business_profile[support_email]")
        profile["support_email"] = email
    if "support_address" in params:
        profile["support_address"] = _merge(
            profile["support_address"], params["support_address"], _address()
        )
    if "monthly_estimated_revenue" in params:
        revenue = params["monthly_estimated_revenue"]
        money = currency(
            revenue["currency"], "business_profile[monthly_estimated_revenue][currency]"
        )
        reject_if(
            revenue["amount"] < 0,
            "Invalid business_profile[monthly_estimated_revenue][amount]: must be at least 0",
            param="business_profile[monthly_estimated_revenue][amount]",
        )
        profile["monthly_estimated_revenue"] = {"amount": revenue["amount"], "currency": money.code}


def _apply_business_type(data: JSON, params: JSON, new: NewAccount) -> None:
    business_type = params["business_type"]
    if business_type == data["business_type"]:
        return
    data["business_type"] = business_type
    # The entity hash follows the business type: an individual's Person, or a company.
    data.pop("individual", None)
    data.pop("company", None)
    if business_type == "individual":
        data["individual"] = _person(new.person_id, data["id"], new.now)
    elif business_type in COMPANY_TYPES:
        data["company"] = _company()


def _dob(value: Any) -> JSON:
    if value == "":
        return {"day": None, "month": None, "year": None}
    try:
        date(value["year"], value["month"], value["day"])
    except ValueError:
        reject(
            "Invalid individual[dob]: "
            f"{value['year']}-{value['month']}-{value['day']} is not a date.",
            param="individual[dob]",
        )
    return {"day": value["day"], "month": value["month"], "year": value["year"]}


def _id_number_outcome(value: str) -> str:
    """What Stripe's test mode makes of an individual's id number: fails, at_once or verifies."""
    if value == ID_NUMBER_FAILS:
        return "fails"
    if value == ID_NUMBER_VERIFIES_AT_ONCE:
        return "at_once"
    return "verifies"


def _tax_id_outcome(value: str) -> str:
    """What Stripe's test mode makes of a company's tax id."""
    outcomes = {
        TAX_ID_NO_MATCH: "no_match",
        TAX_ID_NOT_ISSUED: "not_issued",
        TAX_ID_VERIFIES_AT_ONCE: "at_once",
    }
    return outcomes.get(value, "verifies")


def _apply_individual(data: JSON, internal: JSON, params: JSON) -> None:
    reject_if(
        data["business_type"] != "individual",
        "You cannot provide `individual` for an account whose business_type is "
        f"{data['business_type'] or 'not set'}: set business_type to individual.",
        param="individual",
    )
    if "verification" in params:
        _unsupported("individual[verification]", "identity documents are files (no Files API).")
    person = data["individual"]
    _set_text(
        person,
        params,
        (
            "first_name",
            "first_name_kana",
            "first_name_kanji",
            "gender",
            "last_name",
            "last_name_kana",
            "last_name_kanji",
            "maiden_name",
            "phone",
            "political_exposure",
        ),
    )
    for key in ("address", "registered_address"):
        if key in params:
            person[key] = _merge(person.get(key), params[key], _address()) or _address()
    for key in ("address_kana", "address_kanji"):
        if key in params:
            person[key] = _merge(person.get(key), params[key], _japan_address())
    if "email" in params:
        email = _text(params["email"])
        if email is not None:
            check_email(email, "individual[email]")
        person["email"] = email
    if "dob" in params:
        person["dob"] = _dob(params["dob"])
    if "full_name_aliases" in params:
        aliases = params["full_name_aliases"]
        person["full_name_aliases"] = [] if aliases == "" else list(aliases)
    if "metadata" in params:
        person["metadata"] = apply_metadata(person["metadata"], params["metadata"])
    if "ssn_last_4" in params:
        last_4 = params["ssn_last_4"]
        reject_if(
            not (len(last_4) == 4 and _DIGITS.match(last_4)),
            "Invalid individual[ssn_last_4]: must be the last 4 digits of a Social Security "
            "number.",
            param="individual[ssn_last_4]",
        )
        person["ssn_last_4_provided"] = True
    if "id_number" in params:
        number = params["id_number"]
        person["id_number_provided"] = number != ""
        internal["id_number"] = _id_number_outcome(number) if number else None
    if "id_number_secondary" in params:
        person["id_number_secondary_provided"] = params["id_number_secondary"] != ""


def _apply_company(data: JSON, internal: JSON, params: JSON) -> None:
    reject_if(
        data["business_type"] not in COMPANY_TYPES,
        "You cannot provide `company` for an account whose business_type is "
        f"{data['business_type'] or 'not set'}: set business_type to company, non_profit or "
        "government_entity.",
        param="company",
    )
    if "verification" in params:
        _unsupported("company[verification]", "verification documents are files (no Files API).")
    company = data["company"]
    _set_text(
        company,
        params,
        (
            "export_license_id",
            "export_purpose_code",
            "name",
            "name_kana",
            "name_kanji",
            "phone",
            "tax_id_registrar",
        ),
    )
    for flag in ("directors_provided", "executives_provided", "owners_provided"):
        if flag in params:
            company[flag] = params[flag]
    if "address" in params:
        company["address"] = _merge(company["address"], params["address"], _address()) or _address()
    for key in ("address_kana", "address_kanji"):
        if key in params:
            company[key] = _merge(company.get(key), params[key], _japan_address())
    if "structure" in params:
        if params["structure"] == "":
            company.pop("structure", None)
        else:
            company["structure"] = params["structure"]
    if "ownership_declaration" in params:
        declaration = params["ownership_declaration"]
        company["ownership_declaration"] = {
            "date": declaration.get("date"),
            "ip": declaration.get("ip"),
            "user_agent": declaration.get("user_agent"),
        }
    if "tax_id" in params:
        tax_id = params["tax_id"]
        company["tax_id_provided"] = tax_id != ""
        internal["tax_id"] = _tax_id_outcome(tax_id) if tax_id else None
    if "vat_id" in params:
        company["vat_id_provided"] = params["vat_id"] != ""
    # `registration_number` is write-only: Stripe shows nothing of it.


def _apply_tos(data: JSON, params: JSON) -> None:
    if not _platform_collects(data):
        reject(MESSAGE_TOS_STRIPE_COLLECTS, param="tos_acceptance")
    tos = data["tos_acceptance"]
    if "ip" in params:
        try:
            ipaddress.ip_address(params["ip"])
        except ValueError:
            reject(f"Invalid IP address: {params['ip']}", param="tos_acceptance[ip]")
        tos["ip"] = params["ip"]
    if "date" in params:
        reject_if(
            params["date"] < 0,
            f"Invalid tos_acceptance[date]: {params['date']}",
            param="tos_acceptance[date]",
        )
        tos["date"] = params["date"]
    _set_text(tos, params, ("user_agent",))
    if "service_agreement" in params:
        agreement = params["service_agreement"]
        reject_if(
            agreement not in ("full", "recipient"),
            "Invalid tos_acceptance[service_agreement]: must be one of full or recipient",
            param="tos_acceptance[service_agreement]",
        )
        tos["service_agreement"] = agreement


def _apply_schedule(data: JSON, params: JSON) -> None:
    schedule = data["settings"]["payouts"]["schedule"]
    interval = params.get("interval", schedule["interval"])
    delay_days = schedule["delay_days"]
    minimum = COUNTRIES[data["country"]].delay_days_minimum
    param = "settings[payouts][schedule]"
    if "delay_days" in params:
        wanted = params["delay_days"]
        wanted = minimum if wanted == "minimum" else wanted
        if wanted != delay_days:
            reject_if(
                not _platform_is_liable(data),
                "You cannot change the payout delay_days of an account whose losses Stripe is "
                "liable for (controller[losses][payments] is stripe).",
                param=f"{param}[delay_days]",
            )
        reject_if(
            not minimum <= wanted <= DELAY_DAYS_MAX,
            f"Invalid {param}[delay_days]: must be between {minimum} (the minimum for "
            f"{data['country']}) and {DELAY_DAYS_MAX}, or minimum.",
            param=f"{param}[delay_days]",
        )
        delay_days = wanted
    new: JSON = _schedule(interval, delay_days)
    for anchor, needs in (("weekly_anchor", "weekly"), ("monthly_anchor", "monthly")):
        value = params.get(anchor, schedule.get(anchor) if interval == needs else None)
        if anchor in params and interval != needs:
            reject(
                f"{param}[{anchor}] can only be set when {param}[interval] is {needs}.",
                param=f"{param}[{anchor}]",
            )
        if interval == needs:
            reject_if(
                value is None,
                f"Missing required param: {param}[{anchor}].",
                code="parameter_missing",
                param=f"{param}[{anchor}]",
            )
            new[anchor] = value
    if "monthly_anchor" in new:
        reject_if(
            not 1 <= new["monthly_anchor"] <= MONTHLY_ANCHOR_MAX,
            f"Invalid {param}[monthly_anchor]: must be a day of the month, 1-31",
            param=f"{param}[monthly_anchor]",
        )
    data["settings"]["payouts"]["schedule"] = new


def _apply_settings(data: JSON, params: JSON) -> None:
    settings = data["settings"]
    for product in ("card_issuing", "treasury"):
        if product in params:
            _unsupported(f"settings[{product}]", f"the ledger has no {product.replace('_', ' ')}.")
    if "branding" in params:
        branding = params["branding"]
        for image in ("icon", "logo"):
            if image in branding:
                _unsupported(f"settings[branding][{image}]", "images are files (no Files API).")
        for color in ("primary_color", "secondary_color"):
            value = _text(branding.get(color, settings["branding"][color]))
            reject_if(
                value is not None and not _HEX_COLOR.match(value),
                f"Invalid settings[branding][{color}]: must be a hex color such as #ff0000",
                param=f"settings[branding][{color}]",
            )
            settings["branding"][color] = value
    if "card_payments" in params:
        card_payments = params["card_payments"]
        settings["card_payments"]["decline_on"] |= card_payments.get("decline_on", {})
        _set_text(
            settings["card_payments"],
            card_payments,
            (
                "statement_descriptor_prefix",
                "statement_descriptor_prefix_kana",
                "statement_descriptor_prefix_kanji",
            ),
        )
    if "payments" in params:
        _set_text(
            settings["payments"],
            params["payments"],
            ("statement_descriptor", "statement_descriptor_kana", "statement_descriptor_kanji"),
        )
    if "payouts" in params:
        payouts = params["payouts"]
        if "debit_negative_balances" in payouts:
            settings["payouts"]["debit_negative_balances"] = payouts["debit_negative_balances"]
        _set_text(settings["payouts"], payouts, ("statement_descriptor",))
        if "schedule" in payouts:
            _apply_schedule(data, payouts["schedule"])


def _apply_capabilities(internal: JSON, params: JSON, now: int) -> None:
    requested = internal["capabilities"]
    for name, setting in params.items():
        if name not in SUPPORTED_CAPABILITIES:
            _unsupported(
                f"capabilities[{name}]", "the ledger has the card_payments and transfers only."
            )
        if "requested" not in setting:
            continue
        if setting["requested"]:
            current = requested.get(name)
            if current is None or not current["requested"]:
                requested[name] = {"requested": True, "requested_at": now}
        elif name in requested:
            requested[name] = {"requested": False, "requested_at": None}


def _check_capabilities(data: JSON, internal: JSON) -> None:
    """The capabilities requested must make sense together."""
    wanted = {name for name, c in internal["capabilities"].items() if c["requested"]}
    reject_if(
        "card_payments" in wanted and "transfers" not in wanted,
        MESSAGE_CARD_PAYMENTS_WITHOUT_TRANSFERS,
        param="capabilities",
    )
    reject_if(
        "card_payments" in wanted
        and data["tos_acceptance"].get("service_agreement") == "recipient",
        "Accounts under the recipient service agreement cannot request the card_payments "
        "capability.",
        param="capabilities[card_payments]",
    )


def _apply(data: JSON, internal: JSON, params: JSON, new: NewAccount) -> None:
    """Write validated `params` into the account's JSON and internal state (in place)."""
    for name in ("account_token", "bank_account", "documents", "external_account"):
        if name in params:
            why = {
                "account_token": "account tokens are not modelled (the Tokens API does not exist).",
                "documents": "documents are files (no Files API).",
            }.get(name, "add bank accounts and cards with led.accounts.external_accounts.")
            _unsupported(name, why)
    if "email" in params:
        email = _text(params["email"])
        if email is not None:
            check_email(email)
        data["email"] = email
    if "default_currency" in params:
        code = currency(params["default_currency"], "default_currency").code
        reject_if(
            code != COUNTRIES[data["country"]].currency,
            f"{code} is not a valid default currency for accounts in {data['country']}: use "
            f"{COUNTRIES[data['country']].currency}.",
            param="default_currency",
        )
        data["default_currency"] = code
    if "business_type" in params:
        _apply_business_type(data, params, new)
    if "business_profile" in params:
        _apply_business_profile(data, params["business_profile"])
    if "individual" in params:
        _apply_individual(data, internal, params["individual"])
    if "company" in params:
        _apply_company(data, internal, params["company"])
    if "tos_acceptance" in params:
        _apply_tos(data, params["tos_acceptance"])
    if "settings" in params:
        _apply_settings(data, params["settings"])
    if "metadata" in params:
        data["metadata"] = apply_metadata(data["metadata"], params["metadata"])
    if "capabilities" in params:
        _apply_capabilities(internal, params["capabilities"], new.now)
    _check_capabilities(data, internal)


# -- requirements ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Verification:
    """Where the verification of the submitted identity stands."""

    outcome: str  # none | failed | pending | verified
    key: str | None  # what was verified; due work verifies it again if it changed
    fields: tuple[str, ...]  # the fields being verified (pending_verification)
    errors: tuple[JSON, ...]


_NO_VERIFICATION: Final = Verification("none", None, (), ())


def _error(code: str, reason: str, requirement: str) -> JSON:
    return {"code": code, "reason": reason, "requirement": requirement}


def _verify_individual(data: JSON, internal: JSON) -> Verification:
    person = data["individual"]
    dob = person["dob"]
    if None in (dob["year"], dob["month"], dob["day"]):
        return _NO_VERIFICATION
    when = (dob["year"], dob["month"], dob["day"])
    line1 = person["address"]["line1"]
    id_outcome = internal.get("id_number")
    errors: list[JSON] = []
    if when not in (DOB_VERIFIES, DOB_VERIFIES_AT_ONCE):
        errors.append(
            _error(
                "verification_failed_keyed_identity",
                MESSAGE_KEYED_IDENTITY,
                "individual.verification.document",
            )
        )
    if line1 in ADDRESS_FAILS:
        errors.append(
            _error(
                "verification_failed_address_match",
                "The address you entered cannot be verified. Please correct it.",
                "individual.address.line1",
            )
        )
    if id_outcome == "fails":
        errors.append(
            _error(
                "verification_failed_id_number_match",
                "The id number you entered does not match the identity information.",
                "individual.id_number",
            )
        )
    key = f"individual|{when}|{line1}|{id_outcome}|{person['first_name']}|{person['last_name']}"
    fields = ["individual.dob.day", "individual.dob.month", "individual.dob.year"]
    fields += ["individual.id_number"] if person["id_number_provided"] else []
    if errors:
        return Verification("failed", key, (), tuple(errors))
    at_once = when == DOB_VERIFIES_AT_ONCE or id_outcome == "at_once"
    verified = at_once or internal.get("verified") == key
    return Verification("verified" if verified else "pending", key, tuple(fields), ())


def _verify_company(data: JSON, internal: JSON) -> Verification:
    company = data["company"]
    tax_outcome = internal.get("tax_id")
    if not company["tax_id_provided"] or tax_outcome is None:
        return _NO_VERIFICATION
    line1 = company["address"]["line1"]
    errors: list[JSON] = []
    if tax_outcome == "no_match":
        errors.append(
            _error(
                "verification_failed_tax_id_match",
                "The tax id you entered does not match the company's name.",
                "company.tax_id",
            )
        )
    if tax_outcome == "not_issued":
        errors.append(
            _error(
                "verification_failed_tax_id_not_issued",
                "The tax id you entered was never issued.",
                "company.tax_id",
            )
        )
    if line1 in ADDRESS_FAILS:
        errors.append(
            _error(
                "verification_failed_address_match",
                "The address you entered cannot be verified. Please correct it.",
                "company.address.line1",
            )
        )
    key = f"company|{tax_outcome}|{line1}|{company['name']}"
    if errors:
        return Verification("failed", key, (), tuple(errors))
    verified = tax_outcome == "at_once" or internal.get("verified") == key
    return Verification("verified" if verified else "pending", key, ("company.tax_id",), ())


def _verification(data: JSON, internal: JSON) -> Verification:
    if data["business_type"] == "individual":
        return _verify_individual(data, internal)
    if data["business_type"] in COMPANY_TYPES:
        return _verify_company(data, internal)
    return _NO_VERIFICATION


def _provided(data: JSON, path: str) -> bool:
    """Whether the account has a value at the requirement's dotted `path`."""
    if path == "business_profile.url":
        # A product description is Stripe's accepted alternative to a website.
        profile = data["business_profile"]
        return profile["url"] is not None or profile["product_description"] is not None
    special = {
        "individual.ssn_last_4": ("individual", ("ssn_last_4_provided", "id_number_provided")),
        "individual.id_number": ("individual", ("id_number_provided",)),
        "company.tax_id": ("company", ("tax_id_provided",)),
    }
    if path in special:
        entity, flags = special[path]
        return any(data[entity][flag] for flag in flags)
    value: Any = data
    for part in path.split("."):
        if not isinstance(value, dict) or value.get(part) is None:
            return False
        value = value[part]
    return True


def _fields_due(data: JSON) -> tuple[list[str], list[str]]:
    """(currently due, due later) for what the platform must collect, by business type."""
    us = data["country"] == "US"
    fields = [
        "business_profile.mcc",
        "business_profile.url",
        "tos_acceptance.date",
        "tos_acceptance.ip",
    ]
    later: list[str] = []
    business_type = data["business_type"]
    if business_type is None:
        fields.append("business_type")
    elif business_type == "individual":
        fields += [
            f"individual.address.{part}"
            for part in ("city", "line1", "postal_code", *(("state",) if us else ()))
        ]
        fields += ["individual.dob.day", "individual.dob.month", "individual.dob.year"]
        fields += ["individual.email", "individual.first_name", "individual.last_name"]
        fields += ["individual.phone", *(("individual.ssn_last_4",) if us else ())]
        later += ["individual.id_number"] if us else []
    else:
        fields += [
            f"company.address.{part}"
            for part in ("city", "line1", "postal_code", *(("state",) if us else ()))
        ]
        fields += ["company.name", "company.phone", "company.tax_id"]
    due = [field for field in fields if not _provided(data, field)]
    return due, [field for field in later if not _provided(data, field)]


def _capability_status(requested: bool, blocked: bool, pending: bool) -> CapabilityStatus:
    if not requested:
        return C.unrequested
    if blocked:
        return C.inactive
    return C.pending if pending else C.active


def _collected_requirements(data: JSON, verification: Verification) -> JSON:
    """The requirements of an account whose platform collects them (custom accounts)."""
    due, later = _fields_due(data)
    # No deadline: what is due is due now, hence past due (Stripe's new custom accounts too).
    currently_due = sorted({*due, *(error["requirement"] for error in verification.errors)})
    requirements = _requirements() | {
        "currently_due": sorted({*currently_due, EXTERNAL_ACCOUNT}),
        "errors": list(verification.errors),
        "eventually_due": sorted({*currently_due, *later, EXTERNAL_ACCOUNT}),
        "past_due": currently_due,
        "pending_verification": (
            sorted(verification.fields) if verification.outcome == "pending" else []
        ),
    }
    if "business_profile.url" in currently_due:
        requirements["alternatives"] = [
            {
                "alternative_fields_due": ["business_profile.product_description"],
                "original_fields_due": ["business_profile.url"],
            }
        ]
    return requirements


def _derive(data: JSON, internal: JSON, now: int) -> None:
    """Recompute requirements, capabilities and the account's flags (in place).

    A verification that starts is due `now`: the next due work completes it.
    """
    requested = {name: c["requested"] for name, c in internal["capabilities"].items()}
    if _platform_collects(data):
        verification = _verification(data, internal)
        requirements = _collected_requirements(data, verification)
    else:
        # Stripe collects: onboarding is taken as finished (see the module's docstring).
        verification = _NO_VERIFICATION
        requirements = _requirements() | {
            "currently_due": [EXTERNAL_ACCOUNT],
            "eventually_due": [EXTERNAL_ACCOUNT],
        }
    pending = verification.outcome == "pending"
    if verification.outcome == "verified":
        internal["verified"] = verification.key
    if not pending:
        internal["verifying"] = internal["verification_due_at"] = None
    elif internal["verifying"] != verification.key:
        internal["verifying"], internal["verification_due_at"] = verification.key, now
    blocked = bool(requirements["past_due"])
    statuses = {
        name: _capability_status(wanted, blocked, pending) for name, wanted in requested.items()
    }
    if blocked:
        requirements["disabled_reason"] = "requirements.past_due"
    elif not any(requested.values()):
        requirements["disabled_reason"] = "action_required.requested_capabilities"
    elif pending and C.active not in statuses.values():
        requirements["disabled_reason"] = "requirements.pending_verification"
    data["requirements"] = requirements
    # A capability that was requested and no longer is shows as inactive in the hash.
    data["capabilities"] = {
        name: str(C.inactive if status == C.unrequested else status)
        for name, status in sorted(statuses.items())
    }
    data["charges_enabled"] = statuses.get("card_payments") == C.active
    data["details_submitted"] = not blocked
    data["payouts_enabled"] = False  # until it has an external account: with_external_accounts
    if "individual" in data:
        _derive_person(data, verification)


def _derive_person(data: JSON, verification: Verification) -> None:
    """The individual's Person shows its part of the requirements and its verification."""
    prefix = "individual."

    def own(paths: list[str]) -> list[str]:
        return [path.removeprefix(prefix) for path in paths if path.startswith(prefix)]

    requirements = data["requirements"]
    person = data["individual"]
    person["requirements"] = _requirements(deadline=False) | {
        "currently_due": own(requirements["currently_due"]),
        "errors": [
            error | {"requirement": error["requirement"].removeprefix(prefix)}
            for error in requirements["errors"]
            if error["requirement"].startswith(prefix)
        ],
        "eventually_due": own(requirements["eventually_due"]),
        "past_due": own(requirements["past_due"]),
        "pending_verification": own(requirements["pending_verification"]),
    }
    status = {"verified": "verified", "pending": "pending"}.get(verification.outcome, "unverified")
    person["verification"]["status"] = status


# -- decisions -------------------------------------------------------------------------------


def _internal(capabilities: JSON, *, typed: bool) -> JSON:
    return {
        # name -> {requested, requested_at}; a name stays once requested.
        "capabilities": capabilities,
        # The test values' outcome for the write-only id numbers (Stripe never shows them).
        "id_number": None,
        "tax_id": None,
        # The identity (a key of what was submitted) verified, and the one being verified.
        "verified": None,
        "verifying": None,
        "verification_due_at": None,
        # Whether the account was described by its `type` (not by controller properties).
        "typed": typed,
    }


def _check_requested(internal: JSON) -> None:
    reject_if(
        not any(c["requested"] for c in internal["capabilities"].values()),
        "You must request at least one capability for this account: "
        "capabilities[card_payments][requested] or capabilities[transfers][requested].",
        param="capabilities",
    )


def decide_create(
    params: JSON, controller_param: Any, new: NewAccount, *, platform: bool
) -> list[DomainEvent]:
    """Open a connected account from validated `params` (and the raw `controller` param).

    `platform` is whether the platform asks: a connected account cannot have accounts.
    """
    reject_if(not platform, MESSAGE_NOT_CONNECT)
    typed = controller_param is None
    if "type" in params and not typed:
        reject(
            "You cannot specify both `type` and `controller`: describe the account with "
            "controller properties, or with its type.",
            param="controller",
        )
    if typed:
        account_type = AccountType(params.get("type", AccountType.standard))
        profile = TYPE_CONTROLLERS[account_type]
        reject_if(
            account_type == AccountType.standard and "capabilities" in params,
            MESSAGE_STANDARD_CAPABILITIES,
            param="capabilities",
        )
    else:
        profile = parse_controller(controller_param)
    country = params.get("country", PLATFORM_COUNTRY).upper()
    reject_if(
        country not in COUNTRIES,
        f"Country '{country}' is not supported by the ledger: accounts can be opened in "
        f"{', '.join(sorted(COUNTRIES))}.",
        param="country",
    )
    if profile.dashboard == "full":
        # Accounts with the full Stripe Dashboard get both unless they ask for others.
        capabilities = {
            name: {"requested": True, "requested_at": new.now} for name in SUPPORTED_CAPABILITIES
        }
    else:
        # Required at creation for accounts without the full Dashboard (2019-02-19).
        reject_if(
            "capabilities" not in params,
            "Missing required param: capabilities.",
            code="parameter_missing",
            param="capabilities",
        )
        capabilities = {}
    internal = _internal(capabilities, typed=typed)
    data = _blank_account(
        new.account_id,
        new.now,
        country,
        profile.json(),
        profile.type,
        _schedule("daily", COUNTRIES[country].delay_days_minimum),
        # Stripe's default: false where the platform collects requirements (custom accounts).
        debit_negative_balances=profile.requirement_collection != "application",
    )
    if "capabilities" in params:
        internal["capabilities"] = {}
    _apply(data, internal, params, new)
    _check_requested(internal)
    _derive(data, internal, new.now)
    return [AccountCreated(account=data, internal=internal)]


def decide_open_platform(account_id: str, created: int) -> list[DomainEvent]:
    """The platform's own account: standard, in the US, paid out only when asked."""
    data = _blank_account(
        account_id,
        created,
        PLATFORM_COUNTRY,
        {"type": "account"},
        AccountType.standard,
        # The ledger's choice: a platform pays out only when asked (payouts.create).
        _schedule("manual", COUNTRIES[PLATFORM_COUNTRY].delay_days_minimum),
        debit_negative_balances=True,
    )
    capabilities = {
        name: {"requested": True, "requested_at": created} for name in SUPPORTED_CAPABILITIES
    }
    internal = _internal(capabilities, typed=True)
    _derive(data, internal, created)
    return [AccountCreated(account=data, internal=internal)]


def decide_update(state: State, params: JSON, new: NewAccount) -> list[DomainEvent]:
    """Apply an update's validated params; nothing is recorded when nothing changes."""
    assert not state.deleted
    data, internal = copy.deepcopy(state.data), copy.deepcopy(state.internal)
    reject_if(
        "capabilities" in params
        and internal["typed"]
        and data["type"] == AccountType.standard
        and data["controller"]["type"] == "application",
        "You cannot request capabilities for Standard connected accounts via API: Stripe "
        "manages them.",
        param="capabilities",
    )
    _apply(data, internal, params, new)
    _derive(data, internal, new.now)
    if data == state.data and internal == state.internal:
        return []
    return [AccountUpdated(account=data, internal=internal)]


def decide_verify(state: State, now: int) -> list[DomainEvent]:
    """Due work: Stripe finishes verifying the identity the account submitted."""
    assert not state.deleted and state.internal["verification_due_at"] is not None
    verification = _verification(state.data, state.internal)
    assert verification.outcome == "pending" and verification.key == state.internal["verifying"]
    data, internal = copy.deepcopy(state.data), copy.deepcopy(state.internal)
    internal["verified"] = verification.key
    _derive(data, internal, now)
    return [AccountVerified(account=data, internal=internal)]


def check_deletable(state: State, platform_account_id: str) -> None:
    """Test-mode accounts can be deleted at any time; the platform's own cannot."""
    reject_if(
        state.data["id"] == platform_account_id,
        "You cannot delete your own account (the platform's) through the API.",
        param="account",
    )


def decide_delete(state: State, platform_account_id: str) -> list[DomainEvent]:
    """Delete a connected account; its id can no longer be used."""
    assert not state.deleted
    check_deletable(state, platform_account_id)
    return [AccountDeleted()]


# -- reading ---------------------------------------------------------------------------------


def with_external_accounts(data: JSON, external_accounts: JSON) -> JSON:
    """The account as it reads with its external accounts (a list object of them)."""
    account = copy.deepcopy(data)
    account["external_accounts"] = external_accounts
    if not external_accounts["data"]:
        return account
    requirements = account["requirements"]
    for key in ("currently_due", "eventually_due"):
        requirements[key] = [f for f in requirements[key] if f != EXTERNAL_ACCOUNT]
    capabilities = account["capabilities"]
    account["payouts_enabled"] = (
        not requirements["currently_due"]
        and requirements["disabled_reason"] is None
        and C.active in (capabilities.get("transfers"), capabilities.get("card_payments"))
    )
    return account


def capability_json(state: State, name: str) -> JSON:
    """The Capability object `name` of the account (`unrequested` if never asked for)."""
    data = state.data
    setting = state.internal["capabilities"].get(name)
    requested = bool(setting and setting["requested"])
    status = data["capabilities"].get(name) if requested else str(C.unrequested)
    requirements = _requirements()
    if requested and status != C.active:
        account = data["requirements"]
        requirements |= {
            key: [field for field in account[key] if field != EXTERNAL_ACCOUNT]
            for key in ("currently_due", "eventually_due", "past_due", "pending_verification")
        }
        requirements |= {
            "alternatives": account["alternatives"],
            "disabled_reason": account["disabled_reason"],
            "errors": account["errors"],
        }
    return {
        "id": name,
        "object": "capability",
        "account": data["id"],
        "future_requirements": _requirements(),
        "requested": requested,
        "requested_at": setting["requested_at"] if requested and setting else None,
        "requirements": requirements,
        "status": status,
    }


# -- evolve and Stripe events ----------------------------------------------------------------


def _moved(state: State, to: Lifecycle) -> None:
    current = Lifecycle.deleted if state.deleted else Lifecycle.live
    assert to in TRANSITIONS[current], f"{state.data['id']}: {current} -> {to}"


def _check_capabilities_moved(before: State, after: JSON) -> None:
    for name, status in after["capabilities"].items():
        old = before.data["capabilities"].get(name, str(C.unrequested))
        assert old == status or CapabilityStatus(status) in CAPABILITY_TRANSITIONS[C(old)]


def evolve(state: State | None, event: DomainEvent) -> State:
    match event:
        case AccountCreated(account=account, internal=internal):
            assert state is None and account["object"] == "account"
            return State(data=account, internal=internal)
        case (
            AccountUpdated(account=account, internal=internal)
            | AccountVerified(account=account, internal=internal)
        ):
            assert state is not None and not state.deleted and account["id"] == state.data["id"]
            _check_capabilities_moved(state, account)
            return State(data=account, internal=internal)
        case AccountDeleted():
            assert state is not None
            _moved(state, Lifecycle.deleted)
            return State(
                data=state.data,
                internal=state.internal | {"verification_due_at": None},
                deleted=True,
            )
    raise AssertionError(f"account cannot apply {event.event_type}")


def stripe_events(before: State | None, after: State, event: DomainEvent) -> list[StripeEventSpec]:
    match event:
        case AccountCreated() | AccountDeleted():
            # Stripe publishes no account.created nor account.deleted.
            return []
        case AccountUpdated() | AccountVerified():
            assert before is not None
            specs: list[StripeEventSpec] = []
            if after.data != before.data:
                specs.append(
                    StripeEventSpec(
                        "account.updated", after.data, diff_previous(before.data, after.data)
                    )
                )
            names = sorted({*before.internal["capabilities"], *after.internal["capabilities"]})
            for name in names:
                old, new = capability_json(before, name), capability_json(after, name)
                if old != new:
                    specs.append(
                        StripeEventSpec("capability.updated", new, diff_previous(old, new))
                    )
            return specs
    raise AssertionError(f"account cannot apply {event.event_type}")


ACCOUNT = register(Aggregate("account", "acct", evolve, stripe_events))
