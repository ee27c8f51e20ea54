"""Catalog schema (SQLAlchemy 2): the source of truth for what exists and what is done.

site → person (参保人) → dossier (案卷) → document (件) → page; masters are content-addressed files (one master
may hold several pages: multi-page TIFF, PDF). Status columns are state machines (see ``states.py``).
Times are stored in UTC; amounts as strings/Decimal, never floats.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from dangan.catalog.states import BatchState, DocumentState, PageState, PersonState, QuarantineState, TransferState

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_id() -> str:
    return uuid.uuid4().hex


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON, datetime: DateTime(timezone=True)}


class Site(Base):
    """A county archive (GB/T 2260 code), with where its catalog and objects live."""

    __tablename__ = "site"
    code: Mapped[str] = mapped_column(String(6), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    catalog_url: Mapped[str | None] = mapped_column(String(500))
    store_url: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class SiteKey(Base):
    """A site's public signing key (dangan/transfer/keys.py): active, retired (rotated) or revoked. No foreign key
    to ``site``: another county's key may be trusted before that county is registered as a transfer partner."""

    __tablename__ = "site_key"
    key_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    site_code: Mapped[str] = mapped_column(String(6), index=True)
    algorithm: Mapped[str] = mapped_column(String(20))
    public_key: Mapped[str] = mapped_column(String(200))
    encryption_key: Mapped[str | None] = mapped_column(String(200))  # X25519, for bags sealed to this site
    status: Mapped[str] = mapped_column(String(10), default="active")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    retired_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    revoked_reason: Mapped[str | None] = mapped_column(String(500))


class ScanBatch(Base):
    """One delivery of scanner output (a hot folder or inbox prefix), with its manifest."""

    __tablename__ = "scan_batch"
    __table_args__ = (
        # one open batch per site and source: two ingests of one folder started at once share it (migration 0010)
        Index(
            "uq_scan_batch_open_source",
            "site_code",
            "source_key",
            unique=True,
            sqlite_where=text("status = 'open'"),
            postgresql_where=text("status = 'open'"),
        ),
    )
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    site_code: Mapped[str] = mapped_column(ForeignKey("site.code"), index=True)
    source: Mapped[str] = mapped_column(String(1000))
    source_key: Mapped[str] = mapped_column(String(64), index=True)  # hash of site+source, for re-runs
    manifest_key: Mapped[str | None] = mapped_column(String(500))
    manifest_sha256: Mapped[str | None] = mapped_column(String(64))
    operator: Mapped[str | None] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(20), default=BatchState.OPEN)
    counts: Mapped[dict[str, Any]] = mapped_column(default=dict)
    report: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]


class Person(Base):
    """参保人. ``resident_id`` is stored in full; use ``resident_id_masked`` anywhere it is displayed."""

    __tablename__ = "person"
    __table_args__ = (UniqueConstraint("site_code", "resident_id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    site_code: Mapped[str] = mapped_column(ForeignKey("site.code"), index=True)
    resident_id: Mapped[str] = mapped_column(String(18))
    resident_id_masked: Mapped[str] = mapped_column(String(18))
    name: Mapped[str | None] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(20), default=PersonState.ACTIVE)
    transferred_to: Mapped[str | None] = mapped_column(String(6))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    dossiers: Mapped[list[Dossier]] = relationship(back_populates="person")


class Dossier(Base):
    """案卷: category per 《社会保险业务档案管理规定》, retention 'permanent' or '10'/'30'/'50'/'100' years."""

    __tablename__ = "dossier"
    __table_args__ = (UniqueConstraint("person_id", "category"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"), index=True)
    category: Mapped[str] = mapped_column(String(50))
    retention: Mapped[str] = mapped_column(String(10), default="permanent")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    person: Mapped[Person] = relationship(back_populates="dossiers")
    documents: Mapped[list[Document]] = relationship(back_populates="dossier")


class Document(Base):
    """件: one form (registration, account statement, transfer form...), one or more pages."""

    __tablename__ = "document"
    __table_args__ = (UniqueConstraint("batch_id", "source_file"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    site_code: Mapped[str] = mapped_column(ForeignKey("site.code"), index=True)
    dossier_id: Mapped[int | None] = mapped_column(ForeignKey("dossier.id"), index=True)
    batch_id: Mapped[str] = mapped_column(ForeignKey("scan_batch.id"), index=True)
    source_file: Mapped[str] = mapped_column(String(1000))
    form_type: Mapped[str] = mapped_column(String(50), default="unknown")
    doc_date: Mapped[str | None] = mapped_column(String(10))
    expected_pages: Mapped[int | None]
    page_count: Mapped[int] = mapped_column(default=0)
    status: Mapped[str] = mapped_column(String(20), default=DocumentState.REGISTERED)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    dossier: Mapped[Dossier | None] = relationship(back_populates="documents")
    pages: Mapped[list[Page]] = relationship(back_populates="document", order_by="Page.seq")


class BatchFile(Base):
    """Every delivered file of a batch and what became of it (the batch report is computed from these rows)."""

    __tablename__ = "batch_file"
    __table_args__ = (UniqueConstraint("batch_id", "name"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    batch_id: Mapped[str] = mapped_column(ForeignKey("scan_batch.id"), index=True)
    name: Mapped[str] = mapped_column(String(1000))
    outcome: Mapped[str] = mapped_column(String(20))  # accepted resumed already duplicate quarantined missing
    sha256: Mapped[str | None] = mapped_column(String(64))
    pages: Mapped[int] = mapped_column(default=0)
    code: Mapped[str | None] = mapped_column(String(50))
    duplicate_of: Mapped[str | None] = mapped_column(String(1000))
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Master(Base):
    """An original scanner file kept byte-for-byte; unique per site by SHA-256 (de-duplication)."""

    __tablename__ = "master"
    __table_args__ = (UniqueConstraint("site_code", "sha256"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    site_code: Mapped[str] = mapped_column(ForeignKey("site.code"), index=True)
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(BigInteger)
    format: Mapped[str] = mapped_column(String(10))
    object_key: Mapped[str] = mapped_column(String(500))
    original_name: Mapped[str] = mapped_column(String(1000))
    page_count: Mapped[int] = mapped_column(default=1)
    batch_id: Mapped[str] = mapped_column(ForeignKey("scan_batch.id"), index=True)
    retain_until: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Page(Base):
    """One page image of a master, with its measured properties and processing status."""

    __tablename__ = "page"
    __table_args__ = (UniqueConstraint("master_id", "page_index"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    site_code: Mapped[str] = mapped_column(ForeignKey("site.code"), index=True)
    master_id: Mapped[int] = mapped_column(ForeignKey("master.id"), index=True)
    page_index: Mapped[int] = mapped_column(default=0)
    document_id: Mapped[int | None] = mapped_column(ForeignKey("document.id"), index=True)
    seq: Mapped[int] = mapped_column(default=1)
    width: Mapped[int | None]
    height: Mapped[int | None]
    dpi: Mapped[float | None] = mapped_column(Float)
    color_mode: Mapped[str | None] = mapped_column(String(10))
    status: Mapped[str] = mapped_column(String(20), default=PageState.INGESTED, index=True)
    metrics: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    master: Mapped[Master] = relationship()
    document: Mapped[Document | None] = relationship(back_populates="pages")
    issues: Mapped[list[QualityIssue]] = relationship(back_populates="page")


class Derivative(Base):
    """A processed image made from a page (OCR input, thumbnail, searchable PDF), with how it was made."""

    __tablename__ = "derivative"
    __table_args__ = (UniqueConstraint("page_id", "kind", "params_hash"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    page_id: Mapped[int] = mapped_column(ForeignKey("page.id"), index=True)
    kind: Mapped[str] = mapped_column(String(30))
    object_key: Mapped[str] = mapped_column(String(500))
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(BigInteger)
    tool: Mapped[str] = mapped_column(String(200))
    params: Mapped[dict[str, Any]] = mapped_column(default=dict)
    params_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class QualityIssue(Base):
    """A failed image-quality gate (DA/T 31-2017) or other per-page finding."""

    __tablename__ = "quality_issue"
    __table_args__ = (UniqueConstraint("page_id", "code"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    page_id: Mapped[int] = mapped_column(ForeignKey("page.id"), index=True)
    code: Mapped[str] = mapped_column(String(50), index=True)
    severity: Mapped[str] = mapped_column(String(10))
    message: Mapped[str] = mapped_column(Text)
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    page: Mapped[Page] = relationship(back_populates="issues")


class QuarantineItem(Base):
    """A file that could not be accepted, kept byte-for-byte in the quarantine area with its reason."""

    __tablename__ = "quarantine_item"
    __table_args__ = (UniqueConstraint("batch_id", "source_file"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    site_code: Mapped[str] = mapped_column(ForeignKey("site.code"), index=True)
    batch_id: Mapped[str] = mapped_column(ForeignKey("scan_batch.id"), index=True)
    source_file: Mapped[str] = mapped_column(String(1000))
    object_key: Mapped[str | None] = mapped_column(String(500))
    sha256: Mapped[str | None] = mapped_column(String(64))
    size: Mapped[int | None] = mapped_column(BigInteger)
    code: Mapped[str] = mapped_column(String(50), index=True)
    message: Mapped[str] = mapped_column(Text)
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)
    status: Mapped[str] = mapped_column(String(20), default=QuarantineState.OPEN)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class OcrResult(Base):
    """Recognized text of a page by one engine + model; older results are kept (versioned)."""

    __tablename__ = "ocr_result"
    __table_args__ = (UniqueConstraint("page_id", "engine", "model", "version"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    page_id: Mapped[int] = mapped_column(ForeignKey("page.id"), index=True)
    engine: Mapped[str] = mapped_column(String(30))
    model: Mapped[str] = mapped_column(String(200))
    # a rerun with the same engine + model that reads differently is a new version; earlier ones stay
    version: Mapped[int] = mapped_column(Integer, default=1, server_default=text("1"))
    model_sha256: Mapped[dict[str, Any]] = mapped_column(default=dict)
    device: Mapped[str] = mapped_column(String(20))
    text: Mapped[str] = mapped_column(Text, default="")
    lines: Mapped[list[Any]] = mapped_column(default=list)
    seconds: Mapped[float | None] = mapped_column(Float)
    error: Mapped[str | None] = mapped_column(Text)
    object_key: Mapped[str | None] = mapped_column(String(500))
    # digests of the JSON object and its hOCR sibling (fixity); NULL on rows from before migration 0008 until
    # `dangan fixity --adopt-digests` records them
    sha256: Mapped[str | None] = mapped_column(String(64))
    size: Mapped[int | None] = mapped_column(BigInteger)
    hocr_sha256: Mapped[str | None] = mapped_column(String(64))
    hocr_size: Mapped[int | None] = mapped_column(BigInteger)
    is_current: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class FieldValue(Base):
    """One extracted (or corrected) field of a document, with confidence, source box and extraction flags.

    ``flags`` are codes only (never values): normalizer flags (``DATE_INVALID``, ...) and ``CONFLICT`` when the
    document printed the field twice with different values; the other readings are kept as non-current rows
    with ``source="candidate"`` of the same version. A reviewer's correction carries no flags.
    """

    __tablename__ = "field"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("document.id"), index=True)
    page_id: Mapped[int | None] = mapped_column(ForeignKey("page.id"))
    name: Mapped[str] = mapped_column(String(50))
    value: Mapped[str | None] = mapped_column(Text)
    confidence: Mapped[float | None] = mapped_column(Float)
    box: Mapped[list[Any] | None] = mapped_column(JSON)
    flags: Mapped[list[Any]] = mapped_column(JSON, default=list, server_default=text("'[]'"))
    source: Mapped[str] = mapped_column(String(20), default="extracted")
    version: Mapped[int] = mapped_column(default=1)
    is_current: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


def _one_open_transfer_per(name: str, column: str) -> Index:
    """A partial unique index: per person and ``column``, at most one transfer not yet done or failed."""
    open_only = text("state NOT IN ('done', 'failed')")
    return Index(name, "person_resident_id", column, unique=True, sqlite_where=open_only, postgresql_where=open_only)


class Transfer(Base):
    """A person's archive moving between sites (转移接续); one open transfer per person + source (and so per
    destination too)."""

    __tablename__ = "transfer"
    __table_args__ = (
        _one_open_transfer_per("uq_transfer_open_person_dest", "to_site"),
        # two destinations at once would leave two live copies
        _one_open_transfer_per("uq_transfer_open_person_source", "from_site"),
    )
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    person_resident_id: Mapped[str] = mapped_column(String(18))
    person_masked: Mapped[str] = mapped_column(String(18))
    from_site: Mapped[str] = mapped_column(String(6), index=True)
    to_site: Mapped[str] = mapped_column(String(6), index=True)
    state: Mapped[str] = mapped_column(String(20), default=TransferState.REQUESTED, index=True)
    reason_code: Mapped[str | None] = mapped_column(String(50))
    package_key: Mapped[str | None] = mapped_column(String(500))
    receipt: Mapped[dict[str, Any]] = mapped_column(default=dict)
    attempts: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class AuditEvent(Base):
    """Append-only trail (UPDATE/DELETE are refused by database triggers)."""

    __tablename__ = "audit_event"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(50), index=True)
    entity_type: Mapped[str] = mapped_column(String(30))
    entity_id: Mapped[str] = mapped_column(String(64), index=True)
    site_code: Mapped[str | None] = mapped_column(String(6), index=True)
    outcome: Mapped[str] = mapped_column(String(20), default="ok")
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)


import dangan.catalog.replica_models  # noqa: E402  (replica joins Base.metadata for Alembic)
import dangan.catalog.validation_models  # noqa: E402,F401  (validation_result joins Base.metadata for Alembic)
