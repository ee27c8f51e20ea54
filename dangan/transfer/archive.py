"""The transfer package's metadata as a versioned contract: ``ArchivePackage`` (format ``dangan-archive/1``).

A package's metadata payload is three JSON files: ``catalog.json`` (person, dossiers, documents, masters, pages,
derivatives; it carries ``format`` and ``version``), ``results.json`` (OCR results) and ``fields.json``
(extracted fields). Rows refer to each other by local refs (``d12``, ``doc7``, ``m3``, ``p40``) so the receiver
rebuilds the graph with its own ids.

``format`` names the family: anything else is refused (:class:`~dangan.transfer.errors.TransferPackageFormat`).
``version`` is the revision of its shape: an older one is migrated on read, step by step, by the functions in
:data:`MIGRATIONS`; a newer one (made by a newer dangan) is refused
(:class:`~dangan.transfer.errors.TransferPackageVersion`) rather than half-understood. A document that does not
match the model (a missing key, a string where a number belongs) is refused as
:class:`~dangan.transfer.errors.TransferPackageInvalid`, naming where, never the value (it may be personal data).

Versions:

1. Packages made before versions (no ``version`` key). They grew without a version bump, so a version-1 package
   may lack OCR ``version`` (one reading per engine + model), the OCR objects' digests and hOCR sibling, field
   ``flags`` and master ``retain_until``.
2. Every row carries every key (``None`` where the catalog has nothing); ``catalog.json`` says ``"version": 2``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Final, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, JsonValue, ValidationError, field_validator

from dangan.transfer import bag
from dangan.transfer.errors import TransferPackageFormat, TransferPackageInvalid, TransferPackageVersion

FORMAT: Final = "dangan-archive/1"
#: The shape this dangan writes; packages of an older version are migrated on read, newer ones refused.
VERSION: Final = 2
#: A JSON object as it comes from ``json.loads`` (what a migration step rewrites).
JsonObject = dict[str, JsonValue]
_T = TypeVar("_T", bound=BaseModel)


class _Row(BaseModel):
    """Strict (no coercion: ``"3"`` is not a page index), closed (unknown keys are refused), immutable."""

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)


class PersonEntry(_Row):
    resident_id: str
    resident_id_masked: str
    name: str | None


class DossierEntry(_Row):
    ref: str
    category: str
    retention: str


class DocumentEntry(_Row):
    ref: str
    dossier: str
    batch: str
    source_file: str
    form_type: str
    doc_date: str | None
    expected_pages: int | None
    page_count: int
    status: str


class MasterEntry(_Row):
    ref: str
    sha256: str
    size: int
    format: str
    path: str  # bag path, built from the SHA-256 only
    source_key: str
    original_name: str
    page_count: int
    batch: str
    retain_until: str | None  # ISO 8601, as written (re-serialising a datetime would change the bytes)

    @field_validator("retain_until")
    @classmethod
    def _iso(cls, value: str | None) -> str | None:
        if value is not None:
            datetime.fromisoformat(value)  # ValueError → a validation error naming the field
        return value


class PageEntry(_Row):
    ref: str
    master: str
    page_index: int
    document: str
    seq: int
    width: int | None
    height: int | None
    dpi: float | None
    color_mode: str | None
    status: str
    metrics: dict[str, JsonValue]


class DerivativeEntry(_Row):
    ref: str
    page: str
    kind: str
    path: str
    source_key: str
    sha256: str
    size: int
    tool: str
    params: dict[str, JsonValue]
    params_hash: str


class OcrEntry(_Row):
    """One OCR result of a page; ``path``/``hocr_path`` are its JSON and hOCR objects in the bag (if any)."""

    page: str
    engine: str
    model: str
    version: int
    model_sha256: dict[str, JsonValue]
    device: str
    text: str
    lines: list[JsonValue]
    seconds: float | None
    error: str | None
    is_current: bool
    path: str | None
    source_key: str | None
    hocr_path: str | None
    hocr_source_key: str | None
    sha256: str | None
    size: int | None
    hocr_sha256: str | None
    hocr_size: int | None

    @property
    def identity(self) -> tuple[str, str, int]:
        """Engine, model and version: one reading of a page."""
        return self.engine, self.model, self.version


class FieldEntry(_Row):
    document: str
    page: str | None
    name: str
    value: str | None
    confidence: float | None
    box: list[JsonValue] | None
    source: str
    flags: list[str]  # codes only (a CONFLICT travels with the archive, still to be reviewed)
    version: int
    is_current: bool


class ArchiveCatalog(_Row):
    """``catalog.json``: who, and every catalogued row of their archive."""

    format: Literal["dangan-archive/1"]
    version: Literal[2]  # VERSION: what :func:`migrate` brings every package to
    source_site: str
    transfer_id: str | None = None  # set when the snapshot becomes a transfer's package
    person: PersonEntry
    dossiers: list[DossierEntry]
    documents: list[DocumentEntry]
    masters: list[MasterEntry]
    pages: list[PageEntry]
    derivatives: list[DerivativeEntry]


def _rows(model: type[_T], name: str, doc: object) -> list[_T]:
    if not isinstance(doc, list):
        raise TransferPackageInvalid(f"{name} is not a JSON list", file=name)
    try:
        return [model.model_validate(row) for row in doc]
    except ValidationError as exc:
        raise _invalid(name, exc) from None


def _invalid(name: str, exc: ValidationError) -> TransferPackageInvalid:
    """The first few findings as ``where: what`` (no input values: they may be resident IDs or names)."""
    found = [
        f"{'.'.join(str(p) for p in e['loc']) or '(document)'}: {e['msg']}"
        for e in exc.errors(include_url=False, include_input=False, include_context=False)
    ]
    return TransferPackageInvalid(
        f"{name} does not match {FORMAT} version {VERSION}: " + "; ".join(found[:5]), file=name
    )


class ArchivePackage(_Row):
    """The metadata payload of one package: the catalog snapshot, its OCR results and its fields."""

    catalog: ArchiveCatalog
    ocr: list[OcrEntry]
    fields: list[FieldEntry]

    @classmethod
    def from_documents(cls, catalog: object, ocr: object, fields: object) -> ArchivePackage:
        """The package from its three parsed JSON documents: format and version checked, older versions migrated.

        Raises :class:`TransferPackageFormat`, :class:`TransferPackageVersion` or :class:`TransferPackageInvalid`.
        """
        cat, ocr_rows, field_rows = migrate(catalog, ocr, fields)
        try:
            parsed = ArchiveCatalog.model_validate(cat)
        except ValidationError as exc:
            raise _invalid(bag.CATALOG_PATH, exc) from None
        return cls(
            catalog=parsed,
            ocr=_rows(OcrEntry, bag.OCR_PATH, ocr_rows),
            fields=_rows(FieldEntry, bag.FIELDS_PATH, field_rows),
        )

    @classmethod
    def from_bytes(cls, catalog: bytes, ocr: bytes, fields: bytes) -> ArchivePackage:
        """The package from the bytes of its three metadata files (see :meth:`from_documents`)."""
        docs: list[object] = []
        for name, data in zip(bag.METADATA_PATHS, (catalog, ocr, fields), strict=True):
            try:
                docs.append(json.loads(data))
            except (ValueError, RecursionError) as exc:
                raise TransferPackageInvalid(f"{name} is not JSON ({type(exc).__name__})", file=name) from None
        return cls.from_documents(*docs)

    def documents(self) -> dict[str, bytes]:
        """The three metadata files, canonical bytes (sorted keys, UTF-8): same package, same bytes."""
        return {
            bag.CATALOG_PATH: dumps(self.catalog.model_dump(mode="json")),
            bag.OCR_PATH: dumps([o.model_dump(mode="json") for o in self.ocr]),
            bag.FIELDS_PATH: dumps([f.model_dump(mode="json") for f in self.fields]),
        }

    def for_transfer(self, transfer_id: str) -> ArchivePackage:
        """The same snapshot, naming the transfer it is packaged for."""
        return self.model_copy(update={"catalog": self.catalog.model_copy(update={"transfer_id": transfer_id})})

    def counts(self) -> dict[str, int]:
        """Row counts (written to bag-info, the receipt and the commit's audit event)."""
        cat = self.catalog
        return {
            "dossiers": len(cat.dossiers),
            "documents": len(cat.documents),
            "masters": len(cat.masters),
            "pages": len(cat.pages),
            "derivatives": len(cat.derivatives),
            "ocr_results": len(self.ocr),
            "fields": len(self.fields),
        }

    def binary_entries(self) -> list[tuple[str, str, str | None, int | None]]:
        """``(bag path, source key, catalogued sha256, catalogued size)`` of every binary payload object: masters,
        derivatives, each OCR result's JSON and its hOCR sibling (every object the receiver's rows will name)."""
        cat = self.catalog
        out: list[tuple[str, str, str | None, int | None]] = [
            (m.path, m.source_key, m.sha256, m.size) for m in cat.masters
        ]
        out += [(v.path, v.source_key, v.sha256, v.size) for v in cat.derivatives]
        out += [(o.path, o.source_key, o.sha256, o.size) for o in self.ocr if o.path and o.source_key]
        out += [
            (o.hocr_path, o.hocr_source_key, o.hocr_sha256, o.hocr_size)
            for o in self.ocr
            if o.hocr_path and o.hocr_source_key
        ]
        return out

    def object_sources(self) -> dict[str, str]:
        """``{bag path: source key}`` of every binary payload object."""
        return {path: key for path, key, _, _ in self.binary_entries()}


def dumps(obj: JsonValue) -> bytes:
    """Canonical JSON bytes (sorted keys, UTF-8, indent 1): the form every package file has always had."""
    return json.dumps(obj, ensure_ascii=False, sort_keys=True, indent=1).encode()


# --- reading older packages -------------------------------------------------------------------------------------
Documents = tuple[JsonObject, list[JsonValue], list[JsonValue]]


def _migrate_1_to_2(catalog: JsonObject, ocr: list[JsonValue], fields: list[JsonValue]) -> Documents:
    """Version 1 (no ``version`` key) → 2: name the defaults the receiver always applied to what is missing."""
    for m in _objects(catalog.get("masters")):
        m.setdefault("retain_until", None)
    for o in _objects(ocr):
        if o.get("version") is None:  # packages made before OCR versions: one reading per engine + model
            o["version"] = 1
        for key in ("sha256", "size", "hocr_sha256", "hocr_size", "path", "source_key", "hocr_path", "hocr_source_key"):
            o.setdefault(key, None)
    for f in _objects(fields):
        if f.get("flags") is None:  # packages made before flags existed carry none
            f["flags"] = []
    return {**catalog, "version": 2}, ocr, fields


#: ``from version → step`` (each returns the documents one version later).
MIGRATIONS: dict[int, Callable[[JsonObject, list[JsonValue], list[JsonValue]], Documents]] = {1: _migrate_1_to_2}


def _objects(rows: JsonValue) -> list[JsonObject]:
    return [r for r in rows if isinstance(r, dict)] if isinstance(rows, list) else []


def package_version(catalog: object) -> int:
    """The version a parsed ``catalog.json`` declares (1 when it has none), after checking its format.

    Raises :class:`TransferPackageFormat` for another format, :class:`TransferPackageVersion` for a version
    this dangan does not know (newer, or not a positive integer).
    """
    if not isinstance(catalog, dict):
        raise TransferPackageInvalid(f"{bag.CATALOG_PATH} is not a JSON object", file=bag.CATALOG_PATH)
    fmt = catalog.get("format")
    if fmt != FORMAT:
        raise TransferPackageFormat(
            f"{bag.CATALOG_PATH} has format {str(fmt)[:60]!r}, not {FORMAT!r}",
            file=bag.CATALOG_PATH,
            found=str(fmt)[:60],
            expected=FORMAT,
        )
    version = catalog.get("version", 1)
    if isinstance(version, bool) or not isinstance(version, int) or not 1 <= version <= VERSION:
        raise TransferPackageVersion(
            f"package version {str(version)[:20]} of {FORMAT}; this dangan reads versions 1 to {VERSION}",
            file=bag.CATALOG_PATH,
            found=str(version)[:20],
            supported=VERSION,
        )
    return version


def migrate(catalog: object, ocr: object, fields: object) -> Documents:
    """The three documents in the current version's shape (copies; the inputs are not changed)."""
    version = package_version(catalog)
    if not isinstance(ocr, list):
        raise TransferPackageInvalid(f"{bag.OCR_PATH} is not a JSON list", file=bag.OCR_PATH)
    if not isinstance(fields, list):
        raise TransferPackageInvalid(f"{bag.FIELDS_PATH} is not a JSON list", file=bag.FIELDS_PATH)
    cat, ocr_rows, field_rows = json.loads(json.dumps([catalog, ocr, fields]))  # a copy the steps may rewrite
    while version < VERSION:
        cat, ocr_rows, field_rows = MIGRATIONS[version](cat, ocr_rows, field_rows)
        version += 1
    return cat, ocr_rows, field_rows
