"""PaymentIntents (`pi_…`): the state machine that guides one card payment to its end.

Statuses and the moves between them are the explicit `TRANSITIONS` table; which request may act
on an intent in which status is the `ACTIONS` table, and a request outside it is refused with
Stripe's `payment_intent_unexpected_state` (HTTP 400, the intent in the error body).

A confirmation is decided in two pure steps around the processor call the service makes:
`plan_confirm` validates the request and says what to ask the processor; `decide_attempt` turns
the processor's answer into events on the intent, its new charge and the charge's balance
transaction (one transaction; every object is its own stream). A decline is recorded as Stripe
records it (a failed charge; the intent back in `requires_payment_method` with
`last_payment_error`) and returned as `Attempt.decline` for the service to raise after commit.

Sources for behaviour and messages (quoted where they are used):
https://docs.stripe.com/payments/paymentintents/lifecycle, https://docs.stripe.com/api/payment_intents
and Stripe's responses as quoted in public issue trackers.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from types import MappingProxyType
from typing import Any, Final, NoReturn

from pydantic import Field

from ledger.domain import charge as charge_domain
from ledger.domain.aggregate import JSON, Aggregate, State, StripeEventSpec, register
from ledger.domain.application_fee import DirectCharge, check_destination_terms
from ledger.domain.cards import AUTHENTICATION_REQUIRED, CardOutcome, TestCard
from ledger.domain.events import DomainEvent
from ledger.domain.rules import apply_metadata, check_email, reject, reject_if
from ledger.errors import InvalidRequestError
from ledger.money import Pricing, check_charge_amount, currency
from ledger.processor import Authorization, AuthorizationRequest

__all__ = [
    "ACTIONS",
    "ACTION_RESULTS",
    "DEFAULT_CAPTURE_METHOD",
    "PAYMENT_INTENT",
    "TRANSITIONS",
    "Action",
    "Appends",
    "Attempt",
    "ConfirmPlan",
    "PaymentContext",
    "PaymentIntentAuthenticated",
    "PaymentIntentAuthorized",
    "PaymentIntentCanceled",
    "PaymentIntentCreated",
    "PaymentIntentPaymentChanged",
    "PaymentIntentPaymentFailed",
    "PaymentIntentRequiresAction",
    "PaymentIntentSucceeded",
    "PaymentIntentUpdated",
    "Status",
    "check_action",
    "check_payment_method",
    "decide_attempt",
    "decide_authenticated",
    "decide_authentication_failed",
    "decide_cancel",
    "decide_capture",
    "decide_create",
    "decide_expire",
    "decide_update",
    "evolve",
    "plan_after_authentication",
    "plan_confirm",
    "stripe_events",
    "unexpected_state",
]


class Status(StrEnum):
    """A PaymentIntent's `status`."""

    requires_payment_method = "requires_payment_method"
    requires_confirmation = "requires_confirmation"
    requires_action = "requires_action"
    processing = "processing"
    requires_capture = "requires_capture"
    canceled = "canceled"
    succeeded = "succeeded"


S = Status

# Every move a PaymentIntent can make. A failed attempt goes back to requires_payment_method
# (also from requires_payment_method itself: a decline leaves it where it was).
_ANY_OUTCOME: Final = frozenset(
    {
        S.requires_payment_method,
        S.requires_confirmation,
        S.requires_action,
        S.processing,
        S.requires_capture,
        S.succeeded,
        S.canceled,
    }
)
TRANSITIONS: Final[Mapping[Status, frozenset[Status]]] = MappingProxyType(
    {
        S.requires_payment_method: _ANY_OUTCOME,
        S.requires_confirmation: _ANY_OUTCOME,
        S.requires_action: _ANY_OUTCOME,
        S.processing: frozenset(
            {S.requires_payment_method, S.requires_capture, S.succeeded, S.canceled}
        ),
        S.requires_capture: frozenset({S.succeeded, S.canceled}),
        S.succeeded: frozenset(),  # terminal: refunds belong to the charge
        S.canceled: frozenset(),  # terminal
    }
)


class Action(StrEnum):
    """What a request (or the ledger itself) can do to a PaymentIntent."""

    confirm = "confirm"
    capture = "capture"
    cancel = "cancel"
    # Change what will be charged: amount, currency, payment_method, capture_method…
    update = "update"
    # Change what is only described: description, metadata, receipt_email, shipping…
    update_details = "update_details"
    # The cardholder completes (or fails) 3D Secure: the test helper.
    authenticate = "authenticate"
    # Seven days pass on an uncaptured authorization.
    expire = "expire"


_UPDATABLE: Final = frozenset(
    {S.requires_payment_method, S.requires_confirmation, S.requires_action}
)

ACTIONS: Final[Mapping[Action, frozenset[Status]]] = MappingProxyType(
    {
        # "Only a PaymentIntent with one of the following statuses may be confirmed:
        # requires_confirmation, requires_payment_method, requires_action."
        Action.confirm: _UPDATABLE,
        Action.capture: frozenset({S.requires_capture}),
        # https://docs.stripe.com/api/payment_intents/cancel: "requires_payment_method,
        # requires_capture, requires_confirmation, requires_action or, in rare cases, processing"
        Action.cancel: frozenset(
            {
                S.requires_payment_method,
                S.requires_capture,
                S.requires_confirmation,
                S.requires_action,
                S.processing,
            }
        ),
        Action.update: _UPDATABLE,
        Action.update_details: frozenset(Status),
        Action.authenticate: frozenset({S.requires_action}),
        Action.expire: frozenset({S.requires_capture}),
    }
)

# Where each action may lead (what `evolve` will accept after it).
ACTION_RESULTS: Final[Mapping[Action, frozenset[Status]]] = MappingProxyType(
    {
        Action.confirm: frozenset(
            {S.requires_payment_method, S.requires_action, S.requires_capture, S.succeeded}
        ),
        Action.capture: frozenset({S.succeeded}),
        Action.cancel: frozenset({S.canceled}),
        Action.update: frozenset({S.requires_payment_method, S.requires_confirmation}),
        Action.update_details: frozenset(),  # the status stays
        Action.authenticate: frozenset(
            {S.requires_payment_method, S.requires_confirmation, S.requires_capture, S.succeeded}
        ),
        Action.expire: frozenset({S.canceled}),
    }
)

DEFAULT_CAPTURE_METHOD: Final = "automatic_async"  # since API version 2024-04-10
CANCELLATION_REASON_EXPIRED: Final = "automatic"

_CARD_OPTIONS_DEFAULT: Final[Mapping[str, Any]] = MappingProxyType(
    {
        "installments": None,
        "mandate_options": None,
        "network": None,
        "request_three_d_secure": "automatic",
    }
)
_THREE_D_SECURE_REQUESTED: Final = frozenset({"any", "challenge"})
_DOC_URL: Final = "https://stripe.com/docs/error-codes/"

MESSAGE_MISSING_PAYMENT_METHOD: Final = (
    "You cannot confirm this PaymentIntent because it's missing a payment method. You can either "
    "update the PaymentIntent with a payment method and then confirm it again, or confirm it "
    "again directly with a payment method."
)
MESSAGE_RETURN_URL_REQUIRED: Final = (
    "A `return_url` must be specified because this Payment Intent is configured to "
    "automatically accept the payment methods enabled in the Dashboard, some of which may "
    "require a full page redirect to succeed. If you do not want to accept redirect-based "
    "payment methods, set `automatic_payment_methods[enabled]` to `true` and "
    "`automatic_payment_methods[allow_redirects]` to `never` when creating Setup Intents and "
    "Payment Intents."
)
MESSAGE_AUTHENTICATION_FAILURE: Final = (
    "The provided PaymentMethod has failed authentication. You can provide payment_method_data "
    "or a new PaymentMethod to attempt to fulfill this PaymentIntent again."
)
MESSAGE_CUSTOMER_SET: Final = (
    "You cannot modify `customer` on a PaymentIntent once it already has been set. To fulfill a "
    "payment with a different Customer, cancel this PaymentIntent and create a new one."
)

# Fields an update may change only while the intent can still be confirmed, in the order their
# errors are reported.
_PAYMENT_FIELDS: Final = (
    "amount",
    "currency",
    "customer",
    "payment_method",
    "payment_method_types",
    "payment_method_options",
    "capture_method",
    "setup_future_usage",
    "application_fee_amount",
    "transfer_data",
    "on_behalf_of",
)
_DETAIL_FIELDS: Final = (
    "description",
    "metadata",
    "receipt_email",
    "shipping",
    "statement_descriptor",
    "statement_descriptor_suffix",
    "transfer_group",
)


# -- events ----------------------------------------------------------------------------------


class PaymentIntentCreated(DomainEvent):
    event_type = "payment_intent.created"
    payment_intent: JSON
    internal: JSON


class PaymentIntentUpdated(DomainEvent):
    event_type = "payment_intent.updated"
    changes: JSON
    internal: JSON = Field(default_factory=dict)


class _Transition(DomainEvent):
    """A move to the status `to` with the field changes that go with it."""

    to: Status
    changes: JSON
    internal: JSON = Field(default_factory=dict)


class PaymentIntentRequiresAction(_Transition):
    event_type = "payment_intent.requires_action"


class PaymentIntentAuthenticated(_Transition):
    event_type = "payment_intent.authenticated"


class PaymentIntentPaymentChanged(_Transition):
    """An update changed what will be paid, or with what: the intent must be confirmed again."""

    event_type = "payment_intent.payment_changed"


class PaymentIntentAuthorized(_Transition):
    event_type = "payment_intent.authorized"


class PaymentIntentSucceeded(_Transition):
    event_type = "payment_intent.succeeded"


class PaymentIntentPaymentFailed(_Transition):
    event_type = "payment_intent.payment_failed"


class PaymentIntentCanceled(_Transition):
    event_type = "payment_intent.canceled"


# Appends to several streams, in order: [(stream id, events)].
Appends = list[tuple[str, list[DomainEvent]]]


# -- the action table ------------------------------------------------------------------------


def _statuses(statuses: frozenset[Status]) -> str:
    order = (
        S.requires_payment_method,
        S.requires_capture,
        S.requires_confirmation,
        S.requires_action,
        S.processing,
    )
    return ", ".join(s for s in order if s in statuses)


def unexpected_state(
    state: State, action: Action, *, field: str | None = None
) -> InvalidRequestError:
    """Stripe's `payment_intent_unexpected_state` error for `action` in the intent's status."""
    status = Status(state.data["status"])
    assert status not in ACTIONS[action], (action, status)
    param: str | None = None
    match action:
        case Action.confirm if status == S.succeeded:
            message = (
                "You cannot confirm this PaymentIntent because it has already succeeded after "
                "being previously confirmed."
            )
        case Action.confirm:
            message = (
                f"You cannot confirm this PaymentIntent because it has a status of {status}. "
                "Only a PaymentIntent with one of the following statuses may be confirmed: "
                "requires_confirmation, requires_payment_method, requires_action."
            )
        case Action.capture:
            message = (
                f"This PaymentIntent could not be captured because it has a status of {status}. "
                "Only a PaymentIntent with one of the following statuses may be captured: "
                "requires_capture."
            )
        case Action.cancel:
            message = (
                f"You cannot cancel this PaymentIntent because it has a status of {status}. Only "
                "a PaymentIntent with one of the following statuses may be canceled: "
                f"{_statuses(ACTIONS[Action.cancel])}."
            )
        case Action.update:
            name = field or "amount"
            param = name
            message = (
                f"This PaymentIntent's {name} could not be updated because it has a status of "
                f"{status}. You may only update the {name} of a PaymentIntent with one of the "
                "following statuses: requires_payment_method, requires_confirmation, "
                "requires_action."
            )
        case _:
            message = (
                f"This PaymentIntent cannot be {action.value}d because it has a status of {status}."
            )
    return InvalidRequestError(
        message,
        code="payment_intent_unexpected_state",
        param=param,
        payment_intent=state.data,
    )


def check_action(state: State, action: Action, *, field: str | None = None) -> None:
    """Refuse `action` unless the ACTIONS table allows it in the intent's status."""
    if Status(state.data["status"]) not in ACTIONS[action]:
        raise unexpected_state(state, action, field=field)


def _refuse(
    state: State, message: str, *, code: str | None = None, param: str | None = None
) -> NoReturn:
    raise InvalidRequestError(message, code=code, param=param, payment_intent=state.data)


# -- create and update -----------------------------------------------------------------------


def _transfer_data(value: JSON, amount: int, param: str = "transfer_data") -> JSON:
    destination = value.get("destination")
    if destination is not None:
        reject_if(
            not isinstance(destination, str) or not destination.startswith("acct_"),
            f"Invalid {param}[destination]: must be a connected account id (acct_…)",
            param=f"{param}[destination]",
        )
    result: JSON = {"destination": destination}
    if value.get("amount") is not None:
        reject_if(
            value["amount"] > amount,
            f"The {param}[amount] ({value['amount']}) must be less than or equal to the amount "
            f"of the payment ({amount}).",
            param=f"{param}[amount]",
        )
        reject_if(value["amount"] < 0, f"Invalid {param}[amount]", param=f"{param}[amount]")
        result["amount"] = value["amount"]
    return result


def _check_application_fee(
    fee: int | None, amount: int, param: str = "application_fee_amount"
) -> None:
    if fee is None:
        return
    reject_if(fee < 0, f"Invalid {param}: must be at least 0", param=param)
    reject_if(
        fee > amount,
        f"The {param} ({fee}) must be less than or equal to the amount ({amount}).",
        param=param,
    )


def _check_destination_terms(data: JSON) -> None:
    transfer_data = data["transfer_data"]
    check_destination_terms(
        data["application_fee_amount"],
        None if transfer_data is None else transfer_data.get("amount"),
    )


def _transfer_group(data: JSON) -> str | None:
    """A destination charge's transfer group: the intent's, or `group_<intent id>` (Stripe's)."""
    if data["transfer_group"] is None and data["transfer_data"] is not None:
        return f"group_{data['id']}"
    group: str | None = data["transfer_group"]
    return group


def _check_on_behalf_of(value: str | None) -> None:
    reject_if(
        value is not None and not value.startswith("acct_"),
        f"Invalid on_behalf_of: '{value}' is not a connected account id (acct_…)",
        param="on_behalf_of",
    )


def _payment_method_types(params: JSON) -> tuple[list[str], JSON | None]:
    """`payment_method_types` and `automatic_payment_methods`, with acacia's defaults."""
    if "payment_method_types" in params and "automatic_payment_methods" in params:
        reject(
            "You may only specify one of these parameters: automatic_payment_methods, "
            "payment_method_types.",
            code="parameters_exclusive",
            param="automatic_payment_methods",
        )
    if "payment_method_types" in params:
        types = list(dict.fromkeys(params["payment_method_types"]))
        for name in types:
            reject_if(
                name != "card",
                f"The ledger supports only card payments; payment method type '{name}' is not "
                "supported yet.",
                code="parameter_unsupported",
                param="payment_method_types",
            )
        return types or ["card"], None
    automatic = params.get("automatic_payment_methods", {"enabled": True})
    if not automatic["enabled"]:
        return ["card"], None
    # Since 2023-08-16 PaymentIntents accept the dashboard's payment methods by default, with
    # redirects allowed (https://docs.stripe.com/upgrades#2023-08-16); here the only one is card.
    return ["card"], {
        "allow_redirects": automatic.get("allow_redirects", "always"),
        "enabled": True,
    }


def _card_options(current: JSON | None, params: JSON) -> JSON:
    options = dict(current or _CARD_OPTIONS_DEFAULT)
    value = params.get("payment_method_options")
    if not value:
        return {"card": options}
    for name in value:
        reject_if(
            name != "card",
            f"The ledger supports only card payments; payment_method_options[{name}] is not "
            "supported yet.",
            code="parameter_unsupported",
            param=f"payment_method_options[{name}]",
        )
    card = value.get("card") or {}
    for key in ("request_three_d_secure", "capture_method", "setup_future_usage", "network"):
        if key in card:
            if card[key] == "":
                options.pop(key, None)
                if key in _CARD_OPTIONS_DEFAULT:
                    options[key] = _CARD_OPTIONS_DEFAULT[key]
            else:
                options[key] = card[key]
    return {"card": options}


def _detail_changes(current: JSON, params: JSON) -> JSON:
    changes: JSON = {}
    for key in ("description", "statement_descriptor", "statement_descriptor_suffix"):
        if key in params:
            changes[key] = params[key] or None
    if "transfer_group" in params:
        changes["transfer_group"] = params["transfer_group"] or None
    if "receipt_email" in params:
        email = params["receipt_email"] or None
        if email is not None:
            check_email(email, "receipt_email")
        changes["receipt_email"] = email
    if "shipping" in params:
        changes["shipping"] = charge_domain.shipping_json(params["shipping"])
    if "metadata" in params:
        changes["metadata"] = apply_metadata(current.get("metadata") or {}, params["metadata"])
    return changes


def decide_create(
    payment_intent_id: str,
    created: int,
    client_secret: str,
    params: JSON,
    *,
    payment_method: str | None,
    payment_method_configuration: str,
    application: str | None = None,
) -> list[DomainEvent]:
    """Create a PaymentIntent from validated params (its customer and PaymentMethod exist).

    `application`: the platform's Connect application, for an intent it creates in a connected
    account (a direct charge).
    """
    money = currency(params["currency"])
    amount = params["amount"]
    check_charge_amount(amount, money)
    _check_application_fee(params.get("application_fee_amount"), amount)
    _check_on_behalf_of(params.get("on_behalf_of"))
    types, automatic = _payment_method_types(params)
    transfer_data = params.get("transfer_data")
    intent: JSON = {
        "id": payment_intent_id,
        "object": "payment_intent",
        "amount": amount,
        "amount_capturable": 0,
        "amount_details": {"tip": {}},
        "amount_received": 0,
        "application": application,
        "application_fee_amount": params.get("application_fee_amount"),
        "automatic_payment_methods": automatic,
        "canceled_at": None,
        "cancellation_reason": None,
        "capture_method": params.get("capture_method", DEFAULT_CAPTURE_METHOD),
        "client_secret": client_secret,
        "confirmation_method": params.get("confirmation_method", "automatic"),
        "created": created,
        "currency": money.code,
        "customer": params.get("customer"),
        "description": None,
        "invoice": None,
        "last_payment_error": None,
        "latest_charge": None,
        "livemode": False,
        "metadata": {},
        "next_action": None,
        "on_behalf_of": params.get("on_behalf_of"),
        "payment_method": payment_method,
        "payment_method_configuration_details": (
            None if automatic is None else {"id": payment_method_configuration, "parent": None}
        ),
        "payment_method_options": _card_options(None, params),
        "payment_method_types": types,
        "processing": None,
        "receipt_email": None,
        "review": None,
        "setup_future_usage": params.get("setup_future_usage"),
        "shipping": None,
        "source": None,
        "statement_descriptor": None,
        "statement_descriptor_suffix": None,
        "status": (
            S.requires_confirmation.value if payment_method else S.requires_payment_method.value
        ),
        "transfer_data": None if transfer_data is None else _transfer_data(transfer_data, amount),
        "transfer_group": None,
    }
    intent |= _detail_changes(intent, params)
    _check_destination_terms(intent)
    internal: JSON = {
        "return_url": params.get("return_url"),
        "radar_session": (params.get("radar_options") or {}).get("session"),
        "authenticated": False,
        "attempts": 0,
    }
    return [PaymentIntentCreated(payment_intent=intent, internal=internal)]


def decide_update(
    state: State, params: JSON, *, payment_method: str | None = None
) -> list[DomainEvent]:
    """Update a PaymentIntent; payment fields only while it can still be confirmed.

    `payment_method` is the id of the PaymentMethod `params["payment_method"]` names (a test id
    resolves to a new one). Nothing is recorded when nothing changes.
    """
    data = state.data
    for name in _PAYMENT_FIELDS:
        if name in params:
            check_action(state, Action.update, field=name)
    if any(name in params for name in _DETAIL_FIELDS):
        check_action(state, Action.update_details)
    if "customer" in params and data["customer"] not in (None, params["customer"]):
        _refuse(state, MESSAGE_CUSTOMER_SET, param="customer")
    changes: JSON = _detail_changes(data, params)
    amount: int = params["amount"] if "amount" in params else data["amount"]
    money = currency(params["currency"] if "currency" in params else data["currency"])
    if "amount" in params or "currency" in params:
        check_charge_amount(amount, money)
        changes |= {"amount": amount, "currency": money.code}
    if "application_fee_amount" in params:
        fee = params["application_fee_amount"] or None
        _check_application_fee(fee, amount)
        changes["application_fee_amount"] = fee
    else:
        _check_application_fee(data["application_fee_amount"], amount)
    if "customer" in params:
        changes["customer"] = params["customer"]
    if "capture_method" in params:
        changes["capture_method"] = params["capture_method"]
    if "setup_future_usage" in params:
        changes["setup_future_usage"] = params["setup_future_usage"] or None
    if "on_behalf_of" in params:
        _check_on_behalf_of(params["on_behalf_of"] or None)
        changes["on_behalf_of"] = params["on_behalf_of"] or None
    if "transfer_data" in params:
        # An update changes only transfer_data[amount]; the destination is set at creation.
        current = data["transfer_data"]
        reject_if(
            current is None,
            "This PaymentIntent has no transfer_data to update.",
            param="transfer_data[amount]",
        )
        assert current is not None
        changes["transfer_data"] = _transfer_data(current | params["transfer_data"], amount)
    if "payment_method_types" in params:
        types, automatic = _payment_method_types(
            {"payment_method_types": params["payment_method_types"]}
        )
        changes |= {
            "payment_method_types": types,
            "automatic_payment_methods": automatic,
            "payment_method_configuration_details": None,
        }
    if "payment_method_options" in params:
        changes["payment_method_options"] = _card_options(
            data["payment_method_options"].get("card"), params
        )
    if "payment_method" in params:
        changes["payment_method"] = payment_method
    changes = {key: value for key, value in changes.items() if data.get(key) != value}
    if not changes:
        return []
    _check_destination_terms(data | changes)
    # Changing what will be paid, or with what, asks for a new confirmation.
    status = Status(data["status"])
    if set(changes) & set(_PAYMENT_FIELDS) and status in _UPDATABLE:
        # A pending or completed authentication was for the old payment.
        method = changes.get("payment_method", data["payment_method"])
        target = S.requires_confirmation if method else S.requires_payment_method
        return [
            PaymentIntentPaymentChanged(
                to=target,
                changes=changes | {"next_action": None},
                internal={"authenticated": False},
            )
        ]
    return [PaymentIntentUpdated(changes=changes)]


# -- confirmation ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ConfirmPlan:
    """A validated confirmation: the intent's changes and what to ask the processor."""

    payment_method: str
    changes: JSON
    internal: JSON
    capture: bool
    off_session: bool
    authenticated: bool
    three_d_secure_requested: bool
    error_on_requires_action: bool

    def request(self, state: State, card: TestCard) -> AuthorizationRequest:
        """What to ask the processor for this plan."""
        data = state.data | self.changes
        return AuthorizationRequest(
            card=card,
            amount=data["amount"],
            currency=data["currency"],
            capture=self.capture,
            off_session=self.off_session,
            authenticated=self.authenticated,
            three_d_secure_requested=self.three_d_secure_requested,
        )


def check_payment_method(state: State, payment_method: JSON, *, customer: str | None) -> None:
    """A PaymentMethod saved to a customer can only pay for that customer."""
    owner = payment_method.get("customer")
    if owner is None or owner == customer:
        return
    if customer is None:
        _refuse(
            state,
            f"The `payment_method` parameter supplied {payment_method['id']} belongs to the "
            f"Customer {owner}. Please include the Customer in the `customer` parameter on the "
            "PaymentIntent.",
            param="payment_method",
        )
    _refuse(
        state,
        f"The customer does not have a payment method with the ID {payment_method['id']}. The "
        "payment method must be attached to the customer.",
        param="payment_method",
    )


def _capture_now(data: JSON) -> bool:
    card_options = (data.get("payment_method_options") or {}).get("card") or {}
    method = card_options.get("capture_method") or data["capture_method"]
    return bool(method != "manual")


def plan_confirm(state: State, params: JSON, *, payment_method: str | None) -> ConfirmPlan:
    """Validate a confirmation (`params` of POST …/confirm, or create with confirm=true).

    `payment_method` is the id the request named (resolved), or None to use the intent's.
    """
    data = state.data
    if payment_method is not None and Status(data["status"]) not in ACTIONS[Action.confirm]:
        raise unexpected_state(state, Action.update, field="payment_method")
    check_action(state, Action.confirm)
    method = payment_method or data["payment_method"]
    if method is None:
        _refuse(state, MESSAGE_MISSING_PAYMENT_METHOD, code="payment_intent_unexpected_state")
    assert method is not None
    reject_if(
        "client_secret" in params and params["client_secret"] != data["client_secret"],
        "The client_secret provided does not match the client_secret associated with the "
        "PaymentIntent.",
        param="client_secret",
    )
    changes: JSON = {"payment_method": method}
    if "payment_method_types" in params:
        types, automatic = _payment_method_types(
            {"payment_method_types": params["payment_method_types"]}
        )
        changes |= {
            "payment_method_types": types,
            "automatic_payment_methods": automatic,
            "payment_method_configuration_details": None,
        }
    for key in ("receipt_email", "shipping"):
        if key in params:
            changes |= _detail_changes(data, {key: params[key]})
    if "setup_future_usage" in params:
        changes["setup_future_usage"] = params["setup_future_usage"] or None
    if "capture_method" in params:
        changes["capture_method"] = params["capture_method"]
    if "payment_method_options" in params:
        changes["payment_method_options"] = _card_options(
            data["payment_method_options"].get("card"), params
        )
    return_url = params.get("return_url") or state.internal.get("return_url")
    automatic = (data | changes)["automatic_payment_methods"]
    if (
        automatic is not None
        and automatic["enabled"]
        and automatic.get("allow_redirects") != "never"
        and not return_url
    ):
        # Stripe asks for it even when the payment method never redirects (a card).
        _refuse(state, MESSAGE_RETURN_URL_REQUIRED, param="return_url")
    off_session = params.get("off_session", False)
    after = data | changes
    card_options = after["payment_method_options"].get("card") or {}
    same_method = method == data["payment_method"]
    return ConfirmPlan(
        payment_method=method,
        changes=changes,
        internal={
            "return_url": return_url,
            "off_session": bool(off_session),
            "use_stripe_sdk": bool(params.get("use_stripe_sdk", False)),
            "radar_session": (params.get("radar_options") or {}).get("session")
            or state.internal.get("radar_session"),
        },
        capture=_capture_now(after),
        off_session=off_session is not False,
        authenticated=bool(state.internal.get("authenticated")) and same_method,
        three_d_secure_requested=card_options.get("request_three_d_secure")
        in _THREE_D_SECURE_REQUESTED,
        error_on_requires_action=bool(params.get("error_on_requires_action", False)),
    )


def plan_after_authentication(state: State) -> ConfirmPlan:
    """The payment attempt that resumes once the cardholder has authenticated."""
    data = state.data
    assert data["status"] == S.requires_action and data["payment_method"] is not None
    return ConfirmPlan(
        payment_method=data["payment_method"],
        changes={"payment_method": data["payment_method"]},
        internal={},
        capture=_capture_now(data),
        off_session=False,
        authenticated=True,
        three_d_secure_requested=False,
        error_on_requires_action=False,
    )


@dataclass(frozen=True, slots=True)
class PaymentContext:
    """What a payment attempt records besides the intent: ids, time, money, the card."""

    account_id: str
    now: datetime
    pricing: Pricing
    charge_id: str
    balance_transaction_id: str
    source_id: str  # the 3D Secure source a `next_action` points to
    card: TestCard
    payment_method: JSON  # the PaymentMethod's JSON
    direct: DirectCharge | None = None  # set when the platform pays in a connected account

    @property
    def created(self) -> int:
        """`now` as unix seconds."""
        return int(self.now.timestamp())


@dataclass(frozen=True, slots=True)
class Attempt:
    """The outcome of a payment attempt: what to append, and the decline to raise, if any."""

    appends: Appends
    decline: CardOutcome | None = None
    charge: str | None = None


def _next_action(plan: ConfirmPlan, source_id: str) -> JSON:
    """3D Secure for a card: Stripe.js handles `use_stripe_sdk`; with a return_url, a redirect."""
    url = (
        f"https://hooks.stripe.com/redirect/authenticate/{source_id}"
        f"?client_secret=src_client_secret_{source_id.removeprefix('src_')}"
    )
    return_url = plan.internal.get("return_url")
    if return_url and not plan.internal.get("use_stripe_sdk"):
        return {
            "type": "redirect_to_url",
            "redirect_to_url": {"return_url": return_url, "url": url},
        }
    return {
        "type": "use_stripe_sdk",
        "use_stripe_sdk": {
            "source": source_id,
            "stripe_js": url,
            "type": "three_d_secure_redirect",
        },
    }


def _last_payment_error(decline: CardOutcome, charge_id: str, payment_method: JSON) -> JSON:
    assert decline.error_code is not None
    error: JSON = {
        "charge": charge_id,
        "code": decline.error_code,
        "decline_code": decline.decline_code,
        "doc_url": _DOC_URL + decline.error_code.replace("_", "-"),
        "message": decline.message,
        "payment_method": payment_method,
        "type": "card_error",
    }
    if decline.decline_code is None:
        del error["decline_code"]
    if decline.error_param is not None:
        error["param"] = decline.error_param
    return error


def _charge_attempt(
    data: JSON,
    ctx: PaymentContext,
    authorization: Authorization,
    *,
    capture: bool,
    radar_session: str | None,
) -> charge_domain.ChargeAttempt:
    payment_method = ctx.payment_method
    return charge_domain.ChargeAttempt(
        charge_id=ctx.charge_id,
        created=ctx.created,
        amount=data["amount"],
        currency=data["currency"],
        card=ctx.card,
        authorization=authorization,
        capture=capture,
        payment_method=payment_method["id"],
        payment_method_card=payment_method["card"],
        billing_details=payment_method["billing_details"],
        payment_intent=data["id"],
        customer=data["customer"],
        description=data["description"],
        metadata=data["metadata"],
        receipt_email=data["receipt_email"],
        shipping=data["shipping"],
        statement_descriptor=data["statement_descriptor"],
        statement_descriptor_suffix=data["statement_descriptor_suffix"],
        transfer_data=data["transfer_data"],
        transfer_group=_transfer_group(data),
        application_fee_amount=data["application_fee_amount"],
        on_behalf_of=data["on_behalf_of"],
        radar_session=radar_session,
        balance_transaction=(
            ctx.balance_transaction_id if authorization.approved and capture else None
        ),
        direct=ctx.direct,
    )


def decide_attempt(
    state: State, plan: ConfirmPlan, authorization: Authorization, ctx: PaymentContext
) -> Attempt:
    """Record the processor's answer to a confirmation (or to a completed authentication)."""
    data = state.data | plan.changes
    intent_id = data["id"]
    internal = plan.internal | {"attempts": state.internal.get("attempts", 0) + 1}
    if authorization.requires_action and plan.error_on_requires_action:
        # "fail the payment attempt if the PaymentIntent transitions into requires_action"
        authorization = Authorization.refused(AUTHENTICATION_REQUIRED)
    if authorization.requires_action:
        event = PaymentIntentRequiresAction(
            to=S.requires_action,
            changes=plan.changes
            | {
                "next_action": _next_action(plan, ctx.source_id),
                "last_payment_error": None,
            },
            internal=internal | {"authenticated": False},
        )
        return Attempt([(intent_id, [event])])
    attempt = _charge_attempt(
        data,
        ctx,
        authorization,
        capture=plan.capture,
        radar_session=plan.internal.get("radar_session", state.internal.get("radar_session")),
    )
    appends: Appends = [(ctx.charge_id, charge_domain.decide_create(attempt))]
    common: JSON = {
        "latest_charge": ctx.charge_id,
        "next_action": None,
        "transfer_group": _transfer_group(data),
    }
    internal |= {"authenticated": False}
    if authorization.declined:
        decline = authorization.decline
        assert decline is not None
        error = _last_payment_error(decline, ctx.charge_id, ctx.payment_method)
        failed = PaymentIntentPaymentFailed(
            to=S.requires_payment_method,
            changes=plan.changes | common | {"last_payment_error": error, "payment_method": None},
            internal=internal,
        )
        appends.append((intent_id, [failed]))
        return Attempt(appends, decline=decline, charge=ctx.charge_id)
    if plan.capture:
        created = appends[0][1][0]
        assert isinstance(created, charge_domain.ChargeCreated)
        appends.append(
            (
                ctx.balance_transaction_id,
                [
                    charge_domain.charge_balance_transaction(
                        txn_id=ctx.balance_transaction_id,
                        account_id=ctx.account_id,
                        charge=created.charge,
                        amount=data["amount"],
                        at=ctx.now,
                        pricing=ctx.pricing,
                        bypass_pending=ctx.card.outcome.bypass_pending,
                    )
                ],
            )
        )
        outcome: _Transition = PaymentIntentSucceeded(
            to=S.succeeded,
            changes=plan.changes
            | common
            | {"amount_received": data["amount"], "last_payment_error": None},
            internal=internal,
        )
    else:
        outcome = PaymentIntentAuthorized(
            to=S.requires_capture,
            changes=plan.changes
            | common
            | {"amount_capturable": data["amount"], "last_payment_error": None},
            internal=internal,
        )
    appends.append((intent_id, [outcome]))
    return Attempt(appends, charge=ctx.charge_id)


def decide_authenticated(state: State) -> list[DomainEvent]:
    """3D Secure succeeded on an intent confirmed manually: it awaits confirmation again."""
    check_action(state, Action.authenticate)
    assert state.data["confirmation_method"] == "manual"
    return [
        PaymentIntentAuthenticated(
            to=S.requires_confirmation,
            changes={"next_action": None},
            internal={"authenticated": True},
        )
    ]


def decide_authentication_failed(state: State, payment_method: JSON) -> list[DomainEvent]:
    """3D Secure failed: the intent needs a new payment method (no charge was attempted)."""
    check_action(state, Action.authenticate)
    error = {
        "code": "payment_intent_authentication_failure",
        "doc_url": _DOC_URL + "payment-intent-authentication-failure",
        "message": MESSAGE_AUTHENTICATION_FAILURE,
        "payment_method": payment_method,
        "type": "invalid_request_error",
    }
    return [
        PaymentIntentPaymentFailed(
            to=S.requires_payment_method,
            changes={"next_action": None, "last_payment_error": error, "payment_method": None},
            internal={"authenticated": False},
        )
    ]


# -- capture, cancel, expiry -----------------------------------------------------------------


def decide_capture(
    state: State,
    charge: State,
    params: JSON,
    *,
    account_id: str,
    now: datetime,
    pricing: Pricing,
    balance_transaction_id: str,
    direct: DirectCharge | None = None,
) -> Appends:
    """Capture all or part of the authorization; the rest is released to the cardholder.

    `direct`: set for a direct charge, which takes its application fee now.
    """
    check_action(state, Action.capture)
    data = state.data
    capturable = data["amount_capturable"]
    amount: int = capturable
    if "amount_to_capture" in params:
        amount = params["amount_to_capture"]
    if amount > capturable:
        _refuse(
            state,
            f"The amount to capture ({amount}) must be less than or equal to the amount "
            f"capturable ({capturable}) on this PaymentIntent.",
            code="amount_too_large",
            param="amount_to_capture",
        )
    reject_if(
        amount < 1,
        "Invalid amount_to_capture: must be at least 1",
        code="parameter_invalid_integer",
        param="amount_to_capture",
    )
    fee: int | None = (
        params["application_fee_amount"]
        if "application_fee_amount" in params
        else data["application_fee_amount"]
    )
    _check_application_fee(fee, amount)
    charge_domain.check_capturable(charge, int(now.timestamp()))
    changes: JSON = {}
    charge_changes: JSON = {}
    if "application_fee_amount" in params:
        changes["application_fee_amount"] = charge_changes["application_fee_amount"] = fee
    if "metadata" in params:
        changes["metadata"] = apply_metadata(data["metadata"], params["metadata"])
    for key in ("statement_descriptor", "statement_descriptor_suffix"):
        if key in params:
            changes[key] = charge_changes[key] = params[key]
    if "transfer_data" in params and params["transfer_data"].get("amount") is not None:
        current = data["transfer_data"]
        reject_if(
            current is None,
            "This PaymentIntent has no transfer_data to update.",
            param="transfer_data[amount]",
        )
        assert current is not None
        transfer_data = _transfer_data(current | params["transfer_data"], amount)
        changes["transfer_data"] = transfer_data
        charge_changes["transfer_data"] = {
            "amount": transfer_data.get("amount"),
            "destination": transfer_data["destination"],
        }
    _check_destination_terms(data | changes)
    charge_changes |= charge_domain.direct_capture_changes(
        charge.data | charge_changes, amount, direct
    )
    if charge_changes.keys() & {"statement_descriptor", "statement_descriptor_suffix"}:
        merged = charge.data | charge_changes
        charge_changes["calculated_statement_descriptor"] = (
            charge_domain.calculated_statement_descriptor(
                merged["statement_descriptor"], merged["statement_descriptor_suffix"]
            )
        )
    txn = charge_domain.charge_balance_transaction(
        txn_id=balance_transaction_id,
        account_id=account_id,
        charge=charge.data | charge_changes,
        amount=amount,
        at=now,
        pricing=pricing,
        bypass_pending=bool(charge.internal.get("bypass_pending")),
    )
    return [
        (
            charge.data["id"],
            charge_domain.decide_capture(charge, amount, balance_transaction_id, charge_changes),
        ),
        (balance_transaction_id, [txn]),
        (
            data["id"],
            [
                PaymentIntentSucceeded(
                    to=S.succeeded,
                    changes=changes | {"amount_received": amount, "amount_capturable": 0},
                )
            ],
        ),
    ]


def decide_cancel(state: State, charge: State | None, reason: str | None, now: datetime) -> Appends:
    """Cancel the intent; an authorization it holds is released (shown as refunded)."""
    check_action(state, Action.cancel)
    return _canceled(state, charge, reason, now, expired=False)


def decide_expire(state: State, charge: State, now: datetime) -> Appends:
    """Seven days after authorization, an uncaptured intent is canceled (reason `automatic`)."""
    check_action(state, Action.expire)
    return _canceled(state, charge, CANCELLATION_REASON_EXPIRED, now, expired=True)


def _canceled(
    state: State, charge: State | None, reason: str | None, now: datetime, *, expired: bool
) -> Appends:
    appends: Appends = []
    if state.data["status"] == S.requires_capture:
        assert charge is not None and charge.data["id"] == state.data["latest_charge"]
        appends.append((charge.data["id"], charge_domain.decide_release(charge, expired=expired)))
    canceled = PaymentIntentCanceled(
        to=S.canceled,
        changes={
            "amount_capturable": 0,
            "canceled_at": int(now.timestamp()),
            "cancellation_reason": reason,
            "next_action": None,
        },
        internal={"authenticated": False},
    )
    appends.append((state.data["id"], [canceled]))
    return appends


# -- evolve and Stripe events ----------------------------------------------------------------


def _assert_consistent(data: JSON) -> None:
    """The fields that must agree with the status, whatever event came last."""
    status = Status(data["status"])
    assert (status == S.requires_action) == (data["next_action"] is not None), data["id"]
    assert (status == S.requires_capture) == (data["amount_capturable"] > 0), data["id"]
    assert (status == S.canceled) == (data["canceled_at"] is not None), data["id"]
    assert 0 <= data["amount_received"] <= data["amount"], data["id"]
    assert 0 <= data["amount_capturable"] <= data["amount"], data["id"]
    if status in (S.requires_capture, S.succeeded):
        assert data["latest_charge"] is not None and data["payment_method"] is not None
    if status == S.succeeded:
        assert data["amount_received"] > 0 and data["last_payment_error"] is None
    if status == S.requires_confirmation:
        assert data["payment_method"] is not None, data["id"]
    assert data["processing"] is None or status == S.processing


def evolve(state: State | None, event: DomainEvent) -> State:
    match event:
        case PaymentIntentCreated(payment_intent=intent, internal=internal):
            assert state is None
            _assert_consistent(intent)
            return State(data=intent, internal=internal)
        case PaymentIntentUpdated(changes=changes, internal=internal):
            assert state is not None and set(changes) <= set(state.data)
            data = state.data | changes
            _assert_consistent(data)
            return State(data=data, internal=state.internal | internal)
        case _Transition(to=to, changes=changes, internal=internal):
            assert state is not None and set(changes) <= set(state.data)
            before = Status(state.data["status"])
            assert to in TRANSITIONS[before], (state.data["id"], before, to)
            data = state.data | changes | {"status": to.value}
            _assert_consistent(data)
            return State(data=data, internal=state.internal | internal)
    raise AssertionError(f"payment_intent cannot apply {event.event_type}")


_STRIPE_EVENT_TYPES: Final[Mapping[type[DomainEvent], str | None]] = MappingProxyType(
    {
        PaymentIntentCreated: "payment_intent.created",
        PaymentIntentUpdated: None,  # Stripe has no payment_intent.updated event
        PaymentIntentRequiresAction: "payment_intent.requires_action",
        PaymentIntentAuthenticated: None,
        PaymentIntentPaymentChanged: None,
        PaymentIntentAuthorized: "payment_intent.amount_capturable_updated",
        PaymentIntentSucceeded: "payment_intent.succeeded",
        PaymentIntentPaymentFailed: "payment_intent.payment_failed",
        PaymentIntentCanceled: "payment_intent.canceled",
    }
)


def stripe_events(before: State | None, after: State, event: DomainEvent) -> list[StripeEventSpec]:
    kind = _STRIPE_EVENT_TYPES.get(type(event), "")
    assert kind != "", f"payment_intent cannot apply {event.event_type}"
    if kind is None:
        return []
    return [StripeEventSpec(kind, after.data)]


PAYMENT_INTENT = register(Aggregate("payment_intent", "pi", evolve, stripe_events))
