"""validation results

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27 18:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "validation_result",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("document_id", sa.Integer(), nullable=False),
        sa.Column("site_code", sa.String(length=6), nullable=False),
        sa.Column("run_id", sa.String(length=64), nullable=False),
        sa.Column("suite", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("reasons", sa.JSON(), nullable=False),
        sa.Column("findings", sa.JSON(), nullable=False),
        sa.Column("fields_version", sa.Integer(), nullable=True),
        sa.Column("data_docs", sa.String(length=1000), nullable=True),
        sa.Column("actor", sa.String(length=100), nullable=True),
        sa.Column("is_current", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["document_id"], ["document.id"], name=op.f("fk_validation_result_document_id_document")
        ),
        sa.ForeignKeyConstraint(["site_code"], ["site.code"], name=op.f("fk_validation_result_site_code_site")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_validation_result")),
    )
    with op.batch_alter_table("validation_result", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_validation_result_document_id"), ["document_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_validation_result_run_id"), ["run_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_validation_result_site_code"), ["site_code"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("validation_result", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_validation_result_site_code"))
        batch_op.drop_index(batch_op.f("ix_validation_result_run_id"))
        batch_op.drop_index(batch_op.f("ix_validation_result_document_id"))
    op.drop_table("validation_result")
