"""Copies between stores: server-side within a bucket, streamed and re-verified everywhere else."""

from __future__ import annotations

import io
import os
from typing import Any

import pytest

from dangan.errors import ChecksumMismatch
from dangan.storage import LocalStore, ObjectStore
from dangan.storage.s3 import S3Store
from tests.storage.conftest import leftovers, sha

PAGE = b"II*\x00 synthetic tiff bytes " * 300


@pytest.mark.parametrize("direction", ["local->s3", "s3->local"])
def test_cross_store_copy(local_store: LocalStore, s3_store: S3Store, direction: str) -> None:
    src, dst = (local_store, s3_store) if direction == "local->s3" else (s3_store, local_store)
    src.put("330106/masters/p1.tif", PAGE, sha256=sha(PAGE), content_type="image/tiff", metadata={"n": "1"})
    info = src.copy("330106/masters/p1.tif", "in/330106/p1.tif", dst_store=dst)
    assert (info.sha256, info.size, info.content_type) == (sha(PAGE), len(PAGE), "image/tiff")
    assert info.metadata == {"n": "1"}
    assert dst.get("in/330106/p1.tif") == PAGE
    assert not src.exists("in/330106/p1.tif")


def test_same_bucket_copy_is_server_side(s3_store: S3Store, monkeypatch: pytest.MonkeyPatch) -> None:
    s3_store.put("a.tif", PAGE, sha256=sha(PAGE))
    calls: list[str] = []
    real = s3_store.client.copy_object

    def spy(*args: Any, **kwargs: Any) -> Any:
        calls.append(args[1])
        return real(*args, **kwargs)

    monkeypatch.setattr(s3_store.client, "copy_object", spy)
    monkeypatch.setattr(s3_store.client, "get_object", lambda *a, **k: pytest.fail("streamed copy"))
    assert s3_store.copy("a.tif", "b.tif").sha256 == sha(PAGE)
    assert calls == ["site/330106/b.tif"]


def _corrupt(store: ObjectStore, key: str) -> None:
    """Change stored bytes behind the store's back (bit rot / tampering), keeping the recorded SHA-256."""
    if isinstance(store, LocalStore):
        path = store.root / key
        os.chmod(path, 0o644)
        path.write_bytes(PAGE.replace(b"synthetic", b"SYNTHETIC", 1))
    else:
        assert isinstance(store, S3Store)
        bad = PAGE.replace(b"synthetic", b"SYNTHETIC", 1)
        store.client.put_object(
            store.bucket, f"{store.prefix}/{key}", io.BytesIO(bad), len(bad), metadata={"sha256": sha(PAGE)}
        )


@pytest.mark.parametrize("kind", ["local", "s3"])
def test_streamed_copy_detects_corrupt_source(
    local_store: LocalStore, s3_store: S3Store, tmp_path: object, kind: str
) -> None:
    src, dst = (local_store, s3_store) if kind == "local" else (s3_store, local_store)
    src.put("p1.tif", PAGE, sha256=sha(PAGE))
    _corrupt(src, "p1.tif")
    with pytest.raises(ChecksumMismatch):
        src.copy("p1.tif", "copy/p1.tif", dst_store=dst)
    assert not dst.exists("copy/p1.tif")
    assert leftovers(dst) == []
