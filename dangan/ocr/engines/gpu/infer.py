"""Batched det/rec inference on torch modules; images travel as uint8 and are normalized on the device.

The CPU side of each model (``prepare_*``: resize, crop) is a plain function so worker threads can run it
while the device is busy; the device side (``run``) takes many pages or crops at once. Results match the
onnxruntime path: same resizing, white detection padding, recognition padding at normalized zero, greedy
CTC. A batch that runs out of GPU memory is split in halves and retried.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial
from typing import Any, TypeVar

import cv2
import numpy as np

from dangan.ocr.engines.buckets import (
    MIN_REC_WIDTH,
    REC_HEIGHT,
    DetSlot,
    plan_det_canvas,
    plan_rec_batches,
    rec_width,
    restore_order,
    same_shape_groups,
)
from dangan.ocr.engines.rec import crop_quad

T = TypeVar("T")
U = TypeVar("U")


def split_on_oom(run: Callable[[Sequence[T]], list[U]], items: Sequence[T]) -> list[U]:
    """``run(items)``, halving the batch (recursively) when the device runs out of memory."""
    import torch

    try:
        return run(items)
    except torch.OutOfMemoryError:
        if len(items) < 2:
            raise
        torch.cuda.empty_cache()
        half = len(items) // 2
        return split_on_oom(run, items[:half]) + split_on_oom(run, items[half:])


def _to_model_input(batch_u8: np.ndarray, device: str, half: bool) -> Any:
    """NHWC uint8 RGB → NCHW BGR in [-1, 1] on ``device`` (fp16 or fp32)."""
    import torch

    x = torch.from_numpy(batch_u8)
    if device != "cpu":
        x = x.pin_memory().to(device, non_blocking=True)
    x = x.permute(0, 3, 1, 2).flip(1)  # RGB → BGR, the PP-OCR training order
    x = x.to(torch.float16 if half else torch.float32)
    return x.mul_(2.0 / 255.0).sub_(1.0)


class TorchDetector:
    """DB text detection: many pages per run, each cut back out of the shared canvas."""

    def __init__(self, module: Any, device: str, half: bool, limit_side_len: int) -> None:
        self.module, self.device, self.half = module, device, half
        self.limit_side_len = limit_side_len

    def prepare(self, rgb: np.ndarray) -> np.ndarray:
        """CPU side: the page resized to its detection size (uint8 RGB)."""
        (_, slots) = plan_det_canvas([(rgb.shape[1], rgb.shape[0])], self.limit_side_len)
        return cv2.resize(rgb, (slots[0].resized_w, slots[0].resized_h))

    def run(self, resized: Sequence[np.ndarray], sizes: Sequence[tuple[int, int]]) -> list[tuple[np.ndarray, DetSlot]]:
        """Device side: probability map (float16/32, resized-page size) and slot of each page."""
        import torch

        _, slots = plan_det_canvas(sizes, self.limit_side_len)
        out: list[tuple[np.ndarray, DetSlot] | None] = [None] * len(slots)
        for group in same_shape_groups([(s.resized_w, s.resized_h) for s in slots]):
            canvas = np.stack([resized[i] for i in group])  # equal shapes: no padding to change the result
            with torch.inference_mode():
                maps = self.module(_to_model_input(canvas, self.device, self.half))[:, 0].cpu().numpy()
            for k, i in enumerate(group):
                out[i] = (maps[k], slots[i])
        return [o for o in out if o is not None]


def prepare_crop(page_bgr: np.ndarray, quad: np.ndarray) -> np.ndarray:
    """CPU side of recognition: the quad warped upright and resized to height 48 (uint8 BGR)."""
    crop = crop_quad(page_bgr, quad)
    return cv2.resize(crop, (rec_width(crop.shape[1], crop.shape[0]), REC_HEIGHT))


def ctc_decode(idx: np.ndarray, best: np.ndarray, charset: Sequence[str]) -> list[tuple[str, float]]:
    """Greedy CTC from per-step argmax ``idx`` and its probability ``best`` (both ``(N, T)``), vectorized
    over the batch, with ``rec.ctc_greedy``'s semantics: collapse repeats, drop blanks (class 0), print no
    character for a class past the charset; confidence is the mean probability of the kept steps."""
    keep = idx != 0
    keep[:, 1:] &= idx[:, 1:] != idx[:, :-1]
    counts = keep.sum(axis=1)
    conf = np.where(counts > 0, (best * keep).sum(axis=1, dtype=np.float64) / np.maximum(counts, 1), 0.0)
    labels = np.asarray([*charset, ""], dtype=object)  # the extra "" stands for any class past the charset
    chars = labels[np.minimum(idx[keep], len(charset))]
    texts = ["".join(row) for row in np.split(chars, np.cumsum(counts)[:-1])]
    return [(t, float(c)) for t, c in zip(texts, conf, strict=True)]


class TorchRecognizer:
    """CTC line recognition over width buckets of crops from many pages."""

    def __init__(
        self, module: Any, device: str, half: bool, charset: list[str], max_batch: int, min_width: int = MIN_REC_WIDTH
    ) -> None:
        self.module, self.device, self.half = module, device, half
        self.charset = charset
        self.max_batch, self.min_width = max_batch, min_width

    def _run_bucket(self, crops: Sequence[np.ndarray], width: int) -> list[tuple[str, float]]:
        import torch

        batch = np.zeros((len(crops), REC_HEIGHT, width, 3), dtype=np.uint8)
        widths = np.empty(len(crops), dtype=np.int64)
        for i, crop in enumerate(crops):
            w = min(crop.shape[1], width)
            batch[i, :, :w] = crop[:, :w]
            widths[i] = w
        with torch.inference_mode():
            x = _to_model_input(batch, self.device, self.half)
            keep = torch.arange(width, device=x.device)[None, :] < torch.from_numpy(widths).to(x.device)[:, None]
            x = x * keep[:, None, None, :].to(x.dtype)  # padding at normalized 0, as PP-OCR pads
            best, idx = self.module(x).max(dim=2)
            idx_np, best_np = idx.to(torch.int32).cpu().numpy(), best.float().cpu().numpy()
        return ctc_decode(idx_np, best_np, self.charset)

    def run(self, crops: Sequence[np.ndarray]) -> list[tuple[str, float]]:
        """``(text, confidence)`` per crop (from ``prepare_crop``), in input order."""
        if not crops:
            return []
        batches = plan_rec_batches([c.shape[1] for c in crops], self.max_batch, self.min_width)
        outputs = [
            split_on_oom(partial(self._run_bucket, width=b.width), [crops[i] for i in b.indices]) for b in batches
        ]
        return restore_order(batches, outputs, len(crops))
