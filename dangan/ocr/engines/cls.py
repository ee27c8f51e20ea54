"""Optional 0°/180° line orientation classifier (PP-OCR mobile cls): flips upside-down line crops."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import cv2
import numpy as np

CLS_SHAPE = (3, 48, 192)


class LineOrientation:
    """Rotates crops the classifier calls 180° with confidence ≥ ``thresh``."""

    def __init__(self, session: Any, batch_size: int = 16, thresh: float = 0.9) -> None:
        self.session = session
        self.batch_size = batch_size
        self.thresh = thresh
        self._input = session.get_inputs()[0].name

    @staticmethod
    def _prepare(crop_bgr: np.ndarray) -> np.ndarray:
        _, h, w = CLS_SHAPE
        ch, cw = crop_bgr.shape[:2]
        rw = min(w, int(np.ceil(h * cw / ch)))
        resized = cv2.resize(crop_bgr, (max(rw, 1), h)).astype(np.float32)
        out = np.zeros(CLS_SHAPE, dtype=np.float32)
        out[:, :, :rw] = ((resized / 255.0 - 0.5) / 0.5).transpose(2, 0, 1)
        return out

    def probabilities(self, crops_bgr: Sequence[np.ndarray]) -> np.ndarray:
        """``(N, 2)`` probabilities ``[upright, upside down]`` per crop (page orientation votes with these)."""
        rows = []
        for start in range(0, len(crops_bgr), self.batch_size):
            chunk = crops_bgr[start : start + self.batch_size]
            rows.append(self.session.run(None, {self._input: np.stack([self._prepare(c) for c in chunk])})[0])
        return np.concatenate(rows) if rows else np.zeros((0, 2), dtype=np.float32)

    def apply(self, crops_bgr: Sequence[np.ndarray]) -> list[np.ndarray]:
        """The crops, upside-down ones turned right way up."""
        out = list(crops_bgr)
        for j, row in enumerate(self.probabilities(out)):
            if int(row.argmax()) == 1 and float(row[1]) >= self.thresh:
                out[j] = cv2.rotate(np.ascontiguousarray(out[j]), cv2.ROTATE_180)
        return out
