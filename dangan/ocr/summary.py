"""The OCR stage's report: what one ``ocr_pages`` run did (from its chunks), or what OCR did for a batch over
every run (read back from the catalog, for OCR that ran in another flow run or process). One model for both, so
the flow's artifact, ``dangan digitize`` and its ``--json`` show the same fields."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from dangan.catalog.db import session_scope
from dangan.catalog.models import Derivative, Document, OcrResult, Page
from dangan.ocr.stage import OcrChunkSummary


class OcrReport(BaseModel):
    """Pages read, failures by page id, engine throughput and searchable PDFs built.

    ``failed`` maps page id → reason (a failed result, or none at all); ``pdf_failed`` document id → reason.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    pages: int = 0
    ok: int = 0
    failed: dict[str, str] = Field(default_factory=dict)
    seconds: float = 0.0
    lines: int = 0
    devices: list[str] = Field(default_factory=list)
    engine: str = "-"
    model: str = "-"
    device_reason: str = ""
    documents_pdf: int = 0
    pdf_failed: dict[str, str] = Field(default_factory=dict)

    @property
    def pages_per_second(self) -> float:
        """Engine throughput (pages over the seconds the engine spent, not wall time)."""
        return self.pages / self.seconds if self.seconds else 0.0

    @classmethod
    def from_chunks(
        cls,
        chunks: Iterable[OcrChunkSummary],
        *,
        engine: str,
        model: str,
        device_reason: str = "",
        pdfs_built: int = 0,
        pdf_failed: Mapping[int, str] | None = None,
    ) -> OcrReport:
        """The report of one run: its chunks' totals, the engine identity and the PDFs built after them."""
        parts = list(chunks)
        failed = {str(pid): reason for part in parts for pid, reason in part.failed.items()}
        return cls(
            pages=sum(p.pages for p in parts),
            ok=sum(p.ok for p in parts),
            failed=failed,
            seconds=sum(p.seconds for p in parts),
            lines=sum(p.lines for p in parts),
            devices=sorted({p.device for p in parts}),
            engine=engine,
            model=model,
            device_reason=device_reason,
            documents_pdf=pdfs_built,
            pdf_failed={str(k): v for k, v in (pdf_failed or {}).items()},
        )


def batch_ocr_summary(catalog_url: str, batch_id: str) -> OcrReport:
    """Totals of the current OCR results of a batch's pages, over every run so far.

    ``failed`` maps page id → error for pages whose current result failed or that have no result at all.
    """
    with session_scope(catalog_url) as s:
        page_ids = list(
            s.scalars(
                select(Page.id).join(Document, Page.document_id == Document.id).where(Document.batch_id == batch_id)
            )
        )
        results = list(
            s.scalars(select(OcrResult).where(OcrResult.page_id.in_(page_ids), OcrResult.is_current.is_(True)))
        )
        doc_ids = [str(d) for d in s.scalars(select(Document.id).where(Document.batch_id == batch_id))]
        pdf_docs = {
            str(params.get("document_id"))
            for params in s.scalars(
                select(Derivative.params).where(
                    Derivative.kind == "document-pdf",
                    Derivative.page_id.in_(page_ids),  # keyed on a document's first page
                )
            )
            if isinstance(params, dict)
        }
    by_page = {r.page_id: r for r in results}
    failed = {str(pid): "no OCR result" for pid in page_ids if pid not in by_page}
    failed |= {str(r.page_id): str(r.error) for r in results if r.error}
    ok = [r for r in results if not r.error]
    identity = Counter((r.engine, r.model) for r in results).most_common(1)
    engine, model = identity[0][0] if identity else ("-", "-")
    return OcrReport(
        pages=len(page_ids),
        ok=len(ok),
        failed=failed,
        seconds=round(sum(r.seconds or 0.0 for r in results), 3),
        lines=sum(len(r.lines or []) for r in ok),
        devices=sorted({r.device for r in results}),
        engine=engine,
        model=model,
        documents_pdf=len(pdf_docs.intersection(doc_ids)),
    )
