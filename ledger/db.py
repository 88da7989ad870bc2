"""Where the database is: URL forms, the embedded PostgreSQL, the connection pool, migrations."""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any

import psycopg
from psycopg.rows import TupleRow
from psycopg_pool import ConnectionPool

from ledger import limits

__all__ = [
    "embedded_url",
    "ledger_home",
    "migrate",
    "open_pool",
    "resolve_url",
    "to_libpq_url",
    "to_sqlalchemy_url",
]

_SQLALCHEMY_PREFIXES = ("postgresql+psycopg://", "postgresql+psycopg2://", "postgresql+psycopg3://")
_MIGRATION_LOCK_KEY = 0x1ED6E5  # pg_advisory_lock key: one migrator at a time per database


def ledger_home() -> Path:
    """`$LEDGER_HOME`, or `./.ledger`: where the embedded database lives."""
    return Path(os.environ.get("LEDGER_HOME") or ".ledger").resolve()


def embedded_url(home: Path | None = None) -> str:
    """Start (or reuse) the private PostgreSQL under `home` and return its libpq URL."""
    home = home or ledger_home()
    home.mkdir(parents=True, exist_ok=True)
    # platformdirs (used by pgserver) warns when XDG_RUNTIME_DIR is unset; give it a home.
    runtime_dir = home / "run"
    runtime_dir.mkdir(exist_ok=True)
    os.environ.setdefault("XDG_RUNTIME_DIR", str(runtime_dir))
    with warnings.catch_warnings():
        # pgserver's platformdirs may warn about the runtime dir; that is not ours to fix.
        warnings.simplefilter("ignore")
        try:
            import pgserver
        except ImportError as exc:  # pragma: no cover - depends on the install
            raise RuntimeError(
                "No DATABASE_URL is set and the embedded PostgreSQL is not installed: "
                "pip install 'stripe-ledger[embedded]', or set DATABASE_URL."
            ) from exc
        server = pgserver.get_server(  # type: ignore[attr-defined]
            home / "pgdata", cleanup_mode="stop"
        )
    return str(server.get_uri())


def resolve_url(url: str | None = None) -> str:
    """The URL to use: the one given, else `$DATABASE_URL`, else the embedded server's."""
    chosen = url or os.environ.get("DATABASE_URL")
    return to_libpq_url(chosen) if chosen else embedded_url()


def to_libpq_url(url: str) -> str:
    """Accept libpq (`postgresql://`, `postgres://`) and SQLAlchemy (`postgresql+psycopg://`)."""
    for prefix in _SQLALCHEMY_PREFIXES:
        if url.startswith(prefix):
            return "postgresql://" + url[len(prefix) :]
    if url.startswith(("postgresql://", "postgres://")):
        return url
    raise ValueError(f"not a PostgreSQL URL: {url!r}")


def to_sqlalchemy_url(url: str) -> str:
    """The same database as a SQLAlchemy URL for the psycopg 3 driver."""
    libpq = to_libpq_url(url)
    return "postgresql+psycopg://" + libpq.split("://", 1)[1]


def _configure(conn: psycopg.Connection[Any]) -> None:
    # Commands run in READ COMMITTED with optimistic concurrency on streams; say so explicitly
    # so a server default of SERIALIZABLE does not change behaviour.
    conn.isolation_level = psycopg.IsolationLevel.READ_COMMITTED
    conn.prepare_threshold = 1
    # Prepared statements save parsing, but after five runs PostgreSQL may switch one to a
    # generic plan that cannot use the values, e.g. a scan of `objects` for a batch load by
    # ids, which grows slower as the table grows. Plan each execution with its values.
    conn.execute("SET plan_cache_mode = force_custom_plan")
    conn.commit()


def open_pool(url: str, max_size: int = limits.POOL_CONNECTIONS_MAX) -> ConnectionPool[Any]:
    """A connection pool on `url`, opened and checked."""
    pool: ConnectionPool[psycopg.Connection[TupleRow]] = ConnectionPool(
        to_libpq_url(url),
        min_size=1,
        max_size=max_size,
        open=False,
        configure=_configure,
        name="ledger",
    )
    pool.open(wait=True, timeout=30)
    return pool


def _migrations_dir() -> Path:
    package_dir = Path(__file__).resolve().parent
    for candidate in (package_dir / "_migrations", package_dir.parent / "migrations"):
        if (candidate / "env.py").exists():
            return candidate
    raise RuntimeError("the ledger's Alembic migrations are not installed")  # pragma: no cover


def migrate(url: str, revision: str = "head") -> None:
    """Bring the database at `url` up to `revision` (Alembic), one migrator at a time."""
    from alembic import command
    from alembic.config import Config
    from sqlalchemy import create_engine, text
    from sqlalchemy.pool import NullPool

    config = Config()
    config.set_main_option("script_location", str(_migrations_dir()))
    engine = create_engine(to_sqlalchemy_url(url), poolclass=NullPool)
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT pg_advisory_lock(:key)"), {"key": _MIGRATION_LOCK_KEY})
            try:
                config.attributes["connection"] = conn
                command.upgrade(config, revision)
                conn.commit()
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": _MIGRATION_LOCK_KEY})
                conn.commit()
    finally:
        engine.dispose()
