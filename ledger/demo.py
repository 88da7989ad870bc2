"""`ledger demo`: a realistic day of card payments, then time passes, then the audit.

Each run books its day into a merchant account of its own (a new connected account), so the
balance and the summary it prints are that day's alone, however many times the demo has run
before.
"""

from __future__ import annotations

import secrets
from collections import defaultdict
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from ledger.client import Ledger
from ledger.clock import FrozenClock
from ledger.errors import CardError, IdempotencyError, InvalidRequestError
from ledger.money import currency, format_amount

__all__ = ["run_demo"]

Say = Callable[[str], None]


def _usd(amount: int) -> str:
    return format_amount(amount, currency("usd"))


def run_demo(led: Ledger, say: Say) -> None:
    """Run the scripted day on `led`, printing what happens."""
    run = secrets.token_hex(3)
    merchant = led.accounts.create(
        type="custom",
        email=f"merchant+{run}@example.com",
        capabilities={"card_payments": {"requested": True}, "transfers": {"requested": True}},
    ).id
    on = {"stripe_account": merchant}
    say(f"ledger demo: a day of card payments for merchant {merchant}")

    # -- customers ---------------------------------------------------------------------------
    ada = led.customers.create(
        email=f"ada+{run}@example.com",
        name="Ada Lovelace",
        payment_method="pm_card_visa",
        idempotency_key=f"demo-{run}-ada",
        **on,
    )
    again = led.customers.create(
        email=f"ada+{run}@example.com",
        name="Ada Lovelace",
        payment_method="pm_card_visa",
        idempotency_key=f"demo-{run}-ada",
        **on,
    )
    assert again.last_response is not None
    say(
        f"customer {ada.id}; the same idempotency key again returns the same customer "
        f"(replayed: {again.last_response.idempotent_replayed})"
    )
    try:
        led.customers.create(email="other@example.com", idempotency_key=f"demo-{run}-ada", **on)
    except IdempotencyError as error:
        say(f"  same key, other parameters -> {error.type}")
    try:
        led.customers.create(email="not-an-email", **on)
    except InvalidRequestError as error:
        say(f"  a bad email is refused -> {error.code} (param {error.param}); nothing recorded")

    # -- payments ----------------------------------------------------------------------------
    say("payments:")
    paid = []
    for amount, card in (
        (2000, "pm_card_visa"),
        (4599, "pm_card_mastercard"),
        (12_500, "pm_card_amex"),
        (990, "pm_card_bypassPending"),
    ):
        intent = led.payment_intents.create(
            amount=amount,
            currency="usd",
            customer=ada.id,
            payment_method_types=["card"],
            payment_method=card,
            confirm=True,
            **on,
        )
        paid.append(intent)
        say(f"  {intent.id} {_usd(amount)} with {card}: {intent.status}")
    for card in ("pm_card_chargeDeclinedInsufficientFunds", "pm_card_chargeDeclinedExpiredCard"):
        try:
            led.payment_intents.create(
                amount=3000,
                currency="usd",
                payment_method=card,
                payment_method_types=["card"],
                confirm=True,
                **on,
            )
        except CardError as error:
            say(
                f"  {_usd(3000)} with {card}: declined -> {error.code}"
                f" ({error.decline_code}), charge {error.charge} recorded as failed"
            )

    held = led.payment_intents.create(
        amount=8000,
        currency="usd",
        payment_method="pm_card_visa",
        payment_method_types=["card"],
        confirm=True,
        capture_method="manual",
        **on,
    )
    say(f"  {held.id} {_usd(8000)} authorized only: {held.status}")
    captured = led.payment_intents.capture(held.id, amount_to_capture=6500, **on)
    say(f"    captured {_usd(captured.amount_received)}; the rest of the hold is released")
    dropped = led.payment_intents.create(
        amount=1500,
        currency="usd",
        payment_method="pm_card_visa",
        confirm=True,
        payment_method_types=["card"],
        capture_method="manual",
        **on,
    )
    led.payment_intents.cancel(dropped.id, cancellation_reason="abandoned", **on)
    say(f"  {dropped.id} {_usd(1500)} authorized, then canceled: no money moves")

    # -- refunds and a dispute ---------------------------------------------------------------
    refund = led.refunds.create(
        payment_intent=paid[1].id, amount=1000, reason="requested_by_customer", **on
    )
    say(
        f"refund {refund.id}: {_usd(refund.amount)} of {paid[1].id} ({refund.status}); "
        "Stripe keeps its fee"
    )
    disputed = led.payment_intents.create(
        amount=5000,
        currency="usd",
        payment_method="pm_card_createDispute",
        payment_method_types=["card"],
        confirm=True,
        **on,
    )
    led.run_due()  # Stripe opens a test card's dispute just after the payment
    dispute = led.disputes.list(payment_intent=disputed.id, **on).data[0]
    say(
        f"dispute {dispute.id} on {disputed.id}: {dispute.reason}, {dispute.status}; "
        f"{_usd(dispute.amount)} + fee withdrawn"
    )
    won = led.disputes.update(dispute.id, evidence={"uncategorized_text": "winning_evidence"}, **on)
    say(f"  evidence submitted -> {won.status}: funds and fee reinstated")

    # -- time passes -------------------------------------------------------------------------
    _show_balance(led, say, on, "balance at the end of the day")
    if isinstance(led.clock, FrozenClock):
        led.clock.advance(timedelta(days=4))
        ran = led.run_due()
        say(f"four days later: {ran} pieces of due work ran (pending funds became available)")
        _show_balance(led, say, on, "balance now")

    _summary_by_category(led, say, on)
    report = led.audit()
    verdict = "ok" if report.ok else f"FAILED ({len(report.discrepancies)} discrepancies)"
    say(
        f"audit: replayed {report.events_replayed} events into shadow projections, checked "
        f"{', '.join(report.checks)}: {verdict}"
    )


def _show_balance(led: Ledger, say: Say, on: dict[str, Any], title: str) -> None:
    balance = led.balance.retrieve(**on)
    available = ", ".join(f"{_usd(b.amount)}" for b in balance.available)
    pending = ", ".join(f"{_usd(b.amount)}" for b in balance.pending)
    say(f"{title}: available {available}, pending {pending}")


def _summary_by_category(led: Ledger, say: Say, on: dict[str, Any]) -> None:
    totals: defaultdict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for txn in led.balance_transactions.list(limit=100, **on).auto_paging_iter():
        row = totals[txn.reporting_category]
        row[0] += 1
        row[1] += txn.amount
        row[2] += txn.fee
        row[3] += txn.net
    say("balance transactions by reporting category:")
    say(f"  {'category':<18} {'count':>5} {'gross':>12} {'fees':>10} {'net':>12}")
    for category, (count, gross, fee, net) in sorted(totals.items()):
        say(f"  {category:<18} {count:>5} {_usd(gross):>12} {_usd(fee):>10} {_usd(net):>12}")
