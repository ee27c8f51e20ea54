"""Human-readable summaries (markdown for Prefect artifacts); PII never appears unmasked.

File names and source folders often carry a person's name or ID (``钟燕_登记表.png``, a folder named after an
ID). Every display of them goes through a :class:`dangan.pii.Masker` that knows the batch's personal data:
:func:`batch_masker` and :func:`document_maskers` build one from the catalog (manifest persons, extracted
name/ID fields) and the stored manifest. Reports that travel as plain dicts (the ingest report, the 四性检测
report) carry ``display_names``: each file name or source that needs masking → its masked form (no personal
value the dict did not already hold), which :func:`report_masker` turns back into a masker.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from dangan.pii import Masker

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


def report_masker(report: dict[str, Any]) -> Masker:
    """The masker for a report dict that carries ``display_names`` (ID-like tokens only when it has none)."""
    return Masker(replacements=report.get(DISPLAY_NAMES) or {})


def masked_report(report: dict[str, Any]) -> dict[str, Any]:
    """A copy of an ingest batch report with every file name, the source and messages masked (for output
    such as ``dangan ingest --json``); ``display_names`` is left out."""
    mask = report_masker(report)

    def files(items: list[dict[str, Any]], *keys: str) -> list[dict[str, Any]]:
        return [{**item, **{k: mask(item[k]) for k in keys if item.get(k) is not None}} for item in items]

    out = {k: v for k, v in report.items() if k != DISPLAY_NAMES}
    out["source"] = mask(report["source"])
    out["quarantined"] = files(report["quarantined"], "file", "message")
    out["duplicates"] = files(report["duplicates"], "file", "duplicate_of")
    out["page_count_mismatches"] = files(report["page_count_mismatches"], "file")
    out["manifest_problems"] = files(report["manifest_problems"], "file", "value")
    for key in ("unlisted_files", "missing_files", "unaccounted"):
        out[key] = [mask(name) for name in report[key]]
    return out


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


def ingest_markdown(report: dict[str, Any], evidence: dict[str, Any] | None = None) -> str:
    """Markdown summary of one batch: counts by outcome, QA issues by code, duplicates, quarantine.

    ``evidence`` (from ``dangan.ingest.batch.evidence_links``) adds the object keys of quarantined originals
    and of pages that failed an error-level QA gate (keys, never pre-signed URLs: this goes into artifacts).
    """
    evidence = evidence or {}
    links: dict[str, str] = evidence.get("quarantine", {})
    served: dict[str, str] = evidence.get("links", {})
    mask = report_masker(report)

    def at(key: str) -> str:
        return f"[`{key}`]({served[key]})" if key in served else f"`{key}`"

    parts = [
        f"# Ingest batch `{report['batch_id'][:12]}` — site {report['site']}\n",
        f"Source: `{mask(report['source'])}`\n",
        markdown_table(
            ["files", "accepted files", "pages", "quarantined", "duplicates", "unaccounted"],
            [
                [
                    report["files"],
                    report["accepted_files"],
                    report["pages"],
                    len(report["quarantined"]),
                    len(report["duplicates"]),
                    len(report["unaccounted"]),
                ]
            ],
            mask,
        ),
        "\n## Outcomes\n",
        markdown_table(["outcome", "files"], [[k, v] for k, v in report["outcomes"].items()], mask),
        "\n## Quality issues (DA/T 31-2017 gates)\n",
        markdown_table(["code", "pages"], [[k, v] for k, v in report["qa_issues"].items()], mask),
        "\n## Quarantined files\n",
        markdown_table(
            ["file", "code", "reason", "kept at"],
            [
                [
                    q["file"],
                    q["code"],
                    q["message"],
                    at(links[q["file"]]) if q["file"] in links else (q["object_key"] or "—"),
                ]
                for q in report["quarantined"]
            ],
            mask,
        ),
        "\n## Pages failing an error-level QA gate\n",
        markdown_table(
            ["file", "page", "codes", "image"],
            [
                [p["file"], p["page"], ", ".join(p["codes"]), at(p["key"]) if p.get("key") else "—"]
                for p in evidence.get("qa_pages", [])
            ],
            mask,
        ),
        "\n## Duplicates (already in the archive)\n",
        markdown_table(["file", "same bytes as"], [[d["file"], d["duplicate_of"]] for d in report["duplicates"]], mask),
        "\n## Manifest reconciliation\n",
        markdown_table(
            ["kind", "file"],
            [["not in manifest", f] for f in report["unlisted_files"]]
            + [["listed, not delivered", f] for f in report["missing_files"]]
            + [
                ["page count", f"{m['file']}: expected {m['expected']}, found {m['found']}"]
                for m in report["page_count_mismatches"]
            ]
            + [["manifest line " + str(p.get("line")), p.get("code")] for p in report["manifest_problems"]],
            mask,
        ),
    ]
    return "\n".join(parts)


def outcome_rows(report: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per file that was not simply accepted (quarantined, duplicate, page-count mismatch)."""
    mask = report_masker(report)
    rows = [
        {"file": mask(q["file"]), "outcome": "quarantined", "code": q["code"], "detail": mask(q["message"])}
        for q in report["quarantined"]
    ]
    rows += [
        {
            "file": mask(d["file"]),
            "outcome": "duplicate",
            "code": "DUPLICATE",
            "detail": f"same bytes as {mask(d['duplicate_of'])}",
        }
        for d in report["duplicates"]
    ]
    rows += [
        {
            "file": mask(m["file"]),
            "outcome": "accepted",
            "code": "INGEST_PAGE_COUNT_MISMATCH",
            "detail": f"expected {m['expected']} pages, found {m['found']}",
        }
        for m in report["page_count_mismatches"]
    ]
    return rows
