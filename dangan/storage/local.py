"""Object store on a local (or mounted) filesystem, crash-safe and safe for concurrent writers.

Layout under the root: objects at ``<root>/<key>``, their metadata at ``<root>/.meta/<key>.json`` and
in-flight writes in ``<root>/.tmp/``. A put streams into a temp file while hashing, fsyncs it, claims the key
by hard-linking a complete metadata file into place (``link`` fails if the target exists, so exactly one
writer wins), then publishes the data with a second hard link and fsyncs the directory. An object is
visible only once its data file exists, so a crash at any point leaves nothing partial in ``list()``.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, BinaryIO

from dangan.errors import ChecksumMismatch, ObjectConflict, ObjectNotFound, UnsafePath
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
    stream_copy,
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
        for sub in (self.root, self.root / META_DIR, self.root / TMP_DIR):
            sub.mkdir(parents=True, exist_ok=True)

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
            size = path.stat().st_size
        except (FileNotFoundError, NotADirectoryError):
            raise ObjectNotFound(f"{scrub(key)} not found in {self.name}", key=scrub(key)) from None
        if not path.is_file():
            raise ObjectNotFound(f"{scrub(key)} not found in {self.name}", key=scrub(key))
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
        with self._data_path(key).open("rb") as fh:
            yield fh

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
        for dirpath, dirnames, filenames in os.walk(start):
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
        self._prepare_parent(key, data_path)
        tmp_data = self.root / TMP_DIR / f"{uuid.uuid4().hex}.data"
        tmp_meta = tmp_data.with_suffix(".meta")
        claimed = False
        try:
            with open_source(data) as src, open(tmp_data, "xb") as out:
                found, size = copy_hashing(src, out)
                out.flush()
                os.fsync(out.fileno())
            if found != expected:
                raise ChecksumMismatch(scrub(key), "sha256", expected, found)
            os.chmod(tmp_data, 0o444)  # objects are immutable
            record = {
                "key": key,
                "sha256": expected,
                "size": size,
                "content_type": content_type or DEFAULT_CONTENT_TYPE,
                "metadata": user_meta,
                "retain_until": retain.isoformat() if retain else None,
                "stored_at": self.clock().isoformat(),
            }
            _write_durable(tmp_meta, json.dumps(record, ensure_ascii=False, sort_keys=True).encode())
            claimed = self._claim(key, tmp_meta, expected)
            self._publish(tmp_data, data_path)
        except Exception:
            if claimed and not data_path.exists():  # roll back our claim so the key is free again
                with suppress(FileNotFoundError):
                    self._meta_path(key).unlink()
            raise
        finally:
            for tmp in (tmp_data, tmp_meta):
                with suppress(FileNotFoundError):
                    tmp.unlink()
        return self.stat(key)

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
        meta = _read_json(self._meta_path(key))
        data_path = self._data_path(key)
        if meta is None:
            if not data_path.is_file():
                raise ObjectNotFound(f"{scrub(key)} not found in {self.name}", key=scrub(key))
            meta = {}  # a foreign file without a record: nothing to restore to
        check_restorable(self.name, key, meta.get("sha256"), expected)
        self._prepare_parent(key, data_path)
        tmp_data = self.root / TMP_DIR / f"{uuid.uuid4().hex}.restore"
        try:
            with open_source(data) as src, open(tmp_data, "xb") as out:
                found, _size = copy_hashing(src, out)
                out.flush()
                os.fsync(out.fileno())
            if found != expected:
                raise ChecksumMismatch(scrub(key), "sha256", expected, found)
            os.chmod(tmp_data, 0o444)
            os.replace(tmp_data, data_path)
            _fsync_dir(data_path.parent)
        finally:
            with suppress(FileNotFoundError):
                tmp_data.unlink()
        return self.stat(key)

    def copy(self, src_key: str, dst_key: str, *, dst_store: ObjectStore | None = None) -> ObjectInfo:
        """Copy by streaming (re-hashing), into this store or ``dst_store``."""
        return stream_copy(self, src_key, dst_store if dst_store is not None else self, dst_key)

    def delete(self, key: str) -> None:
        """Delete an object unless protected or retained (``DeleteRefused``)."""
        info = self.stat(key)
        check_deletable(self.name, info, self.protected_prefixes, self.clock())
        data_path = self._data_path(key)
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

        Returns how many files were removed. Only files older than ``older_than`` are touched, so writes in
        progress are left alone.
        """
        cutoff = time.time() - older_than.total_seconds()
        removed = 0
        for tmp in (self.root / TMP_DIR).iterdir():
            if tmp.is_file() and tmp.stat().st_mtime <= cutoff:
                tmp.unlink(missing_ok=True)
                removed += 1
        meta_root = self.root / META_DIR
        for meta in list(meta_root.rglob("*.json")):
            key = meta.relative_to(meta_root).as_posix()[: -len(".json")]
            if not self._data_path(key).is_file() and meta.stat().st_mtime <= cutoff:
                meta.unlink(missing_ok=True)
                self._prune(meta.parent, meta_root)
                removed += 1
        return removed


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
