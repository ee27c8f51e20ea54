"""A scan batch: open (list + reconcile), ingest in chunks, close (account for every file).

These functions take and return plain values so Prefect tasks can wrap them; the catalog, not the task
results, decides what is done: a re-run of the same source reopens the same batch and skips finished files.
"""

from __future__ import annotations

import hashlib
import logging
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from dangan.catalog.db import session_scope
from dangan.catalog.models import BatchFile, Master, Page, QualityIssue, QuarantineItem, ScanBatch
from dangan.catalog.sites import SiteRef, get_site
from dangan.catalog.states import BatchState, transition
from dangan.config import Settings
from dangan.errors import (
    DanganError,
    IngestCrashed,
    IngestError,
    IngestOutOfMemory,
    ManifestError,
    StoreDiskFull,
    StoreIOError,
    StorePermissionDenied,
    StoreReadOnly,
)
from dangan.imaging.decode import DecodeLimits
from dangan.imaging.derive import DeriveParams
from dangan.imaging.qa import QaThresholds
from dangan.ingest.manifest import Manifest, parse_manifest, reconcile
from dangan.ingest.pipeline import FileOutcome, IngestContext, ingest_file, quarantine_file
from dangan.ingest.report import (
    DuplicateFile,
    IngestEvidence,
    IngestReport,
    ManifestProblem,
    PageCountMismatch,
    QaPage,
    QuarantinedFile,
)
from dangan.ingest.source import Source, SourceFile, open_source
from dangan.keys import manifest_key
from dangan.pii import Masker
from dangan.reports import batch_masker, display_names

log = logging.getLogger(__name__)

#: Runs that may die on one file (killed, out of memory) before the next run quarantines it instead of trying
#: it again. Two, not one: a run interrupted by an operator or a reboot is not the file's fault.
MAX_UNFINISHED_ATTEMPTS = 2


@dataclass
class BatchPlan:
    """Everything a flow needs to fan out the work (small: names, not bytes)."""

    batch_id: str
    site: str
    source: str
    manifest: str | None
    files: list[str]
    unlisted_files: list[str] = field(default_factory=list)
    missing_files: list[str] = field(default_factory=list)
    manifest_problems: list[dict[str, str | int]] = field(default_factory=list)

    def chunks(self, size: int) -> list[list[str]]:
        return [self.files[i : i + size] for i in range(0, len(self.files), size)]


def source_key(site: str, description: str) -> str:
    """Stable identity of a batch source: a re-run of the same folder or prefix reopens the same batch."""
    return hashlib.sha256(f"{site}\0{description}".encode()).hexdigest()


def files_done(catalog_url: str, site: str, key: str) -> int:
    """Files of the newest batch from this source that are stored or quarantined (for progress bars)."""
    with session_scope(catalog_url) as s:
        batch_id = s.scalar(
            select(ScanBatch.id).filter_by(site_code=site, source_key=key).order_by(ScanBatch.created_at.desc())
        )
        if batch_id is None:
            return 0
        masters = s.scalar(select(func.count()).select_from(Master).filter_by(batch_id=batch_id)) or 0
        quarantined = s.scalar(select(func.count()).select_from(QuarantineItem).filter_by(batch_id=batch_id)) or 0
        return int(masters) + int(quarantined)


def _load_manifest(site: str, manifest: str | None) -> tuple[Manifest | None, bytes | None]:
    if not manifest:
        return None, None
    path = Path(manifest)
    if not path.is_file():
        raise ManifestError(f"manifest {manifest} not found", hint="Give the CSV path with --manifest.")
    data = path.read_bytes()
    return parse_manifest(data, site=site), data


def _exclude(manifest: str | None) -> set[Path]:
    return {Path(manifest)} if manifest else set()


def open_batch(
    settings: Settings, site: str, source: str, manifest: str | None = None, operator: str | None = None
) -> BatchPlan:
    """Create (or reopen, for a re-run of the same source) the batch, list files, reconcile with the manifest."""
    ref = get_site(settings, site)
    src = open_source(source, exclude=_exclude(manifest))
    files = src.list()
    parsed, raw = _load_manifest(site, manifest)
    recon = reconcile([f.name for f in files], parsed)
    key = source_key(site, src.description)
    store = _store(ref)
    with session_scope(ref.catalog_url) as s:
        batch = find_batch(s, site, key)
        if batch is None:
            fresh = ScanBatch(
                site_code=site, source=src.description, source_key=key, operator=operator, status=BatchState.OPEN
            )
            batch = _create_batch(s, fresh)
        if batch.status != BatchState.OPEN:
            transition(s, batch, BatchState.OPEN, actor=settings.actor, details={"reason": "re-run"})
        if raw is not None:
            sha = hashlib.sha256(raw).hexdigest()
            key = manifest_key(site, batch.id, sha)
            store.put(key, raw, sha256=sha, content_type="text/csv")
            batch.manifest_key, batch.manifest_sha256 = key, sha
        batch_id = batch.id
    return BatchPlan(
        batch_id=batch_id,
        site=site,
        source=source,
        manifest=manifest,
        files=[f.name for f in files],
        unlisted_files=recon.unlisted_files,
        missing_files=recon.missing_files,
        manifest_problems=list(parsed.problems) if parsed else [],
    )


def find_batch(s: Session, site: str, key: str) -> ScanBatch | None:
    """The newest batch from this source (a re-run reopens it)."""
    return s.scalars(
        select(ScanBatch).filter_by(site_code=site, source_key=key).order_by(ScanBatch.created_at.desc())
    ).first()


def _create_batch(s: Session, batch: ScanBatch) -> ScanBatch:
    """Insert ``batch``, or return the open batch of the same source that a concurrent ingest created first.

    The catalog decides (one open batch per site and source, migration 0010): two ingests of one folder started
    at once share one batch instead of splitting its files between two.
    """
    try:
        with s.begin_nested():
            s.add(batch)
    except IntegrityError:
        winner = find_batch(s, batch.site_code, batch.source_key)
        if winner is None:  # another constraint failed: not the race resolved here
            raise
        return winner
    return batch


def context_for(
    settings: Settings, ref: SiteRef, batch_id: str, manifest_given: bool, manifest: Manifest | None = None
) -> IngestContext:
    """Build the per-chunk context from settings (thresholds and limits validated here, once)."""
    ing = settings.ingest
    ids, names = manifest.personal_values() if manifest else ([], [])
    return IngestContext(
        site=ref.code,
        batch_id=batch_id,
        catalog_url=ref.catalog_url,
        store=_store(ref),
        limits=DecodeLimits.of(ing),
        thresholds=QaThresholds(**settings.qa),
        derive_params=DeriveParams(**settings.derive.model_dump()),
        make_derivatives=ing.make_derivatives,
        max_file_bytes=ing.max_file_bytes,
        manifest_given=manifest_given,
        mask=Masker(ids, names),
    )


def run_chunk(
    settings: Settings, site: str, batch_id: str, source: str, manifest: str | None, names: list[str]
) -> list[FileOutcome]:
    """Ingest the named files of a batch; returns what became of each file."""
    ref = get_site(settings, site)
    src = open_source(source, exclude=_exclude(manifest))
    parsed, _ = _load_manifest(site, manifest)
    by_name = {f.name: f for f in src.list()}
    ctx = context_for(settings, ref, batch_id, manifest_given=parsed is not None, manifest=parsed)
    outcomes = []
    for name in names:
        item = by_name.get(name)
        if item is None:  # vanished between listing and ingest: reported by close_batch
            gone = FileOutcome(name, "missing", message="file disappeared from the source")
            record_outcome(ref.catalog_url, batch_id, gone)
            outcomes.append(gone)
            continue
        row = parsed.rows.get(name) if parsed else None
        rejected = parsed.rejected.get(name) if parsed else None
        outcome = _ingest_one(ctx, src, item, row, rejected)
        record_outcome(ref.catalog_url, batch_id, outcome)
        outcomes.append(outcome)
    return outcomes


#: Store errors that say nothing about the file being ingested (they end the chunk, not the file).
_STORE_SIDE = (StoreDiskFull, StoreReadOnly, StorePermissionDenied, StoreIOError)


def _ingest_one(ctx: IngestContext, src: Source, item: SourceFile, row: Any, rejected: Any) -> FileOutcome:
    """One file, whatever happens to it: only transient errors (retry the chunk) leave without an outcome.

    The file is marked ``started`` first; a run that dies on it (SIGKILL, the kernel's OOM killer) leaves that
    mark, and after :data:`MAX_UNFINISHED_ATTEMPTS` such runs the next one quarantines the file untouched, so a
    file that kills its process cannot keep its batch open forever. Later runs keep it quarantined without
    decoding it while its bytes stay the same; a new file under the same name is tried again.
    """
    crashed_sha = _crashed_sha256(ctx.catalog_url, ctx.batch_id, item.name)
    fresh = crashed_sha is not None and _sha256(src, item) != crashed_sha
    died = _start_file(ctx.catalog_url, ctx.batch_id, item.name, fresh=fresh)
    if died >= MAX_UNFINISHED_ATTEMPTS and not _has_master(ctx.catalog_url, ctx.batch_id, item.name):
        err = IngestCrashed(
            f"{died} earlier runs ended while ingesting this file", unfinished_attempts=died, size=item.size
        )
        log.warning("%s: quarantined after %d unfinished attempts", ctx.mask(item.name), died)
        return quarantine_file(ctx, src, item, err.to_dict())
    failure: dict[str, Any] | None = None
    try:
        return ingest_file(ctx, src, item, row, rejected)
    except DanganError as exc:
        # a full, read-only or refusing store is not this file's fault: quarantining it (into that same store)
        # would fail too or file a good scan as bad; the chunk fails with the store's code and a rerun retries
        if exc.transient or isinstance(exc, _STORE_SIDE):
            _unstart_file(ctx.catalog_url, ctx.batch_id, item.name)
            raise
        failure = exc.to_dict()
    except MemoryError:
        failure = IngestOutOfMemory("ran out of memory while ingesting the file", size=item.size).to_dict()
    except Exception as exc:  # not this file's decoding (ingest_file handles that): storage or catalog writes
        log.warning("ingesting %s failed: %s", ctx.mask(item.name), type(exc).__name__, exc_info=True)
        failure = IngestError(f"{type(exc).__name__} while ingesting the file", error_type=type(exc).__name__).to_dict()
    if _has_master(ctx.catalog_url, ctx.batch_id, item.name):
        # registered before it failed (derivatives): the next run resumes it; a quarantine row would count it twice
        return FileOutcome(item.name, "incomplete", code=failure["code"], message=failure["message"])
    return quarantine_file(ctx, src, item, failure)


def _crashed_sha256(catalog_url: str, batch_id: str, name: str) -> str | None:
    """SHA-256 of the bytes quarantined as ``INGEST_CRASHED`` under this name, if that is what became of it."""
    with session_scope(catalog_url) as s:
        row = s.scalars(select(BatchFile).filter_by(batch_id=batch_id, name=name)).first()
        return row.sha256 if row is not None and row.code == IngestCrashed.code else None


def _sha256(src: Source, item: SourceFile) -> str | None:
    try:
        return hashlib.sha256(src.read(item)).hexdigest()
    except (OSError, DanganError):
        return None


def _start_file(catalog_url: str, batch_id: str, name: str, *, fresh: bool = False) -> int:
    """Mark ``name`` as being ingested; return how many earlier runs ended while it was marked so (``fresh``:
    other bytes than the ones those runs died on, so none)."""
    from dangan.ingest.register import insert_or_get

    with session_scope(catalog_url) as s:
        row = s.scalars(select(BatchFile).filter_by(batch_id=batch_id, name=name)).first()
        if row is None:
            insert_or_get(s, BatchFile, {"batch_id": batch_id, "name": name}, {"outcome": "started", "details": {}})
            return 0
        earlier = 0 if fresh else int((row.details or {}).get("unfinished_attempts", 0))
        died = earlier + (row.outcome == "started")
        row.details = {**(row.details or {}), "unfinished_attempts": died}
        row.outcome = "started"
        return died


def _unstart_file(catalog_url: str, batch_id: str, name: str) -> None:
    """A transient error ended this attempt: the chunk's retry is not a run that died on the file."""
    with session_scope(catalog_url) as s:
        row = s.scalars(select(BatchFile).filter_by(batch_id=batch_id, name=name)).first()
        if row is not None and row.outcome == "started":
            row.outcome = "pending"


def _has_master(catalog_url: str, batch_id: str, name: str) -> bool:
    with session_scope(catalog_url) as s:
        found = s.scalar(select(Master.id).filter_by(batch_id=batch_id, original_name=name).limit(1))
        return found is not None


def record_outcome(catalog_url: str, batch_id: str, outcome: FileOutcome) -> None:
    """Upsert what became of one file (the catalog, not task results, backs the batch report)."""
    from dangan.ingest.register import insert_or_get

    found = (("message", outcome.message), ("qa_codes", outcome.qa_codes))
    details = {k: v for k, v in (*found, ("page_count_mismatch", outcome.page_count_mismatch)) if v}
    with session_scope(catalog_url) as s:
        row = insert_or_get(s, BatchFile, {"batch_id": batch_id, "name": outcome.name}, {"outcome": outcome.outcome})
        row.outcome = outcome.outcome
        # a re-run's "already" must not erase what an earlier run learned (e.g. a page-count mismatch); an
        # outcome ends the count of runs that died on the file, except the quarantine that count led to
        crashed = outcome.code == IngestCrashed.code
        kept = {k: v for k, v in (row.details or {}).items() if crashed or k != "unfinished_attempts"}
        row.details = {**kept, **details}
        row.sha256, row.pages = outcome.sha256, outcome.pages or 0
        row.code, row.duplicate_of = outcome.code, outcome.duplicate_of


def close_batch(settings: Settings, plan: BatchPlan) -> IngestReport:
    """Account for every file from the catalog, store the report on the batch, and return it."""
    ref = get_site(settings, plan.site)
    # the batch's manifest (as stored) and catalog persons: what its displays must mask
    masker = batch_masker(ref.catalog_url, plan.batch_id, _store(ref))
    with session_scope(ref.catalog_url) as s:
        batch = s.get(ScanBatch, plan.batch_id)
        assert batch is not None
        files = {f.name: f for f in s.scalars(select(BatchFile).filter_by(batch_id=plan.batch_id))}
        masters = set(s.scalars(select(Master.original_name).filter_by(batch_id=plan.batch_id)))
        quarantined = {q.source_file: q for q in s.scalars(select(QuarantineItem).filter_by(batch_id=plan.batch_id))}
        page_ids = select(Page.id).join(Master).where(Master.batch_id == plan.batch_id)
        pages = s.scalar(select(func.count()).select_from(Page).join(Master).where(Master.batch_id == plan.batch_id))
        qa = dict(
            s.execute(
                select(QualityIssue.code, func.count())
                .where(QualityIssue.page_id.in_(page_ids))
                .group_by(QualityIssue.code)
                .order_by(QualityIssue.code)
            ).all()
        )
        listed = [files[n] for n in plan.files if n in files]
        duplicates = [f for f in listed if f.outcome == "duplicate"]
        unaccounted = [
            n
            for n in plan.files
            if n not in masters and n not in quarantined and (n not in files or files[n].outcome != "duplicate")
        ]
        shown: list[str | None] = [batch.source, *plan.files, *plan.missing_files, *plan.unlisted_files]
        shown += [d.duplicate_of for d in duplicates] + list(quarantined)
        report = IngestReport(
            batch_id=plan.batch_id,
            site=plan.site,
            source=batch.source,
            files=len(plan.files),
            accepted_files=len(masters),
            pages=int(pages or 0),
            outcomes=dict(sorted(Counter(f.outcome for f in listed).items())),
            duplicates=[DuplicateFile(file=d.name, duplicate_of=d.duplicate_of) for d in duplicates],
            quarantined=[
                QuarantinedFile(file=q.source_file, code=q.code, message=q.message, object_key=q.object_key)
                for q in sorted(quarantined.values(), key=lambda q: q.source_file)
            ],
            qa_issues={k: int(v) for k, v in qa.items()},
            page_count_mismatches=[
                PageCountMismatch(file=f.name, **f.details["page_count_mismatch"])
                for f in listed
                if f.details.get("page_count_mismatch")
            ],
            unlisted_files=plan.unlisted_files,
            missing_files=plan.missing_files,
            manifest_problems=[ManifestProblem.model_validate(p) for p in plan.manifest_problems],
            unaccounted=unaccounted,
            display_names=display_names(masker, shown),
        )
        batch.report = report.model_dump(mode="json")
        batch.counts = {
            "files": report.files,
            "accepted": len(masters),
            "pages": report.pages,
            "quarantined": len(quarantined),
            "duplicates": len(duplicates),
        }
        batch.finished_at = datetime.now(UTC)
        transition(
            s,
            batch,
            BatchState.FAILED if unaccounted else BatchState.COMPLETE,
            actor=settings.actor,
            details={"counts": batch.counts},
        )
    return report


def ingest_batch_local(
    settings: Settings, site: str, source: str, manifest: str | None = None, operator: str | None = None
) -> IngestReport:
    """The whole batch in-process, without Prefect (tests, benchmarks, debugging)."""
    plan = open_batch(settings, site, source, manifest, operator)
    for chunk in plan.chunks(settings.ingest.chunk_size):
        run_chunk(settings, site, plan.batch_id, source, manifest, chunk)
    return close_batch(settings, plan)


def _store(ref: SiteRef) -> Any:
    from dangan.storage.factory import open_store

    return open_store(ref.store_url)


def evidence_links(settings: Settings, site: str, batch_id: str, limit: int = 50) -> IngestEvidence:
    """Where an operator finds quarantined originals and pages that failed an error-level QA gate: object keys.

    Never pre-signed URLs nor ``file://`` paths: this goes into Prefect artifacts, which every dashboard user
    reads and Prefect's database keeps; a pre-signed URL grants access and carries the store's access key id
    (``X-Amz-Credential``). ``links`` maps each key to its served link (``dangan serve``, an expiring token).
    """
    ref = get_site(settings, site)
    quarantine: dict[str, str] = {}
    with session_scope(ref.catalog_url) as s:
        for q in s.scalars(select(QuarantineItem).filter_by(batch_id=batch_id).limit(limit)):
            if q.object_key:
                quarantine[q.source_file] = q.object_key
        rows = s.execute(
            select(Page.id, Master.original_name, Page.page_index, Master.object_key, QualityIssue.code)
            .join(Master, Master.id == Page.master_id)
            .join(QualityIssue, QualityIssue.page_id == Page.id)
            .where(Master.batch_id == batch_id, QualityIssue.severity == "error")
            .order_by(Page.id)
        ).all()
    pages: dict[int, tuple[str, int, str | None, list[str]]] = {}
    for page_id, name, index, key, code in rows:
        pages.setdefault(page_id, (name, index + 1, key, []))[3].append(code)
    qa_pages = [QaPage(file=name, page=n, codes=codes, key=key) for name, n, key, codes in list(pages.values())[:limit]]
    from dangan.web.links import object_url  # served by `dangan serve`: an expiring token, no credentials

    keys = [*quarantine.values(), *(p.key for p in qa_pages if p.key)]
    links = {key: object_url(settings, site, key, ttl_s=EVIDENCE_LINK_TTL_S) for key in keys}
    return IngestEvidence(quarantine=quarantine, qa_pages=qa_pages, links=links)


EVIDENCE_LINK_TTL_S = 30 * 24 * 3600  # an ingest summary is looked at for weeks
