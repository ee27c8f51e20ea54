"""Work units for validation: a person's documents are never split across chunks.

The suites compare documents of one person with each other (the same resident ID and name on every form),
and each chunk is validated on its own, so a person cut in two would escape those checks.
"""

from __future__ import annotations

from sqlalchemy import select

from dangan.catalog.db import session_scope
from dangan.catalog.models import Document, Dossier


def person_chunks(catalog_url: str, batch_id: str, size: int) -> list[list[int]]:
    """Document ids of a batch in chunks of about ``size``, each person's documents in one chunk.

    Chunks close at a person boundary once they reach ``size`` (a person with more documents than ``size``
    gets a chunk of their own); documents without a dossier go one by one.
    """
    with session_scope(catalog_url) as s:
        rows = s.execute(
            select(Document.id, Dossier.person_id)
            .outerjoin(Dossier, Document.dossier_id == Dossier.id)
            .where(Document.batch_id == batch_id)
            .order_by(Dossier.person_id, Document.id)
        ).all()
    groups: dict[object, list[int]] = {}
    for doc_id, person_id in rows:
        groups.setdefault(person_id if person_id is not None else ("doc", doc_id), []).append(doc_id)
    chunks: list[list[int]] = []
    current: list[int] = []
    for docs in groups.values():
        if current and len(current) + len(docs) > max(1, size):
            chunks.append(current)
            current = []
        current.extend(docs)
    if current:
        chunks.append(current)
    return chunks
