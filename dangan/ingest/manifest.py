"""Batch manifest (CSV) parsing and two-way reconciliation with the files actually delivered.

Columns (UTF-8, header required; extra columns are ignored and reported):

=============== ========================================================================================
file            path of the scanner file, relative to the batch source (``/``-separated)
site            6-digit site code; must match the batch's site
resident_id     the person's resident ID (GB 11643), as written on the form
name            the person's name
dossier_category 案卷 category, e.g. 养老保险 / 医疗保险 / 工伤保险
retention       permanent, 10, 30, 50 or 100 (years)
form_type       registration, account_statement, transfer_form or unknown
doc_date        document date, YYYY-MM-DD (YYYY-MM accepted)
expected_pages  page count the operator expects in the file
operator        who scanned it
=============== ========================================================================================
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from dataclasses import dataclass, field

from dangan.errors import ManifestError
from dangan.pii import mask_id

COLUMNS = (
    "file",
    "site",
    "resident_id",
    "name",
    "dossier_category",
    "retention",
    "form_type",
    "doc_date",
    "expected_pages",
    "operator",
)
REQUIRED = ("file",)
RETENTIONS = ("permanent", "10", "30", "50", "100")
FORM_TYPES = ("registration", "account_statement", "transfer_form", "unknown")
_DATE = re.compile(r"^\d{4}-\d{2}(-\d{2})?$")


@dataclass(frozen=True)
class ManifestRow:
    """One validated manifest line (``line`` is the 1-based CSV line number)."""

    line: int
    file: str
    site: str | None
    resident_id: str | None
    name: str | None
    dossier_category: str | None
    retention: str
    form_type: str
    doc_date: str | None
    expected_pages: int | None
    operator: str | None


@dataclass
class Manifest:
    rows: dict[str, ManifestRow]
    problems: list[dict[str, str | int]] = field(default_factory=list)
    ignored_columns: list[str] = field(default_factory=list)


def normalize_name(path: str) -> str:
    """Names compare after NFC normalization and with ``/`` separators."""
    return unicodedata.normalize("NFC", path.replace("\\", "/")).strip()


def parse_manifest(data: bytes, *, site: str) -> Manifest:
    """Parse and validate a manifest; row-level problems are collected, not raised.

    Raises :class:`ManifestError` only when the file as a whole is unusable (not UTF-8, no ``file`` column).
    """
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ManifestError("manifest is not UTF-8 text", hint="Save the CSV as UTF-8.", position=exc.start) from exc
    reader = csv.DictReader(io.StringIO(text))
    header = [h.strip() for h in (reader.fieldnames or [])]
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        raise ManifestError(f"manifest lacks column(s) {', '.join(missing)}", columns=header, expected=COLUMNS)
    manifest = Manifest(rows={}, ignored_columns=[h for h in header if h not in COLUMNS])
    for number, raw in enumerate(reader, start=2):
        values = {(k or "").strip(): (v or "").strip() for k, v in raw.items() if k}
        row, problems = _row(number, values, site)
        manifest.problems.extend(problems)
        if row is None:
            continue
        if row.file in manifest.rows:
            manifest.problems.append({"line": number, "code": "MANIFEST_DUPLICATE_FILE", "file": row.file})
            continue
        manifest.rows[row.file] = row
    return manifest


def _row(number: int, v: dict[str, str], site: str) -> tuple[ManifestRow | None, list[dict[str, str | int]]]:
    problems: list[dict[str, str | int]] = []

    def problem(code: str, **details: str) -> None:
        problems.append({"line": number, "code": code, **details})

    name = normalize_name(v.get("file", ""))
    if not name:
        problem("MANIFEST_NO_FILE")
        return None, problems
    row_site = v.get("site") or None
    if row_site and row_site != site:
        problem("MANIFEST_SITE_MISMATCH", file=name, site=row_site)
    retention = v.get("retention") or "permanent"
    if retention not in RETENTIONS:
        problem("MANIFEST_BAD_RETENTION", file=name, value=retention)
        retention = "permanent"  # the longest: never shorten a retention on bad input
    form_type = v.get("form_type") or "unknown"
    if form_type not in FORM_TYPES:
        problem("MANIFEST_BAD_FORM_TYPE", file=name, value=form_type)
        form_type = "unknown"
    doc_date = v.get("doc_date") or None
    if doc_date and not _DATE.match(doc_date):
        problem("MANIFEST_BAD_DATE", file=name, value=doc_date)
        doc_date = None
    expected: int | None = None
    if v.get("expected_pages"):
        try:
            expected = int(v["expected_pages"])
            if expected < 1:
                raise ValueError
        except ValueError:
            problem("MANIFEST_BAD_PAGE_COUNT", file=name, value=v["expected_pages"])
    rid = (v.get("resident_id") or "").upper() or None
    if rid and not re.fullmatch(r"\d{17}[\dX]|\d{15}", rid):
        problem("MANIFEST_BAD_RESIDENT_ID", file=name, value=mask_id(rid))
    row = ManifestRow(
        line=number,
        file=name,
        site=row_site,
        resident_id=rid,
        name=v.get("name") or None,
        dossier_category=v.get("dossier_category") or None,
        retention=retention,
        form_type=form_type,
        doc_date=doc_date,
        expected_pages=expected,
        operator=v.get("operator") or None,
    )
    return row, problems


@dataclass
class Reconciliation:
    """Files vs. manifest, both ways."""

    unlisted_files: list[str]
    missing_files: list[str]

    @property
    def clean(self) -> bool:
        return not self.unlisted_files and not self.missing_files


def reconcile(files: list[str], manifest: Manifest | None) -> Reconciliation:
    """Compare delivered file names with manifest rows (page counts are checked per file during ingest)."""
    if manifest is None:
        return Reconciliation(unlisted_files=[], missing_files=[])
    present = set(files)
    listed = set(manifest.rows)
    return Reconciliation(unlisted_files=sorted(present - listed), missing_files=sorted(listed - present))
