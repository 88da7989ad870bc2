"""event store and first projections

Revision ID: 0001
Revises: 
Create Date: 2026-11-23 04:32:06.529313
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from ledger.store.schema import (
    APPEND_ONLY_TRIGGER_SQL,
    DROP_APPEND_ONLY_TRIGGER_SQL,
    Xid8,
)

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('events',
    sa.Column('position', sa.BigInteger(), sa.Identity(always=True), nullable=False),
    sa.Column('transaction_id', Xid8(), server_default=sa.text('pg_current_xact_id()'), nullable=False),
    sa.Column('account_id', sa.Text(), nullable=False),
    sa.Column('stream_id', sa.Text(), nullable=False),
    sa.Column('stream_version', sa.Integer(), nullable=False),
    sa.Column('type', sa.Text(), nullable=False),
    sa.Column('schema_version', sa.SmallInteger(), nullable=False),
    sa.Column('data', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('metadata', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('occurred_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('recorded_at', sa.DateTime(timezone=True), server_default=sa.text('clock_timestamp()'), nullable=False),
    sa.CheckConstraint('stream_version > 0', name='events_stream_version_positive'),
    sa.PrimaryKeyConstraint('position'),
    sa.UniqueConstraint('account_id', 'stream_id', 'stream_version', name='events_stream_version')
    )
    op.create_index('events_commit_order', 'events', ['transaction_id', 'position'], unique=False)
    op.create_table('idempotency_keys',
    sa.Column('account_id', sa.Text(), nullable=False),
    sa.Column('key', sa.Text(), nullable=False),
    sa.Column('operation', sa.Text(), nullable=False),
    sa.Column('request_hash', sa.Text(), nullable=False),
    sa.Column('http_status', sa.Integer(), nullable=True),
    sa.Column('response', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('account_id', 'key')
    )
    op.create_table('ledger_settings',
    sa.Column('name', sa.Text(), nullable=False),
    sa.Column('value', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('name')
    )
    op.create_table('objects',
    sa.Column('account_id', sa.Text(), nullable=False),
    sa.Column('id', sa.Text(), nullable=False),
    sa.Column('object', sa.Text(), nullable=False),
    sa.Column('created', sa.BigInteger(), nullable=False),
    sa.Column('seq', sa.BigInteger(), nullable=False),
    sa.Column('stream_version', sa.Integer(), nullable=False),
    sa.Column('deleted', sa.Boolean(), server_default=sa.text('false'), nullable=False),
    sa.Column('data', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('internal', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"), nullable=False),
    sa.PrimaryKeyConstraint('account_id', 'id')
    )
    op.create_index('objects_list_order', 'objects', ['account_id', 'object', sa.literal_column('created DESC'), sa.literal_column('seq DESC')], unique=False)
    op.create_table('projection_checkpoints',
    sa.Column('name', sa.Text(), nullable=False),
    sa.Column('transaction_id', sa.BigInteger(), nullable=False),
    sa.Column('position', sa.BigInteger(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('name')
    )
    op.create_table('stripe_events',
    sa.Column('account_id', sa.Text(), nullable=False),
    sa.Column('id', sa.Text(), nullable=False),
    sa.Column('type', sa.Text(), nullable=False),
    sa.Column('created', sa.BigInteger(), nullable=False),
    sa.Column('seq', sa.BigInteger(), nullable=False),
    sa.Column('data', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.PrimaryKeyConstraint('account_id', 'id')
    )
    op.create_index('stripe_events_by_type', 'stripe_events', ['account_id', 'type', sa.literal_column('created DESC'), sa.literal_column('seq DESC')], unique=False)
    op.create_index('stripe_events_list_order', 'stripe_events', ['account_id', sa.literal_column('created DESC'), sa.literal_column('seq DESC')], unique=False)
    # Stripe lists customers filtered by email; the filter is exact and case-sensitive.
    op.execute(
        "CREATE INDEX objects_customer_email ON objects (account_id, (data->>'email'))"
        " WHERE object = 'customer'"
    )
    op.execute(APPEND_ONLY_TRIGGER_SQL)


def downgrade() -> None:
    op.execute(DROP_APPEND_ONLY_TRIGGER_SQL)
    op.execute("DROP INDEX IF EXISTS objects_customer_email")
    op.drop_index('stripe_events_list_order', table_name='stripe_events')
    op.drop_index('stripe_events_by_type', table_name='stripe_events')
    op.drop_table('stripe_events')
    op.drop_table('projection_checkpoints')
    op.drop_index('objects_list_order', table_name='objects')
    op.drop_table('objects')
    op.drop_table('ledger_settings')
    op.drop_table('idempotency_keys')
    op.drop_index('events_commit_order', table_name='events')
    op.drop_table('events')
