"""Catalog table for data-quality validation results (one row per document per validation run).

Kept in its own module so the validation feature adds a table without editing ``models.py``; it shares
``Base`` (and so the metadata Alembic compares against). Import this module wherever the full metadata is
needed (``dangan.extract`` and ``dangan.quality`` do).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from dangan.catalog.models import Base, utcnow


class ValidationResult(Base):
    """Outcome of the expectation suites for one document's current fields.

    ``reasons`` are the failures that send a document to review (severity critical or warning), ``findings``
    the facts worth reporting that do not (severity info, e.g. 断缴 gaps). Each is a list of
    ``{"code", "field", "severity", "expectation", "message", "details"}``; values are never copied in.
    Older results stay with ``is_current`` false.
    """

    __tablename__ = "validation_result"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("document.id"), index=True)
    site_code: Mapped[str] = mapped_column(ForeignKey("site.code"), index=True)
    run_id: Mapped[str] = mapped_column(String(64), index=True)
    suite: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(20))
    reasons: Mapped[list[Any]] = mapped_column(JSON, default=list)
    findings: Mapped[list[Any]] = mapped_column(JSON, default=list)
    fields_version: Mapped[int | None]
    data_docs: Mapped[str | None] = mapped_column(String(1000))
    actor: Mapped[str | None] = mapped_column(String(100))
    is_current: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
