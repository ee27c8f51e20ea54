"""Text-line recognition (CRNN/SVTR + CTC) on onnxruntime.

Each detected quad is perspective-warped out of the full-resolution page, resized to height 48, and crops of
similar width are batched together (sorted by aspect ratio, a new batch when the width would more than double)
so padding stays small. Decoding is CTC greedy: argmax per time step, collapse repeats, drop the blank.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np

REC_HEIGHT = 48
MIN_REC_WIDTH = 320  # the width PP-OCR rec models are trained at; narrower crops are padded to it


def crop_quad(image: np.ndarray, quad: np.ndarray) -> np.ndarray:
    """Warp the quad (clockwise from top-left) to an upright rectangle; tall crops are rotated to lie flat."""
    quad = quad.astype(np.float32)
    w = int(max(np.linalg.norm(quad[0] - quad[1]), np.linalg.norm(quad[2] - quad[3])))
    h = int(max(np.linalg.norm(quad[0] - quad[3]), np.linalg.norm(quad[1] - quad[2])))
    w, h = max(w, 1), max(h, 1)
    dst = np.array([[0, 0], [w, 0], [w, h], [0, h]], dtype=np.float32)
    matrix = cv2.getPerspectiveTransform(quad, dst)
    crop = cv2.warpPerspective(image, matrix, (w, h), borderMode=cv2.BORDER_REPLICATE, flags=cv2.INTER_CUBIC)
    if h / w >= 1.5:  # vertical text column: read it rotated, as PP-OCR does
        crop = np.rot90(crop)
    return crop


def load_charset(metadata: dict[str, str], keys_file: Path | None) -> list[str]:
    """CTC label list: blank, the model's characters (metadata ``character`` or the dict file), space."""
    if "character" in metadata:
        chars = metadata["character"].splitlines()
    elif keys_file is not None:
        chars = keys_file.read_text(encoding="utf-8").splitlines()
    else:
        raise ValueError("rec model has no 'character' metadata and no character list file was given")
    return ["", *chars, " "]


def ctc_greedy(probs: np.ndarray, charset: Sequence[str]) -> list[tuple[str, float]]:
    """Decode ``(N, T, C)`` probabilities into ``(text, mean confidence of kept steps)`` per row."""
    idx = probs.argmax(axis=2)
    best = probs.max(axis=2)
    out = []
    for row_idx, row_prob in zip(idx, best, strict=True):
        keep = np.ones(len(row_idx), dtype=bool)
        keep[1:] = row_idx[1:] != row_idx[:-1]
        keep &= row_idx != 0
        text = "".join(charset[i] for i in row_idx[keep] if i < len(charset))
        conf = float(row_prob[keep].mean()) if keep.any() else 0.0
        out.append((text, conf))
    return out


def width_batches(ratios: Sequence[float], batch_size: int) -> list[list[int]]:
    """Indices grouped by aspect ratio: ≤ ``batch_size`` each, widest ≤ 2× the narrowest (past the minimum)."""
    order = sorted(range(len(ratios)), key=lambda i: ratios[i])
    min_ratio = MIN_REC_WIDTH / REC_HEIGHT
    batches: list[list[int]] = []
    for i in order:
        if batches:
            cur = batches[-1]
            base = max(ratios[cur[0]], min_ratio)
            if len(cur) < batch_size and max(ratios[i], min_ratio) <= 2 * base:
                cur.append(i)
                continue
        batches.append([i])
    return batches


def _prepare(crop_bgr: np.ndarray, width: int) -> np.ndarray:
    h, w = crop_bgr.shape[:2]
    rw = min(width, math.ceil(REC_HEIGHT * w / h))
    resized = cv2.resize(crop_bgr, (max(rw, 1), REC_HEIGHT)).astype(np.float32)
    out = np.zeros((3, REC_HEIGHT, width), dtype=np.float32)
    out[:, :, : resized.shape[1]] = ((resized / 255.0 - 0.5) / 0.5).transpose(2, 0, 1)
    return out


class TextRecognizer:
    """Recognizes line crops with a CTC rec model."""

    def __init__(self, session: Any, charset: list[str], batch_size: int = 16) -> None:
        self.session = session
        self.charset = charset
        self.batch_size = batch_size
        self._input = session.get_inputs()[0].name

    def recognize(self, crops_bgr: Sequence[np.ndarray]) -> list[tuple[str, float]]:
        """``(text, confidence)`` per crop, in input order."""
        results: list[tuple[str, float]] = [("", 0.0)] * len(crops_bgr)
        ratios = [c.shape[1] / c.shape[0] for c in crops_bgr]
        for group in width_batches(ratios, self.batch_size):
            max_ratio = max(MIN_REC_WIDTH / REC_HEIGHT, *(ratios[i] for i in group))
            width = math.ceil(REC_HEIGHT * max_ratio)
            batch = np.stack([_prepare(crops_bgr[i], width) for i in group])
            probs = self.session.run(None, {self._input: batch})[0]
            for i, decoded in zip(group, ctc_greedy(probs, self.charset), strict=True):
                results[i] = decoded
        return results
