"""Object store on a local (or mounted) filesystem, crash-safe and safe for concurrent writers.

Layout under the root: objects at ``<root>/<key>``, their metadata at ``<root>/.meta/<key>.json`` and
in-flight writes in ``<root>/.tmp/``. A put streams into a temp file while hashing, fsyncs it, claims the key
by hard-linking a complete metadata file into place (``link`` fails if the target exists, so exactly one
writer wins), then publishes the data with a second hard link and fsyncs the directory. An object is
visible only once its data file exists, so a crash at any point leaves nothing partial in ``list()``.

Operating-system errors (disk full, read-only file system, permission denied, I/O error) become coded
``StoreError``s (``STORE_DISK_FULL`` …) and every writer removes its own temp files on every failure path. Temp
names carry the writer's host, pid and start time, so temp files left by a killed process are recognised and
removed when a store is opened (``sweep_temp``); ``dangan fixity`` reports every leftover it finds.
"""

from __future__ import annotations

import builtins
import json
import os
import re
import socket
import stat
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, BinaryIO

from dangan.errors import ChecksumMismatch, DanganError, ObjectConflict, ObjectNotFound, UnsafePath
from dangan.pii import scrub
from dangan.storage.base import (
    DEFAULT_CONTENT_TYPE,
    DEFAULT_PROTECTED_PREFIXES,
    Clock,
    DataSource,
    ObjectInfo,
    ObjectStore,
    check_deletable,
    check_restorable,
    same_or_conflict,
    store_os_error,
    stream_copy,
    translate_os_errors,
    utcnow,
    validate_key,
    validate_metadata,
    validate_prefix,
    validate_retain_until,
)
from dangan.storage.hashing import copy_hashing, normalize_sha256, open_source

META_DIR = ".meta"
TMP_DIR = ".tmp"
_RESERVED = {META_DIR, TMP_DIR}
#: A temp file whose writer (this host, pid not alive) is gone is removed once it is this old: the grace covers a
#: writer in another pid namespace that shares the host name (containers), which keeps touching its file.
DEAD_WRITER_GRACE = timedelta(minutes=10)
#: At store open, any temp file this old is removed whoever wrote it (no put takes a day between two writes).
OPEN_SWEEP_AFTER = timedelta(hours=24)
_HOST = re.sub(r"[^A-Za-z0-9-]", "-", socket.gethostname())[:40] or "host"
_STARTED = int(time.time())
_TEMP_NAME = re.compile(r"^(?P<host>[A-Za-z0-9-]+)_(?P<pid>\d+)_(?P<started>\d+)_[0-9a-f]+\.[a-z]+$")


@dataclass(frozen=True)
class TempLeftover:
    """A file a writer left behind: a temp file under ``.tmp/`` or a claim (metadata without data).

    ``writer``: ``dead`` (this host, pid gone), ``alive``, ``other-host`` or ``unknown`` (no pid in the name);
    ``removed``: whether this sweep deleted it.
    """

    path: str  # relative to the store root, e.g. ".tmp/host_12_1700000000_ab12.data"
    kind: str  # temp | claim
    size: int
    age_s: int
    writer: str
    removed: bool


class LocalStore:
    """Write-once object store rooted at a directory (see module docstring for the on-disk protocol)."""

    def __init__(
        self,
        root: Path | str,
        *,
        protected_prefixes: Sequence[str] = DEFAULT_PROTECTED_PREFIXES,
        clock: Clock = utcnow,
    ) -> None:
        self.root = Path(root).absolute()
        self.name = f"local:{self.root}"
        self.protected_prefixes = tuple(protected_prefixes)
        self.clock = clock
        with translate_os_errors(self.name, "open"):
            for sub in (self.root, self.root / META_DIR, self.root / TMP_DIR):
                sub.mkdir(parents=True, exist_ok=True)
        # temp files of killed writers; best effort: a read-only store still opens for reading
        with suppress(OSError, DanganError):
            self.sweep_temp(older_than=OPEN_SWEEP_AFTER, claims=False)

    def _io(self, action: str, key: str = "") -> Any:
        """Context manager: ``OSError`` → the coded store error (``STORE_DISK_FULL`` …)."""
        return translate_os_errors(self.name, action, key)

    def _temp_path(self, suffix: str) -> Path:
        """A fresh temp name that says who wrote it: ``<host>_<pid>_<process start>_<random><suffix>``."""
        return self.root / TMP_DIR / f"{_HOST}_{os.getpid()}_{_STARTED}_{uuid.uuid4().hex[:16]}{suffix}"

    # --- paths -------------------------------------------------------------------------------------------
    def _key(self, key: str) -> str:
        validate_key(key)
        if key.split("/", 1)[0] in _RESERVED:
            raise UnsafePath(f"object key uses a reserved top-level name: {scrub(key)}", key=scrub(key))
        return key

    def _data_path(self, key: str) -> Path:
        return self.root / key

    def _meta_path(self, key: str) -> Path:
        return self.root / META_DIR / f"{key}.json"

    # --- reads -------------------------------------------------------------------------------------------
    def stat(self, key: str) -> ObjectInfo:
        """Info of an existing object; ``ObjectNotFound`` when absent (or not yet published)."""
        path = self._data_path(self._key(key))
        try:
            st = path.stat()
        except (FileNotFoundError, NotADirectoryError):
            raise ObjectNotFound(f"{scrub(key)} not found in {self.name}", key=scrub(key)) from None
        except OSError as exc:
            raise store_os_error(exc, self.name, "read", key) from exc
        if not stat.S_ISREG(st.st_mode):
            raise ObjectNotFound(f"{scrub(key)} not found in {self.name}", key=scrub(key))
        size = st.st_size
        with self._io("read", key):
            meta = _read_json(self._meta_path(key)) or {}
        retain = meta.get("retain_until")
        return ObjectInfo(
            key=key,
            size=size,
            sha256=meta.get("sha256"),
            content_type=meta.get("content_type"),
            metadata=dict(meta.get("metadata") or {}),
            retain_until=datetime.fromisoformat(retain) if retain else None,
            version_id=None,
        )

    def exists(self, key: str) -> bool:
        """True when a published object exists at ``key``."""
        try:
            self.stat(key)
        except ObjectNotFound:
            return False
        return True

    @contextmanager
    def open(self, key: str) -> Iterator[BinaryIO]:
        """Stream an object's bytes."""
        self.stat(key)
        try:
            fh = self._data_path(key).open("rb")
        except FileNotFoundError:  # deleted since the stat
            raise ObjectNotFound(f"{scrub(key)} not found in {self.name}", key=scrub(key)) from None
        except OSError as exc:
            raise store_os_error(exc, self.name, "read", key) from exc
        with fh:
            yield _Translating(fh, self.name, "read", key)  # type: ignore[misc]

    def get(self, key: str) -> bytes:
        """Whole object in memory (small objects only; use ``open`` for scans)."""
        with self.open(key) as fh:
            return fh.read()

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        """Every published object whose key starts with ``prefix``, sorted by key."""
        validate_prefix(prefix)
        if prefix.split("/", 1)[0] in _RESERVED:
            return
        start = self.root / prefix.rsplit("/", 1)[0] if "/" in prefix else self.root
        keys: list[str] = []

        def unreadable(exc: OSError) -> None:
            # os.walk skips folders it cannot read; a listing that silently misses objects is worse than none
            if not isinstance(exc, FileNotFoundError | NotADirectoryError):
                raise store_os_error(exc, self.name, "list", prefix) from exc

        for dirpath, dirnames, filenames in os.walk(start, onerror=unreadable):
            rel_dir = Path(dirpath).relative_to(self.root).as_posix()
            if rel_dir == ".":
                dirnames[:] = [d for d in dirnames if d not in _RESERVED]
            for fname in filenames:
                key = fname if rel_dir == "." else f"{rel_dir}/{fname}"
                if key.startswith(prefix):
                    keys.append(key)
        for key in sorted(keys):
            with suppress(ObjectNotFound):  # deleted while listing
                yield self.stat(key)

    def presigned_get_url(self, key: str, expires: timedelta = timedelta(hours=1)) -> str:
        """A ``file://`` URI (local files need no signature; ``expires`` is ignored)."""
        self.stat(key)
        return self._data_path(key).as_uri()

    def supports_retention(self) -> bool:
        """Retention is enforced by this class (``delete`` refuses before ``retain_until``)."""
        return True

    # --- writes ------------------------------------------------------------------------------------------
    def put(
        self,
        key: str,
        data: DataSource,
        *,
        sha256: str,
        content_type: str | None = None,
        metadata: Mapping[str, str] | None = None,
        retain_until: datetime | None = None,
    ) -> ObjectInfo:
        """Store ``data`` at ``key`` once, verifying its SHA-256 (see module docstring)."""
        self._key(key)
        expected = normalize_sha256(sha256)
        user_meta = validate_metadata(metadata)
        retain = validate_retain_until(retain_until, self.clock())
        with suppress(ObjectNotFound):
            return same_or_conflict(self.name, self.stat(key), expected)
        data_path = self._data_path(key)
        with self._io("write", key):
            self._prepare_parent(key, data_path)
        tmp_data = self._temp_path(".data")
        tmp_meta = tmp_data.with_suffix(".meta")
        claimed = False
        try:
            found, size = self._write_temp(data, tmp_data, key)
            if found != expected:
                raise ChecksumMismatch(scrub(key), "sha256", expected, found)
            record = {
                "key": key,
                "sha256": expected,
                "size": size,
                "content_type": content_type or DEFAULT_CONTENT_TYPE,
                "metadata": user_meta,
                "retain_until": retain.isoformat() if retain else None,
                "stored_at": self.clock().isoformat(),
            }
            with self._io("write", key):
                _write_durable(tmp_meta, json.dumps(record, ensure_ascii=False, sort_keys=True).encode())
                claimed = self._claim(key, tmp_meta, expected)
                self._publish(tmp_data, data_path)
        except BaseException:
            if claimed and not data_path.exists():  # roll back our claim so the key is free again
                with suppress(OSError):
                    self._meta_path(key).unlink()
            raise
        finally:
            _remove_quietly(tmp_data, tmp_meta)  # on a read-only disk this fails too: sweep_temp gets them later
        return self.stat(key)

    def _write_temp(self, data: DataSource, tmp: Path, key: str) -> tuple[str, int]:
        """Stream ``data`` into the new file ``tmp`` while hashing, fsync it and make it read-only.

        Errors reading ``data`` are the caller's and pass unchanged; errors writing are the store's coded ones.
        The caller removes ``tmp`` whatever happens.
        """
        with open_source(data) as src:
            with self._io("write", key):
                out = open(tmp, "xb")  # noqa: SIM115 - closed below, after fsync, whatever happens
            try:
                found, size = copy_hashing(src, _Translating(out, self.name, "write", key))  # type: ignore[arg-type]
                with self._io("write", key):
                    out.flush()
                    os.fsync(out.fileno())
            finally:
                with suppress(OSError):  # a failed flush fails again here; the descriptor is closed anyway
                    out.close()
        with self._io("write", key):
            os.chmod(tmp, 0o444)  # objects are immutable
        return found, size

    def _prepare_parent(self, key: str, data_path: Path) -> None:
        try:
            data_path.parent.mkdir(parents=True, exist_ok=True)
            self._meta_path(key).parent.mkdir(parents=True, exist_ok=True)
        except (FileExistsError, NotADirectoryError):
            raise ObjectConflict(f"a parent of {scrub(key)} is itself an object", key=scrub(key)) from None
        if data_path.is_dir():
            raise ObjectConflict(f"{scrub(key)} is a prefix of other objects", key=scrub(key))

    def _claim(self, key: str, tmp_meta: Path, expected: str) -> bool:
        """Link complete metadata into place; True if we claimed the key, False if a same-content claim won."""
        meta_path = self._meta_path(key)
        try:
            os.link(tmp_meta, meta_path)
        except FileExistsError:
            other = _read_json(meta_path) or {}
            if other.get("sha256") != expected:
                raise ObjectConflict(
                    f"{scrub(key)} is being written (or was left by a crashed writer) with different content",
                    key=scrub(key),
                    hint="Retry later; LocalStore.cleanup_stale_temp() removes claims left by crashes.",
                ) from None
            return False  # same bytes: finishing the publish is safe whoever claimed it
        _fsync_dir(meta_path.parent)
        return True

    def _publish(self, tmp_data: Path, data_path: Path) -> None:
        """The commit point: the object becomes visible atomically, never overwriting."""
        with suppress(FileExistsError):  # a same-content writer published first
            os.link(tmp_data, data_path)
        _fsync_dir(data_path.parent)

    def restore(self, key: str, data: DataSource, *, sha256: str) -> ObjectInfo:
        """Replace a damaged data file with its recorded content (see ``ObjectStore.restore``).

        The bytes are streamed into a temp file while hashing and fsynced, then ``os.replace``d over the data
        file (atomic: readers see the old or the new file, never a mix); the metadata file is left as it is.
        Works when the data file is gone too, as long as the metadata still records the key.
        """
        self._key(key)
        expected = normalize_sha256(sha256)
        with self._io("read", key):
            meta = _read_json(self._meta_path(key))
        data_path = self._data_path(key)
        if meta is None:
            if not data_path.is_file():
                raise ObjectNotFound(f"{scrub(key)} not found in {self.name}", key=scrub(key))
            meta = {}  # a foreign file without a record: nothing to restore to
        check_restorable(self.name, key, meta.get("sha256"), expected)
        with self._io("restore", key):
            self._prepare_parent(key, data_path)
        tmp_data = self._temp_path(".restore")
        try:
            found, _size = self._write_temp(data, tmp_data, key)
            if found != expected:
                raise ChecksumMismatch(scrub(key), "sha256", expected, found)
            with self._io("restore", key):
                os.replace(tmp_data, data_path)
                _fsync_dir(data_path.parent)
        finally:
            _remove_quietly(tmp_data)
        return self.stat(key)

    def copy(self, src_key: str, dst_key: str, *, dst_store: ObjectStore | None = None) -> ObjectInfo:
        """Copy by streaming (re-hashing), into this store or ``dst_store``."""
        return stream_copy(self, src_key, dst_store if dst_store is not None else self, dst_key)

    def delete(self, key: str) -> None:
        """Delete an object unless protected or retained (``DeleteRefused``)."""
        info = self.stat(key)
        check_deletable(self.name, info, self.protected_prefixes, self.clock())
        data_path = self._data_path(key)
        with self._io("delete", key):
            data_path.unlink()  # invisible from here on; metadata removal may lag
            _fsync_dir(data_path.parent)
            with suppress(FileNotFoundError):
                self._meta_path(key).unlink()
        self._prune(data_path.parent, self.root)
        self._prune(self._meta_path(key).parent, self.root / META_DIR)

    @staticmethod
    def _prune(directory: Path, stop: Path) -> None:
        while directory != stop and directory.is_relative_to(stop):
            try:
                directory.rmdir()
            except OSError:
                return
            directory = directory.parent

    def cleanup_stale_temp(self, older_than: timedelta = timedelta(hours=1)) -> int:
        """Remove temp files and orphaned claims (metadata without data) left by crashed writers.

        Returns how many files were removed: those older than ``older_than``, and temp files of a writer on this
        host that is no longer running once ``DEAD_WRITER_GRACE`` old; writes in progress are left alone.
        """
        return sum(1 for left in self.sweep_temp(older_than=older_than) if left.removed)

    def sweep_temp(
        self,
        *,
        older_than: timedelta = timedelta(hours=1),
        dead_after: timedelta = DEAD_WRITER_GRACE,
        claims: bool = True,
        remove: bool = True,
    ) -> builtins.list[TempLeftover]:
        """Every file a writer left behind, removing (when ``remove``) those that are safe to remove.

        Listed: temp files and (``claims``) orphaned claims at least ``dead_after`` old, or removed. Removed:
        anything older than ``older_than``, and temp files whose writer ran on this host and is gone once
        ``dead_after`` old. A file that cannot be removed (read-only disk) is listed with ``removed=False``.
        """
        now = time.time()
        found: builtins.list[TempLeftover] = []
        with self._io("sweep"):
            temps = [p for p in (self.root / TMP_DIR).iterdir() if p.is_file()]
        for tmp in temps:
            writer = _writer_state(tmp.name)
            found += self._leftover(tmp, "temp", writer, now, older_than, dead_after, remove)
        if claims:
            meta_root = self.root / META_DIR
            with self._io("sweep"):
                metas = list(meta_root.rglob("*.json"))
            for meta in metas:
                key = meta.relative_to(meta_root).as_posix()[: -len(".json")]
                if self._data_path(key).is_file():
                    continue
                found += self._leftover(meta, "claim", "unknown", now, older_than, dead_after, remove)
                if found and found[-1].removed:
                    self._prune(meta.parent, meta_root)
        return found

    def _leftover(
        self, path: Path, kind: str, writer: str, now: float, older_than: timedelta, dead_after: timedelta, remove: bool
    ) -> builtins.list[TempLeftover]:
        try:
            st = path.stat()
        except FileNotFoundError:
            return []  # finished or removed meanwhile
        age = max(0.0, now - st.st_mtime)
        stale = age >= older_than.total_seconds() or (writer == "dead" and age >= dead_after.total_seconds())
        if not stale and age < dead_after.total_seconds():
            return []  # a write in progress
        removed = False
        if stale and remove:
            try:
                path.unlink()
                removed = True
            except FileNotFoundError:
                return []
            except OSError:
                removed = False  # read-only or not ours to remove: reported, kept
        rel = path.relative_to(self.root).as_posix()
        return [TempLeftover(rel, kind, st.st_size, int(age), writer, removed)]


def _writer_state(name: str) -> str:
    """Whether the writer named in a temp file's name still runs: dead | alive | other-host | unknown."""
    match = _TEMP_NAME.match(name)
    if match is None:
        return "unknown"  # written before temp names carried their writer
    if match["host"] != _HOST:
        return "other-host"
    pid = int(match["pid"])
    if pid == os.getpid():
        return "alive"
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return "dead"
    except PermissionError:
        return "alive"  # another user's live process
    return "alive"


def _remove_quietly(*paths: Path) -> None:
    for path in paths:
        with suppress(OSError):
            path.unlink()


class _Translating:
    """A file wrapper whose ``read``/``write`` raise the store's coded errors instead of ``OSError``."""

    def __init__(self, fh: BinaryIO, store_name: str, action: str, key: str) -> None:
        self._fh, self._store, self._action, self._key = fh, store_name, action, key

    def read(self, n: int = -1) -> bytes:
        with translate_os_errors(self._store, self._action, self._key):
            return self._fh.read(n)

    def write(self, chunk: bytes) -> int:
        with translate_os_errors(self._store, self._action, self._key):
            return self._fh.write(chunk)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._fh, name)


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_bytes())
    except FileNotFoundError:
        return None


def _write_durable(path: Path, payload: bytes) -> None:
    with open(path, "xb") as fh:
        fh.write(payload)
        fh.flush()
        os.fsync(fh.fileno())


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
