"""Ingest one delivered file: fixity → decode → QA → derivatives → master object → catalog.

Memory: pages are decoded one at a time and only their metrics are kept, so a file of N pages needs about one
page's memory, not N. A multi-page file is decoded a second time, page by page, for its derivatives (they need
the page ids of the catalog rows, which are written only once every page has decoded); a single page is kept.

Write order (ARCHITECTURE.md: objects before rows): objects first (verified by the store), then catalog rows.
Two transactions: (1) master + pages + QA issues, status ``ingested``; (2) derivatives, status ``preprocessed``.
A crash between them leaves pages without derivatives, which the next run of the batch completes (``resume``);
a crash before (1) leaves a master object without a row, which the next run adopts (same SHA-256, same key).
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from dangan.catalog.db import session_scope
from dangan.catalog.models import Derivative, Master, Page, QualityIssue
from dangan.catalog.states import PageState, transition
from dangan.errors import DanganError, DecodeFailed, IngestOutOfMemory, PermanentError
from dangan.imaging.decode import DecodedPage, DecodeLimits, iter_pages, probe
from dangan.imaging.derive import DeriveParams, make_ocr_derivative
from dangan.imaging.qa import QaThresholds, evaluate, measure
from dangan.ingest import register
from dangan.ingest.manifest import ManifestRow, RejectedRow
from dangan.ingest.source import Source, SourceFile
from dangan.keys import EXT_BY_FORMAT, derivative_key, master_key, quarantine_key
from dangan.pii import MASK_IDS, Masker
from dangan.storage.base import ObjectStore

log = logging.getLogger(__name__)
RETENTION_YEARS = {"10": 10, "30": 30, "50": 50, "100": 100, "permanent": 100}  # permanent: renewable lock


@dataclass
class IngestContext:
    """What every file of a batch needs; built once per chunk."""

    site: str
    batch_id: str
    catalog_url: str
    store: ObjectStore
    limits: DecodeLimits
    thresholds: QaThresholds
    derive_params: DeriveParams
    make_derivatives: bool = True
    max_file_bytes: int = 2 * 1024**3
    manifest_given: bool = False
    mask: Masker = MASK_IDS  # for log lines: the batch's manifest names and IDs, and ID-like tokens


@dataclass
class FileOutcome:
    """What happened to one file (plain values: goes into task results and batch reports)."""

    name: str
    outcome: str  # accepted | resumed | already | duplicate | quarantined | incomplete (registered, then failed)
    sha256: str | None = None
    pages: int = 0
    code: str | None = None
    message: str | None = None
    qa_codes: list[str] = field(default_factory=list)
    duplicate_of: str | None = None
    page_count_mismatch: dict[str, int] | None = None


@dataclass
class _PreparedPage:
    """What the catalog needs of one decoded page; the pixels only for a single-page file (``page``)."""

    index: int
    width: int
    height: int
    color_mode: str
    metrics: dict[str, Any]
    issues: list[Any]
    page: DecodedPage | None = None


def ingest_file(
    ctx: IngestContext, source: Source, item: SourceFile, row: ManifestRow | None, rejected: RejectedRow | None = None
) -> FileOutcome:
    """Ingest one file; permanent problems end as a quarantine item, transient ones propagate (retry).

    ``rejected``: the file's manifest line has bad values; the file is quarantined (``INGEST_MANIFEST_INVALID``)
    rather than filed under a person, site or date the catalog cannot trust.
    """
    if item.problem is not None:
        data = _read_if_safe(source, item)
        return _quarantine(ctx, item, data, item.problem)
    if item.size > ctx.max_file_bytes:
        err = PermanentError(f"{item.name} is {item.size} bytes, above the limit", size=item.size)
        return _quarantine(ctx, item, None, {**err.to_dict(), "code": "INGEST_FILE_TOO_LARGE"})
    data = source.read(item)
    sha = hashlib.sha256(data).hexdigest()
    with session_scope(ctx.catalog_url) as s:
        existing = register.find_master(s, ctx.site, sha)
        if existing is not None:
            return _existing(ctx, item, data, existing)
    if rejected is not None:
        return _quarantine(ctx, item, data, rejected.quarantine_error())
    if ctx.manifest_given and row is None:
        err = PermanentError(f"{item.name} is not listed in the batch manifest", name=item.name)
        return _quarantine(ctx, item, data, {**err.to_dict(), "code": "INGEST_NOT_IN_MANIFEST"})
    failure: dict[str, Any] | None = None
    try:
        fmt, prepared = _decode_and_measure(ctx, data)
    except DanganError as exc:
        if exc.transient:
            raise
        failure = exc.to_dict()
    except MemoryError:
        # built here, used below: the traceback (and the pages its frames hold) is released when this block ends
        failure = IngestOutOfMemory("ran out of memory while decoding and measuring the file", size=len(data)).to_dict()
    except Exception as exc:  # a file-specific surprise (decoder, QA): quarantine it, the batch goes on
        if _out_of_memory(exc):
            failure = IngestOutOfMemory(
                "ran out of memory while decoding and measuring the file", size=len(data), error=str(exc)[:200]
            ).to_dict()
        else:
            log.warning("decoding %s failed: %s", ctx.mask(item.name), type(exc).__name__, exc_info=True)
            failure = DecodeFailed(
                f"{type(exc).__name__} while decoding and measuring the file", error_type=type(exc).__name__
            ).to_dict()
    if failure is not None:
        return _quarantine(ctx, item, data, failure)
    return _register(ctx, item, data, sha, fmt, prepared, row)


def _out_of_memory(exc: Exception) -> bool:
    """OpenCV reports a failed allocation as ``cv2.error`` ("Insufficient memory"), not as MemoryError."""
    text = str(exc)
    return type(exc).__module__.startswith("cv2") and ("Insufficient memory" in text or "Failed to allocate" in text)


def _decode_and_measure(ctx: IngestContext, data: bytes) -> tuple[str, list[_PreparedPage]]:
    """Format and per-page metrics; limits are checked from the headers before any pixel is decoded."""
    info = probe(data, limits=ctx.limits)
    keep = info.page_count == 1  # one page costs the same kept or not; more would grow with the page count
    return info.format, [_prepare(p, ctx, keep) for p in iter_pages(data, limits=ctx.limits)]


def _prepare(page: DecodedPage, ctx: IngestContext, keep: bool) -> _PreparedPage:
    metrics = measure(page)
    issues = evaluate(metrics, ctx.thresholds)
    return _PreparedPage(
        page.index, page.width, page.height, page.color_mode, _as_dict(metrics), issues, page if keep else None
    )


def _register(
    ctx: IngestContext,
    item: SourceFile,
    data: bytes,
    sha: str,
    fmt: str,
    prepared: list[_PreparedPage],
    row: ManifestRow | None,
) -> FileOutcome:
    retention = row.retention if row else "permanent"
    retain_until = datetime.now(UTC) + timedelta(days=365 * RETENTION_YEARS[retention])
    key = master_key(ctx.site, sha, EXT_BY_FORMAT[fmt])
    ctx.store.put(
        key,
        data,
        sha256=sha,
        content_type=f"image/{fmt}" if fmt != "pdf" else "application/pdf",
        metadata={"site": ctx.site, "batch": ctx.batch_id, "retention": retention},
        retain_until=retain_until if ctx.store.supports_retention() else None,
    )
    outcome = FileOutcome(item.name, "accepted", sha256=sha, pages=len(prepared))
    master = Master(
        site_code=ctx.site,
        sha256=sha,
        size=len(data),
        format=fmt,
        object_key=key,
        original_name=item.name,
        page_count=len(prepared),
        batch_id=ctx.batch_id,
        retain_until=retain_until,
    )
    with session_scope(ctx.catalog_url) as s:
        winner = _claim_master(s, master)
        page_ids = _add_pages(s, ctx, item, master, prepared, row, outcome) if winner is None else []
    if winner is not None:
        log.info("%s: the same bytes were registered by a concurrent chunk", ctx.mask(item.name))
        return _existing(ctx, item, data, winner)
    if ctx.make_derivatives:
        todo = {p.index: (page_id, p.metrics) for page_id, p in zip(page_ids, prepared, strict=True)}
        _derive_pages(ctx, data, todo, {p.index: p.page for p in prepared if p.page is not None})
    return outcome


def _derive_pages(
    ctx: IngestContext,
    data: bytes,
    todo: dict[int, tuple[int, dict[str, Any]]],
    kept: dict[int, DecodedPage] | None = None,
) -> None:
    """Derivatives of the pages in ``todo`` (index -> page id, metrics): kept pages as they are, the others
    decoded again one at a time."""
    kept = kept or {}
    for index, page in kept.items():
        if index in todo:
            make_derivatives(ctx, todo[index][0], page, todo[index][1])
    rest = {i for i in todo if i not in kept}
    if rest:
        for page in iter_pages(data, limits=ctx.limits, only=rest):
            page_id, metrics = todo[page.index]
            make_derivatives(ctx, page_id, page, metrics)


def _claim_master(s: Session, master: Master) -> Master | None:
    """Insert ``master`` in a savepoint; return the row that won instead when the same bytes are already there.

    An identical file in a chunk running at the same time may have registered the master since this file's
    lookup; the (site, sha256) constraint decides, and the loser becomes what it would have been one file
    later in the same chunk: a duplicate, with no document or pages of its own. Claiming first, before the
    document, leaves nothing of the loser in this transaction.
    """
    try:
        with s.begin_nested():
            s.add(master)
    except IntegrityError:
        winner = register.find_master(s, master.site_code, master.sha256)
        if winner is None:  # another constraint failed: not the race resolved here
            raise
        s.expunge(winner)  # read after this session ends
        return winner
    return None


def _add_pages(
    s: Session,
    ctx: IngestContext,
    item: SourceFile,
    master: Master,
    prepared: list[_PreparedPage],
    row: ManifestRow | None,
    outcome: FileOutcome,
) -> list[int]:
    """Document link, pages and QA issues of a freshly claimed master; returns the page ids."""
    doc = register.document_for(s, ctx.site, ctx.batch_id, item.name, row)
    pages = []
    for p in prepared:
        page = Page(
            site_code=ctx.site,
            master_id=master.id,
            page_index=p.index,
            document_id=doc.id,
            seq=doc.page_count + p.index + 1,
            width=p.width,
            height=p.height,
            dpi=p.metrics.get("effective_dpi") or p.metrics.get("dpi_x"),
            color_mode=p.color_mode,
            metrics=p.metrics,
        )
        s.add(page)
        pages.append(page)
    s.flush()
    for page, p in zip(pages, prepared, strict=True):
        for issue in p.issues:
            s.add(
                QualityIssue(
                    page_id=page.id,
                    code=issue.code,
                    severity=issue.severity,
                    message=issue.message,
                    details=_plain(issue.details),
                )
            )
            outcome.qa_codes.append(issue.code)
    doc.page_count += len(prepared)
    if row is not None and row.expected_pages and row.expected_pages != doc.page_count:
        outcome.page_count_mismatch = {"expected": row.expected_pages, "found": doc.page_count}
        s.add(
            QualityIssue(
                page_id=pages[0].id,
                code="INGEST_PAGE_COUNT_MISMATCH",
                severity="error",
                message=f"manifest expects {row.expected_pages} pages, file has {doc.page_count}",
                details=outcome.page_count_mismatch,
            )
        )
        outcome.qa_codes.append("INGEST_PAGE_COUNT_MISMATCH")
    return [p.id for p in pages]


def make_derivatives(ctx: IngestContext, page_id: int, page: DecodedPage, metrics: dict[str, Any]) -> None:
    """Store the OCR derivative of one page, then record it and mark the page ``preprocessed``."""
    from dangan.imaging.qa import PageMetrics

    m = PageMetrics(**metrics) if isinstance(metrics, dict) else metrics
    d = make_ocr_derivative(page, m, ctx.derive_params)
    sha = hashlib.sha256(d.encoded).hexdigest()
    key = derivative_key(ctx.site, page_id, d.kind, d.params_hash, d.ext)
    ctx.store.put(key, d.encoded, sha256=sha, content_type="image/png", metadata={"page": str(page_id)})
    with session_scope(ctx.catalog_url) as s:
        register.insert_or_get(
            s,
            Derivative,
            {"page_id": page_id, "kind": d.kind, "params_hash": d.params_hash},
            {"object_key": key, "sha256": sha, "size": len(d.encoded), "tool": d.tool, "params": _plain(d.params)},
        )
        page_row = s.get(Page, page_id)
        assert page_row is not None
        if page_row.status == PageState.INGESTED:
            transition(s, page_row, PageState.PREPROCESSED)


def _existing(ctx: IngestContext, item: SourceFile, data: bytes, master: Master) -> FileOutcome:
    """Same bytes already ingested: from an earlier batch (duplicate) or this one (finish what is missing)."""
    if master.batch_id != ctx.batch_id or master.original_name != item.name:
        return FileOutcome(
            item.name, "duplicate", sha256=master.sha256, pages=master.page_count, duplicate_of=master.original_name
        )
    with session_scope(ctx.catalog_url) as s:
        pending = s.scalars(select(Page).filter_by(master_id=master.id, status=PageState.INGESTED)).all()
        todo = {p.page_index: (p.id, dict(p.metrics)) for p in pending}
    if todo and ctx.make_derivatives:
        _derive_pages(ctx, data, todo)
        return FileOutcome(item.name, "resumed", sha256=master.sha256, pages=master.page_count)
    return FileOutcome(item.name, "already", sha256=master.sha256, pages=master.page_count)


def quarantine_file(ctx: IngestContext, source: Source, item: SourceFile, error: dict[str, Any]) -> FileOutcome:
    """Quarantine ``item`` without decoding it (the batch gave up on it); keeps its bytes when they can be read."""
    return _quarantine(ctx, item, _read_if_safe(source, item), error)


def _quarantine(ctx: IngestContext, item: SourceFile, data: bytes | None, error: dict[str, Any]) -> FileOutcome:
    """Keep the original bytes in the quarantine area and record why; the batch goes on."""
    sha = key = None
    if data is not None:
        sha = hashlib.sha256(data).hexdigest()
        key = quarantine_key(ctx.site, sha)
        ctx.store.put(
            key,
            data,
            sha256=sha,
            content_type="application/octet-stream",
            metadata={"site": ctx.site, "batch": ctx.batch_id, "code": error["code"]},
        )
    with session_scope(ctx.catalog_url) as s:
        register.quarantine(
            s,
            site=ctx.site,
            batch_id=ctx.batch_id,
            name=item.name,
            error=error,
            object_key=key,
            sha256=sha,
            size=len(data) if data is not None else None,
        )
    log.info("quarantined %s: %s", ctx.mask(item.name), error["code"])

    return FileOutcome(item.name, "quarantined", sha256=sha, code=error["code"], message=error["message"])


def _read_if_safe(source: Source, item: SourceFile) -> bytes | None:
    if item.problem and item.problem.get("code") == "PATH_UNSAFE":
        return None  # never read through a link that escapes the source
    try:
        return source.read(item)
    except (OSError, DanganError):
        return None


def _as_dict(obj: Any) -> dict[str, Any]:
    if hasattr(obj, "model_dump"):
        return _plain(obj.model_dump(mode="json"))
    if hasattr(obj, "__dataclass_fields__"):
        from dataclasses import asdict

        return _plain(asdict(obj))
    return _plain(dict(obj))


def _plain(value: Any) -> Any:
    """JSON-safe copy (numpy scalars → Python numbers)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if hasattr(value, "item") and callable(value.item):
        return value.item()
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(value)
