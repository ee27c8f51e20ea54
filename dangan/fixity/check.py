"""Re-hash one stored object against what the catalog and the store recorded; repair it from a replica.

Reading is streamed in 1 MiB blocks (``hash_stream``), so memory stays bounded whatever the object size.
A repair only ever brings back the recorded bytes: a missing object is ``put`` again (which verifies the
SHA-256), a changed one is ``restore``d (which refuses anything but the recorded content).
"""

from __future__ import annotations

from datetime import datetime

from dangan.errors import ChecksumMismatch, DanganError, ObjectConflict, ObjectNotFound
from dangan.fixity.model import ObjectCheck, Status, Target
from dangan.storage.base import Clock, DataSource, ObjectInfo, ObjectStore, utcnow
from dangan.storage.hashing import hash_stream

#: Why a repair did not happen (stable codes, stored in audit details and reports).
REPLICA_MISSING = "REPLICA_MISSING"
REPLICA_DAMAGED = "REPLICA_DAMAGED"
NOT_REPAIRABLE = "NOT_REPAIRABLE"


def check_object(store: ObjectStore, target: Target) -> ObjectCheck:
    """Classify one catalogued object.

    * ``missing``: not in the store;
    * ``changed``: its bytes do not hash to the catalogued SHA-256;
    * ``metadata_mismatch``: the bytes are as catalogued but the store's recorded SHA-256 disagrees or is
      absent;
    * ``unverifiable``: the catalog records no SHA-256 for it (nothing the bytes could be checked against);
    * ``ok`` otherwise.
    """
    try:
        info = store.stat(target.key)
        with store.open(target.key) as fh:
            found, size = hash_stream(fh)
    except ObjectNotFound:
        return ObjectCheck(target.key, target.kind, Status.MISSING, expected=target.expected)
    expected = target.expected
    if expected is None:
        # the catalog records no digest (an OCR row from before migration 0008): the store's metadata alone
        # would pass a rewrite of object + metadata, so nothing is verified; `--adopt-digests` records one
        return ObjectCheck(target.key, target.kind, Status.UNVERIFIABLE, None, info.sha256, found, size)
    if found != expected:
        status = Status.CHANGED
    elif info.sha256 != expected:
        status = Status.METADATA_MISMATCH
    else:
        status = Status.OK
    return ObjectCheck(target.key, target.kind, status, expected, info.sha256, found, size)


def repair_object(store: ObjectStore, replica: ObjectStore, target: Target, check: ObjectCheck) -> ObjectCheck:
    """Bring back a missing or changed object from ``replica`` (same key), then re-check it.

    Returns ``check`` updated in place: ``repaired=True`` when the object now verifies, else ``repair_error``
    says why (``REPLICA_MISSING``, ``REPLICA_DAMAGED``, ``NOT_REPAIRABLE`` or the store error's code).
    Transient store errors propagate (the task retries).
    """
    if check.status not in (Status.MISSING, Status.CHANGED) or check.expected is None:
        check.repair_error = NOT_REPAIRABLE  # metadata disagreements need a person, not a copy
        return check
    try:
        source = replica.stat(target.key)
        with replica.open(target.key) as fh:
            write_back(store, target, check, fh, source)
    except ObjectNotFound:
        check.repair_error = REPLICA_MISSING
        return check
    except ChecksumMismatch:
        check.repair_error = REPLICA_DAMAGED  # the replica's bytes are not the recorded content either
        return check
    except ValueError:  # the replica's metadata cannot be written back (not from a dangan store)
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
    if not check.repaired:
        check.repair_error = f"STILL_{again.status.upper()}"
    return check


def write_back(store: ObjectStore, target: Target, check: ObjectCheck, data: DataSource, source: ObjectInfo) -> None:
    """Write the recorded content back at ``target.key``: ``put`` when the key is gone (re-applying retention
    that is still in the future), ``restore`` when damaged bytes are there. Both verify the SHA-256 again and
    neither ever replaces the recorded content with another (write-once)."""
    assert check.expected is not None
    if check.status is Status.MISSING:
        retain = target.retain_until or source.retain_until
        if retain is not None and (retain <= _now(store) or not store.supports_retention()):
            retain = None
        store.put(
            target.key,
            data,
            sha256=check.expected,
            content_type=source.content_type,
            metadata=source.metadata,
            retain_until=retain,
        )
    else:
        store.restore(target.key, data, sha256=check.expected)


def _now(store: ObjectStore) -> datetime:
    clock: Clock = getattr(store, "clock", utcnow)  # stores take an injectable clock (tests)
    return clock()
