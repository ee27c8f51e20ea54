"""A returning archive (A → B → A): match what the receiver kept when the person left.

When a person moves back, the receiving site still holds the archive it had (masters always, derivatives and
OCR objects unless the source copy was released). The returning package holds that material again, plus what
the other site added: documents scanned there, new OCR versions, reviewed field values.

:func:`plan_return` matches package rows to the rows kept here and refuses (``TransferReceiverConflict``) when
the two copies diverged in a way only a person can settle:

- a page kept here belongs to another person, or a document's pages are kept here only in part or spread over
  several documents (document boundaries changed);
- one OCR version (engine + model + version) or one field version (name + version) reads differently here and
  in the package (both sites edited the same history).

Otherwise the receiver's copy is a prefix of the package's history: kept rows stay, only what is new is
registered, released derivatives and OCR objects are restored, and which OCR result / field value is current
follows the package (the site the person comes back from had the latest word).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from dangan.catalog.models import Derivative, Document, Dossier, FieldValue, Master, OcrResult, Page, Person
from dangan.pii import mask_id
from dangan.transfer.errors import TransferReceiverConflict

OcrKey = tuple[str, str, int]
FieldKey = tuple[str, int]


@dataclass
class ReturnPlan:
    """Package refs matched to rows the receiver kept, and what those rows already have."""

    ids: dict[str, int] = field(default_factory=dict)  # dossier/document/page ref -> receiver row id
    held_pages: set[str] = field(default_factory=set)
    held_documents: set[str] = field(default_factory=set)
    derivative_shas: dict[str, set[str]] = field(default_factory=dict)  # page ref -> sha256 of derivatives here
    ocr: dict[str, dict[OcrKey, OcrResult]] = field(default_factory=dict)  # page ref -> versions here
    fields: dict[str, dict[FieldKey, FieldValue]] = field(default_factory=dict)  # document ref -> versions here

    def counts(self) -> dict[str, int]:
        """What was already here (recorded with the commit)."""
        return {"held_documents": len(self.held_documents), "held_pages": len(self.held_pages)}


def ocr_key(row: dict[str, Any]) -> OcrKey:
    """Identity of one OCR version in a package row."""
    return row["engine"], row["model"], int(row.get("version") or 1)


def _conflict(site: str, rid: str, what: str) -> TransferReceiverConflict:
    return TransferReceiverConflict(
        f"person {mask_id(rid)} returns to site {site}, but {what}; nothing was registered",
        site=site,
        hint="The copy kept here and the returning archive differ: an archive administrator has to reconcile them.",
    )


def plan_return(
    session: Session,
    site: str,
    person: Person,
    catalog: dict[str, Any],
    ocr: list[dict[str, Any]],
    fields: list[dict[str, Any]],
) -> ReturnPlan:
    """Match the package to what ``site`` kept for ``person`` (``transferred_out``); raise on divergence."""
    rid, plan = person.resident_id, ReturnPlan()
    dossiers = {d.category: d.id for d in session.scalars(select(Dossier).filter_by(person_id=person.id))}
    for d in catalog["dossiers"]:
        if d["category"] in dossiers:
            plan.ids[d["ref"]] = dossiers[d["category"]]
    masters = {m["ref"]: m["sha256"] for m in catalog["masters"]}
    pages_of: dict[str, list[str]] = defaultdict(list)
    kept_doc_of: dict[str, int] = {}
    for pg in catalog["pages"]:
        pages_of[pg["document"]].append(pg["ref"])
        kept = session.execute(
            select(Page.id, Page.document_id, Dossier.person_id)
            .join(Master, Master.id == Page.master_id)
            .join(Document, Document.id == Page.document_id, isouter=True)
            .join(Dossier, Dossier.id == Document.dossier_id, isouter=True)
            .where(
                Master.site_code == site, Master.sha256 == masters[pg["master"]], Page.page_index == pg["page_index"]
            )
        ).first()
        if kept is None:
            continue
        if kept.person_id != person.id:
            raise _conflict(site, rid, f"page {pg['page_index']} of one of its masters belongs to another record here")
        plan.ids[pg["ref"]], kept_doc_of[pg["ref"]] = kept.id, kept.document_id
        plan.held_pages.add(pg["ref"])
    for doc_ref, page_refs in pages_of.items():
        kept_docs = {kept_doc_of[p] for p in page_refs if p in kept_doc_of}
        if not kept_docs:
            continue
        if len(kept_docs) > 1 or not all(p in kept_doc_of for p in page_refs):
            raise _conflict(site, rid, "a document's pages are grouped differently here")
        plan.ids[doc_ref] = kept_docs.pop()
        plan.held_documents.add(doc_ref)
    _match_history(session, site, rid, plan, ocr, fields)
    return plan


def _match_history(
    session: Session, site: str, rid: str, plan: ReturnPlan, ocr: list[dict[str, Any]], fields: list[dict[str, Any]]
) -> None:
    for ref in plan.held_pages:
        page_id = plan.ids[ref]
        plan.derivative_shas[ref] = set(session.scalars(select(Derivative.sha256).filter_by(page_id=page_id)))
        plan.ocr[ref] = {
            (o.engine, o.model, o.version): o for o in session.scalars(select(OcrResult).filter_by(page_id=page_id))
        }
    for o in ocr:
        kept = plan.ocr.get(o["page"], {}).get(ocr_key(o))
        if kept is not None and (kept.text, kept.error) != (o["text"], o["error"]):
            raise _conflict(site, rid, f"OCR version {ocr_key(o)} of a page reads differently here")
    for ref in plan.held_documents:
        rows = session.scalars(select(FieldValue).filter_by(document_id=plan.ids[ref]))
        plan.fields[ref] = {(f.name, f.version): f for f in rows}
    for f in fields:
        kept_field = plan.fields.get(f["document"], {}).get((f["name"], f["version"]))
        if kept_field is not None and kept_field.value != f["value"]:
            raise _conflict(site, rid, f"version {f['version']} of field {f['name']!r} differs here")


def settle_currency(
    session: Session, plan: ReturnPlan, ocr: list[dict[str, Any]], fields: list[dict[str, Any]]
) -> None:
    """Rows only this site has (e.g. a rerun here after the person left) stop being current where the package
    has a current row for the same page (OCR) or the same document and field name."""
    current_pages = {o["page"] for o in ocr if o["is_current"]}
    in_package = {(o["page"], ocr_key(o)) for o in ocr}
    for ref, kept in plan.ocr.items():
        for key, row in kept.items():
            if ref in current_pages and (ref, key) not in in_package:
                row.is_current = False
    current_fields = {(f["document"], f["name"]) for f in fields if f["is_current"]}
    field_keys = {(f["document"], f["name"], f["version"]) for f in fields}
    for ref, kept_fields in plan.fields.items():
        for (name, version), value in kept_fields.items():
            if (ref, name) in current_fields and (ref, name, version) not in field_keys:
                value.is_current = False
    session.flush()
