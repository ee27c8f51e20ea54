"""A returning archive (A → B → A): match what the receiver kept when the person left.

When a person moves back, the receiving site still holds the archive it had (masters always, derivatives and
OCR objects unless the source copy was released). The returning package holds that material again, plus what
the other site added: documents scanned there, new OCR versions, reviewed field values, document states.

:func:`plan_return` matches package rows to the rows kept here, one to one, and refuses
(``TransferReceiverConflict``) when the two copies diverged in a way only a person can settle:

- a page kept here belongs to another person, or a package document's pages are not exactly one kept
  document's pages (document boundaries changed);
- one derivative (page + kind + parameters), OCR version (engine + model + version) or field version
  (name + version) differs between here and the package (both sites edited the same history).

Otherwise the receiver's copy is a prefix of the package's history: kept rows stay, only what is new is
registered, released derivatives and OCR objects are restored, and the package's state wins for kept rows
(document and page status, form type, dates, retention; which OCR result and field value is current): the
site the person comes back from had the latest word. What changed is counted in the audit event.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from dangan.catalog.models import Derivative, Document, Dossier, FieldValue, Master, OcrResult, Page, Person
from dangan.pii import mask_id
from dangan.transfer.archive import ArchivePackage, DerivativeEntry, DocumentEntry, FieldEntry, OcrEntry, PageEntry
from dangan.transfer.errors import TransferReceiverConflict

DOCUMENT_STATE = ("form_type", "doc_date", "expected_pages", "page_count", "status")
PAGE_STATE = ("status", "metrics")


@dataclass
class ReturnPlan:
    """Package refs and row indices matched to rows the receiver kept."""

    ids: dict[str, int] = field(default_factory=dict)  # dossier/document/page ref -> receiver row id
    held_pages: set[str] = field(default_factory=set)
    held_documents: set[str] = field(default_factory=set)
    derivatives_held: set[int] = field(default_factory=set)  # indices into the package's derivatives
    ocr_matches: dict[int, OcrResult] = field(default_factory=dict)  # index into the package's OCR rows
    field_matches: dict[int, FieldValue] = field(default_factory=dict)  # index into the package's field rows
    unmatched_ocr: dict[str, list[OcrResult]] = field(default_factory=dict)  # page ref -> rows only kept here
    unmatched_fields: dict[tuple[str, str], list[FieldValue]] = field(default_factory=dict)  # (doc ref, name)
    updated: Counter[str] = field(default_factory=Counter)

    def counts(self) -> dict[str, int | dict[str, int]]:
        """What was already here, and what of it the package updated (recorded with the commit)."""
        return {
            "held_documents": len(self.held_documents),
            "held_pages": len(self.held_pages),
            "updated": dict(sorted(self.updated.items())),
        }


def _conflict(site: str, rid: str, what: str) -> TransferReceiverConflict:
    return TransferReceiverConflict(
        f"person {mask_id(rid)} returns to site {site}, but {what}; nothing was registered",
        site=site,
        hint="The copy kept here and the returning archive differ: an archive administrator has to reconcile them.",
    )


def plan_return(session: Session, site: str, person: Person, package: ArchivePackage) -> ReturnPlan:
    """Match the package to what ``site`` kept for ``person`` (``transferred_out``); raise on divergence."""
    rid, plan = person.resident_id, ReturnPlan()
    dossiers = {d.category: d.id for d in session.scalars(select(Dossier).filter_by(person_id=person.id))}
    for d in package.catalog.dossiers:
        if d.category in dossiers:
            plan.ids[d.ref] = dossiers[d.category]
    _match_pages(session, site, rid, person, package, plan)
    _match_derivatives(session, site, rid, package.catalog.derivatives, plan)
    _match_ocr(session, site, rid, package.ocr, plan)
    _match_fields(session, site, rid, package.fields, plan)
    return plan


def _match_pages(
    session: Session, site: str, rid: str, person: Person, package: ArchivePackage, plan: ReturnPlan
) -> None:
    masters = {m.ref: m.sha256 for m in package.catalog.masters}
    pages_of: dict[str, set[str]] = defaultdict(set)
    kept_doc_of: dict[str, int] = {}
    for pg in package.catalog.pages:
        pages_of[pg.document].add(pg.ref)
        kept = session.execute(
            select(Page.id, Page.document_id, Dossier.person_id)
            .join(Master, Master.id == Page.master_id)
            .join(Document, Document.id == Page.document_id, isouter=True)
            .join(Dossier, Dossier.id == Document.dossier_id, isouter=True)
            .where(Master.site_code == site, Master.sha256 == masters[pg.master], Page.page_index == pg.page_index)
        ).first()
        if kept is None:
            continue
        if kept.person_id != person.id:
            raise _conflict(site, rid, f"page {pg.page_index} of one of its masters belongs to another record here")
        plan.ids[pg.ref], kept_doc_of[pg.ref] = kept.id, kept.document_id
        plan.held_pages.add(pg.ref)
    kept_pages_of: dict[int, set[str]] = defaultdict(set)
    for ref, doc_id in kept_doc_of.items():
        kept_pages_of[doc_id].add(ref)
    matched: set[int] = set()
    for doc_ref, refs in pages_of.items():
        kept_docs = {kept_doc_of[p] for p in refs if p in kept_doc_of}
        if not kept_docs:
            continue
        doc_id = kept_docs.pop()
        whole = not kept_docs and refs == kept_pages_of[doc_id] and refs == _all_pages(session, doc_id, plan)
        if not whole or doc_id in matched:
            raise _conflict(site, rid, "a document's pages are grouped differently here")
        matched.add(doc_id)
        plan.ids[doc_ref] = doc_id
        plan.held_documents.add(doc_ref)


def _all_pages(session: Session, doc_id: int, plan: ReturnPlan) -> set[str]:
    """Package refs of every page the kept document has (a kept page absent from the package maps to '')."""
    by_id = {v: k for k, v in plan.ids.items() if k in plan.held_pages}
    return {by_id.get(pid, "") for pid in session.scalars(select(Page.id).filter_by(document_id=doc_id))}


def _match_derivatives(
    session: Session, site: str, rid: str, derivatives: list[DerivativeEntry], plan: ReturnPlan
) -> None:
    for i, v in enumerate(derivatives):
        if v.page not in plan.held_pages:
            continue
        kept = session.scalars(
            select(Derivative).filter_by(page_id=plan.ids[v.page], kind=v.kind, params_hash=v.params_hash)
        ).first()
        if kept is None:
            continue  # released when the person left, or made at the other site: registered again
        if kept.sha256 != v.sha256:
            raise _conflict(site, rid, f"a {v.kind} derivative of a page differs here")
        plan.derivatives_held.add(i)


def _match_ocr(session: Session, site: str, rid: str, ocr: list[OcrEntry], plan: ReturnPlan) -> None:
    kept: dict[str, dict[tuple[str, str, int], OcrResult]] = {}
    for ref in plan.held_pages:
        rows = session.scalars(select(OcrResult).filter_by(page_id=plan.ids[ref]))
        kept[ref] = {(o.engine, o.model, o.version): o for o in rows}
    for i, o in enumerate(ocr):
        row = kept.get(o.page, {}).pop(o.identity, None)
        if row is None:
            continue
        if (row.text, row.error) != (o.text, o.error):
            raise _conflict(site, rid, f"OCR version {o.identity} of a page reads differently here")
        plan.ocr_matches[i] = row
    plan.unmatched_ocr = {ref: list(rows.values()) for ref, rows in kept.items() if rows}


def _field_identity(value: str | None, source: str, page_ref: str | None) -> tuple[str, str, str]:
    return str(value), str(source), page_ref or ""


def _match_fields(session: Session, site: str, rid: str, fields: list[FieldEntry], plan: ReturnPlan) -> None:
    """Per document, name and version the rows must be the same multiset (a CONFLICT field has several)."""
    page_ref = {v: k for k, v in plan.ids.items() if k in plan.held_pages}
    kept: dict[tuple[str, str, int], list[FieldValue]] = defaultdict(list)
    for ref in plan.held_documents:
        for row in session.scalars(select(FieldValue).filter_by(document_id=plan.ids[ref]).order_by(FieldValue.id)):
            kept[(ref, row.name, row.version)].append(row)
    package: dict[tuple[str, str, int], list[int]] = defaultdict(list)
    for i, item in enumerate(fields):
        if item.document in plan.held_documents:
            package[(item.document, item.name, item.version)].append(i)
    for key, rows in kept.items():
        indices = package.get(key)
        if indices is None:
            plan.unmatched_fields.setdefault((key[0], key[1]), []).extend(rows)
            continue
        pool: dict[tuple[str, str, str], list[FieldValue]] = defaultdict(list)
        for row in rows:
            pool[_field_identity(row.value, row.source, page_ref.get(row.page_id) if row.page_id else None)].append(row)
        for i in indices:
            same = pool.get(_field_identity(fields[i].value, fields[i].source, fields[i].page))
            if not same:
                raise _conflict(site, rid, f"version {key[2]} of field {key[1]!r} differs here")
            plan.field_matches[i] = same.pop(0)
        if any(pool.values()):
            raise _conflict(site, rid, f"version {key[2]} of field {key[1]!r} differs here")


def adopt_state(session: Session, package: ArchivePackage, plan: ReturnPlan, ids: dict[str, int]) -> None:
    """The package's state for kept documents, pages and dossiers (counted in ``plan.updated``); ``ids`` maps
    every package ref to its receiver row, new ones included (a kept document B filed elsewhere moves)."""
    catalog = package.catalog
    for d in catalog.dossiers:
        dossier = session.get(Dossier, plan.ids[d.ref]) if d.ref in plan.ids else None
        if dossier is not None and dossier.retention != d.retention:
            dossier.retention = d.retention
            plan.updated["dossier.retention"] += 1
    for doc_entry in catalog.documents:
        if doc_entry.ref in plan.held_documents:
            doc = session.get(Document, plan.ids[doc_entry.ref])
            if doc is not None and doc.dossier_id != ids[doc_entry.dossier]:
                doc.dossier_id = ids[doc_entry.dossier]
                plan.updated["document.dossier"] += 1
    states: list[tuple[Document | Page | None, DocumentEntry | PageEntry, tuple[str, ...]]] = [
        (session.get(Document, plan.ids[d.ref]), d, DOCUMENT_STATE)
        for d in catalog.documents
        if d.ref in plan.held_documents
    ]
    states += [(session.get(Page, plan.ids[p.ref]), p, PAGE_STATE) for p in catalog.pages if p.ref in plan.held_pages]
    for obj, entry, names in states:
        for name in names:
            value = getattr(entry, name)
            if obj is not None and getattr(obj, name) != value:
                setattr(obj, name, dict(value) if name == "metrics" else value)
                plan.updated[f"{obj.__tablename__}.{name}"] += 1


def settle_currency(session: Session, plan: ReturnPlan, package: ArchivePackage) -> None:
    """Rows only this site has (e.g. a rerun here after the person left) stop being current where the package
    has a current row for the same page (OCR) or the same document and field name."""
    current_pages = {o.page for o in package.ocr if o.is_current}
    for ref, rows in plan.unmatched_ocr.items():
        for row in rows:
            if ref in current_pages and row.is_current:
                row.is_current = False
                plan.updated["ocr_result.is_current"] += 1
    current_fields = {(f.document, f.name) for f in package.fields if f.is_current}
    for key, kept_fields in plan.unmatched_fields.items():
        for value in kept_fields:
            if key in current_fields and value.is_current:
                value.is_current = False
                plan.updated["field_value.is_current"] += 1
    session.flush()
