"""digests of every stored OCR object in the catalog: ocr_result.sha256/size (JSON) and hocr_sha256/hocr_size

Before, the SHA-256 of a page's OCR JSON and hOCR objects lived only in the store's own metadata, so
rewriting an object together with its metadata passed fixity. The OCR stage now records both digests with
the row. Existing rows cannot be backfilled here (the migration has no object store): they stay NULL, fixity
reports them ``unverifiable`` (FIXITY_DIGEST_UNRECORDED) and ``dangan fixity --adopt-digests`` records the
digest of what is stored now (when it agrees with the store's metadata).

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

_COLUMNS = (
    ("sha256", sa.String(64)),
    ("size", sa.BigInteger()),
    ("hocr_sha256", sa.String(64)),
    ("hocr_size", sa.BigInteger()),
)


def upgrade() -> None:
    with op.batch_alter_table("ocr_result", schema=None) as batch_op:
        for name, type_ in _COLUMNS:
            batch_op.add_column(sa.Column(name, type_, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("ocr_result", schema=None) as batch_op:
        for name, _ in reversed(_COLUMNS):
            batch_op.drop_column(name)
