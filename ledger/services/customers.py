"""`led.customers`: create, retrieve, update, delete, list."""

from __future__ import annotations

import secrets
from typing import Any

from ledger.domain import customer as domain
from ledger.domain.rules import reject
from ledger.resources.base import ListObject, StripeObject
from ledger.resources.expand import Resolver, register_includable
from ledger.services.base import Service, stripe_operation
from ledger.services.payment_methods import (
    attach_payment_method,
    check_default_payment_method,
    resolve_payment_method,
)
from ledger.services.queries import Filter, object_list
from ledger.services.runner import JSON, UnitOfWork

__all__ = ["CustomersService"]

# Parameters whose resources this ledger does not model yet: refused plainly, never ignored.
_UNSUPPORTED = ("cash_balance", "tax", "tax_id_data")


def _check_references(uow: UnitOfWork, params: JSON) -> None:
    """Objects a customer refers to must exist in the same account."""
    if params.get("coupon"):
        uow.get(params["coupon"], "coupon", "coupon", "coupon")
    if params.get("promotion_code"):
        uow.get(params["promotion_code"], "promotion_code", "promotion code", "promotion_code")
    if params.get("source"):
        uow.get(params["source"], "card", "source", "source")


def _check_default_payment_method(uow: UnitOfWork, params: JSON, customer_id: str) -> None:
    default_pm = (params.get("invoice_settings") or {}).get("default_payment_method")
    if default_pm:
        check_default_payment_method(uow, default_pm, customer_id)


def _default_to_created(params: JSON, payment_method_id: str) -> JSON:
    """Params whose default PaymentMethod, when it repeats `payment_method`, is the one made."""
    settings = params.get("invoice_settings") or {}
    if settings.get("default_payment_method") != params["payment_method"]:
        return params
    return params | {"invoice_settings": settings | {"default_payment_method": payment_method_id}}


def _refuse_unsupported(params: JSON) -> None:
    for name in _UNSUPPORTED:
        if name in params:
            reject(
                f"The ledger does not support the '{name}' parameter of customers yet.",
                code="parameter_unsupported",
                param=name,
            )


class CustomersService(Service):
    """Stripe's Customers API."""

    @stripe_operation("POST /v1/customers")
    def create(self, **params: Any) -> StripeObject:
        """Create a customer."""
        operation = "POST /v1/customers"
        call = self._begin(operation, params)

        def command(uow: UnitOfWork) -> JSON:
            _refuse_unsupported(call.params)  # in the command, so the error has a request id
            _check_references(uow, call.params)
            params = call.params
            payment_method = None
            if params.get("payment_method"):
                # A test id (pm_card_visa) or token makes a new PaymentMethod, attached below.
                payment_method = resolve_payment_method(uow, params["payment_method"])
                params = _default_to_created(params, payment_method.data["id"])
            test_clock = params.get("test_clock")
            created = int(uow.ctx.now.timestamp())
            if test_clock:
                # A test clock owns its customers' time: they are created at its frozen time.
                clock = uow.get(test_clock, "test_helpers.test_clock", "test clock", "test_clock")
                created = clock.data["frozen_time"]
            customer_id = uow.new_id("cus")
            prefix = secrets.token_hex(4).upper()
            events = domain.decide_create(
                customer_id,
                created,
                prefix,
                params,
                test_clock=test_clock,
            )
            uow.append(customer_id, events)
            if payment_method is not None:
                attach_payment_method(uow, payment_method, customer_id, param="payment_method")
            _check_default_payment_method(uow, params, customer_id)
            return uow.get(customer_id, "customer", "customer").data

        return self._execute(call, operation, command)

    @stripe_operation("GET /v1/customers/{customer}")
    def retrieve(self, customer: str, **params: Any) -> StripeObject:
        """Retrieve a customer; a deleted one answers with the deleted stub."""
        call = self._begin("GET /v1/customers/{customer}", params)
        return self._retrieve(call, customer, "customer", "customer", deleted_stub=True)

    @stripe_operation("POST /v1/customers/{customer}")
    def update(self, customer: str, **params: Any) -> StripeObject:
        """Update a customer; metadata merges, `""` unsets."""
        operation = "POST /v1/customers/{customer}"
        call = self._begin(operation, params)

        def command(uow: UnitOfWork) -> JSON:
            # Checked in the command, so that the error carries the request id.
            _refuse_unsupported(call.params)
            for legacy in (
                "bank_account",
                "card",
                "default_alipay_account",
                "default_bank_account",
                "default_card",
                "default_source",
            ):
                if legacy in call.params:
                    reject(
                        f"No such source: '{call.params[legacy]}'",
                        code="resource_missing",
                        param=legacy,
                        http_status=404,
                    )
            state = uow.get(customer, "customer", "customer")
            _check_references(uow, call.params)
            _check_default_payment_method(uow, call.params, customer)
            uow.append(customer, domain.decide_update(state, call.params))
            return uow.get(customer, "customer", "customer").data

        return self._execute(call, f"POST /v1/customers/{customer}", command)

    @stripe_operation("DELETE /v1/customers/{customer}")
    def delete(self, customer: str, **params: Any) -> StripeObject:
        """Delete a customer: `{"id", "object": "customer", "deleted": true}`."""
        call = self._begin("DELETE /v1/customers/{customer}", params)

        def command(uow: UnitOfWork) -> JSON:
            state = uow.get(customer, "customer", "customer")
            uow.append(customer, domain.decide_delete(state))
            return {"id": customer, "object": "customer", "deleted": True}

        return self._execute(call, f"DELETE /v1/customers/{customer}", command)

    @stripe_operation("GET /v1/customers")
    def list(self, **params: Any) -> ListObject:
        """List customers, newest first; filters `email`, `created`, `test_clock`."""
        original = dict(params)
        call = self._begin("GET /v1/customers", params)
        query = object_list(
            "customer",
            "customer",
            "/v1/customers",
            call.params,
            fields=("email", "test_clock"),
            extra=(Filter("NOT deleted"),),
        )
        return self._list(call, query, original, lambda p: self.list(**p))


def _sources(customer: JSON, resolver: Resolver) -> JSON:
    return resolver.related_list(
        ("card", "bank_account", "source"),
        "customer",
        customer["id"],
        f"/v1/customers/{customer['id']}/sources",
    )


def _subscriptions(customer: JSON, resolver: Resolver) -> JSON:
    return resolver.related_list(
        ("subscription",),
        "customer",
        customer["id"],
        f"/v1/customers/{customer['id']}/subscriptions",
    )


def _tax_ids(customer: JSON, resolver: Resolver) -> JSON:
    return resolver.related_list(
        ("tax_id",), "customer", customer["id"], f"/v1/customers/{customer['id']}/tax_ids"
    )


def _cash_balance(customer: JSON, resolver: Resolver) -> JSON:
    # No cash balances are modelled yet: the customer's is empty with Stripe's defaults.
    return {
        "object": "cash_balance",
        "available": None,
        "customer": customer["id"],
        "livemode": False,
        "settings": {"reconciliation_mode": "automatic", "using_merchant_default": True},
    }


def _invoice_credit_balance(customer: JSON, resolver: Resolver) -> JSON:
    return {}


def _tax(customer: JSON, resolver: Resolver) -> JSON:
    # Stripe Tax is not modelled: no location is known, so automatic tax cannot be computed.
    return {"automatic_tax": "unrecognized_location", "ip_address": None, "location": None}


register_includable("customer", "cash_balance", _cash_balance)
register_includable("customer", "invoice_credit_balance", _invoice_credit_balance)
register_includable("customer", "tax", _tax)
register_includable("customer", "sources", _sources)
register_includable("customer", "subscriptions", _subscriptions)
register_includable("customer", "tax_ids", _tax_ids)
