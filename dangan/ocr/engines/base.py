"""The engine contract: what every OCR engine takes (numpy page images) and gives back (``PageResult``).

Images are ``uint8`` arrays, either ``H×W`` grayscale or ``H×W×3`` RGB (``H×W×4`` RGBA loses its alpha), the
PIL convention; engines that need BGR convert internally. One unusable page in a batch never fails the batch:
it gets a ``PageResult`` with ``error`` set (``"CODE: message"``) and no lines.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np

_log = logging.getLogger("dangan.ocr")
Point = tuple[float, float]
Quad = tuple[Point, ...]

# Stable page error codes (the part before ": " in PageResult.error).
EMPTY_IMAGE = "OCR_EMPTY_IMAGE"
BAD_IMAGE = "OCR_BAD_IMAGE"
PAGE_FAILED = "OCR_PAGE_FAILED"
FAULT_INJECTED = "OCR_FAULT_INJECTED"


@dataclass(frozen=True)
class OcrLine:
    """One recognized text line; ``box`` is 4 points clockwise from top-left, in page pixel coordinates."""

    text: str
    confidence: float
    box: Quad

    def to_json(self) -> dict[str, Any]:
        """Plain-JSON form (lists, not tuples)."""
        return {
            "text": self.text,
            "confidence": round(float(self.confidence), 5),
            "box": [[round(float(x), 2), round(float(y), 2)] for x, y in self.box],
        }


@dataclass
class PageResult:
    """OCR output of one page plus the provenance needed to reproduce it."""

    lines: list[OcrLine]
    engine: str
    model: str
    model_sha256: dict[str, str]
    device: str
    seconds: float
    width: int
    height: int
    error: str | None = None
    # How the page as given was turned (degrees clockwise from upright; lines and width/height are of the upright
    # page) and how sure the engine is; None: not measured (engines without page orientation, or it was off).
    orientation: int = 0
    orientation_confidence: float | None = None
    # text boxes the detector found, recognized or not (None: the engine does not say); a page whose boxes mostly
    # yield no line is suspect (dangan.ocr.quality.page_quality)
    detected_lines: int | None = None

    def text(self) -> str:
        """The page text, one line per ``OcrLine`` in the order of ``lines``."""
        return "\n".join(line.text for line in self.lines)

    @property
    def ok(self) -> bool:
        """True when the page was processed (it may still have no lines)."""
        return self.error is None

    def to_json(self) -> dict[str, Any]:
        """Plain-JSON form, stable keys (stored as the page's OCR artifact)."""
        return {
            "engine": self.engine,
            "model": self.model,
            "model_sha256": dict(sorted(self.model_sha256.items())),
            "device": self.device,
            "seconds": round(float(self.seconds), 4),
            "width": self.width,
            "height": self.height,
            "error": self.error,
            "orientation": self.orientation,
            "orientation_confidence": None
            if self.orientation_confidence is None
            else round(float(self.orientation_confidence), 4),
            "detected_lines": self.detected_lines,
            "lines": [line.to_json() for line in self.lines],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> PageResult:
        """Inverse of ``to_json``."""
        lines = [
            OcrLine(
                text=str(item["text"]),
                confidence=float(item["confidence"]),
                box=tuple((float(x), float(y)) for x, y in item["box"]),
            )
            for item in data.get("lines", [])
        ]
        return cls(
            lines=lines,
            engine=data["engine"],
            model=data["model"],
            model_sha256=dict(data.get("model_sha256", {})),
            device=data["device"],
            seconds=float(data["seconds"]),
            width=int(data["width"]),
            height=int(data["height"]),
            error=data.get("error"),
            # rows and objects from before page orientation: upright as given, not measured
            orientation=int(data.get("orientation") or 0),
            orientation_confidence=None
            if data.get("orientation_confidence") is None
            else float(data["orientation_confidence"]),
            detected_lines=None if data.get("detected_lines") is None else int(data["detected_lines"]),
        )


@dataclass(frozen=True)
class EngineCapabilities:
    """What an engine can do, so callers can choose batch sizes and post-processing."""

    batched: bool
    gpu: bool
    languages: tuple[str, ...]
    line_boxes: bool
    orientation: bool


@runtime_checkable
class OcrEngine(Protocol):
    """An OCR engine. ``recognize`` returns exactly one ``PageResult`` per input image, in order."""

    name: str
    capabilities: EngineCapabilities

    def recognize(self, images: Sequence[np.ndarray | None]) -> list[PageResult]: ...

    def identity(self) -> EngineIdentity: ...


@dataclass(frozen=True)
class EngineIdentity:
    """Engine, model and device provenance shared by all pages an engine instance produces."""

    engine: str
    model: str
    model_sha256: dict[str, str] = field(default_factory=dict)
    device: str = "cpu"

    def as_dict(self) -> dict[str, Any]:
        """Plain-JSON form (what ``dangan-ocr`` prints and what the OCR key digest is built from)."""
        return {
            "engine": self.engine,
            "model": self.model,
            "model_sha256": dict(self.model_sha256),
            "device": self.device,
        }

    def page(
        self, lines: list[OcrLine], seconds: float, width: int, height: int, error: str | None = None
    ) -> PageResult:
        """A ``PageResult`` stamped with this identity."""
        return PageResult(
            lines=lines,
            engine=self.engine,
            model=self.model,
            model_sha256=dict(self.model_sha256),
            device=self.device,
            seconds=seconds,
            width=width,
            height=height,
            error=error,
        )


def recognize_each(
    identity: EngineIdentity,
    images: Sequence[np.ndarray | None],
    read_page: Callable[[np.ndarray], list[OcrLine]],
    *,
    label: str,
    workers: int = 1,
) -> list[PageResult]:
    """One ``PageResult`` per image, in order, for engines that read pages one at a time (``workers`` pages at
    once): unusable images and pages ``read_page`` fails on get an error result (logged by type only: messages
    can quote page text)."""
    from concurrent.futures import ThreadPoolExecutor

    from dangan.pii import scrub

    def one(image: np.ndarray | None) -> PageResult:
        rgb, error = check_image(image)
        if rgb is None:
            return identity.page([], 0.0, *image_size(image), error)
        h, w = rgb.shape[:2]
        t0 = time.perf_counter()
        try:
            lines = read_page(rgb)
        except Exception as exc:
            _log.warning("%s failed on a %dx%d page: %s", label, w, h, type(exc).__name__)
            message = f"{PAGE_FAILED}: {type(exc).__name__}: {scrub(str(exc))[:300]}"
            return identity.page([], time.perf_counter() - t0, w, h, message)
        return identity.page(lines, time.perf_counter() - t0, w, h)

    if workers <= 1 or len(images) <= 1:
        return [one(image) for image in images]
    with ThreadPoolExecutor(min(workers, len(images)), thread_name_prefix=f"ocr-{label}") as pool:
        return list(pool.map(one, images))


def check_image(image: object) -> tuple[np.ndarray | None, str | None]:
    """Validate one page image: return ``(image as H×W×3 RGB uint8, None)`` or ``(None, "CODE: message")``."""
    if image is None:
        return None, f"{EMPTY_IMAGE}: page image is None"
    if not isinstance(image, np.ndarray):
        return None, f"{BAD_IMAGE}: expected a numpy array, got {type(image).__name__}"
    if image.size == 0 or image.ndim < 2 or min(image.shape[:2]) == 0:
        return None, f"{EMPTY_IMAGE}: page image has no pixels (shape {image.shape})"
    if image.dtype != np.uint8:
        return None, f"{BAD_IMAGE}: expected dtype uint8, got {image.dtype}"
    if image.ndim == 2:
        return np.ascontiguousarray(np.stack([image] * 3, axis=-1)), None
    if image.ndim == 3 and image.shape[2] == 1:
        return np.ascontiguousarray(np.repeat(image, 3, axis=2)), None
    if image.ndim == 3 and image.shape[2] in (3, 4):
        return np.ascontiguousarray(image[:, :, :3]), None
    return None, f"{BAD_IMAGE}: expected H×W or H×W×3 image, got shape {image.shape}"


def image_size(image: object) -> tuple[int, int]:
    """``(width, height)`` of whatever was passed, ``(0, 0)`` when it has no usable shape."""
    shape = getattr(image, "shape", None)
    if not shape or len(shape) < 2:
        return 0, 0
    return int(shape[1]), int(shape[0])


def quad_from_bbox(x0: float, y0: float, x1: float, y1: float) -> Quad:
    """Axis-aligned box as a clockwise quad from top-left."""
    return ((x0, y0), (x1, y0), (x1, y1), (x0, y1))


def bbox_of(box: Quad) -> tuple[float, float, float, float]:
    """Axis-aligned bounds ``(x0, y0, x1, y1)`` of a quad."""
    xs = [p[0] for p in box]
    ys = [p[1] for p in box]
    return min(xs), min(ys), max(xs), max(ys)
