"""Build a person's transfer package (a BagIt bag) from the catalog and the source store, and copy it anywhere.

At the source the package is stored as its tag files plus its metadata payload under
``sites/{site}/packages/{transfer_id}/``; binary payload (masters, derivatives, OCR objects) stays where it is
(masters are immutable and protected) and is named in ``data/metadata/catalog.json`` with its source key.
:func:`copy_package` assembles the full bag at the destination, a store (online) or a folder (removable
media). Everything written is deterministic for a given catalog state and transfer, so a re-run after a crash
writes the same bytes (stores are write-once) instead of conflicting.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from dangan.catalog.db import session_scope
from dangan.catalog.sites import SiteRef
from dangan.errors import ChecksumMismatch
from dangan.keys import master_key, package_prefix
from dangan.pii import scrub
from dangan.storage import ObjectStore
from dangan.transfer import bag
from dangan.transfer.archive import ArchiveCatalog, ArchivePackage
from dangan.transfer.keys import Signer
from dangan.transfer.signature import sign_bag
from dangan.transfer.snapshot import snapshot

SOFTWARE = "dangan 0.1.0 (bagit RFC 8493)"
UNSPECIFIED = "unspecified"


@dataclass
class PackagePlan:
    """What one package holds: metadata payload bytes, binary payload sources, tag files and digests."""

    transfer_id: str
    prefix: str
    metadata: dict[str, bytes]
    binaries: dict[str, str]  # bag path -> source key
    manifests: dict[str, dict[str, str]]  # algorithm -> {bag path: digest}
    tag_files: dict[str, bytes] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    payload_bytes: int = 0


def build_plan(
    src: SiteRef,
    store: ObjectStore,
    resident_id: str,
    transfer_id: str,
    to_site: str | None,
    bagging_date: datetime,
    signer: Signer,
) -> PackagePlan:
    """Snapshot the catalog, re-hash every binary at the source (fixity before sending), make the tag files and
    sign them with the source site's key (``signer``).

    Raises ``ChecksumMismatch`` when a source object does not match its catalogued SHA-256 or size.
    """
    algs = bag.algorithms()
    with session_scope(src.catalog_url) as s:
        snap = snapshot(s, src.code, resident_id).for_transfer(transfer_id)
    metadata = snap.documents()
    manifests: dict[str, dict[str, str]] = {a: {} for a in algs}
    total = 0
    for path, data in metadata.items():
        for a, digest in bag.digests_of(data, algs).items():
            manifests[a][path] = digest
        total += len(data)
    binaries: dict[str, str] = {}
    for path, key, sha256, size in snap.binary_entries():
        with store.open(key) as fh:
            digests, found_size, _ = bag.hash_stream(fh, algs)
        if (sha256 and digests[bag.PRIMARY] != sha256) or (size is not None and found_size != size):
            raise ChecksumMismatch(scrub(key), "sha256", sha256 or "", digests[bag.PRIMARY])
        for a, digest in digests.items():
            manifests[a][path] = digest
        binaries[path] = key
        total += found_size
    plan = PackagePlan(
        transfer_id=transfer_id,
        prefix=package_prefix(src.code, transfer_id),
        metadata=metadata,
        binaries=binaries,
        manifests=manifests,
        counts=snap.counts(),
        payload_bytes=total,
    )
    plan.tag_files = _tag_files(plan, src, snap.catalog, to_site, bagging_date, algs)
    when = bagging_date if bagging_date.tzinfo else bagging_date.replace(tzinfo=UTC)
    plan.tag_files[bag.SIGNATURE_NAME] = sign_bag(
        plan.tag_files,
        metadata[bag.CATALOG_PATH],
        transfer_id=transfer_id,
        source=src.code,
        destination=to_site or UNSPECIFIED,
        signed_at=when.isoformat(),
        signer=signer,
    )
    return plan


def _tag_files(
    plan: PackagePlan,
    src: SiteRef,
    catalog: ArchiveCatalog,
    to_site: str | None,
    when: datetime,
    algs: tuple[str, ...],
) -> dict[str, bytes]:
    files: dict[str, bytes] = {f"manifest-{a}.txt": bag.manifest_text(plan.manifests[a]) for a in algs}
    files["bagit.txt"] = bag.BAGIT_TXT
    info = [
        ("Source-Organization", src.name),
        ("Bagging-Date", when.date().isoformat()),
        ("Bag-Software-Agent", SOFTWARE),
        ("External-Identifier", plan.transfer_id),
        ("Payload-Oxum", f"{plan.payload_bytes}.{len(plan.manifests[bag.PRIMARY])}"),
        ("Dangan-Transfer-Id", plan.transfer_id),
        ("Dangan-Source-Site", src.code),
        ("Dangan-Destination-Site", to_site or UNSPECIFIED),
        ("Dangan-Person", catalog.person.resident_id_masked),
        ("Dangan-Manifest-Algorithms", " ".join(algs)),
        *[("Dangan-Dossier", f"{d.category}; retention={d.retention}") for d in catalog.dossiers],
        *[(f"Dangan-Count-{k.replace('_', '-').title()}", str(v)) for k, v in plan.counts.items()],
    ]
    files["bag-info.txt"] = bag.bag_info_text(info)
    covered = {name: data for name, data in files.items()}
    for a in algs:
        files[f"tagmanifest-{a}.txt"] = bag.manifest_text(
            {name: bag.digests_of(data, (a,))[a] for name, data in covered.items()}
        )
    return {name: files[name] for name in bag.tag_file_names(algs) if name in files}


def load_package(store: ObjectStore, prefix: str) -> ArchivePackage:
    """The metadata of the package stored under ``prefix`` (format and version checked, older ones migrated)."""
    return ArchivePackage.from_bytes(*(store.get(prefix + path) for path in bag.METADATA_PATHS))


def write_plan(store: ObjectStore, plan: PackagePlan) -> None:
    """Store metadata payload then tag files under the source package prefix (idempotent: write-once puts)."""
    for path, data in plan.metadata.items():
        store.put(plan.prefix + path, data, sha256=plan.manifests[bag.PRIMARY][path], content_type="application/json")
    for name, data in plan.tag_files.items():
        store.put(plan.prefix + name, data, sha256=bag.digests_of(data, (bag.PRIMARY,))[bag.PRIMARY])


def receiver_key(to_site: str, transfer_id: str, path: str) -> str:
    """Where a bag file lives at the receiver: masters at their content-addressed key, the rest in the package."""
    if path.startswith("data/masters/"):
        name = path.rsplit("/", 1)[1]
        sha, dot, ext = name.partition(".")
        return master_key(to_site, sha, dot + ext)
    return package_prefix(to_site, transfer_id) + path


class Sink(Protocol):
    """Destination of a package copy."""

    def copy_from(self, src: ObjectStore, src_key: str, path: str, sha256: str) -> int: ...


class StoreSink:
    """Copy into the receiving site's store (server-side when both sites share a bucket)."""

    def __init__(self, store: ObjectStore, key_for: Callable[[str], str]) -> None:
        self.store, self.key_for = store, key_for

    def copy_from(self, src: ObjectStore, src_key: str, path: str, sha256: str) -> int:
        dst_key = self.key_for(path)
        if path.startswith("data/masters/") and self.store.supports_retention():
            retained = self._copy_retained(src, src_key, dst_key, sha256)
            if retained is not None:
                return retained
        info = src.copy(src_key, dst_key, dst_store=self.store)

        if info.sha256 != sha256:  # the source object is not what the manifest promised
            raise ChecksumMismatch(scrub(dst_key), "sha256", sha256, str(info.sha256))
        return info.size

    def _copy_retained(self, src: ObjectStore, src_key: str, dst_key: str, sha256: str) -> int | None:
        """A master keeps its retention period at the receiver (a server-side copy would drop the lock)."""
        info = src.stat(src_key)
        if info.retain_until is None or info.retain_until <= datetime.now(UTC):
            return None
        with src.open(src_key) as fh:  # streamed; the receiving store re-verifies the SHA-256
            put = self.store.put(
                dst_key,
                fh,
                sha256=sha256,
                content_type=info.content_type,
                metadata=info.metadata,
                retain_until=info.retain_until,
            )
        return put.size


class FolderSink:
    """Write a bag into a folder (removable media), streaming and verifying each file before it appears."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def copy_from(self, src: ObjectStore, src_key: str, path: str, sha256: str) -> int:
        target = self.root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".part-")
        try:
            with os.fdopen(fd, "wb") as out, src.open(src_key) as fh:
                digests, size, _ = bag.hash_stream(_Tee(fh, out), (bag.PRIMARY,))  # type: ignore[arg-type]
                out.flush()
                os.fsync(out.fileno())
            if digests[bag.PRIMARY] != sha256:
                raise ChecksumMismatch(path, "sha256", sha256, digests[bag.PRIMARY])
            os.replace(tmp, target)
            return size
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)


class _Tee:
    def __init__(self, src: Any, out: Any) -> None:
        self.src, self.out = src, out

    def read(self, n: int = -1) -> bytes:
        chunk: bytes = self.src.read(n)
        self.out.write(chunk)
        return chunk


def copy_package(
    src: ObjectStore,
    prefix: str,
    sink: Sink,
    on_file: Callable[[int, str], None] | None = None,
) -> tuple[int, int]:
    """Copy a stored package (payload first, tag files last) into ``sink``; returns ``(files, bytes)``.

    The list of files and their digests comes from the stored manifest and catalog.json, not from memory,
    so a resumed copy needs nothing but the package itself. ``on_file(n, path)`` runs after each file.
    """
    manifest, _ = bag.parse_manifest(src.get(prefix + f"manifest-{bag.PRIMARY}.txt"))
    sources = load_package(src, prefix).object_sources()
    n = size = 0
    for path, sha256 in sorted(manifest.items()):
        key = sources.get(path, prefix + path)
        size += sink.copy_from(src, key, path, sha256)
        n += 1
        if on_file:
            on_file(n, path)
    tags = [name for name in bag.tag_file_names(bag.KNOWN) if src.exists(prefix + name)]
    for name in tags:
        info = src.stat(prefix + name)
        sink.copy_from(src, prefix + name, name, str(info.sha256))
    return n, size
