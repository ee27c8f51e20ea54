"""The object-store contract shared by every backend, plus key and metadata validation.

Stores are write-once: ``put`` never overwrites, every object carries its whole-object SHA-256 in its own
metadata (ETags are never used as fixity), and masters under protected prefixes are never deleted.
"""

from __future__ import annotations

import errno
import os
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import BinaryIO, Protocol, runtime_checkable

from dangan.errors import (
    DeleteRefused,
    ObjectConflict,
    StoreDiskFull,
    StoreError,
    StoreIOError,
    StorePermissionDenied,
    StoreReadOnly,
    UnsafePath,
)
from dangan.pii import scrub
from dangan.storage.hashing import hash_stream

#: Keys containing one of these (after prefixing "/") are never deleted.
DEFAULT_PROTECTED_PREFIXES: tuple[str, ...] = ("/masters/",)
DEFAULT_CONTENT_TYPE = "application/octet-stream"
MAX_KEY_BYTES = 1024
#: Reserved metadata name holding the whole-object SHA-256.
SHA256_META = "sha256"

DataSource = bytes | bytearray | BinaryIO | Path
Clock = Callable[[], datetime]

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_META_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")


def utcnow() -> datetime:
    """Timezone-aware current time (the default store clock)."""
    return datetime.now(UTC)


@dataclass(frozen=True)
class ObjectInfo:
    """What a store knows about one stored object."""

    key: str
    size: int
    sha256: str | None
    content_type: str | None
    metadata: dict[str, str] = field(default_factory=dict)
    retain_until: datetime | None = None
    version_id: str | None = None


@runtime_checkable
class ObjectStore(Protocol):
    """Write-once object storage; see ``dangan.storage`` for the semantics every backend honours."""

    name: str

    def put(
        self,
        key: str,
        data: DataSource,
        *,
        sha256: str,
        content_type: str | None = None,
        metadata: Mapping[str, str] | None = None,
        retain_until: datetime | None = None,
    ) -> ObjectInfo: ...

    def restore(self, key: str, data: DataSource, *, sha256: str) -> ObjectInfo:
        """Rewrite a damaged object with its recorded content (repair only, never a content change).

        Allowed only when ``data`` hashes to ``sha256`` (else ``ChecksumMismatch``) and ``sha256`` is the
        SHA-256 the store recorded for ``key`` when it was first written (else ``ObjectConflict``); an
        unknown key is ``ObjectNotFound``. Metadata and retention are kept.
        """
        ...

    def get(self, key: str) -> bytes: ...

    def open(self, key: str) -> AbstractContextManager[BinaryIO]: ...

    def stat(self, key: str) -> ObjectInfo: ...

    def exists(self, key: str) -> bool: ...

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]: ...

    def copy(self, src_key: str, dst_key: str, *, dst_store: ObjectStore | None = None) -> ObjectInfo: ...

    def delete(self, key: str) -> None: ...

    def presigned_get_url(self, key: str, expires: timedelta = timedelta(hours=1)) -> str: ...

    def supports_retention(self) -> bool: ...


def validate_key(key: str) -> str:
    """Return ``key`` if it is a safe relative object key, else raise ``UnsafePath``.

    Safe means: non-empty, ``/``-separated, no leading ``/``, no empty, ``.`` or ``..`` segments, no
    backslash, no NUL or control characters, at most 1024 bytes of UTF-8.
    """
    if not isinstance(key, str) or not key:
        raise UnsafePath("object key is empty or not a string")
    shown = scrub(repr(key[:80]))
    if len(key.encode("utf-8", "surrogatepass")) > MAX_KEY_BYTES:
        raise UnsafePath(f"object key longer than {MAX_KEY_BYTES} bytes: {shown}…", key=shown)
    if _CONTROL.search(key):
        raise UnsafePath(f"object key contains a control character: {shown}", key=shown)
    if "\\" in key:
        raise UnsafePath(f"object key contains a backslash: {shown}", key=shown)
    if key.startswith("/"):
        raise UnsafePath(f"object key is absolute: {shown}", key=shown)
    for segment in key.split("/"):
        if segment in ("", ".", ".."):
            raise UnsafePath(f"object key has an empty, '.' or '..' segment: {shown}", key=shown)
    return key


def validate_prefix(prefix: str) -> str:
    """A listing prefix: empty, or a safe key optionally ending with ``/``."""
    if prefix:
        validate_key(prefix[:-1] if prefix.endswith("/") else prefix)
    return prefix


def validate_metadata(metadata: Mapping[str, str] | None) -> dict[str, str]:
    """User metadata must survive HTTP headers on every backend: lowercase names, printable ASCII values."""
    clean: dict[str, str] = {}
    for name, value in (metadata or {}).items():
        if not _META_NAME.match(name) or name == SHA256_META:
            raise ValueError(f"metadata name {name!r} must match {_META_NAME.pattern} and not be 'sha256'")
        if not isinstance(value, str) or not value.isascii() or _CONTROL.search(value):
            raise ValueError(f"metadata value of {name!r} must be printable ASCII (encode it first)")
        clean[name] = value
    return clean


def validate_retain_until(retain_until: datetime | None, now: datetime) -> datetime | None:
    """Retention dates must be timezone-aware and in the future; returned in UTC, whole seconds."""
    if retain_until is None:
        return None
    if retain_until.tzinfo is None:
        raise ValueError("retain_until must be timezone-aware")
    value = retain_until.astimezone(UTC).replace(microsecond=0)
    if value <= now:
        raise ValueError("retain_until must be in the future")
    return value


def is_protected(key: str, prefixes: Sequence[str]) -> bool:
    """True when ``key`` falls under a protected prefix such as ``/masters/``."""
    probe = "/" + key
    return any(p in probe for p in prefixes)


def check_deletable(store_name: str, info: ObjectInfo, prefixes: Sequence[str], now: datetime) -> None:
    """Raise ``DeleteRefused`` for protected keys and objects still under retention."""
    shown = scrub(info.key)
    if is_protected(info.key, prefixes):
        raise DeleteRefused(f"{shown} is under a protected prefix in {store_name}", key=shown)
    if info.retain_until is not None and info.retain_until > now:
        raise DeleteRefused(
            f"{shown} is retained until {info.retain_until.isoformat()}",
            key=shown,
            retain_until=info.retain_until.isoformat(),
        )


def same_or_conflict(store_name: str, existing: ObjectInfo, sha256: str) -> ObjectInfo:
    """Idempotent re-put returns the stored object; different bytes at the same key are a conflict."""
    if existing.sha256 == sha256:
        return existing
    shown = scrub(existing.key)
    raise ObjectConflict(
        f"{shown} already exists in {store_name} with different content",
        key=shown,
        existing_sha256=existing.sha256,
        new_sha256=sha256,
        hint="Objects are never overwritten; store the new version under a new key.",
    )


def check_restorable(store_name: str, key: str, recorded: str | None, sha256: str) -> None:
    """``restore`` may only bring back the content recorded for ``key``; anything else is a conflict."""
    if recorded == sha256:
        return
    shown = scrub(key)
    raise ObjectConflict(
        f"{shown} in {store_name} was recorded with other content; restore refuses to change it",
        key=shown,
        recorded_sha256=recorded,
        new_sha256=sha256,
        hint="restore only repairs damaged bytes with the recorded content (e.g. from a replica).",
    )


#: Operating-system errors a store turns into coded errors (anything else is ``StoreIOError``).
_ERRNO_ERRORS: dict[int, type[StoreError]] = {
    errno.ENOSPC: StoreDiskFull,
    errno.EDQUOT: StoreDiskFull,
    errno.EFBIG: StoreDiskFull,
    errno.EROFS: StoreReadOnly,
    errno.EACCES: StorePermissionDenied,
    errno.EPERM: StorePermissionDenied,
    errno.EIO: StoreIOError,
}
_WHAT = {
    StoreDiskFull: "is full",
    StoreReadOnly: "is read-only",
    StorePermissionDenied: "refused access",
    StoreIOError: "had an I/O error",
}


def store_os_error(exc: OSError, store_name: str, action: str, key: str = "") -> StoreError:
    """The coded error for an ``OSError`` a store hit while doing ``action`` (e.g. "write") on ``key``.

    The message names the store, the action and the errno, never a path from outside the store; the key is
    scrubbed (keys carry no personal data by design, but a caller's key is not trusted to).
    """
    cls = _ERRNO_ERRORS.get(exc.errno or 0, StoreIOError)
    name = errno.errorcode.get(exc.errno or 0, "OSError")
    shown = scrub(key) if key else ""
    where = f" ({action} {shown})" if shown else f" ({action})"
    return cls(
        f"{store_name} {_WHAT[cls]}: {name} {os.strerror(exc.errno) if exc.errno else type(exc).__name__}{where}",
        store=store_name,
        action=action,
        key=shown or None,
        errno=name,
    )


@contextmanager
def translate_os_errors(store_name: str, action: str, key: str = "") -> Iterator[None]:
    """Raise any ``OSError`` from the block as the store's coded error (see ``store_os_error``)."""
    try:
        yield
    except OSError as exc:
        raise store_os_error(exc, store_name, action, key) from exc


def stream_copy(src: ObjectStore, src_key: str, dst: ObjectStore, dst_key: str) -> ObjectInfo:
    """Copy one object between any two stores by streaming; the destination's ``put`` re-verifies SHA-256."""
    info = src.stat(src_key)
    sha256 = info.sha256
    if sha256 is None:
        # Foreign object without recorded fixity: hash a first pass so the copy is still verified.
        with src.open(src_key) as fh:
            sha256 = hash_stream(fh)[0]
    with src.open(src_key) as fh:
        return dst.put(dst_key, fh, sha256=sha256, content_type=info.content_type, metadata=info.metadata)
