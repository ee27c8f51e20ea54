"""Write-once object storage for scans and archives, with one contract on every backend.

* ``put`` streams and hashes its input and refuses it (``ChecksumMismatch``, nothing left behind) unless it
  hashes to the caller's SHA-256; it never overwrites: same bytes are idempotent, different bytes are an
  ``ObjectConflict``. The SHA-256 lives in the object's own metadata; ETags are never used as fixity.
* Keys are relative ``/``-separated paths (``validate_key``; ``UnsafePath`` otherwise).
* ``delete`` refuses protected keys (``/masters/``) and objects under retention (``DeleteRefused``).
* Network trouble is ``StoreUnavailable`` (transient); a missing object is ``ObjectNotFound``.

Backends: ``LocalStore`` (a directory) and ``S3Store`` (any S3 API server); ``open_store(url)`` picks one.
"""

from dangan.storage.base import (
    DEFAULT_PROTECTED_PREFIXES,
    ObjectInfo,
    ObjectStore,
    is_protected,
    stream_copy,
    validate_key,
)
from dangan.storage.factory import describe_store_url, open_store
from dangan.storage.hashing import normalize_sha256, sha256_bytes, sha256_file
from dangan.storage.local import LocalStore

__all__ = [
    "DEFAULT_PROTECTED_PREFIXES",
    "LocalStore",
    "ObjectInfo",
    "ObjectStore",
    "S3Store",
    "describe_store_url",
    "is_protected",
    "normalize_sha256",
    "open_store",
    "sha256_bytes",
    "sha256_file",
    "stream_copy",
    "validate_key",
]


def __getattr__(name: str) -> object:
    # S3Store is imported lazily so local-only users do not pay for importing minio/urllib3.
    if name == "S3Store":
        from dangan.storage.s3 import S3Store

        return S3Store
    raise AttributeError(name)
