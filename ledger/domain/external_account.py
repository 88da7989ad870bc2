"""External accounts: the bank accounts (`ba_…`) and debit cards (`card_…`) payouts go to.

An external account belongs to one Stripe account (the platform or a connected account) and
lives in that account's namespace, with `account` naming it. Only Stripe's documented test
values exist here: the test bank tokens (`btok_us_verified…`), US bank details with the test
routing number and the test account numbers, and the test debit-card tokens. Each carries how
payouts to it end (`internal["payout_failure_code"]`: None, or the failure code Stripe documents
for it) and whether it takes instant payouts.

Per account and currency, one external account is `default_for_currency`: the first one added,
or the last one made the default. Stripe's rule for deleting the default is `check_deletable`.
A payout that fails marks its destination `errored`; any update re-enables it (`new`).

Sources: https://docs.stripe.com/connect/testing#payouts (test bank numbers, tokens and debit
cards), https://docs.stripe.com/api/external_account_bank_accounts and
https://docs.stripe.com/api/external_account_cards (shapes, defaults, deletion rules),
https://docs.stripe.com/error-codes (account_number_invalid, invalid_card_type).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Final

from ledger.domain.aggregate import JSON, Aggregate, State, StripeEventSpec, diff_previous, register
from ledger.domain.cards import CardOutcome, TestCard, brand_for_number
from ledger.domain.events import DomainEvent
from ledger.domain.rules import apply_metadata, reject, reject_if
from ledger.errors import resource_missing

__all__ = [
    "BANK_ACCOUNT",
    "BANK_TOKENS",
    "CARD",
    "DEBIT_CARD_TOKENS",
    "MESSAGE_DELETE_DEFAULT",
    "MESSAGE_TEST_ACCOUNT_NUMBER",
    "OBJECTS",
    "TEST_ACCOUNT_NUMBERS",
    "TEST_ROUTING_NUMBER",
    "Appends",
    "BankDetails",
    "DebitCard",
    "ExternalAccountCreated",
    "ExternalAccountDeleted",
    "ExternalAccountErrored",
    "ExternalAccountUpdated",
    "NewExternalAccount",
    "bank_details_from_hash",
    "bank_details_from_token",
    "check_deletable",
    "debit_card_from_token",
    "decide_create",
    "decide_delete",
    "decide_errored",
    "decide_update",
    "deleted_json",
    "evolve",
    "stripe_events",
    "takes_instant_payouts",
]

Appends = list[tuple[str, list[DomainEvent]]]

OBJECTS: Final = ("bank_account", "card")
STATUS_NEW: Final = "new"
STATUS_ERRORED: Final = "errored"
STANDARD: Final = "standard"
INSTANT: Final = "instant"

# Stripe's US test routing number, and what each test account number does to payouts
# ("Payout succeeds", "Payout fails with a no_account code", …). 000888888883 succeeds as a
# standard payout but is not eligible for instant payouts.
TEST_ROUTING_NUMBER: Final = "110000000"
TEST_BANK_NAME: Final = "STRIPE TEST BANK"
ACCOUNT_NUMBER_SUCCEEDS: Final = "000123456789"
ACCOUNT_NUMBER_NO_INSTANT: Final = "000888888883"
TEST_ACCOUNT_NUMBERS: Final[Mapping[str, str | None]] = MappingProxyType(
    {
        ACCOUNT_NUMBER_SUCCEEDS: None,
        "000111111116": "no_account",
        "000111111113": "account_closed",
        "000222222227": "insufficient_funds",
        "000333333335": "debit_not_authorized",
        "000444444440": "invalid_currency",
        ACCOUNT_NUMBER_NO_INSTANT: None,
    }
)
# The test bank tokens and the test account number each stands for.
BANK_TOKENS: Final[Mapping[str, str]] = MappingProxyType(
    {
        "btok_us_verified": ACCOUNT_NUMBER_SUCCEEDS,
        "btok_us_verified_noAccount": "000111111116",
        "btok_us_verified_accountClosed": "000111111113",
        "btok_us_verified_insufficientFunds": "000222222227",
        "btok_us_verified_debitNotAuthorized": "000333333335",
        "btok_us_verified_invalidCurrency": "000444444440",
    }
)
# The only country (and its currency) whose bank accounts and debit cards the ledger knows.
COUNTRY: Final = "US"
COUNTRY_CURRENCY: Final = "usd"
ROUTING_NUMBER_DIGITS: Final = 9

MESSAGE_TEST_ACCOUNT_NUMBER: Final = (
    "You must use a test bank account number in test mode. Try 000123456789 or see more "
    "options at https://stripe.com/docs/connect/testing#account-numbers."
)
MESSAGE_DELETE_DEFAULT: Final = (
    "You cannot delete the default external account for your default currency. Please make "
    "another external account the default using the `default_for_currency` param, and then "
    "delete this one."
)
MESSAGE_NOT_DEBIT: Final = (
    "The card provided as an external account is not a debit card. Provide a debit card or use "
    "a bank account instead."
)


def _requirements() -> JSON:
    return {"currently_due": [], "errors": [], "past_due": [], "pending_verification": []}


def _fingerprint(*parts: str) -> str:
    """16 characters that identify the account number (global here; Stripe's are per account)."""
    digest = hashlib.sha256("\x1f".join(parts).encode()).hexdigest()
    return digest[:16]


# -- bank accounts ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BankDetails:
    """A US bank account as a token or the `bank_account` hash describes it."""

    account_number: str
    routing_number: str = TEST_ROUTING_NUMBER
    account_holder_name: str | None = None
    account_holder_type: str | None = None
    account_type: str | None = None

    @property
    def payout_failure_code(self) -> str | None:
        return TEST_ACCOUNT_NUMBERS[self.account_number]

    @property
    def instant(self) -> bool:
        return self.account_number != ACCOUNT_NUMBER_NO_INSTANT


def bank_details_from_token(token: str, param: str) -> BankDetails:
    """The test bank account a `btok_…` stands for; 404 for any other token."""
    number = BANK_TOKENS.get(token)
    if number is None:
        raise resource_missing("token", token, param)
    return BankDetails(account_number=number)


def bank_details_from_hash(value: JSON, param: str) -> BankDetails:
    """Check a `bank_account[…]` hash (keys and types already checked against the spec)."""
    country = str(value["country"]).upper()
    reject_if(
        country != COUNTRY,
        f"The ledger only models US bank accounts (country US); got {country}.",
        code="parameter_unsupported",
        param=f"{param}[country]",
    )
    currency = str(value.get("currency", COUNTRY_CURRENCY)).lower()
    reject_if(
        currency != COUNTRY_CURRENCY,
        f"Invalid currency: {currency}. A US bank account can only receive usd.",
        param=f"{param}[currency]",
    )
    reject_if(
        "documents" in value,
        "The ledger does not support bank account ownership documents (there is no Files API).",
        code="parameter_unsupported",
        param=f"{param}[documents]",
    )
    routing = value.get("routing_number")
    if routing is None:
        reject(
            "Missing required param: routing_number.",
            code="parameter_missing",
            param=f"{param}[routing_number]",
        )
    reject_if(
        len(routing) != ROUTING_NUMBER_DIGITS or not routing.isdigit(),
        "Routing number must have 9 digits",
        code="routing_number_invalid",
        param=f"{param}[routing_number]",
    )
    number = str(value["account_number"])
    reject_if(
        number not in TEST_ACCOUNT_NUMBERS,
        MESSAGE_TEST_ACCOUNT_NUMBER,
        code="account_number_invalid",
        param=f"{param}[account_number]",
    )
    return BankDetails(
        account_number=number,
        routing_number=routing,
        account_holder_name=value.get("account_holder_name"),
        account_holder_type=value.get("account_holder_type"),
        account_type=value.get("account_type"),
    )


def _bank_account_json(
    external_account_id: str, account: str, details: BankDetails, metadata: JSON
) -> JSON:
    methods = [INSTANT, STANDARD] if details.instant else [STANDARD]
    return {
        "id": external_account_id,
        "object": "bank_account",
        "account": account,
        "account_holder_name": details.account_holder_name,
        "account_holder_type": details.account_holder_type,
        "account_type": details.account_type,
        "available_payout_methods": methods,
        "bank_name": TEST_BANK_NAME if details.routing_number == TEST_ROUTING_NUMBER else None,
        "country": COUNTRY,
        "currency": COUNTRY_CURRENCY,
        "default_for_currency": False,
        "fingerprint": _fingerprint(details.routing_number, details.account_number),
        "future_requirements": _requirements(),
        "last4": details.account_number[-4:],
        "metadata": metadata,
        "requirements": _requirements(),
        "routing_number": details.routing_number,
        "status": STATUS_NEW,
    }


# -- debit cards --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DebitCard:
    """A test debit card that payouts can go to."""

    card: TestCard
    payout_failure_code: str | None = None
    instant: bool = True


def _debit(number: str, failure: str | None = None, *, instant: bool = True) -> DebitCard:
    card = TestCard(number, brand_for_number(number), "debit", COUNTRY, CardOutcome("succeeded"))
    return DebitCard(card, failure, instant)


_SUCCEEDS: Final = _debit("4000056655665556")
_MASTERCARD: Final = _debit("5200828282828210")
# The tokens of Stripe's payout test cards; `tok_visa_debit` and `tok_mastercard_debit` (the
# payment test tokens of the same numbers) work too.
DEBIT_CARD_TOKENS: Final[Mapping[str, DebitCard]] = MappingProxyType(
    {
        "tok_visa_debit_us_transferSuccess": _SUCCEEDS,
        "tok_visa_debit_us_transferFail": _debit("4000056655665572", "could_not_process"),
        "tok_visa_debit_us_instantPayoutUnsupported": _debit("4000056755665555", instant=False),
        "tok_mastercard_debit_us_transferSuccess": _MASTERCARD,
        "tok_discover_debit_us_transferSuccess": _debit("6011981111111113"),
        "tok_visa_debit": _SUCCEEDS,
        "tok_mastercard_debit": _MASTERCARD,
    }
)


def debit_card_from_token(
    token: str, param: str, payment_tokens: Mapping[str, TestCard]
) -> DebitCard:
    """The debit card a test token stands for.

    `payment_tokens` are the payment test tokens (`tok_visa`…): those of credit or prepaid
    cards are refused with Stripe's `invalid_card_type`; unknown tokens are 404.
    """
    found = DEBIT_CARD_TOKENS.get(token)
    if found is not None:
        return found
    card = payment_tokens.get(token)
    if card is None:
        raise resource_missing("token", token, param)
    reject_if(card.funding != "debit", MESSAGE_NOT_DEBIT, code="invalid_card_type", param=param)
    reject_if(
        card.country != COUNTRY,
        f"The ledger only models US debit cards for payouts; this card is from {card.country}.",
        code="parameter_unsupported",
        param=param,
    )
    return _debit(card.number)


_CARD_BRANDS: Final[Mapping[str, str]] = MappingProxyType(
    {"visa": "Visa", "mastercard": "MasterCard", "discover": "Discover"}
)


def _card_json(external_account_id: str, account: str, debit: DebitCard, metadata: JSON) -> JSON:
    card = debit.card
    return {
        "id": external_account_id,
        "object": "card",
        "account": account,
        "address_city": None,
        "address_country": None,
        "address_line1": None,
        "address_line1_check": None,
        "address_line2": None,
        "address_state": None,
        "address_zip": None,
        "address_zip_check": None,
        "available_payout_methods": [INSTANT, STANDARD] if debit.instant else [STANDARD],
        "brand": _CARD_BRANDS[card.brand],
        "country": card.country,
        "currency": COUNTRY_CURRENCY,
        # Test tokens are made with a CVC, which the test card passes.
        "cvc_check": "pass",
        "default_for_currency": False,
        "dynamic_last4": None,
        "exp_month": card.exp_month,
        "exp_year": card.exp_year,
        "fingerprint": card.fingerprint,
        "funding": card.funding,
        "last4": card.last4,
        "metadata": metadata,
        "name": None,
        "status": STATUS_NEW,
        "tokenization_method": None,
    }


def takes_instant_payouts(state: State) -> bool:
    """Whether payouts to this external account may use `method=instant`."""
    return INSTANT in state.data["available_payout_methods"]


# -- events -------------------------------------------------------------------------------------


class ExternalAccountCreated(DomainEvent):
    event_type = "external_account.created"
    external_account: JSON
    # `payout_failure_code`: how payouts to it end (None: they succeed); `created`.
    internal: JSON


class ExternalAccountUpdated(DomainEvent):
    event_type = "external_account.updated"
    changes: JSON


class ExternalAccountErrored(DomainEvent):
    """A payout to it failed: Stripe stops scheduled payouts to it until it is updated."""

    event_type = "external_account.errored"


class ExternalAccountDeleted(DomainEvent):
    event_type = "external_account.deleted"


# -- decisions ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class NewExternalAccount:
    """What a new external account needs: its id, owner, and the bank or card behind it."""

    external_account_id: str
    account: str
    created: int  # kept in `internal`: Stripe's JSON of external accounts has no `created`
    source: BankDetails | DebitCard
    default_for_currency: bool
    metadata: JSON


def decide_create(new: NewExternalAccount, current_default: State | None) -> Appends:
    """Add an external account; the first in its currency (or one asked to be) is the default.

    `current_default` is the account's present default in that currency, if any; it loses the
    flag when the new one takes it.
    """
    metadata = apply_metadata({}, new.metadata)
    if isinstance(new.source, BankDetails):
        data = _bank_account_json(new.external_account_id, new.account, new.source, metadata)
    else:
        data = _card_json(new.external_account_id, new.account, new.source, metadata)
    becomes_default = current_default is None or new.default_for_currency
    data["default_for_currency"] = becomes_default
    appends: Appends = []
    if becomes_default and current_default is not None:
        assert current_default.data["currency"] == data["currency"]
        appends.append(
            (
                current_default.data["id"],
                [ExternalAccountUpdated(changes={"default_for_currency": False})],
            )
        )
    internal = {"payout_failure_code": new.source.payout_failure_code, "created": new.created}
    created = ExternalAccountCreated(external_account=data, internal=internal)
    return [(new.external_account_id, [created]), *appends]


# Which update parameters apply to which kind of external account.
_BANK_FIELDS: Final = frozenset({"account_holder_name", "account_holder_type", "account_type"})
_CARD_FIELDS: Final = frozenset(
    {
        "address_city",
        "address_country",
        "address_line1",
        "address_line2",
        "address_state",
        "address_zip",
        "exp_month",
        "exp_year",
        "name",
    }
)
EXP_MONTH_MAX: Final = 12


def _card_expiry(params: JSON, now_year: int, years_ahead_max: int) -> JSON:
    changes: JSON = {}
    if "exp_month" in params:
        text = params["exp_month"]
        month = int(text) if text.isdigit() else 0
        reject_if(
            not 1 <= month <= EXP_MONTH_MAX,
            "Your card's expiration month is invalid.",
            code="invalid_expiry_month",
            param="exp_month",
        )
        changes["exp_month"] = month
    if "exp_year" in params:
        text = params["exp_year"]
        year = int(text) if text.isdigit() else 0
        reject_if(
            not now_year <= year <= now_year + years_ahead_max,
            "Your card's expiration year is invalid.",
            code="invalid_expiry_year",
            param="exp_year",
        )
        changes["exp_year"] = year
    return changes


def _field_changes(state: State, params: JSON, now_year: int, years_ahead_max: int) -> JSON:
    is_bank = state.data["object"] == "bank_account"
    own, other = (_BANK_FIELDS, _CARD_FIELDS) if is_bank else (_CARD_FIELDS, _BANK_FIELDS)
    for name in sorted(other & params.keys()):
        reject(
            f"Received unknown parameter: {name}. It applies to "
            f"{'cards' if is_bank else 'bank accounts'}, and this is a {state.data['object']}.",
            code="parameter_unknown",
            param=name,
        )
    reject_if(
        "documents" in params,
        "The ledger does not support bank account ownership documents (there is no Files API).",
        code="parameter_unsupported",
        param="documents",
    )
    changes: JSON = {}
    for name in sorted((own - {"exp_month", "exp_year"}) & params.keys()):
        # "" unsets a field (only account_holder_type takes it, per the spec).
        changes[name] = params[name] or None
    if not is_bank:
        changes |= _card_expiry(params, now_year, years_ahead_max)
    if "metadata" in params:
        changes["metadata"] = apply_metadata(state.data["metadata"], params["metadata"])
    return changes


def decide_update(
    state: State,
    params: JSON,
    current_default: State | None,
    *,
    now_year: int,
    years_ahead_max: int,
) -> Appends:
    """Update an external account; `default_for_currency=true` moves the default to it.

    Any update re-enables an account that a failed payout left `errored`, as Stripe documents.
    `current_default` is the account's default in this currency (maybe `state` itself).
    """
    data = state.data
    changes = _field_changes(state, params, now_year, years_ahead_max)
    appends: Appends = []
    wants_default = params.get("default_for_currency")
    if wants_default is False and data["default_for_currency"]:
        reject(
            "You cannot unset default_for_currency: make another external account in "
            f"{data['currency']} the default instead.",
            param="default_for_currency",
        )
    if wants_default is True and not data["default_for_currency"]:
        changes["default_for_currency"] = True
        if current_default is not None:
            appends.append(
                (
                    current_default.data["id"],
                    [ExternalAccountUpdated(changes={"default_for_currency": False})],
                )
            )
    if data["status"] == STATUS_ERRORED:
        changes["status"] = STATUS_NEW
    changes = {key: value for key, value in changes.items() if data[key] != value}
    if changes:
        appends.insert(0, (data["id"], [ExternalAccountUpdated(changes=changes)]))
    return appends


def check_deletable(state: State, others_in_currency: int, account_default_currency: str) -> None:
    """Stripe's rule: the default for a currency is deleted only when it is the last one in its
    currency and that currency is not the account's default currency."""
    data = state.data
    if not data["default_for_currency"]:
        return
    reject_if(
        others_in_currency > 0 or data["currency"] == account_default_currency,
        MESSAGE_DELETE_DEFAULT,
        param="id",
    )


def decide_delete(state: State) -> list[DomainEvent]:
    """Delete an external account (its JSON is kept; retrieves are then 404)."""
    assert not state.deleted
    return [ExternalAccountDeleted()]


def decide_errored(state: State) -> list[DomainEvent]:
    """A payout to this account failed; nothing to do if it is already errored or deleted."""
    if state.deleted or state.data["status"] == STATUS_ERRORED:
        return []
    return [ExternalAccountErrored()]


# -- evolve and Stripe events -------------------------------------------------------------------


def evolve(state: State | None, event: DomainEvent) -> State:
    match event:
        case ExternalAccountCreated(external_account=data, internal=internal):
            assert state is None and data["object"] in OBJECTS
            return State(data=data, internal=internal)
        case ExternalAccountUpdated(changes=changes):
            assert state is not None and not state.deleted and set(changes) <= set(state.data)
            return State(data=state.data | changes, internal=state.internal)
        case ExternalAccountErrored():
            assert state is not None and not state.deleted
            assert state.data["status"] != STATUS_ERRORED
            return State(data=state.data | {"status": STATUS_ERRORED}, internal=state.internal)
        case ExternalAccountDeleted():
            assert state is not None and not state.deleted
            return State(data=state.data, internal=state.internal, deleted=True)
    raise AssertionError(f"external account cannot apply {event.event_type}")


def stripe_events(before: State | None, after: State, event: DomainEvent) -> list[StripeEventSpec]:
    match event:
        case ExternalAccountCreated():
            return [StripeEventSpec("account.external_account.created", after.data)]
        case ExternalAccountUpdated() | ExternalAccountErrored():
            assert before is not None
            previous = diff_previous(before.data, after.data)
            return [StripeEventSpec("account.external_account.updated", after.data, previous)]
        case ExternalAccountDeleted():
            return [StripeEventSpec("account.external_account.deleted", after.data)]
    raise AssertionError(f"external account cannot apply {event.event_type}")


def deleted_json(state: State) -> dict[str, Any]:
    """Stripe's answer to a delete: `{"id", "object", "deleted": true}`."""
    return {"id": state.data["id"], "object": state.data["object"], "deleted": True}


BANK_ACCOUNT = register(Aggregate("bank_account", "ba", evolve, stripe_events))
CARD = register(Aggregate("card", "card", evolve, stripe_events))
