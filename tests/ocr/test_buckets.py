"""Batching logic shared by both ppocr runtimes (pure, no torch): width buckets, detection canvases, CTC, and
the bucketed onnxruntime recognizer."""

from __future__ import annotations

import random

import numpy as np
import pytest

from dangan.ocr.engines.buckets import (
    MIN_REC_WIDTH,
    WIDTH_LADDER,
    bucket_width,
    plan_det_canvas,
    plan_rec_batches,
    restore_order,
)
from dangan.ocr.engines.det import resize_for_det
from dangan.ocr.engines.ppocr import PpOcrEngine
from dangan.ocr.engines.rec import ctc_greedy
from tests.ocr.pages import FORM_LINES, cer, squash


@pytest.mark.parametrize("min_width", [MIN_REC_WIDTH, 160])
def test_rec_buckets_cover_every_crop_once_with_bounded_padding(min_width):
    rng = random.Random(7)
    widths = [rng.choice([rng.randint(20, 400), rng.randint(400, 3000)]) for _ in range(500)]
    batches = plan_rec_batches(widths, max_batch=64, min_width=min_width)
    seen = [i for b in batches for i in b.indices]
    assert sorted(seen) == list(range(len(widths)))
    for b in batches:
        assert b.width >= min_width and all(widths[i] <= b.width for i in b.indices)
        assert len(b.indices) * b.width <= 64 * MIN_REC_WIDTH or len(b.indices) == 1
        narrowest = min(widths[i] for i in b.indices)
        # Padding bound: at most one ladder step (≤ 25 % from 128 px up) above the narrowest crop in it.
        assert b.width <= max(min_width, narrowest * 1.25) or b.width - narrowest < 256
    assert len({b.width for b in batches}) <= len(WIDTH_LADDER) + (3000 - 2048) // 256 + 1
    assert [b.width for b in batches] == sorted(b.width for b in batches)  # narrowest first


def test_bucket_ladder_and_restore_order():
    assert [bucket_width(w) for w in (1, 320, 321, 2048, 2049, 2305)] == [320, 320, 384, 2048, 2304, 2560]
    assert [bucket_width(w, 160) for w in (1, 150, 161, 300)] == [160, 160, 192, 320]
    widths = [900, 50, 700, 50, 2500]
    batches = plan_rec_batches(widths, max_batch=1)
    outputs = [[f"crop{i}" for i in b.indices] for b in batches]
    assert restore_order(batches, outputs, len(widths)) == [f"crop{i}" for i in range(5)]
    with pytest.raises(ValueError, match="produced"):
        restore_order(batches, [o[:0] for o in outputs], len(widths))
    with pytest.raises(ValueError):
        plan_rec_batches(widths, max_batch=0)


def test_det_canvas_matches_cpu_resize_and_scales_back():
    sizes = [(2480, 3508), (1654, 2339), (700, 200), (10, 10)]
    (cw, ch), slots = plan_det_canvas(sizes, 1600)
    assert cw % 32 == 0 and ch % 32 == 0
    for (w, h), slot in zip(sizes, slots, strict=True):
        ref = resize_for_det(np.zeros((h, w, 3), np.uint8), 1600)
        assert (slot.resized_h, slot.resized_w) == ref.shape[:2]
        assert slot.resized_w <= cw and slot.resized_h <= ch
        sx, sy = slot.scale
        assert (round(slot.resized_w * sx), round(slot.resized_h * sy)) == (w, h)
    with pytest.raises(ValueError):
        plan_det_canvas([], 1600)


def test_vectorized_ctc_matches_the_reference_decoder():
    pytest.importorskip("torch", reason="the vectorized decoder lives in the torch path's module")
    from dangan.ocr.engines.gpu.infer import ctc_decode

    rng = np.random.default_rng(0)
    charset = ["", *"abcdefg", " "]
    probs = rng.random((50, 30, 12)).astype(np.float32)  # 12 classes > 9 labels: exercises the guard
    probs[:, :, 0] += rng.random((50, 30)) > 0.4
    probs[3] = 0
    probs[3, :, 0] = 1  # all blank
    ref = ctc_greedy(probs, charset)
    got = ctc_decode(probs.argmax(2), probs.max(2), charset)
    assert [t for t, _ in got] == [t for t, _ in ref]
    assert np.allclose([c for _, c in got], [c for _, c in ref], atol=1e-6)
    assert got[3] == ("", 0.0)


def test_narrow_min_width_reads_the_form_the_same(form_image):
    engine = PpOcrEngine(device="cpu", rec_min_width=160, threads=2)
    [page] = engine.recognize([form_image])
    assert cer(squash("".join(FORM_LINES)), squash(page.text())) <= 0.02, page.text()
    assert "11010519491231002X" in page.text() and "15,380.00" in page.text()


def test_detection_batches_only_pages_of_one_size():
    from dangan.ocr.engines.buckets import same_shape_groups

    assert same_shape_groups([(896, 1280), (704, 192), (896, 1280), (704, 192), (64, 64)]) == [[0, 2], [1, 3], [4]]
    assert same_shape_groups([]) == []
