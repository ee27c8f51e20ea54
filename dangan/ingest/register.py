"""Catalog writes for ingest: get-or-create person/dossier/document, masters, pages, issues, quarantine.

Every function runs inside the caller's transaction. Uniqueness comes from database constraints; a
concurrent insert of the same row is resolved by re-reading it (insert-or-get).
"""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from dangan.catalog.conflicts import insert_unless_conflict
from dangan.catalog.models import Document, Dossier, Master, Person, QuarantineItem
from dangan.errors import CatalogRowConflict
from dangan.ingest.manifest import ManifestRow
from dangan.pii import mask_id

T = TypeVar("T")


def insert_or_get(session: Session, model: type[T], where: dict[str, Any], values: dict[str, Any]) -> T:
    """Return the row matching ``where``, inserting it with ``values`` if absent.

    Race-safe without ever violating the unique key (``ON CONFLICT DO NOTHING``): PostgreSQL would log a
    violation with the key, and these keys hold resident IDs and file names (``dangan.catalog.conflicts``).
    """
    stmt = select(model).filter_by(**where)
    found = session.scalars(stmt).first()
    if found is not None:
        return found
    insert_unless_conflict(session, model, {**where, **values})
    found = session.scalars(stmt).first()
    if found is None:  # the insert met another unique key than ``where``: not the race resolved here
        raise CatalogRowConflict(
            f"a {model.__tablename__} row could not be inserted nor found",  # type: ignore[attr-defined]
            table=model.__tablename__,  # type: ignore[attr-defined]
            columns=sorted(where),
        )
    return found


def document_for(session: Session, site: str, batch_id: str, name: str, row: ManifestRow | None) -> Document:
    """The document a file belongs to, linked to person and dossier when the manifest names them."""
    dossier_id = None
    if row is not None and row.resident_id:
        person = insert_or_get(
            session,
            Person,
            {"site_code": site, "resident_id": row.resident_id},
            {"resident_id_masked": mask_id(row.resident_id), "name": row.name},
        )
        dossier = insert_or_get(
            session,
            Dossier,
            {"person_id": person.id, "category": row.dossier_category or "未分类"},
            {"retention": row.retention},
        )
        dossier_id = dossier.id
    return insert_or_get(
        session,
        Document,
        {"batch_id": batch_id, "source_file": name},
        {
            "site_code": site,
            "dossier_id": dossier_id,
            "form_type": row.form_type if row else "unknown",
            "doc_date": row.doc_date if row else None,
            "expected_pages": row.expected_pages if row else None,
        },
    )


def find_master(session: Session, site: str, sha256: str) -> Master | None:
    return session.scalars(select(Master).filter_by(site_code=site, sha256=sha256)).first()


def quarantine(
    session: Session,
    *,
    site: str,
    batch_id: str,
    name: str,
    error: dict[str, Any],
    object_key: str | None,
    sha256: str | None,
    size: int | None,
) -> QuarantineItem:
    """Record a rejected file (idempotent per batch + file name)."""
    return insert_or_get(
        session,
        QuarantineItem,
        {"batch_id": batch_id, "source_file": name},
        {
            "site_code": site,
            "object_key": object_key,
            "sha256": sha256,
            "size": size,
            "code": error["code"],
            "message": error["message"],
            "details": {"hint": error.get("hint"), **error.get("details", {})},
        },
    )
