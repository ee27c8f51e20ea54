"""Repair by content: find a verified copy of a damaged object in any store the configuration names.

A copy is found by what it holds, not where the damaged site keeps it: another county that received the
archive keeps the master at ``sites/{its code}/masters/…``, a replica store at the source's key, a removable
export wherever it was written. Candidates come first from the content-addressed key patterns (every
registered site's master and quarantine keys for the SHA-256), then from object metadata (``sha256``) by one
bounded listing per store. Each candidate is streamed once into a private spool file while SHA-256 (and SM3,
where a digest is recorded) are computed; only a copy that verifies is written back, with ``put`` or
``restore`` (write-once: neither ever replaces recorded content with other content).
"""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dangan.errors import ChecksumMismatch, DanganError, ObjectConflict, ObjectNotFound, StoreUnavailable
from dangan.fixity.check import NOT_REPAIRABLE, REPLICA_DAMAGED, REPLICA_MISSING, check_object, write_back
from dangan.fixity.errors import NoVerifiedCopy
from dangan.fixity.model import ObjectCheck, Status, Target
from dangan.keys import EXT_BY_FORMAT, master_key, quarantine_key
from dangan.pii import scrub
from dangan.storage.base import ObjectInfo, ObjectStore
from dangan.storage.hashing import CHUNK_SIZE, sm3_available

#: Objects listed per store, at most, when looking for a copy by its metadata (S3 needs a HEAD per object).
DEFAULT_LIST_LIMIT = 10_000
SM3_META = "sm3"
_EXTS = (*EXT_BY_FORMAT.values(), ".tiff", ".jpeg", ".bin")


@dataclass(frozen=True)
class RepairSource:
    """One store to search. ``name`` says what it is in audit events (``site:330108``, ``replica:offsite``);
    ``location`` identifies the store (its URL) so the damaged object itself is never taken as its own copy."""

    name: str
    store: ObjectStore
    location: str


@dataclass(frozen=True)
class VerifiedCopy:
    """A copy whose bytes hashed to the expected digests while being spooled to ``path``."""

    source: str
    store: str
    key: str
    sha256: str
    sm3: str | None
    size: int
    info: ObjectInfo
    path: Path

    def provenance(self) -> dict[str, Any]:
        return {"source": self.source, "store": self.store, "key": self.key, "sha256": self.sha256, "sm3": self.sm3}


@dataclass
class ContentFinder:
    """Searches ``sources`` (in order) for content; the metadata index of each store is built once, lazily.

    ``site_codes``: every registered site, whose content-addressed key patterns are probed.
    """

    sources: Sequence[RepairSource]
    site_codes: Sequence[str]
    list_limit: int = DEFAULT_LIST_LIMIT
    _index: dict[str, dict[str, list[str]]] = field(default_factory=dict)
    _truncated: set[str] = field(default_factory=set)

    def pattern_keys(self, target: Target) -> list[str]:
        """The damaged key itself, then every site's master / quarantine key for the same SHA-256."""
        sha = str(target.expected)
        name = target.key.rsplit("/", 1)[-1]
        ext = name[len(sha) :] if name.startswith(sha) else ""
        exts = list(dict.fromkeys([ext, *_EXTS])) if ext else list(_EXTS)
        keys = [target.key]
        for code in self.site_codes:
            keys += [master_key(code, sha, e) for e in exts]
            keys.append(quarantine_key(code, sha))
        return list(dict.fromkeys(keys))

    def _by_metadata(self, source: RepairSource, sha: str) -> list[str]:
        if source.location not in self._index:
            index: dict[str, list[str]] = {}
            for n, info in enumerate(source.store.list("")):
                if n >= self.list_limit:
                    self._truncated.add(source.name)
                    break
                if info.sha256:
                    index.setdefault(info.sha256, []).append(info.key)
            self._index[source.location] = index
        return self._index[source.location].get(sha, [])

    @contextmanager
    def find(self, target: Target, damaged_location: str) -> Iterator[VerifiedCopy]:
        """Yield the first candidate that verifies (spooled in a temp folder removed afterwards).

        Raises :class:`NoVerifiedCopy` when none does; a store that was unreachable while no copy was found
        re-raises its ``StoreUnavailable`` (transient: retry later rather than call the content lost).
        """
        if target.expected is None:
            raise NoVerifiedCopy(
                f"{scrub(target.key)}: the catalog records no SHA-256, so no copy can be verified",
                key=scrub(target.key),
                reason=NOT_REPAIRABLE,
            )
        with tempfile.TemporaryDirectory(prefix="dangan-repair-") as tmp:
            copy = self._search(target, damaged_location, Path(tmp))
            yield copy  # outside any handler: the caller's errors while writing back are its own

    def _search(self, target: Target, damaged_location: str, tmp: Path) -> VerifiedCopy:
        sha = str(target.expected)
        tried: list[dict[str, str]] = []
        unavailable: StoreUnavailable | None = None
        seen: set[tuple[str, str]] = {(damaged_location, target.key)}
        for phase in ("pattern", "metadata"):
            for source in self.sources:
                try:
                    keys = self.pattern_keys(target) if phase == "pattern" else self._by_metadata(source, sha)
                    for key in keys:
                        if (source.location, key) in seen:
                            continue
                        seen.add((source.location, key))
                        copy = self._verify(source, key, target, tmp / f"{len(seen)}.spool", tried)
                        if copy is not None:
                            return copy
                except StoreUnavailable as exc:
                    unavailable = exc  # try the other stores; raise only if none has a good copy
        if unavailable is not None:
            raise unavailable
        reason = REPLICA_DAMAGED if tried else REPLICA_MISSING
        raise NoVerifiedCopy(
            f"no verified copy of {scrub(target.key)} (sha256 {sha[:12]}…) in {len(self.sources)} store(s): "
            + ("every copy found is damaged" if tried else "no copy found"),
            key=scrub(target.key),
            sha256=sha,
            reason=reason,
            tried=tried,
            searched=[s.name for s in self.sources],
            listing_truncated=sorted(self._truncated),
        )

    def _verify(
        self, source: RepairSource, key: str, target: Target, spool: Path, tried: list[dict[str, str]]
    ) -> VerifiedCopy | None:
        sha = str(target.expected)
        try:
            info = source.store.stat(key)
        except ObjectNotFound:
            return None
        if info.sha256 is not None and info.sha256 != sha:
            return None  # the store recorded other content at this key: not a copy of ours
        expected_sm3 = target.sm3 or info.metadata.get(SM3_META)
        # SM3 is computed whenever OpenSSL has it (the audit event records it) and checked where one is recorded.
        hsm3 = hashlib.new("sm3") if sm3_available() else None
        use_sm3 = expected_sm3 is not None and hsm3 is not None
        h256 = hashlib.sha256()
        size = 0
        try:
            with source.store.open(key) as fh, spool.open("wb") as out:
                while chunk := fh.read(CHUNK_SIZE):
                    h256.update(chunk)
                    if hsm3 is not None:
                        hsm3.update(chunk)
                    out.write(chunk)
                    size += len(chunk)
        except ObjectNotFound:
            return None
        found_sm3 = hsm3.hexdigest() if hsm3 is not None else None
        problem = None
        if h256.hexdigest() != sha:
            problem = "sha256"
        elif use_sm3 and found_sm3 != expected_sm3:
            problem = "sm3"
        if problem is not None:
            tried.append({"source": source.name, "key": scrub(key), "mismatch": problem})
            spool.unlink(missing_ok=True)
            return None
        return VerifiedCopy(source.name, source.store.name, key, sha, found_sm3, size, info, spool)


def repair_by_content(
    store: ObjectStore, location: str, target: Target, check: ObjectCheck, finder: ContentFinder
) -> ObjectCheck:
    """Repair a missing or changed object from the first verified copy ``finder`` finds, then re-check it.

    Returns ``check`` updated in place: ``repaired`` and ``repaired_from`` on success; else ``repair_error``
    holds a stable code (``REPLICA_MISSING``, ``REPLICA_DAMAGED``, ``NOT_REPAIRABLE``, a store error's code)
    and nothing was written. Transient store errors propagate (the task retries).
    """
    if check.status not in (Status.MISSING, Status.CHANGED) or check.expected is None:
        check.repair_error = NOT_REPAIRABLE  # metadata disagreements need a person, not a copy
        return check
    try:
        with finder.find(target, location) as copy:
            write_back(store, target, check, copy.path, copy.info)
            provenance = copy.provenance()
    except NoVerifiedCopy as exc:
        check.repair_error = str(exc.details.get("reason") or exc.code)
        return check
    except ChecksumMismatch:
        check.repair_error = REPLICA_DAMAGED  # changed between verification and write-back
        return check
    except ValueError:  # the copy's metadata cannot be written back (not from a dangan store)
        check.repair_error = "REPLICA_METADATA_INVALID"
        return check
    except ObjectConflict as exc:
        check.repair_error = exc.code  # the store recorded other content for the key: a person must look
        return check
    except DanganError as exc:
        if exc.transient:
            raise
        check.repair_error = exc.code
        return check
    again = check_object(store, target)
    check.repaired = again.status is Status.OK
    if check.repaired:
        check.repaired_from = provenance
    else:
        check.repair_error = f"STILL_{again.status.upper()}"
    return check


def restore_object(store: ObjectStore, location: str, target: Target, finder: ContentFinder) -> ObjectCheck:
    """Check one catalogued object and repair it by content if needed; :class:`NoVerifiedCopy` when the
    object is damaged and no store holds a verified copy (the refusal, with its code; nothing written)."""
    check = check_object(store, target)
    if check.status is Status.OK:
        return check
    repair_by_content(store, location, target, check, finder)
    if not check.repaired:
        raise NoVerifiedCopy(
            f"{scrub(target.key)} is {check.status} and could not be repaired: {check.repair_error}",
            key=scrub(target.key),
            sha256=target.expected,
            reason=check.repair_error,
            searched=[s.name for s in finder.sources],
        )
    return check
