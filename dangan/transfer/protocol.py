"""The transfer protocol's steps: requested → packaged → copied → verified → committed → done.

Each step reads what it needs from the catalogs and stores (never from a previous step's memory), does its
side effects idempotently (write-once puts of deterministic bytes), then moves the transfer row under its lock.
Killing the worker anywhere and running the step again therefore continues where the row says.

The transfer row lives in the source site's catalog; when the receiver has its own catalog it keeps a mirror
row with the same id (created once the package has arrived) that follows the same states.

``DANGAN_FAULT_KILL_AT=<point>`` makes :func:`fault_point` SIGKILL the process at that point (kill tests
only; points: ``package-written``, ``copy:<n>`` after the n-th payload file, ``copied``, ``verified``,
``receiver-committed``, ``committed``).
"""

from __future__ import annotations

import hashlib
import os
import signal
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from dangan.catalog.db import session_scope
from dangan.catalog.models import Person
from dangan.catalog.sites import SiteRef
from dangan.catalog.states import transition
from dangan.config import Settings
from dangan.errors import ObjectConflict
from dangan.keys import package_prefix
from dangan.pii import mask_id
from dangan.storage import ObjectStore, open_store
from dangan.transfer import bag, rows
from dangan.transfer.commit import mark_transferred_out, register_archive
from dangan.transfer.errors import (
    TransferNotFound,
    TransferPersonNotActive,
    TransferReceiverConflict,
    TransferStateError,
    TransferVerifyFailed,
)
from dangan.transfer.keys import Signer, Trust, signer
from dangan.transfer.package import StoreSink, build_plan, copy_package, load_package, receiver_key, write_plan
from dangan.transfer.problems import accept_ocr_siblings
from dangan.transfer.receipt import (
    Receipt,
    ReceiptBody,
    ReceiptManifest,
    ReceiptPackage,
    receipt_bytes,
    sign,
    verify_receipt,
)
from dangan.transfer.release import release_source_copy
from dangan.transfer.signature import check_signature
from dangan.transfer.verify import verify_bag

FAULT_ENV = "DANGAN_FAULT_KILL_AT"
Opener = Callable[[SiteRef], ObjectStore]


def fault_point(name: str) -> None:
    """Kill-test hook: SIGKILL this very process when ``DANGAN_FAULT_KILL_AT`` names this point."""
    if os.environ.get(FAULT_ENV) == name:
        os.kill(os.getpid(), signal.SIGKILL)


def default_opener(ref: SiteRef) -> ObjectStore:
    """Open a site's store afresh (a restarted S3 server gets its bucket re-created)."""
    return open_store(ref.store_url)


def decode_limits(settings: Settings) -> Any:
    """The receiver's own ingest limits apply to what it accepts by transfer."""
    from dangan.imaging.model import DecodeLimits

    return DecodeLimits.of(settings.ingest)


def receipt_key(site: str, transfer_id: str) -> str:
    return f"sites/{site}/receipts/{transfer_id}.json"


@dataclass
class Ctx:
    """One transfer as seen by a step: sites, the catalog holding the primary row, how to open stores."""

    settings: Settings
    transfer_id: str
    resident_id: str
    src_code: str
    src: SiteRef | None  # None: offline import from a site this catalog does not know
    dst: SiteRef
    primary_url: str
    actor: str
    opener: Opener = default_opener
    primary_site: str = ""  # whose catalog holds the primary row (audit site code); default the source
    keep_source: bool = True  # False: release the source's derivative/OCR objects once committed

    @property
    def mirror_urls(self) -> list[str]:
        urls = {self.dst.catalog_url} | ({self.src.catalog_url} if self.src else set())
        return sorted(urls - {self.primary_url})

    @property
    def same_catalog(self) -> bool:
        return self.src is not None and self.src.catalog_url == self.dst.catalog_url

    @property
    def dst_prefix(self) -> str:
        return package_prefix(self.dst.code, self.transfer_id)

    def key_for(self, path: str) -> str:
        return receiver_key(self.dst.code, self.transfer_id, path)

    def advance(self, src: str, target: str, details: Any = None) -> None:
        """Move the primary row (strictly) and catch mirror rows up."""
        site = self.primary_site or self.src_code
        rows.advance(self.primary_url, self.transfer_id, src, target, actor=self.actor, site=site, details=details)
        for url in self.mirror_urls:
            rows.catch_up(url, self.transfer_id, target, actor=self.actor, site=self.dst.code, details=details)


def step_package(ctx: Ctx) -> None:
    """requested → packaged: snapshot + source fixity check + tag files stored at the source."""
    assert ctx.src is not None
    store = ctx.opener(ctx.src)
    info = rows.load(ctx.primary_url, ctx.transfer_id)
    assert info is not None
    key = signer(ctx.settings, ctx.src_code, actor=ctx.actor)
    plan = build_plan(ctx.src, store, ctx.resident_id, ctx.transfer_id, ctx.dst.code, info.created_at, key)
    try:
        write_plan(store, plan)
    except ObjectConflict:
        # A crashed earlier attempt packaged an older catalog state; nothing refers to it yet: rebuild.
        for obj in list(store.list(plan.prefix)):
            store.delete(obj.key)
        write_plan(store, plan)
    fault_point("package-written")
    ctx.advance("requested", "packaged", {"files": len(plan.manifests[bag.PRIMARY]), "bytes": plan.payload_bytes})


def step_copy(ctx: Ctx) -> None:
    """packaged → copied: every file to the receiver (streamed, or server-side within one bucket), once the
    package's source signature checks out (a forged package never reaches the receiver's store)."""
    assert ctx.src is not None
    src_store, dst_store = ctx.opener(ctx.src), ctx.opener(ctx.dst)
    _require_signed(ctx, bag.StoreBag(src_store, package_prefix(ctx.src.code, ctx.transfer_id), ctx.key_for))
    files, size = copy_package(
        src_store,
        package_prefix(ctx.src.code, ctx.transfer_id),
        StoreSink(dst_store, ctx.key_for),
        on_file=lambda n, _path: fault_point(f"copy:{n}"),
    )
    if not ctx.same_catalog:
        ensure_receiver_row(ctx, "copied")
    ctx.advance("packaged", "copied", {"files": files, "bytes": size})
    fault_point("copied")


def ensure_receiver_row(ctx: Ctx, state: str) -> None:
    """The receiver's own row for this transfer (same id), created once."""
    info = rows.load(ctx.primary_url, ctx.transfer_id)
    assert info is not None
    with session_scope(ctx.dst.catalog_url) as s:
        row, _created = rows.open_or_create(
            s,
            resident_id=info.resident_id,
            from_site=info.from_site,
            to_site=info.to_site,
            transfer_id=ctx.transfer_id,
            state=state,
        )
        if row.id != ctx.transfer_id:
            raise TransferStateError(
                f"site {ctx.dst.code} has another open transfer ({row.id}) for this person", open_transfer=row.id
            )


def step_verify(ctx: Ctx) -> None:
    """copied → verified: the receiver re-hashes every file and runs the four-property checks."""
    reader = bag.StoreBag(ctx.opener(ctx.dst), ctx.dst_prefix, ctx.key_for)
    report = verify_bag(
        reader,
        trust=Trust(ctx.settings),
        transfer_id=ctx.transfer_id,
        destination=ctx.dst.code,
        limits=decode_limits(ctx.settings),
    )
    accept_ocr_siblings(report, reader)
    if not report.ok:
        named = report.files_named()
        raise TransferVerifyFailed(
            f"{len(report.problems)} problem(s) in {len(named)} file(s): {', '.join(named[:5])}",
            files=named,
            problems=[p.to_dict() for p in report.problems[:50]],
        )
    ctx.advance("copied", "verified", report.summary() | {"manifest_sha256": report.manifest_sha256})
    fault_point("verified")


def step_commit(ctx: Ctx) -> None:
    """verified → committed: register at the receiver exactly once, then mark the person at the source."""
    package = load_package(ctx.opener(ctx.dst), ctx.dst_prefix)  # verified; format and version checked again
    with session_scope(ctx.dst.catalog_url) as s:
        row = rows.lock(s, ctx.transfer_id)
        if not rows.reached(row.state, "committed"):
            if row.state != "verified":
                raise TransferStateError(f"transfer {ctx.transfer_id} is {row.state}, not verified", state=row.state)
            _require_source_holds(ctx)
            try:
                counts = register_archive(
                    s,
                    site=ctx.dst.code,
                    transfer_id=ctx.transfer_id,
                    package=package,
                    key_for=ctx.key_for,
                    actor=ctx.actor,
                )
            except IntegrityError as exc:  # raced by another registration of the same rows
                raise TransferReceiverConflict(
                    f"site {ctx.dst.code} already holds rows of this archive", site=ctx.dst.code
                ) from exc
            if ctx.same_catalog:
                _mark_source(s, ctx)
            transition(s, row, "committed", actor=ctx.actor, site_code=ctx.dst.code, details=counts)
    fault_point("receiver-committed")
    if ctx.src is not None and not ctx.same_catalog:
        with session_scope(ctx.src.catalog_url) as s:
            try:
                src_row = rows.lock(s, ctx.transfer_id)
            except TransferNotFound:  # offline import with no request recorded at the source
                src_row, _ = rows.open_or_create(
                    s,
                    resident_id=ctx.resident_id,
                    from_site=ctx.src_code,
                    to_site=ctx.dst.code,
                    transfer_id=ctx.transfer_id,
                    state="verified",
                )
            if not rows.reached(src_row.state, "committed"):
                _mark_source(s, ctx)
                rows.walk(s, src_row, "committed", actor=ctx.actor, site=ctx.src_code)
    fault_point("committed")


def _require_signed(ctx: Ctx, reader: bag.BagReader) -> None:
    """Refuse (permanently, nothing written) a package whose source signature this site cannot accept."""
    info = bag.parse_bag_info(reader.read_tag("bag-info.txt") or b"")
    problems = check_signature(reader, Trust(ctx.settings), info)
    if problems:
        raise TransferVerifyFailed(
            f"the package's source signature was refused: {problems[0].code}: {problems[0].message}",
            files=sorted({p.file for p in problems if p.file}),
            problems=[p.to_dict() for p in problems],
        )


def _require_source_holds(ctx: Ctx) -> None:
    """Refuse a commit when the source's person already left for another site (e.g. an offline bag imported
    after an online transfer elsewhere): committing would leave the archive live at two sites."""
    if ctx.src is None:
        return
    with session_scope(ctx.src.catalog_url) as s:
        person = s.scalars(select(Person).filter_by(site_code=ctx.src_code, resident_id=ctx.resident_id)).first()
        if person is None or person.status == "active" or person.transferred_to == ctx.dst.code:
            return
        gone_to = person.transferred_to
    raise TransferPersonNotActive(
        f"person {mask_id(ctx.resident_id)} already left {ctx.src_code} for {gone_to}; not committed at {ctx.dst.code}",
        site=ctx.src_code,
    )


def _mark_source(session: Any, ctx: Ctx) -> None:
    mark_transferred_out(
        session,
        site=ctx.src_code,
        resident_id=ctx.resident_id,
        to_site=ctx.dst.code,
        transfer_id=ctx.transfer_id,
        actor=ctx.actor,
    )


def step_finish(ctx: Ctx) -> None:
    """committed → done: a signed receipt, stored in both catalogs and both stores."""
    dst_store = ctx.opener(ctx.dst)
    key = signer(ctx.settings, ctx.dst.code, actor=ctx.actor)  # before the row lock: it reads the key registry
    with session_scope(ctx.dst.catalog_url) as s:
        row = rows.lock(s, ctx.transfer_id)
        if not row.receipt:  # built once; a re-run re-stores the same bytes
            row.receipt = build_receipt(ctx, dst_store, key).to_json()
        receipt = dict(row.receipt)
    # The source accepts the receipt only with the receiver's registered public key (no shared secret).
    verify_receipt(receipt, Trust(ctx.settings), site=ctx.dst.code)
    data = receipt_bytes(receipt)
    sha = hashlib.sha256(data).hexdigest()
    dst_store.put(receipt_key(ctx.dst.code, ctx.transfer_id), data, sha256=sha, content_type="application/json")
    if ctx.src is not None:
        src_store = ctx.opener(ctx.src)
        src_store.put(receipt_key(ctx.src_code, ctx.transfer_id), data, sha256=sha, content_type="application/json")
        if not ctx.same_catalog:
            with session_scope(ctx.src.catalog_url) as s:
                src_row = rows.lock(s, ctx.transfer_id)
                src_row.receipt = receipt
    released = None
    if not ctx.keep_source and ctx.src is not None:
        released = release_source_copy(ctx.src, ctx.opener(ctx.src), ctx.resident_id, ctx.transfer_id, ctx.actor)
    ctx.advance("committed", "done", {"receipt_sha256": sha, "source_objects_released": released})


def build_receipt(ctx: Ctx, dst_store: ObjectStore, key: Signer) -> Receipt:
    """Receipt body from the stored package and both audit trails, signed with the receiving site's key."""
    tags = {name: dst_store.get(ctx.dst_prefix + name) for name in ("manifest-sha256.txt", "tagmanifest-sha256.txt")}
    info = bag.parse_bag_info(dst_store.get(ctx.dst_prefix + "bag-info.txt"))
    oxum = info.get("Payload-Oxum", ["0.0"])[0].split(".")
    times: dict[str, str] = {}
    for url in [ctx.primary_url, *ctx.mirror_urls]:
        for state, at in rows.state_times(url, ctx.transfer_id).items():
            times.setdefault(state, at)
    verified = rows.event_details(ctx.dst.catalog_url, ctx.transfer_id, "transfer.verified")
    body = ReceiptBody(
        transfer_id=ctx.transfer_id,
        from_site=ctx.src_code,
        to_site=ctx.dst.code,
        verifying_site=ctx.dst.code,
        person=(info.get("Dangan-Person") or [""])[0],
        manifest=ReceiptManifest(
            algorithms=(info.get("Dangan-Manifest-Algorithms") or ["sha256"])[0].split(),
            manifest_sha256=hashlib.sha256(tags["manifest-sha256.txt"]).hexdigest(),
            tagmanifest_sha256=hashlib.sha256(tags["tagmanifest-sha256.txt"]).hexdigest(),
        ),
        package=ReceiptPackage(prefix=ctx.dst_prefix, files=int(oxum[1]), bytes=int(oxum[0])),
        counts={
            k.removeprefix("Dangan-Count-").lower().replace("-", "_"): int(v[0])
            for k, v in info.items()
            if k.startswith("Dangan-Count-")
        },
        checks=dict(verified.get("checks") or {}),
        timestamps={k: times[k] for k in (*rows.ORDER,) if k in times},
    )
    return sign(body, key, signed_at=datetime.now(UTC).isoformat())


STEPS: dict[str, Callable[[Ctx], None]] = {
    "requested": step_package,
    "packaged": step_copy,
    "copied": step_verify,
    "verified": step_commit,
    "committed": step_finish,
}
