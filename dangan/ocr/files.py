"""Standalone OCR input: image files and folders (TIFF incl. multi-page, JPEG, PNG, PDF), no catalog."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dangan.errors import DanganError
from dangan.imaging.decode import DecodeLimits, iter_pages
from dangan.imaging.sniff import ACCEPTED, sniff_format

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
    """Decode every page (deskewed/cropped OCR derivative when ``preprocess``); unreadable files yield errors."""
    from dangan.imaging.derive import DeriveParams, make_ocr_derivative
    from dangan.imaging.qa import measure

    limits = limits or DecodeLimits()
    for path in expand_paths(paths):
        try:
            data = path.read_bytes()
            fmt = sniff_format(data[:2048])
            if fmt not in ACCEPTED:
                raise DanganError(f"{path.name}: not an accepted image or PDF ({fmt or 'unknown'})")
            for decoded in iter_pages(data, limits=limits):
                if preprocess:
                    image = make_ocr_derivative(decoded, measure(decoded), DeriveParams()).image
                else:
                    image = decoded.image if decoded.image.ndim == 2 else decoded.image[..., ::-1]
                yield FilePage(str(path), decoded.index + 1, np.ascontiguousarray(image))
        except DanganError as exc:
            yield FilePage(str(path), 1, None, f"{exc.code}: {exc.message}")
        except OSError as exc:
            yield FilePage(str(path), 1, None, f"READ_FAILED: {exc.strerror or exc}")
