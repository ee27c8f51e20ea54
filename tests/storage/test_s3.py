"""S3Store specifics: object-lock headers, fault handling (dead server, 5xx), verification after upload."""

from __future__ import annotations

import http.server
import io
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from dangan.errors import ChecksumMismatch, ConfigError, StoreUnavailable, is_transient
from dangan.storage import open_store
from dangan.storage.s3 import S3Store
from tests.fixtures_s3 import S3TestServer, free_port
from tests.storage.conftest import leftovers, sha

PAGE = b"synthetic master page " * 500


def test_retention_is_visible_in_head(s3_store: S3Store, s3_server: S3TestServer) -> None:
    until = datetime.now(UTC) + timedelta(days=3650)
    info = s3_store.put("masters/p1.tif", PAGE, sha256=sha(PAGE), retain_until=until)
    head = s3_server.minio_client().stat_object(s3_store.bucket, "site/330106/masters/p1.tif")
    assert head.metadata["x-amz-object-lock-mode"] == "GOVERNANCE"
    retained = datetime.fromisoformat(head.metadata["x-amz-object-lock-retain-until-date"])
    assert retained == until.replace(microsecond=0)
    assert head.metadata["x-amz-meta-sha256"] == sha(PAGE)
    assert info.version_id and info.retain_until == retained


def test_bucket_without_object_lock(s3_server: S3TestServer, s3_bucket: str) -> None:
    store = open_store(s3_server.url(s3_bucket))
    assert not store.supports_retention()
    with pytest.raises(ConfigError):
        store.put("k.bin", b"x", sha256=sha(b"x"), retain_until=datetime.now(UTC) + timedelta(days=1))
    assert not store.exists("k.bin")
    with pytest.raises(ConfigError):  # lock cannot be added to an existing bucket
        open_store(s3_server.url(s3_bucket, object_lock=True))


def test_prefix_maps_to_bucket_keys(s3_store: S3Store, s3_server: S3TestServer) -> None:
    s3_store.put("p1.tif", PAGE, sha256=sha(PAGE))
    raw = [o.object_name for o in s3_server.minio_client().list_objects(s3_store.bucket, recursive=True)]
    assert raw == ["site/330106/p1.tif"]
    assert s3_store.name == f"s3://{s3_store.bucket}/site/330106"
    assert [o.key for o in s3_store.list()] == ["p1.tif"]


def test_source_changing_during_upload_is_caught(s3_store: S3Store) -> None:
    class Shifty(io.BytesIO):
        """Seekable stream whose content changes after the first (hashing) pass, like a file still being written."""

        passes = 0

        def seek(self, pos: int, whence: int = 0) -> int:
            self.passes += 1
            if self.passes == 1:
                self.getbuffer()[:5] = b"XXXXX"
            return super().seek(pos, whence)

    with pytest.raises(ChecksumMismatch) as err:
        s3_store.put("p1.tif", Shifty(PAGE), sha256=sha(PAGE))
    assert err.value.found == sha(b"XXXXX" + PAGE[5:])  # caught on the bytes actually uploaded
    assert not s3_store.exists("p1.tif")
    assert leftovers(s3_store) == []  # the uploaded version itself was removed


def _dead_store(**kw: object) -> S3Store:
    return S3Store(
        f"127.0.0.1:{free_port()}",
        "dangan-dead",
        access_key="k",
        secret_key="s",
        secure=False,
        region="us-east-1",
        connect_timeout=0.5,
        read_timeout=1,
        max_retries=1,
        **kw,  # type: ignore[arg-type]
    )


def test_dead_server_is_store_unavailable_quickly() -> None:
    started = time.monotonic()
    with pytest.raises(StoreUnavailable) as err:
        _dead_store()  # creating the bucket needs the server
    assert is_transient(err.value)
    store = _dead_store(create_bucket=False)
    for call in (lambda: store.stat("a"), lambda: store.put("a", b"x", sha256=sha(b"x")), lambda: list(store.list())):
        with pytest.raises(StoreUnavailable):
            call()
    assert time.monotonic() - started < 10


@pytest.fixture
def failing_http() -> Iterator[str]:
    """An HTTP server answering 503 to everything (an overloaded gateway in front of the store)."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def _fail(self) -> None:
            self.send_response(503)
            self.send_header("Content-Length", "0")
            self.end_headers()

        do_GET = do_HEAD = do_PUT = do_POST = do_DELETE = _fail

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_server_errors_are_store_unavailable(failing_http: str) -> None:
    store = S3Store(
        failing_http, "bkt-503", access_key="k", secret_key="s", secure=False, region="us-east-1",
        create_bucket=False, max_retries=1,
    )  # fmt: skip
    with pytest.raises(StoreUnavailable):
        store.stat("a.bin")
    with pytest.raises(StoreUnavailable):
        store.get("a.bin")


def test_server_stop_and_restart(s3_server: S3TestServer, s3_bucket: str) -> None:
    if s3_server.external:
        pytest.skip("needs the moto subprocess")
    store = open_store(s3_server.url(s3_bucket))
    store.put("a.bin", b"a", sha256=sha(b"a"))
    s3_server.stop()
    try:
        with pytest.raises(StoreUnavailable):
            store.stat("a.bin")
        with pytest.raises(StoreUnavailable):
            store.put("b.bin", b"b", sha256=sha(b"b"))
    finally:
        s3_server.start()
    fresh = open_store(s3_server.url(s3_bucket))  # moto forgot the bucket; the store recreates it
    assert fresh.put("b.bin", b"b", sha256=sha(b"b")).size == 1
