"""field.flags: extraction flags per field value (e.g. CONFLICT: one field read with two values)

Existing rows get an empty list: they were stored before flags were kept, so nothing is claimed for them.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("field", schema=None) as batch_op:
        batch_op.add_column(sa.Column("flags", sa.JSON(), server_default=sa.text("'[]'"), nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("field", schema=None) as batch_op:
        batch_op.drop_column("flags")
