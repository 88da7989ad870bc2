"""Shared fixtures: a PostgreSQL server, and a fresh migrated database for every test.

With DATABASE_URL set, databases are created on that server; otherwise a private PostgreSQL is
started through pgserver for the session. Each test gets its own database, cloned from a
template that was migrated once, so tests are isolated and fast.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest

from ledger import FrozenClock, Ledger, db

SHARED_STRIPE = Path(__file__).resolve().parents[2] / "shared" / "stripe"


def with_database(url: str, name: str) -> str:
    """`url` pointing at database `name` instead."""
    parts = urlsplit(db.to_libpq_url(url))
    return urlunsplit(parts._replace(path="/" + name))


def _admin(url: str) -> psycopg.Connection[tuple[object, ...]]:
    return psycopg.connect(db.to_libpq_url(url), autocommit=True)


@pytest.fixture(scope="session")
def server_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A URL on the PostgreSQL server the tests may create databases on."""
    configured = os.environ.get("DATABASE_URL")
    if configured:
        return db.to_libpq_url(configured)
    return db.embedded_url(tmp_path_factory.mktemp("ledger-home"))


@pytest.fixture(scope="session")
def template_database(server_url: str) -> Iterator[str]:
    """A migrated database that every test database is cloned from."""
    name = f"ledger_tpl_{secrets.token_hex(4)}"
    with _admin(server_url) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    db.migrate(with_database(server_url, name))
    yield name
    with _admin(server_url) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def database_url(server_url: str, template_database: str) -> Iterator[str]:
    """The URL of a fresh, migrated database of this test's own."""
    name = f"ledger_t_{secrets.token_hex(6)}"
    with _admin(server_url) as conn:
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template_database}"')
    yield with_database(server_url, name)
    with _admin(server_url) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(datetime(2024, 11, 20, 12, 0, tzinfo=UTC))


@pytest.fixture
def led(database_url: str, clock: FrozenClock) -> Iterator[Ledger]:
    """A ledger on a fresh database with a frozen clock."""
    ledger = Ledger.open(database_url, clock=clock, migrate=False)
    yield ledger
    ledger.close()
