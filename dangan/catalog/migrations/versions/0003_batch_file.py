"""batch_file: every delivered file of a batch and its outcome

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "batch_file",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("batch_id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=1000), nullable=False),
        sa.Column("outcome", sa.String(length=20), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=True),
        sa.Column("pages", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=50), nullable=True),
        sa.Column("duplicate_of", sa.String(length=1000), nullable=True),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["batch_id"], ["scan_batch.id"], name=op.f("fk_batch_file_batch_id_scan_batch")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_batch_file")),
        sa.UniqueConstraint("batch_id", "name", name=op.f("uq_batch_file_batch_id_name")),
    )
    with op.batch_alter_table("batch_file", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_batch_file_batch_id"), ["batch_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("batch_file", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_batch_file_batch_id"))
    op.drop_table("batch_file")
