"""Writing sample pages the way scanners do, with resolution metadata in every file, plus broken files.

Formats: ``tiff_lzw`` (greyscale, LZW, one or many pages), ``tiff_g4`` (bilevel, CCITT Group 4, one or
many pages), ``jpeg`` and ``png`` (colour, one page) and ``pdf`` (colour pages embedded as JPEG by Pillow).
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from PIL import Image

EXTENSIONS = {"tiff_lzw": ".tif", "tiff_g4": ".tif", "jpeg": ".jpg", "png": ".png", "pdf": ".pdf"}
MODES = {"tiff_lzw": "L", "tiff_g4": "1", "jpeg": "RGB", "png": "RGB", "pdf": "RGB"}
MULTI_PAGE = frozenset({"tiff_lzw", "tiff_g4", "pdf"})
BILEVEL_THRESHOLD = 160


def scan_mode(image: Image.Image, fmt: str) -> Image.Image:
    """The page in the colour space the scanner works in for ``fmt`` (greyscale for TIFFs, else RGB)."""
    return image.convert("RGB" if MODES[fmt] == "RGB" else "L")


def finish(image: Image.Image, fmt: str) -> Image.Image:
    """Final pixel mode for ``fmt``: bilevel pages are thresholded (scanners do not dither text)."""
    if MODES[fmt] != "1":
        return image
    return image.point(lambda v: 255 if v >= BILEVEL_THRESHOLD else 0).convert("1", dither=Image.Dither.NONE)


def save(pages: list[Image.Image], path: Path, fmt: str, dpi: int, doc_date: str) -> None:
    """Write ``pages`` (already through :func:`finish`) to ``path`` in ``fmt`` at ``dpi``."""
    if len(pages) > 1 and fmt not in MULTI_PAGE:
        raise ValueError(f"{fmt} holds a single page, got {len(pages)}")
    first, rest = pages[0], pages[1:]
    if fmt in ("tiff_lzw", "tiff_g4"):
        compression = "tiff_lzw" if fmt == "tiff_lzw" else "group4"
        first.save(path, "TIFF", save_all=True, append_images=rest, compression=compression, dpi=(dpi, dpi))
    elif fmt == "jpeg":
        first.save(path, "JPEG", quality=88, dpi=(dpi, dpi))
    elif fmt == "png":
        first.save(path, "PNG", dpi=(dpi, dpi), compress_level=6)
    elif fmt == "pdf":
        # Fixed dates keep the bytes reproducible for a given seed.
        stamp = datetime.fromisoformat(doc_date).timetuple()
        first.save(path, "PDF", save_all=True, append_images=rest, resolution=float(dpi), quality=88,
                   creationDate=stamp, modDate=stamp, producer="dangan.samples")  # fmt: skip
    else:
        raise ValueError(f"unknown sample format {fmt!r}")


def write_zero_byte(path: Path) -> None:
    """An empty file, as a scanner that crashed mid-write leaves behind."""
    path.write_bytes(b"")


def write_truncated(source: Path, path: Path, fraction: float = 0.4) -> None:
    """The first ``fraction`` of a real image file (an interrupted copy)."""
    data = source.read_bytes()
    path.write_bytes(data[: int(len(data) * fraction)])


def write_not_an_image(path: Path) -> None:
    """Text saved under an image extension."""
    path.write_text("not an image\n这不是图像文件。\n", encoding="utf-8")
