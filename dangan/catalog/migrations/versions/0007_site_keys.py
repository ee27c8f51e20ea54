"""site_key: the public signing keys this installation trusts (Ed25519), with rotation and revocation

Bags and receipts were authenticated with an HMAC key that both sides' operators held, so anyone with that key
(or none: bags carried no signature at all) could forge a package. Sites now sign with private keys of their
own; their public keys are registered here. Existing installations start with an empty registry: each site's
key is generated and registered on first use (`dangan keys init`), other counties' keys are imported.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "site_key",
        sa.Column("key_id", sa.String(length=64), nullable=False),
        sa.Column("site_code", sa.String(length=6), nullable=False),
        sa.Column("algorithm", sa.String(length=20), nullable=False),
        sa.Column("public_key", sa.String(length=200), nullable=False),
        sa.Column("encryption_key", sa.String(length=200), nullable=True),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("retired_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_reason", sa.String(length=500), nullable=True),
        sa.PrimaryKeyConstraint("key_id", name=op.f("pk_site_key")),
    )
    with op.batch_alter_table("site_key", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_site_key_site_code"), ["site_code"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("site_key", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_site_key_site_code"))
    op.drop_table("site_key")
