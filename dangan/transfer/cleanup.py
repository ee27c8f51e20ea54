"""What a failed transfer leaves at the receiver: removed, or recorded as quarantined so audits know it.

A transfer copies its package (derivatives, OCR objects, metadata, tag files under
``sites/{dst}/packages/{transfer_id}/``) and its masters (at their content-addressed keys) to the receiver
before verifying and committing. When it fails, none of that is registered, so the receiver's fixity audit
would report the masters as untracked and the package as litter. :func:`clean_receiver` deletes the package
objects and the masters no receiver row references; a master the store refuses to delete (protected prefix,
retention) gets a ``quarantine_item`` row instead (code = the transfer's reason), which the fixity audit
checks like any quarantined original. A later transfer that registers the same master releases that item.

Idempotent and resumable: it records ``transfer.receiver_cleaned`` when done, and a run interrupted by a
transient error is finished by the next step call of that transfer.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from dangan.catalog.audit import record
from dangan.catalog.db import session_scope
from dangan.catalog.models import Master, QuarantineItem, ScanBatch
from dangan.catalog.states import transition
from dangan.errors import DeleteRefused, ObjectNotFound
from dangan.keys import package_prefix
from dangan.pii import scrub
from dangan.storage import ObjectStore
from dangan.transfer import bag, rows

if TYPE_CHECKING:
    from dangan.transfer.protocol import Ctx

CLEANED = "transfer.receiver_cleaned"
_MASTERS = "data/masters/"


def _master_paths(ctx: Ctx, dst_store: ObjectStore) -> dict[str, str]:
    """``{bag path: sha256}`` of the package's masters: the receiver's copy of the manifest, else the source's."""
    name = f"manifest-{bag.PRIMARY}.txt"
    stores: list[tuple[ObjectStore, str]] = [(dst_store, ctx.dst_prefix)]
    if ctx.src is not None:
        stores.append((ctx.opener(ctx.src), package_prefix(ctx.src.code, ctx.transfer_id)))
    for store, prefix in stores:
        try:
            manifest, _ = bag.parse_manifest(store.get(prefix + name))
        except ObjectNotFound:
            continue
        return {p: sha for p, sha in manifest.items() if p.startswith(_MASTERS)}
    return {}


def leftover_batch_id(transfer_id: str) -> str:
    """The receiver batch that holds the quarantine items of one failed transfer."""
    return hashlib.sha256(f"{transfer_id}:failed-transfer".encode()).hexdigest()[:32]


def clean_receiver(ctx: Ctx, reason_code: str, actor: str) -> dict[str, int] | None:
    """Remove (or quarantine) what failed transfer ``ctx`` left at the receiver; None when already done."""
    if rows.event_details(ctx.dst.catalog_url, ctx.transfer_id, CLEANED):
        return None
    store = ctx.opener(ctx.dst)
    masters = _master_paths(ctx, store)
    deleted, kept_for_rows = 0, 0
    quarantine: list[tuple[str, str, str | None, int | None]] = []
    for info in list(store.list(ctx.dst_prefix)):
        try:
            store.delete(info.key)
            deleted += 1
        except ObjectNotFound:
            continue
        except DeleteRefused:
            quarantine.append((info.key, info.key.removeprefix(ctx.dst_prefix), info.sha256, info.size))
    with session_scope(ctx.dst.catalog_url) as s:
        for path, sha in sorted(masters.items()):
            key = ctx.key_for(path)
            if s.scalars(select(Master.id).where(Master.object_key == key)).first() is not None:
                kept_for_rows += 1  # the receiver's own (or an earlier transfer's) master: not ours to remove
                continue
            if s.scalars(select(QuarantineItem.id).where(QuarantineItem.object_key == key)).first() is not None:
                continue  # left by an earlier failed attempt and already known to audits
            try:
                info = store.stat(key)
            except ObjectNotFound:
                continue  # never arrived
            try:
                store.delete(key)
                deleted += 1
            except DeleteRefused:
                quarantine.append((key, path, info.sha256 or sha, info.size))
            except ObjectNotFound:
                continue
    with session_scope(ctx.dst.catalog_url) as s:
        if quarantine:
            _quarantine(s, ctx, quarantine, reason_code, actor)
        summary = {"deleted": deleted, "quarantined": len(quarantine), "masters_of_receiver": kept_for_rows}
        record(
            s,
            actor=actor,
            action=CLEANED,
            entity_type="transfer",
            entity_id=ctx.transfer_id,
            site_code=ctx.dst.code,
            details=summary | {"reason_code": reason_code, "quarantined_keys": [q[0] for q in quarantine]},
        )
    return summary


def _quarantine(
    s: Session, ctx: Ctx, items: list[tuple[str, str, str | None, int | None]], reason_code: str, actor: str
) -> None:
    batch_id = leftover_batch_id(ctx.transfer_id)
    if s.get(ScanBatch, batch_id) is None:
        s.add(
            ScanBatch(
                id=batch_id,
                site_code=ctx.dst.code,
                source=f"failed transfer {ctx.transfer_id} from {ctx.src_code}",
                source_key=batch_id,
                operator=actor,
                status="complete",
            )
        )
        s.flush()
    known = set(s.scalars(select(QuarantineItem.source_file).where(QuarantineItem.batch_id == batch_id)))
    for key, path, sha, size in items:
        if path in known:
            continue
        s.add(
            QuarantineItem(
                site_code=ctx.dst.code,
                batch_id=batch_id,
                source_file=path,
                object_key=key,
                sha256=sha,
                size=size,
                code=reason_code[:50],
                message=scrub(
                    f"copied by transfer {ctx.transfer_id}, which failed ({reason_code}); the store keeps it "
                    "(retention), no catalog row uses it"
                ),
                details={"transfer_id": ctx.transfer_id, "from_site": ctx.src_code, "reason_code": reason_code},
            )
        )


def release_adopted(session: Session, site: str, keys: list[str], *, actor: str, transfer_id: str) -> int:
    """Release the open quarantine items of failed transfers whose objects a commit now registers."""
    released = 0
    stmt = select(QuarantineItem).where(
        QuarantineItem.site_code == site, QuarantineItem.object_key.in_(keys), QuarantineItem.status == "open"
    )
    for item in session.scalars(stmt):
        if not (item.details or {}).get("transfer_id"):
            continue  # an ingest quarantine item is not ours to release
        transition(
            session, item, "released", actor=actor, site_code=site, details={"adopted_by_transfer": transfer_id}
        )
        released += 1
    return released
