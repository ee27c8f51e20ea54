"""The object-store contract, run identically on LocalStore and S3Store (fixture ``store``)."""

from __future__ import annotations

import io
import tracemalloc
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import BinaryIO, cast

import pytest

from dangan.errors import ChecksumMismatch, DeleteRefused, ObjectConflict, ObjectNotFound, UnsafePath
from dangan.storage import ObjectInfo, ObjectStore
from tests.storage.conftest import leftovers, sha

PAGE = b"%PDF-1.4 synthetic page for 330106 archive\n" * 50


def test_put_get_stat_exists_open(store: ObjectStore) -> None:
    info = store.put(
        "330106/batch-01/p0001.tif",
        PAGE,
        sha256=sha(PAGE).upper(),  # hex case is normalised
        content_type="image/tiff",
        metadata={"batch": "b01", "page-no": "1"},
    )
    assert info == store.stat("330106/batch-01/p0001.tif")
    assert (info.key, info.size, info.sha256) == ("330106/batch-01/p0001.tif", len(PAGE), sha(PAGE))
    assert info.content_type == "image/tiff"
    assert info.metadata == {"batch": "b01", "page-no": "1"}
    assert info.retain_until is None
    assert store.exists("330106/batch-01/p0001.tif")
    assert not store.exists("330106/batch-01/p0002.tif")
    assert store.get("330106/batch-01/p0001.tif") == PAGE
    with store.open("330106/batch-01/p0001.tif") as fh:
        chunks = [fh.read(100), fh.read(100), fh.read()]
    assert b"".join(chunks) == PAGE and len(chunks[0]) == 100


def test_default_content_type(store: ObjectStore) -> None:
    assert store.put("a.bin", b"x", sha256=sha(b"x")).content_type == "application/octet-stream"


@pytest.mark.parametrize("op", ["get", "stat", "delete", "presigned_get_url"])
def test_missing_object(store: ObjectStore, op: str) -> None:
    with pytest.raises(ObjectNotFound):
        getattr(store, op)("nope/absent.bin")
    with pytest.raises(ObjectNotFound), store.open("nope/absent.bin"):
        pass


def test_list_is_recursive_sorted_and_filtered(store: ObjectStore) -> None:
    keys = ["b/2.bin", "a/x/1.bin", "a/1.bin", "ab.bin", "a/x/0.bin", "c.bin"]
    for i, key in enumerate(keys):
        body = f"object {i}".encode()
        store.put(key, body, sha256=sha(body))
    listed = list(store.list())
    assert [o.key for o in listed] == sorted(keys)
    assert all(isinstance(o, ObjectInfo) and o.sha256 and o.size > 0 for o in listed)
    assert [o.key for o in store.list("a/")] == ["a/1.bin", "a/x/0.bin", "a/x/1.bin"]
    assert [o.key for o in store.list("a")] == ["a/1.bin", "a/x/0.bin", "a/x/1.bin", "ab.bin"]
    assert [o.key for o in store.list("a/x/")] == ["a/x/0.bin", "a/x/1.bin"]
    assert list(store.list("zzz/")) == []


def test_wrong_checksum_refused_and_nothing_left(store: ObjectStore, tmp_path: Path) -> None:
    src = tmp_path / "scan.tif"
    src.write_bytes(PAGE)
    for data in (PAGE, src, io.BytesIO(PAGE)):
        with pytest.raises(ChecksumMismatch) as err:
            store.put("330106/bad.tif", data, sha256=sha(b"something else"))
        assert (err.value.expected, err.value.found) == (sha(b"something else"), sha(PAGE))
    assert not store.exists("330106/bad.tif")
    assert list(store.list()) == []
    assert leftovers(store) == []


def test_same_bytes_again_is_idempotent(store: ObjectStore) -> None:
    first = store.put("k/page.tif", PAGE, sha256=sha(PAGE), metadata={"v": "1"})
    again = store.put("k/page.tif", io.BytesIO(PAGE), sha256=sha(PAGE), metadata={"v": "2"})
    assert again == first  # returns the stored object; nothing rewritten
    assert store.stat("k/page.tif").metadata == {"v": "1"}
    assert len(leftovers(store)) == 1  # one metadata file (local) / one object version (s3)


def test_different_bytes_same_key_refused(store: ObjectStore) -> None:
    store.put("k/page.tif", PAGE, sha256=sha(PAGE))
    with pytest.raises(ObjectConflict):
        store.put("k/page.tif", b"other", sha256=sha(b"other"))
    assert store.get("k/page.tif") == PAGE


@pytest.mark.parametrize(
    "key",
    ["../escape", "a/../../b", "/abs", "a//b", "a/./b", "a\\b", "nul\x00byte", "tab\there", "", "x" * 1025, "a/"],
)
def test_unsafe_keys_refused(store: ObjectStore, key: str) -> None:
    with pytest.raises(UnsafePath):
        store.put(key, b"x", sha256=sha(b"x"))
    for op in ("get", "stat", "exists", "delete"):
        with pytest.raises(UnsafePath):
            getattr(store, op)(key)
    assert list(store.list()) == []


def test_unicode_key_allowed(store: ObjectStore) -> None:
    key = "330106/西湖区/养老保险/档案 001.pdf"
    store.put(key, PAGE, sha256=sha(PAGE))
    assert [o.key for o in store.list("330106/")] == [key]
    assert store.get(key) == PAGE


def test_delete_and_masters_protection(store: ObjectStore) -> None:
    store.put("330106/derivatives/p1.jpg", b"jpg", sha256=sha(b"jpg"))
    store.put("330106/masters/p1.tif", PAGE, sha256=sha(PAGE))
    store.put("masters/top.tif", PAGE, sha256=sha(PAGE))
    store.delete("330106/derivatives/p1.jpg")
    assert not store.exists("330106/derivatives/p1.jpg")
    for key in ("330106/masters/p1.tif", "masters/top.tif"):
        with pytest.raises(DeleteRefused):
            store.delete(key)
        assert store.get(key) == PAGE
    assert [o.key for o in store.list()] == ["330106/masters/p1.tif", "masters/top.tif"]


def test_retention(store: ObjectStore) -> None:
    assert store.supports_retention()
    until = datetime.now(UTC) + timedelta(days=30)
    info = store.put("330106/sealed.tif", PAGE, sha256=sha(PAGE), retain_until=until)
    assert info.retain_until == until.replace(microsecond=0)
    assert store.stat("330106/sealed.tif").retain_until == until.replace(microsecond=0)
    with pytest.raises(DeleteRefused):
        store.delete("330106/sealed.tif")
    assert store.exists("330106/sealed.tif")
    store.clock = lambda: until + timedelta(seconds=1)  # type: ignore[attr-defined]
    store.delete("330106/sealed.tif")
    assert not store.exists("330106/sealed.tif")


@pytest.mark.parametrize("bad", [datetime(2030, 1, 1), datetime(2000, 1, 1, tzinfo=UTC)])
def test_retention_must_be_aware_and_future(store: ObjectStore, bad: datetime) -> None:
    with pytest.raises(ValueError):
        store.put("k.bin", b"x", sha256=sha(b"x"), retain_until=bad)
    assert not store.exists("k.bin")


def test_presigned_url_fetchable(store: ObjectStore) -> None:
    store.put("330106/share/p1.tif", PAGE, sha256=sha(PAGE))
    url = store.presigned_get_url("330106/share/p1.tif", expires=timedelta(minutes=5))
    with urllib.request.urlopen(url, timeout=10) as response:
        assert response.read() == PAGE


def test_streaming_put_of_large_file_uses_bounded_memory(store: ObjectStore, tmp_path: Path) -> None:
    big = tmp_path / "big.tif"
    block = bytes(range(256)) * 4096  # 1 MiB
    with big.open("wb") as fh:
        for i in range(32):
            fh.write(block[i:] + block[:i])
    expected = sha(big.read_bytes())
    tracemalloc.start()
    try:
        info = store.put("330106/big.tif", big, sha256=expected)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert info.size == 32 << 20 and info.sha256 == expected
    assert peak < 12 << 20, f"peak {peak / 2**20:.1f} MiB while storing a 32 MiB file"
    with store.open("330106/big.tif") as fh:
        assert fh.read(1 << 20) == block


def test_put_from_non_seekable_stream(store: ObjectStore) -> None:
    class Pipe(io.RawIOBase):
        def __init__(self, data: bytes) -> None:
            self._inner = io.BytesIO(data)

        def readable(self) -> bool:
            return True

        def seekable(self) -> bool:
            return False

        def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
            chunk = self._inner.read(min(len(buffer), 777))
            buffer[: len(chunk)] = chunk
            return len(chunk)

    assert store.put("pipe.bin", cast(BinaryIO, Pipe(PAGE)), sha256=sha(PAGE)).size == len(PAGE)
    assert store.get("pipe.bin") == PAGE
    with pytest.raises(ChecksumMismatch):
        store.put("pipe2.bin", cast(BinaryIO, Pipe(PAGE)), sha256=sha(b"no"))
    assert not store.exists("pipe2.bin")


def test_copy_within_store(store: ObjectStore) -> None:
    store.put("330106/masters/p1.tif", PAGE, sha256=sha(PAGE), content_type="image/tiff", metadata={"b": "1"})
    copied = store.copy("330106/masters/p1.tif", "transfer/330106/p1.tif")
    assert (copied.key, copied.sha256, copied.size) == ("transfer/330106/p1.tif", sha(PAGE), len(PAGE))
    assert (copied.content_type, copied.metadata) == ("image/tiff", {"b": "1"})
    assert store.get("transfer/330106/p1.tif") == PAGE
    assert store.copy("330106/masters/p1.tif", "transfer/330106/p1.tif") == copied  # idempotent
    store.put("other.bin", b"other", sha256=sha(b"other"))
    with pytest.raises(ObjectConflict):
        store.copy("330106/masters/p1.tif", "other.bin")
    with pytest.raises(ObjectNotFound):
        store.copy("absent.bin", "x.bin")
