"""`ledger demo`: a short scripted run that shows what the ledger does and records."""

from __future__ import annotations

import secrets
from collections.abc import Callable

from ledger.client import Ledger
from ledger.errors import IdempotencyError, InvalidRequestError

__all__ = ["run_demo"]


def run_demo(led: Ledger, say: Callable[[str], None]) -> None:
    """Create, update and delete customers, show the events and rebuild the projections."""
    run = secrets.token_hex(3)
    say(f"ledger demo on platform account {led.platform_account_id}")

    ada = led.customers.create(
        email=f"ada+{run}@example.com",
        name="Ada Lovelace",
        metadata={"order_id": "6735"},
        idempotency_key=f"demo-{run}-ada",
    )
    assert ada.last_response is not None  # every top-level response carries one
    say(f"created customer {ada.id} ({ada.email}), request {ada.last_response.request_id}")
    again = led.customers.create(
        email=f"ada+{run}@example.com",
        name="Ada Lovelace",
        metadata={"order_id": "6735"},
        idempotency_key=f"demo-{run}-ada",
    )
    assert again.last_response is not None
    say(
        f"same idempotency key again -> same customer {again.id}, replayed: "
        f"{again.last_response.idempotent_replayed}"
    )
    try:
        led.customers.create(email="other@example.com", idempotency_key=f"demo-{run}-ada")
    except IdempotencyError as error:
        say(f"same key, other params -> {error.type}: {error.code}")

    grace = led.customers.create(email=f"grace+{run}@example.com", name="Grace Hopper")
    say(f"created customer {grace.id}")
    ada = led.customers.update(ada.id, phone="+15555550100", metadata={"tier": "gold"})
    say(f"updated {ada.id}: phone {ada.phone}, metadata {ada.metadata.to_dict()}")
    try:
        led.customers.update(ada.id, email="not-an-email")
    except InvalidRequestError as error:
        say(f"bad email refused -> {error.code} (param {error.param}), nothing recorded")

    seller = f"acct_demo{run}"
    led.customers.create(email=f"buyer+{run}@example.com", stripe_account=seller)
    visible = led.customers.list(email=f"buyer+{run}@example.com").data
    say(f"a customer of {seller} is invisible to the platform: {len(visible)} found")

    deleted = led.customers.delete(grace.id)
    say(f"deleted {deleted.id}: {deleted.to_dict()}")

    say("latest Stripe events:")
    for event in led.events.list(limit=5).data:
        previous = event.data.get("previous_attributes")
        changed = sorted(previous) if previous is not None else []
        suffix = f" (changed: {', '.join(changed)})" if changed else ""
        say(f"  {event.id} {event.type} {event.data.object.id}{suffix}")

    report = led.rebuild()
    say(f"rebuilt every projection from the log: {report.events_replayed} events replayed")
    after = led.customers.retrieve(ada.id)
    say(f"{ada.id} after the rebuild is identical: {after.to_dict() == ada.to_dict()}")
