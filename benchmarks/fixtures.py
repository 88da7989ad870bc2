"""Fixtures the benchmarks share: a fresh database to write to, and generated logs to read."""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

import orjson
import psycopg

from benchmarks.context import Context
from benchmarks.harness import Case
from ledger import Ledger
from ledger.domain.customer import CustomerCreated, CustomerUpdated, blank_customer
from ledger.domain.events import DomainEvent
from ledger.store.events import NewEvent, append

__all__ = [
    "LogFixture",
    "WriteFixture",
    "customer_created",
    "customer_payload",
    "generate_log",
    "log_fixture",
    "write_fixture",
]

CREATED = 1_732_104_000  # 2024-11-20, the API version's date
EVENTS_PER_CUSTOMER = 10  # customer.created, then 9 customer.updated
EVENTS_PER_APPEND = 1_000
APPENDS_PER_TRANSACTION = 20


@dataclass
class WriteFixture:
    """A fresh migrated database; each run writes new streams under its own prefix."""

    url: str
    runs: itertools.count[int] = field(default_factory=itertools.count)

    def next_prefix(self, label: str) -> str:
        return f"cus_{label}r{next(self.runs)}x"


@dataclass(frozen=True, slots=True)
class LogFixture:
    """A database whose log holds `events` valid events and whose projections match it.

    `events` is the generated log plus what opening the ledger recorded (a few events).
    """

    url: str
    events: int
    seconds_generating: float
    seconds_rebuilding: float


def write_fixture(ctx: Context, case: Case) -> WriteFixture:
    return WriteFixture(ctx.fresh_database(case.benchmark.name[:20]))


def customer_created(customer_id: str) -> CustomerCreated:
    customer = blank_customer(customer_id, CREATED, "B3NCH0001")
    customer |= {
        "email": f"{customer_id}@example.com",
        "name": "Benchmark Customer",
        "metadata": {"order_id": "6735", "source": "benchmarks"},
    }
    return CustomerCreated(customer=customer)


def customer_payload() -> str:
    """The stored JSON of a typical customer.created event (what the raw reference writes)."""
    return orjson.dumps(customer_created("cus_B3nch").payload()).decode()


def _customer_events(customer_id: str) -> list[DomainEvent]:
    events: list[DomainEvent] = [customer_created(customer_id)]
    events += [
        CustomerUpdated(changes={"metadata": {"order_id": "6735", "source": "benchmarks", "n": v}})
        for v in map(str, range(2, EVENTS_PER_CUSTOMER + 1))
    ]
    return events


def generate_log(url: str, account_id: str, size: int) -> float:
    """Append `size` valid customer events with the store's own append; seconds taken.

    Customers get one customer.created and nine customer.updated events, appended 1,000 per
    statement and 20,000 per transaction; the projections are left to `Ledger.rebuild()`.
    """
    now = datetime(2024, 11, 20, tzinfo=UTC)
    metadata = {"request_id": None, "idempotency_key": None}
    started = time.perf_counter()
    written = 0
    customers = itertools.count()
    with psycopg.connect(url) as conn:
        while written < size:
            with conn.transaction(), conn.cursor() as cur:
                for _ in range(APPENDS_PER_TRANSACTION):
                    batch: list[NewEvent] = []
                    while len(batch) < EVENTS_PER_APPEND and written + len(batch) < size:
                        customer_id = f"cus_gen{next(customers):09d}"
                        events = _customer_events(customer_id)
                        events = events[: size - written - len(batch)]
                        batch += [
                            NewEvent(customer_id, version, event)
                            for version, event in enumerate(events, 1)
                        ]
                    if not batch:
                        break
                    append(cur, account_id, batch, metadata, now)
                    written += len(batch)
    return time.perf_counter() - started


def log_fixture(ctx: Context, case: Case) -> LogFixture:
    """A fresh database with a log of `case.size` events and projections rebuilt from it."""
    assert case.size is not None
    url = ctx.fresh_database(f"log{case.size}")
    with Ledger.open(url, migrate=False) as led:
        # Opening a ledger may record a few events of its own (the platform account).
        generating = generate_log(url, led.platform_account_id, case.size)
        started = time.perf_counter()
        report = led.rebuild()
        rebuilding = time.perf_counter() - started
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
        row = conn.execute("SELECT count(*) FROM events").fetchone()
    events = int(row[0]) if row else 0
    assert report.events_replayed == events and case.size <= events < case.size + 100, events
    return LogFixture(url, events, generating, rebuilding)
