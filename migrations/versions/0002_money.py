"""money projections: postings and balances

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "postings",
        sa.Column("account_id", sa.Text(), nullable=False),
        sa.Column("position", sa.BigInteger(), nullable=False),
        sa.Column("leg", sa.SmallInteger(), nullable=False),
        sa.Column("stream_id", sa.Text(), nullable=False),
        sa.Column("book", sa.Text(), nullable=False),
        sa.Column("ledger_account", sa.Text(), nullable=False),
        sa.Column("currency", sa.Text(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("source_type", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("account_id", "position", "leg"),
    )
    op.create_table(
        "balances",
        sa.Column("account_id", sa.Text(), nullable=False),
        sa.Column("currency", sa.Text(), nullable=False),
        sa.Column("bucket", sa.Text(), nullable=False),
        sa.Column("source_type", sa.Text(), nullable=False),
        sa.Column("stripe", sa.SmallInteger(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("account_id", "currency", "bucket", "source_type", "stripe"),
    )
    # Balance transactions are listed by type and source; objects are found by their source.
    op.execute(
        "CREATE INDEX objects_by_source ON objects (account_id, (data->>'source'))"
        " WHERE object = 'balance_transaction'"
    )
    # Work that falls due (pending funds, expiring authorizations, dispute deadlines).
    op.execute(
        "CREATE INDEX objects_pending_funds ON objects (((data->>'available_on')::bigint))"
        " WHERE object = 'balance_transaction' AND data->>'status' = 'pending'"
    )


def downgrade() -> None:
    op.execute("DROP INDEX IF EXISTS objects_pending_funds")
    op.execute("DROP INDEX IF EXISTS objects_by_source")
    op.drop_table("balances")
    op.drop_table("postings")
