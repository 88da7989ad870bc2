"""The database schema as SQLAlchemy Core tables; Alembic migrations are written from it.

`events` is the source of truth and is append-only (a trigger rejects UPDATE, DELETE and
TRUNCATE). Every other table is either bookkeeping (idempotency keys, checkpoints, settings) or a
projection that `rebuild` can recreate from the log. Every row carries `account_id`: it is the
partition key, and the distribution column should the log ever be sharded.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.types import UserDefinedType

metadata = sa.MetaData()


class Xid8(UserDefinedType[int]):
    """PostgreSQL's 64-bit transaction id, used for the commit-ordered read watermark."""

    cache_ok = True

    def get_col_spec(self, **kw: Any) -> str:
        return "xid8"


events = sa.Table(
    "events",
    metadata,
    sa.Column("position", sa.BigInteger, sa.Identity(always=True), primary_key=True),
    # The writing transaction's id: readers only read below the oldest running transaction,
    # so an event that commits late is never skipped (see store/events.py).
    sa.Column(
        "transaction_id", Xid8(), nullable=False, server_default=sa.text("pg_current_xact_id()")
    ),
    sa.Column("account_id", sa.Text, nullable=False),
    sa.Column("stream_id", sa.Text, nullable=False),
    sa.Column("stream_version", sa.Integer, nullable=False),
    sa.Column("type", sa.Text, nullable=False),
    sa.Column("schema_version", sa.SmallInteger, nullable=False),
    sa.Column("data", JSONB, nullable=False),
    sa.Column("metadata", JSONB, nullable=False),
    sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column(
        "recorded_at",
        sa.DateTime(timezone=True),
        nullable=False,
        server_default=sa.text("clock_timestamp()"),
    ),
    sa.UniqueConstraint("account_id", "stream_id", "stream_version", name="events_stream_version"),
    sa.CheckConstraint("stream_version > 0", name="events_stream_version_positive"),
    sa.Index("events_commit_order", "transaction_id", "position"),
)

idempotency_keys = sa.Table(
    "idempotency_keys",
    metadata,
    sa.Column("account_id", sa.Text, primary_key=True),
    sa.Column("key", sa.Text, primary_key=True),
    sa.Column("operation", sa.Text, nullable=False),
    sa.Column("request_hash", sa.Text, nullable=False),
    sa.Column("http_status", sa.Integer),
    sa.Column("response", JSONB),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)

projection_checkpoints = sa.Table(
    "projection_checkpoints",
    metadata,
    sa.Column("name", sa.Text, primary_key=True),
    sa.Column("transaction_id", sa.BigInteger, nullable=False),
    sa.Column("position", sa.BigInteger, nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)

settings = sa.Table(
    "ledger_settings",
    metadata,
    sa.Column("name", sa.Text, primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
)

# Projection: the current Stripe JSON of every object, one row per object.
objects = sa.Table(
    "objects",
    metadata,
    sa.Column("account_id", sa.Text, primary_key=True),
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("object", sa.Text, nullable=False),
    sa.Column("created", sa.BigInteger, nullable=False),
    # Position of the event that created the object: a stable tie-break for list order that a
    # rebuild reproduces exactly.
    sa.Column("seq", sa.BigInteger, nullable=False),
    sa.Column("stream_version", sa.Integer, nullable=False),
    sa.Column("deleted", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("data", JSONB, nullable=False),
    # State the domain keeps that Stripe's JSON does not show.
    sa.Column("internal", JSONB, nullable=False, server_default=sa.text("'{}'::jsonb")),
    sa.Index(
        "objects_list_order", "account_id", "object", sa.text("created DESC"), sa.text("seq DESC")
    ),
    # Expansion across accounts (a transfer's destination payment): see migration 0003.
    sa.Index("objects_by_id", "id"),
)

# Projection: Stripe's Event objects (`evt_…`), derived from the domain events.
stripe_events = sa.Table(
    "stripe_events",
    metadata,
    sa.Column("account_id", sa.Text, primary_key=True),
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("type", sa.Text, nullable=False),
    sa.Column("created", sa.BigInteger, nullable=False),
    sa.Column("seq", sa.BigInteger, nullable=False),
    sa.Column("data", JSONB, nullable=False),
    sa.Index(
        "stripe_events_list_order", "account_id", sa.text("created DESC"), sa.text("seq DESC")
    ),
    sa.Index(
        "stripe_events_by_type", "account_id", "type", sa.text("created DESC"), sa.text("seq DESC")
    ),
)

# Projection: every leg of every money movement (double entry; the audit sums them).
postings = sa.Table(
    "postings",
    metadata,
    sa.Column("account_id", sa.Text, primary_key=True),
    sa.Column("position", sa.BigInteger, primary_key=True),
    sa.Column("leg", sa.SmallInteger, primary_key=True),
    sa.Column("stream_id", sa.Text, nullable=False),
    sa.Column("book", sa.Text, nullable=False),
    sa.Column("ledger_account", sa.Text, nullable=False),
    sa.Column("currency", sa.Text, nullable=False),
    sa.Column("amount", sa.BigInteger, nullable=False),
    sa.Column("source_type", sa.Text, nullable=False),
)

# Projection: each account's balance per currency, bucket and source type, in a few stripes
# so that concurrent payments into one account rarely wait on one row.
balances = sa.Table(
    "balances",
    metadata,
    sa.Column("account_id", sa.Text, primary_key=True),
    sa.Column("currency", sa.Text, primary_key=True),
    sa.Column("bucket", sa.Text, primary_key=True),
    sa.Column("source_type", sa.Text, primary_key=True),
    sa.Column("stripe", sa.SmallInteger, primary_key=True),
    sa.Column("amount", sa.BigInteger, nullable=False),
)

APPEND_ONLY_TRIGGER_SQL = """
CREATE FUNCTION events_reject_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'events is append-only: % is not allowed', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$;
CREATE TRIGGER events_no_update_delete BEFORE UPDATE OR DELETE ON events
    FOR EACH ROW EXECUTE FUNCTION events_reject_change();
CREATE TRIGGER events_no_truncate BEFORE TRUNCATE ON events
    FOR EACH STATEMENT EXECUTE FUNCTION events_reject_change();
"""

DROP_APPEND_ONLY_TRIGGER_SQL = """
DROP TRIGGER IF EXISTS events_no_truncate ON events;
DROP TRIGGER IF EXISTS events_no_update_delete ON events;
DROP FUNCTION IF EXISTS events_reject_change();
"""
