"""Standalone OCR of scan files for extraction (``dangan extract``, the benchmark), without a catalog.

Pages go through the same OCR derivative as ingest (deskew, crop, contrast) so boxes and readings match
what the digitization flow stores.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import TypedDict, final

from dangan.errors import DanganError
from dangan.extract.document import extract_document
from dangan.extract.model import DocumentJson
from dangan.imaging import DecodeLimits, DeriveParams, iter_pages, make_ocr_derivative, measure
from dangan.ocr.engines.base import OcrEngine, PageResult


def ocr_file(path: Path, engine: OcrEngine, *, limits: DecodeLimits | None = None) -> list[PageResult]:
    """OCR every page of a scan file (TIFF, JPEG, PNG, PDF) on its OCR derivative.

    Raises the decoder's :class:`~dangan.errors.DanganError` for an unreadable file.
    """
    limits = limits or DecodeLimits()
    results: list[PageResult] = []
    for page in iter_pages(Path(path).read_bytes(), limits=limits):
        derivative = make_ocr_derivative(page, measure(page), DeriveParams())
        results.extend(engine.recognize([derivative.image]))
    return results


class FileErrorJson(TypedDict):
    """Why a file could not be read: the error's stable code and its (operator) message."""

    code: str
    message: str


@final  # final: ``"error" in entry`` tells the two kinds of entry apart
class UnreadableFile(TypedDict):
    """``extract_files`` entry of a file that could not be read."""

    path: str
    error: FileErrorJson


def extract_files(paths: Iterable[Path], engine: OcrEngine) -> list[DocumentJson | UnreadableFile]:
    """``{"path", "form_type", "fields", "contributions"}`` per file, or ``{"path", "error"}`` when a file
    cannot be read."""
    out: list[DocumentJson | UnreadableFile] = []
    for path in paths:
        try:
            pages = ocr_file(Path(path), engine)
        except DanganError as exc:
            out.append({"path": str(path), "error": {"code": exc.code, "message": exc.message}})
            continue
        failed = [p.error for p in pages if p.error]
        result = extract_document(pages).to_json(str(path))
        if failed:
            result["page_errors"] = failed
        out.append(result)
    return out
