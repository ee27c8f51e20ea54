"""DB (differentiable binarization) text detection on onnxruntime.

Pre-processing matches PP-OCR: resize so the longer side is at most ``limit_side_len`` with both sides a
multiple of 32, scale to [-1, 1] (mean = std = 0.5), BGR channel order, NCHW. Post-processing: threshold the
probability map, take contours, score each min-area box on the map, grow it by the DB unclip distance and
map it back to page pixels. Pages of the same detection size share one run (``batch``); pages of other sizes
run apart, never padded (see ``buckets.same_shape_groups``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from dangan.ocr.engines.buckets import same_shape_groups


@dataclass(frozen=True)
class DetParams:
    """DB post-processing thresholds (PP-OCR defaults)."""

    thresh: float = 0.3
    box_thresh: float = 0.5
    unclip_ratio: float = 1.6
    max_candidates: int = 1000
    min_size: float = 3.0


def resize_for_det(image: np.ndarray, limit_side_len: int) -> np.ndarray:
    """Resize so the longer side is ≤ ``limit_side_len`` and both sides are multiples of 32 (≥ 32)."""
    h, w = image.shape[:2]
    ratio = min(1.0, limit_side_len / max(h, w))
    rh = max(32, round(h * ratio / 32) * 32)
    rw = max(32, round(w * ratio / 32) * 32)
    return cv2.resize(image, (rw, rh))


def _normalize(image_bgr: np.ndarray) -> np.ndarray:
    return (image_bgr.astype(np.float32) / 255.0 - 0.5) / 0.5


def order_clockwise(pts: np.ndarray) -> np.ndarray:
    """Order 4 points top-left, top-right, bottom-right, bottom-left."""
    xs = pts[np.argsort(pts[:, 0], kind="stable")]
    left = xs[:2][np.argsort(xs[:2, 1], kind="stable")]
    right = xs[2:][np.argsort(xs[2:, 1], kind="stable")]
    return np.array([left[0], right[0], right[1], left[1]], dtype=np.float32)


def _box_score(prob: np.ndarray, box: np.ndarray) -> float:
    h, w = prob.shape
    x0 = int(np.clip(np.floor(box[:, 0].min()), 0, w - 1))
    x1 = int(np.clip(np.ceil(box[:, 0].max()), 0, w - 1))
    y0 = int(np.clip(np.floor(box[:, 1].min()), 0, h - 1))
    y1 = int(np.clip(np.ceil(box[:, 1].max()), 0, h - 1))
    mask = np.zeros((y1 - y0 + 1, x1 - x0 + 1), dtype=np.uint8)
    shifted = (box - np.array([x0, y0], dtype=np.float32)).astype(np.int32)
    cv2.fillPoly(mask, [shifted.reshape(-1, 1, 2)], 1)
    return float(cv2.mean(prob[y0 : y1 + 1, x0 : x1 + 1], mask)[0])


def boxes_from_prob(
    prob: np.ndarray, page_w: int, page_h: int, params: DetParams = DetParams()
) -> list[tuple[np.ndarray, float]]:
    """Quads (float32 4×2, page pixels, clockwise from top-left) with their detection scores."""
    mh, mw = prob.shape
    bitmap = cv2.dilate((prob > params.thresh).astype(np.uint8), np.ones((2, 2), np.uint8))
    contours, _ = cv2.findContours(bitmap * 255, cv2.RETR_LIST, cv2.CHAIN_APPROX_SIMPLE)
    sx, sy = page_w / mw, page_h / mh
    out: list[tuple[np.ndarray, float]] = []
    for contour in contours[: params.max_candidates]:
        (cx, cy), (bw, bh), angle = cv2.minAreaRect(contour)
        if min(bw, bh) < params.min_size:
            continue
        score = _box_score(prob, cv2.boxPoints(((cx, cy), (bw, bh), angle)))
        if score < params.box_thresh:
            continue
        # DB unclip: offsetting a rectangle by d (round joins) has the min-area rect grown by d per side.
        d = bw * bh * params.unclip_ratio / (2.0 * (bw + bh))
        bw, bh = bw + 2 * d, bh + 2 * d
        if min(bw, bh) < params.min_size + 2:
            continue
        pts = cv2.boxPoints(((cx, cy), (bw, bh), angle)).astype(np.float32)
        pts[:, 0] = np.clip(np.round(pts[:, 0] * sx), 0, page_w - 1)
        pts[:, 1] = np.clip(np.round(pts[:, 1] * sy), 0, page_h - 1)
        quad = order_clockwise(pts)
        if np.linalg.norm(quad[0] - quad[1]) <= 3 or np.linalg.norm(quad[0] - quad[3]) <= 3:
            continue
        out.append((quad, score))
    return out


class TextDetector:
    """Runs the DB detection model on batches of RGB page images."""

    def __init__(self, session: Any, limit_side_len: int = 1600, params: DetParams = DetParams()) -> None:
        self.session = session
        self.limit_side_len = limit_side_len
        self.params = params
        self._input = session.get_inputs()[0].name

    def detect(self, pages_rgb: Sequence[np.ndarray]) -> list[list[tuple[np.ndarray, float]]]:
        """Quads and scores for each page, pages run together in one session call."""
        if not pages_rgb:
            return []
        resized = [resize_for_det(np.ascontiguousarray(p[:, :, ::-1]), self.limit_side_len) for p in pages_rgb]
        results: list[list[tuple[np.ndarray, float]]] = [[] for _ in pages_rgb]
        for group in same_shape_groups([r.shape[:2] for r in resized]):  # no padding: see same_shape_groups
            batch = np.stack([_normalize(resized[i]).transpose(2, 0, 1) for i in group])
            prob = self.session.run(None, {self._input: batch})[0][:, 0]
            for k, i in enumerate(group):
                page = pages_rgb[i]
                results[i] = boxes_from_prob(prob[k], page.shape[1], page.shape[0], self.params)
        return results
