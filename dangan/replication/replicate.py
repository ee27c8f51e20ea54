"""Scheduled replication (定期检测和拷贝): keep a verified second copy of every master at each replica target.

``plan_replication`` lists the masters of a site that have no ``ok`` replica row at a target (never copied,
or found missing/damaged by a replica audit); ``replicate_chunk`` copies them: the target's ``put`` verifies
the catalog SHA-256 while streaming (a damaged master is never replicated), the copy is re-read and hashed
(SHA-256, and SM3 where OpenSSL has it), and only then is the ``replica`` row written (object first, then
row). A crash in between leaves a verified object without a row, which the next run adopts (``put`` of the
same content is idempotent). So a second run copies nothing, and an interrupted run resumes where it stopped.

``audit_replicas`` re-hashes the copies on their own schedule: a damaged or missing one is marked in its
row and gets an audit event, and the next replication run brings it back (``restore`` for damaged bytes).

Audit events (entity type ``object``, id = SHA-256 of the master's key): ``replication.failed`` per master
that could not be copied, ``replication.damaged`` / ``replication.missing`` per bad copy found by an audit;
one ``replication.run`` / ``replication.audit`` summary per target and run (entity ``replication_run``).
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from dangan.catalog.audit import record
from dangan.catalog.db import session_scope
from dangan.catalog.models import Master
from dangan.catalog.replica_models import Replica
from dangan.catalog.sites import get_site
from dangan.config import Settings
from dangan.errors import ChecksumMismatch, DanganError, ObjectNotFound
from dangan.fixity.audit import object_entity_id
from dangan.fixity.locate import sm3_available
from dangan.fixity.plan import chunks, is_sampled, validate_fraction
from dangan.replication import errors as codes
from dangan.replication.targets import ReplicaTarget, open_target, targets_for
from dangan.storage.base import ObjectStore
from dangan.storage.factory import open_store
from dangan.storage.hashing import CHUNK_SIZE


@dataclass
class TargetSummary:
    """One target's outcome in a run (replication or audit)."""

    target: str
    store: str
    masters: int = 0  # catalogued masters of the site
    already: int = 0  # replicated and ok before this run (replication) / re-hashed ok (audit)
    copied: int = 0  # new copies (replication)
    recopied: int = 0  # missing/damaged copies brought back (replication)
    missing: int = 0  # copies found missing (audit)
    damaged: int = 0  # copies found damaged (audit)
    failed: list[dict[str, Any]] = field(default_factory=list)  # {"key", "code"}

    def add(self, other: TargetSummary) -> None:
        self.already += other.already
        self.copied += other.copied
        self.recopied += other.recopied
        self.missing += other.missing
        self.damaged += other.damaged
        self.failed += other.failed

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class ReplicationPlan:
    """Per target, the master keys still to copy, in chunks (plain values for Prefect tasks)."""

    site: str
    run_id: str
    targets: list[ReplicaTarget]
    masters: int
    already: dict[str, int]
    chunks: dict[str, list[list[str]]]


def _now() -> datetime:
    return datetime.now(UTC)


def plan_replication(
    settings: Settings, site: str, targets: list[str] | None = None, chunk: int | None = None
) -> ReplicationPlan:
    """Which masters of ``site`` each target lacks (no row, or a row not ``ok``)."""
    ref = get_site(settings, site)
    resolved = targets_for(settings, ref.code, targets)
    size = chunk or settings.replication.chunk_size
    with session_scope(ref.catalog_url) as s:
        keys = sorted(set(s.scalars(select(Master.object_key).where(Master.site_code == ref.code))))
        plan = ReplicationPlan(ref.code, uuid.uuid4().hex, resolved, len(keys), {}, {})
        for t in resolved:
            ok = set(
                s.scalars(
                    select(Replica.object_key).where(
                        Replica.site_code == ref.code, Replica.target == t.name, Replica.status == "ok"
                    )
                )
            )
            plan.already[t.name] = len(ok & set(keys))
            plan.chunks[t.name] = chunks([k for k in keys if k not in ok], size)
    return plan


def replicate_chunk(
    settings: Settings, site: str, target: ReplicaTarget, keys: list[str], *, run_id: str, actor: str
) -> TargetSummary:
    """Copy, verify and record the masters at ``keys`` to ``target`` (see the module docstring)."""
    ref = get_site(settings, site)
    source = open_store(ref.store_url)
    dst = open_target(target)
    out = TargetSummary(target.name, dst.name)
    with session_scope(ref.catalog_url) as s:
        masters = {
            m.object_key: (m.sha256, m.retain_until)
            for m in s.scalars(select(Master).where(Master.site_code == ref.code, Master.object_key.in_(keys)))
        }
        rows = {
            r.object_key: r.status
            for r in s.scalars(select(Replica).where(Replica.target == target.name, Replica.object_key.in_(keys)))
        }
    for key in keys:
        if key not in masters or rows.get(key) == "ok":
            continue  # gone from the catalog since planning, or done by a concurrent run
        sha, retain = masters[key]
        error = _copy_one(source, dst, key, sha, retain, damaged=rows.get(key) == "damaged")
        if isinstance(error, str):
            out.failed.append({"key": key, "code": error})
            _event(ref.catalog_url, site, actor, "replication.failed", key, "failed", run_id, target, code=error)
            continue
        sm3, size = error
        _save_row(ref.catalog_url, site, target.name, key, sha, sm3, size)
        if key in rows:
            out.recopied += 1
        else:
            out.copied += 1
    return out


def _copy_one(
    source: ObjectStore, dst: ObjectStore, key: str, sha: str, retain: datetime | None, *, damaged: bool
) -> str | tuple[str | None, int]:
    """Put (or restore) one master at the target and re-read it; ``(sm3, size)`` or an outcome code."""
    if retain is not None and retain.tzinfo is None:
        retain = retain.replace(tzinfo=UTC)  # SQLite hands back naive datetimes; the catalog stores UTC
    keep = retain if retain is not None and retain > _now() and dst.supports_retention() else None
    try:
        info = source.stat(key)
        if not damaged:
            with source.open(key) as fh:
                dst.put(key, fh, sha256=sha, content_type=info.content_type, metadata=info.metadata, retain_until=keep)
        found = _rehash(dst, key)
        if found is None or found[0] != sha:
            # A copy left damaged (earlier run, or rot): bring back the recorded content, then read it again.
            with source.open(key) as fh:
                if found is None:
                    dst.put(key, fh, sha256=sha, content_type=info.content_type, metadata=info.metadata)
                else:
                    dst.restore(key, fh, sha256=sha)
            found = _rehash(dst, key)
    except ObjectNotFound:
        return codes.SOURCE_MISSING
    except ChecksumMismatch:
        return codes.SOURCE_DAMAGED  # the master itself does not hash to the catalog: a fixity repair first
    except DanganError as exc:
        if exc.transient:
            raise
        return exc.code
    if found is None or found[0] != sha or dst.stat(key).sha256 != sha:
        return codes.COPY_UNVERIFIED
    return found[1], found[2]


def _rehash(store: ObjectStore, key: str) -> tuple[str, str | None, int] | None:
    """``(sha256, sm3 or None, size)`` of the stored bytes, or None when absent."""
    h256 = hashlib.sha256()
    hsm3 = hashlib.new("sm3") if sm3_available() else None
    size = 0
    try:
        with store.open(key) as fh:
            while chunk := fh.read(CHUNK_SIZE):
                h256.update(chunk)
                if hsm3 is not None:
                    hsm3.update(chunk)
                size += len(chunk)
    except ObjectNotFound:
        return None
    return h256.hexdigest(), hsm3.hexdigest() if hsm3 is not None else None, size


def _save_row(url: str, site: str, target: str, key: str, sha: str, sm3: str | None, size: int) -> None:
    now = _now()
    for _ in range(2):  # a concurrent run may insert the same (target, key) first: then update that row
        try:
            with session_scope(url) as s:
                row = s.scalars(select(Replica).where(Replica.target == target, Replica.object_key == key)).first()
                if row is None:
                    row = Replica(site_code=site, object_key=key, target=target, target_key=key, copied_at=now)
                    s.add(row)
                row.sha256, row.sm3, row.size, row.status, row.last_error = sha, sm3, size, "ok", None
                row.verified_at = now
            return
        except IntegrityError:
            continue


def _event(
    url: str,
    site: str,
    actor: str,
    action: str,
    key: str,
    outcome: str,
    run_id: str,
    target: ReplicaTarget,
    **extra: Any,
) -> None:
    with session_scope(url) as s:
        record(
            s,
            actor=actor,
            action=action,
            entity_type="object",
            entity_id=object_entity_id(key),
            site_code=site,
            outcome=outcome,
            details={"run_id": run_id, "key": key, "target": target.name, **extra},
        )


def finish_replication(
    settings: Settings, plan: ReplicationPlan, results: dict[str, list[TargetSummary]], *, actor: str
) -> list[TargetSummary]:
    """Fold chunk results per target and append one ``replication.run`` event per target."""
    ref = get_site(settings, plan.site)
    out: list[TargetSummary] = []
    for t in plan.targets:
        summary = TargetSummary(t.name, t.shown, masters=plan.masters, already=plan.already[t.name])
        for part in results.get(t.name, []):
            summary.add(part)
        out.append(summary)
        with session_scope(ref.catalog_url) as s:
            record(
                s,
                actor=actor,
                action="replication.run",
                entity_type="replication_run",
                entity_id=plan.run_id,
                site_code=plan.site,
                outcome="failed" if summary.failed else "ok",
                details={"run_id": plan.run_id, **summary.to_dict(), "failed": len(summary.failed)},
            )
    return out


def replicate_site(
    settings: Settings, site: str, *, targets: list[str] | None = None, chunk: int | None = None
) -> list[TargetSummary]:
    """Replicate every master of ``site`` not yet (verifiably) at each target, in this process."""
    plan = plan_replication(settings, site, targets, chunk)
    results = {
        t.name: [
            replicate_chunk(settings, plan.site, t, keys, run_id=plan.run_id, actor=settings.actor)
            for keys in plan.chunks[t.name]
        ]
        for t in plan.targets
    }
    return finish_replication(settings, plan, results, actor=settings.actor)


def audit_replicas(
    settings: Settings,
    site: str,
    *,
    targets: list[str] | None = None,
    sample_fraction: float = 1.0,
    seed: int | None = None,
) -> list[TargetSummary]:
    """Re-hash the recorded copies of ``site``'s masters at each target (all, or a seeded sample).

    A copy that is missing or does not hash to its SHA-256 (or recorded SM3) is marked in its row, gets a
    ``replication.missing|damaged`` event, and is brought back by the next replication run.
    """
    fraction = validate_fraction(sample_fraction)
    if fraction < 1.0 and seed is None:
        seed = secrets.randbelow(2**31)
    ref = get_site(settings, site)
    run_id = uuid.uuid4().hex
    out: list[TargetSummary] = []
    for t in targets_for(settings, ref.code, targets):
        dst = open_target(t)
        summary = TargetSummary(t.name, t.shown)
        with session_scope(ref.catalog_url) as s:
            summary.masters = len(set(s.scalars(select(Master.object_key).where(Master.site_code == ref.code))))
            rows = [
                (r.id, r.object_key, r.target_key, r.sha256, r.sm3)
                for r in s.scalars(
                    select(Replica).where(Replica.site_code == ref.code, Replica.target == t.name).order_by(Replica.id)
                )
            ]
        for row_id, key, target_key, sha, sm3 in rows:
            if not is_sampled(key, fraction, seed):
                continue
            found = _rehash(dst, target_key)
            bad = _verdict(found, sha, sm3)
            code = None if bad is None else codes.REPLICA_MISSING if bad == "missing" else codes.REPLICA_DAMAGED
            with session_scope(ref.catalog_url) as s:
                row = s.get(Replica, row_id)
                if row is not None:
                    row.status, row.last_error = bad or "ok", code
                    if bad is None:
                        row.verified_at = _now()
            if bad is None:
                summary.already += 1
                continue
            if bad == "missing":
                summary.missing += 1
            else:
                summary.damaged += 1
            summary.failed.append({"key": key, "code": code})
            extra = {"sha256": sha, "found": found[0] if found else None}
            _event(ref.catalog_url, site, settings.actor, f"replication.{bad}", key, "failed", run_id, t, **extra)
        with session_scope(ref.catalog_url) as s:
            record(
                s,
                actor=settings.actor,
                action="replication.audit",
                entity_type="replication_run",
                entity_id=run_id,
                site_code=ref.code,
                outcome="failed" if summary.failed else "ok",
                details={
                    "run_id": run_id,
                    **summary.to_dict(),
                    "failed": len(summary.failed),
                    "sample_fraction": fraction,
                    "seed": seed,
                },
            )
        out.append(summary)
    return out


def _verdict(found: tuple[str, str | None, int] | None, sha: str, sm3: str | None) -> str | None:
    if found is None:
        return "missing"
    if found[0] != sha or (sm3 is not None and found[1] is not None and found[1] != sm3):
        return "damaged"
    return None
