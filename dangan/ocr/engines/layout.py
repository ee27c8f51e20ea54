"""Reading order of OCR lines on possibly skewed pages.

Engines order boxes by their raw y, which interleaves rows as soon as a page is rotated by a degree or two
(measured: CER 4–7 % vs 0.13 % after regrouping). Here the residual skew is estimated from the boxes' own
baselines, box centres are rotated by −skew, grouped into rows, and rows are read top→bottom, left→right.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from dangan.ocr.engines.base import OcrLine
from dangan.ocr.engines.normalize import normalize_text

_MAX_SKEW_DEG = 20.0


def _edges(line: OcrLine) -> tuple[float, float, float]:
    """(angle of top+bottom edges in degrees, edge length, box height) of a quad."""
    (x0, y0), (x1, y1), (x2, y2), (x3, y3) = line.box[:4]
    top = math.atan2(y1 - y0, x1 - x0)
    bottom = math.atan2(y2 - y3, x2 - x3)
    length = (math.hypot(x1 - x0, y1 - y0) + math.hypot(x2 - x3, y2 - y3)) / 2
    height = (math.hypot(x3 - x0, y3 - y0) + math.hypot(x2 - x1, y2 - y1)) / 2
    return math.degrees((top + bottom) / 2), length, height


def estimate_skew(lines: Sequence[OcrLine]) -> float:
    """Skew in degrees (positive: text runs downhill to the right), the length-weighted median baseline
    angle of boxes at least twice as long as high; 0.0 when no box qualifies."""
    samples = []
    for line in lines:
        if len(line.box) != 4:
            continue
        angle, length, height = _edges(line)
        if height > 0 and length >= 2 * height and abs(angle) <= _MAX_SKEW_DEG:
            samples.append((angle, length))
    if not samples:
        return 0.0
    samples.sort()
    total = sum(w for _, w in samples)
    acc = 0.0
    for angle, weight in samples:
        acc += weight
        if acc >= total / 2:
            return angle
    return samples[-1][0]


def reading_order(lines: Sequence[OcrLine], skew_deg: float | None = None) -> list[OcrLine]:
    """Lines sorted into rows (top→bottom) and, within a row, left→right, after removing ``skew_deg``
    (estimated from the boxes when None)."""
    if len(lines) < 2:
        return list(lines)
    skew = estimate_skew(lines) if skew_deg is None else skew_deg
    theta = math.radians(skew)
    cos, sin = math.cos(theta), math.sin(theta)
    items = []
    for idx, line in enumerate(lines):
        pts = np.asarray(line.box, dtype=np.float64)
        cx, cy = pts[:, 0].mean(), pts[:, 1].mean()
        rx, ry = cx * cos + cy * sin, -cx * sin + cy * cos
        height = _edges(line)[2] if len(line.box) == 4 else float(np.ptp(pts[:, 1]))
        items.append((ry, rx, max(height, 1.0), idx))
    median_h = float(np.median([h for _, _, h, _ in items]))
    tolerance = 0.5 * median_h
    rows: list[list[tuple[float, float, float, int]]] = []
    for item in sorted(items):
        if rows:
            row = rows[-1]
            row_y = sum(r[0] for r in row) / len(row)
            if abs(item[0] - row_y) <= max(tolerance, 0.5 * min(item[2], median_h * 2)):
                row.append(item)
                continue
        rows.append([item])
    ordered: list[OcrLine] = []
    for row in rows:
        ordered.extend(lines[i] for _, _, _, i in sorted(row, key=lambda r: r[1]))
    return ordered


def recognized_lines(items: Iterable[tuple[Any, str, float]], min_confidence: float) -> list[OcrLine]:
    """The page's lines from ``(4-point box, raw text, confidence)``, as every engine reports them: text
    normalized, empty or below-``min_confidence`` lines dropped, in reading order."""
    lines = []
    for box, raw, conf in items:
        text = normalize_text(raw)
        if text and conf >= min_confidence:
            quad = tuple((float(x), float(y)) for x, y in box)
            lines.append(OcrLine(text=text, confidence=round(float(conf), 5), box=quad))
    return reading_order(lines)
