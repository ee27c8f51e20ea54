"""replica: second copies of masters at replica targets (定期检测和拷贝), verified by re-reading, and their audit

One row per master and target (unique): the copy's key there, SHA-256 (and SM3 when available) of the bytes
read back, status (ok / missing / damaged, as the replica audit last found it) and when it was verified.

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "replica",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("site_code", sa.String(length=6), nullable=False),
        sa.Column("object_key", sa.String(length=500), nullable=False),
        sa.Column("target", sa.String(length=40), nullable=False),
        sa.Column("target_key", sa.String(length=500), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("sm3", sa.String(length=64), nullable=True),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("last_error", sa.String(length=100), nullable=True),
        sa.Column("copied_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("verified_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["site_code"], ["site.code"], name=op.f("fk_replica_site_code_site")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_replica")),
        sa.UniqueConstraint("target", "object_key", name=op.f("uq_replica_target_object_key")),
    )
    with op.batch_alter_table("replica", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_replica_object_key"), ["object_key"], unique=False)
        batch_op.create_index(batch_op.f("ix_replica_site_code"), ["site_code"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("replica", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_replica_site_code"))
        batch_op.drop_index(batch_op.f("ix_replica_object_key"))
    op.drop_table("replica")
