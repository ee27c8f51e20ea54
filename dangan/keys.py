"""Object keys: content-addressed or stable, never derived from user-supplied names."""

from __future__ import annotations


def master_key(site: str, sha256: str, ext: str) -> str:
    """``sites/{site}/masters/{sha[:2]}/{sha}{ext}``: the original scanner file, byte-for-byte."""
    return f"sites/{site}/masters/{sha256[:2]}/{sha256}{ext}"


def derivative_key(site: str, page_id: int, kind: str, params_hash: str, ext: str) -> str:
    """``sites/{site}/derivatives/{page_id}/{kind}-{params_hash}{ext}``."""
    return f"sites/{site}/derivatives/{page_id}/{kind}-{params_hash}{ext}"


def quarantine_key(site: str, sha256: str) -> str:
    """Rejected input, kept byte-for-byte (content-addressed: a re-run stores nothing twice)."""
    return f"sites/{site}/quarantine/{sha256[:2]}/{sha256}.bin"


def manifest_key(site: str, batch_id: str, sha256: str) -> str:
    return f"sites/{site}/batches/{batch_id}/manifest-{sha256[:12]}.csv"


def package_prefix(site: str, transfer_id: str) -> str:
    return f"sites/{site}/packages/{transfer_id}/"


EXT_BY_FORMAT = {"tiff": ".tif", "jpeg": ".jpg", "png": ".png", "pdf": ".pdf"}


def ocr_key(site: str, page_id: int, engine: str, model_digest: str, ext: str) -> str:
    """Per-page OCR output (JSON, hOCR) for one engine + model identity."""
    return f"sites/{site}/ocr/{page_id}/{engine}-{model_digest[:12]}{ext}"


def document_pdf_key(site: str, document_id: int, digest: str) -> str:
    """Searchable double-layer PDF (双层PDF) of a document."""
    return f"sites/{site}/documents/{document_id}/searchable-{digest[:12]}.pdf"
