"""Line recognition on onnxruntime over fixed-width buckets (``buckets.plan_rec_batches``).

Same model input as ``rec.TextRecognizer`` (height 48, [-1, 1], BGR, right padding at normalized zero) but
crops are padded to their bucket's width instead of the widest crop of a 2×-wide group, and ``min_width``
may go below PP-OCR's 320 px: on CPU, recognition time is proportional to padded width, and most table
cells are much narrower than 320 px.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import cv2
import numpy as np

from dangan.ocr.engines.buckets import MIN_REC_WIDTH, REC_HEIGHT, plan_rec_batches, rec_width, restore_order
from dangan.ocr.engines.rec import TextRecognizer, ctc_greedy


def _prepare(crop_bgr: np.ndarray, width: int) -> np.ndarray:
    rw = min(width, rec_width(crop_bgr.shape[1], crop_bgr.shape[0]))
    resized = cv2.resize(crop_bgr, (rw, REC_HEIGHT)).astype(np.float32)
    out = np.zeros((3, REC_HEIGHT, width), dtype=np.float32)
    out[:, :, :rw] = ((resized / 255.0 - 0.5) / 0.5).transpose(2, 0, 1)
    return out


class BucketedRecognizer(TextRecognizer):
    """``TextRecognizer`` with ladder buckets; ``batch_size`` counts 320-px-wide crops per run."""

    def __init__(self, session: Any, charset: list[str], batch_size: int = 16, min_width: int = MIN_REC_WIDTH):
        super().__init__(session, charset, batch_size)
        self.min_width = min_width

    def recognize(self, crops_bgr: Sequence[np.ndarray]) -> list[tuple[str, float]]:
        """``(text, confidence)`` per crop, in input order."""
        if not crops_bgr:
            return []
        widths = [rec_width(c.shape[1], c.shape[0]) for c in crops_bgr]
        batches = plan_rec_batches(widths, self.batch_size, self.min_width)
        outputs = []
        for b in batches:
            batch = np.stack([_prepare(crops_bgr[i], b.width) for i in b.indices])
            outputs.append(ctc_greedy(self.session.run(None, {self._input: batch})[0], self.charset))
        return restore_order(batches, outputs, len(crops_bgr))
