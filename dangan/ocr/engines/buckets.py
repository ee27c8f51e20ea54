"""Pure batching logic (no torch needed): detection canvases and recognition width buckets.

Detection: pages of one batch are resized like the CPU path (longer side ≤ limit, sides multiples of 32)
and padded bottom/right onto one canvas; each page keeps its resized size so its probability map is cut
back out and scaled to page pixels. Recognition: crops from all pages of a batch are sorted by width and
put in fixed-width buckets (a short ladder, each step ≤ 1/3 wider) so padding stays bounded and the model
sees a few recurring shapes; big buckets are split so every run holds about the same number of pixels.
PP-OCR pads every crop to at least 320 px; ``min_width`` below that trades a little accuracy on short
cells for speed on CPU (most table cells are narrower than 160 px at height 48).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")

REC_HEIGHT = 48
MIN_REC_WIDTH = 320  # what PP-OCR pads every crop to
#: Bucket widths; past the last one widths round up to a multiple of ``_WIDE_STEP``.
WIDTH_LADDER = (64, 96, 128, 160, 192, 224, 256, 320, 384, 448, 512, 640, 768, 896, 1024, 1280, 1536, 1792, 2048)
_WIDE_STEP = 256


@dataclass(frozen=True)
class DetSlot:
    """One page on a detection canvas: its resized size and the scale back to page pixels."""

    page_w: int
    page_h: int
    resized_w: int
    resized_h: int

    @property
    def scale(self) -> tuple[float, float]:
        """``(sx, sy)`` multiplying map coordinates into page coordinates."""
        return self.page_w / self.resized_w, self.page_h / self.resized_h


def det_resize_shape(page_w: int, page_h: int, limit_side_len: int) -> tuple[int, int]:
    """``(w, h)`` the detector sees: longer side ≤ limit, both multiples of 32 and ≥ 32 (as ``det.resize_for_det``)."""
    ratio = min(1.0, limit_side_len / max(page_h, page_w))
    return max(32, round(page_w * ratio / 32) * 32), max(32, round(page_h * ratio / 32) * 32)


def plan_det_canvas(sizes: Sequence[tuple[int, int]], limit_side_len: int) -> tuple[tuple[int, int], list[DetSlot]]:
    """Canvas ``(w, h)`` (multiples of 32) for pages of ``(w, h)`` ``sizes``, and each page's slot on it."""
    if not sizes:
        raise ValueError("no pages to plan a detection batch for")
    slots = [DetSlot(w, h, *det_resize_shape(w, h, limit_side_len)) for w, h in sizes]
    return (max(s.resized_w for s in slots), max(s.resized_h for s in slots)), slots


def same_shape_groups(shapes: Sequence[tuple[int, int]]) -> list[list[int]]:
    """Indices of equal detection shapes, in first-seen order. Pages only share a detection run with pages of
    their own size: the DB model pools over the whole input (squeeze-excitation blocks), so white padding up to a
    bigger neighbour changes what it finds, and a page must read the same whatever it was batched with."""
    groups: dict[tuple[int, int], list[int]] = {}
    for i, shape in enumerate(shapes):
        groups.setdefault(shape, []).append(i)
    return list(groups.values())


def rec_width(crop_w: int, crop_h: int) -> int:
    """Width of a crop resized to the recognizer's height (aspect kept, at least 1)."""
    return max(1, math.ceil(REC_HEIGHT * crop_w / max(crop_h, 1)))


def bucket_width(width: int, min_width: int = MIN_REC_WIDTH) -> int:
    """The bucket a resized crop of ``width`` goes into: the first ladder step ≥ max(width, min_width)."""
    width = max(width, min_width)
    for step in WIDTH_LADDER:
        if width <= step:
            return step
    return math.ceil(width / _WIDE_STEP) * _WIDE_STEP


@dataclass(frozen=True)
class RecBatch:
    """Crop indices run together at one padded ``width``."""

    width: int
    indices: tuple[int, ...]


def plan_rec_batches(widths: Sequence[int], max_batch: int, min_width: int = MIN_REC_WIDTH) -> list[RecBatch]:
    """Bucket crops (given their resized widths) into runs of ≤ ``max_batch`` × ``MIN_REC_WIDTH`` pixels
    of width each, narrowest first; every index appears exactly once."""
    if max_batch < 1:
        raise ValueError("max_batch must be at least 1")
    order = sorted(range(len(widths)), key=lambda i: (widths[i], i))
    batches: list[RecBatch] = []
    start = 0
    while start < len(order):
        width = bucket_width(widths[order[start]], min_width)
        end = start
        while end < len(order) and bucket_width(widths[order[end]], min_width) == width:
            end += 1
        per_run = max(1, max_batch * MIN_REC_WIDTH // width)  # same pixel budget whatever the width
        for lo in range(start, end, per_run):
            batches.append(RecBatch(width, tuple(order[lo : min(lo + per_run, end)])))
        start = end
    return batches


def restore_order(batches: Sequence[RecBatch], outputs: Sequence[Sequence[T]], count: int) -> list[T]:
    """Per-crop outputs (one sequence per batch, in the batch's index order) back in input order."""
    result: list[T | None] = [None] * count
    for batch, out in zip(batches, outputs, strict=True):
        if len(out) != len(batch.indices):
            raise ValueError(f"batch of {len(batch.indices)} crops produced {len(out)} outputs")
        for i, value in zip(batch.indices, out, strict=True):
            result[i] = value
    missing = [i for i, v in enumerate(result) if v is None]
    if missing:
        raise ValueError(f"{len(missing)} crops were in no batch (first: {missing[0]})")
    return [v for v in result if v is not None]
