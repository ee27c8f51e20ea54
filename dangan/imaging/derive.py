"""OCR derivatives and review thumbnails. The master is never modified: every step works on a copy.

Pipeline (each step optional, recorded in ``Derivative.params``): whiten the dark scanner bed → deskew (rotate by
``-skew`` on an expanded white canvas) → crop to the paper → denoise → normalize contrast (flat-field division
by the local paper level, then a black-point stretch) → upsample to ``target_dpi`` → binarize (Sauvola).
"""

from __future__ import annotations

import hashlib
import io
import json
from dataclasses import dataclass, field
from typing import Any, Literal

import cv2
import numpy as np
import PIL
from PIL import Image
from pydantic import BaseModel, Field

from dangan.imaging.analysis import analyse, to_gray
from dangan.imaging.metrics import PageMetrics
from dangan.imaging.model import DecodedPage

__all__ = ["TOOL", "Derivative", "DeriveParams", "make_ocr_derivative", "make_thumbnail", "params_digest"]

IMAGING_VERSION = "0.1"
TOOL = f"dangan-imaging/{IMAGING_VERSION} opencv/{cv2.__version__} numpy/{np.__version__} pillow/{PIL.__version__}"
_SAUVOLA_K, _SAUVOLA_R, _SAUVOLA_WINDOW_MM = 0.2, 128.0, 3.0
_MAX_STRETCH_GAIN = 4.0


class DeriveParams(BaseModel):
    """How to build an OCR derivative. Defaults suit RapidOCR/Tesseract on 200-600 dpi office scans."""

    deskew: bool = True
    min_skew_deg: float = Field(default=0.1, description="Smaller skews are left alone (rotation resamples the page).")
    min_skew_confidence: float = Field(default=1.5, description="Less confident skew estimates are not applied.")
    crop_border: bool = True
    denoise: Literal["median3", "nlmeans", "none"] = "median3"
    normalize_contrast: bool = True
    binarize: bool = False
    target_dpi: int | None = Field(default=None, description="Upsample pages scanned below this; higher ones are kept.")
    format: Literal["png"] = "png"


@dataclass
class Derivative:
    """An OCR-ready gray or binary image, its PNG encoding and the provenance needed to reproduce it."""

    image: np.ndarray
    encoded: bytes
    params: dict[str, Any]
    params_hash: str
    tool: str = TOOL
    ext: str = ".png"
    kind: str = "ocr-gray"
    media_type: str = "image/png"
    dpi: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def _pixel_dpi(page: DecodedPage, metrics: PageMetrics) -> float | None:
    """Pixel density of ``page.image`` itself (a rendered PDF page has its render dpi, not the embedded one)."""
    if page.source_mode == "pdf-render" and page.dpi:
        return float(page.dpi[0])
    return metrics.effective_dpi


def _deskew(gray: np.ndarray, paper: np.ndarray, angle: float) -> tuple[np.ndarray, np.ndarray]:
    h, w = gray.shape
    m = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)  # positive angle = counter-clockwise
    cos, sin = abs(m[0, 0]), abs(m[0, 1])
    nw, nh = int(np.ceil(h * sin + w * cos)), int(np.ceil(h * cos + w * sin))
    m[0, 2] += nw / 2 - w / 2
    m[1, 2] += nh / 2 - h / 2
    out = cv2.warpAffine(gray, m, (nw, nh), flags=cv2.INTER_CUBIC, borderValue=255)
    mask = cv2.warpAffine(paper, m, (nw, nh), flags=cv2.INTER_NEAREST, borderValue=0)
    return out, mask


def _normalize(gray: np.ndarray, dpi: float | None) -> np.ndarray:
    a = analyse(gray, dpi)
    bg = cv2.resize(a.background, (gray.shape[1], gray.shape[0]), interpolation=cv2.INTER_LINEAR)
    flat = np.clip(gray.astype(np.float32) * 255.0 / np.maximum(bg.astype(np.float32), 1.0), 0, 255)
    hist = np.bincount(flat.astype(np.uint8).ravel(), minlength=256)
    black = float(np.searchsorted(np.cumsum(hist), 0.005 * flat.size))  # 0.5th percentile = core ink
    black = min(black, 255.0 - 255.0 / _MAX_STRETCH_GAIN)  # faint pages: bounded gain, no noise explosion
    return np.clip((flat - black) * 255.0 / (255.0 - black), 0, 255).astype(np.uint8)


def _sauvola(gray: np.ndarray, window: int) -> np.ndarray:
    g = gray.astype(np.float32)
    mean = cv2.boxFilter(g, cv2.CV_32F, (window, window), borderType=cv2.BORDER_REFLECT)
    sq = cv2.boxFilter(g * g, cv2.CV_32F, (window, window), borderType=cv2.BORDER_REFLECT)
    std = np.sqrt(np.maximum(sq - mean * mean, 0))
    thresh = mean * (1 + _SAUVOLA_K * (std / _SAUVOLA_R - 1))
    return np.where(g > thresh, 255, 0).astype(np.uint8)


def _encode_png(image: np.ndarray, dpi: float | None) -> bytes:
    buf = io.BytesIO()
    kwargs: dict[str, Any] = {"compress_level": 6}
    if dpi:
        kwargs["dpi"] = (dpi, dpi)
    Image.fromarray(image).save(buf, "PNG", **kwargs)
    return buf.getvalue()


def params_digest(params: dict[str, Any], tool: str = TOOL) -> str:
    """First 12 hex digits of SHA-256 over canonical JSON of ``params`` and ``tool``."""
    canonical = json.dumps({"params": params, "tool": tool}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:12]


def make_ocr_derivative(page: DecodedPage, metrics: PageMetrics, params: DeriveParams | None = None) -> Derivative:
    """Build the OCR derivative of ``page`` (never modifies ``page.image``) using its measured ``metrics``."""
    p = params or DeriveParams()
    dpi = _pixel_dpi(page, metrics)
    gray = to_gray(page.image).copy()
    paper = np.full(gray.shape, 255, np.uint8)
    if p.crop_border and metrics.border_fraction > 0:
        # dilation margin covers resize rounding and the shadow along the paper edge
        bed = cv2.dilate(analyse(gray, dpi).bed.astype(np.uint8), np.ones((5, 5), np.uint8))
        bed_full = cv2.resize(bed, gray.shape[::-1], interpolation=cv2.INTER_NEAREST)
        paper = np.where(bed_full > 0, 0, 255).astype(np.uint8)
        gray[paper == 0] = 255
    rotation = 0.0
    if (
        p.deskew
        and not metrics.is_blank
        and abs(metrics.skew_deg) >= p.min_skew_deg
        and metrics.skew_confidence >= p.min_skew_confidence
    ):
        rotation = -metrics.skew_deg
        gray, paper = _deskew(gray, paper, rotation)
    crop_box = None
    if p.crop_border and metrics.border_fraction > 0:
        ys, xs = np.nonzero(paper)
        if ys.size:
            crop_box = [int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1]
            gray = gray[crop_box[1] : crop_box[3], crop_box[0] : crop_box[2]]
    if p.denoise == "median3":
        gray = cv2.medianBlur(gray, 3)
    elif p.denoise == "nlmeans":
        gray = cv2.fastNlMeansDenoising(gray, None, h=10, templateWindowSize=7, searchWindowSize=21)
    if p.normalize_contrast:
        gray = _normalize(gray, dpi)
    out_dpi = dpi
    if p.target_dpi and dpi and dpi < p.target_dpi:
        f = p.target_dpi / dpi
        gray = cv2.resize(gray, None, fx=f, fy=f, interpolation=cv2.INTER_CUBIC)
        out_dpi = float(p.target_dpi)
    window = None
    if p.binarize:
        window = max(15, round(_SAUVOLA_WINDOW_MM / 25.4 * (out_dpi or 300))) | 1
        gray = _sauvola(gray, window)
    effective: dict[str, Any] = {
        **p.model_dump(),
        "skew_deg": metrics.skew_deg,
        "rotation_deg": round(rotation, 3),
        "crop_box": crop_box,
        "crop_frame": "deskewed" if rotation else "source",
        "sauvola": {"window": window, "k": _SAUVOLA_K, "r": _SAUVOLA_R} if window else None,
        "source_size": [page.width, page.height],
        "source_dpi": dpi,
        "output_size": [int(gray.shape[1]), int(gray.shape[0])],
        "output_dpi": out_dpi,
    }
    return Derivative(
        image=gray,
        encoded=_encode_png(gray, out_dpi),
        params=effective,
        params_hash=params_digest(effective),
        kind="ocr-binary" if p.binarize else "ocr-gray",
        dpi=out_dpi,
    )


def make_thumbnail(page: DecodedPage, max_side: int = 1024, quality: int = 80) -> bytes:
    """A JPEG preview whose longer side is at most ``max_side`` px (for artifacts and review screens)."""
    img = page.image
    h, w = img.shape[:2]
    f = min(1.0, max_side / max(h, w))
    if f < 1.0:
        img = cv2.resize(img, (max(1, round(w * f)), max(1, round(h * f))), interpolation=cv2.INTER_AREA)
    ok, enc = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:  # pragma: no cover - OpenCV only fails on invalid arrays
        raise ValueError("thumbnail encoding failed")
    return enc.tobytes()
