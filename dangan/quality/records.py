"""Records to validate: one per document (fields + derived facts) and one per contribution row.

Built from stored values only (strings, ``None`` when absent); derived columns are computed here, in the
open, so every check in a suite reads a column a person can inspect.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import pandas as pd

from dangan.catalog.fields import CONFLICT, CONTRIBUTION_COLUMNS
from dangan.ids import birth_date_of
from dangan.quality.checks import missing, to_decimal, valid_iso_month
from dangan.quality.rules import QualityRules

RECORD_FIELDS = (
    "name",
    "sex",
    "id_number",
    "ethnicity",
    "birth_date",
    "phone",
    "employer_name",
    "employer_code",
    "person_code",
    "insured_since",
    "insured_until",
    "contribution_base",
    "insurance_type",
    "payment_status",
    "address",
    "months_paid",
    "insured_status",
    "period_first",
    "period_last",
    "period_months",
    "period_total",
    "doc_date",
)


@dataclass
class RecordInput:
    """One document's stored fields as validation sees them.

    ``fields`` maps field name → ``{"value", "confidence", "flags"}`` (``flags``: extraction flag codes,
    optional; ``CONFLICT`` when the document printed the field with two different values); ``contributions``
    are row dicts with the six columns and ``confidence``. ``person_key``/``registered_*`` tie documents of
    one person together.
    """

    record_id: str
    form_type: str
    fields: dict[str, dict[str, Any]]
    contributions: list[dict[str, Any]] = field(default_factory=list)
    doc_date: str | None = None
    person_key: str | None = None
    registered_id: str | None = None
    registered_name: str | None = None


def conflicting_fields(rec: RecordInput) -> list[str]:
    """Names of the record's fields flagged ``CONFLICT`` at extraction, sorted."""
    return sorted(name for name, got in rec.fields.items() if CONFLICT in ((got or {}).get("flags") or ()))


def _value(rec: RecordInput, name: str) -> str | None:
    got = rec.fields.get(name) or {}
    value = got.get("value")
    return None if missing(value) else str(value)


def _birth_ref(rec: RecordInput) -> str | None:
    birth = _value(rec, "birth_date")
    if birth:
        return birth
    rid = _value(rec, "id_number")
    try:
        return birth_date_of(rid).isoformat() if rid else None
    except ValueError:
        return None


def _total(rows: list[dict[str, Any]]) -> str | None:
    amounts = [to_decimal(r.get("total")) for r in rows]
    if not amounts or any(a is None for a in amounts):
        return None  # an unreadable row makes the sum meaningless; the row's own checks report it
    return str(sum((a for a in amounts if a is not None), Decimal(0)))


def record_row(rec: RecordInput, rules: QualityRules) -> dict[str, Any]:
    """The flat row of one document (see the suite in :mod:`dangan.quality.suites` for the columns used)."""
    row: dict[str, Any] = {"record_id": rec.record_id, "form_type": rec.form_type}
    row.update({name: _value(rec, name) for name in RECORD_FIELDS})
    row["doc_date"] = row["doc_date"] or rec.doc_date
    row["birth_ref"] = _birth_ref(rec)
    periods = [str(r.get("period")) for r in rec.contributions if not missing(r.get("period"))]
    row["contribution_count"] = len(rec.contributions) or None
    row["contribution_periods"] = json.dumps([p for p in periods if valid_iso_month(p)]) if periods else None
    row["contributions_total"] = _total(rec.contributions)
    if row["period_last"] is None and periods:
        row["period_last"] = (
            max(p for p in periods if valid_iso_month(p)) if any(map(valid_iso_month, periods)) else None
        )
    row.update(person_key=rec.person_key, registered_id=rec.registered_id, registered_name=rec.registered_name)
    conflicts = conflicting_fields(rec)
    row["field_conflicts"] = json.dumps(conflicts) if conflicts else None  # names only, never values
    for name in rules.key_fields:
        got = rec.fields.get(name) or {}
        row[f"{name}__confidence"] = None if got.get("value") is None else got.get("confidence")
    return row


def records_frame(records: list[RecordInput], rules: QualityRules) -> pd.DataFrame:
    """One row per document, every column present even when no document has a value for it."""
    rows = [record_row(r, rules) for r in records]
    columns = list(record_row(RecordInput("", "", {}), rules))
    frame = pd.DataFrame(rows, columns=columns, dtype=object).where(lambda f: f.notna(), None)
    for name in rules.key_fields:  # numeric, NaN when absent (GX skips nulls in map expectations)
        frame[f"{name}__confidence"] = pd.to_numeric(frame[f"{name}__confidence"], errors="coerce")
    return frame


def contributions_frame(records: list[RecordInput]) -> pd.DataFrame:
    """One row per contribution-table row: ``record_id``, ``row`` (from 0), six columns, ``confidence``."""
    rows = [
        {
            "record_id": r.record_id,
            "row": i,
            **{c: row.get(c) for c in CONTRIBUTION_COLUMNS},
            "confidence": row.get("confidence"),
        }
        for r in records
        for i, row in enumerate(r.contributions)
    ]
    columns = ["record_id", "row", *CONTRIBUTION_COLUMNS, "confidence"]
    return pd.DataFrame(rows, columns=columns)
