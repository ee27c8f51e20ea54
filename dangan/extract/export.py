"""Export of extracted records: one per document with fields, contributions and validation outcome.

Every personal field (name, resident ID, phone, address, birth date, ethnicity, sex, person code: see
``dangan.pii.PERSONAL_FIELDS``) is masked unless the caller asks for clear values explicitly; the CLI allows that
only to an operator granted ``pii.reveal`` and records it in the audit trail.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any, TextIO

from sqlalchemy import select

from dangan.catalog.db import session_scope
from dangan.catalog.models import Document
from dangan.csvsafe import SafeDictWriter
from dangan.extract.store import CONTRIBUTION_PREFIX, FORM_TYPE_FIELD, contribution_rows, current_fields
from dangan.pii import mask_field
from dangan.quality.store import current_result

STANDARD_FIELDS = (
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
    "contribution_base",
    "insurance_type",
    "payment_status",
    "address",
    "months_paid",
    "insured_status",
)
FORMATS = ("jsonl", "csv")


def iter_records(catalog_url: str, site: str, *, full_ids: bool = False) -> Iterator[dict[str, Any]]:
    """Every document of ``site`` that has extracted fields, in document id order (personal fields masked
    unless ``full_ids``)."""
    with session_scope(catalog_url) as s:
        for doc in s.scalars(select(Document).where(Document.site_code == site).order_by(Document.id)):
            fields = current_fields(s, doc.id)
            if not fields:
                continue
            values = {
                name: fv.value
                for name, fv in sorted(fields.items())
                if not name.startswith(CONTRIBUTION_PREFIX) and name != FORM_TYPE_FIELD
            }
            if not full_ids:
                values = {name: mask_field(name, value) for name, value in values.items()}
            result = current_result(s, doc.id)
            yield {
                "document_id": doc.id,
                "source_file": doc.source_file,
                "form_type": doc.form_type,
                "doc_date": doc.doc_date,
                "status": doc.status,
                "fields": values,
                "contributions": [
                    {k: v for k, v in row.items() if k != "confidence"} for row in contribution_rows(fields)
                ],
                "validation": {
                    "status": result.status if result else None,
                    "reasons": [r["code"] for r in result.reasons] if result else [],
                    "findings": [r["code"] for r in result.findings] if result else [],
                    "run_id": result.run_id if result else None,
                },
            }


def write_records(records: Iterator[dict[str, Any]], out: TextIO, fmt: str = "jsonl") -> int:
    """Write records as JSON lines or CSV (fields as columns, contributions as JSON); returns the count."""
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {FORMATS}, got {fmt!r}")
    count = 0
    writer: SafeDictWriter | None = None
    for rec in records:
        if fmt == "jsonl":
            out.write(json.dumps(rec, ensure_ascii=False) + "\n")
        else:
            if writer is None:
                columns = [
                    "document_id",
                    "source_file",
                    "form_type",
                    "doc_date",
                    "status",
                    "validation_status",
                    "reasons",
                    "findings",
                    *STANDARD_FIELDS,
                    "contributions",
                ]
                # cells come from scans and file names: a leading = + - @ must not become a spreadsheet formula
                writer = SafeDictWriter(out, fieldnames=columns, lineterminator="\n")
                writer.writeheader()
            writer.writerow(
                {
                    **{k: rec[k] for k in ("document_id", "source_file", "form_type", "doc_date", "status")},
                    "validation_status": rec["validation"]["status"],
                    "reasons": ";".join(rec["validation"]["reasons"]),
                    "findings": ";".join(rec["validation"]["findings"]),
                    **{f: rec["fields"].get(f) for f in STANDARD_FIELDS},
                    "contributions": json.dumps(rec["contributions"], ensure_ascii=False),
                }
            )
        count += 1
    return count
