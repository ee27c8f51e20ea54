"""Object store on any S3-compatible server (MinIO, AWS, moto), through the ``minio`` client's S3 API only.

Fixity is the whole-object SHA-256 in user metadata ``x-amz-meta-sha256``: ``put`` hashes the input before
uploading (refusing a mismatch without writing), hashes again the bytes actually handed to the uploader, then
reads the object's HEAD back; any disagreement deletes the written version. Retention uses S3 object lock
(set after the upload is verified, on that exact version); ``delete`` also refuses retained objects itself.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from datetime import datetime, timedelta
from typing import Any, BinaryIO

import urllib3
from minio import Minio
from minio.commonconfig import ENABLED, CopySource
from minio.error import InvalidResponseError, S3Error, ServerError
from minio.retention import Retention
from minio.versioningconfig import VersioningConfig

from dangan.errors import (
    ChecksumMismatch,
    ConfigError,
    ObjectNotFound,
    StoreDiskFull,
    StoreError,
    StorePermissionDenied,
    StoreUnavailable,
)
from dangan.pii import scrub
from dangan.storage.base import (
    DEFAULT_CONTENT_TYPE,
    DEFAULT_PROTECTED_PREFIXES,
    SHA256_META,
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
from dangan.storage.hashing import HashingReader, copy_hashing, hash_stream, normalize_sha256, open_source

_NOT_FOUND = {"NoSuchKey", "NoSuchObject", "NoSuchVersion"}
_TRANSIENT = {"InternalError", "ServiceUnavailable", "SlowDown", "RequestTimeout", "RequestTimeTooSkewed"}
#: Server answers meaning "out of space" (MinIO: XMinioStorageFull with HTTP 507; a bucket quota) and "not allowed":
#: the same coded errors as a local disk's ENOSPC / EACCES, so operators see one code whatever the backend.
_DISK_FULL = {"XMinioStorageFull", "InsufficientStorage", "XMinioAdminBucketQuotaExceeded", "QuotaExceeded"}
_DENIED = {"AccessDenied", "AllAccessDisabled"}
_INSUFFICIENT_STORAGE = 507
_META_PREFIX = "x-amz-meta-"
_RETAIN_HEADER = "x-amz-object-lock-retain-until-date"


class S3Store:
    """Write-once object store in one bucket (optionally under a key prefix)."""

    def __init__(
        self,
        endpoint: str,
        bucket: str,
        prefix: str = "",
        *,
        access_key: str,
        secret_key: str,
        secure: bool = True,
        region: str | None = None,
        create_bucket: bool = True,
        object_lock: bool = False,
        versioning: bool = True,
        retention_mode: str = "GOVERNANCE",
        protected_prefixes: Sequence[str] = DEFAULT_PROTECTED_PREFIXES,
        connect_timeout: float = 5.0,
        read_timeout: float = 60.0,
        max_retries: int = 3,
        parallel_uploads: int = 1,
        clock: Clock = utcnow,
    ) -> None:
        self.endpoint, self.bucket = endpoint, bucket
        self.prefix = validate_key(prefix.strip("/")) if prefix.strip("/") else ""
        self.name = f"s3://{bucket}/{self.prefix}"
        if retention_mode not in ("GOVERNANCE", "COMPLIANCE"):
            raise ConfigError(f"retention_mode must be GOVERNANCE or COMPLIANCE, not {retention_mode!r}")
        self.retention_mode = retention_mode
        self.protected_prefixes = tuple(protected_prefixes)
        self.parallel_uploads = max(1, parallel_uploads)  # each parallel part buffers 5 MiB+ in memory
        self.clock = clock
        # Small timeouts and a few retries on 5xx: a dead store fails fast as StoreUnavailable.
        http = urllib3.PoolManager(
            timeout=urllib3.Timeout(connect=connect_timeout, read=read_timeout),
            retries=urllib3.Retry(
                total=max_retries, backoff_factor=0.2, status_forcelist=(500, 502, 503, 504), raise_on_status=False
            ),
        )
        self.client = Minio(
            endpoint, access_key=access_key, secret_key=secret_key, secure=secure, region=region, http_client=http
        )
        self._lock_enabled: bool | None = None
        if create_bucket:
            self._ensure_bucket(region, object_lock, versioning)
        if object_lock and not self.supports_retention():
            raise ConfigError(f"bucket {bucket} exists without object lock, but object_lock was requested")

    # --- plumbing ----------------------------------------------------------------------------------------
    def _okey(self, key: str) -> str:
        validate_key(key)
        return f"{self.prefix}/{key}" if self.prefix else key

    @contextmanager
    def _call(self, key: str = "") -> Iterator[None]:
        """Translate client errors into the dangan hierarchy (transient vs permanent)."""
        shown = scrub(key)
        try:
            yield
        except S3Error as exc:
            if exc.code in _NOT_FOUND:
                raise ObjectNotFound(f"{shown} not found in {self.name}", key=shown) from None
            if exc.code in _TRANSIENT:
                raise StoreUnavailable(f"{self.name} answered {exc.code}", key=shown, code=exc.code) from exc
            if exc.code in _DISK_FULL:
                raise StoreDiskFull(
                    f"{self.name} is full: {exc.code}", store=self.name, key=shown, s3_code=exc.code
                ) from exc
            if exc.code in _DENIED:
                raise StorePermissionDenied(
                    f"{self.name} refused access: {exc.code}", store=self.name, key=shown, s3_code=exc.code
                ) from exc
            raise StoreError(f"{self.name} refused the request: {exc.code}", key=shown, s3_code=exc.code) from exc
        except (ServerError, InvalidResponseError) as exc:
            status = getattr(exc, "status_code", None) or getattr(exc, "_code", None)
            if status == _INSUFFICIENT_STORAGE:
                raise StoreDiskFull(
                    f"{self.name} is full: HTTP 507 Insufficient Storage", store=self.name, key=shown, s3_code="507"
                ) from exc
            raise StoreUnavailable(f"{self.name} answered with a server error", key=shown) from exc
        except (urllib3.exceptions.HTTPError, ConnectionError, TimeoutError) as exc:
            raise StoreUnavailable(
                f"{self.name} at {self.endpoint} is unreachable: {type(exc).__name__}", key=shown
            ) from exc

    def _ensure_bucket(self, region: str | None, object_lock: bool, versioning: bool) -> None:
        with self._call():
            if not self.client.bucket_exists(self.bucket):
                try:
                    self.client.make_bucket(self.bucket, location=region, object_lock=object_lock)
                except S3Error as exc:
                    if exc.code not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                        raise
            if versioning and self.client.get_bucket_versioning(self.bucket).status != ENABLED:
                try:
                    self.client.set_bucket_versioning(self.bucket, VersioningConfig(ENABLED))
                except S3Error as exc:
                    if exc.code != "NotImplemented":  # e.g. a single-drive MinIO cannot version
                        raise

    def _discard(self, okey: str, version_id: str | None) -> None:
        """Remove exactly the version we wrote (best effort: we are already failing)."""
        with suppress(Exception):
            self.client.remove_object(self.bucket, okey, version_id=version_id)

    # --- reads -------------------------------------------------------------------------------------------
    def stat(self, key: str) -> ObjectInfo:
        """HEAD the object: size, SHA-256 from user metadata, retention from the object-lock header."""
        okey = self._okey(key)
        with self._call(key):
            obj = self.client.stat_object(self.bucket, okey)
        return self._info(key, obj)

    @staticmethod
    def _info(key: str, obj: Any) -> ObjectInfo:
        """ObjectInfo from a HEAD answer (``minio`` stat result)."""
        user: dict[str, str] = {}
        retain: datetime | None = None
        for name, value in (obj.metadata or {}).items():
            lname = name.lower()
            if lname.startswith(_META_PREFIX):
                user[lname[len(_META_PREFIX) :]] = value
            elif lname == _RETAIN_HEADER:
                retain = datetime.fromisoformat(value.replace("Z", "+00:00")).replace(microsecond=0)
        sha256 = user.pop(SHA256_META, None)
        return ObjectInfo(
            key=key,
            size=int(obj.size or 0),
            sha256=sha256,
            content_type=obj.content_type,
            metadata=user,
            retain_until=retain,
            version_id=obj.version_id if obj.version_id not in (None, "null") else None,
        )

    def exists(self, key: str) -> bool:
        """True when an object exists at ``key``."""
        try:
            self.stat(key)
        except ObjectNotFound:
            return False
        return True

    @contextmanager
    def open(self, key: str) -> Iterator[BinaryIO]:
        """Stream an object's bytes (the HTTP response is read lazily)."""
        okey = self._okey(key)
        with self._call(key):
            response = self.client.get_object(self.bucket, okey)
        try:
            yield _TranslatingReader(response, self, key)  # type: ignore[misc]
        finally:
            response.close()
            response.release_conn()

    def get(self, key: str) -> bytes:
        """Whole object in memory (small objects only; use ``open`` for scans)."""
        with self.open(key) as fh:
            return fh.read()

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        """Every object under ``prefix``, sorted by key (one HEAD per object to read its SHA-256)."""
        validate_prefix(prefix)
        full = f"{self.prefix}/{prefix}" if self.prefix else prefix
        cut = len(self.prefix) + 1 if self.prefix else 0
        with self._call(prefix):
            listing = self.client.list_objects(self.bucket, prefix=full or None, recursive=True)
            for obj in listing:
                name = obj.object_name or ""
                if name.endswith("/"):
                    continue  # directory placeholders written by some tools
                with suppress(ObjectNotFound):  # deleted while listing
                    yield self.stat(name[cut:])

    def presigned_get_url(self, key: str, expires: timedelta = timedelta(hours=1)) -> str:
        """Time-limited GET URL for an existing object."""
        okey = self._okey(key)
        self.stat(key)
        with self._call(key):
            return self.client.presigned_get_object(self.bucket, okey, expires=expires)

    def supports_retention(self) -> bool:
        """True when the bucket has object lock enabled (asked once, then cached)."""
        if self._lock_enabled is None:
            try:
                with self._call():
                    self.client.get_object_lock_config(self.bucket)
                self._lock_enabled = True
            except StoreError:
                self._lock_enabled = False
        return self._lock_enabled

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
        """Store ``data`` at ``key`` once, verified before, during and after the upload."""
        self._okey(key)  # refuse an unsafe key before reading any data

        expected = normalize_sha256(sha256)
        user_meta = validate_metadata(metadata)
        retain = validate_retain_until(retain_until, self.clock())
        if retain is not None and not self.supports_retention():
            raise ConfigError(f"{self.name} has no object lock; cannot retain {scrub(key)}", key=scrub(key))
        with suppress(ObjectNotFound):
            return same_or_conflict(self.name, self.stat(key), expected)
        return self._upload_verified(
            key, data, expected, content_type or DEFAULT_CONTENT_TYPE, {SHA256_META: expected, **user_meta}, retain
        )

    def _upload_verified(
        self,
        key: str,
        data: DataSource,
        expected: str,
        content_type: str,
        metadata: Mapping[str, str],
        retain: datetime | None,
    ) -> ObjectInfo:
        """Upload a new version, verify it before, during and after; discard it on a mismatch; then retain."""
        okey = self._okey(key)
        with _rewindable(data) as (stream, size, found):
            if found != expected:
                raise ChecksumMismatch(scrub(key), "sha256", expected, found)
            reader = HashingReader(stream)
            with self._call(key):
                result = self.client.put_object(
                    self.bucket,
                    okey,
                    reader,  # type: ignore[arg-type]
                    size,
                    content_type=content_type,
                    metadata=dict(metadata),
                    num_parallel_uploads=self.parallel_uploads,
                )
        written = self.stat(key)
        # The source may have changed since the first pass, or the server may hold something else.
        bad = reader.hexdigest() if (reader.hexdigest(), reader.size) != (expected, size) else None
        if bad is None and (written.sha256, written.size) != (expected, size):
            bad = str(written.sha256)
        if bad is not None:
            self._discard(okey, result.version_id)
            raise ChecksumMismatch(scrub(key), "sha256", expected, bad)
        if retain is not None:
            with self._call(key):
                self.client.set_object_retention(
                    self.bucket, okey, Retention(self.retention_mode, retain), version_id=result.version_id
                )
            written = self.stat(key)
        return written

    def restore(self, key: str, data: DataSource, *, sha256: str) -> ObjectInfo:
        """Put a new version holding the recorded content of a damaged object (see ``ObjectStore.restore``).

        The recorded SHA-256 is that of the first version carrying one (the current version's in an
        unversioned bucket): keys are write-once, so a later version with other or no fixity metadata was
        written around dangan and the first record wins. The new version gets the recorded content type,
        metadata and (future) retention and is verified like ``put``; earlier versions are left alone
        (object lock may hold them).
        """
        expected = normalize_sha256(sha256)
        record = self._recorded(key, expected)
        retain = record.retain_until
        keep = retain if retain is not None and retain > self.clock() and self.supports_retention() else None
        return self._upload_verified(
            key,
            data,
            expected,
            record.content_type or DEFAULT_CONTENT_TYPE,
            {**record.metadata, SHA256_META: expected},
            keep,
        )

    def _recorded(self, key: str, sha256: str) -> ObjectInfo:
        """The first version carrying a fixity record (else the current one); ``ObjectConflict`` unless it
        records ``sha256``. Its content type, metadata and retention are what a restore brings back."""
        current = self.stat(key)
        okey = self._okey(key)
        with self._call(key):
            listing = self.client.list_objects(self.bucket, prefix=okey, include_version=True)
            versions = [
                o
                for o in listing
                if o.object_name == okey and not o.is_delete_marker and o.version_id not in (None, "null")
            ]
            # Listings give each key's versions newest first: walk them oldest first.
            for obj in reversed(versions):
                first = self._info(key, self.client.stat_object(self.bucket, okey, version_id=obj.version_id))
                if first.sha256 is not None:
                    check_restorable(self.name, key, first.sha256, sha256)
                    return first
        check_restorable(self.name, key, current.sha256, sha256)
        return current

    def copy(self, src_key: str, dst_key: str, *, dst_store: ObjectStore | None = None) -> ObjectInfo:
        """Server-side copy within the same endpoint and bucket, else a verified streamed copy."""
        target = dst_store if dst_store is not None else self
        same_bucket = isinstance(target, S3Store) and (target.endpoint, target.bucket) == (
            self.endpoint,
            self.bucket,
        )
        info = self.stat(src_key)
        if not same_bucket or info.sha256 is None:
            return stream_copy(self, src_key, target, dst_key)
        assert isinstance(target, S3Store)
        dst_okey = target._okey(dst_key)
        with suppress(ObjectNotFound):
            return same_or_conflict(target.name, target.stat(dst_key), info.sha256)
        source = CopySource(self.bucket, self._okey(src_key), version_id=info.version_id)
        with self._call(dst_key):
            result = target.client.copy_object(target.bucket, dst_okey, source)
        written = target.stat(dst_key)
        if written.sha256 != info.sha256 or written.size != info.size:
            target._discard(dst_okey, result.version_id)
            raise ChecksumMismatch(scrub(dst_key), "sha256", info.sha256, str(written.sha256))
        return written

    def delete(self, key: str) -> None:
        """Delete (a delete marker when versioned) unless protected or retained (``DeleteRefused``)."""
        okey = self._okey(key)
        check_deletable(self.name, self.stat(key), self.protected_prefixes, self.clock())
        with self._call(key):
            self.client.remove_object(self.bucket, okey)


@contextmanager
def _rewindable(data: DataSource) -> Iterator[tuple[BinaryIO, int, str]]:
    """Yield ``(stream positioned at the start, size, sha256)``, hashing in a first pass.

    Non-seekable streams are spooled to an anonymous temp file (hashing on the way) so memory stays bounded.
    """
    with open_source(data) as src:
        seekable = getattr(src, "seekable", lambda: False)()
        if seekable:
            start = src.tell()
            found, size = hash_stream(src)
            src.seek(start)
            yield src, size, found
            return
        with tempfile.TemporaryFile() as spool:
            found, size = copy_hashing(src, spool)
            spool.seek(0)
            yield spool, size, found


class _TranslatingReader:
    """Read side of ``open``: network errors mid-stream surface as ``StoreUnavailable``."""

    def __init__(self, response: Any, store: S3Store, key: str) -> None:
        self._response, self._store, self._key = response, store, key

    def read(self, n: int = -1) -> bytes:
        with self._store._call(self._key):
            return self._response.read() if n is None or n < 0 else self._response.read(n)

    def readable(self) -> bool:
        return True
