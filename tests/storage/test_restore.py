"""``restore``: repairs damaged bytes with the recorded content, on LocalStore and S3Store (fixture ``store``)."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import pytest

from dangan.errors import ChecksumMismatch, ObjectConflict, ObjectNotFound
from dangan.storage import LocalStore, ObjectStore
from dangan.storage.hashing import hash_stream
from dangan.storage.s3 import S3Store
from tests.storage.conftest import leftovers, sha

KEY = "sites/330106/masters/ab/page-0001.tif"
GOOD = b"II*\x00 synthetic master scan of page one\n" * 300
BAD = GOOD[:1000] + b"\xff" + GOOD[1001:]  # one flipped byte: bit rot


def corrupt(store: ObjectStore, key: str, data: bytes, *, keep_fixity_meta: bool = True) -> None:
    """Change an object's bytes behind the store's back (disk rot, or a raw S3 client overwrite)."""
    if isinstance(store, LocalStore):
        path = store.root / key
        path.chmod(0o644)
        path.write_bytes(data)
        return
    assert isinstance(store, S3Store)
    meta: dict[str, str | list[str] | tuple[str]] = {"sha256": sha(GOOD)} if keep_fixity_meta else {}
    store.client.put_object(store.bucket, f"{store.prefix}/{key}", io.BytesIO(data), len(data), metadata=meta)


def rehash(store: ObjectStore, key: str) -> str:
    with store.open(key) as fh:
        return hash_stream(fh)[0]


@pytest.fixture
def stored(store: ObjectStore) -> ObjectStore:
    retain = datetime.now(UTC) + timedelta(days=30)
    store.put(KEY, GOOD, sha256=sha(GOOD), content_type="image/tiff", metadata={"batch": "b01"}, retain_until=retain)
    return store


def test_restore_repairs_corrupted_object_keeping_metadata(stored: ObjectStore) -> None:
    before = stored.stat(KEY)
    corrupt(stored, KEY, BAD)
    assert rehash(stored, KEY) == sha(BAD)
    info = stored.restore(KEY, io.BytesIO(GOOD), sha256=sha(GOOD))
    assert rehash(stored, KEY) == sha(GOOD) == info.sha256
    assert stored.get(KEY) == GOOD
    assert (info.size, info.content_type, info.metadata) == (len(GOOD), "image/tiff", {"batch": "b01"})
    assert info.retain_until == before.retain_until is not None
    assert stored.stat(KEY) == info


def test_restore_after_overwrite_without_fixity_metadata(stored: ObjectStore) -> None:
    """A raw S3 overwrite drops the sha256 metadata; the first recorded version still decides."""
    corrupt(stored, KEY, BAD, keep_fixity_meta=False)
    with pytest.raises(ObjectConflict):
        stored.restore(KEY, BAD, sha256=sha(BAD))
    stored.restore(KEY, GOOD, sha256=sha(GOOD))
    assert rehash(stored, KEY) == sha(GOOD) and stored.stat(KEY).sha256 == sha(GOOD)


def test_restore_refuses_different_content(stored: ObjectStore) -> None:
    other = b"different, self-consistent content"
    with pytest.raises(ObjectConflict) as err:
        stored.restore(KEY, other, sha256=sha(other))
    assert err.value.details["recorded_sha256"] == sha(GOOD)
    assert stored.get(KEY) == GOOD and stored.stat(KEY).sha256 == sha(GOOD)


def test_restore_refuses_bytes_not_matching_sha256(stored: ObjectStore) -> None:
    corrupt(stored, KEY, BAD)
    with pytest.raises(ChecksumMismatch) as err:
        stored.restore(KEY, BAD, sha256=sha(GOOD))  # claims the recorded hash, brings other bytes
    assert (err.value.expected, err.value.found) == (sha(GOOD), sha(BAD))
    assert rehash(stored, KEY) == sha(BAD)  # left as it was: nothing half-written
    if isinstance(stored, LocalStore):
        assert [p for p in leftovers(stored) if p.startswith(".tmp")] == []


def test_restore_unknown_key(store: ObjectStore) -> None:
    with pytest.raises(ObjectNotFound):
        store.restore("sites/330106/masters/00/absent.tif", GOOD, sha256=sha(GOOD))
    assert not store.exists("sites/330106/masters/00/absent.tif")


def test_restore_is_idempotent_on_a_healthy_object(stored: ObjectStore) -> None:
    info = stored.restore(KEY, GOOD, sha256=sha(GOOD).upper())
    assert info.sha256 == sha(GOOD) and stored.get(KEY) == GOOD


def test_local_restore_brings_back_a_deleted_data_file(local_store: LocalStore) -> None:
    local_store.put(KEY, GOOD, sha256=sha(GOOD))
    (local_store.root / KEY).unlink()
    assert not local_store.exists(KEY)
    local_store.restore(KEY, GOOD, sha256=sha(GOOD))
    assert local_store.get(KEY) == GOOD
    assert ((local_store.root / KEY).stat().st_mode & 0o222) == 0  # immutable again
