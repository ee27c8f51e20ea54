"""OCR derivatives: deskew, border crop, provenance hash; the master is never touched."""

from __future__ import annotations

import hashlib
import io

import numpy as np
import pytest
from PIL import Image

from dangan.imaging import (
    DecodeLimits,
    DeriveParams,
    iter_pages,
    make_ocr_derivative,
    make_thumbnail,
    measure,
)
from dangan.imaging.model import DecodedPage
from tests.imaging.synth import add_noise, encode, on_scanner_bed, text_page

PAPER_MM = (100.0, 140.0)


@pytest.fixture(scope="module")
def skewed_master() -> bytes:
    """A 300 dpi page lying 4° counter-clockwise on a dark scanner bed, as an LZW TIFF."""
    arr = add_noise(on_scanner_bed(text_page(300, PAPER_MM), degrees=4.0, frac=0.04))
    return encode(Image.fromarray(arr), "TIFF", dpi=300, compression="tiff_lzw")


@pytest.fixture(scope="module")
def decoded(skewed_master: bytes) -> DecodedPage:
    return next(iter_pages(skewed_master, limits=DecodeLimits()))


def test_deskew_and_border_crop(decoded: DecodedPage) -> None:
    metrics = measure(decoded)
    assert metrics.skew_deg == pytest.approx(4.0, abs=0.3) and metrics.border_fraction > 0.05
    d = make_ocr_derivative(decoded, metrics, DeriveParams())
    assert d.kind == "ocr-gray" and d.ext == ".png" and d.image.dtype == np.uint8 and d.image.ndim == 2
    assert d.params["rotation_deg"] == pytest.approx(-metrics.skew_deg)
    after = measure(DecodedPage(0, d.image, (300.0, 300.0), "gray", 8, "L", None, *d.image.shape[::-1]))
    assert abs(after.skew_deg) < 0.3
    assert after.border_fraction < 0.005  # scanner bed gone
    paper_px = np.array(PAPER_MM) / 25.4 * 300
    assert np.allclose(d.image.shape[::-1], paper_px, rtol=0.03)  # cropped to the sheet
    x0, y0, x1, y1 = d.params["crop_box"]
    assert (x1 - x0, y1 - y0) == d.image.shape[::-1]


def test_master_is_never_modified(skewed_master: bytes) -> None:
    digest = hashlib.sha256(skewed_master).hexdigest()
    page = next(iter_pages(skewed_master, limits=DecodeLimits()))
    before = page.image.copy()
    make_ocr_derivative(page, measure(page), DeriveParams(binarize=True, denoise="nlmeans", target_dpi=400))
    make_thumbnail(page, max_side=200)
    assert np.array_equal(page.image, before)
    assert hashlib.sha256(skewed_master).hexdigest() == digest


def test_params_hash_is_stable_and_tracks_params(decoded: DecodedPage) -> None:
    metrics = measure(decoded)
    first = make_ocr_derivative(decoded, metrics, DeriveParams())
    again = make_ocr_derivative(decoded, metrics, DeriveParams())
    assert first.params_hash == again.params_hash and first.encoded == again.encoded
    assert len(first.params_hash) == 12 and int(first.params_hash, 16) >= 0
    other = make_ocr_derivative(decoded, metrics, DeriveParams(denoise="none"))
    assert other.params_hash != first.params_hash
    assert first.tool.startswith("dangan-imaging/") and "opencv/" in first.tool


def test_encoded_png_carries_dpi(decoded: DecodedPage) -> None:
    d = make_ocr_derivative(decoded, measure(decoded), DeriveParams())
    with Image.open(io.BytesIO(d.encoded)) as im:
        assert im.format == "PNG" and im.mode == "L" and im.size == d.image.shape[::-1]
        assert im.info["dpi"] == pytest.approx((300, 300), abs=0.1)
        assert np.array_equal(np.asarray(im), d.image)


def test_binarized_derivative() -> None:
    page = DecodedPage(0, add_noise(np.asarray(text_page(200, (60, 80)))), (200.0, 200.0), "gray", 8, "L", None, 0, 0)
    page.height, page.width = page.image.shape
    d = make_ocr_derivative(page, measure(page), DeriveParams(binarize=True, target_dpi=300))
    assert d.kind == "ocr-binary" and set(np.unique(d.image)) == {0, 255}
    assert d.params["output_dpi"] == 300 and d.params["sauvola"]["window"] % 2 == 1
    assert d.image.shape[1] == pytest.approx(page.width * 1.5, abs=2)
    ink = float((d.image == 0).mean())
    assert 0.01 < ink < 0.2  # text kept, background clean


def test_blank_page_is_not_rotated() -> None:
    blank = add_noise(np.full((800, 600), 255, np.uint8))
    page = DecodedPage(0, blank, (300.0, 300.0), "gray", 8, "L", None, 600, 800)
    d = make_ocr_derivative(page, measure(page), DeriveParams())
    assert d.params["rotation_deg"] == 0 and d.image.shape == (800, 600)


def test_thumbnail_is_small_jpeg(decoded: DecodedPage) -> None:
    thumb = make_thumbnail(decoded, max_side=256)
    assert thumb[:3] == b"\xff\xd8\xff"
    with Image.open(io.BytesIO(thumb)) as im:
        assert max(im.size) == 256
