"""Decode scanned masters (TIFF, JPEG, PNG, PDF) into pages of 8-bit pixels, safely.

The format is decided by content (:func:`~dangan.imaging.sniff.sniff_format`), never by the file name. Header-level
limits (pixels per page, page counts) are enforced *before* any pixel buffer is allocated, so a decompression bomb
costs a few header reads, not gigabytes. Pillow's process-wide ``Image.MAX_IMAGE_PIXELS`` and
``ImageFile.LOAD_TRUNCATED_IMAGES`` are neither changed nor relied upon.
"""

from __future__ import annotations

from collections.abc import Container, Iterator

from dangan.errors import EmptyFile, UnsupportedFormat
from dangan.imaging import pdf, raster
from dangan.imaging.model import DecodedPage, DecodeLimits, ProbeResult
from dangan.imaging.paper import image_dpi_plausibility
from dangan.imaging.sniff import ACCEPTED, SNIFF_BYTES, sniff_format

__all__ = ["DecodeLimits", "DecodedPage", "ProbeResult", "image_dpi_plausibility", "iter_pages", "probe"]


def _detect(data: bytes, limits: DecodeLimits) -> str:
    if len(data) < limits.min_bytes or not data:
        raise EmptyFile(f"file has {len(data)} bytes", size=len(data))
    fmt = sniff_format(data[:SNIFF_BYTES])
    if fmt not in ACCEPTED:
        shown = fmt or "unknown"
        raise UnsupportedFormat(f"content is {shown}, not an accepted scan format", detected=shown)
    return fmt


def probe(data: bytes, *, limits: DecodeLimits) -> ProbeResult:
    """Describe ``data`` from its headers: format, page count, per-page width/height/dpi/mode/compression.

    Raises the same header-level errors :func:`iter_pages` would (``EmptyFile``, ``UnsupportedFormat``,
    ``CorruptImage``, ``PixelLimitExceeded``, ``PageLimitExceeded``, ``FilePixelLimitExceeded``, ``PdfEncrypted``,
    ``PdfMalformed``, ``PdfPageLimit``), so ingest can quarantine a file without decoding a single pixel.
    """
    fmt = _detect(data, limits)
    metas = pdf.probe_pdf(data, limits) if fmt == "pdf" else raster.probe_raster(fmt, data, limits)
    return ProbeResult(format=fmt, page_count=len(metas), pages_meta=metas)


def iter_pages(data: bytes, *, limits: DecodeLimits, only: Container[int] | None = None) -> Iterator[DecodedPage]:
    """Decode ``data`` page by page (each page fully loaded, so truncation is detected).

    Format detection, page counting and the page, pixel and per-file pixel limits are checked eagerly, when this
    function is called; pixel decoding happens lazily as the iterator advances. The decoder holds one page at a
    time, so memory stays flat with the page count as long as the caller does not keep the pages it was given.
    ``only`` decodes just these page indexes (e.g. the pages a resumed run still needs).
    Truncated or damaged pixel data raises ``CorruptImage`` with ``page`` and ``error`` in its details.
    """
    fmt = _detect(data, limits)
    if fmt == "pdf":
        return pdf.iter_pdf(data, limits, only)
    return raster.iter_raster(fmt, data, limits, only)
