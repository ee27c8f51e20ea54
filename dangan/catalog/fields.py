"""The extracted-field record as the catalog stores it: the names extraction writes and validation, review and
export read, and the query for a document's current rows.

It lives here, below both ``dangan.extract`` (which writes the rows) and ``dangan.quality`` (which validates them),
so that validation does not import the extraction package (``tests/test_package_boundaries.py``).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the names above stay importable without SQLAlchemy's models (extract.model is plain data)
    from sqlalchemy.orm import Session

    from dangan.catalog.models import FieldValue

#: Flag of a field the document prints more than once with different values (the other readings are candidates).
CONFLICT = "CONFLICT"
#: Columns of one contribution row (stored as the JSON value of a ``contributions.N`` field).
CONTRIBUTION_COLUMNS = ("period", "base", "employer", "personal", "total", "flag")
CONTRIBUTION_PREFIX = "contributions."
FORM_TYPE_FIELD = "form_type"


def current_fields(session: Session, document_id: int) -> dict[str, FieldValue]:
    """The document's current field rows by name (the newest when several claim to be current)."""
    from sqlalchemy import select

    from dangan.catalog.models import FieldValue

    rows = session.scalars(
        select(FieldValue)
        .where(FieldValue.document_id == document_id, FieldValue.is_current.is_(True))
        .order_by(FieldValue.version, FieldValue.id)
    )
    return {row.name: row for row in rows}


def contribution_rows(fields: dict[str, FieldValue]) -> list[dict[str, Any]]:
    """Contribution rows stored as ``contributions.N`` fields (their JSON objects plus the row's ``confidence``),
    in row order."""
    rows = []
    for name, fv in fields.items():
        if name.startswith(CONTRIBUTION_PREFIX) and fv.value:
            rows.append((int(name[len(CONTRIBUTION_PREFIX) :]), {**json.loads(fv.value), "confidence": fv.confidence}))
    return [row for _, row in sorted(rows, key=lambda r: r[0])]
