"""Migration 0006 (ocr_result.version) on SQLite and PostgreSQL: existing rows become version 1; a downgrade
that would have to delete later versions refuses."""

from __future__ import annotations

from datetime import date

import pytest
from alembic import command
from sqlalchemy import select

from dangan.catalog.db import session_scope
from dangan.catalog.models import OcrResult
from dangan.catalog.schema import alembic_config, current_revision, upgrade
from dangan.ids import make_id
from dangan.ocr import OcrLine
from dangan.ocr.base import quad_from_bbox
from tests.extract.catalog import seed


def test_migration_0006_versions(catalog_url: str) -> None:
    rid = make_id("330106", date(1980, 5, 1), 3, "女")
    truth = {"fields": {"id_number": rid, "name": "王芳"}, "form_type": "registration"}
    seed(catalog_url, "330106", {"p01_a.tif": (truth, [[OcrLine("姓名 王芳", 0.9, quad_from_bbox(0, 0, 9, 9))]])})
    cfg = alembic_config(catalog_url)
    command.downgrade(cfg, "0005")
    command.upgrade(cfg, "0006")
    with session_scope(catalog_url) as s:
        row = s.scalars(select(OcrResult)).one()
        assert row.version == 1  # rows from before the column are version 1
        row.is_current = False
        s.add(OcrResult(page_id=row.page_id, engine=row.engine, model=row.model, version=2, device="cpu"))
    with pytest.raises(RuntimeError, match="later versions"):
        command.downgrade(cfg, "0005")
    upgrade(catalog_url)
    assert current_revision(catalog_url) is not None
    with session_scope(catalog_url) as s:
        assert sorted(r.version for r in s.scalars(select(OcrResult))) == [1, 2]  # nothing was lost
