"""Data types shared by the decoders: limits, decoded pages and probe results."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NotRequired, TypedDict

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

__all__ = ["DecodeLimits", "DecodedPage", "ProbeResult"]


class DecodeLimits(BaseModel):
    """Resource limits applied while decoding untrusted files."""

    model_config = ConfigDict(frozen=True)

    max_pixels: int = Field(default=250_000_000, gt=0, description="Per page, checked from the header before decoding.")
    max_pdf_pages: int = Field(default=500, gt=0)
    max_pages: int = Field(default=500, gt=0, description="Pages of a multi-page TIFF, counted from its IFDs.")
    max_total_pixels: int = Field(
        default=5_000_000_000,
        gt=0,
        description="All pages of one file together, checked from the headers before decoding (bounds the work, "
        "not the memory: pages are decoded one at a time).",
    )
    pdf_render_dpi: int = Field(default=300, ge=36, le=1200)
    min_bytes: int = Field(default=1, ge=1, description="Files shorter than this are treated as empty.")

    @classmethod
    def of(cls, ingest: Any) -> DecodeLimits:
        """The limits a site's ``[ingest]`` settings set (ingest, and transfers the site receives, use the same)."""
        return cls(
            max_pixels=ingest.max_pixels,
            max_pdf_pages=ingest.max_pdf_pages,
            max_pages=ingest.max_pages,
            max_total_pixels=ingest.max_total_pixels,
            pdf_render_dpi=ingest.pdf_render_dpi,
        )


class PageMeta(TypedDict):
    """Header-level facts of one page (``probe``): no pixels decoded. The last three are PDF pages' only."""

    index: int
    width: int
    height: int
    dpi: tuple[float, float] | None
    mode: str
    color_mode: str
    bit_depth: int
    compression: str | None
    page_size_pt: NotRequired[tuple[float, float]]
    embedded_dpi: NotRequired[tuple[float, float] | None]
    embedded_image: NotRequired[bool]


class PageExtra(TypedDict, total=False):
    """Format-specific facts of a decoded page (PDF pages: the page size and the embedded scan's dpi)."""

    page_size_pt: tuple[float, float]
    embedded_dpi: tuple[float, float]


@dataclass
class DecodedPage:
    """One decoded page.

    ``image`` is uint8, gray ``HxW`` or BGR ``HxWx3`` (OpenCV order). 16-bit samples are scaled to 8 bits,
    bilevel pages become 0/255 gray, palette/CMYK pages become BGR. ``bit_depth`` is the source's bits per
    pixel (1 bilevel, 8 gray, 16 gray 16-bit, 24 RGB, 32 CMYK) as DA/T 31 counts it. ``extra`` carries
    format-specific facts (for PDF pages: ``embedded_dpi``, ``page_size_pt``).
    """

    index: int
    image: np.ndarray
    dpi: tuple[float, float] | None
    color_mode: str
    bit_depth: int
    source_mode: str
    compression: str | None
    width: int
    height: int
    extra: PageExtra = field(default_factory=lambda: PageExtra())


@dataclass
class ProbeResult:
    """Header-level description of a file: format, pages and per-page metadata (no pixels decoded)."""

    format: str
    page_count: int
    pages_meta: list[PageMeta]
