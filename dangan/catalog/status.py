"""Counts by state for one site (``dangan status``)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, or_, select

from dangan.catalog.db import session_scope
from dangan.catalog.models import Page, QualityIssue, QuarantineItem, ScanBatch, Transfer
from dangan.catalog.states import QuarantineState


def site_status(catalog_url: str, site: str) -> dict[str, Any]:
    """Batches, pages by status, quality issues and quarantined files by code, transfers by state, and the OCR
    outputs (``outputs``: page results and searchable PDFs present, pending, missing or stale)."""
    from dangan.ocr.outputs import output_gaps  # the OCR package is not needed for the other counts

    outputs = output_gaps(catalog_url, site).counts()
    with session_scope(catalog_url) as s:

        def grouped(column: Any, *where: Any) -> dict[str, int]:
            rows = s.execute(select(column, func.count()).where(*where).group_by(column).order_by(column))
            return {str(key): int(count) for key, count in rows}

        return {
            "site": site,
            "batches": grouped(ScanBatch.status, ScanBatch.site_code == site),
            "pages": grouped(Page.status, Page.site_code == site),
            "quality_issues": grouped(
                QualityIssue.code, QualityIssue.page_id.in_(select(Page.id).where(Page.site_code == site))
            ),
            "quarantined": grouped(
                QuarantineItem.code, QuarantineItem.site_code == site, QuarantineItem.status == QuarantineState.OPEN
            ),
            "transfers": grouped(Transfer.state, or_(Transfer.from_site == site, Transfer.to_site == site)),
            "outputs": outputs,
        }
