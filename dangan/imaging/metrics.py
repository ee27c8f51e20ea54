"""Per-page image measurements for QA (all plain numbers, ready for a JSON column).

Measurements are taken on the work image (see :mod:`dangan.imaging.analysis`, 150 dpi gray), so their scale
does not depend on the scan resolution. Definitions:

- ``blank_score``: share of paper pixels that are ink (darker than the local paper level by more than the noise
  allows; dust specks removed). Text pages are ~0.02-0.10, blank pages < 0.001.
- ``blur``: sharpness, *higher is sharper*: variance of the Laplacian over the ink zone (ink dilated by 2 px)
  divided by ``contrast``² and multiplied by 100, so faint but sharp text is not called blurry. Sharp print
  is > 800; Gaussian blur of sigma 3 source pixels at 200-300 dpi is < 100.
- ``skew_deg``: positive = content rotated counter-clockwise (lines rise to the right); 0 when unreliable.
- ``border_fraction``: share of the image that is dark scanner bed connected to the image edge.
- ``contrast``: median local paper level minus median ink level at ink pixels (0-255); for pages without ink,
  the 99th minus 1st percentile of the paper.
- ``brightness``: mean gray of the paper region (0-255).
- ``uneven_illumination``: 95th minus 5th percentile of the lighting envelope inside the paper, / 255. The
  envelope is the local paper level's maximum over ~40 mm: a lamp falls off smoothly across the page, while
  grey-shaded table cells are darker patches with white paper next to them, so they do not count as light.
- ``seals``: red/blue stamp impressions (``box`` in source pixels, ``colour``), see
  :func:`dangan.imaging.analysis.find_seals`. A seal is evidence, recorded as the ``PAGE_HAS_SEAL`` fact.
"""

from __future__ import annotations

from typing import Any, Literal

import cv2
import numpy as np
from pydantic import BaseModel, Field

from dangan.imaging.analysis import WORK_DPI, Analysis, analyse, estimate_skew, find_seals
from dangan.imaging.model import DecodedPage
from dangan.imaging.paper import DpiPlausibility, image_dpi_plausibility

__all__ = ["DEFAULT_BLANK_INK_FRACTION", "METRICS_VERSION", "PageMetrics", "measure"]

METRICS_VERSION = 1
DEFAULT_BLANK_INK_FRACTION = 0.001
_ENVELOPE_MM = 40.0  # wider than a shaded label column (~30 mm), far narrower than a lamp's fall-off

DpiSource = Literal["metadata", "render", "estimated", "none"]


class PageMetrics(BaseModel):
    """Measured facts about one page. ``dpi_source``: ``metadata`` (file header, or the embedded scan of a PDF
    page), ``render`` (a PDF page without an embedded scan, rendered at the decoder's dpi), ``estimated``
    (no metadata; inferred from a standard paper size) or ``none``."""

    version: int = METRICS_VERSION
    width: int
    height: int
    color_mode: str
    bit_depth: int
    dpi_x: float | None
    dpi_y: float | None
    dpi_source: DpiSource
    effective_dpi: float | None
    dpi_plausible: bool | None
    dpi_message: str
    paper_size: str | None
    blank_score: float
    is_blank: bool
    blur: float
    skew_deg: float
    skew_confidence: float
    border_fraction: float
    contrast: float
    brightness: float
    uneven_illumination: float
    seals: list[dict[str, Any]] = Field(default_factory=list)  # absent in metrics measured before seals were


def _dpi_facts(page: DecodedPage) -> tuple[tuple[float, float] | None, DpiSource, DpiPlausibility, float | None]:
    """(dpi pair, source, plausibility, pixel density of ``page.image`` to analyse with)."""
    embedded = page.extra.get("embedded_dpi")
    if page.source_mode == "pdf-render" and page.dpi:
        render = page.dpi[0]
        if embedded:
            ex, ey = embedded
            plaus = image_dpi_plausibility(page.width * ex / render, page.height * ey / render, embedded)
            return (float(ex), float(ey)), "metadata", plaus, render
        return page.dpi, "render", image_dpi_plausibility(page.width, page.height, page.dpi), render
    plaus = image_dpi_plausibility(page.width, page.height, page.dpi)
    if page.dpi:
        return page.dpi, "metadata", plaus, plaus["effective_dpi"]
    est = plaus["estimated_dpi"]
    return ((est, est) if est else None), ("estimated" if est else "none"), plaus, est


def _sharpness(a: Analysis, contrast: float) -> float:
    if not a.ink.any():
        return 0.0
    lap = cv2.Laplacian(a.gray.astype(np.float32), cv2.CV_32F, ksize=3)
    zone = cv2.dilate(a.ink.astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool)
    return float(lap[zone].var()) / max(contrast, 1.0) ** 2 * 100.0


def _uneven(a: Analysis) -> float:
    paper = a.paper.astype(np.uint8)
    k = max(3, round(5 / 25.4 * WORK_DPI))  # stay 5 mm away from the bed: closing bleeds the dark edge in
    inner = cv2.erode(paper, np.ones((k, k), np.uint8)).astype(bool)
    # lighting envelope: the paper level's local maximum over ~40 mm, on a quarter-size image (cheap)
    bg = a.background
    small = cv2.resize(bg, (max(1, bg.shape[1] // 4), max(1, bg.shape[0] // 4)), interpolation=cv2.INTER_AREA)
    k = max(3, round(_ENVELOPE_MM / 25.4 * WORK_DPI / 4)) | 1
    envelope = cv2.dilate(small, cv2.getStructuringElement(cv2.MORPH_RECT, (k, k)))
    envelope = cv2.resize(envelope, (bg.shape[1], bg.shape[0]), interpolation=cv2.INTER_LINEAR)
    values = envelope[inner] if inner.any() else envelope.ravel()
    p5, p95 = np.percentile(values, [5, 95])
    return float(p95 - p5) / 255.0


def measure(page: DecodedPage, *, blank_ink_fraction: float = DEFAULT_BLANK_INK_FRACTION) -> PageMetrics:
    """Measure resolution, blankness, sharpness, skew, border, contrast, brightness and illumination."""
    dpi, source, plaus, analysis_dpi = _dpi_facts(page)
    a = analyse(page.image, analysis_dpi)
    paper = a.paper
    paper_px = int(paper.sum())
    ink_fraction = float(a.ink.sum()) / max(paper_px, 1)
    if a.ink.any():
        contrast = float(np.median(a.background[a.ink])) - float(np.median(a.gray[a.ink]))
    else:
        p1, p99 = np.percentile(a.gray[paper] if paper_px else a.gray, [1, 99])
        contrast = float(p99 - p1)
    is_blank = ink_fraction < blank_ink_fraction
    skew, confidence = (0.0, 0.0) if is_blank else estimate_skew(a.ink)
    return PageMetrics(
        width=page.width,
        height=page.height,
        color_mode=page.color_mode,
        bit_depth=page.bit_depth,
        dpi_x=round(dpi[0], 2) if dpi else None,
        dpi_y=round(dpi[1], 2) if dpi else None,
        dpi_source=source,
        effective_dpi=plaus["effective_dpi"],
        dpi_plausible=plaus["plausible"],
        dpi_message=plaus["message"],
        paper_size=plaus["closest_size"] or plaus["estimated_size"],
        blank_score=round(ink_fraction, 6),
        is_blank=is_blank,
        blur=round(_sharpness(a, contrast), 2),
        skew_deg=skew,
        skew_confidence=confidence,
        border_fraction=round(float(a.bed.mean()), 4),
        contrast=round(contrast, 2),
        brightness=round(float(a.gray[paper].mean()) if paper_px else float(a.gray.mean()), 2),
        uneven_illumination=round(_uneven(a), 4),
        seals=find_seals(page.image, analysis_dpi),
    )
