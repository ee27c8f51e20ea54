"""TIFF / JPEG / PNG decoding through Pillow, with our own pixel limit and truncation checks.

Pillow's ``Image.open`` applies the process-wide ``MAX_IMAGE_PIXELS`` check, which we must neither rely on nor
change. We therefore instantiate the format plugin directly (the format is already known from sniffing) and
check ``im.size`` against :class:`DecodeLimits` ourselves, before ``im.load()`` allocates anything.
"""

from __future__ import annotations

import io
import math
import struct
from collections.abc import Container, Iterator

import numpy as np
from PIL import Image, ImageFile, JpegImagePlugin, PngImagePlugin, TiffImagePlugin

from dangan.errors import CorruptImage, FilePixelLimitExceeded, PageLimitExceeded, PixelLimitExceeded
from dangan.imaging.model import DecodedPage, DecodeLimits, PageMeta

__all__ = ["iter_raster", "probe_raster"]

_PLUGINS: dict[str, type[ImageFile.ImageFile]] = {
    "tiff": TiffImagePlugin.TiffImageFile,
    "jpeg": JpegImagePlugin.JpegImageFile,
    "png": PngImagePlugin.PngImageFile,
}
# Exceptions Pillow raises for damaged headers or data (SyntaxError is its "not this format" signal).
_DECODE_ERRORS = (OSError, SyntaxError, ValueError, struct.error, EOFError, IndexError, KeyError, TypeError)
# mode -> (color_mode, bits per pixel)
_MODES: dict[str, tuple[str, int]] = {
    "1": ("bilevel", 1),
    "L": ("gray", 8),
    "LA": ("gray", 8),
    "I;16": ("gray", 16),
    "I;16L": ("gray", 16),
    "I;16B": ("gray", 16),
    "I;16N": ("gray", 16),
    "I": ("gray", 32),
    "F": ("gray", 32),
    "P": ("color", 8),
    "PA": ("color", 8),
    "RGB": ("color", 24),
    "RGBA": ("color", 24),
    "RGBX": ("color", 24),
    "CMYK": ("color", 32),
    "YCbCr": ("color", 24),
    "LAB": ("color", 24),
}


def _open(fmt: str, data: bytes) -> ImageFile.ImageFile:
    try:
        # The plugin constructor reads the header only and, unlike Image.open, skips the global bomb check.
        return _PLUGINS[fmt](io.BytesIO(data))
    except Image.DecompressionBombError as exc:  # not expected, kept as a backstop
        raise PixelLimitExceeded(str(exc), width=None, height=None, limit=None) from exc
    except _DECODE_ERRORS as exc:
        raise CorruptImage(f"cannot read {fmt} header: {exc}", page=0, error=str(exc)) from exc


def _frames(im: ImageFile.ImageFile, fmt: str, limits: DecodeLimits) -> Iterator[int]:
    """Seek through frames (header reads only), enforcing page, pixel and per-file pixel limits on each.

    A TIFF's pages are counted by walking its IFD chain one entry at a time and stop at ``max_pages``: a small
    file claiming thousands of pages (or an IFD loop) costs at most ``max_pages`` header reads.
    """
    index = 0
    total = 0
    while True:
        if index >= limits.max_pages:
            raise PageLimitExceeded(
                f"more than {limits.max_pages} pages", page_count=f">{limits.max_pages}", limit=limits.max_pages
            )
        w, h = im.size
        if w * h > limits.max_pixels:
            raise PixelLimitExceeded(
                f"page {index} is {w}x{h} px, limit {limits.max_pixels} px",
                width=w,
                height=h,
                limit=limits.max_pixels,
                page=index,
            )
        total += w * h
        if total > limits.max_total_pixels:
            raise FilePixelLimitExceeded(
                f"pages 0-{index} already have {total} px, limit {limits.max_total_pixels} px per file",
                total_pixels=f">{limits.max_total_pixels}",
                limit=limits.max_total_pixels,
                page=index,
            )
        yield index
        if fmt != "tiff":
            return
        index += 1
        try:
            im.seek(index)
        except EOFError:
            return
        except _DECODE_ERRORS as exc:
            raise CorruptImage(f"cannot read page {index} header: {exc}", page=index, error=str(exc)) from exc


def _dpi(im: ImageFile.ImageFile, fmt: str) -> tuple[float, float] | None:
    if fmt == "tiff" and 282 not in im.tag_v2:  # type: ignore[attr-defined]
        return None  # Pillow reports (1, 1) for a TIFF without XResolution
    dpi = im.info.get("dpi")
    try:
        x, y = float(dpi[0]), float(dpi[1])  # type: ignore[index]
    except (TypeError, ValueError, IndexError):
        return None
    if not (math.isfinite(x) and math.isfinite(y)) or x <= 0 or y <= 0:
        return None
    return (round(x, 1), round(y, 1))  # PNG stores pixels per metre: 11811 ppm is 299.9994 dpi


def _meta(im: ImageFile.ImageFile, fmt: str, index: int) -> PageMeta:
    color_mode, bits = _MODES.get(im.mode, ("color", 24))
    compression = im.info.get("compression") if fmt == "tiff" else {"jpeg": "jpeg", "png": "deflate"}[fmt]
    return {
        "index": index,
        "width": im.size[0],
        "height": im.size[1],
        "dpi": _dpi(im, fmt),
        "mode": im.mode,
        "color_mode": color_mode,
        "bit_depth": bits,
        "compression": compression,
    }


def _check_complete(fmt: str, data: bytes, im: ImageFile.ImageFile, index: int) -> None:
    """Structural completeness checks that hold even if someone set ``LOAD_TRUNCATED_IMAGES`` globally."""
    problem = None
    if fmt == "jpeg" and (getattr(im, "_ended", False) or data.rfind(b"\xff\xd9") < data.rfind(b"\xff\xda")):
        problem = "JPEG data ends before the end-of-image marker"
    elif fmt == "png" and data.rfind(b"IEND") < data.rfind(b"IDAT"):
        problem = "PNG data ends before the IEND chunk"
    elif fmt == "tiff":
        tags = im.tag_v2  # type: ignore[attr-defined]
        offsets = tags.get(273) or tags.get(324) or ()
        counts = tags.get(279) or tags.get(325) or ()
        ends = [int(o) + int(c) for o, c in zip(offsets, counts, strict=False)]
        if ends and max(ends) > len(data):
            problem = f"TIFF strips end at byte {max(ends)}, file has {len(data)}"
    if problem:
        raise CorruptImage(f"page {index}: {problem}", page=index, error=problem)


def _to_array(im: Image.Image) -> np.ndarray:
    """Pixels as uint8 gray or BGR, following the rules documented on :class:`DecodedPage`."""
    mode = im.mode
    if mode in ("LA", "PA", "RGBA", "La", "RGBa") or "transparency" in im.info:
        rgba = im.convert("RGBA")  # flatten onto white paper, not black
        flat = Image.alpha_composite(Image.new("RGBA", rgba.size, (255, 255, 255, 255)), rgba)
        arr = np.asarray(flat.convert("L" if mode in ("LA", "La") else "RGB"))
    elif mode == "1":
        arr = np.asarray(im.convert("L"))
    elif mode in ("L", "RGB"):
        arr = np.asarray(im)
    elif mode.startswith("I;16") or mode == "I":
        wide = np.asarray(im).astype(np.int64)
        arr = ((np.clip(wide, 0, 65535) + 128) // 257).astype(np.uint8)
    elif mode == "F":
        arr = np.clip(np.asarray(im), 0, 255).astype(np.uint8)
    else:  # P, CMYK, YCbCr, LAB, RGBX, ...
        arr = np.asarray(im.convert("RGB"))
    if arr.ndim == 3:
        arr = arr[:, :, ::-1]  # RGB -> BGR
    return np.ascontiguousarray(arr, dtype=np.uint8)


def probe_raster(fmt: str, data: bytes, limits: DecodeLimits) -> list[PageMeta]:
    """Per-page header metadata of a TIFF/JPEG/PNG, enforcing page and pixel limits."""
    im = _open(fmt, data)
    try:
        return [_meta(im, fmt, i) for i in _frames(im, fmt, limits)]
    finally:
        im.close()


def iter_raster(
    fmt: str, data: bytes, limits: DecodeLimits, only: Container[int] | None = None
) -> Iterator[DecodedPage]:
    """Validate headers now, then decode pages lazily, one at a time (``only``: decode just these indexes)."""
    probe_raster(fmt, data, limits)  # eager: limits and page headers fail before the first page is decoded
    return _decode(fmt, data, limits, only)


def _decode(fmt: str, data: bytes, limits: DecodeLimits, only: Container[int] | None) -> Iterator[DecodedPage]:
    im = _open(fmt, data)
    try:
        for index in _frames(im, fmt, limits):
            if only is not None and index not in only:
                continue  # seeking past a page reads its header only
            meta = _meta(im, fmt, index)
            try:
                im.load()
                _check_complete(fmt, data, im, index)
                arr = _to_array(im)
            except CorruptImage:
                raise
            except Image.DecompressionBombError as exc:
                # Pillow's TIFF loader applies its global bomb check (2 x MAX_IMAGE_PIXELS, ~179 MP by default)
                # even when the plugin is used directly: a page between that and our max_pixels lands here.
                w, h = im.size
                raise PixelLimitExceeded(
                    f"page {index} is {w}x{h} px, above Pillow's process-wide limit",
                    width=w,
                    height=h,
                    limit=None,
                    page=index,
                    error=str(exc),
                ) from exc
            except _DECODE_ERRORS as exc:
                raise CorruptImage(f"page {index} cannot be decoded: {exc}", page=index, error=str(exc)) from exc
            yield DecodedPage(
                index=index,
                image=arr,
                dpi=meta["dpi"],
                color_mode=meta["color_mode"],
                bit_depth=meta["bit_depth"],
                source_mode=meta["mode"],
                compression=meta["compression"],
                width=arr.shape[1],
                height=arr.shape[0],
            )
    finally:
        im.close()
