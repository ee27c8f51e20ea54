"""A fixity audit run: plan → chunks (re-hash, repair, audit events) → untracked objects → summary event.

Each step takes plain values and reads what it needs from the catalog, so a Prefect flow can run the
chunks as separate tasks (``tasks/fixity.py``); :func:`audit_site` runs them all in this process.

Audit trail: one ``audit_event`` per finding (``fixity.missing|changed|metadata_mismatch|untracked``, entity
type ``object``, entity id :func:`object_entity_id` of the key, the key itself in details), one
``fixity.repaired`` per repaired object (where the verified copy came from, its digests), and one
``fixity.run`` summary per run; nothing for OK objects. Untracked objects (e.g. a master stored just before
a crash, adopted by the next ingest) are reported, never deleted.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from dangan.catalog.audit import record
from dangan.catalog.db import session_scope
from dangan.fixity.check import check_object
from dangan.fixity.locate import ContentFinder, RepairSource, repair_by_content
from dangan.fixity.model import ChunkResult, FixityReport, ObjectCheck, Status
from dangan.fixity.plan import (
    catalogued_keys,
    chunks,
    is_sampled,
    referenced,
    resolve_targets,
    validate_fraction,
)
from dangan.storage.base import ObjectStore

DEFAULT_CHUNK = 200
SELECTION_RULE = "sha256(f'{seed}\\x00{key}')[:8] < fraction * 2**64"


def object_entity_id(key: str) -> str:
    """Audit ``entity_id`` of an object: the SHA-256 of its key (keys are longer than the 64-char column)."""
    return hashlib.sha256(key.encode()).hexdigest()


def untracked_prefixes(site: str) -> tuple[str, ...]:
    """Where objects must all be referenced by catalog rows."""
    return (f"sites/{site}/masters/", f"sites/{site}/derivatives/")


@dataclass
class RunPlan:
    """What one run will check: the sampled catalogued keys of a site, in chunks (plain values)."""

    site: str
    run_id: str
    sample_fraction: float
    seed: int | None
    catalogued: int
    chunks: list[list[str]] = field(default_factory=list)
    started_at: str = ""


def plan_run(
    catalog_url: str, site: str, *, sample_fraction: float = 1.0, seed: int | None = None, chunk: int | None = None
) -> RunPlan:
    """Select the catalogued objects to re-hash; a sampled run without a seed gets a random, recorded one."""
    fraction = validate_fraction(sample_fraction)
    if fraction < 1.0 and seed is None:
        seed = secrets.randbelow(2**31)
    keys = catalogued_keys(catalog_url, site)
    chosen = [k for k in keys if is_sampled(k, fraction, seed)]
    return RunPlan(
        site=site,
        run_id=uuid.uuid4().hex,
        sample_fraction=fraction,
        seed=seed,
        catalogued=len(keys),
        chunks=chunks(chosen, chunk or DEFAULT_CHUNK),
        started_at=_now(),
    )


def audit_chunk(
    catalog_url: str,
    store: ObjectStore,
    site: str,
    keys: list[str],
    *,
    run_id: str,
    replica_store: ObjectStore | None = None,
    finder: ContentFinder | None = None,
    location: str | None = None,
    actor: str = "fixity-audit",
) -> ChunkResult:
    """Re-hash the catalogued objects at ``keys``; repair damaged ones by content, record findings.

    ``finder`` searches the stores a repair may copy from (see ``dangan.fixity.locate``); ``replica_store``
    alone is the older form (one store, searched by the same content rules). ``location`` identifies
    ``store`` (its URL) so a damaged object is never its own copy. Each finding's events are written as soon
    as it is known, so a retried chunk loses no repair record.
    """
    if finder is None and replica_store is not None:
        finder = ContentFinder([RepairSource(f"store:{replica_store.name}", replica_store, replica_store.name)], [site])
    where = location or store.name
    result = ChunkResult()
    for target in resolve_targets(catalog_url, site, keys):
        check = check_object(store, target)
        result.checked += 1
        if check.status is Status.OK:
            result.ok += 1
            continue
        if finder is not None:
            repair_by_content(store, where, target, check, finder)
        _record_findings(catalog_url, site, [check], run_id, actor)
        result.findings.append(check)
    return result


def audit_untracked(
    catalog_url: str, store: ObjectStore, site: str, *, run_id: str, actor: str = "fixity-audit", batch: int = 500
) -> list[ObjectCheck]:
    """Objects under the site's masters/derivatives prefixes that no catalog row references."""
    found: list[ObjectCheck] = []
    for prefix in untracked_prefixes(site):
        kind = "master" if prefix.endswith("/masters/") else "derivative"
        pending: list[tuple[str, str | None, int]] = []
        for info in store.list(prefix):
            pending.append((info.key, info.sha256, info.size))
            if len(pending) >= batch:
                found += _unreferenced(catalog_url, site, kind, pending, run_id, actor)
                pending = []
        found += _unreferenced(catalog_url, site, kind, pending, run_id, actor)
    return found


def _unreferenced(
    catalog_url: str, site: str, kind: str, listed: list[tuple[str, str | None, int]], run_id: str, actor: str
) -> list[ObjectCheck]:
    if not listed:
        return []
    known = referenced(catalog_url, [key for key, _, _ in listed])
    out = [
        ObjectCheck(key, kind, Status.UNTRACKED, recorded=sha, size=size)
        for key, sha, size in listed
        if key not in known
    ]
    _record_findings(catalog_url, site, out, run_id, actor)
    return out


def _record_findings(
    catalog_url: str,
    site: str,
    checks: list[ObjectCheck],
    run_id: str,
    actor: str,
) -> None:
    if not checks:
        return
    with session_scope(catalog_url) as s:
        for c in checks:
            details: dict[str, Any] = {
                "run_id": run_id,
                "key": c.key,
                "kind": c.kind,
                "expected": c.expected,
                "recorded": c.recorded,
                "found": c.found,
                "size": c.size,
            }
            if c.repair_error:
                details["repair_error"] = c.repair_error
            entity = object_entity_id(c.key)
            outcome = "warning" if c.status in (Status.UNTRACKED, Status.UNVERIFIABLE) else "failed"
            record(
                s,
                actor=actor,
                action=f"fixity.{c.status}",
                entity_type="object",
                entity_id=entity,
                site_code=site,
                outcome=outcome,
                details=details,
            )
            if c.repaired:
                origin = c.repaired_from or {}
                source = {
                    "run_id": run_id,
                    "key": c.key,
                    "kind": c.kind,
                    "sha256": c.expected,
                    "sm3": origin.get("sm3"),
                    "source": origin.get("source"),
                    "replica": origin.get("store"),
                    "from_key": origin.get("key"),
                }
                record(
                    s,
                    actor=actor,
                    action="fixity.repaired",
                    entity_type="object",
                    entity_id=entity,
                    site_code=site,
                    details=source,
                )


def finish_run(
    catalog_url: str,
    plan: RunPlan,
    results: list[ChunkResult],
    untracked: list[ObjectCheck],
    *,
    actor: str = "fixity-audit",
) -> FixityReport:
    """Fold the chunks into the run's report and append its ``fixity.run`` summary event."""
    report = FixityReport(plan.site, plan.run_id, plan.sample_fraction, plan.seed, plan.catalogued)
    for keys, result in zip(plan.chunks, results, strict=True):
        report.add(result, keys)
    report.findings = sorted(report.findings, key=lambda f: f.key) + sorted(untracked, key=lambda f: f.key)
    report.started_at, report.finished_at = plan.started_at, _now()
    checked_digest = hashlib.sha256("\n".join(report.checked_keys).encode()).hexdigest()
    with session_scope(catalog_url) as s:
        record(
            s,
            actor=actor,
            action="fixity.run",
            entity_type="fixity_run",
            entity_id=plan.run_id,
            site_code=plan.site,
            outcome="ok" if report.passed else "failed",
            details={
                "run_id": plan.run_id,
                "counts": report.counts(),
                "catalogued": report.catalogued,
                "checked": len(report.checked_keys),
                "checked_keys_sha256": checked_digest,
                "sample_fraction": plan.sample_fraction,
                "seed": plan.seed,
                "selection": SELECTION_RULE if plan.sample_fraction < 1.0 else "all",
                "started_at": report.started_at,
                "finished_at": report.finished_at,
            },
        )
    return report


def audit_site(
    catalog_url: str,
    store: ObjectStore,
    site: str,
    *,
    sample_fraction: float = 1.0,
    seed: int | None = None,
    chunk: int | None = None,
    replica_store: ObjectStore | None = None,
    finder: ContentFinder | None = None,
    location: str | None = None,
    actor: str = "fixity-audit",
) -> FixityReport:
    """Audit every (or a deterministic sample of the) catalogued object(s) of ``site`` in this process.

    Re-hashes masters, derivatives, quarantined originals and OCR outputs; reports missing, changed and
    metadata-mismatched objects and untracked ones under masters/derivatives; repairs by content from the
    stores of ``finder`` (or ``replica_store``) when given; writes the audit events described in the module
    docstring. ``chunk`` is the number of keys per chunk (default ``DEFAULT_CHUNK``), as the flow's tasks get
    them.
    """
    plan = plan_run(catalog_url, site, sample_fraction=sample_fraction, seed=seed, chunk=chunk)
    results = [
        audit_chunk(
            catalog_url,
            store,
            site,
            keys,
            run_id=plan.run_id,
            replica_store=replica_store,
            finder=finder,
            location=location,
            actor=actor,
        )
        for keys in plan.chunks
    ]
    untracked = audit_untracked(catalog_url, store, site, run_id=plan.run_id, actor=actor)
    return finish_run(catalog_url, plan, results, untracked, actor=actor)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
