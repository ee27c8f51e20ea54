"""ocr_result.version: a rerun with the same engine and model adds a version instead of overwriting

Before, reprocessing a page with the same engine + model replaced the row's text in place, so the catalog
lost what had been recognized before (only an unreferenced JSON object kept it). Existing rows are version 1.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("ocr_result", schema=None) as batch_op:
        batch_op.add_column(sa.Column("version", sa.Integer(), server_default=sa.text("1"), nullable=False))
        batch_op.drop_constraint("uq_ocr_result_page_id_engine_model", type_="unique")
        batch_op.create_unique_constraint(
            "uq_ocr_result_page_id_engine_model_version", ["page_id", "engine", "model", "version"]
        )


def downgrade() -> None:
    bind = op.get_bind()
    if bind.execute(sa.text("SELECT COUNT(*) FROM ocr_result WHERE version > 1")).scalar():
        raise RuntimeError("ocr_result holds later versions of results; a downgrade would have to delete them")
    with op.batch_alter_table("ocr_result", schema=None) as batch_op:
        batch_op.drop_constraint("uq_ocr_result_page_id_engine_model_version", type_="unique")
        batch_op.create_unique_constraint("uq_ocr_result_page_id_engine_model", ["page_id", "engine", "model"])
        batch_op.drop_column("version")
