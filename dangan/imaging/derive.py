"""OCR derivatives and review thumbnails. The master is never modified: every step works on a copy.

Pipeline (each step optional, recorded in ``Derivative.params``): suppress red/blue stamp ink (colour pages) →
whiten the dark scanner bed → deskew (rotate by ``-skew`` on an expanded white canvas) → crop to the paper →
denoise → normalize contrast (flat-field division by the local paper level, then a black-point stretch) →
suppress show-through → upsample (to ``target_dpi``, and small images to ``min_long_side``) → binarize (Sauvola).

The default recipe is chosen per page from measured properties (``params["measured"]``, chosen steps in
``params["steps"]``): a 3×3 median filter erases the 1-2 px strokes of small or low-resolution images, so
``denoise="auto"`` runs it only on noisy pages whose strokes are thick enough to survive it; show-through from the
back is whitened only where a separate faint, ink-free population of marks is measured next to solid dark print.
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

from dangan.imaging.analysis import analyse, stamp_ink_mask, to_gray
from dangan.imaging.metrics import PageMetrics
from dangan.imaging.model import DecodedPage

__all__ = ["TOOL", "Derivative", "DeriveParams", "make_ocr_derivative", "make_thumbnail", "params_digest"]

IMAGING_VERSION = "0.1"
TOOL = f"dangan-imaging/{IMAGING_VERSION} opencv/{cv2.__version__} numpy/{np.__version__} pillow/{PIL.__version__}"
_SAUVOLA_K, _SAUVOLA_R, _SAUVOLA_WINDOW_MM = 0.2, 128.0, 3.0
_MAX_STRETCH_GAIN = 4.0
# denoise="auto": median3 only where it helps (measured on bench/realistic.py pages)
_MEDIAN_MIN_NOISE = 6.0  # grey levels of pixel noise on the paper (robust sigma)
_MEDIAN_MIN_STROKE_PX = 3.5  # thinner strokes lose pixels to a 3×3 median
_MAX_UPSCALE = 4.0
_UPSCALE_BELOW_DPI = 200.0  # small images are upscaled when their resolution is unknown or below this
_FAINT_LEVEL = 170  # on a normalized page, marks lighter than this and apart from print are show-through


class DeriveParams(BaseModel):
    """How to build an OCR derivative. Defaults suit RapidOCR/Tesseract on 200-600 dpi office scans."""

    deskew: bool = True
    min_skew_deg: float = Field(default=0.1, description="Smaller skews are left alone (rotation resamples the page).")
    min_skew_confidence: float = Field(default=1.5, description="Less confident skew estimates are not applied.")
    crop_border: bool = True
    denoise: Literal["auto", "median3", "nlmeans", "none"] = Field(
        default="auto", description="auto: median3 on noisy pages with strokes thick enough to survive it, else none"
    )
    normalize_contrast: bool = True
    binarize: bool = False
    target_dpi: int | None = Field(default=None, description="Upsample pages scanned below this; higher ones are kept.")
    suppress_seals: bool = Field(default=True, description="Whiten red/blue stamp ink; black print under it stays.")
    suppress_show_through: bool = Field(default=True, description="Whiten faint mirrored text when it is measured.")
    min_long_side: int | None = Field(
        default=1280,
        ge=64,
        le=8192,
        description="Upsample smaller images below 200 dpi or of unknown dpi (ID-card copies, crops) to this side.",
    )
    format: Literal["png"] = "png"

    @classmethod
    def fixed(cls) -> DeriveParams:
        """The one recipe every page got before per-page choice (median3 always, no seal/show-through/upscale)."""
        return cls(denoise="median3", suppress_seals=False, suppress_show_through=False, min_long_side=None)


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


def _without_stamps(image: np.ndarray) -> tuple[np.ndarray, int]:
    """Gray page with red/blue stamp ink whitened: such pixels take their brightest channel (red ink is bright in
    red, blue ink in blue; black print under the seal is dark in every channel and stays), pushed to paper white
    when clearly lighter than print. Returns the gray page and the number of stamp pixels changed."""
    gray = to_gray(image).copy()
    mask = stamp_ink_mask(image)
    count = int(mask.sum())
    if count == 0:
        return gray, 0
    mask = cv2.dilate(mask.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)  # anti-aliased fringes
    brightest = image.max(axis=2)[mask]
    paper = float(np.percentile(gray, 90))
    gray[mask] = np.where(brightest > 0.6 * paper, 255, brightest).astype(np.uint8)
    return gray, count


def _noise_sigma(gray: np.ndarray) -> float:
    """Robust sigma of pixel noise: median absolute residual of a 3×3 median, on light (paper) pixels."""
    step = max(1, round((gray.size / 2_000_000) ** 0.5))  # a subsample is plenty for a noise figure
    g = gray[::step, ::step] if step > 1 else gray
    residual = np.abs(g.astype(np.int16) - cv2.medianBlur(g, 3))
    paper = g > np.percentile(g, 50)
    return float(1.4826 * np.median(residual[paper])) if paper.any() else 0.0


def _stroke_px(gray: np.ndarray) -> float:
    """Typical stroke width in pixels: per ink component 2 × area / boundary (a stroke of width w and length L
    has area w·L and about 2·L boundary pixels), the median over components, so a few solid blobs (an ID
    photo, a filled box) do not count as thick print. 0 when there is no ink."""
    ink = (gray < 128).astype(np.uint8)
    if int(ink.sum()) < 50:
        return 0.0
    n, labels = cv2.connectedComponents(ink, connectivity=8)
    edge = ink - cv2.erode(ink, np.ones((3, 3), np.uint8))
    area = np.bincount(labels.ravel(), minlength=n)[1:]
    boundary = np.bincount(labels[edge > 0], minlength=n)[1:]
    keep = area >= 4  # specks say nothing about strokes
    if not keep.any():
        return 0.0
    return float(np.median(2.0 * area[keep] / np.maximum(boundary[keep], 1)))


def _show_through(gray: np.ndarray) -> float | None:
    """Cut-off above which faint marks are show-through (mirrored print from the back), or None.

    On a normalized page, print has a dark core; show-through is a population of faint marks (paper level
    minus 3-25 %) lying apart from any dark print. Only that population, measured to be large next to solid
    dark print, switches the step on: faded pages (no dark core) and blurry photos (faint pixels are stroke
    edges) keep every mark.
    """
    dark = gray < 100
    n_dark = int(dark.sum())
    if n_dark < 0.002 * gray.size:
        return None
    near = cv2.dilate(dark.astype(np.uint8), np.ones((7, 7), np.uint8)).astype(bool)
    smooth = cv2.blur(gray, (5, 5))  # pixel noise averages out; blurred mirrored strokes do not
    faint = (smooth >= _FAINT_LEVEL) & (smooth < 242) & ~near
    if int(faint.sum()) < 0.15 * n_dark:
        return None
    middle = (smooth >= 100) & (smooth < _FAINT_LEVEL) & ~near  # darker marks apart from print: real (faded) ink
    if int(middle.sum()) > 0.25 * int(faint.sum()):
        return None
    return float(_FAINT_LEVEL)


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
    """Build the OCR derivative of ``page`` (never modifies ``page.image``) using its measured ``metrics``.

    Steps that depend on the page (stamp suppression, denoising, show-through, upscaling) are chosen from
    measurements; ``params["steps"]`` lists what was done, ``params["measured"]`` why.
    """
    p = params or DeriveParams()
    dpi = _pixel_dpi(page, metrics)
    steps: list[str] = []
    measured: dict[str, Any] = {}
    if p.suppress_seals and page.image.ndim == 3:
        gray, stamp_px = _without_stamps(page.image)
        measured["stamp_px"] = stamp_px
        if stamp_px:
            steps.append("suppress_stamp_ink")
    else:
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
        steps.append("deskew")
    crop_box = None
    if p.crop_border and metrics.border_fraction > 0:
        ys, xs = np.nonzero(paper)
        if ys.size:
            crop_box = [int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1]
            gray = gray[crop_box[1] : crop_box[3], crop_box[0] : crop_box[2]]
            steps.append("crop")
    denoise = p.denoise
    if denoise == "auto":
        noise, stroke = _noise_sigma(gray), _stroke_px(gray)
        measured |= {"noise_sigma": round(noise, 2), "stroke_px": round(stroke, 2)}
        denoise = "median3" if noise >= _MEDIAN_MIN_NOISE and stroke >= _MEDIAN_MIN_STROKE_PX else "none"
    if denoise == "median3":
        gray = cv2.medianBlur(gray, 3)
        steps.append("median3")
    elif denoise == "nlmeans":
        gray = cv2.fastNlMeansDenoising(gray, None, h=10, templateWindowSize=7, searchWindowSize=21)
        steps.append("nlmeans")
    if p.normalize_contrast:
        gray = _normalize(gray, dpi)
        steps.append("normalize")
    if p.suppress_show_through and not metrics.is_blank:
        cut = _show_through(gray)
        measured["show_through"] = cut is not None
        if cut is not None:
            gray = np.where(gray >= cut, 255, gray).astype(np.uint8)
            steps.append("suppress_show_through")
    out_dpi = dpi
    factor = 1.0
    if p.target_dpi and dpi and dpi < p.target_dpi:
        factor = p.target_dpi / dpi
    long_side = max(gray.shape)
    small_text = dpi is None or dpi < _UPSCALE_BELOW_DPI  # a small sheet scanned at 300 dpi has large text
    if p.min_long_side and long_side < p.min_long_side and small_text and not metrics.is_blank:
        factor = max(factor, min(_MAX_UPSCALE, p.min_long_side / long_side))
    if factor > 1.0:
        gray = cv2.resize(gray, None, fx=factor, fy=factor, interpolation=cv2.INTER_CUBIC)
        out_dpi = dpi * factor if dpi else None
        steps.append(f"upscale x{factor:.2f}")
    window = None
    if p.binarize:
        window = max(15, round(_SAUVOLA_WINDOW_MM / 25.4 * (out_dpi or 300))) | 1
        gray = _sauvola(gray, window)
        steps.append("binarize")
    effective: dict[str, Any] = {
        **p.model_dump(),
        "steps": steps,
        "measured": measured,
        "denoise_applied": denoise,
        "skew_deg": metrics.skew_deg,
        "rotation_deg": round(rotation, 3),
        "crop_box": crop_box,
        "crop_frame": "deskewed" if rotation else "source",
        "sauvola": {"window": window, "k": _SAUVOLA_K, "r": _SAUVOLA_R} if window else None,
        "source_size": [page.width, page.height],
        "source_dpi": dpi,
        "output_size": [int(gray.shape[1]), int(gray.shape[0])],
        "output_dpi": round(out_dpi, 3) if out_dpi else out_dpi,
        "scale": round(factor, 6),
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
