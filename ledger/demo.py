"""`ledger demo`: a day of card payments and of a marketplace, time passing, payouts, the audit.

Each run books its day into accounts of its own: a merchant (a connected account taking its own
card payments) and a marketplace seller (a connected account paid through the platform's
destination charges). Their balances and the summary printed are that day's alone, however many
times the demo has run before; the platform's share is shown as this run's balance transactions.
"""

from __future__ import annotations

import secrets
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
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

    market = _marketplace(led, say, run)

    # -- time passes -------------------------------------------------------------------------
    _show_balance(led, say, on, "merchant balance at the end of the day")
    if isinstance(led.clock, FrozenClock):
        led.clock.advance(timedelta(days=4))
        ran = led.run_due()
        say(f"four days later: {ran} pieces of due work ran (pending funds became available)")
        _show_balance(led, say, on, "merchant balance now")
        _payouts(led, say, market)

    _summary_by_category(led, say, on, "merchant")
    _summary_by_category(led, say, {"stripe_account": market.seller}, "seller")
    report = led.audit()
    verdict = "ok" if report.ok else f"FAILED ({len(report.discrepancies)} discrepancies)"
    say(
        f"audit: replayed {report.events_replayed} events into shadow projections, checked "
        f"{', '.join(report.checks)}: {verdict}"
    )


@dataclass
class _Market:
    """What the marketplace part made: the seller, and the platform's balance transactions."""

    seller: str
    platform_transactions: list[str] = field(default_factory=list)


def _marketplace(led: Ledger, say: Say, run: str) -> _Market:
    """A seller paid through destination charges with a platform fee, and a reversal."""
    seller = led.accounts.create(
        type="custom",
        country="US",
        email=f"seller+{run}@example.com",
        capabilities={"card_payments": {"requested": True}, "transfers": {"requested": True}},
        business_type="individual",
        business_profile={"mcc": "5734", "url": "https://seller.example"},
        # Stripe's test values that verify an individual at once.
        individual={
            "first_name": "Grace",
            "last_name": "Hopper",
            "email": f"grace+{run}@example.com",
            "phone": "+15555550100",
            "dob": {"day": 1, "month": 1, "year": 1902},
            "address": {
                "line1": "address_full_match",
                "city": "San Francisco",
                "postal_code": "94103",
                "state": "CA",
            },
            "ssn_last_4": "0000",
        },
        tos_acceptance={"date": int(led.clock.now().timestamp()), "ip": "203.0.113.7"},
        # The demo pays the seller out itself, below.
        settings={"payouts": {"schedule": {"interval": "manual"}}},
    )
    market = _Market(seller.id)
    led.accounts.external_accounts.create(seller.id, external_account="btok_us_verified")
    say(
        f"marketplace: seller {seller.id} ({seller.type}), transfers "
        f"{seller.capabilities['transfers']}, with a test bank account"
    )
    for amount, fee, card in (
        (10_000, 1_000, "pm_card_visa"),
        (4_500, 450, "pm_card_bypassPending"),
    ):
        intent = led.payment_intents.create(
            amount=amount,
            currency="usd",
            payment_method=card,
            payment_method_types=["card"],
            confirm=True,
            transfer_data={"destination": seller.id},
            application_fee_amount=fee,
        )
        charge = led.charges.retrieve(intent.latest_charge, expand=["transfer", "application_fee"])
        market.platform_transactions += [
            charge.balance_transaction,
            charge.transfer.balance_transaction,
            charge.application_fee.balance_transaction,
        ]
        say(
            f"  destination charge {charge.id} {_usd(amount)}: transfer {charge.transfer.id} "
            f"of {_usd(charge.transfer.amount)} to the seller, platform fee "
            f"{charge.application_fee.id} {_usd(fee)}"
        )
    reversal = led.transfers.create_reversal(charge.transfer.id, amount=1_000)
    market.platform_transactions.append(reversal.balance_transaction)
    say(
        f"  transfer reversal {reversal.id}: {_usd(reversal.amount)} of {charge.transfer.id} "
        "back from the seller"
    )
    _show_balance(led, say, {"stripe_account": seller.id}, "  seller balance")
    return market


def _payouts(led: Ledger, say: Say, market: _Market) -> None:
    """Pay out the seller's balance and the platform's earnings of this run; let them arrive."""
    seller = {"stripe_account": market.seller}
    available = sum(b.amount for b in led.balance.retrieve(**seller).available)
    seller_payout = led.payouts.create(amount=available, currency="usd", **seller)
    say(f"seller payout {seller_payout.id}: {_usd(available)}, {seller_payout.status}")
    platform = led.platform_account_id
    if not led.accounts.external_accounts.list(platform, object="bank_account").data:
        led.accounts.external_accounts.create(platform, external_account="btok_us_verified")
    earned = sum(led.balance_transactions.retrieve(txn).net for txn in market.platform_transactions)
    payouts = [(seller_payout.id, seller)]
    try:
        platform_payout = led.payouts.create(amount=earned, currency="usd")
    except InvalidRequestError as error:
        say(f"platform payout of {_usd(earned)} refused: {error.code}")
    else:
        payouts.append((platform_payout.id, {}))
        say(
            f"platform payout {platform_payout.id}: this run's earnings {_usd(earned)}, "
            f"{platform_payout.status}"
        )
    assert isinstance(led.clock, FrozenClock)
    led.clock.advance(timedelta(days=5))  # past the arrival date, weekends included
    led.run_due()
    for payout_id, scope in payouts:
        payout = led.payouts.retrieve(payout_id, **scope)
        arrival = datetime.fromtimestamp(payout.arrival_date, UTC).date().isoformat()
        say(f"  five days later {payout.id} is {payout.status} (arrived {arrival})")


def _show_balance(led: Ledger, say: Say, on: dict[str, Any], title: str) -> None:
    balance = led.balance.retrieve(**on)
    available = ", ".join(f"{_usd(b.amount)}" for b in balance.available)
    pending = ", ".join(f"{_usd(b.amount)}" for b in balance.pending)
    say(f"{title}: available {available}, pending {pending}")


def _summary_by_category(led: Ledger, say: Say, on: dict[str, Any], whose: str) -> None:
    totals: defaultdict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for txn in led.balance_transactions.list(limit=100, **on).auto_paging_iter():
        row = totals[txn.reporting_category]
        row[0] += 1
        row[1] += txn.amount
        row[2] += txn.fee
        row[3] += txn.net
    say(f"{whose}'s balance transactions by reporting category:")
    say(f"  {'category':<18} {'count':>5} {'gross':>12} {'fees':>10} {'net':>12}")
    for category, (count, gross, fee, net) in sorted(totals.items()):
        say(f"  {category:<18} {count:>5} {_usd(gross):>12} {_usd(fee):>10} {_usd(net):>12}")
