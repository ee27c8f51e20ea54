"""Offline transfer by removable media: export a bag to a folder, import it at the receiving site.

Import refuses a tampered or incomplete bag before anything is written (the ``bagit`` library's own
validator, plus SM3 and the four-property checks), naming every offending file; an accepted bag is copied into
the receiver's store and then goes through the same verify → commit → receipt steps as an online transfer.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import bagit

from dangan.catalog.audit import record
from dangan.catalog.db import session_scope
from dangan.catalog.models import new_id
from dangan.catalog.sites import SiteRef, get_site
from dangan.config import Settings
from dangan.errors import ConfigError, SiteNotFound
from dangan.pii import mask_id
from dangan.storage import describe_store_url
from dangan.transfer import bag, rows
from dangan.transfer.checks import INTEGRITY, SECURITY, Problem
from dangan.transfer.driver import (
    TransferOutcome,
    context,
    drive,
    outcome,
    request_transfer,
    run_ctx_step,
    with_failure,
)
from dangan.transfer.errors import BagRefused, TransferStateError, TransferWrongDestination
from dangan.transfer.keys import Trust, signer
from dangan.transfer.package import FolderSink, build_plan, copy_package, write_plan
from dangan.transfer.problems import accept_ocr_siblings
from dangan.transfer.protocol import Ctx, Opener, decode_limits, default_opener
from dangan.transfer.retry import RetryPolicy
from dangan.transfer.verify import VerifyReport, verify_bag

if TYPE_CHECKING:
    from dangan.imaging.model import DecodeLimits


def export_package(
    settings: Settings,
    resident_id: str,
    site: str,
    out_dir: Path,
    *,
    to_site: str | None = None,
    actor: str | None = None,
    opener: Opener | None = None,
) -> dict[str, str | int]:
    """Write a person's bag into ``out_dir`` (new or empty). With ``to_site`` the transfer is also requested
    at the source (state ``packaged``), so the import at the receiver completes that same transfer."""
    out_dir = Path(out_dir)
    if out_dir.exists() and any(out_dir.iterdir()):
        raise ConfigError(f"{out_dir} is not empty", hint="Export into a new or empty folder.")
    opener = opener or default_opener
    src = get_site(settings, site)
    store = opener(src)
    if to_site:
        tid = request_transfer(settings, resident_id, site, to_site, actor=actor)
        ctx = context(settings, site, tid, opener=opener, actor=actor)
        if rows.load(src.catalog_url, tid).state == "requested":  # type: ignore[union-attr]
            run_ctx_step(ctx)
        state = rows.load(src.catalog_url, tid).state  # type: ignore[union-attr]
        if not rows.reached(state, "packaged") or state == "failed":
            raise TransferStateError(f"transfer {tid} is {state}; cannot export", transfer_id=tid, state=state)
    else:
        tid = new_id()
        key = signer(settings, site, actor=actor)
        write_plan(store, build_plan(src, store, resident_id, tid, None, datetime.now(UTC), key))
    out_dir.mkdir(parents=True, exist_ok=True)
    files, size = copy_package(store, f"sites/{site}/packages/{tid}/", FolderSink(out_dir))
    with session_scope(src.catalog_url) as s:
        record(
            s,
            actor=actor or settings.actor,
            action="transfer.exported",
            entity_type="transfer",
            entity_id=tid,
            site_code=site,
            details={"person": mask_id(resident_id), "to": to_site, "files": files, "bytes": size},
        )
    return {"transfer_id": tid, "path": str(out_dir), "files": files, "bytes": size}


def check_folder(
    bag_dir: Path, *, trust: Trust, destination: str | None = None, limits: DecodeLimits | None = None
) -> VerifyReport:
    """The source's signature, the ``bagit`` library's validation plus SM3 and the four-property checks, as one
    report."""
    reader = bag.FolderBag(Path(bag_dir))
    report = verify_bag(reader, trust=trust, destination=destination, limits=limits)
    accept_ocr_siblings(report, reader)
    try:
        bagit.Bag(str(bag_dir)).validate(processes=1)
    except bagit.BagValidationError as exc:
        for detail in exc.details or []:
            name = getattr(detail, "path", None)
            report.problems.append(Problem(INTEGRITY, "BAGIT_" + type(detail).__name__.upper(), name, str(detail)))
        if not exc.details:
            report.problems.append(Problem(INTEGRITY, "BAGIT_INVALID", None, str(exc.message)))
    except bagit.BagError as exc:
        report.problems.append(Problem(SECURITY, "BAGIT_REFUSED", None, str(exc)))
    return report


def import_package(
    settings: Settings,
    bag_dir: Path,
    site: str,
    *,
    actor: str | None = None,
    opener: Opener | None = None,
    retry: RetryPolicy | None = None,
) -> TransferOutcome:
    """Verify a bag from removable media at ``site`` and commit it through the transfer protocol."""
    actor = actor or settings.actor
    opener = opener or default_opener
    dst = get_site(settings, site)
    report = check_folder(bag_dir, trust=Trust(settings), destination=site, limits=decode_limits(settings))
    tid = report.info_value("Dangan-Transfer-Id") or "unknown"
    if not report.ok:
        _refuse(dst, tid, report, actor)
    assert report.package is not None  # a report without problems parsed the package
    if report.info_value("Dangan-Destination-Site") not in (site, "unspecified"):
        addressed = report.info_value("Dangan-Destination-Site")
        raise TransferWrongDestination(
            f"bag is addressed to {addressed}, not {site}",
            file="bag-info.txt",
            problems=[Problem(SECURITY, "WRONG_DESTINATION", "bag-info.txt", f"addressed to {addressed}").to_dict()],
        )
    src_code = str(report.info_value("Dangan-Source-Site"))
    resident_id = report.package.catalog.person.resident_id
    try:
        src: SiteRef | None = get_site(settings, src_code)
    except SiteNotFound:
        src = None  # the source is not known here: its side is completed there, with the receipt
    ctx = Ctx(settings, tid, resident_id, src_code, src, dst, dst.catalog_url, actor, opener, primary_site=site)
    with session_scope(dst.catalog_url) as s:
        row, _ = rows.open_or_create(
            s, resident_id=resident_id, from_site=src_code, to_site=site, transfer_id=tid, state="packaged"
        )
        if row.id != tid:
            raise TransferStateError(f"site {site} has another open transfer ({row.id}) for this person")
        if row.to_site != site or row.state == "failed":
            # a bag is one transfer: once failed, or addressed elsewhere in the catalog, it is not retried here
            raise TransferStateError(
                f"transfer {tid} of this bag is {row.state} (to {row.to_site}); it cannot be imported at {site}",
                transfer_id=tid,
                state=row.state,
                hint="Export a new package at the source site (`dangan package export --to SITE`) and import that.",
            )
    store = opener(dst)
    folder = bag.FolderBag(Path(bag_dir))
    manifest, _ = bag.parse_manifest(folder.read_tag("manifest-sha256.txt") or b"")
    for path, sha in sorted(manifest.items()):
        store.put(ctx.key_for(path), Path(bag_dir) / path, sha256=sha)
    for name in bag.tag_file_names(bag.KNOWN):
        if (data := folder.read_tag(name)) is not None:
            store.put(ctx.dst_prefix + name, data, sha256=bag.digests_of(data, (bag.PRIMARY,))[bag.PRIMARY])
    with session_scope(dst.catalog_url) as s:
        rows.walk(s, rows.lock(s, tid), "copied", actor=actor, site=site, details={"via": "removable media"})
    for url in ctx.mirror_urls:
        rows.catch_up(url, tid, "copied", actor=actor, site=src_code)
    drive(lambda: ctx, retry or RetryPolicy())
    if src is not None:
        return outcome(settings, src_code, tid) if rows.load(src.catalog_url, tid) else _local(dst, tid)
    return _local(dst, tid)


def _local(dst: SiteRef, tid: str) -> TransferOutcome:
    info = rows.load(dst.catalog_url, tid)
    assert info is not None
    package = {"store": describe_store_url(dst.store_url), "prefix": f"sites/{dst.code}/packages/{tid}/"}
    out = TransferOutcome(tid, info.state, info.reason_code, package, info.receipt or None)
    return with_failure(out, [dst.catalog_url])


def _refuse(dst: SiteRef, tid: str, report: VerifyReport, actor: str) -> None:
    named = report.files_named()
    with session_scope(dst.catalog_url) as s:
        record(
            s,
            actor=actor,
            action="transfer.import_refused",
            entity_type="transfer",
            entity_id=tid[:64],
            site_code=dst.code,
            outcome="failed",
            details={"files": named, "problems": [p.to_dict() for p in report.problems[:50]]},
        )
    raise BagRefused(
        f"bag refused: {len(report.problems)} problem(s) in {', '.join(named) or 'the bag structure'}",
        files=named,
        problems=[p.to_dict() for p in report.problems[:50]],
    )
