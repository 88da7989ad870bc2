"""Customers: creation, update, deletion, and the customer's Stripe JSON."""

from __future__ import annotations

import re
from typing import Any

from ledger.domain.aggregate import JSON, Aggregate, State, StripeEventSpec, diff_previous, register
from ledger.domain.events import DomainEvent
from ledger.domain.rules import apply_metadata, check_email, reject_if

__all__ = [
    "CustomerCreated",
    "CustomerDeleted",
    "CustomerUpdated",
    "decide_create",
    "decide_delete",
    "decide_update",
]

# The fields a create or update sets directly, as Stripe names them.
_SIMPLE_FIELDS = (
    "balance",
    "description",
    "email",
    "invoice_prefix",
    "name",
    "next_invoice_sequence",
    "phone",
    "preferred_locales",
    "tax_exempt",
)
_UNSETTABLE_TO_NULL = ("address", "shipping")
_INVOICE_PREFIX = re.compile(r"^[A-Z0-9]{3,12}$")


class CustomerCreated(DomainEvent):
    event_type = "customer.created"
    customer: JSON


class CustomerUpdated(DomainEvent):
    event_type = "customer.updated"
    changes: JSON


class CustomerDeleted(DomainEvent):
    event_type = "customer.deleted"


def _address(value: Any) -> JSON | None:
    if value == "":
        return None
    keys = ("city", "country", "line1", "line2", "postal_code", "state")
    return {key: value.get(key) for key in keys}


def _shipping(value: Any) -> JSON | None:
    if value == "":
        return None
    return {
        "address": _address(value["address"]),
        "name": value["name"],
        "phone": value.get("phone"),
    }


def _invoice_settings(current: JSON, value: JSON) -> JSON:
    merged = dict(current)
    for key in ("custom_fields", "footer", "rendering_options", "default_payment_method"):
        if key in value:
            merged[key] = None if value[key] == "" else value[key]
    if isinstance(merged.get("rendering_options"), dict):
        # Stripe shows every field of the hash, and `""` unsets one (null).
        display = merged["rendering_options"].get("amount_tax_display")
        merged["rendering_options"] = {"amount_tax_display": display or None}
    return merged


def _changes(current: JSON, params: JSON) -> JSON:
    """The customer's fields after applying `params`, for the fields params touch."""
    changes: JSON = {}
    for key in _SIMPLE_FIELDS:
        if key in params:
            value = params[key]
            if key == "tax_exempt" and value == "":
                value = "none"
            elif value == "":
                value = None
            changes[key] = value
    if changes.get("email"):
        check_email(changes["email"])
    if changes.get("invoice_prefix") is not None:
        reject_if(
            not _INVOICE_PREFIX.match(changes["invoice_prefix"]),
            "Invalid invoice_prefix: must be 3-12 uppercase letters or numbers.",
            param="invoice_prefix",
        )
    if params.get("next_invoice_sequence") is not None:
        reject_if(
            params["next_invoice_sequence"] < 1,
            "next_invoice_sequence must be at least 1.",
            param="next_invoice_sequence",
        )
    if "address" in params:
        changes["address"] = _address(params["address"])
    if "shipping" in params:
        changes["shipping"] = _shipping(params["shipping"])
    if "invoice_settings" in params:
        changes["invoice_settings"] = _invoice_settings(
            current["invoice_settings"], params["invoice_settings"]
        )
    if "metadata" in params:
        changes["metadata"] = apply_metadata(current["metadata"], params["metadata"])
    return {key: value for key, value in changes.items() if current.get(key) != value}


def blank_customer(customer_id: str, created: int, invoice_prefix: str) -> JSON:
    """A customer with Stripe's defaults for every field."""
    return {
        "id": customer_id,
        "object": "customer",
        "address": None,
        "balance": 0,
        "created": created,
        "currency": None,
        "default_source": None,
        "delinquent": False,
        "description": None,
        "discount": None,
        "email": None,
        "invoice_prefix": invoice_prefix,
        "invoice_settings": {
            "custom_fields": None,
            "default_payment_method": None,
            "footer": None,
            "rendering_options": None,
        },
        "livemode": False,
        "metadata": {},
        "name": None,
        "next_invoice_sequence": 1,
        "phone": None,
        "preferred_locales": [],
        "shipping": None,
        "tax_exempt": "none",
        "test_clock": None,
    }


def decide_create(
    customer_id: str, created: int, invoice_prefix: str, params: JSON, test_clock: str | None = None
) -> list[DomainEvent]:
    """Create a customer from validated params."""
    customer = blank_customer(customer_id, created, invoice_prefix)
    customer |= _changes(customer, params)
    customer["test_clock"] = test_clock
    return [CustomerCreated(customer=customer)]


def decide_update(state: State, params: JSON) -> list[DomainEvent]:
    """Update a customer; nothing is recorded when nothing changes."""
    assert not state.deleted
    changes = _changes(state.data, params)
    return [CustomerUpdated(changes=changes)] if changes else []


def decide_delete(state: State) -> list[DomainEvent]:
    """Delete a customer (its JSON is kept; retrieves return the deleted stub)."""
    assert not state.deleted
    return [CustomerDeleted()]


def evolve(state: State | None, event: DomainEvent) -> State:
    match event:
        case CustomerCreated(customer=customer):
            assert state is None
            return State(data=customer)
        case CustomerUpdated(changes=changes):
            assert state is not None and not state.deleted
            return State(data=state.data | changes, internal=state.internal)
        case CustomerDeleted():
            assert state is not None and not state.deleted
            return State(data=state.data, internal=state.internal, deleted=True)
    raise AssertionError(f"customer cannot apply {event.event_type}")


def stripe_events(before: State | None, after: State, event: DomainEvent) -> list[StripeEventSpec]:
    match event:
        case CustomerCreated():
            return [StripeEventSpec("customer.created", after.data)]
        case CustomerUpdated():
            assert before is not None
            return [
                StripeEventSpec(
                    "customer.updated", after.data, diff_previous(before.data, after.data)
                )
            ]
        case CustomerDeleted():
            return [StripeEventSpec("customer.deleted", after.data)]
    raise AssertionError(f"customer cannot apply {event.event_type}")


CUSTOMER = register(Aggregate("customer", "cus", evolve, stripe_events))
