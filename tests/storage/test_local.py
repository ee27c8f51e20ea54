"""LocalStore specifics: crash safety, stale-temp cleanup, concurrent writers, on-disk layout."""

from __future__ import annotations

import multiprocessing
import os
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest

from dangan.errors import ObjectConflict, StoreDiskFull, UnsafePath
from dangan.storage import LocalStore
from tests.storage.conftest import leftovers, sha

PAGE = b"synthetic scan " * 1000

_CRASHING_WRITER = """
import os, sys
from pathlib import Path
from dangan.storage import LocalStore
def crash(self, tmp, final):
    os._exit(17)  # power cut between the durable temp write and the publishing link
LocalStore._publish = crash
data = Path(sys.argv[2]).read_bytes()
LocalStore(sys.argv[1]).put("330106/masters/p1.tif", data, sha256=sys.argv[3])
"""


def test_real_crash_before_publish_leaves_nothing_visible(tmp_path: Path) -> None:
    root, src = tmp_path / "store", tmp_path / "p1.tif"
    src.write_bytes(PAGE)
    proc = subprocess.run(
        [sys.executable, "-c", _CRASHING_WRITER, str(root), str(src), sha(PAGE)],
        cwd=Path(__file__).resolve().parents[2],
        capture_output=True,
        timeout=60,
    )
    assert proc.returncode == 17, proc.stderr.decode()
    store = LocalStore(root)
    assert not store.exists("330106/masters/p1.tif")
    assert list(store.list()) == []
    assert len(list((root / ".tmp").iterdir())) == 2  # the crash left its temp data + metadata
    # the orphaned claim blocks different content until cleaned up ...
    with pytest.raises(ObjectConflict):
        store.put("330106/masters/p1.tif", b"other", sha256=sha(b"other"))
    assert store.cleanup_stale_temp(older_than=timedelta(hours=1)) == 0  # too fresh to touch
    assert store.cleanup_stale_temp(older_than=timedelta(0)) == 3
    assert leftovers(store) == []
    # ... and a retry of the same write succeeds afterwards
    assert store.put("330106/masters/p1.tif", src, sha256=sha(PAGE)).size == len(PAGE)


def test_retry_with_same_bytes_completes_a_crashed_claim(tmp_path: Path) -> None:
    root, src = tmp_path / "store", tmp_path / "p1.tif"
    src.write_bytes(PAGE)
    subprocess.run(
        [sys.executable, "-c", _CRASHING_WRITER, str(root), str(src), sha(PAGE)],
        cwd=Path(__file__).resolve().parents[2],
        timeout=60,
    )
    store = LocalStore(root)
    assert store.put("330106/masters/p1.tif", PAGE, sha256=sha(PAGE)).sha256 == sha(PAGE)
    assert store.get("330106/masters/p1.tif") == PAGE


def test_failed_publish_rolls_back(local_store: LocalStore, monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(tmp: Path, final: Path) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(local_store, "_publish", boom)
    with pytest.raises(StoreDiskFull, match="No space"):
        local_store.put("a/p1.tif", PAGE, sha256=sha(PAGE))
    assert not local_store.exists("a/p1.tif")
    assert list(local_store.list()) == []
    assert leftovers(local_store) == []
    monkeypatch.undo()
    assert local_store.put("a/p1.tif", b"new", sha256=sha(b"new")).size == 3  # the key is free again


def test_cleanup_spares_fresh_temp_files(local_store: LocalStore) -> None:
    stale, fresh = local_store.root / ".tmp" / "stale.data", local_store.root / ".tmp" / "fresh.data"
    stale.write_bytes(b"x")
    fresh.write_bytes(b"y")
    old = time.time() - 7200
    os.utime(stale, (old, old))
    assert local_store.cleanup_stale_temp(older_than=timedelta(hours=1)) == 1
    assert not stale.exists() and fresh.exists()


def _writer(root: str, n: int, tag: bytes, queue: multiprocessing.Queue) -> None:
    store = LocalStore(root)
    outcomes = []
    for i in range(n):
        shared, contested = b"same %d" % i, b"%s %d" % (tag, i)
        store.put(f"same/{i}.bin", shared, sha256=sha(shared))
        try:
            store.put(f"contested/{i}.bin", contested, sha256=sha(contested))
            outcomes.append("won")
        except ObjectConflict:
            outcomes.append("lost")
    queue.put(outcomes)


def test_concurrent_writers_never_corrupt(tmp_path: Path) -> None:
    root = str(tmp_path / "store")
    LocalStore(root)
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    procs = [ctx.Process(target=_writer, args=(root, 40, tag, queue)) for tag in (b"A", b"B")]
    for p in procs:
        p.start()
    results = [queue.get(timeout=60) for _ in procs]
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    store = LocalStore(root)
    for i in range(40):
        assert [r[i] for r in results].count("won") == 1  # exactly one writer per contested key
        for key in (f"same/{i}.bin", f"contested/{i}.bin"):
            info = store.stat(key)
            assert sha(store.get(key)) == info.sha256
    assert list((Path(root) / ".tmp").iterdir()) == []


def test_layout_and_reserved_names(local_store: LocalStore) -> None:
    local_store.put("a/b.tif", PAGE, sha256=sha(PAGE))
    path = local_store.root / "a" / "b.tif"
    assert path.read_bytes() == PAGE
    assert not os.access(path, os.W_OK) or os.geteuid() == 0  # stored objects are read-only
    assert local_store.name == f"local:{local_store.root}"
    assert local_store.presigned_get_url("a/b.tif") == path.as_uri()
    for key in (".meta/a/b.tif.json", ".tmp/x"):
        with pytest.raises(UnsafePath):
            local_store.put(key, b"x", sha256=sha(b"x"))
    assert list(local_store.list(".meta/")) == []


def test_object_and_prefix_cannot_share_a_name(local_store: LocalStore) -> None:
    local_store.put("a/b", b"x", sha256=sha(b"x"))
    with pytest.raises(ObjectConflict):
        local_store.put("a/b/c", b"y", sha256=sha(b"y"))
    with pytest.raises(ObjectConflict):
        local_store.put("a", b"z", sha256=sha(b"z"))
    assert [o.key for o in local_store.list()] == ["a/b"]
    assert leftovers(local_store) == [".meta/a/b.json"]


def test_delete_prunes_empty_directories(local_store: LocalStore) -> None:
    local_store.put("x/y/z.bin", b"1", sha256=sha(b"1"))
    local_store.delete("x/y/z.bin")
    assert not (local_store.root / "x").exists()
    assert not (local_store.root / ".meta" / "x").exists()
