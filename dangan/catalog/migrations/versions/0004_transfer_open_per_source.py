"""transfer: at most one open transfer per person and source site

Two open transfers of one person to two different destinations could both commit, leaving the archive
active at two sites. The partial unique index makes the catalog refuse the second request.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

OPEN = "state NOT IN ('done', 'failed')"


def upgrade() -> None:
    clash = (
        op.get_bind()
        .execute(
            sa.text(
                f"SELECT from_site, COUNT(*) FROM transfer WHERE {OPEN} "
                "GROUP BY person_resident_id, from_site HAVING COUNT(*) > 1"
            )
        )
        .all()
    )
    if clash:
        sites = ", ".join(sorted({row[0] for row in clash}))
        raise RuntimeError(
            f"{len(clash)} person(s) have more than one open transfer from site(s) {sites}: finish or fail all "
            "but one of each (`dangan status`), then upgrade again"
        )
    with op.batch_alter_table("transfer", schema=None) as batch_op:
        batch_op.create_index(
            "uq_transfer_open_person_source",
            ["person_resident_id", "from_site"],
            unique=True,
            sqlite_where=sa.text(OPEN),
            postgresql_where=sa.text(OPEN),
        )


def downgrade() -> None:
    with op.batch_alter_table("transfer", schema=None) as batch_op:
        batch_op.drop_index("uq_transfer_open_person_source")
