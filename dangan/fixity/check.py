"""Re-hash one stored object against what the catalog and the store recorded; repair it from a replica.

Reading is streamed in 1 MiB blocks (``hash_stream``), so memory stays bounded whatever the object size.
A repair only ever brings back the recorded bytes: a missing object is ``put`` again (which verifies the
SHA-256), a changed one is ``restore``d (which refuses anything but the recorded content).
"""

from __future__ import annotations

from datetime import datetime

from dangan.errors import ObjectNotFound
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
