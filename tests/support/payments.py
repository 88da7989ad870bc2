"""Shared checks for the payment tests: responses valid, books balanced, audit clean, refusals
write nothing."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import psycopg
import pytest

from ledger import Ledger
from ledger.errors import LedgerError
from ledger.projections.registry import projection_tables
from tests.support.stripe_schema import assert_valid

RETURN_URL = "https://shop.example/return"


def postings_imbalance(url: str) -> dict[str, int]:
    """Σ postings per currency over the whole log, where it is not zero."""
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT currency, sum(amount) FROM postings GROUP BY currency HAVING sum(amount) <> 0"
        ).fetchall()
    return {str(currency): int(total) for currency, total in rows}


@pytest.fixture
def books_balance(database_url: str) -> Iterator[None]:
    """After the test, Σ postings = 0 per currency."""
    yield
    assert postings_imbalance(database_url) == {}


@pytest.fixture
def audited(led: Ledger) -> Iterator[None]:
    """After the test, the audit (replay, balances, invariants, postings) finds nothing."""
    yield
    report = led.audit()
    assert report.ok, report.discrepancies


def balance(led: Ledger, **params: Any) -> tuple[int, int]:
    """(available, pending) in usd."""
    found = led.balance.retrieve(**params)
    available = next((b.amount for b in found.available if b.currency == "usd"), 0)
    pending = next((b.amount for b in found.pending if b.currency == "usd"), 0)
    return available, pending


def projection_rows(url: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every projection table as text, in order: what a rebuild must reproduce."""
    with psycopg.connect(url, autocommit=True) as conn:
        return {
            table: conn.execute(f"SELECT t::text FROM {table} t ORDER BY 1").fetchall()
            for table in projection_tables()
        }


def counts(url: str) -> tuple[int, ...]:
    """Rows of the log, the projections, the postings and the idempotency keys."""
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "SELECT (SELECT count(*) FROM events), (SELECT count(*) FROM objects), "
            "(SELECT count(*) FROM stripe_events), (SELECT count(*) FROM postings), "
            "(SELECT count(*) FROM idempotency_keys)"
        ).fetchone()
    assert row is not None
    return tuple(int(n) for n in row)


def refused(
    url: str,
    call: Callable[[], Any],
    error: type[LedgerError],
    *,
    code: str | None,
    param: str | None,
    http_status: int,
    message: str | None = None,
) -> LedgerError:
    """`call` fails with exactly this error and writes nothing."""
    before = counts(url)
    with pytest.raises(error) as caught:
        call()
    found = caught.value
    assert type(found) is error
    assert (found.code, found.param, found.http_status) == (code, param, http_status), found
    if message is not None:
        assert found.message == message
    assert found.request_id is not None and found.request_id.startswith("req_")
    assert counts(url) == before
    return found


def all_events(led: Ledger, **params: Any) -> list[Any]:
    """Every Stripe event of the account, oldest first, each checked against the schema."""
    events = list(led.events.list(limit=100, **params).auto_paging_iter())
    for event in events:
        assert_valid(event)
        assert_valid(event.data.object)
    return list(reversed(events))


def event_types(led: Ledger, **params: Any) -> list[str]:
    """The types of every Stripe event of the account, oldest first."""
    return [event.type for event in all_events(led, **params)]


def confirmed(led: Ledger, payment_method: str = "pm_card_visa", **params: Any) -> Any:
    """A PaymentIntent for $20.00 created and confirmed with `payment_method`."""
    params = {"amount": 2000, "currency": "usd", "payment_method_types": ["card"]} | params
    return led.payment_intents.create(payment_method=payment_method, confirm=True, **params)
