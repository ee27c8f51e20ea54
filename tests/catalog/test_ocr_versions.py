"""Migration 0006 (ocr_result.version) on SQLite and PostgreSQL: existing rows become version 1; a downgrade
that would have to delete later versions refuses."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from alembic import command
from sqlalchemy import JSON, Boolean, Column, DateTime, Integer, MetaData, String, Table, insert, select, update

from dangan.catalog.db import session_scope
from dangan.catalog.models import OcrResult
from dangan.catalog.schema import alembic_config, current_revision, upgrade
from dangan.ids import make_id
from dangan.ocr import OcrLine
from dangan.ocr.engines.base import quad_from_bbox
from tests.extract.catalog import seed

_OCR_0006 = Table(
    "ocr_result",
    MetaData(),
    Column("id", Integer, primary_key=True),
    *(Column(name, String) for name in ("engine", "model", "device", "text")),
    Column("page_id", Integer),
    Column("version", Integer),
    Column("model_sha256", JSON),
    Column("lines", JSON),
    Column("is_current", Boolean),
    Column("created_at", DateTime(timezone=True)),
)


def test_migration_0006_versions(catalog_url: str) -> None:
    rid = make_id("330106", date(1980, 5, 1), 3, "女")
    truth = {"fields": {"id_number": rid, "name": "王芳"}, "form_type": "registration"}
    seed(catalog_url, "330106", {"p01_a.tif": (truth, [[OcrLine("姓名 王芳", 0.9, quad_from_bbox(0, 0, 9, 9))]])})
    cfg = alembic_config(catalog_url)
    command.downgrade(cfg, "0005")
    command.upgrade(cfg, "0006")
    # at revision 0006 the table has only the columns of then: core SQL, not the ORM model of the newest schema
    with session_scope(catalog_url) as s:
        row = s.execute(select(_OCR_0006).where(_OCR_0006.c.is_current.is_(True))).one()
        assert row.version == 1  # rows from before the column are version 1
        s.execute(update(_OCR_0006).where(_OCR_0006.c.id == row.id).values(is_current=False))
        s.execute(
            insert(_OCR_0006).values(
                page_id=row.page_id,
                engine=row.engine,
                model=row.model,
                version=2,
                device="cpu",
                model_sha256={},
                text="",
                lines=[],
                is_current=True,
                created_at=datetime.now(UTC),
            )
        )
    with pytest.raises(RuntimeError, match="later versions"):
        command.downgrade(cfg, "0005")
    upgrade(catalog_url)
    assert current_revision(catalog_url) is not None
    with session_scope(catalog_url) as s:
        assert sorted(r.version for r in s.scalars(select(OcrResult))) == [1, 2]  # nothing was lost
