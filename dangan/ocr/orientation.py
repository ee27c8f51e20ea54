"""Page orientation (0/90/180/270) from the text detector's boxes and the PP-OCR line classifier.

A page fed sideways or upside down reads as confident garbage, so the angle is settled before recognition:

1. **Sideways or not, from box shapes.** Chinese characters are about square, so a line of text is a long
   box along its reading direction. On the page as detected, the elongated boxes (long side ≥ 2× the short
   side) vote with their length: mostly tall → the page lies on its side; it is turned 90° and detected again
   (the only case that pays a second detection).
2. **Upright or upside down, from the line classifier** (``ch_ppocr_mobile_v2.0_cls``, 0° vs 180° per line
   crop): the longest horizontal lines (at most ``max_lines``) vote with their length and probability. An
   upside-down page is turned 180° and its boxes are mapped, not detected again.

``angle`` is how far the page *as scanned* is turned clockwise from upright (the OCR input is turned back by
that much, counter-clockwise); the boxes handed on are in the upright page's pixel coordinates. ``confidence``
is the weaker of the two votes' margins (0..1; 0 when the page has no text lines to vote). Measured on the
sample forms turned 0/90/180/270 (see tests/ocr/test_orientation.py): every angle right, with confidence
≥ 0.9. Tesseract OSD (``--psm 0``, Debian's osd data), measured on 8 realistic full pages (0/90/180/270):
every angle right too, 1.0–1.8 s a page on a shared 2-core machine against ~0.2 s here for an upright page,
and it refuses small ID-card copies (resolution estimate). It is not used; for 90°/270° pages, where this
module detects twice (~4 s), it would be the cheaper second opinion.

Pure: numpy images and two callables in, no engine state; masters are never touched (the caller turns its
OCR input only).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import cv2
import numpy as np

Detection = tuple[np.ndarray, float]  # (4×2 float32 quad, clockwise from top-left; detection score)
Detect = Callable[[np.ndarray], list[Detection]]  # RGB page → its boxes
Classify = Callable[[Sequence[np.ndarray]], np.ndarray]  # BGR line crops → (N, 2) probabilities [0°, 180°]

ANGLES = (0, 90, 180, 270)
ELONGATED = 2.0  # a box this many times longer than high is a line with a direction (single characters are not)
MAX_LINES = 32  # lines the classifier sees per page (the longest): enough for a clear vote, bounded cost

# methods (recorded with the angle)
BOXES_CLS = "boxes+cls"
NO_TEXT = "no-text"


@dataclass(frozen=True)
class Orientation:
    """How a page was turned: ``angle`` degrees clockwise from upright, how sure, and what decided it."""

    angle: int
    confidence: float
    method: str

    def to_json(self) -> dict[str, object]:
        """Plain-JSON form."""
        return {"angle": self.angle, "confidence": round(self.confidence, 4), "method": self.method}


@dataclass(frozen=True)
class OrientedPage:
    """The upright OCR input, its boxes (upright coordinates) and the orientation found."""

    orientation: Orientation
    image: np.ndarray
    detections: list[Detection]


def rotate_upright(image: np.ndarray, angle: int) -> np.ndarray:
    """``image`` (scanned ``angle``° clockwise from upright) turned back upright, as a new contiguous array."""
    if angle % 360 == 0:
        return image
    codes = {90: cv2.ROTATE_90_COUNTERCLOCKWISE, 180: cv2.ROTATE_180, 270: cv2.ROTATE_90_CLOCKWISE}
    return np.ascontiguousarray(cv2.rotate(np.ascontiguousarray(image), codes[angle % 360]))


def rotate_points(points: np.ndarray, angle: int, width: int, height: int) -> np.ndarray:
    """Pixel coordinates on a ``width``×``height`` page scanned ``angle``° clockwise → the upright page's."""
    x, y = points[..., 0], points[..., 1]
    a = angle % 360
    if a == 0:
        out = np.stack([x, y], axis=-1)
    elif a == 90:
        out = np.stack([y, width - 1 - x], axis=-1)
    elif a == 180:
        out = np.stack([width - 1 - x, height - 1 - y], axis=-1)
    elif a == 270:
        out = np.stack([height - 1 - y, x], axis=-1)
    else:
        raise ValueError(f"angle must be one of {ANGLES}, got {angle}")
    return out.astype(np.float32)


def _clockwise(quad: np.ndarray) -> np.ndarray:
    from dangan.ocr.engines.det import order_clockwise

    return order_clockwise(quad)


def rotate_detections(detections: Sequence[Detection], angle: int, width: int, height: int) -> list[Detection]:
    """Boxes of a page scanned ``angle``° clockwise, in the upright page's coordinates, clockwise from top-left."""
    if angle % 360 == 0:
        return list(detections)
    return [(_clockwise(rotate_points(q, angle, width, height)), s) for q, s in detections]


def _sides(quad: np.ndarray) -> tuple[float, float]:
    """(horizontal side, vertical side) lengths of a clockwise quad."""
    w = float(max(np.linalg.norm(quad[0] - quad[1]), np.linalg.norm(quad[3] - quad[2])))
    h = float(max(np.linalg.norm(quad[0] - quad[3]), np.linalg.norm(quad[1] - quad[2])))
    return w, h


def tall_share(detections: Sequence[Detection]) -> float | None:
    """Length-weighted share of elongated boxes that stand upright (None when no box is elongated)."""
    tall = wide = 0.0
    for quad, _ in detections:
        w, h = _sides(quad)
        if h >= ELONGATED * w:
            tall += h
        elif w >= ELONGATED * h:
            wide += w
    total = tall + wide
    return None if total == 0 else tall / total


def upside_down_vote(
    page_rgb: np.ndarray, detections: Sequence[Detection], classify: Classify, max_lines: int = MAX_LINES
) -> float | None:
    """Length- and probability-weighted share of the page's longest horizontal lines the classifier calls
    upside down (0..1), or None when the page has no horizontal line to ask about."""
    from dangan.ocr.engines.rec import crop_quad

    lines = []
    for quad, _ in detections:
        w, h = _sides(quad)
        if w >= 1.5 * h:  # the classifier knows horizontal lines only
            lines.append((w, quad))
    if not lines:
        return None
    lines.sort(key=lambda item: -item[0])
    chosen = lines[:max_lines]
    bgr = np.ascontiguousarray(page_rgb[:, :, ::-1])
    probs = np.asarray(classify([crop_quad(bgr, q) for _, q in chosen]), dtype=np.float64)
    weights = np.array([w for w, _ in chosen], dtype=np.float64)
    return float((weights * probs[:, 1]).sum() / weights.sum())


def orient_page(
    page_rgb: np.ndarray, detections: list[Detection], *, detect: Detect, classify: Classify, max_lines: int = MAX_LINES
) -> OrientedPage:
    """Find the page's orientation (see the module docstring) and return the upright page with its boxes.

    ``detections`` are the boxes already found on ``page_rgb`` as scanned; ``detect`` is only called for a
    sideways page.
    """
    share = tall_share(detections)
    if share is None and not detections:
        return OrientedPage(Orientation(0, 0.0, NO_TEXT), page_rgb, detections)
    base, image, boxes = 0, page_rgb, detections
    # no elongated box (only single characters): box shapes cannot tell, the classifier alone decides 0/180
    shape_conf = 0.5 if share is None else max(share, 1.0 - share)
    if share is not None and share > 0.5:
        base, image = 90, rotate_upright(page_rgb, 90)
        boxes = detect(image)
        again = tall_share(boxes)
        if again is None or again > 0.5:  # still no horizontal lines the other way round: keep the page as it was
            base, image, boxes = 0, page_rgb, detections
            shape_conf = 0.5
        else:
            shape_conf = min(shape_conf, 1.0 - again)
    vote = upside_down_vote(image, boxes, classify, max_lines)
    if vote is None:
        return OrientedPage(Orientation(base, round(min(shape_conf, 0.5), 4), BOXES_CLS), image, boxes)
    flip = vote > 0.5
    confidence = min(shape_conf, max(vote, 1.0 - vote))
    if flip:
        h, w = image.shape[:2]
        boxes = rotate_detections(boxes, 180, w, h)
        image = rotate_upright(image, 180)
    angle = (base + (180 if flip else 0)) % 360
    return OrientedPage(Orientation(angle, round(confidence, 4), BOXES_CLS), image, boxes)
