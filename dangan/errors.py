"""Exception hierarchy with stable codes and structured details.

Every error carries a stable ``code`` (for catalogs, artifacts and automations), a human message, structured
``details`` and an optional ``hint`` telling an operator what to do next. ``TransientError`` subclasses are the
only ones tasks retry; everything else is permanent (quarantine the item or fail the step).
"""

from __future__ import annotations

from typing import Any, ClassVar


class DanganError(Exception):
    """Base of all dangan errors."""

    code: ClassVar[str] = "DANGAN_ERROR"
    transient: ClassVar[bool] = False
    default_hint: ClassVar[str | None] = None

    def __init__(self, message: str, *, hint: str | None = None, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details: dict[str, Any] = details
        self.hint = hint if hint is not None else self.default_hint

    def __str__(self) -> str:
        text = f"[{self.code}] {self.message}"
        if self.hint:
            text += f" — {self.hint}"
        return text

    def to_dict(self) -> dict[str, Any]:
        """Machine-readable form (stored on quarantined items and audit events)."""
        return {
            "code": self.code,
            "message": self.message,
            "hint": self.hint,
            "details": {k: _plain(v) for k, v in self.details.items()},
        }


def _plain(value: Any) -> Any:
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return str(value)


class TransientError(DanganError):
    """Worth retrying: network, store unavailable, lock timeout."""

    code = "TRANSIENT"
    transient = True


class PermanentError(DanganError):
    """Retrying will not help: bad input, integrity failure, configuration."""

    code = "PERMANENT"


def is_transient(exc: BaseException) -> bool:
    """True when ``exc`` is worth a retry (used by task retry conditions)."""
    return isinstance(exc, TransientError)


# --- configuration ---------------------------------------------------------------------------------------
class ConfigError(PermanentError):
    code = "CONFIG_INVALID"
    default_hint = "Check dangan.toml and DANGAN_* environment variables."


class SiteCodeInvalid(PermanentError, ValueError):
    """A site code that is not 6 digits (also a ValueError, so pydantic reports it as a parameter error)."""

    code = "SITE_CODE_INVALID"
    default_hint = (
        "Give the county's 6-digit GB/T 2260 code, e.g. site=330106 or site=\"330106\" "
        "(站点代码为 6 位行政区划代码)."
    )


class SiteNotFound(PermanentError):
    code = "SITE_NOT_FOUND"
    default_hint = "List sites with `dangan sites list`; add one with `dangan sites add CODE --name NAME`."


# --- access (dangan.access: the local policy until reading-room accounts exist) ------------------------------
class PermissionDenied(PermanentError):
    """The acting operator lacks a permission (``actor, permission`` and the refused ``action`` in details)."""

    code = "ACCESS_DENIED"


class RevealReasonRequired(PermanentError):
    """Personal data is shown in clear only with a stated reason (recorded in the audit trail)."""

    code = "ACCESS_REASON_REQUIRED"


class SiteChangeRefused(PermanentError):
    """A registry change that would re-point a site's catalog or objects without the needed flag or evidence."""

    code = "SITE_CHANGE_REFUSED"


# --- paths from outside ----------------------------------------------------------------------------------
class UnsafePath(PermanentError):
    code = "PATH_UNSAFE"


# --- object storage --------------------------------------------------------------------------------------
class StoreUnavailable(TransientError):
    code = "STORE_UNAVAILABLE"
    default_hint = "The object store did not answer; check that it is running and reachable, then re-run."


class ChecksumMismatch(PermanentError):
    """Bytes do not hash to what was expected (``key, algorithm, expected, found`` in details)."""

    code = "STORE_CHECKSUM_MISMATCH"

    def __init__(self, key: str, algorithm: str, expected: str, found: str, message: str | None = None) -> None:
        super().__init__(
            message or f"{algorithm} of {key} is {found[:12]}…, expected {expected[:12]}…",
            key=key,
            algorithm=algorithm,
            expected=expected,
            found=found,
        )
        self.key, self.algorithm, self.expected, self.found = key, algorithm, expected, found


class ObjectConflict(PermanentError):
    """A different object already exists at the key; stores never overwrite."""

    code = "STORE_OBJECT_CONFLICT"


class ObjectNotFound(PermanentError):
    code = "STORE_NOT_FOUND"


class DeleteRefused(PermanentError):
    code = "STORE_DELETE_REFUSED"
    default_hint = "Masters are kept for their retention period and are never deleted by dangan."


# --- catalog ---------------------------------------------------------------------------------------------
class InvalidTransition(PermanentError):
    code = "CATALOG_INVALID_TRANSITION"

    def __init__(self, entity: str, current: str, target: str) -> None:
        super().__init__(
            f"{entity} cannot go from {current!r} to {target!r}", entity=entity, current=current, target=target
        )


class CatalogUnavailable(TransientError):
    code = "CATALOG_UNAVAILABLE"


class CatalogSchemaOutdated(PermanentError):
    """The catalog lacks a table or column this version uses: its schema was not upgraded (retrying cannot help)."""

    code = "CATALOG_SCHEMA_OUTDATED"
    default_hint = (
        "Upgrade the catalog with `dangan init` (safe to repeat), then rerun. / 请先运行 dangan init 升级目录库。"
    )


class CatalogRowConflict(PermanentError):
    """An insert-or-get found neither its row nor room for it: another unique key of the table holds it."""

    code = "CATALOG_ROW_CONFLICT"
    default_hint = (
        "Another catalog row already uses one of this row's unique values; run `dangan status --site SITE` and "
        "report the table named here. 目录中已有占用同一唯一值的记录，请查看 dangan status 并上报此表名。"
    )


# --- ingest ----------------------------------------------------------------------------------------------
class IngestError(PermanentError):
    code = "INGEST_FAILED"


class EmptyFile(IngestError):
    code = "INGEST_EMPTY_FILE"
    default_hint = "The scanner wrote an empty file; rescan the page."


class UnsupportedFormat(IngestError):
    code = "INGEST_UNSUPPORTED_FORMAT"
    default_hint = "Accepted formats: TIFF, JPEG, PNG, PDF (decided by content, not by extension)."


class CorruptImage(IngestError):
    code = "INGEST_CORRUPT_IMAGE"
    default_hint = "The file is truncated or damaged; rescan it or copy it again from the scanner."


class PixelLimitExceeded(IngestError):
    code = "INGEST_PIXEL_LIMIT"
    default_hint = "Raise `ingest.max_pixels` only if the scan is genuine."


class PdfEncrypted(IngestError):
    code = "INGEST_PDF_ENCRYPTED"
    default_hint = "Ask the sender for an unencrypted PDF."


class PdfMalformed(IngestError):
    code = "INGEST_PDF_MALFORMED"


class PdfPageLimit(IngestError):
    code = "INGEST_PDF_PAGE_LIMIT"
    default_hint = "Raise `ingest.max_pdf_pages` only if the document is genuine."


class NameCollision(IngestError):
    code = "INGEST_NAME_COLLISION"
    default_hint = "Two files have the same name after Unicode normalization; rename one and re-run."


class ManifestError(IngestError):
    code = "INGEST_MANIFEST_INVALID"


# --- OCR -------------------------------------------------------------------------------------------------
class OcrModelChecksumMismatch(PermanentError):
    """A model file does not hash to its pinned SHA-256 (``file, expected, found`` in details)."""

    code = "OCR_MODEL_CHECKSUM"
    default_hint = "Reinstall the model files or update `ocr.expected_model_sha256` if the change is intended."


class OcrEngineUnavailable(PermanentError):
    """An OCR engine cannot run here: binary, language data, model files or device missing."""

    code = "OCR_ENGINE_UNAVAILABLE"


class OcrTransientFault(TransientError):
    """A retryable OCR failure (also raised on purpose by the fault-injection engine)."""

    code = "OCR_TRANSIENT"


class OcrDeviceLost(OcrTransientFault):
    """The GPU stopped working in the middle of a run (CUDA error on every page). Retryable: the retry builds a
    new engine, which runs on CPU with the reason logged when CUDA stays unusable (``device = auto``)."""

    code = "OCR_DEVICE_LOST"
    default_hint = "Run again: a new engine is built, on CPU with the reason logged if the GPU stays unusable."


class PageLimitExceeded(IngestError):
    """A multi-page image (TIFF) has more pages than ``ingest.max_pages`` allows."""

    code = "INGEST_PAGE_LIMIT"
    default_hint = "Raise `ingest.max_pages` only if the document is genuine."


class FilePixelLimitExceeded(IngestError):
    """All pages of one file together exceed ``ingest.max_total_pixels`` (counted from headers, before decoding)."""

    code = "INGEST_FILE_PIXEL_LIMIT"
    default_hint = (
        "Split the file into smaller documents, or raise `ingest.max_total_pixels` only if it is genuine "
        "(文件总像素超限，请拆分后重新扫描)."
    )


class IngestOutOfMemory(IngestError):
    """Ingesting one file ran out of memory (MemoryError); the file is quarantined and the batch goes on."""

    code = "INGEST_OUT_OF_MEMORY"
    default_hint = (
        "Check the file's page count and page sizes; lower `ingest.max_pages` / `ingest.max_total_pixels` or give "
        "the worker more memory, then ingest the file again (文件解码内存不足)."
    )


class DecodeFailed(IngestError):
    """An unexpected error while decoding or measuring one file (the exception type is in the details)."""

    code = "INGEST_DECODE_FAILED"
    default_hint = "Open the file in an image viewer; rescan it if it looks wrong, else report the error type."


class IngestCrashed(IngestError):
    """The ingest process died (killed, out of memory) while working on this file on two earlier runs."""

    code = "INGEST_CRASHED"
    default_hint = (
        "The file is kept in quarantine and skipped so the batch can finish; check its size and page count, "
        "then ingest it alone with more memory (处理此文件时进程多次中断，已隔离)."
    )


# --- object storage (added by dangan.storage) ------------------------------------------------------------
class StoreError(PermanentError):
    """The object store refused a request for a reason retrying will not fix (permissions, bad request)."""

    code = "STORE_ERROR"


# The store's disk or server said no (``store, action, key, errno`` or ``s3_code`` in details). Permanent: a full
# or read-only disk does not fix itself within a task's retry window; the operator fixes it and reruns, and the
# store guarantees nothing was half-written (temp files are removed, objects appear only when complete).
class StoreDiskFull(StoreError):
    """No space left (ENOSPC), a quota reached (EDQUOT), or an S3 server out of storage (507)."""

    code = "STORE_DISK_FULL"
    default_hint = (
        "Free space on the store's disk (or raise its quota), then rerun the same command: nothing was "
        "half-written and finished work is kept (存储空间已满：请清理磁盘或扩容后重新运行，已完成的部分不会重复)."
    )


class StoreReadOnly(StoreError):
    """The store's file system is mounted read-only (EROFS), often after the kernel saw disk errors."""

    code = "STORE_READ_ONLY"
    default_hint = (
        "Check the system log for disk errors, remount the store read-write, then rerun the same command; "
        "nothing was half-written (存储为只读：请检查磁盘并重新挂载为可写后重新运行)."
    )


class StorePermissionDenied(StoreError):
    """The account running dangan may not read or write there (EACCES/EPERM, S3 AccessDenied)."""

    code = "STORE_PERMISSION_DENIED"
    default_hint = (
        "Give the account that runs dangan read and write access to the store folder (or the bucket policy "
        "to its credentials), then rerun (存储无访问权限：请授予运行账户读写权限后重新运行)."
    )


class StoreIOError(StoreError):
    """The disk reported an input/output error (EIO) or another operating-system error."""

    code = "STORE_IO_ERROR"
    default_hint = (
        "Check the disk and the system log (dmesg) before rerunning, then run `dangan fixity --site …` to "
        "verify what is stored (存储读写错误：请检查磁盘后重新运行，并执行完整性检查)."
    )
