"""scan_batch: one open batch per site and source folder

Two ingests of one folder started at the same time both found no batch and each created one, so the files were
split between two batches and each batch's report was wrong. The partial unique index makes the catalog refuse
the second batch; ``open_batch`` then reopens the one that won. A catalog that already holds such twins keeps
the newest open batch of each source (the one a rerun reopens) and marks the older ones ``failed``, with an
audit event naming both; their files stay where they are.

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

INDEX = "uq_scan_batch_open_source"
OPEN = "status = 'open'"


def upgrade() -> None:
    bind = op.get_bind()
    batches = sa.table(
        "scan_batch",
        sa.column("id", sa.String),
        sa.column("site_code", sa.String),
        sa.column("source_key", sa.String),
        sa.column("status", sa.String),
        sa.column("created_at", sa.DateTime(timezone=True)),
    )
    events = sa.table(
        "audit_event",
        sa.column("at", sa.DateTime(timezone=True)),
        sa.column("actor", sa.String),
        sa.column("action", sa.String),
        sa.column("entity_type", sa.String),
        sa.column("entity_id", sa.String),
        sa.column("site_code", sa.String),
        sa.column("outcome", sa.String),
        sa.column("details", sa.JSON),
    )
    rows = bind.execute(
        sa.select(batches.c.id, batches.c.site_code, batches.c.source_key)
        .where(batches.c.status == "open")
        .order_by(batches.c.site_code, batches.c.source_key, batches.c.created_at.desc(), batches.c.id.desc())
    ).all()
    kept: dict[tuple[str, str], str] = {}
    for batch_id, site, key in rows:
        newest = kept.setdefault((site, key), batch_id)
        if newest == batch_id:
            continue
        bind.execute(sa.update(batches).where(batches.c.id == batch_id).values(status="failed"))
        bind.execute(
            sa.insert(events).values(
                at=datetime.now(UTC),
                actor="migration 0010",
                action="scan_batch.failed",
                entity_type="scan_batch",
                entity_id=batch_id,
                site_code=site,
                outcome="ok",
                details={"from": "open", "to": "failed", "reason": "second open batch of one source", "kept": newest},
            )
        )
    with op.batch_alter_table("scan_batch", schema=None) as batch_op:
        batch_op.create_index(
            INDEX,
            ["site_code", "source_key"],
            unique=True,
            sqlite_where=sa.text(OPEN),
            postgresql_where=sa.text(OPEN),
        )


def downgrade() -> None:
    with op.batch_alter_table("scan_batch", schema=None) as batch_op:
        batch_op.drop_index(INDEX)
