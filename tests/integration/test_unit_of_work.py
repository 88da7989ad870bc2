"""The unit of work on real PostgreSQL: reads see queued appends, one flush, clean rollbacks.

Commands here are run through `runner.run_command` directly, with customer events, so each
test controls exactly what a command appends and reads. A counting cursor records what the
unit of work sends to the server.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

import psycopg
import pytest
from psycopg.pq import TransactionStatus

from ledger import InvalidRequestError, Ledger
from ledger.domain import customer as customer_domain
from ledger.services import runner
from ledger.services.runner import JSON, RequestContext, UnitOfWork
from ledger.store.events import read_stream

OPERATION = "test unit of work"


class CountingCursor:
    """A cursor that records every statement before sending it."""

    def __init__(self, cur: psycopg.Cursor[Any]) -> None:
        self._cur = cur
        self.statements: list[str] = []

    def execute(self, query: Any, params: Any = None, **kwargs: Any) -> psycopg.Cursor[Any]:
        self.statements.append(str(query))
        return self._cur.execute(query, params, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._cur, name)


def counting(uow: UnitOfWork) -> CountingCursor:
    counter = CountingCursor(uow.cursor)
    uow.cursor = cast(psycopg.Cursor[Any], counter)
    return counter


def run(led: Ledger, command: Callable[[UnitOfWork], JSON]) -> JSON:
    engine = led._engine
    ctx = RequestContext(engine.platform_account_id, "req_test", None, led.clock.now())
    _status, body, _replayed = runner.run_command(engine, ctx, OPERATION, {}, [], command)
    return body


def create_customer(uow: UnitOfWork, email: str) -> str:
    customer_id = uow.new_id("cus")
    created = int(uow.ctx.now.timestamp())
    events = customer_domain.decide_create(customer_id, created, "ABCD1234", {"email": email})
    uow.append(customer_id, events)
    return customer_id


def events_of(url: str, account_id: str, stream_id: str) -> list[str]:
    with psycopg.connect(url) as conn:
        return [recorded.type for recorded in read_stream(conn, account_id, stream_id)]


def test_reads_see_queued_appends_without_a_statement(led: Ledger, database_url: str) -> None:
    seen: dict[str, Any] = {}

    def command(uow: UnitOfWork) -> JSON:
        counter = counting(uow)
        customer_id = create_customer(uow, "a@example.com")
        state = uow.get(customer_id, "customer", "customer")
        uow.append(customer_id, customer_domain.decide_update(state, {"name": "Ada"}))
        loaded = uow.find(customer_id)
        seen.update(statements=list(counter.statements), version=loaded.stream_version)
        assert loaded.state is not None
        return loaded.state.data

    body = run(led, command)
    # Both appends read back before anything was sent: no load of the minted id, no write yet.
    assert seen == {"statements": [], "version": 2}
    assert (body["email"], body["name"]) == ("a@example.com", "Ada")
    assert led.customers.retrieve(body["id"]).to_dict() == body
    account = led.platform_account_id
    assert events_of(database_url, account, body["id"]) == [
        "customer.created",
        "customer.updated",
    ]


def test_one_flush_writes_a_new_stream_without_load_or_lock(led: Ledger) -> None:
    sent: list[str] = []

    def command(uow: UnitOfWork) -> JSON:
        counter = counting(uow)
        customer_id = create_customer(uow, "b@example.com")
        state = uow.get(customer_id, "customer", "customer")
        uow.append(customer_id, customer_domain.decide_update(state, {"name": "Bo"}))
        uow.flush()
        sent.extend(counter.statements)
        return uow.get(customer_id, "customer", "customer").data

    run(led, command)
    assert sum("INSERT INTO events" in statement for statement in sent) == 1
    assert not [s for s in sent if "FROM objects" in s or "pg_advisory_xact_lock" in s]


def test_appending_to_an_existing_stream_loads_and_locks_it(led: Ledger) -> None:
    customer_id = led.customers.create(email="c@example.com").id
    sent: list[str] = []

    def command(uow: UnitOfWork) -> JSON:
        counter = counting(uow)
        state = uow.get(customer_id, "customer", "customer")
        uow.append(customer_id, customer_domain.decide_update(state, {"name": "Cy"}))
        uow.flush()
        sent.extend(counter.statements)
        return uow.get(customer_id, "customer", "customer").data

    assert run(led, command)["name"] == "Cy"
    assert sum("FROM objects" in statement for statement in sent) == 1
    assert sum("pg_advisory_xact_lock" in statement for statement in sent) == 1


def test_the_cursor_flushes_before_reading(led: Ledger) -> None:
    def command(uow: UnitOfWork) -> JSON:
        customer_id = create_customer(uow, "d@example.com")
        row = uow.cur.execute(
            "SELECT data->>'email' FROM objects WHERE account_id = %s AND id = %s",
            (uow.ctx.account_id, customer_id),
        ).fetchone()
        return {"id": customer_id, "email": row[0] if row else None}

    assert run(led, command)["email"] == "d@example.com"


def assert_clean(led: Ledger, database_url: str) -> None:
    """Nothing of the failed commands was kept, and the pool's connection is reusable."""
    with psycopg.connect(database_url) as conn:
        row = conn.execute("SELECT count(*) FROM events WHERE stream_id LIKE 'cus\\_%'").fetchone()
    assert row == (0,)
    with led._engine.pool.connection() as conn:
        assert conn.autocommit is False
        assert conn.info.transaction_status == TransactionStatus.IDLE
    assert led.customers.create(email="after@example.com").email == "after@example.com"


def test_an_error_raised_by_the_command_rolls_back(led: Ledger, database_url: str) -> None:
    def command(uow: UnitOfWork) -> JSON:
        create_customer(uow, "e@example.com")
        uow.flush()
        raise InvalidRequestError("refused after a flush", param="email")

    with pytest.raises(InvalidRequestError, match="refused after a flush"):
        run(led, command)
    assert_clean(led, database_url)


def test_a_server_error_surfacing_at_commit_rolls_back(led: Ledger, database_url: str) -> None:
    # A statement whose result is never read: in the pipeline its error may reach the client
    # only with the commit's results.
    def command(uow: UnitOfWork) -> JSON:
        create_customer(uow, "f@example.com")
        uow.flush()
        uow.cursor.execute("SELECT 1 / 0")
        return {}

    with pytest.raises(psycopg.errors.DivisionByZero):
        run(led, command)
    assert_clean(led, database_url)
