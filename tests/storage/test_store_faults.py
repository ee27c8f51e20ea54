"""Disk full, read-only and unreadable stores end in coded errors, leave no temp file, and leftovers are swept."""

from __future__ import annotations

import errno
import http.server
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from dangan.errors import (
    ObjectNotFound,
    StoreDiskFull,
    StoreError,
    StoreIOError,
    StorePermissionDenied,
    StoreReadOnly,
)
from dangan.storage import LocalStore
from dangan.storage import local as local_mod
from tests.storage.conftest import leftovers, sha

PAGE = os.urandom(3 * 1024 * 1024)  # three 1 MiB chunks: a write can fail after the first one landed


class _FillingFile:
    """A temp file whose second write fails with ``code`` (the first one lands: a partial file exists)."""

    def __init__(self, fh: object, code: int) -> None:
        self._fh, self._code, self._writes = fh, code, 0

    def write(self, chunk: bytes) -> int:
        self._writes += 1
        if self._writes > 1:
            raise OSError(self._code, os.strerror(self._code))
        return self._fh.write(chunk)  # type: ignore[attr-defined,no-any-return]

    def __getattr__(self, name: str) -> object:
        return getattr(self._fh, name)


@pytest.mark.parametrize(
    ("code", "cls"),
    [
        (errno.ENOSPC, StoreDiskFull),
        (errno.EDQUOT, StoreDiskFull),
        (errno.EROFS, StoreReadOnly),
        (errno.EACCES, StorePermissionDenied),
        (errno.EIO, StoreIOError),
    ],
)
@pytest.mark.parametrize("stage", ["write", "fsync", "claim"])
def test_os_errors_while_writing_are_coded_and_leave_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, code: int, cls: type[StoreError], stage: str
) -> None:
    store = LocalStore(tmp_path / "store")
    store.put("a/kept.bin", b"kept", sha256=sha(b"kept"))

    def fail(*args: object, **kwargs: object) -> None:
        raise OSError(code, os.strerror(code))

    if stage == "write":  # the disk fills after the first bytes were written to the temp file
        monkeypatch.setattr(local_mod, "open", lambda path, mode: _FillingFile(open(path, mode), code), raising=False)  # noqa: SIM115
    elif stage == "fsync":
        monkeypatch.setattr(local_mod.os, "fsync", fail)
    else:  # metadata claim (hard link) at the commit point
        monkeypatch.setattr(local_mod.os, "link", fail)
    with pytest.raises(cls) as info:
        store.put("a/p1.tif", PAGE, sha256=sha(PAGE))
    err = info.value
    assert err.code == cls.code and not err.transient
    assert err.details["errno"] == errno.errorcode[code] and err.details["key"] == "a/p1.tif"
    assert err.hint and any("\u4e00" <= ch <= "\u9fff" for ch in err.hint)  # English plus Chinese
    monkeypatch.undo()
    assert not store.exists("a/p1.tif")
    assert [i.key for i in store.list()] == ["a/kept.bin"]
    assert leftovers(store) == [".meta/a/kept.bin.json"]  # no temp file, no claim
    assert store.put("a/p1.tif", PAGE, sha256=sha(PAGE)).size == len(PAGE)  # nothing blocks a rerun


def test_restore_on_a_full_disk_keeps_old_bytes_and_no_temp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = LocalStore(tmp_path / "store")
    store.put("a/p1.tif", PAGE, sha256=sha(PAGE))

    def full(*args: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(local_mod.os, "fsync", full)
    with pytest.raises(StoreDiskFull):
        store.restore("a/p1.tif", PAGE, sha256=sha(PAGE))
    monkeypatch.undo()
    assert store.get("a/p1.tif") == PAGE
    assert leftovers(store) == [".meta/a/p1.tif.json"]


def test_unreadable_object_and_folder_are_coded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = LocalStore(tmp_path / "store")
    store.put("a/p1.tif", PAGE, sha256=sha(PAGE))
    real_open = Path.open

    def eio_open(self: Path, *args: object, **kwargs: object):  # type: ignore[no-untyped-def]
        if self.name == "p1.tif":
            raise OSError(errno.EIO, "Input/output error")
        return real_open(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(Path, "open", eio_open)
    with pytest.raises(StoreIOError, match="EIO"):
        store.get("a/p1.tif")
    monkeypatch.undo()

    def denied_walk(top: str, onerror=None, **kwargs: object):  # type: ignore[no-untyped-def]
        onerror(PermissionError(errno.EACCES, "Permission denied", top))
        return iter(())

    monkeypatch.setattr(local_mod.os, "walk", denied_walk)
    with pytest.raises(StorePermissionDenied):  # a listing that silently skips a folder would be wrong
        list(store.list("a/"))


# --- a real full / read-only file system (tmpfs; needs root and mount, else skipped) ---------------------------
@pytest.fixture
def tiny_fs(tmp_path: Path) -> Iterator[Path]:
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    made = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=512k", "tmpfs", str(mnt)], capture_output=True)
    if made.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {made.stderr.decode(errors='replace').strip()}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def test_real_full_disk(tiny_fs: Path) -> None:
    store = LocalStore(tiny_fs / "store")
    small = os.urandom(100 * 1024)
    store.put("a/small.bin", small, sha256=sha(small))
    big = os.urandom(600 * 1024)
    with pytest.raises(StoreDiskFull) as info:
        store.put("a/big.bin", big, sha256=sha(big))
    assert "ENOSPC" in str(info.value)
    assert not store.exists("a/big.bin") and store.get("a/small.bin") == small
    assert leftovers(store) == [".meta/a/small.bin.json"]  # the half-written temp file is gone
    store.put("a/again.bin", small[:1000], sha256=sha(small[:1000]))  # space was given back


def test_real_read_only_disk(tiny_fs: Path) -> None:
    store = LocalStore(tiny_fs / "store")
    SMALL = b"scan" * 1000
    store.put("a/p1.tif", SMALL, sha256=sha(SMALL))
    subprocess.run(["mount", "-o", "remount,ro", str(tiny_fs)], check=True)
    reopened = LocalStore(tiny_fs / "store")  # opening a read-only store for reading works
    assert reopened.get("a/p1.tif") == SMALL
    with pytest.raises(StoreReadOnly, match="EROFS"):
        reopened.put("a/p2.tif", b"x", sha256=sha(b"x"))
    with pytest.raises(StoreReadOnly):
        reopened.restore("a/p1.tif", SMALL, sha256=sha(SMALL))
    assert leftovers(reopened) == [".meta/a/p1.tif.json"]


# --- leftovers of killed writers -----------------------------------------------------------------------------
def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def _age(path: Path, seconds: float) -> None:
    old = time.time() - seconds
    os.utime(path, (old, old))


def test_store_open_removes_temp_files_of_dead_writers_only(tmp_path: Path) -> None:
    root = tmp_path / "store"
    LocalStore(root)
    tmp = root / ".tmp"
    host, started = local_mod._HOST, local_mod._STARTED
    dead = tmp / f"{host}_{_dead_pid()}_{started}_ab12.data"
    dead_fresh = tmp / f"{host}_{_dead_pid()}_{started}_cd34.data"
    alive = tmp / f"{host}_{os.getpid()}_{started}_ef56.data"
    foreign = tmp / f"otherhost_1_{started}_0a0b.meta"
    ancient = tmp / "0123abcd.data"  # a name from before temp names carried their writer
    for p in (dead, dead_fresh, alive, foreign, ancient):
        p.write_bytes(b"partial")
    for p in (dead, alive, foreign):
        _age(p, 3600)
    _age(ancient, 25 * 3600)
    LocalStore(root)
    assert sorted(p.name for p in tmp.iterdir()) == sorted([dead_fresh.name, alive.name, foreign.name])


def test_sweep_reports_leftovers_and_removes_the_safe_ones(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "store")
    store.put("a/p1.tif", PAGE, sha256=sha(PAGE))
    tmp = store.root / ".tmp"
    dead = tmp / f"{local_mod._HOST}_{_dead_pid()}_{local_mod._STARTED}_ab12.data"
    busy = tmp / f"{local_mod._HOST}_{os.getpid()}_{local_mod._STARTED}_cd34.data"
    claim = store.root / ".meta" / "a" / "orphan.tif.json"
    for p in (dead, busy, claim):
        p.write_bytes(b"{}")
    _age(dead, 1200)
    _age(claim, 2 * 3600)
    found = {left.path: left for left in store.sweep_temp(remove=False)}
    assert set(found) == {f".tmp/{dead.name}", ".meta/a/orphan.tif.json"}  # the fresh in-flight file is no leftover
    assert found[f".tmp/{dead.name}"].writer == "dead" and not any(f.removed for f in found.values())
    removed = store.sweep_temp()
    assert {left.path for left in removed if left.removed} == set(found)
    assert busy.exists() and not dead.exists() and not claim.exists()
    assert store.get("a/p1.tif") == PAGE
    with pytest.raises(ObjectNotFound):
        store.stat("a/orphan.tif")
    assert store.cleanup_stale_temp(older_than=timedelta(hours=1)) == 0


# --- S3: the server's "full" and "denied" answers map to the same codes -----------------------------------------
def _s3_error(code: str) -> bytes:
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><Error><Code>{code}</Code><Message>{code}</Message>'
        "<Resource>/bkt/a.bin</Resource><RequestId>1</RequestId></Error>"
    ).encode()


@pytest.fixture
def refusing_s3() -> Iterator[tuple[str, dict[str, tuple[int, bytes]]]]:
    """An S3 endpoint that answers HEAD with 404 and PUT with whatever the test sets."""
    answers: dict[str, tuple[int, bytes]] = {"PUT": (507, _s3_error("XMinioStorageFull"))}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_HEAD(self) -> None:
            status, _ = answers.get("HEAD", (404, b""))
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def do_PUT(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            status, body = answers["PUT"]
            self.send_response(status)
            self.send_header("Content-Type", "application/xml")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"127.0.0.1:{server.server_address[1]}", answers
    server.shutdown()


def test_s3_full_and_denied_map_to_the_local_codes(refusing_s3: tuple[str, dict[str, tuple[int, bytes]]]) -> None:
    from dangan.storage.s3 import S3Store

    endpoint, answers = refusing_s3
    store = S3Store(
        endpoint, "bkt", access_key="k", secret_key="s", secure=False, region="us-east-1",
        create_bucket=False, max_retries=0,
    )  # fmt: skip
    with pytest.raises(StoreDiskFull, match="XMinioStorageFull"):
        store.put("a.bin", b"x", sha256=sha(b"x"))
    answers["PUT"] = (403, _s3_error("AccessDenied"))
    with pytest.raises(StorePermissionDenied, match="AccessDenied"):
        store.put("a.bin", b"x", sha256=sha(b"x"))
    answers["HEAD"] = (507, b"")  # a bare 507 without an XML body
    with pytest.raises(StoreDiskFull, match="507"):
        store.stat("a.bin")
