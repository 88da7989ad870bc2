"""Ours: the ledger's event store, its Stripe-shaped flows, contention, replay-audit, rebuild.

The flows call the public API (`led.customers`, `led.payment_intents`, `led.refunds`, …) exactly
as a user would; what a flow sends is in one place (`FLOWS`) so new resources plug in.
"""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import psycopg

from benchmarks.context import Context, run_workers
from benchmarks.fixtures import LogFixture, WriteFixture, customer_created
from benchmarks.harness import Case, Sample
from ledger import Ledger, RateLimitError, db
from ledger.store.events import NewEvent, append, iter_visible

__all__ = [
    "FLOWS",
    "audit_replay",
    "customers_create",
    "customers_update",
    "flow_sequential",
    "flow_workers",
    "hot_account_payments",
    "hot_charge_refunds",
    "hot_customer_updates",
    "rebuild",
    "spread_account_payments",
    "spread_charge_refunds",
    "spread_customer_updates",
    "store_append_batch",
    "store_append_one",
    "store_read",
]

ACCOUNT = "acct_1BenchStore"
BATCH_EVENTS = 100
READ_BATCH_EVENTS = 5_000
CUSTOMERS_UPDATED = 100  # sequential updates go round-robin over this many customers
HOT_METADATA_KEYS = 40
AMOUNT = 2_000
FUNDING_AMOUNT = 99_999_999  # Stripe's largest amount: funds transfers and payouts
_METADATA = {"request_id": None, "idempotency_key": None}

# What a payment flow sends: a card payment confirmed at creation by a server-side integration
# (no redirects, so Stripe asks for no return_url).
PAYMENT_PARAMS: dict[str, Any] = {
    "amount": AMOUNT,
    "currency": "usd",
    "payment_method": "pm_card_visa",
    "confirm": True,
    "automatic_payment_methods": {"enabled": True, "allow_redirects": "never"},
}


# What each Stripe flow sends. `prepare(led, count)` runs untimed and returns what the n-th call
# needs; `call(led, prepared, n, account)` makes one flow. Changing a flow's parameters, or adding
# one (transfers, payouts), is one entry here and one in the registry.
@dataclass(frozen=True, slots=True)
class Flow:
    prepare: Callable[[Ledger, int, str | None], list[Any]]
    call: Callable[[Ledger, Any, int, str | None], None]


def _account(account: str | None) -> dict[str, Any]:
    return {"stripe_account": account} if account else {}


def _check(obj: Any, field_name: str, expected: str) -> None:
    value = obj[field_name]
    if value != expected:
        raise AssertionError(f"{obj!r}: {field_name} is {value!r}, not {expected!r}")


def _nothing(led: Ledger, count: int, account: str | None) -> list[Any]:
    return [None] * count


def _payment(led: Ledger, account: str | None, **overrides: Any) -> Any:
    """A PaymentIntent created and confirmed in one call, as a server-side integration does."""
    params = PAYMENT_PARAMS | overrides | _account(account)
    intent = led.payment_intents.create(**params)
    _check(intent, "status", "succeeded")
    return intent


def _pay(led: Ledger, prepared: Any, n: int, account: str | None) -> None:
    _payment(led, account)


def _paid_intents(led: Ledger, count: int, account: str | None) -> list[Any]:
    return [_payment(led, account).id for _ in range(count)]


def _refund(led: Ledger, intent_id: Any, n: int, account: str | None) -> None:
    refund = led.refunds.create(payment_intent=intent_id, **_account(account))
    _check(refund, "status", "succeeded")


def _fund(led: Ledger, count: int, account: str | None) -> list[Any]:
    """Available funds for transfers and payouts: a payment that skips the pending period."""
    _payment(led, account, amount=FUNDING_AMOUNT, payment_method="pm_card_bypassPending")
    return [None] * count


def _transfer(led: Ledger, prepared: Any, n: int, account: str | None) -> None:
    led.transfers.create(  # type: ignore[attr-defined]
        amount=100, currency="usd", destination="acct_1BenchDestination", **_account(account)
    )


def _payout(led: Ledger, prepared: Any, n: int, account: str | None) -> None:
    led.payouts.create(amount=100, currency="usd", **_account(account))  # type: ignore[attr-defined]


FLOWS: dict[str, Flow] = {
    "payment": Flow(_nothing, _pay),
    "refund": Flow(_paid_intents, _refund),
    "transfer": Flow(_fund, _transfer),
    "payout": Flow(_fund, _payout),
}


# -- the event store -----------------------------------------------------------------------------


def store_append_one(ctx: Context, case: Case, fx: WriteFixture) -> Sample:
    """`store.append` of one event per transaction, through the ledger's pool (one connection).

    The events are built before the clock starts: this is the store (serialise, insert,
    return positions), not the domain.
    """
    count = case.operations(ctx.options)
    prefix = fx.next_prefix("one")
    events = [NewEvent(f"{prefix}{i}", 1, customer_created(f"{prefix}{i}")) for i in range(count)]
    now = datetime.now(UTC)
    pool = db.open_pool(fx.url, max_size=1)
    try:
        started = time.perf_counter()
        for new in events:
            with pool.connection() as conn, conn.transaction(), conn.cursor() as cur:
                append(cur, ACCOUNT, [new], _METADATA, now)
        seconds = time.perf_counter() - started
    finally:
        pool.close()
    return Sample(count, seconds)


def store_append_batch(ctx: Context, case: Case, fx: WriteFixture) -> Sample:
    """`store.append` of 100 events (100 new streams) per transaction."""
    batches = max(1, case.operations(ctx.options) * 10 // BATCH_EVENTS)
    prefix = fx.next_prefix("batch")
    groups = [
        [
            NewEvent(f"{prefix}{b}_{i}", 1, customer_created(f"{prefix}{b}_{i}"))
            for i in range(BATCH_EVENTS)
        ]
        for b in range(batches)
    ]
    now = datetime.now(UTC)
    pool = db.open_pool(fx.url, max_size=1)
    try:
        started = time.perf_counter()
        for group in groups:
            with pool.connection() as conn, conn.transaction(), conn.cursor() as cur:
                append(cur, ACCOUNT, group, _METADATA, now)
        seconds = time.perf_counter() - started
    finally:
        pool.close()
    return Sample(batches * BATCH_EVENTS, seconds)


def store_read(ctx: Context, case: Case, fx: LogFixture) -> Sample:
    """`store.iter_visible`: every event decoded into its pydantic class, 5,000 per batch.

    Its rate does not depend on the log's length, so one size is enough.
    """
    count = 0
    with psycopg.connect(fx.url) as conn:
        started = time.perf_counter()
        with conn.transaction():
            for batch in iter_visible(conn, READ_BATCH_EVENTS):
                count += len(batch)
        seconds = time.perf_counter() - started
    assert count == fx.events
    return Sample(count, seconds)


# -- commands and flows ----------------------------------------------------------------------------


def _open(url: str, pool_size: int) -> Ledger:
    return Ledger.open(url, migrate=False, pool_size=pool_size)


def customers_create(ctx: Context, case: Case, fx: WriteFixture) -> Sample:
    """`led.customers.create(email=…, metadata=…)`, sequential on one connection."""
    count = case.operations(ctx.options)
    prefix = fx.next_prefix("c")
    with _open(fx.url, 1) as led:
        led.customers.create(email="warm@example.com")
        started = time.perf_counter()
        for i in range(count):
            led.customers.create(email=f"{prefix}{i}@example.com", metadata={"n": str(i)})
        seconds = time.perf_counter() - started
    return Sample(count, seconds)


def customers_update(ctx: Context, case: Case, fx: WriteFixture) -> Sample:
    """`led.customers.update(id, metadata=…)` (load, decide one event, append, project)."""
    count = case.operations(ctx.options)
    with _open(fx.url, 1) as led:
        ids = [led.customers.create().id for _ in range(min(count, CUSTOMERS_UPDATED))]
        started = time.perf_counter()
        for i in range(count):
            led.customers.update(ids[i % len(ids)], metadata={f"k{i % 40}": str(i)})
        seconds = time.perf_counter() - started
    return Sample(count, seconds)


def flow_sequential(flow_name: str) -> Callable[[Context, Case, WriteFixture], Sample]:
    """A flow of FLOWS, sequential on one connection."""
    flow = FLOWS[flow_name]

    def run(ctx: Context, case: Case, fx: WriteFixture) -> Sample:
        count = case.operations(ctx.options)
        with _open(fx.url, 1) as led:
            prepared = flow.prepare(led, count + 1, None)
            flow.call(led, prepared[-1], -1, None)  # warm-up
            started = time.perf_counter()
            for n in range(count):
                flow.call(led, prepared[n], n, None)
            seconds = time.perf_counter() - started
        return Sample(count, seconds)

    run.__doc__ = f"{flow_name}, sequential on one connection"
    return run


def flow_workers(flow_name: str) -> Callable[[Context, Case, WriteFixture], Sample]:
    """A flow of FLOWS from `--workers` threads sharing one Ledger (pool of that many)."""
    flow = FLOWS[flow_name]

    def run(ctx: Context, case: Case, fx: WriteFixture) -> Sample:
        workers, count, warmup = ctx.options.workers, case.operations(ctx.options), 2
        with _open(fx.url, workers) as led:
            prepared = flow.prepare(led, count + workers * warmup, None)
            slices = [prepared[w::workers] for w in range(workers)]

            def call(w: int, i: int) -> None:
                flow.call(led, slices[w][warmup + i if i >= 0 else -1 - i], i, None)

            outcome = run_workers(workers, count, call, warmup=warmup)
        return Sample(outcome.successes, outcome.seconds)

    run.__doc__ = f"{flow_name}, {{workers}} concurrent workers"
    return run


# -- contention ------------------------------------------------------------------------------------


def _version_gaps(conn: psycopg.Connection[Any], account_id: str | None = None) -> int:
    """Streams whose versions are not exactly 1..n (a lost or duplicated event)."""
    row = conn.execute(
        "SELECT count(*) FROM (SELECT account_id, stream_id FROM events "
        "WHERE %s::text IS NULL OR account_id = %s GROUP BY 1, 2 "
        "HAVING count(*) <> max(stream_version) OR count(DISTINCT stream_version) <> count(*)) s",
        (account_id, account_id),
    ).fetchone()
    return int(row[0]) if row else 0


_run_numbers = itertools.count()


def _customer_updates(ctx: Context, case: Case, fx: WriteFixture, hot: bool) -> Sample:
    workers, count = ctx.options.workers, case.operations(ctx.options)
    with _open(fx.url, workers) as led:
        targets = [led.customers.create().id for _ in range(1 if hot else workers)]

        def update(w: int, i: int) -> None:
            customer = targets[0 if hot else w]
            led.customers.update(customer, metadata={f"k{(w * 7 + i) % 40}": f"{w}.{i}"})

        outcome = run_workers(workers, count, update, expected_errors=(RateLimitError,))
    checks: dict[str, int] = {}
    with psycopg.connect(fx.url) as conn:
        updated = 0
        for customer in targets:
            row = conn.execute(
                "SELECT count(*) FROM stripe_events WHERE type = 'customer.updated' "
                "AND data->'data'->'object'->>'id' = %s",
                (customer,),
            ).fetchone()
            updated += int(row[0]) if row else 0
            versions = conn.execute(
                "SELECT count(*), coalesce(max(stream_version), 0) FROM events "
                "WHERE stream_id = %s",
                (customer,),
            ).fetchone()
            assert versions is not None
            checks["version_gaps"] = checks.get("version_gaps", 0) + abs(
                int(versions[1]) - int(versions[0])
            )
        checks["lost_updates"] = abs(outcome.successes_total - updated)
    extras = {"lock_timeouts": float(outcome.failures_total)}
    return Sample(outcome.successes, outcome.seconds, checks, extras)


def hot_customer_updates(ctx: Context, case: Case, fx: WriteFixture) -> Sample:
    """{workers} threads updating ONE customer's metadata; lost-update and gap checks.

    Every successful update must appear as one customer.updated Stripe event and its stream's
    versions must run 1..n without gaps; lock timeouts (429 after the retries) are reported.
    """
    return _customer_updates(ctx, case, fx, hot=True)


def spread_customer_updates(ctx: Context, case: Case, fx: WriteFixture) -> Sample:
    """{workers} threads each updating its own customer's metadata, with the same checks.

    The uncontended rate `hot_customer` is compared with.
    """
    return _customer_updates(ctx, case, fx, hot=False)


def _money_checks(
    led: Ledger, url: str, accounts: list[str], charges_expected: int
) -> dict[str, int]:
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "SELECT count(*) FROM objects WHERE object = 'charge' AND account_id = ANY(%s) "
            "AND data->>'status' = 'succeeded'",
            (accounts,),
        ).fetchone()
        charges = int(row[0]) if row else 0
        gaps = _version_gaps(conn)
    report = led.audit()
    return {
        "lost_charges": abs(charges_expected - charges),
        "version_gaps": gaps,
        "audit_findings": len(report.discrepancies),
    }


def _account_payments(ctx: Context, case: Case, fx: WriteFixture, hot: bool) -> Sample:
    workers, count = ctx.options.workers, case.operations(ctx.options)
    run = next(_run_numbers)
    accounts = [f"acct_1Bench{run}x{w}" for w in range(1 if hot else workers)]
    with _open(fx.url, workers) as led:

        def pay(w: int, i: int) -> None:
            _pay(led, None, i, accounts[0 if hot else w])

        outcome = run_workers(workers, count, pay, expected_errors=(RateLimitError,))
        checks = _money_checks(led, fx.url, accounts, outcome.successes_total)
    return Sample(
        outcome.successes, outcome.seconds, checks, {"lock_timeouts": outcome.failures_total}
    )


def hot_account_payments(ctx: Context, case: Case, fx: WriteFixture) -> Sample:
    """{workers} threads paying into ONE connected account (new each run).

    Its balance rows are the hot spot. Checks: one succeeded charge per successful flow,
    gapless stream versions, and a clean `led.audit()` (postings balance, balances = Σ balance
    transactions).
    """
    return _account_payments(ctx, case, fx, hot=True)


def spread_account_payments(ctx: Context, case: Case, fx: WriteFixture) -> Sample:
    """{workers} threads each paying into its own connected account, with the same checks.

    The uncontended rate `hot_account` is compared with.
    """
    return _account_payments(ctx, case, fx, hot=False)


def _charge_refunds(ctx: Context, case: Case, fx: WriteFixture, hot: bool) -> Sample:
    workers, count = ctx.options.workers, case.operations(ctx.options)
    account = f"acct_1Bench{next(_run_numbers)}r"
    with _open(fx.url, workers) as led:
        # Enough for every 1-cent refund, warm-ups included, with one cent left over.
        amount = count + workers * 2 + 1
        intents = [
            _payment(led, account, amount=max(amount, 100)).id for _ in range(1 if hot else workers)
        ]

        def refund(w: int, i: int) -> None:
            led.refunds.create(
                payment_intent=intents[0 if hot else w], amount=1, stripe_account=account
            )

        outcome = run_workers(workers, count, refund, expected_errors=(RateLimitError,))
        refunded = 0
        for intent in intents:
            retrieved = led.payment_intents.retrieve(
                intent, expand=["latest_charge"], stripe_account=account
            )
            refunded += int(retrieved["latest_charge"]["amount_refunded"])
        checks = _money_checks(led, fx.url, [account], len(intents))
    checks["lost_refunds"] = abs(outcome.successes_total - refunded)
    return Sample(
        outcome.successes, outcome.seconds, checks, {"lock_timeouts": outcome.failures_total}
    )


def hot_charge_refunds(ctx: Context, case: Case, fx: WriteFixture) -> Sample:
    """{workers} threads refunding 1 cent at a time from ONE charge (in an account new each run).

    Checks: amount_refunded = the successful refunds, gapless versions, a clean `led.audit()`.
    """
    return _charge_refunds(ctx, case, fx, hot=True)


def spread_charge_refunds(ctx: Context, case: Case, fx: WriteFixture) -> Sample:
    """{workers} threads each refunding 1 cent at a time from its own charge; same checks.

    The uncontended rate `hot_charge` is compared with.
    """
    return _charge_refunds(ctx, case, fx, hot=False)


# -- replay ----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ChildReport:
    events: int
    seconds: float
    discrepancies: int
    peak_rss_mb: float
    rss_before_mb: float


def _child(module: str, url: str) -> ChildReport:
    completed = subprocess.run(
        [sys.executable, "-m", module, url], capture_output=True, text=True, check=False
    )
    if completed.returncode != 0:
        raise RuntimeError(f"{module} failed: {completed.stderr.strip()[-500:]}")
    data = json.loads(completed.stdout.strip().splitlines()[-1])
    return ChildReport(**data)


def audit_replay(ctx: Context, case: Case, fx: LogFixture) -> Sample:
    """`led.audit()` in a fresh child process on the generated log.

    The log is customers of ten events (customer.created, then nine customer.updated), appended
    with `store.append` and projected by `led.rebuild()`. The audit replays every event into
    temporary shadow projections in one REPEATABLE READ transaction, compares them with the live
    tables and checks the invariants. Rate = events replayed / seconds of the `audit()` call;
    peak RSS = the child's VmHWM (imports included); findings must be 0.
    """
    report = _child("benchmarks.audit_child", fx.url)
    assert report.events == fx.events, f"audit replayed {report.events} of {fx.events}"
    return Sample(
        report.events,
        report.seconds,
        {"audit_findings": report.discrepancies},
        {"peak_rss_mb": round(report.peak_rss_mb, 1)},
    )


def rebuild(ctx: Context, case: Case, fx: LogFixture) -> Sample:
    """`led.rebuild()` on the generated log: truncate the projections, replay every event.

    One transaction with the projections locked: the audit's replay without the comparison,
    so one size is enough.
    """
    with _open(fx.url, 1) as led:
        started = time.perf_counter()
        report = led.rebuild()
        seconds = time.perf_counter() - started
    assert report.events_replayed == fx.events
    return Sample(report.events_replayed, seconds)
