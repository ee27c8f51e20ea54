"""Human-readable summaries (markdown for Prefect artifacts); PII never appears unmasked.

File names and source folders often carry a person's name or ID (``钟燕_登记表.png``, a folder named after an
ID). Every display of them goes through a :class:`dangan.pii.Masker` that knows the batch's personal data:
:func:`batch_masker` and :func:`document_maskers` build one from the catalog (manifest persons, extracted
name/ID fields) and the stored manifest. Reports carry ``display_names``: each file name or source that needs
masking → its masked form (no personal value the report did not already hold); :meth:`IngestReport.masker` and
:func:`report_masker` (for the 四性检测 report dict) turn it back into a masker.

Each report has one set of table builders here (title, headers, rows); the markdown of Prefect artifacts and the
CLI's rich tables (``flows/render.py``) both render those, so the two surfaces cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from dangan.ingest.report import IngestEvidence, IngestReport
from dangan.pii import Masker

if TYPE_CHECKING:  # the OCR stage's module imports the catalog and imaging; renderers need only its fields
    from dangan.digitize import DigitizeReport, FourPropertiesSummary
    from dangan.ocr.summary import OcrReport
    from dangan.quality.report import ValidationReport

DISPLAY_NAMES = "display_names"
_PERSON_FIELDS = ("name", "id_number")


def markdown_table(headers: list[str], rows: list[list[Any]], masker: Masker | None = None) -> str:
    """A markdown table with every cell PII-masked and pipes escaped (``_none_`` when empty)."""
    if not rows:
        return "_none_\n"
    mask = masker or Masker()
    out = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    out += ["| " + " | ".join(mask(c).replace("|", "\\|") for c in row) + " |" for row in rows]
    return "\n".join(out) + "\n"


def report_masker(report: Mapping[str, Any]) -> Masker:
    """The masker for a report dict that carries ``display_names`` (ID-like tokens only when it has none)."""
    return Masker(replacements=report.get(DISPLAY_NAMES) or {})


def display_names(masker: Masker, texts: Iterable[str | None]) -> dict[str, str]:
    """``{text: masked}`` for each text the masker changes (what a report dict carries for its displays)."""
    out = {}
    for text in texts:
        if text and (masked := masker(text)) != text:
            out[text] = masked
    return out


def batch_masker(
    catalog_url: str, batch_id: str, store: Any = None, manifest_rows: Iterable[Any] | None = None
) -> Masker:
    """A masker for everything shown about one batch: the names and resident IDs of its manifest rows (given,
    else read from the manifest kept in ``store``), of the persons its documents are filed under, of the
    persons owning the masters its duplicates repeat, and the name/ID fields extracted from its documents.

    All of the batch's personal values apply to every display of the batch (a file may be named after
    someone else of the same batch), which masks more than strictly needed, never less.
    """
    from sqlalchemy import select

    from dangan.catalog.db import session_scope
    from dangan.catalog.models import BatchFile, Document, Dossier, FieldValue, Master, Page, Person, ScanBatch

    ids: list[str | None] = []
    names: list[str | None] = []
    with session_scope(catalog_url) as s:
        batch = s.get(ScanBatch, batch_id)
        if batch is None:
            return Masker()
        site, manifest_key = batch.site_code, batch.manifest_key
        person = select(Person.resident_id, Person.name).join(Dossier, Dossier.person_id == Person.id)
        filed = person.join(Document, Document.dossier_id == Dossier.id).where(Document.batch_id == batch_id)
        duplicated = (
            person.join(Document, Document.dossier_id == Dossier.id)
            .join(Page, Page.document_id == Document.id)
            .join(Master, Master.id == Page.master_id)
            .join(BatchFile, BatchFile.sha256 == Master.sha256)
            .where(BatchFile.batch_id == batch_id, BatchFile.outcome == "duplicate", Master.site_code == site)
        )
        for rid, name in [*s.execute(filed.distinct()), *s.execute(duplicated.distinct())]:
            ids.append(rid)
            names.append(name)
        extracted = s.execute(
            select(FieldValue.name, FieldValue.value)
            .join(Document, Document.id == FieldValue.document_id)
            .where(Document.batch_id == batch_id, FieldValue.name.in_(_PERSON_FIELDS))
        )
        for field, value in extracted:
            (ids if field == "id_number" else names).append(value)
    if manifest_rows is None and store is not None and manifest_key:
        from dangan.ingest.manifest import parse_manifest

        parsed = parse_manifest(store.get(manifest_key), site=site)
        manifest_rows = [*parsed.rows.values(), *parsed.rejected.values()]  # a rejected line's values too
    for row in manifest_rows or ():
        ids.append(row.resident_id)
        names.append(row.name)
    return Masker(ids, names)


def document_maskers(catalog_url: str, document_ids: Iterable[int]) -> dict[int, Masker]:
    """Per document: a masker knowing the name and ID of the person it is filed under and those extracted
    from it (for displays of its source file, OCR snippets and the like)."""
    from sqlalchemy import select

    from dangan.catalog.db import session_scope
    from dangan.catalog.models import Document, Dossier, FieldValue, Person

    wanted = sorted({int(d) for d in document_ids if d is not None})
    values: dict[int, tuple[list[str | None], list[str | None]]] = {d: ([], []) for d in wanted}
    if wanted:
        with session_scope(catalog_url) as s:
            for doc_id, rid, name in s.execute(
                select(Document.id, Person.resident_id, Person.name)
                .join(Dossier, Dossier.id == Document.dossier_id)
                .join(Person, Person.id == Dossier.person_id)
                .where(Document.id.in_(wanted))
            ):
                values[doc_id][0].append(rid)
                values[doc_id][1].append(name)
            for doc_id, field, value in s.execute(
                select(FieldValue.document_id, FieldValue.name, FieldValue.value).where(
                    FieldValue.document_id.in_(wanted), FieldValue.name.in_(_PERSON_FIELDS)
                )
            ):
                values[doc_id][0 if field == "id_number" else 1].append(value)
    return {d: Masker(ids, names) for d, (ids, names) in values.items()}


@dataclass(frozen=True)
class ReportTable:
    """One table of a report, surface-neutral: cells are unmasked; each renderer masks them."""

    title: str
    headers: tuple[str, ...]
    rows: list[tuple[object, ...]]


INGEST_TOTALS = ("files", "accepted files", "pages", "quarantined", "duplicates", "unaccounted")


def ingest_totals(report: IngestReport) -> tuple[int, ...]:
    """The batch's totals over every run, in the order of :data:`INGEST_TOTALS`."""
    return (
        report.files,
        report.accepted_files,
        report.pages,
        len(report.quarantined),
        len(report.duplicates),
        len(report.unaccounted),
    )


def ingest_reconciliation(report: IngestReport) -> list[tuple[str, str]]:
    """Manifest reconciliation findings as ``(kind, file or detail)`` rows."""
    rows = [("not in manifest", f) for f in report.unlisted_files]
    rows += [("listed, not delivered", f) for f in report.missing_files]
    rows += [("page count", f"{m.file}: expected {m.expected}, found {m.found}") for m in report.page_count_mismatches]
    rows += [(f"manifest line {p.line}", p.code) for p in report.manifest_problems]
    return rows


def ingest_tables(report: IngestReport) -> list[ReportTable]:
    """The tables every surface shows of a batch: totals, this run's outcomes, QA issues, reconciliation."""
    return [
        ReportTable(
            f"Batch {report.batch_id[:12]} · site {report.site} · in total", INGEST_TOTALS, [ingest_totals(report)]
        ),
        ReportTable("Outcomes of this run", ("outcome", "files"), list(report.outcomes.items())),
        ReportTable(
            "Quality issues by code (pages; DA/T 31-2017 gates)", ("code", "pages"), list(report.qa_issues.items())
        ),
        ReportTable("Manifest reconciliation", ("finding", "file"), list(ingest_reconciliation(report))),
    ]


def markdown_section(table: ReportTable, masker: Masker | None = None) -> str:
    """A report table as a markdown heading and table."""
    return f"\n## {table.title}\n\n" + markdown_table(list(table.headers), [list(r) for r in table.rows], masker)


def ingest_markdown(report: IngestReport, evidence: IngestEvidence | None = None) -> str:
    """Markdown summary of one batch: counts by outcome, QA issues by code, duplicates, quarantine.

    ``evidence`` (from ``dangan.ingest.batch.evidence_links``) adds the object keys of quarantined originals
    and of pages that failed an error-level QA gate (keys, never pre-signed URLs: this goes into artifacts).
    """
    evidence = evidence or IngestEvidence()
    links, served = evidence.quarantine, evidence.links
    mask = report.masker()

    def at(key: str) -> str:
        return f"[`{key}`]({served[key]})" if key in served else f"`{key}`"

    totals, outcomes, qa, recon = ingest_tables(report)
    quarantined = ReportTable(
        "Quarantined files",
        ("file", "code", "reason", "kept at"),
        [
            (q.file, q.code, q.message, at(links[q.file]) if q.file in links else (q.object_key or "—"))
            for q in report.quarantined
        ],
    )
    failing = ReportTable(
        "Pages failing an error-level QA gate",
        ("file", "page", "codes", "image"),
        [(p.file, p.page, ", ".join(p.codes), at(p.key) if p.key else "—") for p in evidence.qa_pages],
    )
    duplicates = ReportTable(
        "Duplicates (already in the archive)",
        ("file", "same bytes as"),
        [(d.file, d.duplicate_of) for d in report.duplicates],
    )
    parts = [
        f"# Ingest batch `{report.batch_id[:12]}` — site {report.site}\n",
        f"Source: `{mask(report.source)}`\n",
        markdown_table(list(totals.headers), [list(r) for r in totals.rows], mask),
    ]
    parts += [markdown_section(t, mask) for t in (outcomes, qa, quarantined, failing, duplicates, recon)]
    return "\n".join(parts)


def outcome_rows(report: IngestReport) -> list[dict[str, str]]:
    """One row per file that was not simply accepted (quarantined, duplicate, page-count mismatch), masked."""
    mask = report.masker()
    rows = [
        {"file": mask(q.file), "outcome": "quarantined", "code": q.code, "detail": mask(q.message)}
        for q in report.quarantined
    ]
    rows += [
        {
            "file": mask(d.file),
            "outcome": "duplicate",
            "code": "DUPLICATE",
            "detail": f"same bytes as {mask(d.duplicate_of)}",
        }
        for d in report.duplicates
    ]
    rows += [
        {
            "file": mask(m.file),
            "outcome": "accepted",
            "code": "INGEST_PAGE_COUNT_MISMATCH",
            "detail": f"expected {m.expected} pages, found {m.found}",
        }
        for m in report.page_count_mismatches
    ]
    return rows


def ocr_table(scoped: list[tuple[str, OcrReport]], *, rate: bool = False) -> ReportTable:
    """OCR totals, one row per ``(scope, report)`` (``this run`` / ``in total``; an empty scope: no column)."""
    scope: tuple[str, ...] = ("",) if any(name for name, _ in scoped) else ()
    headers = (*scope, "engine", "model", "device", "pages", "ok", "failed", "lines")
    headers += ("pages/s (engine)",) if rate else ()
    rows: list[tuple[object, ...]] = []
    for name, o in scoped:
        cells: tuple[object, ...] = (o.engine, o.model, ", ".join(o.devices) or "—", o.pages, o.ok, len(o.failed))
        cells += (o.lines,) + ((f"{o.pages_per_second:.2f}",) if rate else ()) + (o.documents_pdf,)
        rows.append(((name,) if scope else ()) + cells)
    return ReportTable("OCR", (*headers, "searchable PDFs"), rows)


def ocr_markdown(site: str, report: OcrReport) -> str:
    """Markdown summary of an OCR run: totals, the device choice, PDFs not built and failed pages."""
    parts = [f"# OCR — site {site}\n", markdown_table(*_cells(ocr_table([("", report)], rate=True)))]
    if report.device_reason:
        parts.append(f"Device: {report.device_reason}\n")
    if report.pdf_failed:
        failed_pdfs = ReportTable(
            "Searchable PDFs not built", ("document id", "reason"), sorted(report.pdf_failed.items())
        )
        parts.append(markdown_section(failed_pdfs))
    if report.failed:
        parts.append(
            markdown_section(ReportTable("Failed pages", ("page id", "reason"), sorted(report.failed.items())))
        )
    return "\n".join(parts)


def _cells(table: ReportTable) -> tuple[list[str], list[list[object]]]:
    return list(table.headers), [list(r) for r in table.rows]


def validation_table(report: ValidationReport, four: FourPropertiesSummary) -> ReportTable:
    """Extraction + validation totals with the 四性检测 verdict, one row."""
    reasons = ", ".join(f"{k}×{n}" for k, n in report.top_reasons()) or "—"
    verdict = "pass" if four.passed else f"FAIL ({four.problems} problems)"
    return ReportTable(
        "Extraction, validation (Great Expectations) and 四性检测 (DA/T 70)",
        ("documents", "validated", "need review", "top reasons", "四性检测"),
        [(report.documents, report.validated, report.needs_review, reasons, verdict)],
    )


def digitize_stage_rows(report: DigitizeReport) -> list[dict[str, object]]:
    """One row per stage: done of how many, and how many were flagged (the stages table artifact)."""
    ing, ocr, val, four = report.ingest, report.ocr, report.validation, report.four_properties
    return [
        {"stage": "ingest", "done": ing.accepted_files, "of": ing.files, "flagged": len(ing.quarantined)},
        {"stage": "ocr", "done": ocr.ok, "of": ocr.pages, "flagged": len(ocr.failed)},
        {"stage": "validation", "done": val.validated, "of": val.documents, "flagged": val.needs_review},
        {"stage": "four-properties", "done": int(four.passed), "of": 1, "flagged": four.problems},
    ]


def digitize_markdown(report: DigitizeReport) -> str:
    """Markdown summary of a digitization run, one line per stage, pointing at each stage's own artifact.

    ``validation.data_docs`` must be a served link (:func:`dangan.web.links.data_docs_link`) or nothing; a path
    on the server is never shown.
    """
    ing, ocr, val, four, site = report.ingest, report.ocr, report.validation, report.four_properties, report.site
    devices = ", ".join(ocr.devices) or "—"
    if report.reviews.started:
        reviews = f"{report.reviews.started} review runs wait in the dashboard: flow `review-document`"
    else:
        reviews = f"`dangan review --site {site}`"
    docs = val.data_docs or ""
    link = f"[report]({docs})" if docs.startswith(("http://", "https://")) else "—"
    rows = [
        f"# Digitization — site {site}, batch `{ing.batch_id[:12]}`\n",
        "| stage | result | details |",
        "|---|---|---|",
        f"| ingest | {ing.accepted_files}/{ing.files} files, {ing.pages} pages | "
        f"{len(ing.quarantined)} quarantined, {len(ing.duplicates)} duplicates (artifact `ingest-summary-{site}`) |",
        f"| OCR | {ocr.ok}/{ocr.pages} pages | {ocr.engine} {ocr.model} on {devices}, "
        f"{ocr.documents_pdf} searchable PDFs (artifact `ocr-summary-{site}`) |",
        f"| extraction + validation | {val.validated}/{val.documents} documents validated | "
        f"{val.needs_review} need review ({reviews}); Data Docs: {link} |",
        f"| 四性检测 | {'pass' if four.passed else 'FAIL'} | {four.problems} problems "
        f"(artifact `four-properties-{site}`) |",
    ]
    return "\n".join(rows) + "\n"
