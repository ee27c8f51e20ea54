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

Every value is validated before it can reach the catalog (the same rules on SQLite and PostgreSQL, lengths
within the catalog's columns). A row with any bad value is *rejected*: its problems are reported (line, column,
reason, the value masked) and the file it names is quarantined with ``INGEST_MANIFEST_INVALID``, never ingested
under half-right data; the rest of the batch goes on. Only a manifest that is unusable as a whole (not UTF-8
text, no ``file`` column, a repeated column, a CSV syntax error) is refused with :class:`ManifestError`.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta, timezone
from typing import Any

from dangan.catalog.models import Document, Dossier, Person, ScanBatch
from dangan.config import validate_site_code
from dangan.csvsafe import unescape_cell
from dangan.errors import ManifestError
from dangan.ids import normalize_id, validate_id
from dangan.pii import mask_id, mask_name, scrub

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
_DATE = re.compile(r"([0-9]{4})-([0-9]{2})(?:-([0-9]{2}))?", re.ASCII)
_PAGES = re.compile(r"-?[0-9]{1,7}", re.ASCII)
MAX_EXPECTED_PAGES = 10_000
EARLIEST_DOC_DATE = date(1900, 1, 1)
_CHINA = timezone(timedelta(hours=8))  # document dates are local dates; China has no DST


def _length(column: Any) -> int:
    return int(column.type.length)


# what the catalog columns hold: a longer value would fail on PostgreSQL and be stored whole on SQLite
MAX_LENGTH = {
    "file": _length(Document.source_file),
    "name": _length(Person.name),
    "dossier_category": _length(Dossier.category),
    "operator": _length(ScanBatch.operator),
}
# letters (any script) and combining marks, with the separators real names use (买买提·艾力, Jean-Luc, O'Neil)
_NAME_SEPARATORS = frozenset(" ·・‧.-'")
# never in a manifest value: controls, format characters (bidi overrides, zero-width), surrogates, private use,
# unassigned code points, line/paragraph separators
_FORBIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})


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


@dataclass(frozen=True)
class RejectedRow:
    """A manifest line with at least one bad value: the file it names is quarantined, not ingested.

    ``problems`` are masked (what reports and quarantine details show); ``resident_id`` and ``name`` are the
    raw values as far as they look personal, kept only so that displays of the batch can mask them.
    """

    line: int
    file: str
    problems: tuple[dict[str, str | int], ...]
    resident_id: str | None = None
    name: str | None = None

    def quarantine_error(self) -> dict[str, Any]:
        """The ``INGEST_MANIFEST_INVALID`` error dict recorded on the quarantined file."""
        first = self.problems[0]
        err = ManifestError(
            f"manifest line {self.line} is invalid ({first['column']}: {first['reason']}"
            + (f", and {len(self.problems) - 1} more" if len(self.problems) > 1 else "")
            + "); the file was not ingested",
            hint="Correct the manifest line and run the batch again; the file is kept in quarantine "
            "(更正清单中该行后重新运行本批次；文件已隔离保存).",
            line=self.line,
            column=str(first["column"]),
            reason=str(first["reason"]),
            problems=[{k: v for k, v in p.items() if k != "file"} for p in self.problems],
        )
        return err.to_dict()


@dataclass
class Manifest:
    rows: dict[str, ManifestRow]
    problems: list[dict[str, str | int]] = field(default_factory=list)
    ignored_columns: list[str] = field(default_factory=list)
    rejected: dict[str, RejectedRow] = field(default_factory=dict)

    def listed(self) -> set[str]:
        """Every file name the manifest lists, accepted or rejected."""
        return set(self.rows) | set(self.rejected)

    def personal_values(self) -> tuple[list[str | None], list[str | None]]:
        """Resident IDs and names of every line, rejected ones included (for maskers)."""
        lines: list[ManifestRow | RejectedRow] = [*self.rows.values(), *self.rejected.values()]
        return [r.resident_id for r in lines], [r.name for r in lines]


def normalize_name(path: str) -> str:
    """Names compare after NFC normalization and with ``/`` separators."""
    return unicodedata.normalize("NFC", path.replace("\\", "/")).strip()


def parse_manifest(data: bytes, *, site: str) -> Manifest:
    """Parse and validate a manifest; row-level problems are collected (and the row rejected), not raised.

    Raises :class:`ManifestError` only when the file as a whole is unusable (not UTF-8, no ``file`` column, a
    column given twice, broken CSV).
    """
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ManifestError("manifest is not UTF-8 text", hint="Save the CSV as UTF-8.", position=exc.start) from exc
    if "\x00" in text:  # the csv module stops at a NUL; a text file has none
        raise ManifestError("manifest contains NUL bytes: not CSV text", hint="Save the manifest as CSV (UTF-8).")
    reader = csv.reader(io.StringIO(text))
    try:
        header = [h.strip() for h in next(reader, [])]
        missing = [c for c in REQUIRED if c not in header]
        if missing:
            raise ManifestError(
                f"manifest lacks column(s) {', '.join(missing)}", columns=_shown_list(header), expected=COLUMNS
            )
        repeated = sorted({h for h in header if h and header.count(h) > 1})
        if repeated:  # which of two resident_id columns is meant? refuse rather than guess
            raise ManifestError(
                f"manifest has column(s) {', '.join(_shown_list(repeated))} more than once",
                hint="Keep one column of each name in the manifest.",
                columns=_shown_list(header),
            )
        manifest = Manifest(rows={}, ignored_columns=[h for h in header if h not in COLUMNS])
        for cells in reader:
            number = reader.line_num
            if not any(c.strip() for c in cells):
                continue  # a blank line
            _add(manifest, number, header, cells, site)
    except csv.Error as exc:
        raise ManifestError(
            f"manifest is not valid CSV near line {reader.line_num}: {exc}",
            hint="Open the manifest in a spreadsheet program and save it again as CSV (UTF-8).",
            line=reader.line_num,
        ) from exc
    return manifest


def _add(manifest: Manifest, number: int, header: list[str], cells: list[str], site: str) -> None:
    # a cell dangan's own CSV writers escaped (``'=...``, see dangan.csvsafe) reads back as written
    values = {h: unescape_cell(c).strip() for h, c in zip(header, cells, strict=False) if h}
    shape = None
    if len(cells) != len(header):  # an unquoted comma shifts every later column into the wrong one
        shape = f"{len(cells)} cells, header has {len(header)}"
    row, rejected = _row(number, values, site, shape)
    if row is None and rejected is None:
        manifest.problems.append({"line": number, "code": "MANIFEST_NO_FILE", "column": "file", "reason": "EMPTY"})
        return
    name = row.file if row is not None else rejected.file  # type: ignore[union-attr]
    if rejected is not None:
        manifest.problems.extend(rejected.problems)
    earlier = manifest.rows.get(name) or manifest.rejected.get(name)
    if earlier is not None:
        manifest.problems.append(
            {"line": number, "code": "MANIFEST_DUPLICATE_FILE", "file": name, "column": "file", "reason": "DUPLICATE"}
        )
        same = row is not None and isinstance(earlier, ManifestRow) and replace(earlier, line=number) == row
        if same:
            return  # the same line twice: harmless
        # two different lines for one file: whose document is it? neither line is used
        earlier_problems = earlier.problems if isinstance(earlier, RejectedRow) else ()
        conflict = {"line": number, "code": "MANIFEST_CONFLICTING_LINES", "file": name, "column": "*"}
        conflict |= {"reason": "CONFLICT", "value": f"lines {earlier.line} and {number}"}
        manifest.problems.append(conflict)
        manifest.rows.pop(name, None)
        manifest.rejected[name] = RejectedRow(
            earlier.line,
            name,
            (*earlier_problems, *(rejected.problems if rejected else ()), conflict),
            resident_id=earlier.resident_id,
            name=earlier.name,
        )
        return
    if row is not None:
        manifest.rows[name] = row
    else:
        manifest.rejected[name] = rejected  # type: ignore[assignment]


def _row(
    number: int, v: dict[str, str], site: str, shape: str | None = None
) -> tuple[ManifestRow | None, RejectedRow | None]:
    """Validate one line: a row when every value is good, else a rejection naming each bad value.

    ``shape`` says why the line's cells do not line up with the header; its values are then not checked one by
    one (each would be judged against the wrong column).
    """
    problems: list[dict[str, str | int]] = []
    raw_file = v.get("file", "")
    name = normalize_name(raw_file)
    if not name:
        return None, None

    def problem(column: str, code: str, reason: str, value: str | None = None) -> None:
        entry: dict[str, str | int] = {"line": number, "code": code, "file": _cut(name, 300) or "", "column": column}
        entry["reason"] = reason
        if value is not None:
            entry["value"] = _shown(column, value)
        problems.append(entry)

    if shape is not None:
        problem("*", "MANIFEST_ROW_SHAPE", "CELL_COUNT")
        problems[-1]["value"] = shape
        raw = {k: _cut(v.get(k), 100) for k in ("resident_id", "name")}  # for maskers, wherever they landed
        return None, RejectedRow(number, name, tuple(problems), resident_id=raw["resident_id"], name=raw["name"])
    if len(name) > MAX_LENGTH["file"]:
        problem("file", "MANIFEST_BAD_FILE", "TOO_LONG", name)
    elif _forbidden(name):
        problem("file", "MANIFEST_BAD_FILE", "CONTROL_CHARACTERS", name)

    row_site = v.get("site") or None
    if row_site is not None:
        try:
            validate_site_code(row_site)
        except ValueError:
            problem("site", "MANIFEST_BAD_SITE", "NOT_A_SITE_CODE", row_site)
        else:
            if row_site != site:  # another county's document must not be filed here
                problem("site", "MANIFEST_SITE_MISMATCH", "OTHER_SITE", row_site)

    retention = (v.get("retention") or "permanent").lower()
    if retention not in RETENTIONS:
        problem("retention", "MANIFEST_BAD_RETENTION", "NOT_ALLOWED", v["retention"])
    form_type = (v.get("form_type") or "unknown").lower()
    if form_type not in FORM_TYPES:
        problem("form_type", "MANIFEST_BAD_FORM_TYPE", "NOT_ALLOWED", v["form_type"])

    doc_date = v.get("doc_date") or None
    if doc_date is not None and (reason := _date_problem(doc_date)):
        problem("doc_date", "MANIFEST_BAD_DATE", reason, doc_date)

    expected: int | None = None
    if v.get("expected_pages"):
        text = v["expected_pages"]
        if not _PAGES.fullmatch(text):
            problem("expected_pages", "MANIFEST_BAD_PAGE_COUNT", "NOT_A_NUMBER", text)
        elif not 1 <= int(text) <= MAX_EXPECTED_PAGES:
            problem("expected_pages", "MANIFEST_BAD_PAGE_COUNT", "OUT_OF_RANGE", text)
        else:
            expected = int(text)

    rid: str | None = None
    raw_id = v.get("resident_id") or None
    if raw_id is not None:
        rid = normalize_id(raw_id) if len(raw_id) <= 64 else raw_id
        check = validate_id(rid)
        if not check.valid:
            problem("resident_id", "MANIFEST_BAD_RESIDENT_ID", "+".join(check.reasons), rid)

    person = unicodedata.normalize("NFC", v.get("name") or "") or None
    if person is not None and (reason := _name_problem(person)):
        problem("name", "MANIFEST_BAD_NAME", reason, person)

    texts: dict[str, str | None] = {}
    for column in ("dossier_category", "operator"):
        value = unicodedata.normalize("NFC", v.get(column) or "") or None
        texts[column] = value
        if value is None:
            continue
        if len(value) > MAX_LENGTH[column]:
            problem(column, f"MANIFEST_BAD_{column.upper()}", "TOO_LONG", value)
        elif _forbidden(value):
            problem(column, f"MANIFEST_BAD_{column.upper()}", "CONTROL_CHARACTERS", value)

    if problems:
        # keep what may be personal data for maskers only, bounded (hostile input can be arbitrarily long)
        return None, RejectedRow(number, name, tuple(problems), resident_id=_cut(rid, 64), name=_cut(person, 100))
    row = ManifestRow(
        line=number,
        file=name,
        site=row_site,
        resident_id=rid,
        name=person,
        dossier_category=texts["dossier_category"],
        retention=retention,
        form_type=form_type,
        doc_date=doc_date,
        expected_pages=expected,
        operator=texts["operator"],
    )
    return row, None


def _forbidden(text: str) -> bool:
    return any(unicodedata.category(c) in _FORBIDDEN_CATEGORIES for c in text)


def _name_problem(name: str) -> str | None:
    if len(name) > MAX_LENGTH["name"]:
        return "TOO_LONG"
    if _forbidden(name):
        return "CONTROL_CHARACTERS"
    first_ok = unicodedata.category(name[0]).startswith("L")
    if not first_ok or any(unicodedata.category(c)[0] not in "LM" and c not in _NAME_SEPARATORS for c in name):
        return "CHARACTERS"  # digits, punctuation, symbols: not a person's name (or a shifted column)
    return None


def _date_problem(text: str) -> str | None:
    m = _DATE.fullmatch(text)
    if m is None:
        return "NOT_YYYY_MM_DD"
    year, month, day = int(m.group(1)), int(m.group(2)), int(m.group(3) or 1)
    try:
        when = date(year, month, day)
    except ValueError:
        return "NO_SUCH_DATE"
    if when < EARLIEST_DOC_DATE or when > datetime.now(_CHINA).date():
        return "OUT_OF_RANGE"
    return None


def _cut(text: str | None, limit: int) -> str | None:
    if text is None or len(text) <= limit:
        return text
    return text[:limit] + "…"


def _shown(column: str, value: str) -> str:
    """A bad value as reports may show it: personal columns masked, controls escaped, length bounded."""
    if column == "resident_id":
        shown = mask_id(value) if len(value) <= 24 else f"{mask_id(value[:24])[:6]}…"
    elif column in ("name", "operator"):
        shown = mask_name(value[:12])
    else:
        shown = _cut(value, 40) or ""
    shown = "".join(c if c.isprintable() else f"\\u{ord(c):04x}" for c in shown)
    return scrub(shown) + (f" ({len(value)} characters)" if len(value) > 24 else "")


def _shown_list(values: list[str]) -> list[str]:
    return [_shown("header", v) for v in values]


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
    listed = manifest.listed()
    return Reconciliation(unlisted_files=sorted(present - listed), missing_files=sorted(listed - present))
