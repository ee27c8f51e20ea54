"""Standalone OCR input: image files and folders (TIFF incl. multi-page, JPEG, PNG, PDF), no catalog."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dangan.errors import DanganError
from dangan.imaging.decode import DecodeLimits, iter_pages
from dangan.pii import scrub

SUFFIXES = {".tif", ".tiff", ".jpg", ".jpeg", ".png", ".pdf"}


@dataclass
class FilePage:
    """One page to recognize; ``image`` is None and ``error`` set when the file could not be read."""

    path: str
    page: int  # 1-based
    image: np.ndarray | None
    error: str | None = None


def expand_paths(paths: list[Path]) -> list[Path]:
    """Files as given, and image/PDF files found below folders (sorted)."""
    out: list[Path] = []
    for p in paths:
        if p.is_dir():
            out += sorted(f for f in p.rglob("*") if f.is_file() and f.suffix.lower() in SUFFIXES)
        else:
            out.append(p)
    return out


def iter_file_pages(
    paths: list[Path], *, preprocess: bool = True, limits: DecodeLimits | None = None
) -> Iterator[FilePage]:
    """Decode every page (deskewed/cropped OCR derivative when ``preprocess``); unreadable files yield errors.

    Errors carry the codes ingest quarantines with (``INGEST_EMPTY_FILE``, ``INGEST_UNSUPPORTED_FORMAT``,
    ``INGEST_CORRUPT_IMAGE``, ...). A file that fails after some pages yields those pages, then the error.
    """
    from dangan.imaging.derive import DeriveParams, make_ocr_derivative
    from dangan.imaging.qa import measure

    limits = limits or DecodeLimits()
    for path in expand_paths(paths):
        page = 1
        try:
            data = path.read_bytes()
            for decoded in iter_pages(data, limits=limits):
                page = decoded.index + 1
                if preprocess:
                    image = make_ocr_derivative(decoded, measure(decoded), DeriveParams()).image
                else:
                    image = decoded.image if decoded.image.ndim == 2 else decoded.image[..., ::-1]
                yield FilePage(str(path), page, np.ascontiguousarray(image))
                page += 1  # an error while decoding the next page is reported there
        except DanganError as exc:
            hint = f" ({exc.hint})" if exc.hint else ""
            yield FilePage(str(path), page, None, f"{exc.code}: {exc.message}{hint}")
        except OSError as exc:
            yield FilePage(str(path), page, None, f"READ_FAILED: {exc.strerror or exc}")
        except Exception as exc:  # preprocessing of an odd page: that file's error, not the whole run's
            yield FilePage(str(path), page, None, f"OCR_INPUT_FAILED: {type(exc).__name__}: {scrub(str(exc))[:200]}")


def batches(pages: Iterator[FilePage], size: int) -> Iterator[list[FilePage]]:
    """``pages`` in lists of up to ``size`` (engines read a batch at once: pages side by side, shared runs)."""
    batch: list[FilePage] = []
    for page in pages:
        batch.append(page)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch
