"""objects found by id alone: expanding a reference into another account's books

Revision ID: 0003
Revises: 0002
"""

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A transfer's `destination_payment` lives in the connected account; the platform expands
    # it without knowing which account that is from the id alone.
    op.execute("CREATE INDEX objects_by_id ON objects (id)")


def downgrade() -> None:
    op.execute("DROP INDEX IF EXISTS objects_by_id")
