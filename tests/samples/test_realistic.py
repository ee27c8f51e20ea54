"""Realistic test set generator: deterministic, every class present, ground truth consistent with the pixels."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from dangan.ids import validate_id
from dangan.samples.realistic import CLASSES, RealisticPage, encode_png, generate_realistic, write_realistic


@pytest.fixture(scope="module")
def pages() -> list[RealisticPage]:
    return generate_realistic(seed=3, per_class=2)


def test_every_class_has_pages_with_truth(pages: list[RealisticPage]) -> None:
    assert [p.klass for p in pages] == [c for c in CLASSES for _ in range(2)]
    for p in pages:
        assert p.image.dtype == np.uint8 and p.image.ndim == 3 and p.image.shape[2] == 3
        assert p.lines and all(isinstance(line, str) and line for line in p.lines)
        for rid in p.ids:
            validate_id(rid)
            assert any(rid in line for line in p.lines)


def test_deterministic_by_seed() -> None:
    a = generate_realistic(seed=5, per_class=1, classes=["seal", "photo", "idcard_small"])
    b = generate_realistic(seed=5, per_class=1, classes=["seal", "photo", "idcard_small"])
    c = generate_realistic(seed=6, per_class=1, classes=["seal", "photo", "idcard_small"])
    assert all(np.array_equal(x.image, y.image) and x.lines == y.lines for x, y in zip(a, b, strict=True))
    assert not np.array_equal(a[0].image, c[0].image)


def test_class_geometry(pages: list[RealisticPage]) -> None:
    by = {p.name: p for p in pages}
    clean = by["clean_00"].image
    assert by["rot90_00"].image.shape[:2] == clean.shape[1::-1]  # turned sideways
    assert by["rot180_00"].params["rotated_cw"] == 180
    assert by["dpi100_00"].dpi == 100 and by["dpi100_00"].image.shape[1] < 900  # A4 at 100 dpi: 827 px wide
    for name in ("idcard_small_00", "idcard_small_01"):
        h, w = by[name].image.shape[:2]
        assert 280 <= w <= 320 and 170 <= h <= 210 and by[name].dpi is None
    h, w = by["idcard_large_00"].image.shape[:2]
    assert 570 <= w <= 630 and 360 <= h <= 410
    assert by["idcard_small_00"].params["side"] == "front" and by["idcard_small_01"].params["side"] == "back"
    assert by["idcard_small_00"].ids and not by["idcard_small_01"].ids  # the number is on the front only
    assert by["photo_00"].dpi is None and by["shaded_00"].params["shaded_cells"] > 3


def test_seal_is_red_and_over_text(pages: list[RealisticPage]) -> None:
    for p in (q for q in pages if q.klass == "seal"):
        [box] = p.seals
        x0, y0, x1, y1 = box
        region = p.image[max(0, y0) : y1, max(0, x0) : x1].astype(int)
        red = (region[..., 0] > 150) & (region[..., 1] < 110) & (region[..., 2] < 110)
        assert red.sum() > 500
        dark = region.max(axis=2) < 90  # black print under or next to the seal
        assert dark.sum() > 100
    for p in (q for q in pages if q.klass != "seal"):
        assert not p.seals


def test_png_and_truth_files(tmp_path: Path, pages: list[RealisticPage]) -> None:
    subset = [pages[0], pages[-1]]
    paths = write_realistic(tmp_path, subset)
    for page, path in zip(subset, paths, strict=True):
        im = Image.open(io.BytesIO(path.read_bytes()))
        assert im.size == (page.image.shape[1], page.image.shape[0])
        if page.dpi:
            assert round(im.info["dpi"][0]) == page.dpi
        truth = json.loads(path.with_suffix(".json").read_text("utf-8"))
        assert truth["lines"] == page.lines and truth["class"] == page.klass
    assert encode_png(pages[0])[:8] == b"\x89PNG\r\n\x1a\n"


def test_unknown_class_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown"):
        generate_realistic(classes=["rot45"])
