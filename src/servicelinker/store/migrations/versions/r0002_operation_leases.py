"""Operation leases: `claimed_until` (the owner's lease), `attempts` (claims so far), `last_error`; an index for
the claim query (active status, expired lease).

Revision ID: r0002
Revises: r0001
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "r0002"
down_revision = "r0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("operations", sa.Column("claimed_until", sa.DateTime(timezone=True), nullable=True))
    op.add_column("operations", sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"))
    op.add_column("operations", sa.Column("last_error", sa.Text(), nullable=True))
    op.create_index("ix_operations_claim", "operations", ["status", "claimed_until"])


def downgrade() -> None:
    op.drop_index("ix_operations_claim", table_name="operations")
    with op.batch_alter_table("operations") as batch:
        batch.drop_column("last_error")
        batch.drop_column("attempts")
        batch.drop_column("claimed_until")
