"""The schema `Base.metadata.create_all` made before migrations existed (linkers, operations with params/owner).

A database created that way has no alembic_version table; `migrate.upgrade` adopts it by stamping this revision
(after adding the columns the very first releases lacked), so its data is kept.

Revision ID: r0001
Revises:
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "r0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "linkers",
        sa.Column("key", sa.String(1024), primary_key=True),
        sa.Column("source_key", sa.String(1024), nullable=False),
        sa.Column("name", sa.String(256), nullable=False),
        sa.Column("body", sa.JSON(), nullable=False),
        sa.Column("sealed_secrets", sa.LargeBinary(), nullable=True),
        sa.Column("configurations", sa.JSON(), nullable=False),
        sa.Column("provisioning_state", sa.String(32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_linkers_source_key", "linkers", ["source_key"])
    op.create_table(
        "operations",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("resource_key", sa.String(1024), nullable=False),
        sa.Column("resource_id", sa.String(1024), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("start_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("end_time", sa.DateTime(timezone=True), nullable=True),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("steps", sa.JSON(), nullable=False),
        sa.Column("error", sa.JSON(), nullable=True),
        sa.Column("result", sa.JSON(), nullable=True),
        sa.Column("owner", sa.Text(), nullable=True),
    )
    op.create_index("ix_operations_resource", "operations", ["resource_key", "start_time"])


def downgrade() -> None:
    op.drop_index("ix_operations_resource", table_name="operations")
    op.drop_table("operations")
    op.drop_index("ix_linkers_source_key", table_name="linkers")
    op.drop_table("linkers")
