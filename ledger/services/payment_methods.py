"""`led.payment_methods`: create, retrieve, update, list, attach, detach (type `card`).

Also the helpers other services use to accept a PaymentMethod parameter: `resolve_payment_method`
turns Stripe's test ids (`pm_card_visa`) and tokens (`tok_visa`) into fresh PaymentMethods, as
Stripe does, and `attach_payment_method` / `check_default_payment_method` apply the attach rules.
"""

from __future__ import annotations

from typing import Any, Final

import psycopg

from ledger.domain import customer as customer_domain
from ledger.domain import payment_method as domain
from ledger.domain.aggregate import State
from ledger.domain.cards import PAYMENT_METHOD_IDS, TOKENS
from ledger.domain.rules import reject
from ledger.errors import LedgerError, resource_missing
from ledger.resources.base import ListObject, StripeObject
from ledger.services.base import Call, Service, stripe_operation
from ledger.services.queries import fetch_object, object_list
from ledger.services.runner import JSON, UnitOfWork

__all__ = [
    "PaymentMethodsService",
    "attach_payment_method",
    "check_default_payment_method",
    "resolve_payment_method",
]

_KIND: Final = "PaymentMethod"  # as Stripe names it in "No such PaymentMethod: 'pm_…'"
# Parameters of POST /v1/payment_methods that a `card` PaymentMethod uses.
_CARD_CREATE_PARAMS: Final = frozenset({"billing_details", "card", "metadata", "type"})
# `allow_redisplay` (API 2024-04-10) is newer than the OpenAPI spec the params are checked against:
# it is taken off before validation and checked by the domain.
_ALLOW_REDISPLAY: Final = "allow_redisplay"
_CREATE_WITH_CUSTOMER: Final = (
    "You cannot attach a PaymentMethod to a Customer during PaymentMethod creation. Please "
    "instead create the PaymentMethod and then attach it using the attachment method of the "
    "PaymentMethods API."
)


def resolve_payment_method(uow: UnitOfWork, value: str, *, param: str = "payment_method") -> State:
    """The PaymentMethod `value` names in this account; Stripe's 404 naming `param` if none.

    A test PaymentMethod id (`pm_card_visa`) or test token (`tok_visa`) creates a new `pm_…`
    PaymentMethod for that card in this unit of work, as Stripe does.
    """
    card = PAYMENT_METHOD_IDS.get(value) or TOKENS.get(value)
    if card is None:
        return uow.get(value, "payment_method", _KIND, param)
    payment_method_id = uow.new_id("pm")
    created = int(uow.ctx.now.timestamp())
    uow.append(
        payment_method_id,
        domain.decide_create_from_test_card(payment_method_id, created, card),
    )
    return uow.get(payment_method_id, "payment_method", _KIND, param)


def attach_payment_method(
    uow: UnitOfWork, payment_method: State, customer: str, *, param: str = "customer"
) -> None:
    """Queue the attachment of `payment_method` to the live `customer` (404 naming `param`)."""
    uow.get(customer, "customer", "customer", param)
    uow.append(payment_method.data["id"], domain.decide_attach(payment_method, customer))


def check_default_payment_method(
    uow: UnitOfWork,
    value: str,
    customer: str,
    *,
    param: str = "invoice_settings[default_payment_method]",
) -> None:
    """A customer's default PaymentMethod must exist and be attached to that customer."""
    state = uow.get(value, "payment_method", _KIND, param)
    if state.data["customer"] != customer:
        reject(
            f"The customer does not have a payment method with the ID {value}. The payment "
            "method must be attached to the customer.",
            param=param,
        )


def _refuse_create_params(params: JSON) -> None:
    """What a card PaymentMethod cannot be created with, in the order Stripe checks it."""
    if "type" not in params:
        reject("Missing required param: type.", code="parameter_missing", param="type")
    if params["type"] != "card":
        reject(
            f"The ledger supports only PaymentMethods of type 'card'; type '{params['type']}' "
            "is not supported yet.",
            code="parameter_unsupported",
            param="type",
        )
    if "payment_method" in params:
        reject(
            "The ledger does not support cloning PaymentMethods (the 'payment_method' "
            "parameter) yet.",
            code="parameter_unsupported",
            param="payment_method",
        )
    if "customer" in params:
        reject(_CREATE_WITH_CUSTOMER, param="customer")
    for name in sorted(set(params) - _CARD_CREATE_PARAMS - {_ALLOW_REDISPLAY}):
        reject(
            f"The ledger does not support the '{name}' parameter of card PaymentMethods.",
            code="parameter_unsupported",
            param=name,
        )
    if "card" not in params:
        reject("Missing required param: card.", code="parameter_missing", param="card")


def _refuse_update_params(params: JSON) -> None:
    for name in ("link", "us_bank_account"):
        if name in params:
            reject(
                f"The ledger does not support the '{name}' parameter of card PaymentMethods.",
                code="parameter_unsupported",
                param=name,
            )


class PaymentMethodsService(Service):
    """Stripe's PaymentMethods API, for cards."""

    def _begin_with_allow_redisplay(self, operation: str, params: dict[str, Any]) -> Call:
        allow_redisplay = params.pop(_ALLOW_REDISPLAY, None)
        call = self._begin(operation, params)
        if allow_redisplay is not None:
            call.params[_ALLOW_REDISPLAY] = allow_redisplay
        return call

    @stripe_operation("POST /v1/payment_methods")
    def create(self, **params: Any) -> StripeObject:
        """Create a card PaymentMethod from a number (`card[number]`…) or a test token."""
        operation = "POST /v1/payment_methods"
        call = self._begin_with_allow_redisplay(operation, params)

        def command(uow: UnitOfWork) -> JSON:
            _refuse_create_params(call.params)  # in the command, so the error has a request id
            payment_method_id = uow.new_id("pm")
            created = int(uow.ctx.now.timestamp())
            uow.append(
                payment_method_id, domain.decide_create(payment_method_id, created, call.params)
            )
            return uow.get(payment_method_id, "payment_method", _KIND).data

        return self._execute(call, operation, command)

    @stripe_operation("GET /v1/payment_methods/{payment_method}")
    def retrieve(self, payment_method: str, **params: Any) -> StripeObject:
        """Retrieve a PaymentMethod."""
        call = self._begin("GET /v1/payment_methods/{payment_method}", params)

        def read(conn: psycopg.Connection[Any]) -> JSON:
            found = fetch_object(conn, call.ctx.account_id, payment_method)
            if found is None or found[0].get("object") != "payment_method":
                raise resource_missing(_KIND, payment_method, "payment_method")
            return found[0]

        return self._read(call, read)

    @stripe_operation("POST /v1/payment_methods/{payment_method}")
    def update(self, payment_method: str, **params: Any) -> StripeObject:
        """Update billing details, metadata or the card's expiry of an attached PaymentMethod."""
        call = self._begin_with_allow_redisplay("POST /v1/payment_methods/{payment_method}", params)

        def command(uow: UnitOfWork) -> JSON:
            _refuse_update_params(call.params)
            state = uow.get(payment_method, "payment_method", _KIND, "payment_method")
            now = int(uow.ctx.now.timestamp())
            uow.append(payment_method, domain.decide_update(state, call.params, now))
            return uow.get(payment_method, "payment_method", _KIND).data

        return self._execute(call, f"POST /v1/payment_methods/{payment_method}", command)

    @stripe_operation("POST /v1/payment_methods/{payment_method}/attach")
    def attach(self, payment_method: str, **params: Any) -> StripeObject:
        """Attach a PaymentMethod (or a test id such as `pm_card_visa`) to a customer."""
        call = self._begin("POST /v1/payment_methods/{payment_method}/attach", params)

        def command(uow: UnitOfWork) -> JSON:
            state = resolve_payment_method(uow, payment_method)
            attach_payment_method(uow, state, call.params["customer"])
            return uow.get(state.data["id"], "payment_method", _KIND).data

        return self._execute(call, f"POST /v1/payment_methods/{payment_method}/attach", command)

    @stripe_operation("POST /v1/payment_methods/{payment_method}/detach")
    def detach(self, payment_method: str, **params: Any) -> StripeObject:
        """Detach a PaymentMethod from its customer; it cannot be used again afterwards."""
        call = self._begin("POST /v1/payment_methods/{payment_method}/detach", params)

        def command(uow: UnitOfWork) -> JSON:
            state = uow.get(payment_method, "payment_method", _KIND, "payment_method")
            events = domain.decide_detach(state)
            customer = state.data["customer"]
            uow.append(payment_method, events)
            owner = uow.find(customer).state
            if (
                owner is not None
                and not owner.deleted
                and owner.data["invoice_settings"]["default_payment_method"] == payment_method
            ):
                # A detached PaymentMethod stops being its customer's default.
                unset = {"invoice_settings": {"default_payment_method": ""}}
                uow.append(customer, customer_domain.decide_update(owner, unset))
            return uow.get(payment_method, "payment_method", _KIND).data

        return self._execute(call, f"POST /v1/payment_methods/{payment_method}/detach", command)

    @stripe_operation("GET /v1/payment_methods")
    def list(self, **params: Any) -> ListObject:
        """List the account's PaymentMethods, newest first; filters `customer`, `type`."""
        original = dict(params)
        call = self._begin("GET /v1/payment_methods", params)
        customer = call.params.get("customer")
        if customer is not None:
            self._require_customer(call, customer)
        query = object_list(
            "payment_method", _KIND, "/v1/payment_methods", call.params, fields=("customer", "type")
        )
        return self._list(call, query, original, lambda p: self.list(**p))

    def _require_customer(self, call: Call, customer: str) -> None:
        try:
            with self._engine.pool.connection() as conn:
                found = fetch_object(conn, call.ctx.account_id, customer)
            if found is None or found[1] or found[0].get("object") != "customer":
                raise resource_missing("customer", customer, "customer")
        except LedgerError as error:
            error.request_id = call.ctx.request_id
            raise
