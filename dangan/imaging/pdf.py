"""PDF decoding through pypdfium2: each page is rendered at ``DecodeLimits.pdf_render_dpi``.

PDFium is not thread-safe, so every call into it holds a module lock (never across a ``yield``). Pages whose
content is one full-page image (the usual "scanner wrote a PDF" case) also report that image's own resolution
as ``embedded_dpi``, which QA prefers over the render resolution.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Container, Iterator
from typing import TypedDict

import numpy as np
import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c

from dangan.errors import FilePixelLimitExceeded, PdfEncrypted, PdfMalformed, PdfPageLimit, PixelLimitExceeded
from dangan.imaging.model import DecodedPage, DecodeLimits, PageExtra, PageMeta

__all__ = ["iter_pdf", "probe_pdf"]

_LOCK = threading.Lock()
_GRAY_SPACES = {pdfium_c.FPDF_COLORSPACE_DEVICEGRAY, pdfium_c.FPDF_COLORSPACE_CALGRAY}
_FULL_PAGE = 0.8  # an image covering this share of the page is "the scan"


def _open(data: bytes) -> pdfium.PdfDocument:
    try:
        doc = pdfium.PdfDocument(data)
    except pdfium.PdfiumError as exc:
        if exc.err_code == pdfium_c.FPDF_ERR_PASSWORD:
            raise PdfEncrypted("PDF needs a password to open", error=str(exc)) from exc
        raise PdfMalformed(f"PDF cannot be opened: {exc}", error=str(exc), pdfium_code=exc.err_code) from exc
    count = len(doc)
    if count < 1:
        doc.close()
        raise PdfMalformed("PDF has no pages", page_count=count)
    return doc


class _Embedded(TypedDict):
    embedded_dpi: tuple[float, float] | None
    embedded_px: tuple[int, int]
    embedded_bpp: int
    embedded_gray: bool
    compression: str | None


def _embedded(page: pdfium.PdfPage, w_pt: float, h_pt: float) -> _Embedded | None:
    """Facts about the single full-page image of a scanned page, or None for other pages."""
    images = list(page.get_objects(filter=[pdfium_c.FPDF_PAGEOBJ_IMAGE], max_depth=2))
    if len(images) != 1:
        return None
    img = images[0]
    left, bottom, right, top = img.get_bounds()
    if (right - left) * (top - bottom) < _FULL_PAGE * w_pt * h_pt:
        return None
    md = img.get_metadata()
    px_w, px_h = img.get_px_size()
    dpi = (round(float(md.horizontal_dpi), 1), round(float(md.vertical_dpi), 1))
    return {
        "embedded_dpi": dpi if min(dpi) > 0 else None,
        "embedded_px": (int(px_w), int(px_h)),
        "embedded_bpp": int(md.bits_per_pixel),
        "embedded_gray": md.colorspace in _GRAY_SPACES,
        "compression": "+".join(img.get_filters()) or None,
    }


def _page_meta(doc: pdfium.PdfDocument, index: int, limits: DecodeLimits) -> PageMeta:
    page = doc[index]
    try:
        w_pt, h_pt = page.get_size()
        scale = limits.pdf_render_dpi / 72.0
        w, h = math.ceil(w_pt * scale), math.ceil(h_pt * scale)
        if w * h > limits.max_pixels:
            raise PixelLimitExceeded(
                f"page {index} renders to {w}x{h} px at {limits.pdf_render_dpi} dpi, limit {limits.max_pixels}",
                width=w,
                height=h,
                limit=limits.max_pixels,
                page=index,
            )
        embedded = _embedded(page, w_pt, h_pt)
    finally:
        page.close()
    bpp = embedded["embedded_bpp"] if embedded else None
    gray = bool(embedded and embedded["embedded_gray"]) or bpp == 1
    return {
        "index": index,
        "width": w,
        "height": h,
        "dpi": (float(limits.pdf_render_dpi), float(limits.pdf_render_dpi)),
        "mode": "pdf-render",
        "color_mode": "bilevel" if bpp == 1 else "gray" if gray else "color",
        "bit_depth": bpp if bpp is not None and bpp in (1, 8, 16, 24, 32) else (8 if gray else 24),
        "compression": embedded["compression"] if embedded else None,
        "page_size_pt": (round(w_pt, 2), round(h_pt, 2)),
        "embedded_dpi": embedded["embedded_dpi"] if embedded else None,
        "embedded_image": embedded is not None,
    }


def probe_pdf(data: bytes, limits: DecodeLimits) -> list[PageMeta]:
    """Per-page metadata of a PDF (page size, render size, embedded scan resolution), enforcing limits."""
    with _LOCK:
        doc = _open(data)
        try:
            count = len(doc)
            if count > limits.max_pdf_pages:
                raise PdfPageLimit(
                    f"PDF has {count} pages, limit {limits.max_pdf_pages}",
                    page_count=count,
                    limit=limits.max_pdf_pages,
                )
            metas, total = [], 0
            for i in range(count):
                meta = _page_meta(doc, i, limits)
                total += meta["width"] * meta["height"]
                if total > limits.max_total_pixels:
                    raise FilePixelLimitExceeded(
                        f"pages 0-{i} render to {total} px at {limits.pdf_render_dpi} dpi, "
                        f"limit {limits.max_total_pixels} px per file",
                        total_pixels=f">{limits.max_total_pixels}",
                        limit=limits.max_total_pixels,
                        page=i,
                    )
                metas.append(meta)
            return metas
        finally:
            doc.close()


def iter_pdf(data: bytes, limits: DecodeLimits, only: Container[int] | None = None) -> Iterator[DecodedPage]:
    """Validate the document now (open, page count, pixel limits), then render pages lazily, one at a time.

    ``only`` restricts rendering to these page indexes (the others are skipped without rendering).
    """
    metas = probe_pdf(data, limits)
    if only is not None:
        metas = [m for m in metas if m["index"] in only]
    return _render_all(data, metas, limits)


def _render(doc: pdfium.PdfDocument, meta: PageMeta, limits: DecodeLimits) -> np.ndarray:
    index = meta["index"]
    page = doc[index]
    try:
        bitmap = page.render(
            scale=limits.pdf_render_dpi / 72.0, may_draw_forms=False, grayscale=meta["color_mode"] != "color"
        )
        arr = np.array(bitmap.to_numpy(), dtype=np.uint8, copy=True)
    except pdfium.PdfiumError as exc:
        raise PdfMalformed(f"page {index} cannot be rendered: {exc}", page=index, error=str(exc)) from exc
    finally:
        page.close()
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[:, :, 0]
    elif arr.ndim == 3:
        arr = arr[:, :, :3]  # BGRx/BGRA -> BGR
        gray_content = np.array_equal(arr[:, :, 0], arr[:, :, 1]) and np.array_equal(arr[:, :, 1], arr[:, :, 2])
        if gray_content and not meta.get("embedded_image"):
            arr = arr[:, :, 0]  # a vector page with no colour at all; scans keep their declared mode
    return np.ascontiguousarray(arr)


def _render_all(data: bytes, metas: list[PageMeta], limits: DecodeLimits) -> Iterator[DecodedPage]:
    with _LOCK:
        doc = _open(data)
    try:
        for meta in metas:
            with _LOCK:
                arr = _render(doc, meta, limits)
            extra = PageExtra()
            if (size := meta.get("page_size_pt")) is not None:
                extra["page_size_pt"] = size
            if (embedded_dpi := meta.get("embedded_dpi")) is not None:
                extra["embedded_dpi"] = embedded_dpi
            yield DecodedPage(
                index=meta["index"],
                image=arr,
                dpi=meta["dpi"],
                # declared mode of the embedded scan if any, else what the render turned out to be
                color_mode=meta["color_mode"] if meta.get("embedded_image") else ("gray" if arr.ndim == 2 else "color"),
                bit_depth=meta["bit_depth"],
                source_mode=meta["mode"],
                compression=meta["compression"],
                width=arr.shape[1],
                height=arr.shape[0],
                extra=extra,
            )
    finally:
        with _LOCK:
            doc.close()
