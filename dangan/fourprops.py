"""四性检测 (DA/T 70-2018) of a scan batch: authenticity, integrity, usability, security.

- authenticity: every master re-hashes to its catalogued SHA-256 (streamed), the store's recorded SHA-256
  agrees, and file properties (size, format, page count, page sizes) match the catalog;
- integrity: every manifest item was delivered, every delivered file is accounted for, each document's pages
  are numbered 1..n without gaps and match its page count;
- usability: every master decodes completely, in an accepted format;
- security: no executable or active content among accepted masters.

Integrity also covers the OCR outputs (``dangan.ocr.outputs``): a page whose status says OCR was done has its
current result, every document whose pages all have results has a searchable PDF made from them, and the
catalogued OCR JSON and PDF objects exist. Pages still waiting for OCR are warnings (counted, not failures),
so a batch checked right after ingest passes.

The per-file checks are shared with transfer verification (``dangan.transfer.checks``).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from dangan.catalog.db import session_scope
from dangan.catalog.models import BatchFile, Document, Master, Page, ScanBatch
from dangan.imaging.decode import DecodeLimits
from dangan.imaging.sniff import ACCEPTED
from dangan.reports import DISPLAY_NAMES, batch_masker, display_names, report_masker
from dangan.storage.base import ObjectStore
from dangan.transfer.checks import (
    AUTHENTICITY,
    INTEGRITY,
    PROPERTIES,
    SECURITY,
    USABILITY,
    Problem,
    check_content,
    check_master,
)

BLOCK = 1 << 20


@dataclass
class FourPropsReport:
    batch_id: str
    site: str
    checked_at: str
    masters: int = 0
    documents: int = 0
    problems: list[Problem] = field(default_factory=list)
    #: file name → masked form, for the files the problems name (see ``dangan.reports``)
    display_names: dict[str, str] = field(default_factory=dict)
    #: findings that do not fail the check (e.g. pages not yet through OCR)
    warnings: list[Problem] = field(default_factory=list)
    #: OCR output counts (``OutputGaps.counts``): results, searchable PDFs, what is missing
    outputs: dict[str, int] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return not self.problems

    def to_dict(self) -> dict[str, Any]:
        by_prop = {
            p: {
                "passed": not [x for x in self.problems if x.property == p],
                "problems": [x.to_dict() for x in self.problems if x.property == p],
            }
            for p in PROPERTIES
        }
        return {
            "batch_id": self.batch_id,
            "site": self.site,
            "checked_at": self.checked_at,
            "standard": "DA/T 70-2018",
            "masters": self.masters,
            "documents": self.documents,
            "passed": self.passed,
            "properties": by_prop,
            "warnings": [w.to_dict() for w in self.warnings],
            "outputs": dict(self.outputs),
            DISPLAY_NAMES: self.display_names,
        }


def _rehash(store: ObjectStore, key: str) -> tuple[str, bytes]:
    digest, parts = hashlib.sha256(), []
    with store.open(key) as fh:
        while block := fh.read(BLOCK):
            digest.update(block)
            parts.append(block)
    return digest.hexdigest(), b"".join(parts)


def check_batch(
    catalog_url: str, store: ObjectStore, site: str, batch_id: str, limits: DecodeLimits | None = None
) -> FourPropsReport:
    """Run the four checks on one batch; problems are collected, never raised."""
    report = _check_batch(catalog_url, store, site, batch_id, limits or DecodeLimits())
    _check_outputs(catalog_url, store, site, batch_id, report)
    if report.problems or report.warnings:
        masker = batch_masker(catalog_url, batch_id, store)
        report.display_names = display_names(masker, [p.file for p in [*report.problems, *report.warnings]])
    return report


def _check_batch(
    catalog_url: str, store: ObjectStore, site: str, batch_id: str, limits: DecodeLimits
) -> FourPropsReport:
    report = FourPropsReport(batch_id, site, datetime.now(UTC).isoformat(timespec="seconds"))
    add = report.problems.append
    with session_scope(catalog_url) as s:
        batch = s.get(ScanBatch, batch_id)
        if batch is None:
            add(Problem(INTEGRITY, "BATCH_UNKNOWN", None, f"batch {batch_id} is not in the catalog"))
            return report
        for name in (batch.report or {}).get("missing_files", []):
            add(Problem(INTEGRITY, "MANIFEST_ITEM_MISSING", name, "listed in the manifest, never delivered"))
        for name in (batch.report or {}).get("unaccounted", []):
            add(Problem(INTEGRITY, "FILE_UNACCOUNTED", name, "delivered but neither accepted nor quarantined"))
        for f in s.scalars(select(BatchFile).filter_by(batch_id=batch_id, outcome="missing")):
            add(Problem(INTEGRITY, "FILE_VANISHED", f.name, "disappeared from the source during ingest"))
        masters = s.scalars(select(Master).filter_by(batch_id=batch_id).order_by(Master.id)).all()
        pages = {
            m.id: [
                {"page_index": p.page_index, "width": p.width, "height": p.height}
                for p in s.scalars(select(Page).filter_by(master_id=m.id))
            ]
            for m in masters
        }
        entries: list[dict[str, Any]] = [
            {
                "path": m.original_name,
                "key": m.object_key,
                "sha256": m.sha256,
                "size": m.size,
                "format": m.format,
                "page_count": m.page_count,
                "id": m.id,
            }
            for m in masters
        ]
        docs = s.scalars(select(Document).filter_by(batch_id=batch_id)).all()
        seqs = {d.id: (d.source_file, d.page_count, sorted(p.seq for p in d.pages)) for d in docs}
    report.masters, report.documents = len(entries), len(seqs)
    for e in entries:
        try:
            found, data = _rehash(store, e["key"])
            recorded = store.stat(e["key"]).sha256
        except Exception as exc:  # missing object, store error: the master is not authentic as catalogued
            add(Problem(AUTHENTICITY, "MASTER_UNREADABLE", e["path"], f"{type(exc).__name__}: {exc}"))
            continue
        if found != e["sha256"]:
            add(
                Problem(
                    AUTHENTICITY,
                    "CHECKSUM_MISMATCH",
                    e["path"],
                    f"sha256 {found[:12]}…, catalogued {e['sha256'][:12]}…",
                )
            )
        if recorded and recorded != e["sha256"]:
            add(Problem(AUTHENTICITY, "STORE_METADATA_MISMATCH", e["path"], "store records another sha256"))
        if e["format"] not in ACCEPTED:
            add(Problem(USABILITY, "FORMAT_NOT_ALLOWED", e["path"], f"format {e['format']}"))
        report.problems += check_master(e, data, pages[e["id"]], limits)
        # the format was decided by content at ingest: a misleading extension is no security finding here
        report.problems += [p for p in check_content(e["path"], data[:4096], data) if p.code != "CONTENT_TYPE_MISMATCH"]
    for source_file, count, numbers in seqs.values():
        if numbers != list(range(1, len(numbers) + 1)):
            add(Problem(INTEGRITY, "PAGE_GAP", source_file, f"page numbers {numbers}"))
        if count != len(numbers):
            add(
                Problem(INTEGRITY, "PAGE_COUNT", source_file, f"{len(numbers)} pages catalogued, document says {count}")
            )
    return report


def _check_outputs(catalog_url: str, store: ObjectStore, site: str, batch_id: str, report: FourPropsReport) -> None:
    """Integrity of the OCR outputs: lost page results, missing or stale searchable PDFs, missing objects."""
    from dangan.ocr.outputs import output_gaps

    gaps = output_gaps(catalog_url, site, batch_id=batch_id, store=store)
    report.outputs = gaps.counts()
    with session_scope(catalog_url) as s:
        docs = dict(s.execute(select(Document.id, Document.source_file).filter_by(batch_id=batch_id)).all())
        lost = gaps.ocr_missing
        page_doc = dict(s.execute(select(Page.id, Page.document_id).where(Page.id.in_(lost))).all()) if lost else {}
    add = report.problems.append
    per_doc: dict[int, int] = {}
    for page_id in lost:
        if (doc := page_doc.get(page_id)) is not None:
            per_doc[doc] = per_doc.get(doc, 0) + 1
    for doc_id, n in sorted(per_doc.items()):
        add(Problem(INTEGRITY, "OCR_RESULT_MISSING", docs.get(doc_id), f"{n} page(s) marked OCR done have no result"))
    for doc_id in gaps.pdf_missing:
        add(
            Problem(
                INTEGRITY,
                "SEARCHABLE_PDF_MISSING",
                docs.get(doc_id),
                f"document {doc_id}: every page has OCR results, no searchable PDF (rerun OCR to build it)",
            )
        )
    for doc_id in gaps.pdf_stale:
        add(
            Problem(
                INTEGRITY,
                "SEARCHABLE_PDF_STALE",
                docs.get(doc_id),
                f"document {doc_id}: the searchable PDF predates the current OCR results (rerun OCR to rebuild it)",
            )
        )
    for key in gaps.objects_missing:
        add(Problem(INTEGRITY, "OCR_OBJECT_MISSING", None, f"catalogued object {key} is not in the store"))
    if gaps.ocr_pending:
        report.warnings.append(
            Problem(
                INTEGRITY,
                "OCR_PENDING",
                None,
                f"{len(gaps.ocr_pending)} page(s) of {len(gaps.pdf_pending)} document(s) have no OCR result yet",
            )
        )


def store_report(store: ObjectStore, report: FourPropsReport) -> str:
    """Keep the machine-readable report beside the batch (object key returned)."""
    data = json.dumps(report.to_dict(), ensure_ascii=False, sort_keys=True, indent=1).encode()
    sha = hashlib.sha256(data).hexdigest()
    key = f"sites/{report.site}/batches/{report.batch_id}/four-properties-{sha[:12]}.json"
    store.put(key, data, sha256=sha, content_type="application/json")
    return key


def markdown(report: dict[str, Any]) -> str:
    """Operator summary; file names and messages masked with the report's ``display_names``."""
    names = {
        AUTHENTICITY: "真实性 authenticity",
        INTEGRITY: "完整性 integrity",
        USABILITY: "可用性 usability",
        SECURITY: "安全性 security",
    }
    rows = ["| property | result | problems |", "|---|---|---|"]
    for prop, res in report["properties"].items():
        rows.append(f"| {names[prop]} | {'pass' if res['passed'] else '**FAIL**'} | {len(res['problems'])} |")
    mask = report_masker(report)
    detail = [
        f"| {p['property']} | {p['code']} | {_cell(mask(p['file']) or '—')} | {_cell(mask(p['message']))} |"
        for res in report["properties"].values()
        for p in res["problems"]
    ]
    parts = [
        f"# 四性检测 (DA/T 70-2018) — batch `{report['batch_id'][:12]}`, site {report['site']}\n",
        f"{report['masters']} masters, {report['documents']} documents checked at {report['checked_at']}\n",
        *rows,
    ]
    outputs = report.get("outputs") or {}
    if outputs:
        parts += [
            "\nOCR outputs: "
            f"{outputs['ocr_results']}/{outputs['pages']} pages with a result ({outputs['ocr_pending']} pending, "
            f"{outputs['ocr_missing']} lost), {outputs['searchable_pdfs']}/{outputs['documents']} documents with a "
            f"current searchable PDF ({outputs['pdf_missing']} missing, {outputs['pdf_stale']} stale, "
            f"{outputs['pdf_pending']} waiting for OCR)\n"
        ]
    if detail:
        parts += ["\n## Problems\n", "| property | code | file | detail |", "|---|---|---|---|", *detail]
    warned = [
        f"| {w['property']} | {w['code']} | {_cell(mask(w['file']) or '—')} | {_cell(mask(w['message']))} |"
        for w in report.get("warnings") or []
    ]
    if warned:
        parts += ["\n## Warnings (not failures)\n", "| property | code | file | detail |", "|---|---|---|---|", *warned]
    return "\n".join(parts) + "\n"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")
